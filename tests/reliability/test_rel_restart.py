"""Restarts lose no work silently (issue 13, item 7): kill -9 for real, in a subprocess.

After each kill: the queue's state folder reports every job that was queued or running as
"interrupted by a restart" to its owner only, with what a re-queue needs (project, shot, seed,
label); one call re-queues it and the take lands; the old ids answer "interrupted", never "no such
job"; new ids never repeat old ones; the half-written take and export are swept when the project
is opened. And a normal stop (SIGTERM) removes the server's temp folder.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from studio.services.jobs import DONE, INTERRUPTED, INTERRUPTED_MESSAGE, JobNotFound, JobQueue
from studio.services.render import render_shot
from studio.storage import Project

from rel_helpers import FixedCache, StepBackend, partial_files, tiny_board

WORKER = Path(__file__).with_name("restart_worker.py")


def run_and_kill(state: Path, project: Project) -> list[dict]:
    """Start the worker, wait until its first job is mid-write and two more are queued, SIGKILL."""
    with subprocess.Popen([sys.executable, str(WORKER), str(state), str(project.root)], stdout=subprocess.PIPE,
                          stderr=subprocess.PIPE, text=True, start_new_session=True) as process:
        assert process.stdout is not None
        line = process.stdout.readline()
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        assert line, process.stderr.read() if process.stderr else "the worker said nothing"
    return json.loads(line)


def test_kill_9_jobs_are_reported_interrupted_and_requeued_with_one_call(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "film", tiny_board(shots=2))
    state = tmp_path / "state"
    seen_ids: set[str] = set()
    for cycle in range(3):
        killed = run_and_kill(state, project)
        left = partial_files(project.root)
        assert len(left) == 2  # the take and the export, half-written
        assert sorted(project.sweep_partials()) == sorted(left)  # what the server does on open
        assert partial_files(project.root) == []
        project.load()

        ids = {job["id"] for job in killed}
        assert not ids & seen_ids, "a job id was reused across restarts"
        seen_ids |= ids
        with JobQueue(state_dir=state) as queue:
            alice = queue.interrupted("user:alice")
            bob = queue.interrupted("user:bob")
            # earlier cycles' jobs were re-queued (alice) or left (bob): only bob's pile grows
            assert [job.id for job in alice] == [job["id"] for job in killed if job["owner"] == "user:alice"]
            assert len(bob) == cycle + 1 and bob[-1].id == killed[2]["id"]
            for job, expected in zip(alice, killed):
                assert (job.shot_id, job.seed, job.label, job.project) == (
                    expected["shot_id"], expected["seed"], expected["label"], str(project.root))
                assert job.status == INTERRUPTED and job.message == INTERRUPTED_MESSAGE
                assert job.can_requeue
            for old in killed:
                assert queue.get(old["owner"], old["id"]).status == INTERRUPTED  # not "no such job"
            with pytest.raises(JobNotFound):
                queue.get("user:alice", killed[2]["id"])  # bob's job is not alice's to see

            cache = FixedCache(StepBackend(steps=2))
            shot_id, seed = alice[1].shot_id, alice[1].seed
            again = queue.requeue("user:alice", alice[1].id, lambda progress, cancel: render_shot(
                project, shot_id, seed=seed, progress=progress, cancel=cancel, backends=cache))
            assert again.id not in seen_ids
            finished = queue.wait("user:alice", again.id, 30)
            assert finished.status == DONE and finished.result.seed == 5
            assert queue.dismiss("user:alice", alice[0].id) is None
            assert queue.interrupted("user:alice") == []
    takes = project.load().shot("s2").takes
    assert len(takes) == 3 and {take.seed for take in takes} == {5}


def test_sigterm_removes_the_served_copies_folder(tmp_path: Path) -> None:
    script = (
        "import sys, time\n"
        "from pathlib import Path\n"
        "from studio.ui.serving import MediaCache, stop_on_sigterm\n"
        "stop_on_sigterm()\n"
        "cache = MediaCache()\n"
        "source = Path(sys.argv[1]); source.write_bytes(b'x' * 1000)\n"
        "cache.publish(source)\n"
        "print(cache.root, flush=True)\n"
        "while True:\n"
        "    time.sleep(0.1)\n"
    )
    for handled in (False, True):
        code = script if not handled else script.replace(
            "while True:\n    time.sleep(0.1)\n",
            "try:\n    while True:\n        time.sleep(0.1)\nexcept KeyboardInterrupt:\n    print('closing')\n")
        with subprocess.Popen([sys.executable, "-c", code, str(tmp_path / "take.mp4")], stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) as process:
            assert process.stdout is not None
            root = Path(process.stdout.readline().strip())
            assert root.is_dir() and any(root.rglob("take.mp4"))
            process.send_signal(signal.SIGTERM)
            process.wait(30)
        deadline = time.monotonic() + 5
        while root.exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not root.exists(), f"{root} left behind (handled={handled})"
