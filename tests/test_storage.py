"""The project folder: atomic saves, backups, recovery, path confinement, hostile board files."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.board import AudioTrack, Board, CastMember, Keyframe, Layer, Panel, Scene, Shot
from studio.storage import (
    BACKUPS_KEPT,
    CorruptBoardError,
    FutureSchemaError,
    InvalidBoardError,
    Project,
    ProjectError,
    UnsafePathError,
)

from conftest import small_board


def board_bytes(project: Project) -> bytes:
    return project.board_path.read_bytes()


def test_create_save_load_round_trip(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "film", small_board())
    assert project.load() == small_board()
    for folder in ("keyframes", "takes", "exports", ".backups"):
        assert (project.root / folder).is_dir()
    with pytest.raises(ProjectError, match="not an empty folder"):
        Project.create(project.root, Board())
    with pytest.raises(ProjectError, match="not a Previz Studio project"):
        Project.open(tmp_path)


def test_update_is_locked_load_modify_save(small_project: Project) -> None:
    saved = small_project.update(lambda b: b.replace(title="Renamed"))
    assert saved.title == "Renamed" and small_project.load().title == "Renamed"


def test_backups_rotate_and_keep_the_last_ten(small_project: Project) -> None:
    for index in range(BACKUPS_KEPT + 5):
        small_project.update(lambda b, i=index: b.replace(title=f"v{i}"))
    backups = small_project.backups()
    assert len(backups) == BACKUPS_KEPT
    assert json.loads(backups[0].read_text())["title"] == f"v{BACKUPS_KEPT + 4}"


def test_recovery_restores_the_newest_good_copy_and_keeps_the_broken_file(small_project: Project) -> None:
    small_project.update(lambda b: b.replace(title="last good"))
    small_project.board_path.write_text('{"schema_version": 2, "shots": [')
    with pytest.raises(CorruptBoardError, match="not valid JSON"):
        small_project.load()
    board, _ = small_project.recover()
    assert board.title == "last good" and small_project.load().title == "last good"
    assert list(small_project.root.glob("board.json.broken-*"))


@pytest.mark.parametrize(
    "content, error, fragment",
    [
        (b"{not json", CorruptBoardError, "not valid JSON"),
        (b"[1, 2]", CorruptBoardError, "JSON object"),
        (b"\xff\xfe garbage", CorruptBoardError, "not UTF-8"),
        (b'{"schema_version": 99}', FutureSchemaError, "newer Previz Studio"),
        (b'{"schema_version": 2, "fps": 0}', InvalidBoardError, "fps"),
        (b'{"schema_version": 2, "shots": [{"title": "no id"}]}', InvalidBoardError, "shots[0].id"),
        (b'{"schema_version": 2, "shots": [{"id": "a", "duration": 0}]}', InvalidBoardError, "shots[0].duration"),
        (b'{"schema_version": 2, "shots": [{"id": "a"}, {"id": "a"}]}', InvalidBoardError, "duplicate shot id"),
        (b'{"schema_version": 2, "shots": [{"id": "a", "seed": 4294967296}]}', InvalidBoardError, "shots[0].seed"),
        (b'{"schema_version": 2, "shots": [{"id": "a", "keyframes": [{"role": "first", "path": "../x.png"}]}]}',
         InvalidBoardError, "inside the project"),
        (b'{"schema_version": 2, "shots": [{"id": "a", "keyframes": [{"role": "first", "path": "/etc/passwd"}]}]}',
         InvalidBoardError, "not absolute"),
        (b'{"schema_version": 2, "audio": {"path": "http://example.com/a.wav"}}', InvalidBoardError, "not a URL"),
        (b"[" * 5000 + b"]" * 5000, CorruptBoardError, "nested"),
    ],
)
def test_bad_board_files_give_typed_errors_and_change_nothing(tmp_path: Path, content: bytes, error: type, fragment: str) -> None:
    project = Project.create(tmp_path / "p", small_board())
    project.board_path.write_bytes(content)
    before = sorted((p.name, p.stat().st_mtime_ns) for p in project.root.rglob("*"))
    with pytest.raises(error) as caught:
        project.load()
    assert fragment in str(caught.value)
    assert project.board_path.read_bytes() == content
    assert sorted((p.name, p.stat().st_mtime_ns) for p in project.root.rglob("*")) == before


def test_a_200_mb_board_is_refused_without_reading_it(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", small_board())
    with open(project.board_path, "wb") as handle:
        handle.truncate(200 * 1024 * 1024)          # sparse: costs no disk or time
    with pytest.raises(CorruptBoardError, match="200 MB is larger"):
        project.load()


def test_symlink_leaving_the_folder_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.png").write_bytes(b"x")
    project = Project.create(tmp_path / "p", Board())
    os.symlink(outside, project.keyframes_dir / "link")
    data = json.loads(project.board_path.read_text())
    data["shots"] = [{"id": "a", "keyframes": [{"role": "first", "path": "keyframes/link/secret.png"}]}]
    project.board_path.write_text(json.dumps(data))
    with pytest.raises(UnsafePathError, match="outside the project folder"):
        project.load()
    with pytest.raises(UnsafePathError):
        project.save(Board(shots=(Shot(id="a", keyframes=(Keyframe("first", "keyframes/link/secret.png"),)),)))


def test_saving_a_board_with_an_unsafe_path_leaves_the_file_untouched(small_project: Project, tmp_path: Path) -> None:
    os.symlink("/etc", small_project.keyframes_dir / "etc")
    before = board_bytes(small_project)
    bad = small_project.load().with_shot(small_board().shots[0].replace(keyframes=(Keyframe("first", "keyframes/etc/hosts"),)))
    with pytest.raises(UnsafePathError):
        small_project.save(bad)
    assert board_bytes(small_project) == before


def test_import_keyframe_stores_pixels_by_content_hash(small_project: Project) -> None:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (64, 48), (200, 10, 10)).save(buffer, format="JPEG")
    relative = small_project.import_keyframe(buffer.getvalue())
    assert relative.startswith("keyframes/") and relative.endswith(".png")
    assert small_project.import_keyframe(buffer.getvalue()) == relative
    assert Image.open(small_project.resolve(relative)).size == (64, 48)


SAVE_LOOP = """
import sys
from pathlib import Path
from studio.board import Board, Shot
from studio.storage import Project
project = Project.open(Path(sys.argv[1]))
i = 0
print("ready", flush=True)
while True:
    i += 1
    shots = tuple(Shot(id=f"s{n}", prompt="x" * 2000, duration=10 + i % 50) for n in range(40))
    project.save(Board(title=f"save {i}", shots=shots))
