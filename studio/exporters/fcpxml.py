"""The edit as Final Cut Pro 7 XML (xmeml), through OpenTimelineIO's "fcp_xml" adapter."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping

import opentimelineio as otio

from studio.exporters.otio import build_timeline
from studio.timeline import Timeline


def write(timeline: Timeline, out: Path, settings: Mapping[str, Mapping[str, Any]] | None = None) -> Path:
    otio.adapters.write_to_file(build_timeline(timeline, settings), str(out), adapter_name="fcp_xml")
    return out
