"""The scratch track's waveform for the timeline: one peak per board frame, computed on the
server (the browser gets a short list of numbers, never the audio to decode itself).

Peaks are the largest absolute sample in each frame's span, 0..1, of the track mixed to mono at
a low rate (enough for a picture). They are kept in the export cache under the file's identity
(size and modification time) and the rate, so a page load reads a small JSON file.
"""

from __future__ import annotations

import hashlib
import json
from fractions import Fraction
from pathlib import Path

import numpy as np

from studio.board import FrameRate
from studio.common import atomic_write

PEAK_RATE = 8000
"""Samples per second the track is decoded at for its picture."""
MAX_FRAMES = 200_000
"""Peaks beyond this many frames (over two hours at 24 fps) are not drawn."""


def _decode(path: Path) -> np.ndarray:
    import av

    chunks: list[np.ndarray] = []
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        resampler = av.AudioResampler(format="flt", layout="mono", rate=PEAK_RATE)
        for frame in container.decode(stream):
            for out in resampler.resample(frame):
                chunks.append(out.to_ndarray().reshape(-1))
        for out in resampler.resample(None):
            chunks.append(out.to_ndarray().reshape(-1))
    return np.concatenate(chunks) if chunks else np.zeros(0, np.float32)


def frame_peaks(path: Path, fps: FrameRate, cache_dir: Path) -> list[float]:
    """Peak level (0..1, 3 decimals) of each board frame of the audio file at ``path``."""
    stat = path.stat()
    key = hashlib.sha256(repr((str(path.resolve()), stat.st_size, stat.st_mtime_ns, str(fps))).encode()).hexdigest()[:24]
    cached = cache_dir / f"peaks-{key}.json"
    if cached.is_file():
        try:
            data = json.loads(cached.read_text(encoding="utf-8"))
            if isinstance(data, list):
                return data
        except (OSError, ValueError):
            pass
    samples = np.abs(_decode(path))
    per_frame = Fraction(PEAK_RATE) / fps.fraction
    frames = min(MAX_FRAMES, int(len(samples) / per_frame))
    edges = [int(round(index * per_frame)) for index in range(frames + 1)]
    peaks = [round(float(min(1.0, samples[a:b].max())) if b > a else 0.0, 3) for a, b in zip(edges, edges[1:])]
    cache_dir.mkdir(parents=True, exist_ok=True)
    with atomic_write(cached) as partial:
        partial.write_text(json.dumps(peaks), encoding="utf-8")
    return peaks
