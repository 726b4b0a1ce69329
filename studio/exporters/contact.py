"""A PNG contact sheet: a grid of one still per shot, labelled with number, title and length."""

from __future__ import annotations

import math
from pathlib import Path

from studio.exporters.base import ExportContext, Exporter

THUMB_WIDTH = 320


def write(context: ExportContext, out: Path, columns: int = 4) -> None:
    from PIL import Image, ImageDraw, ImageFont

    timeline, stills = context.timeline, context.stills()
    if len(stills) != len(timeline.segments):
        raise ValueError(f"need one still per shot: {len(timeline.segments)} shots, {len(stills)} stills")
    columns = max(1, min(columns, len(stills)))
    rows = math.ceil(len(stills) / columns)
    thumb_w = min(THUMB_WIDTH, timeline.width)
    thumb_h = max(2, round(thumb_w * timeline.height / timeline.width))
    label_h, pad = 34, 8
    sheet = Image.new("RGB", (pad + columns * (thumb_w + pad), pad + rows * (thumb_h + label_h + pad)), (24, 24, 28))
    draw = ImageDraw.Draw(sheet)
    font = ImageFont.load_default(size=13)
    for index, (segment, still) in enumerate(zip(timeline.segments, stills)):
        x = pad + (index % columns) * (thumb_w + pad)
        y = pad + (index // columns) * (thumb_h + label_h + pad)
        sheet.paste(Image.fromarray(still).resize((thumb_w, thumb_h), Image.Resampling.LANCZOS), (x, y))
        title = segment.shot.title.strip()
        draw.text((x, y + thumb_h + 3), f"{segment.number}  {title}"[:40], font=font, fill=(240, 240, 240))
        seconds = timeline.fps.frames_to_seconds(segment.duration)
        detail = f"{segment.duration} f / {seconds:.2f} s  {timeline.fps.timecode(segment.start)}" + ("  SLATE" if segment.is_slate else "")
        draw.text((x, y + thumb_h + 18), detail, font=font, fill=(170, 170, 170))
    sheet.save(out, format="PNG")


EXPORTERS = (Exporter("contact", "contact.png", write, "contact sheet (PNG)", rank=70),)
