"""The `studio` command on the sample board and on fresh projects (run as real subprocesses; the
rendered sample's export formats after the animatic go through the same entry point in-process)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from studio.storage import Project

from conftest import SAMPLE_BOARD


def studio(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "studio", *args], capture_output=True, text=True, cwd=cwd, timeout=300)


def test_info_prints_every_shot_and_the_running_time() -> None:
    result = studio("info", str(SAMPLE_BOARD))
    assert result.returncode == 0, result.stderr
    board = Project.open(SAMPLE_BOARD).load()
    for number, shot in enumerate(board.shots, start=1):
        assert shot.id in result.stdout
        line = next(line for line in result.stdout.splitlines() if shot.id in line)
        assert line.split()[0] == str(number)
        assert f" {shot.edit_duration} " in line
    total = board.total_frames
    assert f"running time {board.fps.timecode(total)} ({total} frames" in result.stdout
    assert 6 <= len(board.shots) <= 8


def test_validate_sample_board_is_clean() -> None:
    result = studio("validate", str(SAMPLE_BOARD))
    assert result.returncode == 0, result.stderr
    assert "every file present" in result.stdout


def test_new_creates_a_project_with_the_given_settings(tmp_path: Path) -> None:
    result = studio("new", str(tmp_path / "film"), "--fps", "30000/1001", "--size", "640x360", "--title", "My film")
    assert result.returncode == 0, result.stderr
    board = Project.open(tmp_path / "film").load()
    assert (board.title, str(board.fps), board.width, board.height) == ("My film", "30000/1001", 640, 360)


def test_new_from_sample_copies_keyframes_but_never_touches_the_original(tmp_path: Path) -> None:
    before = (SAMPLE_BOARD / "board.json").read_bytes()
    files_before = sorted(p.relative_to(SAMPLE_BOARD) for p in SAMPLE_BOARD.rglob("*"))
    result = studio("new", str(tmp_path / "copy"), "--from-sample", "--title", "Copy")
    assert result.returncode == 0, result.stderr
    copy = Project.open(tmp_path / "copy")
    assert copy.load().title == "Copy"
    assert studio("validate", str(copy.root)).returncode == 0
    assert (SAMPLE_BOARD / "board.json").read_bytes() == before
    # regression: copying took the sample's lock, leaving a .previz.lock file in assets/
    assert sorted(p.relative_to(SAMPLE_BOARD) for p in SAMPLE_BOARD.rglob("*")) == files_before


def test_bad_input_exits_1_with_a_message_naming_the_problem(tmp_path: Path) -> None:
    result = studio("new", str(tmp_path / "x"), "--fps", "0")
    assert result.returncode == 1 and "fps" in result.stderr and "Traceback" not in result.stderr
    result = studio("new", str(tmp_path / "y"), "--size", "641x360")
    assert result.returncode == 1 and "width" in result.stderr
    result = studio("info", str(tmp_path))
    assert result.returncode == 1 and "not a Previz Studio project" in result.stderr


def test_validate_reports_missing_files_and_recover_restores_a_corrupt_board(tmp_path: Path) -> None:
    assert studio("new", str(tmp_path / "p"), "--from-sample").returncode == 0
    project = Project.open(tmp_path / "p")
    (project.root / "keyframes" / "06-lamp.jpg").unlink()
    result = studio("validate", str(project.root))
    assert result.returncode == 1 and "first keyframe missing: keyframes/06-lamp.jpg" in result.stderr

    project.update(lambda board: board.replace(title="Before the crash"))
    project.board_path.write_text("{truncated")
    assert studio("info", str(project.root)).returncode == 1
    result = studio("recover", str(project.root))
    assert result.returncode == 0, result.stderr
    assert json.loads(project.board_path.read_text())["title"] == "Before the crash"


def test_render_every_sample_card_and_export_every_format_through_the_cli(tmp_path: Path,
                                                                          capsys: pytest.CaptureFixture[str]) -> None:
    from studio.cli import main
    from studio.media import probe_stream

    assert studio("new", str(tmp_path / "film"), "--from-sample").returncode == 0
    project = Project.open(tmp_path / "film")
    # every card with its moves, keyframes and frame count, at a quarter of the sample's width and height
    # (832x480 took a sixteenfold render and encode for the same checks)
    project.update(lambda board: board.replace(width=208, height=120))
    result = studio("render", str(tmp_path / "film"), "--backend", "animatic")
    assert result.returncode == 0, result.stderr
    board = project.load()
    assert (board.width, board.height) == (208, 120) and len(board.shots) == 7
    for shot in board.shots:
        take = shot.chosen()
        assert take is not None and take.path in result.stdout
        info = probe_stream(project.resolve(take.path))
        assert (info.frames, info.width, info.height) == (shot.duration, board.width, board.height)
    again = studio("render", str(project.root), "--shot", board.shots[0].id, "--seed", "5")
    assert again.returncode == 0, again.stderr
    assert len(project.load().shots[0].takes) == 2 and "seed 5" in again.stdout
    bad = studio("render", str(project.root), "--shot", "nope")
    assert bad.returncode == 1 and "no such shot id(s): nope" in bad.stderr

    # ...and the rendered sample exports to every format from the CLI: the animatic from a `studio`
    # process of its own, the other formats through the same entry point in this process (a process
    # each cost ~0.4 s of start-up for what the in-process call checks too)
    from studio.services.export import EXPORT_FORMATS

    result = studio("export", str(project.root), "--format", "mp4", "--burn-ins", "all")
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(project.exports_dir / EXPORT_FORMATS["mp4"])
    capsys.readouterr()
    for fmt, name in EXPORT_FORMATS.items():
        if fmt != "mp4":
            assert main(["export", str(project.root), "--format", fmt, "--burn-ins", "all"]) == 0, capsys.readouterr().err
            assert capsys.readouterr().out.strip() == str(project.exports_dir / name)
    assert probe_stream(project.exports_dir / "animatic.mp4").frames == board.total_frames


def test_recover_restores_a_deleted_board_json(tmp_path: Path) -> None:
    # regression: recover refused a folder whose board.json was gone, the case it exists for
    assert studio("new", str(tmp_path / "p"), "--title", "Kept").returncode == 0
    (tmp_path / "p" / "board.json").unlink()
    result = studio("recover", str(tmp_path / "p"))
    assert result.returncode == 0, result.stderr
    assert Project.open(tmp_path / "p").load().title == "Kept"
    assert studio("recover", str(tmp_path)).returncode == 1


def test_building_the_parser_imports_no_heavy_library() -> None:
    """`studio info` and `studio --help` start fast: the parser loads no OpenCV, reportlab,
    OpenTimelineIO, PyAV, numpy, torch or Gradio (each command imports what it drives)."""
    import subprocess
    import sys

    code = ("import sys; from studio.cli import build_parser; build_parser(); "
            "print(sorted({m.split('.')[0] for m in sys.modules} & {'cv2', 'reportlab', 'opentimelineio', 'av', 'numpy', 'torch', 'gradio', 'PIL'}))")
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
