"""kill -9 of a process running the server's services during autosave, renders and exports.

After each kill: the board loads and is the last one reported saved (or the one being saved),
every take the board names is a whole video, each export at its final name is whole, leftovers
are only ``*.partial*`` temp files (never taken for whole ones), and the services work again.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from studio.media import probe_stream
from studio.services.export import export_board
from studio.services.render import render_shot
from studio.storage import Project

from rel_helpers import partial_files, tiny_board

WORKER = Path(__file__).with_name("crash_worker.py")


def run_and_kill(project: Project, after_saves: int, during_export: float | None = None) -> int:
    """Start the worker, let it autosave ``after_saves`` times (rendering and exporting all
    along), SIGKILL it, and return the last save number it reported. With ``during_export``,
    the kill comes that many seconds after the next MP4 export starts."""
    last = 0
    with subprocess.Popen([sys.executable, str(WORKER), str(project.root)], stdout=subprocess.PIPE,
                          stderr=subprocess.DEVNULL, text=True, start_new_session=True) as process:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "ready"
        deadline = time.monotonic() + 60
        while last < after_saves and time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("saved "):
                last = int(line.split()[1])
        while during_export is not None and time.monotonic() < deadline:
            line = process.stdout.readline()
            if line.startswith("saved "):
                last = int(line.split()[1])
            elif line.strip() == "export mp4":
                time.sleep(during_export)
                break
        os.killpg(process.pid, signal.SIGKILL)  # the server and its ffmpeg children, at once
        process.wait()
        for line in process.stdout.read().splitlines():  # reported before the kill, still in the pipe
            if line.startswith("saved "):
                last = int(line.split()[1])
    return last


def check_whole(project: Project, last_saved: int) -> None:
    board = project.load()
    assert board.title in (f"edit {last_saved}", f"edit {last_saved + 1}"), board.title
    for shot in board.shots:
        for take in shot.takes:
            info = probe_stream(project.resolve(take.path))
            assert info.frames == take.frames == shot.duration, f"take {take.path} is not whole"
    exported = project.exports_dir / "animatic.mp4"
    if exported.exists():
        assert probe_stream(exported).frames == board.total_frames
    otio_file = project.exports_dir / "board.otio"
    if otio_file.exists():
        import opentimelineio as otio

        timeline = otio.adapters.read_from_file(str(otio_file))
        assert len(timeline.video_tracks()[0]) >= 1
    for leftover in partial_files(project.root):
        assert leftover.name.startswith("."), f"temp file with a public name: {leftover}"


@pytest.mark.slow
def test_kill_9_during_autosave_render_and_export_leaves_a_whole_project(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "film", tiny_board(shots=2, frames=6))
    for saves, during_export in ((10, 0.02), (15, None), (20, 0.05), (25, 0.08), (30, 0.12), (40, None)):
        last = run_and_kill(project, saves, during_export)
        assert last >= saves, "the worker did not get going"
        check_whole(project, last)
    board = project.load()
    assert any(shot.takes for shot in board.shots), "renders must have run before the kills"
    assert (project.exports_dir / "animatic.mp4").exists(), "exports must have run before the kills"

    # restart: the same services work on the folder the killed process left
    take = render_shot(project, "s1", seed=7)
    assert probe_stream(project.resolve(take.path)).frames == 6
    out = export_board(project, "mp4")
    assert probe_stream(out).frames == project.load().total_frames


def test_a_half_written_take_or_export_is_never_taken_for_a_whole_one(tmp_path: Path) -> None:
    """What a kill leaves mid-write (a partial at the temp name) is not picked up on restart."""
    project = Project.create(tmp_path / "film", tiny_board(shots=1, frames=6))
    take = render_shot(project, "s1", seed=1)
    export_board(project, "mp4")
    whole = (project.exports_dir / "animatic.mp4").read_bytes()
    (project.exports_dir / ".animatic.999.1.deadbeef.partial.mp4").write_bytes(whole[: len(whole) // 2])
    video = project.resolve(take.path)
    (video.parent / f".{video.stem}.999.partial.mp4").write_bytes(video.read_bytes()[:100])

    board = project.load()
    assert [t.id for t in board.shots[0].takes] == [take.id]
    assert export_board(project, "mp4").read_bytes() == whole


def test_autosaves_racing_from_threads_and_a_process_lose_no_edit(tmp_path: Path) -> None:
    """Concurrent edits (UI autosave, a render attaching a take, a CLI in another process)
    all land: Project.update is a locked load-modify-save."""
    project = Project.create(tmp_path / "film", tiny_board(shots=3))
    script = (
        "import sys\nfrom studio.storage import Project\np = Project.open(sys.argv[1])\n"
        "for i in range(25):\n"
        "    p.update(lambda b, i=i: b.with_shot(b.shot('s3').replace(notes=b.shot('s3').notes + 'p')))\n"
    )
    other = subprocess.Popen([sys.executable, "-c", script, str(project.root)])

    def edit(shot_id: str, mark: str) -> None:
        for _ in range(25):
            project.update(lambda b: b.with_shot(b.shot(shot_id).replace(notes=b.shot(shot_id).notes + mark)))

    threads = [threading.Thread(target=edit, args=(sid, mark)) for sid, mark in (("s1", "a"), ("s2", "b"))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert other.wait(60) == 0
    board = project.load()
    assert [board.shot(s).notes for s in ("s1", "s2", "s3")] == ["a" * 25, "b" * 25, "p" * 25]
