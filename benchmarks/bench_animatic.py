"""Animatic renderer vs ffmpeg's zoompan: the same camera move on the same image, in one run.

  speed:   frames per second, render only (frames made and dropped; ours as RGB and as yuv420p) and render + H.264 encode
           (ours: AnimaticBackend.stream into studio.media.write_video_stream, as a take is made; zoompan: one ffmpeg process piping
           straight into libx264 with the same TAKE_ENCODING settings), at each size
  jitter:  frame-to-frame deviation from the smooth path. Each frame pair is phase-correlated on
           four patches away from the centre; the measured shift is compared with the shift the
           intended camera path gives at that patch (both tools are asked for the very same path:
           zoompan's z/x/y expressions are derived from our homographies). Mean and max, pixels.

Moves: zoom_in (x1.6, linear) and truck_right (linear) at intensity 1, keyframe at twice the
output size. Medians of --runs runs. Absolute numbers move with the machine's load (the load average is
printed before and after), so compare the ratios measured in one run.
    python benchmarks/bench_animatic.py [--sizes 832x480,1280x720] [--frames 120] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import statistics
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from studio.backends.animatic import AnimaticBackend
from studio.backends.base import KeyframeImage, LayerImage, ShotRequest
from studio.board import CameraMove, FrameRate
from studio.camera import Overscan, camera_path, homographies
from studio.media import TAKE_ENCODING, ffmpeg_exe, write_video_stream

FPS = FrameRate(24)
RESULTS = Path(__file__).resolve().parent / "results" / "animatic.md"


def test_image(width: int, height: int) -> np.ndarray:
    """Multi-scale smooth noise plus a grid: detail at every scale, like a painted keyframe."""
    rng = np.random.default_rng(7)
    total = np.zeros((height, width, 3), np.float32)
    for sigma in (1.5, 4.0, 12.0, 40.0):
        total += sigma**0.5 * cv2.GaussianBlur(rng.normal(0, 1, (height, width, 3)).astype(np.float32), (0, 0), sigma)
    total = (total - total.min()) / (total.max() - total.min()) * 220
    image = total.astype(np.uint8)
    for x in range(0, width, width // 16):
        cv2.line(image, (x, 0), (x, height), (240, 240, 240), 2, cv2.LINE_AA)
    return image


def request(move: str, image: np.ndarray, width: int, height: int, frames: int) -> ShotRequest:
    return ShotRequest(
        shot_id="bench", shot_number=1, prompt="", negative_prompt="", num_frames=frames, width=width,
        height=height, fps=FPS, seed=1, camera=(CameraMove(move, 1.0, "linear"),),
        keyframes=(KeyframeImage("first", 0, image),),
    )


def path_maps(move: str, width: int, height: int, src_w: int, src_h: int, frames: int) -> np.ndarray:
    maps, _ = homographies(camera_path((CameraMove(move, 1.0, "linear"),), frames, 1, 24.0), width, height, src_w, src_h)
    return maps


def zoompan_filter(maps: np.ndarray, width: int, height: int, src_w: int) -> str:
    """zoompan z/x/y expressions reproducing our (affine) path: zoom = iw / crop width, x/y = crop corner.

    Our zoom is exponential in time, our slide linear; both are written as closed forms in 'on'.
    """
    frames = len(maps)
    scale = maps[:, 0, 0]  # source px per output px
    corner = maps[:, :2, 2] - 0.5 + 0.5 * scale[:, None]  # left/top edge of the crop, in source px
    span = max(frames - 1, 1)
    zoom0, zoom1 = src_w / (scale[0] * width), src_w / (scale[-1] * width)
    if abs(zoom1 - zoom0) > 1e-9:
        z = f"{zoom0:.9f}*pow({zoom1 / zoom0:.12f},on/{span})"
        x = "iw/2-(iw/zoom/2)"
        y = "ih/2-(ih/zoom/2)"
    else:
        z = f"{zoom0:.9f}"
        x = f"{corner[0, 0]:.6f}+({corner[-1, 0] - corner[0, 0]:.6f})*on/{span}"
        y = f"{corner[0, 1]:.6f}+({corner[-1, 1] - corner[0, 1]:.6f})*on/{span}"
    return f"zoompan=z='{z}':x='{x}':y='{y}':d={frames}:s={width}x{height}:fps={FPS}"


def zoompan_command(image_path: Path, vf: str, frames: int, output: list[str]) -> list[str]:
    return [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-y", "-i", str(image_path),
            "-vf", vf, "-frames:v", str(frames), *output]


def run_zoompan_raw(image_path: Path, vf: str, frames: int, width: int, height: int) -> np.ndarray:
    command = zoompan_command(image_path, vf, frames, ["-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1"])
    result = subprocess.run(command, capture_output=True, check=True)
    data = np.frombuffer(result.stdout, np.uint8)
    return data.reshape(-1, height, width, 3)


UPSAMPLE = 50
"""Correlation peak refined by a matrix DFT (Guizar-Sicairos et al. 2008) to 1/50 px.

