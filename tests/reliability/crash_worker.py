"""A stand-in for the server process, to be killed with SIGKILL by test_rel_crash.py.

Runs the services the server runs, all at once, on one project: the job queue rendering takes
(animatic backend), a card-edit autosave loop (Project.update), and MP4/OTIO exports to fixed
names. The notes grow to the 20 000-character limit, so a save takes a while to write. Prints
``saved N`` after each autosave has returned, so the test knows the last board that was
reported saved.

    python crash_worker.py PROJECT_DIR
"""

from __future__ import annotations

import sys
import threading
from pathlib import Path


def main(root: str) -> None:
    from studio.backends import BackendCache
    from studio.services.export import export_board
    from studio.services.jobs import JobQueue
    from studio.services.render import render_shot
    from studio.storage import Project

    project = Project.open(Path(root))
    printing = threading.Lock()

    def say(line: str) -> None:
        with printing:  # two threads print; a line must never be split by the other's
            sys.stdout.write(line + "\n")
            sys.stdout.flush()

    backends = BackendCache()
    queue = JobQueue()
    shot_ids = [shot.id for shot in project.load().shots]

    def render_forever() -> None:
        turn = 0
        while True:
            shot_id = shot_ids[turn % len(shot_ids)]
            job = queue.submit("worker", lambda progress, cancel, s=shot_id: render_shot(
                project, s, seed=turn, progress=progress, cancel=cancel, backends=backends))
            queue.wait("worker", job.id)
            turn += 1

    def export_forever() -> None:
        while True:
            for fmt in ("mp4", "otio"):
                say(f"export {fmt}")
                try:
                    export_board(project, fmt)
                except Exception:  # noqa: BLE001 - a shot without a take yet: try again
                    pass

    say("ready")
    threading.Thread(target=render_forever, daemon=True).start()
    threading.Thread(target=export_forever, daemon=True).start()
    count = 0
    while True:
        count += 1
        project.update(lambda board, n=count: board.replace(title=f"edit {n}").with_shot(
            board.shots[0].replace(notes="n" * (n % 20 * 1_000))))
        say(f"saved {count}")


if __name__ == "__main__":
    main(sys.argv[1])
