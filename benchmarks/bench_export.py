"""Export speed: our animatic export against reference tools on the same takes, in one run.

  cut-only:      ours (stream copy; cold cache = first export, warm = takes already probed)
                 vs ffmpeg concat demuxer -c copy (the floor)  vs moviepy
  dissolves:     ours (0.5 s cross-dissolves; only transition regions encoded) vs ffmpeg xfade
                 re-encoding everything with the same x264 settings
  re-export:     20 shots with dissolves and burn-ins: full export (empty cache) vs re-export
                 after one card's title changed (only that shot's pieces are encoded again)

Medians of --runs runs (moviepy: one run, it is slow). Absolute seconds move with the machine's load
(the load average is printed), so compare the ratios measured in one run.
    python benchmarks/bench_export.py [--sizes 832x480,1280x720] [--runs 3] [--no-moviepy]
"""

from __future__ import annotations

import argparse
import platform
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

from studio.board import Board, FrameRate, Shot, Take, Transition
from studio.media import TAKE_ENCODING, ffmpeg_exe, write_video
from studio.services.export import ExportOptions, export_board
from studio.storage import Project

FPS = FrameRate(16)
FRAMES = 81
SHOTS = 10
DISSOLVE = 8  # 0.5 s at 16 fps


def make_take(path: Path, index: int, width: int, height: int) -> None:
    """A moving gradient with a drifting square: compresses like real footage, not like a flat card."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    frames = np.empty((FRAMES, height, width, 3), np.uint8)
    for t in range(FRAMES):
        frames[t, ..., 0] = (x / width * 200 + t * 2 + index * 20) % 256
        frames[t, ..., 1] = (y / height * 200 + t) % 256
        frames[t, ..., 2] = 80 + index * 7
        cx = int((t * 6 + index * 40) % (width - 60))
        frames[t, height // 3:height // 3 + 60, cx:cx + 60] = 255
    write_video(path, frames, FPS)


def make_project(root: Path, width: int, height: int, shots: int, dissolve: int) -> Project:
    project = Project.create(root, Board(title="bench", fps=FPS, width=width, height=height))
    items = []
    for index in range(shots):
        relative = f"takes/s{index}/t{index}.mp4"
        make_take(root / relative, index, width, height)
        take = Take(id=f"t{index}", path=relative, seed=index, backend="animatic", frames=FRAMES)
        transition = Transition("cross_dissolve", dissolve) if dissolve and index else Transition()
        items.append(Shot(id=f"s{index}", title=f"Shot {index}", duration=FRAMES, takes=(take,), chosen_take=take.id, transition=transition))
    project.save(project.load().replace(shots=tuple(items)))
    return project


def timed(function) -> float:
    start = time.perf_counter()
    function()
    return time.perf_counter() - start


def median(function, runs: int, before=None) -> float:
    values = []
    for _ in range(runs):
        if before:
            before()
        values.append(timed(function))
    return statistics.median(values)


def takes_of(project: Project) -> list[Path]:
    return [project.resolve(s.chosen().path) for s in project.load().shots]


def ffmpeg_concat(project: Project, out: Path) -> None:
    listing = out.with_suffix(".txt")
    listing.write_text("".join(f"file '{p}'\n" for p in takes_of(project)))
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", "-f", "concat", "-safe", "0", "-i", str(listing),
                    "-c", "copy", "-movflags", "+faststart", str(out)], check=True)


def ffmpeg_xfade(project: Project, out: Path) -> None:
    takes = takes_of(project)
    inputs = [arg for p in takes for arg in ("-i", str(p))]
    seconds = FRAMES / float(FPS)
    chain, last, offset = [], "[0:v]", 0.0
    for index in range(1, len(takes)):
        offset += seconds - DISSOLVE / float(FPS)
        label = f"[x{index}]"
        chain.append(f"{last}[{index}:v]xfade=transition=fade:duration={DISSOLVE / float(FPS)}:offset={offset:.6f}{label}")
        last = label
    subprocess.run([ffmpeg_exe(), "-v", "error", "-y", *inputs, "-filter_complex", ";".join(chain), "-map", last,
                    *TAKE_ENCODING, str(out)], check=True)


def moviepy_concat(project: Project, out: Path) -> None:
    from moviepy import VideoFileClip, concatenate_videoclips

    clips = [VideoFileClip(str(p)) for p in takes_of(project)]
    try:
        concatenate_videoclips(clips).write_videofile(str(out), fps=float(FPS), codec="libx264", audio=False, logger=None)
    finally:
        for clip in clips:
            clip.close()


def clear_cache(project: Project) -> None:
    shutil.rmtree(project.exports_dir / ".cache", ignore_errors=True)


def bench_size(width: int, height: int, runs: int, with_moviepy: bool, work: Path) -> list[tuple[str, float, str, float]]:
    rows = []
    cut = make_project(work / f"cut-{width}", width, height, SHOTS, 0)
    export_board(cut, "mp4")  # warm-up: imports, the one-off encoder reference
    ours = median(lambda: export_board(cut, "mp4"), runs, lambda: clear_cache(cut))
    export_board(cut, "mp4")
    ours_warm = median(lambda: export_board(cut, "mp4"), runs)
    floor = median(lambda: ffmpeg_concat(cut, work / "floor.mp4"), runs)
    rows.append((f"{width}x{height} cut-only (cold cache), ours vs ffmpeg concat copy", ours, "ffmpeg concat -c copy", floor))
    rows.append((f"{width}x{height} cut-only (warm cache: takes probed before), ours vs ffmpeg concat copy",
                 ours_warm, "ffmpeg concat -c copy", floor))
    if with_moviepy:
        slow = timed(lambda: moviepy_concat(cut, work / "moviepy.mp4"))
        rows.append((f"{width}x{height} cut-only, ours vs moviepy", ours, "moviepy concatenate_videoclips (1 run)", slow))
    dissolves = make_project(work / f"xf-{width}", width, height, SHOTS, DISSOLVE)
    ours_xf = median(lambda: export_board(dissolves, "mp4"), runs, lambda: clear_cache(dissolves))
    xfade = median(lambda: ffmpeg_xfade(dissolves, work / "xfade.mp4"), runs)
    rows.append((f"{width}x{height} 0.5 s dissolves, ours (cold cache) vs ffmpeg xfade", ours_xf, "ffmpeg xfade, all re-encoded", xfade))
    return rows


def bench_reexport(width: int, height: int, runs: int, work: Path) -> tuple[str, float, str, float]:
    project = make_project(work / f"re-{width}", width, height, 20, DISSOLVE)
    options = ExportOptions(burn_ins=frozenset({"shot", "timecode", "watermark"}), watermark="bench")
    full = median(lambda: export_board(project, "mp4", options=options), runs, lambda: clear_cache(project))
    counter = iter(range(1000))

    def change_one() -> None:
        number = next(counter)
        project.update(lambda b: b.with_shot(b.shots[7].replace(title=f"changed {number}")))

    export_board(project, "mp4", options=options)
    again = median(lambda: export_board(project, "mp4", options=options), runs, change_one)
    return (f"{width}x{height} 20 shots + burn-ins: re-export after 1 change vs full", again, "full export, empty cache", full)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="832x480,1280x720")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-moviepy", action="store_true")
    parser.add_argument("--write", type=Path, default=None, help="append the markdown table to this file")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-export-") as folder:
        work = Path(folder)
        sizes = [tuple(int(v) for v in s.split("x")) for s in args.sizes.split(",")]
        for width, height in sizes:
            rows += bench_size(width, height, args.runs, not args.no_moviepy, work)
        rows.append(bench_reexport(*sizes[0], args.runs, work))
    lines = [
        f"Machine: {platform.machine()}, {__import__('os').cpu_count()} cores, load average {__import__('os').getloadavg()[0]:.1f}, "
        f"{SHOTS} shots x {FRAMES} frames at {FPS} fps, median of {args.runs} runs.",
        "",
        "| case | ours (s) | reference | reference (s) | ours / reference |",
        "|---|---:|---|---:|---:|",
    ]
    for name, ours, reference, theirs in rows:
        lines.append(f"| {name} | {ours:.3f} | {reference} | {theirs:.3f} | {ours / theirs:.3f} |")
    table = "\n".join(lines)
    print(table)
    if args.write:
        with open(args.write, "a", encoding="utf-8") as handle:
            handle.write(table + "\n")


if __name__ == "__main__":
    main()
