"""The app's overhead around a raw Diffusers pipeline call, on tiny random-weight pipelines (CPU).

For each family, the same pipeline object (already loaded) is called twice ways, alternately:
  raw:  pipe(prompt=..., height, width, num_frames, steps, generator, output_type="np")
  ours: backend.generate(request) -- task choice, shape planning, prompt + camera phrase,
        per-step progress/cancel callback, uint8 conversion, resize + retime, metadata.
Both make the same frames at the same size, so ours/raw is the price of the app layer.
Medians of several runs; absolute times move with the machine's load, so the ratio (same run) is what counts.

    python benchmarks/bench_diffusers_overhead.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import torch

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

import tiny_pipelines as tiny  # noqa: E402

from studio.backends import create_backend  # noqa: E402
from studio.backends.base import ShotRequest  # noqa: E402
from studio.backends.diffusers_common import full_prompt, plan_shape  # noqa: E402
from studio.board import CameraMove, FrameRate  # noqa: E402

FAMILIES = (
    ("wan", tiny.build_wan_t2v),
    ("ltx", lambda folder: tiny.build_ltx(folder, condition=False)),
    ("cogvideox", tiny.build_cogvideox),
)


def measure(runs: int) -> list[tuple[str, float, float]]:
    rows = []
    with tempfile.TemporaryDirectory() as root:
        for name, build in FAMILIES:
            folder = build(Path(root) / name)
            backend = create_backend(name, model=str(folder))
            spec = backend.spec(None)
            # board fps = model fps and a valid frame count: no retime work hidden in "ours"
            request = ShotRequest(
                shot_id="s1", shot_number=1, prompt="a lighthouse at night", negative_prompt="",
                num_frames=9, width=32, height=32, fps=FrameRate(spec.fps), seed=3,
                camera=(CameraMove("pan_left", 0.5),), options={"steps": 2, "max_sequence_length": 16},
            )
            pipe = backend.pipeline(spec, spec.pipeline)
            shape = plan_shape(request, spec)
            raw_kwargs = dict(
                prompt=full_prompt(request)[0], height=shape.height, width=shape.width, num_frames=shape.frames,
                num_inference_steps=2, guidance_scale=spec.guidance, output_type="np",
                max_sequence_length=backend.text_length(pipe, 16),
            )
            if name == "ltx":
                raw_kwargs["frame_rate"] = shape.fps
            ours_times, raw_times = [], []
            backend.generate(request, lambda *a: None, threading.Event())  # warm-up
            for _ in range(runs):
                started = time.perf_counter()
                pipe(**raw_kwargs, generator=torch.Generator().manual_seed(3))
                raw_times.append(time.perf_counter() - started)
                started = time.perf_counter()
                backend.generate(request, lambda *a: None, threading.Event())
                ours_times.append(time.perf_counter() - started)
            rows.append((name, statistics.median(ours_times), statistics.median(raw_times)))
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    torch.set_num_threads(2)
    rows = measure(args.runs)
    print(f"| family | ours (median s) | raw pipeline call (median s) | ours / raw |  (tiny pipelines, 32x32x9, 2 steps, {args.runs} runs)")
    print("|---|---|---|---|")
    for name, ours, raw in rows:
        print(f"| {name} | {ours:.3f} | {raw:.3f} | {ours / raw:.3f} |")


if __name__ == "__main__":
    main()
