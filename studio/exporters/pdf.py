"""The storyboard as a PDF: one panel per shot (a frame from it, number and title, duration,
scene heading, framing, camera move, action, prompt, dialogue, notes), 2, 4 or 6 panels per A4
page (reportlab), each picture as wide as its column; and the worksheet: the same pages with
empty frames and ruled lines, for drawing and notes (as storyboard artists print them).

Pages: 2 panels side by side on a landscape page; 4 (2 x 2) and 6 (2 x 3) on a portrait page, so
a picture fills its column and still leaves room for the text under it."""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from studio.board import Shot
from studio.exporters.base import ExportContext, Exporter

LAYOUTS = {2: (2, 1), 4: (2, 2), 6: (2, 3)}
"""Panels per page -> (columns, rows)."""
MARGIN, GUTTER, HEADER = 28.0, 14.0, 30.0


@dataclass(frozen=True)
class PanelBox:
    """Where one panel goes on its page, in points from the bottom left."""

    x: float
    top: float
    width: float
    height: float
    """The whole cell: picture, then text."""
    image_height: float
    """The picture's height: the column's width at the board's aspect ratio."""


def page_size(per_page: int) -> tuple[float, float]:
    from reportlab.lib.pagesizes import A4, landscape, portrait

    return landscape(A4) if per_page == 2 else portrait(A4)


def panel_boxes(per_page: int, aspect: float) -> list[PanelBox]:
    """The cells of one page, left to right, top to bottom; ``aspect`` is width / height."""
    if per_page not in LAYOUTS:
        raise ValueError(f"per_page must be one of {sorted(LAYOUTS)}, got {per_page!r}")
    columns, rows = LAYOUTS[per_page]
    page_w, page_h = page_size(per_page)
    cell_w = (page_w - 2 * MARGIN - (columns - 1) * GUTTER) / columns
    cell_h = (page_h - 2 * MARGIN - HEADER - (rows - 1) * GUTTER) / rows
    image_h = cell_w / aspect
    if image_h > cell_h * 0.8:  # a very tall frame: keep room for the heading
        image_h = cell_h * 0.8
    return [PanelBox(MARGIN + column * (cell_w + GUTTER), page_h - MARGIN - HEADER - row * (cell_h + GUTTER),
                     cell_w, cell_h, image_h)
            for row in range(rows) for column in range(columns)]


def _pages(context: ExportContext, out: Path, title: str,
           draw_panel: Callable[[Any, PanelBox, int], None], after: Callable[[Any], None] | None = None) -> None:
    """Header and page numbers on every page; ``draw_panel(canvas, box, segment index)`` each cell."""
    from reportlab.pdfgen import canvas

    timeline, per_page = context.timeline, context.per_page
    boxes = panel_boxes(per_page, timeline.width / timeline.height)
    page_w, page_h = page_size(per_page)
    count = len(timeline.segments)
    pages = (count + per_page - 1) // per_page
    document = canvas.Canvas(str(out), pagesize=(page_w, page_h))
    document.setTitle(f"{timeline.title} - {title}")
    for page in range(pages):
        document.setFont("Helvetica-Bold", 14)
        document.drawString(MARGIN, page_h - MARGIN - 14, timeline.title[:90])
        document.setFont("Helvetica", 9)
        document.drawRightString(page_w - MARGIN, page_h - MARGIN - 12,
                                 f"{title}  {context.date}  page {page + 1}/{pages}".strip())
        for slot, box in enumerate(boxes):
            index = page * per_page + slot
            if index >= count:
                break
            draw_panel(document, box, index)
        document.showPage()
    if after is not None:
        after(document)
    document.save()


def cast_page(context: ExportContext, document: Any) -> None:
    """A page of the board's cast and locations (name, description, reference pictures), when any
    of them has a description or pictures: what keeps a face and a place the same across shots."""
    from xml.sax.saxutils import escape

    from PIL import Image
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Paragraph

    from studio.images import ImageError, load_rgb

    timeline = context.timeline
    items = [("Cast", item) for item in timeline.cast] + [("Location", item) for item in timeline.locations]
    items = [(kind, item) for kind, item in items if item.description.strip() or item.references]
    if not items:
        return
    page_w, page_h = page_size(context.per_page)
    body = ParagraphStyle("cast", fontName="Helvetica", fontSize=9, leading=11)
    thumb_h = 72.0

    def heading() -> float:
        document.setFont("Helvetica-Bold", 14)
        document.drawString(MARGIN, page_h - MARGIN - 14, f"{timeline.title[:70]} - cast and locations")
        return page_h - MARGIN - 30

    y = heading()
    for kind, item in items:
        text = Paragraph(f"<b>{escape(kind)}: {escape(item.name)}</b> {escape(item.description)}", body)
        _, height = text.wrap(page_w - 2 * MARGIN, y)
        needed = height + (thumb_h + 6 if item.references else 0) + 8
        if y - needed < MARGIN:
            document.showPage()
            y = heading()
        text.drawOn(document, MARGIN, y - height)
        y -= height + 4
        x = MARGIN
        for path in item.references[:6]:
            try:
                pixels = load_rgb(context.root / path)
            except (ImageError, OSError, ValueError):
                continue
            width = thumb_h * pixels.shape[1] / pixels.shape[0]
            buffer = io.BytesIO()
            Image.fromarray(pixels).save(buffer, format="JPEG", quality=85)
            buffer.seek(0)
            document.drawImage(ImageReader(buffer), x, y - thumb_h, width, thumb_h)
            x += width + 6
        if item.references:
            y -= thumb_h + 6
        y -= 8
    document.showPage()


