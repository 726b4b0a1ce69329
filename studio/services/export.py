"""Export a project's board to a file: the one export path of the UI, CLI and API.

1. load the board and lay it out (studio.timeline), checking every chosen take once;
2. hand the timeline to the exporter of the format (studio.exporters.*);
3. the exporter writes to a unique temp file in the output folder, which is renamed over the
   final name, so two exports to one name at once leave one whole file, never a mix.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from studio.board import BoardError
from studio.exporters import contact, edl, fcpxml, mp4, otio, pdf, shotlist
from studio.media import MediaError, ProbeCache
from studio.storage import Project
from studio.timeline import BURN_INS, FIT_MODES, ExportCancelled, Renderer, Style, Timeline, TimelineError, attach_media, build_timeline

EXPORT_FORMATS: Mapping[str, str] = MappingProxyType({
    "mp4": "animatic.mp4",
    "preview": "preview.mp4",
    "otio": "board.otio",
    "edl": "board.edl",
    "fcpxml": "board.xml",
    "pdf": "storyboard.pdf",
    "csv": "shots.csv",
    "contact": "contact.png",
})
"""Format name -> default file name under the project's exports folder."""
CACHE_DIR = ".cache"
"""Encoded MP4 pieces, by content hash, under the exports folder."""

Progress = Callable[[int, int, str], None]


class ExportError(RuntimeError):
    """An export could not be made; the message says what and where."""


@dataclass(frozen=True)
class ExportOptions:
    burn_ins: frozenset[str] = frozenset()
    """Any of timeline.BURN_INS: shot, camera, take, timecode, dialogue, watermark."""
    use_slates: bool = False
    """Show a slate for a chosen take that is missing or corrupt instead of failing."""
    per_page: int = 4
    """PDF storyboard panels per page: 2, 4 or 6."""
    fit: str = "cover"
    """How takes of another size are conformed: cover or letterbox."""
    preview_width: int = 480
    watermark: str | None = None
    """Watermark line; None means "<project title>  <today's date>"."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "burn_ins", frozenset(self.burn_ins))
        unknown = self.burn_ins - set(BURN_INS)
        if unknown:
            raise ExportError(f"unknown burn-in {', '.join(sorted(unknown))}; choose from {', '.join(BURN_INS)}")
        if self.per_page not in pdf.LAYOUTS:
            raise ExportError(f"per_page must be one of {sorted(pdf.LAYOUTS)}, got {self.per_page!r}")
        if self.fit not in FIT_MODES:
            raise ExportError(f"fit must be one of {', '.join(FIT_MODES)}, got {self.fit!r}")
        if not 16 <= self.preview_width <= 4096:
            raise ExportError(f"preview_width must be 16..4096 pixels, got {self.preview_width!r}")


def default_path(project: Project, fmt: str) -> Path:
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
    return project.resolve(f"exports/{EXPORT_FORMATS[fmt]}", "export")


def load_timeline(project: Project, use_slates: bool = False) -> Timeline:
    """The project's board laid out, every chosen take found and checked."""
    probes = ProbeCache(project.resolve(f"exports/{CACHE_DIR}", "export cache"))
    timeline = attach_media(build_timeline(project.load()), project.resolve, use_slates=use_slates, probe=probes.probe)
    probes.forget_unused()
    return timeline


def _check_writable(out: Path) -> None:
    folder = out.parent
    if out.is_dir():
        raise ExportError(f"{out}: is a folder; give a file name")
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise ExportError(f"{folder}: cannot create the output folder ({error.strerror or error})") from None
    probe = folder / f".write-test-{os.getpid()}-{threading.get_ident()}-{uuid.uuid4().hex[:6]}"
    try:
        probe.touch()
    except OSError as error:
        raise ExportError(f"{out}: the output folder is not writable ({error.strerror or error})") from None
    probe.unlink(missing_ok=True)
    if out.exists() and not os.access(out, os.W_OK):
        raise ExportError(f"{out}: exists and is not writable")