OpenCV's cv2.phaseCorrelate centroid is biased towards whole pixels by up to ~0.3 px on smooth
images, and normalising the cross-power spectrum to pure phase amplifies interpolation noise at
high frequencies (0.07 px mean error on known Lanczos shifts); the windowed cross-correlation
used here measures known shifts to 0.02 px mean, 0.04 px max."""


def _dft_near(spectrum: np.ndarray, size: int, offset: np.ndarray) -> np.ndarray:
    """Inverse DFT of ``spectrum`` sampled on a size x size grid at 1/UPSAMPLE px around ``offset``."""
    rows, cols = spectrum.shape
    grid = np.arange(size) - size // 2
    row_kernel = np.exp(2j * np.pi * np.outer(grid / UPSAMPLE + offset[0], np.fft.fftfreq(rows)))
    col_kernel = np.exp(2j * np.pi * np.outer(np.fft.fftfreq(cols), grid / UPSAMPLE + offset[1]))
    return row_kernel @ spectrum @ col_kernel


def _shift(a: np.ndarray, b: np.ndarray, window: np.ndarray) -> tuple[float, float]:
    """(dx, dy) by which the content of ``b`` is moved relative to ``a``."""
    fa, fb = np.fft.fft2((a - a.mean()) * window), np.fft.fft2((b - b.mean()) * window)
    cross = fb * np.conj(fa)
    coarse = np.fft.ifft2(cross).real
    peak = np.array(np.unravel_index(np.argmax(coarse), coarse.shape), float)
    peak = np.where(peak > np.array(coarse.shape) / 2, peak - np.array(coarse.shape), peak)
    fine = np.abs(_dft_near(cross, 3 * UPSAMPLE, peak))
    row, col = np.unravel_index(np.argmax(fine), fine.shape)
    dy = peak[0] + (row - 3 * UPSAMPLE // 2) / UPSAMPLE
    dx = peak[1] + (col - 3 * UPSAMPLE // 2) / UPSAMPLE
    return float(dx), float(dy)


def jitter(frames: np.ndarray, maps: np.ndarray, centres: list[tuple[float, float]] | None = None,
           size: int = 128) -> tuple[float, float]:
    """Mean and max |measured - intended| frame-to-frame shift of patches (px): four off-centre
    ones unless ``centres`` are given (a layer's patches, with that layer's maps)."""
    height, width = frames.shape[1:3]
    window = cv2.createHanningWindow((size, size), cv2.CV_64F)
    if centres is None:
        centres = [(width / 2 + dx * width / 5, height / 2 + dy * height / 5) for dx in (-1, 1) for dy in (-1, 1)]
    grey = [cv2.cvtColor(f, cv2.COLOR_RGB2GRAY).astype(np.float64) for f in frames]
    errors = []
    for t in range(1, len(frames)):
        step = np.linalg.inv(maps[t]) @ maps[t - 1]  # frame t-1 pixel -> frame t pixel
        for cx, cy in centres:
            x0, y0 = int(round(cx - size / 2)), int(round(cy - size / 2))
            dx, dy = _shift(grey[t - 1][y0:y0 + size, x0:x0 + size], grey[t][y0:y0 + size, x0:x0 + size], window)
            px, py = x0 + (size - 1) / 2, y0 + (size - 1) / 2
            moved = step @ np.array([px, py, 1.0])
            want = moved[:2] / moved[2] - [px, py]
            errors.append(float(np.hypot(dx - want[0], dy - want[1])))
    return float(np.mean(errors)), float(np.max(errors))


def psnr_vs_reference(frames: np.ndarray, image: np.ndarray, maps: np.ndarray, picks: list[int]) -> float:
    """Mean PSNR (dB) of the picked frames against a 4x-supersampled Lanczos render, box-filtered down:
    a near-ideal picture of the same camera, so the score is sharpness and absence of aliasing."""
    height, width = frames.shape[1:3]
    s = 4
    to_output = np.array([[1 / s, 0, (1 / s - 1) / 2], [0, 1 / s, (1 / s - 1) / 2], [0, 0, 1.0]])
    scores = []
    for t in picks:
        big = cv2.warpPerspective(image, maps[t] @ to_output, (width * s, height * s),
                                  flags=cv2.INTER_LANCZOS4 | cv2.WARP_INVERSE_MAP, borderMode=cv2.BORDER_REPLICATE)
        reference = cv2.resize(big, (width, height), interpolation=cv2.INTER_AREA).astype(np.float64)
        error = (frames[t].astype(np.float64) - reference)[8:-8, 8:-8]
        scores.append(10 * np.log10(255.0**2 / np.mean(error**2)))
    return float(np.mean(scores))


def timed(fn, runs: int) -> tuple[float, float, object]:
    """Median wall seconds, median CPU seconds (this process and its children) and the last result.

    CPU time is much less sensitive than wall time to other programs sharing the cores.
    """
    walls, cpus, result = [], [], None
    for _ in range(runs):
        children = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu, start = time.process_time(), time.perf_counter()
        result = fn()
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        child_cpu = (after.ru_utime - children.ru_utime) + (after.ru_stime - children.ru_stime)
        cpus.append(time.process_time() - cpu + child_cpu)
    return statistics.median(walls), statistics.median(cpus), result


def paired(ours, theirs, runs: int) -> tuple[float, float, float, float, float]:
    """Ours and theirs run alternately ``runs`` times (so both meet the same load): median wall
    seconds of each, the median of the per-pair ratios (theirs / ours: above 1 means ours is
    faster), and the median CPU seconds of each (this process and its ffmpeg children)."""
    walls: tuple[list[float], list[float]] = ([], [])
    cpus: tuple[list[float], list[float]] = ([], [])
    for _ in range(runs):
        for index, fn in enumerate((ours, theirs)):
            wall, cpu, _ = timed(fn, 1)
            walls[index].append(wall)
            cpus[index].append(cpu)
    ratios = [t / o for o, t in zip(*walls)]
    return (statistics.median(walls[0]), statistics.median(walls[1]), statistics.median(ratios),
            statistics.median(cpus[0]), statistics.median(cpus[1]))


def drain(backend: AnimaticBackend, req: ShotRequest, pixel_format: str) -> int:
    """Render only: every frame made and dropped (a whole clip in memory would time the page
    faults of a fresh 144 MB array as much as the rendering)."""
    return sum(1 for _ in backend.stream(req, lambda *_: None, threading.Event(), pixel_format=pixel_format).frames)


def run_zoompan_dropped(image_path: Path, vf: str, frames: int) -> None:
    """zoompan's render only: its frames converted to raw RGB and dropped."""
    subprocess.run(zoompan_command(image_path, vf, frames, ["-f", "rawvideo", "-pix_fmt", "rgb24", "-y", os.devnull]),
                   check=True)