def write(context: ExportContext, out: Path) -> None:
    """One panel per segment, from ``context.stills()``; panel headings read "SHOT 3 - Harbour"."""
    from xml.sax.saxutils import escape

    from PIL import Image
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.utils import ImageReader
    from reportlab.platypus import Paragraph

    timeline, stills, per_page = context.timeline, context.stills(), context.per_page
    if per_page not in LAYOUTS:
        raise ValueError(f"per_page must be one of {sorted(LAYOUTS)}, got {per_page!r}")
    if len(stills) != len(timeline.segments):
        raise ValueError(f"need one still per shot: {len(timeline.segments)} shots, {len(stills)} stills")
    body = ParagraphStyle("body", fontName="Helvetica", fontSize=8 if per_page == 6 else 9, leading=10 if per_page == 6 else 11)

    def panel(document: Any, box: PanelBox, index: int) -> None:
        segment = timeline.segments[index]
        x, top, image_h = box.x, box.top, box.image_height
        image_w = box.width if image_h * timeline.width / timeline.height >= box.width - 0.01 \
            else image_h * timeline.width / timeline.height
        buffer = io.BytesIO()
        Image.fromarray(stills[index]).save(buffer, format="JPEG", quality=85)
        buffer.seek(0)
        document.drawImage(ImageReader(buffer), x, top - image_h, image_w, image_h)
        document.rect(x, top - image_h, image_w, image_h)
        seconds = timeline.fps.frames_to_seconds(segment.duration)
        lines = [
            f"<b>{escape(segment.label('heading'))}</b>",
            f"{segment.duration} frames ({seconds:.2f} s) at {timeline.fps} fps - starts {timeline.fps.timecode(segment.start)}",
            f"<b>{escape(segment.shot.scene_heading())}</b>" if segment.shot.scene_heading() else "",
            f"<b>Framing:</b> {escape(segment.shot.framing_label())}" if segment.shot.framing_label() else "",
            f"<b>Camera:</b> {escape(segment.shot.camera_label())}",
            f"<b>Action:</b> {escape(segment.shot.action)}" if segment.shot.action else "",
            f"<b>Prompt:</b> {escape(segment.shot.prompt)}" if segment.shot.prompt else "",
            f"<b>Dialogue:</b> {escape(_speaker(segment.shot))}<i>{escape(segment.shot.dialogue)}</i>"
            if segment.shot.dialogue else "",
            f"<b>Notes:</b> {escape(segment.shot.notes)}" if segment.shot.notes else "",
            f"<b>Slate:</b> {escape(segment.slate_reason)}" if segment.is_slate else "",
        ]
        y = top - image_h - 4
        room = y - (top - box.height)
        for line in filter(None, lines):
            paragraph = Paragraph(line.replace("\n", "<br/>"), body)
            _, height = paragraph.wrap(box.width, room)
            if height > room:
                break
            paragraph.drawOn(document, x, y - height)
            y -= height + 1
            room -= height + 1

    _pages(context, out, "storyboard", panel, after=lambda document: cast_page(context, document))


def write_worksheet(context: ExportContext, out: Path) -> None:
    """The storyboard's pages with an EMPTY frame per shot (the board's aspect ratio, a light
    centre cross and thirds marks to draw on) and ruled lines under it for action and dialogue;
    each heading says the shot's number, title, length and camera move."""
    timeline = context.timeline
    line_gap = 14.0

    def panel(document: Any, box: PanelBox, index: int) -> None:
        segment = timeline.segments[index]
        x, top, image_h = box.x, box.top, box.image_height
        document.setStrokeGray(0.0)
        document.setLineWidth(1.0)
        document.rect(x, top - image_h, box.width, image_h)
        document.setStrokeGray(0.85)
        document.setLineWidth(0.4)
        for third in (1, 2):  # thirds, for composing the drawing
            document.line(x + box.width * third / 3, top - image_h, x + box.width * third / 3, top - image_h + 6)
            document.line(x + box.width * third / 3, top, x + box.width * third / 3, top - 6)
            document.line(x, top - image_h * third / 3, x + 6, top - image_h * third / 3)
            document.line(x + box.width - 6, top - image_h * third / 3, x + box.width, top - image_h * third / 3)
        document.line(x + box.width / 2 - 5, top - image_h / 2, x + box.width / 2 + 5, top - image_h / 2)
        document.line(x + box.width / 2, top - image_h / 2 - 5, x + box.width / 2, top - image_h / 2 + 5)
        seconds = timeline.fps.frames_to_seconds(segment.duration)
        document.setFillGray(0.0)
        document.setFont("Helvetica-Bold", 9)
        document.drawString(x, top - image_h - 12, segment.label("heading")[:80])
        document.setFont("Helvetica", 8)
        document.drawRightString(x + box.width, top - image_h - 12, f"{segment.duration} f  {seconds:.2f} s")
        document.drawString(x, top - image_h - 23, f"Camera: {segment.shot.camera_label()}"[:90])
        document.setStrokeGray(0.6)
        document.setLineWidth(0.5)
        y = top - image_h - 23 - line_gap
        while y > top - box.height + 2:
            document.line(x, y, x + box.width, y)
            y -= line_gap

    _pages(context, out, "worksheet", panel)


def _speaker(shot: Shot) -> str:
    return f"{shot.speaker.upper()}: " if shot.speaker else ""


EXPORTERS = (
    Exporter("pdf", "storyboard.pdf", write, "storyboard (PDF)", rank=50),
    Exporter("worksheet", "worksheet.pdf", write_worksheet, "storyboard worksheet: empty frames and lines (PDF)", rank=55),
)
