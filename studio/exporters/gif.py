"""The cut as an animated GIF: small enough for chat and review tools (320 px wide at most,
about 10 frames a second), drawn by the compositor like the MP4, burn-ins included, looping.

Frames are taken every ``step`` timeline frames (step = ceil(fps / 10)), and each is shown for
exactly ``step`` frames' time, so the GIF runs as long as the cut (to GIF's 10 ms steps).
"""

from __future__ import annotations

import math
from pathlib import Path

from studio.exporters.base import ExportContext, Exporter
from studio.timeline import frame_recipes

MAX_WIDTH = 320
TARGET_FPS = 10


def write(context: ExportContext, out: Path) -> None:
    from PIL import Image

    from studio.compositor import Compositor

    timeline, style = context.timeline, context.style
    step = max(1, math.ceil(float(timeline.fps) / TARGET_FPS))
    width = min(MAX_WIDTH, timeline.width)
    height = max(2, round(width * timeline.height / timeline.width))
    recipes = frame_recipes(timeline, style)[::step]
    frames: list[Image.Image] = []
    with Compositor(timeline, style) as compositor:
        for position, picture in enumerate(compositor.frames(recipes, context.cancel)):
            image = Image.fromarray(picture).resize((width, height), Image.Resampling.LANCZOS)
            frames.append(image.quantize(colors=128, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE))
            context.progress(position + 1, len(recipes), "drawing GIF frames")
    # durations in ms on GIF's 10 ms grid, rounded so that their running sum stays on the cut's exact time
    ends = [10 * round(100 * (index + 1) * step / timeline.fps.fraction) for index in range(len(frames))]
    durations = [end - start for start, end in zip([0] + ends[:-1], ends)]
    frames[0].save(out, format="GIF", save_all=True, append_images=frames[1:], duration=durations, loop=0,
                   optimize=False, disposal=1)


EXPORTERS = (Exporter("gif", "animatic.gif", write, "animated GIF of the cut, 320 px, for chat and review", rank=12),)
