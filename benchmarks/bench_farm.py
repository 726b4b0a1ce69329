"""The render farm on Ray: board throughput with 1 and 2 workers, and the farm's cost per job.

- throughput: a board of animatic shots rendered in-process (``render_board``, the reference),
  then on a local Ray farm of 1 and of 2 workers (``render_board_on_farm``); shots per second
  and the speed-up over one worker. The cluster's start-up is timed apart (paid once per app
  or CLI run, not per board).
- overhead per job: tiny shots (2 frames) in-process vs on a 1-worker farm; the difference per
  job is what the farm adds (resolving on the head, Ray calls, progress polls, the rename).

Each number is the median of ``--runs`` runs into fresh project folders (no take is reused).
On a machine with GPUs, ``--gpus`` starts one worker per GPU instead and measures the scaling
of a model backend across them (``--backend``/``--model``).

Run: python benchmarks/bench_farm.py [--shots 12] [--frames 48] [--runs 3] [--address ADDR].
Writes benchmarks/results/farm.md.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))


def board(shots: int, frames: int, width: int, height: int, backend: str, model: str | None):
    from studio.board import Board, CameraMove, Shot

    moves = ("pan_left", "zoom_in", "truck_right", "tilt_up", "dolly_in", "orbit_left")
    return Board(title="Farm bench", width=width, height=height, default_backend=backend, default_model=model,
                 shots=tuple(Shot(id=f"s{i + 1}", title=f"Shot {i + 1}", prompt=f"a lighthouse at night {i}",
                                  duration=frames, seed=1000 + i, camera=(CameraMove(moves[i % len(moves)], 0.6),))
                             for i in range(shots)))


def timed_local(root: Path, spec: tuple, runs: int, options: dict, name: str) -> float:
    from studio.backends import BackendCache
    from studio.services.render import render_board
    from studio.storage import Project

    times = []
    backends = BackendCache()  # warm, as the app's is: models stay loaded between renders
    for run in range(runs + 1):
        project = Project.create(root / f"{name}-{run}", board(*spec))
        started = time.perf_counter()
        render_board(project, backends=backends, options=options)
        if run:  # the first run loads the model (a worker keeps it loaded too)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def timed_farm(farm, root: Path, spec: tuple, runs: int, options: dict, name: str) -> tuple[float, float]:
    """Median seconds for the board, and the median of the seconds the workers spent making its
    clips (the sidecars' elapsed_seconds, summed): the rest is what the farm adds."""
    import json

    from studio.services.farm import render_board_on_farm
    from studio.storage import Project

    times, working = [], []
    for run in range(runs + 1):
        project = Project.create(root / f"{name}-{run}", board(*spec))
        started = time.perf_counter()
        outcomes = render_board_on_farm(farm, project, options=options)
        failed = [o for o in outcomes if o.error]
        if failed:
            raise SystemExit(f"{failed[0].shot_id}: {failed[0].error}")
        if run:  # the first run loads models into the workers
            times.append(time.perf_counter() - started)
            working.append(sum(json.loads(project.resolve(o.take.sidecar_path).read_text())["elapsed_seconds"]
                               for o in outcomes))
    return statistics.median(times), statistics.median(working)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shots", type=int, default=12)
    parser.add_argument("--frames", type=int, default=48)
    parser.add_argument("--size", default="320x192")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--tiny-jobs", type=int, default=12, help="2-frame shots for the overhead per job")
    parser.add_argument("--address", default=None, help="a Ray cluster (default: a local one)")
    parser.add_argument("--gpus", action="store_true", help="one worker per GPU of the cluster")
    parser.add_argument("--backend", default="animatic")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    os.environ.setdefault("RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER", "0" if args.address is None else "1")
    from studio.services.farm import Farm, FarmSettings

    width, height = (int(v) for v in args.size.split("x"))
    spec = (args.shots, args.frames, width, height, args.backend, args.model)
    tiny = (args.tiny_jobs, 2, 64, 64, "animatic", None)
    options: dict = {}
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-farm-") as folder:
        root = Path(folder)
        local = timed_local(root, spec, args.runs, options, "local")
        local_tiny = timed_local(root, tiny, args.runs, options, "local-tiny")
        print(f"in-process: {args.shots} shots in {local:.2f} s; {args.tiny_jobs} tiny jobs in {local_tiny:.2f} s")
        counts = [None] if args.gpus else [1, 2]
        farm_times: dict = {}
        tiny_on_one = tiny_working = None
        started_in = {}
        for count in counts:
            started = time.perf_counter()
            farm = Farm(FarmSettings(address=args.address, workers=count))
            started_in[farm.size] = time.perf_counter() - started
            try:
                farm_times[farm.size], _ = timed_farm(farm, root, spec, args.runs, options, f"farm{farm.size}")
                if farm.size == 1:
                    tiny_on_one, tiny_working = timed_farm(farm, root, tiny, args.runs, options, "tiny")
            finally:
                farm.close()
            print(f"farm of {farm.size}: {args.shots} shots in {farm_times[farm.size]:.2f} s "
                  f"(cluster and workers started in {started_in[farm.size]:.1f} s)")
        one = farm_times.get(1)
        for size, seconds in sorted(farm_times.items()):
            speedup = f"{one / seconds:.2f}x" if one else "—"
            rows.append(f"| farm, {size} worker{'s' if size > 1 else ''} | {seconds:.2f} | "
                        f"{args.shots / seconds:.2f} | {local / seconds:.2f}x | {speedup} | {started_in[size]:.1f} |")
        overhead = None if tiny_on_one is None else (tiny_on_one - local_tiny) / args.tiny_jobs
        added = None if tiny_on_one is None else (tiny_on_one - tiny_working) / args.tiny_jobs
    load = os.getloadavg()[0]
    today = _dt.date.today().isoformat()
    lines = [
        f"## Render farm on Ray (benchmarks/bench_farm.py) ({today}, {platform.machine()}, "
        f"{os.cpu_count()} cores, load average {load:.2f})",
        "",
        f"Board: {args.shots} {args.backend} shots of {args.frames} frames at {width}x{height}; median of "
        f"{args.runs} runs each, models warm (a first run is thrown away, as a long-lived worker keeps its model).",
        "",
        "| render | seconds | shots/s | vs in-process | vs 1 worker | start-up s |",
        "|---|---:|---:|---:|---:|---:|",
        f"| in-process (render_board) | {local:.2f} | {args.shots / local:.2f} | 1.00x | — | — |",
        *rows,
        "",
    ]
    if overhead is not None and added is not None:
        lines += [f"Farm overhead per job ({args.tiny_jobs} jobs of 2 frames at 64x64, 1 worker): "
                  f"{tiny_on_one / args.tiny_jobs * 1000:.0f} ms a job on the farm vs "
                  f"{local_tiny / args.tiny_jobs * 1000:.0f} ms in-process ({1000 * overhead:+.0f} ms); of the farm's "
                  f"{tiny_on_one / args.tiny_jobs * 1000:.0f} ms, the worker made the clip in "
                  f"{tiny_working / args.tiny_jobs * 1000:.0f} ms and {1000 * added:.0f} ms were the farm's own "
                  "(resolving on the head, Ray calls, progress polls, the rename, the sidecar and the board update).",
                  ""]
    text = "\n".join(lines)
    print(text)
    out = REPO / "benchmarks" / "results" / "farm.md"
    out.write_text(text, encoding="utf-8")
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