def stream_encode(backend: AnimaticBackend, req: ShotRequest, out: Path) -> int:
    """Render + encode as services/render.py does: frames go to ffmpeg as they are made."""
    stream = backend.stream(req, lambda *_: None, threading.Event(), pixel_format="yuv420p")
    return write_video_stream(out, stream.frames, req.width, req.height, FPS, pixel_format="yuv420p")


LAYER_DEPTHS = (2.0, 1.0, 0.6)


def layered_request(move: str, image: np.ndarray, width: int, height: int, frames: int) -> ShotRequest:
    """A drawn-panel stand-in at the output size: the texture as an opaque far layer, and two
    opaque bands of it (middle third at depth 1, bottom third at 0.6) on transparent layers."""
    layers = []
    for index, depth in enumerate(LAYER_DEPTHS):
        rgba = np.zeros((height, width, 4), np.uint8)
        rgba[..., :3] = np.roll(image, index * width // 3, axis=1)
        top = 0 if index == 0 else index * height // 3
        rgba[top:, :, 3] = 255
        layers.append(LayerImage(f"layer {index}", rgba, depth))
    return ShotRequest(
        shot_id="bench", shot_number=1, prompt="", negative_prompt="", num_frames=frames, width=width,
        height=height, fps=FPS, seed=1, camera=(CameraMove(move, 1.0, "linear"),),
        keyframes=(KeyframeImage("first", 0, image, tuple(layers)),),
    )


def layer_jitter(clip_frames: np.ndarray, metadata: dict, move: str, width: int, height: int) -> list[tuple[float, float]]:
    """Per layer: mean and max jitter of patches in the third of the frame only it shows, against
    the camera model's motion of a plane at its depth (the overscan the render recorded)."""
    used = metadata["overscan"][0]
    path = camera_path((CameraMove(move, 1.0, "linear"),), len(clip_frames), 1, 24.0)
    size = 96
    results = []
    for index, depth in enumerate(LAYER_DEPTHS):
        maps, _ = homographies(path, width, height, width, height,
                               overscan=Overscan(used["scale"], used["shift_x"], used["shift_y"]), depth=depth)
        row = (index + 0.5) * height / 3
        centres = [(width * fx, row) for fx in (0.3, 0.7)]
        results.append(jitter(clip_frames, maps, centres, size))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="832x480,1280x720")
    parser.add_argument("--frames", type=int, default=120)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--no-write", action="store_true", help="print only; do not update results/animatic.md")
    args = parser.parse_args()
    sizes = [tuple(int(v) for v in size.split("x")) for size in args.sizes.split(",")]
    backend = AnimaticBackend()
    load_before = os.getloadavg()[0]
    speed_rows, jitter_rows, quality_rows = [], [], []
    with tempfile.TemporaryDirectory() as folder:
        tmp = Path(folder)
        for width, height in sizes:
            image = test_image(2 * width, 2 * height)
            image_path = tmp / f"key_{width}.png"
            cv2.imwrite(str(image_path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
            for move in ("zoom_in", "truck_right"):
                maps = path_maps(move, width, height, 2 * width, 2 * height, args.frames)
                vf = zoompan_filter(maps, width, height, 2 * width)
                req = request(move, image, width, height, args.frames)
                ours_s, ours_cpu, _ = timed(lambda: drain(backend, req, "rgb24"), args.runs)
                yuv_s, yuv_cpu, _ = timed(lambda: drain(backend, req, "yuv420p"), args.runs)
                theirs_s, theirs_cpu, _ = timed(lambda: run_zoompan_dropped(image_path, vf, args.frames), args.runs)
                clip = backend.generate(req, lambda *_: None, threading.Event())  # the frames, for jitter and quality
                theirs = run_zoompan_raw(image_path, vf, args.frames, width, height)
                assert clip.frames.shape == theirs.shape, (clip.frames.shape, theirs.shape)
                out_mp4 = tmp / "ours.mp4"
                zp_cmd = zoompan_command(image_path, vf, args.frames, [*TAKE_ENCODING, "-r", str(FPS), str(tmp / "zoompan.mp4")])
                load = os.getloadavg()[0]
                ours_enc_s, theirs_enc_s, enc_ratio, ours_enc_cpu, theirs_enc_cpu = paired(lambda: stream_encode(backend, req, out_mp4),
                                                                lambda: subprocess.run(zp_cmd, check=True), args.runs)
                fps = lambda seconds: args.frames / seconds  # noqa: E731
                cpu_ms = lambda seconds: seconds / args.frames * 1000  # noqa: E731
                speed_rows.append((f"{width}x{height}", move, fps(ours_s), fps(yuv_s), fps(theirs_s), fps(ours_enc_s), fps(theirs_enc_s),
                                   enc_ratio, load, cpu_ms(ours_enc_cpu), cpu_ms(theirs_enc_cpu), cpu_ms(ours_cpu), cpu_ms(yuv_cpu),
                                   cpu_ms(theirs_cpu)))
                if (width, height) == sizes[0]:
                    direct = np.stack([cv2.warpPerspective(image, m, (width, height), flags=cv2.INTER_CUBIC | cv2.WARP_INVERSE_MAP,
                                                           borderMode=cv2.BORDER_REPLICATE) for m in maps])
                    jitter_rows.append((move, *jitter(clip.frames, maps), *jitter(theirs, maps), *jitter(direct, maps)))
                    picks = [0, args.frames // 3, 2 * args.frames // 3, args.frames - 1]
                    quality_rows.append((move, *(psnr_vs_reference(f, image, maps, picks) for f in (clip.frames, theirs, direct))))
                print(f"{width}x{height} {move}: ours {fps(ours_s):.0f} fps, zoompan {fps(theirs_s):.0f} fps "
                      f"(render+encode {fps(ours_enc_s):.0f} vs {fps(theirs_enc_s):.0f})", flush=True)
        # a drawn panel of three layers at 832x480: one plane per layer, composited back to front
        layer_rows, layer_jitter_rows = [], []
        width, height = 832, 480
        image = test_image(width, height)
        image_path = tmp / "flat_832.png"
        cv2.imwrite(str(image_path), cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        two_cores = AnimaticBackend(workers=2)
        for move in ("truck_right", "dolly_in"):
            req = layered_request(move, image, width, height, args.frames)
            ours_s, ours_cpu, _ = timed(lambda: drain(two_cores, req, "rgb24"), args.runs)
            yuv_s, yuv_cpu, _ = timed(lambda: drain(two_cores, req, "yuv420p"), args.runs)
            clip = two_cores.generate(req, lambda *_: None, threading.Event())
            maps = path_maps(move, width, height, width, height, args.frames)
            vf = zoompan_filter(maps, width, height, width)
            zp_cmd = zoompan_command(image_path, vf, args.frames, [*TAKE_ENCODING, "-r", str(FPS), str(tmp / "zoompan.mp4")])
            load = os.getloadavg()[0]
            ours_enc_s, theirs_enc_s, enc_ratio, ours_enc_cpu, theirs_enc_cpu = paired(lambda: stream_encode(two_cores, req, tmp / "layers.mp4"),
                                                            lambda: subprocess.run(zp_cmd, check=True), args.runs)
            # the bound: the encoder alone on our frames (made beforehand, sent from memory)
            made = [frame.copy() for frame in two_cores.stream(req, lambda *_: None, threading.Event(), pixel_format="yuv420p").frames]
            x264_s, _, x264_ratio, _, _ = paired(
                lambda: write_video_stream(tmp / "x264.mp4", iter(made), width, height, FPS, pixel_format="yuv420p"),
                lambda: subprocess.run(zp_cmd, check=True), args.runs)
            fps = lambda seconds: args.frames / seconds  # noqa: E731
            cpu_ms = lambda seconds: seconds / args.frames * 1000  # noqa: E731
            layer_rows.append((move, fps(ours_s), args.frames / ours_cpu * 2, fps(yuv_s), args.frames / yuv_cpu * 2, fps(x264_s), x264_ratio,
                               fps(ours_enc_s), fps(theirs_enc_s), enc_ratio, load,
                               cpu_ms(ours_enc_cpu), cpu_ms(theirs_enc_cpu)))
            if move == "truck_right":
                layer_jitter_rows = layer_jitter(clip.frames, clip.metadata, move, width, height)
            print(f"3 layers {move}: {fps(ours_s):.0f} fps render, {fps(ours_enc_s):.0f} fps render+encode "
                  f"(zoompan+encode of the flat panel {fps(theirs_enc_s):.0f})", flush=True)
    load_after = os.getloadavg()[0]
    lines = [
        "## Animatic renderer vs ffmpeg zoompan",
        "",
        f"`python benchmarks/bench_animatic.py --runs {args.runs} --frames {args.frames}`; {platform.processor() or platform.machine()}, "
        f"{os.cpu_count()} cores, Python {platform.python_version()}, OpenCV {cv2.__version__}. Load average "
        f"{load_before:.1f} before / {load_after:.1f} after on {os.cpu_count()} cores: above the core count, absolute "
        "fps are low and noisy; the ratios (same run, same input) are what to compare.",
        "",
        f"Same move, same keyframe (2x the output size), {args.frames} frames, medians of {args.runs} runs. "
        "Render only = every frame made and dropped: ours as RGB and as the yuv420p planes takes are rendered in, "
        "zoompan's converted to raw RGB. + encode = H.264 with TAKE_ENCODING "
        "(ours streamed as yuv420p into studio.media.write_video_stream as a take is made, zoompan in the same ffmpeg process); "
        "the two + encode runs alternate (ours, zoompan, ours, ...) so each pair meets the same load, and the ratio is "
        "the median of the pairs' ratios. 'load' is the 1-minute load average when the pairs started.",
        "",
        "| size | move | ours RGB fps | ours yuv420p fps | zoompan fps | ratio (RGB) | ours + encode fps | zoompan + encode fps "
        "| ratio (median of pairs) | + encode CPU ms/frame, ours / zoompan | load |",
        "|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for size, move, ours, yuv, theirs, ours_enc, theirs_enc, enc_ratio, load, ours_enc_ms, theirs_enc_ms, *_ in speed_rows:
        lines.append(f"| {size} | {move} | {ours:.0f} | {yuv:.0f} | {theirs:.0f} | {ours / theirs:.1f}x | {ours_enc:.0f} | {theirs_enc:.0f} | "
                     f"{enc_ratio:.2f}x | {ours_enc_ms:.1f} / {theirs_enc_ms:.1f} | {load:.1f} |")
    lines += [
        "",
        "Render-only CPU time per frame (all threads of our process; the ffmpeg child's user+system time), "
        "which other programs on the machine disturb far less than wall time. 'Idle 2-core fps' divides two "
        "cores by ours (it renders on both) and one core by zoompan's (the filter runs on one thread); it is a "
        "projection, not a measurement.",
        "",
        "| size | move | ours RGB CPU ms/frame | ours yuv420p CPU ms/frame | zoompan CPU ms/frame | ours yuv420p idle 2-core fps "
        "| zoompan idle 2-core fps |",
        "|---|---|---:|---:|---:|---:|---:|",
    ]
    for size, move, *_, ours_cpu_ms, yuv_cpu_ms, theirs_cpu_ms in speed_rows:
        lines.append(f"| {size} | {move} | {ours_cpu_ms:.2f} | {yuv_cpu_ms:.2f} | {theirs_cpu_ms:.2f} | {2000 / yuv_cpu_ms:.0f} | "
                     f"{1000 / theirs_cpu_ms:.0f} |")
    lines += [
        "",
        f"Jitter at {sizes[0][0]}x{sizes[0][1]}: |measured - intended| frame-to-frame shift of four off-centre "
        "128 px patches by windowed DFT cross-correlation, peak refined to 1/50 px by a matrix DFT (pixels; the measurement itself reads known shifts to 0.02 px mean). zoompan snaps its crop to whole input pixels; ours warps "
        "sub-pixel.",
        "",
        "| move | ours mean | ours max | zoompan mean | zoompan max | direct cv2 bicubic warp mean | max |",
        "|---|---:|---:|---:|---:|---:|---:|",
    ]
    for move, ours_mean, ours_max, zp_mean, zp_max, cubic_mean, cubic_max in jitter_rows:
        lines.append(f"| {move} | {ours_mean:.3f} | {ours_max:.3f} | {zp_mean:.3f} | {zp_max:.3f} | {cubic_mean:.3f} | {cubic_max:.3f} |")
    lines += [
        "",
        "The last column warps the same keyframe with one cv2.warpPerspective(INTER_CUBIC) per frame, as a naive "
        "renderer would: with no band-limiting, the 2x minification aliases and the texture shimmers, which reads as "
        "jitter. Ours resamples each keyframe once into band-limited, 2x-oversampled quarter-octave levels and warps "
        "bilinearly (RGBA, OpenCV's vectorised path) from the matching level, which is both steadier and several times cheaper than a bicubic warp.",
    ]
    lines += [
        "",
        "Picture quality: mean PSNR of four frames against a near-ideal render of the same camera (4x-supersampled "
        "Lanczos warp, box-filtered down). Higher is sharper and cleaner. zoompan's score also pays for its "
        "whole-pixel crop positions.",
        "",
        "| move | ours dB | zoompan dB | direct cv2 bicubic dB |",
        "|---|---:|---:|---:|",
    ]
    for move, ours_db, zp_db, cubic_db in quality_rows:
        lines.append(f"| {move} | {ours_db:.1f} | {zp_db:.1f} | {cubic_db:.1f} |")
    lines += [
        "",
        f"Three-layer drawn panel at 832x480 (depths {', '.join(f'{d:g}' for d in LAYER_DEPTHS)}: an opaque far layer, "
        "opaque bands on transparent mid and near layers), 2 worker threads; each frame is planned in 32 px tiles "
        "(a layer warped straight in where it is the topmost opaque one, blended with a premultiplied 'over' only where "
        "it is partly painted, skipped where hidden); render + encode streams yuv420p frames into ffmpeg as they are made. The zoompan column films the "
        "flattened panel (one plane: no parallax) with the same move. 'CPU-bound 2-core fps' = 2 cores / CPU seconds per frame. "
        "'Encode alone' sends our frames, made beforehand, from memory to the same encoder (paired with zoompan + encode "
        "like the column after it): no render can be faster than that, so it bounds our render + encode.",
        "",
        "| move | ours RGB render fps | CPU-bound 2-core fps | ours yuv420p render fps | CPU-bound 2-core fps "
        "| encode alone of our frames fps (ratio to zoompan + encode) "
        "| ours render + encode fps | zoompan + encode fps | ratio (median of pairs) | + encode CPU ms/frame, ours / zoompan | load |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for (move, ours, cpu_fps, yuv, yuv_cpu_fps, x264, x264_ratio, ours_enc, theirs_enc, enc_ratio, load,
         ours_enc_ms, theirs_enc_ms) in layer_rows:
        lines.append(f"| {move} | {ours:.0f} | {cpu_fps:.0f} | {yuv:.0f} | {yuv_cpu_fps:.0f} | {x264:.0f} ({x264_ratio:.2f}x) | "
                     f"{ours_enc:.0f} | {theirs_enc:.0f} | {enc_ratio:.2f}x | {ours_enc_ms:.1f} / {theirs_enc_ms:.1f} | {load:.1f} |")
    lines += [
        "",
        "Jitter per layer (truck_right; patches in the third of the frame each layer alone shows, against the camera "
        "model's motion of a plane at that depth):",
        "",
        "| layer | depth | mean px | max px |",
        "|---|---:|---:|---:|",
    ]
    for index, (mean, worst) in enumerate(layer_jitter_rows):
        lines.append(f"| {index} | {LAYER_DEPTHS[index]:g} | {mean:.3f} | {worst:.3f} |")
    text = "\n".join(lines) + "\n"
    print()
    print(text)
    if not args.no_write:
        RESULTS.parent.mkdir(parents=True, exist_ok=True)
        RESULTS.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
