"""The storyboard as a PDF: one panel per shot (a frame from it, number and title, duration,
scene heading, framing, camera move, action, prompt, dialogue, notes), 2, 4 or 6 panels per
landscape A4 page (reportlab)."""

from __future__ import annotations

import io
from pathlib import Path

from studio.board import Shot
from studio.exporters.base import ExportContext, Exporter

LAYOUTS = {2: (2, 1), 4: (2, 2), 6: (3, 2)}
"""Panels per page -> (columns, rows)."""


def write(context: ExportContext, out: Path) -> None:
    """One panel per segment, from ``context.stills()``; panel headings read "SHOT 3 - Harbour"."""
    from xml.sax.saxutils import escape

    from PIL import Image
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.utils import ImageReader
    from reportlab.pdfgen import canvas
    from reportlab.platypus import Paragraph

    timeline, stills, per_page, subtitle = context.timeline, context.stills(), context.per_page, context.date
    if per_page not in LAYOUTS:
        raise ValueError(f"per_page must be one of {sorted(LAYOUTS)}, got {per_page!r}")
    if len(stills) != len(timeline.segments):
        raise ValueError(f"need one still per shot: {len(timeline.segments)} shots, {len(stills)} stills")
    columns, rows = LAYOUTS[per_page]
    page_w, page_h = landscape(A4)
    margin, gutter, header = 28.0, 14.0, 30.0
    cell_w = (page_w - 2 * margin - (columns - 1) * gutter) / columns
    cell_h = (page_h - 2 * margin - header - (rows - 1) * gutter) / rows
    body = ParagraphStyle("body", fontName="Helvetica", fontSize=8 if per_page == 6 else 9, leading=10 if per_page == 6 else 11)
    pages = (len(stills) + per_page - 1) // per_page
    document = canvas.Canvas(str(out), pagesize=(page_w, page_h))
    document.setTitle(f"{timeline.title} - storyboard")
    for page in range(pages):
        document.setFont("Helvetica-Bold", 14)
        document.drawString(margin, page_h - margin - 14, timeline.title[:90])
        document.setFont("Helvetica", 9)
        document.drawRightString(page_w - margin, page_h - margin - 12, f"{subtitle}  page {page + 1}/{pages}".strip())
        for slot in range(per_page):
            index = page * per_page + slot
            if index >= len(stills):
                break
            segment = timeline.segments[index]
            column, row = slot % columns, slot // columns
            x = margin + column * (cell_w + gutter)
            top = page_h - margin - header - row * (cell_h + gutter)
            image_h = min(cell_h * 0.55, cell_w * timeline.height / timeline.width)
            image_w = image_h * timeline.width / timeline.height
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
            room = y - (top - cell_h)
            for line in filter(None, lines):
                paragraph = Paragraph(line.replace("\n", "<br/>"), body)
                _, height = paragraph.wrap(cell_w, room)
                if height > room:
                    break
                paragraph.drawOn(document, x, y - height)
                y -= height + 1
                room -= height + 1
        document.showPage()
    document.save()


def _speaker(shot: Shot) -> str:
    return f"{shot.speaker.upper()}: " if shot.speaker else ""


EXPORTERS = (Exporter("pdf", "storyboard.pdf", write, "storyboard (PDF)", rank=50),)