def _stills(timeline: Timeline, style: Style) -> list[Any]:
    with Renderer(timeline, style) as renderer:
        return [renderer.still(segment.index) for segment in timeline.segments]


def _sidecars(project: Project, timeline: Timeline) -> dict[str, dict[str, Any]]:
    """Each chosen take's generation settings (its JSON sidecar), by shot id; unreadable ones are skipped."""
    result: dict[str, dict[str, Any]] = {}
    for segment in timeline.segments:
        if segment.take is None or segment.is_slate:
            continue
        try:
            data = json.loads(project.resolve(segment.take.sidecar_path).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if isinstance(data, dict):
            result[segment.shot.id] = data
    return result


def _atomic(out: Path, write: Callable[[Path], Any]) -> None:
    """Run ``write`` on a unique temp file beside ``out``, then rename it over ``out``."""
    partial = out.with_name(f".{out.stem}.{os.getpid()}.{threading.get_ident()}.{uuid.uuid4().hex[:8]}.partial{out.suffix}")
    try:
        write(partial)
        os.replace(partial, out)
    finally:
        partial.unlink(missing_ok=True)


def export_board(
    project: Project,
    fmt: str,
    out: Path | None = None,
    options: ExportOptions | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    warn: Callable[[str], None] | None = None,
) -> Path:
    """Export the board as ``fmt`` (see EXPORT_FORMATS) to ``out`` (default: exports/<name>).

    ``warn`` hears each thing the export had to adjust (a slate for an unusable take, a take
    conformed to the board's size or rate, a last frame held), so nothing is corrected silently.
    Raises ExportError (bad format or output path, a take missing or corrupt without
    use_slates, bad transitions or audio) or ExportCancelled.
    """
    options = options or ExportOptions()
    out = Path(out) if out is not None else default_path(project, fmt)
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {fmt!r}; choose from {', '.join(EXPORT_FORMATS)}")
    _check_writable(out)
    report = progress or (lambda done, total, message: None)
    is_cancelled = (lambda: cancel.is_set()) if cancel is not None else (lambda: False)
    try:
        timeline = load_timeline(project, options.use_slates)
        for warning in timeline.warnings:
            (warn or (lambda message: None))(warning)
        watermark = options.watermark if options.watermark is not None else f"{timeline.title}  {_dt.date.today().isoformat()}"
        style = Style(burn_ins=options.burn_ins, fit=options.fit, watermark=watermark)
        report(0, 1, f"exporting {fmt}")
        if fmt in ("mp4", "preview"):
            mp4.write_mp4(
                timeline, out, style=style, cache_dir=project.resolve(f"exports/{CACHE_DIR}", "export cache"),
                preview_width=options.preview_width if fmt == "preview" else None,
                progress=report, cancel=is_cancelled,
            )
        elif fmt in ("otio", "edl", "fcpxml"):
            module = {"otio": otio, "edl": edl, "fcpxml": fcpxml}[fmt]
            sidecars = _sidecars(project, timeline)
            _atomic(out, lambda path: module.write(timeline, path, sidecars))
        elif fmt == "csv":
            _atomic(out, lambda path: shotlist.write(timeline, path))
        else:
            stills = _stills(timeline, Style(fit=options.fit))
            if is_cancelled():
                raise ExportCancelled("export cancelled")
            if fmt == "pdf":
                _atomic(out, lambda path: pdf.write(timeline, path, stills, options.per_page, subtitle=_dt.date.today().isoformat()))
            else:
                _atomic(out, lambda path: contact.write(timeline, path, stills))
    except (TimelineError, MediaError, BoardError) as error:
        raise ExportError(str(error)) from None
    except PermissionError as error:
        raise ExportError(f"{out}: cannot write ({error.strerror or error})") from None
    report(1, 1, f"exported {out.name}")
    return out
