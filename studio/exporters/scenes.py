"""The breakdown by scene, for the writer and the floor: a shot list per scene (CSV and PDF) and a
Fountain file of the board's scenes with every shot as a note above its action and dialogue.

Scenes come in script order, each with its shots in board order; shots outside any scene close
the list. Shot numbers are the timeline's (studio.scenes.shot_numbers), as in every export.
"""

from __future__ import annotations

import csv
from pathlib import Path

from studio.board import Scene
from studio.exporters.base import ExportContext, Exporter
from studio.scenes import dialogue_lines, word_count
from studio.screenplay import FountainScene, FountainShot, write_fountain
from studio.timeline import Segment, Timeline

COLUMNS: tuple[str, ...] = (
    "scene", "scene_heading", "synopsis", "shot", "shot_id", "title", "duration_frames", "duration_seconds",
    "start_timecode", "framing", "camera", "characters", "action", "speaker", "dialogue", "dialogue_words", "notes",
)


def by_scene(timeline: Timeline) -> list[tuple[Scene | None, list[Segment]]]:
    """Each scene (script order) with its segments, then the segments outside any scene."""
    groups: dict[str | None, list[Segment]] = {scene.id: [] for scene in timeline.scenes}
    loose: list[Segment] = []
    for segment in timeline.segments:
        (groups.get(segment.shot.scene_id, loose) if segment.shot.scene_id else loose).append(segment)
    result: list[tuple[Scene | None, list[Segment]]] = [(scene, groups[scene.id]) for scene in timeline.scenes]
    return result + ([(None, loose)] if loose else [])


def _scene_number(timeline: Timeline, scene: Scene | None) -> str:
    if scene is None:
        return ""
    return scene.number or str(timeline.scenes.index(scene) + 1)


def _seconds(timeline: Timeline, frames: int) -> str:
    return f"{timeline.fps.frames_to_seconds(frames):.2f}"


def write_csv(context: ExportContext, out: Path) -> None:
    timeline = context.timeline
    with open(out, "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=COLUMNS)
        writer.writeheader()
        for scene, segments in by_scene(timeline):
            for segment in segments:
                shot = segment.shot
                writer.writerow({
                    "scene": _scene_number(timeline, scene), "scene_heading": scene.heading() if scene else "",
                    "synopsis": scene.synopsis if scene else "", "shot": segment.number, "shot_id": shot.id,
                    "title": shot.title, "duration_frames": segment.duration,
                    "duration_seconds": _seconds(timeline, segment.duration),
                    "start_timecode": timeline.fps.timecode(segment.start), "framing": shot.framing_label(),
                    "camera": shot.camera_label(), "characters": ", ".join(shot.characters), "action": shot.action,
                    "speaker": shot.speaker, "dialogue": shot.dialogue,
                    "dialogue_words": sum(word_count(text) for _, text in dialogue_lines(shot)), "notes": shot.notes,
                })


def write_pdf(context: ExportContext, out: Path) -> None:
    """A4 portrait: per scene its heading and synopsis, then a table of its shots."""
    from xml.sax.saxutils import escape

    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.platypus import KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    timeline = context.timeline
    cell = ParagraphStyle("cell", fontName="Helvetica", fontSize=8, leading=10)
    head = ParagraphStyle("head", fontName="Helvetica-Bold", fontSize=11, leading=14, spaceBefore=8)
    title = ParagraphStyle("title", fontName="Helvetica-Bold", fontSize=15, leading=19)
    story: list = [Paragraph(escape(f"{timeline.title} - shot list by scene"), title),
                   Paragraph(escape(context.date), cell), Spacer(1, 6)]
    widths = [34, 44, 150, 130, 165]
    for scene, segments in by_scene(timeline):
        number = _scene_number(timeline, scene)
        heading = f"{number}  {scene.heading()}" if scene else "Shots outside any scene"
        block: list = [Paragraph(escape(heading), head)]
        if scene is not None and scene.synopsis:
            block.append(Paragraph(f"<i>{escape(scene.synopsis)}</i>", cell))
        rows = [[Paragraph(f"<b>{name}</b>", cell) for name in ("Shot", "Length", "Framing / camera", "Action", "Dialogue")]]
        for segment in segments:
            shot = segment.shot
            speech = "<br/>".join(f"<b>{escape(who)}</b>: {escape(text)}" if who else escape(text)
                                  for who, text in dialogue_lines(shot))
            rows.append([
                Paragraph(escape(str(segment.number)), cell),
                Paragraph(f"{_seconds(timeline, segment.duration)} s", cell),
                Paragraph(escape(" · ".join(part for part in (shot.framing_label(), shot.camera_label()) if part)), cell),
                Paragraph(escape(shot.action or shot.title).replace("\n", "<br/>")
                          + (f"<br/><i>Note: {escape(shot.notes)}</i>" if shot.notes else ""), cell),
                Paragraph(speech, cell),
            ])
        table = Table(rows, colWidths=widths, repeatRows=1)
        table.setStyle(TableStyle([
            ("GRID", (0, 0), (-1, -1), 0.4, colors.grey), ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("BACKGROUND", (0, 0), (-1, 0), colors.Color(0.9, 0.9, 0.9)),
        ]))
        story += [KeepTogether(block + [table]), Spacer(1, 4)]
    document = SimpleDocTemplate(str(out), pagesize=A4, leftMargin=36, rightMargin=36, topMargin=36, bottomMargin=36,
                                 title=f"{timeline.title} - shot list by scene")
    document.build(story)


def write_fountain_breakdown(context: ExportContext, out: Path) -> None:
    timeline = context.timeline

    def shot_entry(segment: Segment) -> FountainShot:
        shot = segment.shot
        facts = [f"SHOT {segment.number}", f"{_seconds(timeline, segment.duration)} s", shot.framing_label(),
                 shot.camera_label(), shot.title]
        note = " · ".join(part for part in facts if part) + (f" — {shot.notes}" if shot.notes else "")
        speeches = tuple((who or "UNKNOWN", text) for who, text in dialogue_lines(shot))
        return FountainShot(note=note, action=shot.action or ("" if speeches else shot.prompt), speeches=speeches)

    scenes: list[FountainScene] = []
    loose: list[FountainShot] = []
    for scene, segments in by_scene(timeline):
        entries = tuple(shot_entry(segment) for segment in segments)
        if scene is None:
            loose = list(entries)
        else:
            scenes.append(FountainScene(heading=scene.heading(), number=_scene_number(timeline, scene),
                                        synopsis=scene.synopsis, shots=entries))
    out.write_text(write_fountain(timeline.title, scenes, loose), encoding="utf-8")


EXPORTERS = (
    Exporter("scenes_csv", "scenes.csv", write_csv, "shot list by scene (CSV)", rank=61),
    Exporter("scenes_pdf", "shotlist.pdf", write_pdf, "shot list by scene (PDF)", rank=62),
    Exporter("fountain", "breakdown.fountain", write_fountain_breakdown,
             "the board's scenes as a Fountain script, each shot a note over its action and dialogue", rank=63),
)
