"""Export a project's board to a file: the one export path of the UI, CLI and API.

1. load the board and lay it out (studio.timeline), checking every chosen take once
   (studio.services.takes);
2. hand the timeline to the exporter registered under the format's name (studio.exporters);
3. the exporter writes a unique temp file in the output folder, which this service alone renames
   over the final name, so two exports to one name at once leave one whole file, never a mix.
"""

from __future__ import annotations

import dataclasses
import datetime as _dt
import functools
import os
import threading
import uuid
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Callable, Mapping

from studio.board import BoardError
from studio.common import Progress, atomic_write, check_fit, no_progress, shown
from studio.exporters import pdf, registry
from studio.exporters.base import ExportContext
from studio.media import MediaError, ProbeCache
from studio.services.slates import SLATE_DIR, slate_clips
from studio.services.takes import attach_media, read_sidecar
from studio.storage import Project
from studio.timeline import BURN_INS, ExportCancelled, Style, Timeline, TimelineError, build_timeline

EXPORT_FORMATS: Mapping[str, str] = MappingProxyType({name: exporter.filename for name, exporter in registry().items()})
"""Format name -> default file name under the project's exports folder (see studio.exporters)."""
CACHE_DIR = ".cache"
"""Encoded MP4 pieces, by content hash, under the exports folder."""


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
    include_audio: bool = True
    """Carry the scratch track (MP4 sound, the audio track of edit exports and packages)."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "burn_ins", frozenset(self.burn_ins))
        unknown = self.burn_ins - set(BURN_INS)
        if unknown:
            raise ExportError(f"unknown burn-in {shown(', '.join(sorted(map(str, unknown))), plain=True)}; choose from {', '.join(BURN_INS)}")
        if self.per_page not in pdf.LAYOUTS:
            raise ExportError(f"per_page must be one of {sorted(pdf.LAYOUTS)}, got {shown(self.per_page)}")
        check_fit(self.fit, ExportError)
        if not isinstance(self.include_audio, bool):
            raise ExportError(f"include_audio must be true or false, got {shown(self.include_audio)}")
        if (isinstance(self.preview_width, bool) or not isinstance(self.preview_width, int)
                or not 16 <= self.preview_width <= 4096):
            raise ExportError(f"preview_width must be 16..4096 pixels, got {shown(self.preview_width)}")


OPTION_NAMES = ("burn_ins", "use_slates", "per_page", "fit", "watermark", "include_audio", "preview_width")


def options_from(values: Mapping[str, Any] | None) -> ExportOptions:
    """ExportOptions from plain values (the HTTP API's and the UI's): ``burn_ins`` a list or
    "all"; an unknown key is refused by name rather than ignored."""
    values = dict(values or {})
    unknown = sorted(set(values) - set(OPTION_NAMES))
    if unknown:
        raise ExportError(f"unknown export option {shown(unknown[0])}; choose from {', '.join(OPTION_NAMES)}")
    burn_ins = values.pop("burn_ins", ())
    if burn_ins == "all":
        burn_ins = BURN_INS
    if isinstance(burn_ins, str) or not isinstance(burn_ins, (list, tuple, set, frozenset)):
        raise ExportError(f"burn_ins must be a list of {', '.join(BURN_INS)} or \"all\", got {shown(burn_ins)}")
    if "watermark" in values and values["watermark"] is not None and not isinstance(values["watermark"], str):
        raise ExportError(f"watermark must be text, got {shown(values['watermark'])}")
    return ExportOptions(burn_ins=frozenset(burn_ins), **values)


def default_path(project: Project, fmt: str) -> Path:
    if fmt not in EXPORT_FORMATS:
        raise ExportError(f"unknown export format {shown(fmt)}; choose from {', '.join(EXPORT_FORMATS)}")
    return project.resolve(f"exports/{EXPORT_FORMATS[fmt]}", "export")


def load_timeline(project: Project, use_slates: bool = False) -> Timeline:
    """The project's board laid out, every chosen take found and checked."""
    probes = ProbeCache(project.resolve(f"exports/{CACHE_DIR}", "export cache"))
    board = project.load()
    timeline = attach_media(build_timeline(board), project.resolve, use_slates=use_slates, probe=probes.probe)
    probes.forget_unused()
    if board.scratch_dialogue:  # the spoken lines are mixed into the scratch track every format carries
        from studio.services.scratch_dialogue import with_scratch_dialogue

        timeline = with_scratch_dialogue(board, timeline, project.resolve(f"exports/{CACHE_DIR}", "export cache"),
                                         f"exports/{CACHE_DIR}")
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


def _still_frames(timeline: Timeline, fit: str, cancelled: Callable[[], bool]) -> list[Any]:
    """The middle frame of every shot as edited (no burn-ins), for the storyboard and contact sheet."""
    from studio.compositor import Compositor

    with Compositor(timeline, Style(fit=fit)) as compositor:
        stills = [compositor.still(segment.index) for segment in timeline.segments]
    if cancelled():
        raise ExportCancelled("export cancelled")
    return stills


def _sidecars(project: Project, timeline: Timeline) -> dict[str, dict[str, Any]]:
    """Each chosen take's generation settings (its JSON sidecar), by shot id; unreadable ones are skipped."""
    result: dict[str, dict[str, Any]] = {}
    for segment in timeline.segments:
        if not segment.is_slate:
            data = read_sidecar(project.resolve, segment)
            if data is not None:
                result[segment.shot.id] = data
    return result


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
        raise ExportError(f"unknown export format {shown(fmt)}; choose from {', '.join(EXPORT_FORMATS)}")
    _check_writable(out)
    report = progress or no_progress
    is_cancelled = (lambda: cancel.is_set()) if cancel is not None else (lambda: False)
    try:
        timeline = load_timeline(project, options.use_slates)
        if timeline.audio is not None and (timeline.audio.muted or not options.include_audio):
            timeline = dataclasses.replace(timeline, audio=None, audio_path=None)
        if not options.include_audio:  # no sound at all: the takes' own sound stays out too
            timeline = dataclasses.replace(timeline, segments=tuple(
                dataclasses.replace(segment, take_audio=False) for segment in timeline.segments))
        for warning in timeline.warnings:
            (warn or (lambda message: None))(warning)
        watermark = options.watermark if options.watermark is not None else f"{timeline.title}  {_dt.date.today().isoformat()}"
        style = Style(burn_ins=options.burn_ins, fit=options.fit, watermark=watermark)
        report(0, 1, f"exporting {fmt}")
        context = ExportContext(
            timeline=timeline, style=style, cache_dir=project.resolve(f"exports/{CACHE_DIR}", "export cache"),
            date=_dt.date.today().isoformat(), per_page=options.per_page, preview_width=options.preview_width,
            sidecars=functools.cache(lambda: _sidecars(project, timeline)),
            stills=functools.cache(lambda: _still_frames(timeline, options.fit, is_cancelled)),
            progress=report, cancel=is_cancelled, root=project.root,
            slates=functools.cache(lambda: slate_clips(timeline, project.resolve(f"exports/{SLATE_DIR}", "slates"))),
        )
        with atomic_write(out) as partial:
            registry()[fmt].write(context, partial)
    except (TimelineError, MediaError, BoardError) as error:
        raise ExportError(str(error)) from None
    except PermissionError as error:
        raise ExportError(f"{out}: cannot write ({error.strerror or error})") from None
    report(1, 1, f"exported {out.name}")
    return out
