"""A stand-in for the server's queue, to be killed with SIGKILL by test_rel_restart.py.

Opens the persisted job queue on STATE_DIR, queues renders for two owners on PROJECT_DIR (the
first one is running: it has a take half-written in takes/ and an export half-written in
exports/, and never finishes), prints one JSON line describing what it queued, then waits for
the kill.

    python restart_worker.py STATE_DIR PROJECT_DIR
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from pathlib import Path


def main(state_dir: str, root: str) -> None:
    from studio.services.jobs import JobQueue
    from studio.storage import Project

    project = Project.open(Path(root))
    queue = JobQueue(state_dir=Path(state_dir))
    writing = threading.Event()

    def half_written(progress, cancel):
        tid = threading.get_ident()
        (project.takes_dir / "s1").mkdir(exist_ok=True)
        take = project.takes_dir / "s1" / f".tk_{tid}.{os.getpid()}.{tid}.abcdef12.partial.mp4"
        export = project.exports_dir / f".animatic.{os.getpid()}.{tid}.abcdef12.partial.mp4"
        with open(take, "wb") as first, open(export, "wb") as second:
            for handle in (first, second):
                handle.write(b"\0" * 200_000)
                handle.flush()
            writing.set()
            while True:  # the kill comes mid-write
                time.sleep(0.05)

    def never(progress, cancel):
        raise AssertionError("queued jobs must not start while the first one runs")

    jobs = [queue.submit("user:alice", half_written, label="shot 1", shot_id="s1", project=root, seed=1)]
    assert writing.wait(30)
    jobs.append(queue.submit("user:alice", never, label="shot 2", shot_id="s2", project=root, seed=5))
    jobs.append(queue.submit("user:bob", never, label="shot 1 again", shot_id="s1", project=root, seed=9))
    print(json.dumps([{"id": j.id, "owner": j.owner, "shot_id": j.shot_id, "seed": j.seed, "label": j.label}
                      for j in jobs]), flush=True)
    while True:
        time.sleep(1)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