"""


@pytest.mark.slow
def test_kill_9_during_a_save_loop_leaves_a_board_that_loads(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", small_board())
    for attempt in range(5):
        with subprocess.Popen([sys.executable, "-c", SAVE_LOOP, str(project.root)], stdout=subprocess.PIPE) as process:
            assert process.stdout is not None
            assert process.stdout.readline().strip() == b"ready"
            time.sleep(0.2 + 0.13 * attempt)
            process.send_signal(signal.SIGKILL)
            process.wait()
        board = project.load()
        assert board.title.startswith("save ") and len(board.shots) == 40
        assert len(project.backups()) <= 10 + 1


def write_tone(path: Path, seconds: float = 0.5, rate: int = 16000) -> Path:
    import math
    import struct
    import wave

    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(rate)
        handle.writeframes(b"".join(struct.pack("<h", int(8000 * math.sin(i / 10))) for i in range(int(seconds * rate))))
    return path


def test_import_audio_accepts_audio_and_refuses_the_rest(small_project: Project, tmp_path: Path) -> None:
    relative = small_project.import_audio(write_tone(tmp_path / "scratch.wav"))
    assert relative.startswith("audio/") and relative.endswith(".wav") and small_project.resolve(relative).is_file()
    fake = tmp_path / "fake.mp3"
    fake.write_bytes(b"<html>not audio</html>")
    with pytest.raises(ProjectError, match="fake.mp3"):
        small_project.import_audio(fake)
    with pytest.raises(ProjectError, match="not an audio file"):
        small_project.import_audio(tmp_path / "scratch.exe")


def test_import_audio_never_writes_through_a_symlinked_audio_folder(small_project: Project, tmp_path: Path) -> None:
    # regression: the UI's audio import wrote into audio/ without resolving it
    import shutil

    outside = tmp_path / "outside"
    outside.mkdir()
    shutil.rmtree(small_project.audio_dir)
    small_project.audio_dir.symlink_to(outside, target_is_directory=True)
    with pytest.raises(UnsafePathError):
        small_project.import_audio(write_tone(tmp_path / "scratch.wav"))
    assert list(outside.iterdir()) == []


def test_a_backup_that_cannot_be_written_leaves_board_json_untouched(small_project: Project) -> None:
    # regression: board.json was replaced first, then a failing backup made the caller undo its work
    import shutil

    before = small_project.board_path.read_bytes()
    shutil.rmtree(small_project.backups_dir)
    small_project.backups_dir.write_text("not a folder")
    with pytest.raises(OSError):
        small_project.update(lambda b: b.replace(title="never saved"))
    assert small_project.board_path.read_bytes() == before


def test_save_as_copies_the_project_but_not_backups_links_or_half_written_files(small_project: Project, tmp_path: Path) -> None:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (32, 32), (1, 2, 3)).save(buffer, format="PNG")
    keyframe = small_project.import_keyframe(buffer.getvalue())
    small_project.update(lambda b: b.with_shot(b.shots[0].replace(keyframes=(Keyframe("first", keyframe),))))
    (small_project.exports_dir / "animatic.mp4").write_bytes(b"old export")
    (small_project.takes_dir / ".x.mp4.1.2.partial").write_bytes(b"half")
    os.symlink("/etc", small_project.takes_dir / "etc")
    copy = small_project.save_as(tmp_path / "copy")
    assert copy.load() == small_project.load()
    assert copy.resolve(keyframe).read_bytes() == small_project.resolve(keyframe).read_bytes()
    assert not (copy.exports_dir / "animatic.mp4").exists()
    assert not list(copy.takes_dir.iterdir())
    assert len(copy.backups()) == 1
    with pytest.raises(ProjectError, match="not an empty folder"):
        small_project.save_as(copy.root)


def test_a_cached_load_sees_a_write_by_another_writer(tmp_path: Path) -> None:
    from studio.storage import Project

    mine = Project.create(tmp_path / "p", Board(shots=(Shot(id="a", title="one"),)))
    assert mine.load().shot("a").title == "one"
    other = Project.open(mine.root)  # another process, as far as caching goes
    other.update(lambda b: b.with_shot(b.shot("a").replace(title="two")))
    assert mine.load().shot("a").title == "two"
    assert mine.load() is mine.load()  # unchanged file: parsed once


def test_board_json_has_one_line_per_shot(tmp_path: Path) -> None:
    from studio.storage import Project

    project = Project.create(tmp_path / "p", Board(shots=tuple(Shot(id=f"s{i}", prompt=f"p{i}") for i in range(3))))
    lines = project.board_path.read_text(encoding="utf-8").splitlines()
    assert [sum(f'"id": "s{i}"' in line for line in lines) for i in range(3)] == [1, 1, 1]
    project.update(lambda b: b.with_shot(b.shot("s1").replace(prompt="changed")))
    after = project.board_path.read_text(encoding="utf-8").splitlines()
    assert [a != b for a, b in zip(lines, after) if '"id": "s' in a] == [False, True, False]


def test_a_symlink_that_stays_inside_the_folder_is_accepted(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", Board())
    (project.keyframes_dir / "real").mkdir()
    (project.keyframes_dir / "real" / "a.png").write_bytes(b"x")
    os.symlink(project.keyframes_dir / "real", project.keyframes_dir / "alias")
    assert project.resolve("keyframes/alias/a.png") == project.root / "keyframes/alias/a.png"
    assert project.resolve("keyframes/not/there/yet.png") == project.root / "keyframes/not/there/yet.png"


def test_the_board_a_save_keeps_in_memory_is_the_board_a_fresh_load_parses(tmp_path: Path) -> None:
    """Project.save keeps what it wrote for the next load(): it must equal a parse of the file,
    for a board with scenes, cast, dialogue, panels, takes and audio (the sample board)."""
    project = Project.open(Path(__file__).resolve().parents[1] / "assets" / "sample-board").save_as(
        tmp_path / "copy", template=True)
    scenes = (Scene("sc1", "1", "INT", "Lighthouse", "night", "Ada reads the letter."),)
    panel = Panel("first", "keyframes/flat.png", (Layer("back", "keyframes/back.png", 3.0),
                                                 Layer("front", "keyframes/front.png", 0.5, visible=False, opacity=0.7)))
    saved = project.update(lambda b: b.replace(
        title="Renamed", scenes=scenes, cast=(CastMember("ADA", "en+f3"),), shot_numbering="scene",
        audio=AudioTrack("audio/scratch.wav", offset=12, level=-3.0),
        shots=(b.shots[0].replace(title="First", dialogue="Hello there.", speaker="ADA", scene_id="sc1",
                                  panels=(panel,)), *b.shots[1:])))
    assert project.load() is saved  # no parse after its own write
    assert Project.open(project.root).load() == saved
    os.utime(project.board_path)  # a change of the file on disk: parsed again
    assert project.load() is not saved and project.load() == saved
