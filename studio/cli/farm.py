"""``studio render DIR --cluster ray``: a board's shots across a Ray cluster, with a progress bar
per running job and the farm's workers underneath."""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import IO, Any

from studio.cli.errors import CommandError
from studio.storage import Project

BAR_WIDTH = 24
REDRAW_SECONDS = 0.5


def add_arguments(render: argparse.ArgumentParser) -> None:
    """The farm options of ``studio render``."""
    render.add_argument("--cluster", choices=("ray",), default=None,
                        help="render on a Ray cluster: the one in $RAY_ADDRESS (or --address), else a local "
                             "one on 127.0.0.1 (needs pip install -e \".[farm]\")")
    render.add_argument("--address", default=None, help="the Ray cluster's address (default: $RAY_ADDRESS)")
    render.add_argument("--workers", type=int, default=None,
                        help="farm workers to start (default: one per GPU, else 2 CPU workers)")
    render.add_argument("--farm-output", choices=("shared", "bytes"), default="shared",
                        help="shared: the project folder is on a filesystem every node mounts (workers write "
                             "there); bytes: workers send clips back and this machine writes them")


def cmd_render_farm(args: argparse.Namespace, settings: dict[str, Any], options: dict[str, Any]) -> int:
    """Render the wanted shots on the farm; exit 1 when any failed (each reason printed once)."""
    from studio.services.farm import Farm, FarmError, FarmSettings, render_board_on_farm

    if args.seed is not None and not args.shots:
        raise CommandError("--seed applies to one shot: give --shot ID too")
    from studio.backends.base import GenerationError
    from studio.services.render import shots_to_render

    project = Project.open(args.dir)
    try:
        todo = shots_to_render(project.load(), args.shots, not args.all and not args.shots, args.quality)
    except GenerationError as error:
        raise CommandError(str(error)) from None
    if not todo:
        print("nothing to render: every shot has a chosen take (use --all or --shot ID to re-render)")
        return 0
    try:
        farm_settings = FarmSettings(address=args.address, workers=args.workers, output=args.farm_output)
        print("starting the farm ...", file=sys.stderr, flush=True)
        farm = Farm(farm_settings)
    except FarmError as error:
        raise CommandError(str(error)) from None
    cancel = threading.Event()
    board = ProgressBoard(farm, sys.stderr)
    outcomes: list[Any] = []
    errors: list[BaseException] = []

    def render() -> None:
        try:
            outcomes.extend(render_board_on_farm(
                farm, project, shot_ids=args.shots, only_missing=not args.all and not args.shots,
                backend=args.backend, settings=settings, options=options, progress=board.job, cancel=cancel,
                quality=args.quality, seed=args.seed))
        except Exception as error:  # noqa: BLE001 - handed to the main thread below
            errors.append(error)

    try:
        worker = threading.Thread(target=render, name="farm-render", daemon=True)
        worker.start()
        try:
            while worker.is_alive():
                board.draw()
                worker.join(REDRAW_SECONDS)
        except KeyboardInterrupt:
            cancel.set()
            print("\ncancelling: each running job stops at its next step ...", file=sys.stderr, flush=True)
            worker.join()
        board.draw(final=True)
    finally:
        farm.close()
    if errors:
        raise CommandError(str(errors[0])) from None
    failed = 0
    for outcome in outcomes:
        if outcome.take is not None:
            take = outcome.take
            print(f"{take.path}  seed {take.seed}  {take.frames} frames  ({take.backend}, {take.quality})")
        else:
            failed += 1
            print(f"{outcome.shot_id}: failed: {outcome.error}", file=sys.stderr)
    return 130 if cancel.is_set() else (1 if failed else 0)


class ProgressBoard:
    """Progress bars on a terminal (redrawn in place) or one line per change elsewhere (logs)."""

    def __init__(self, farm: Any, out: IO[str]) -> None:
        self.farm, self.out = farm, out
        self.tty = out.isatty()
        self._jobs: dict[str, tuple[int, int, str]] = {}
        self._lock = threading.Lock()
        self._drawn = 0
        self._said: dict[str, str] = {}
        self._started = time.monotonic()

    def job(self, shot_id: str, done: int, total: int, message: str) -> None:
        with self._lock:
            self._jobs[shot_id] = (done, total, message)
        if not self.tty:
            state = message.split(":")[0] if message.startswith(("done", "waiting")) else (
                "running" if total else message)
            if self._said.get(shot_id) != state:
                self._said[shot_id] = state
                print(f"{shot_id}: {message}", file=self.out, flush=True)

    def draw(self, final: bool = False) -> None:
        if not self.tty:
            return
        state = self.farm.state()
        with self._lock:
            jobs = dict(self._jobs)
        finished = sum(1 for done, total, message in jobs.values() if message.startswith("done"))
        lines = [f"farm {state.address}: {finished}/{len(jobs)} takes, {state.waiting} waiting, "
                 f"{time.monotonic() - self._started:.0f} s"]
        for shot_id, (done, total, message) in jobs.items():
            fraction = done / total if total else 0.0
            filled = int(BAR_WIDTH * fraction)
            lines.append(f"  {shot_id:<12} [{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {fraction:4.0%}  {message[:60]}")
        for worker in state.workers:
            lines.append(f"  worker {worker.index} pid {worker.pid} on {worker.host}: {worker.state}, "
                         f"model {worker.model}" + (f", {worker.job}" if worker.job else ""))
        if self._drawn:
            self.out.write(f"\x1b[{self._drawn}F")
        self.out.write("".join(f"{line}\x1b[K\n" for line in lines))
        self.out.flush()
        self._drawn = 0 if final else len(lines)

