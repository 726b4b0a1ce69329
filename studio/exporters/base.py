"""The one interface every export format implements, and what an exporter is given.

An exporter is an :class:`Exporter` declared in its own module under ``studio/exporters/`` (in a
module-level ``EXPORTERS`` tuple): a name (what the CLI, the API and the UI call it), the file
name it gets under the project's ``exports/`` folder, and ``write(context, out)``, which writes
the whole file at ``out``. The export service (studio.services.export) lays the board out,
checks the takes, builds the :class:`ExportContext`, and alone picks the temporary file and
renames it over the final name, so an exporter never deals with partial files or project paths.

Exporter modules import their heavy libraries (reportlab, OpenTimelineIO, PyAV, Pillow) inside
``write``, so listing the formats (``studio export --help``) costs nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping, Sequence

from studio.common import Progress, no_progress
from studio.timeline import Style, Timeline

if TYPE_CHECKING:
    import numpy as np

@dataclass(frozen=True)
class ExportContext:
    """Everything an exporter reads: the checked timeline, how to draw it, and lazy extras."""

    timeline: Timeline
    style: Style
    """Burn-ins, fit and watermark for formats that draw frames."""
    cache_dir: Path
    """Where encoded pieces may be kept between exports (MP4)."""
    date: str = ""
    """Today, for page headers."""
    per_page: int = 4
    """Storyboard panels per page (PDF)."""
    preview_width: int = 480
    """Width of the low-resolution preview MP4."""
    sidecars: Callable[[], Mapping[str, Mapping[str, Any]]] = dict
    """Shot id -> the chosen take's generation settings (read on first call)."""
    stills: Callable[[], Sequence["np.ndarray"]] = tuple
    """One still per segment (the middle frame as edited, no burn-ins), drawn on first call."""
    progress: Progress = no_progress
    cancel: Callable[[], bool] = field(default=lambda: False)
    root: Path = Path(".")
    """The project folder (media names inside a package are relative to it)."""
    slates: Callable[[], Mapping[int, Path]] = dict
    """Segment index -> a slate clip file for each shot without a usable take (made on first call)."""


@dataclass(frozen=True)
class Exporter:
    name: str
    """Format name: ``studio export --format NAME``."""
    filename: str
    """Default file under the project's exports folder."""
    write: Callable[[ExportContext, Path], None]
    """Write the whole file at the given path (the service renames it into place)."""
    help: str = ""
    rank: int = 100
    """Listing order (lower first)."""
