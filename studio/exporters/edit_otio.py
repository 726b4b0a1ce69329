"""The edit as OpenTimelineIO (.otio), CMX 3600 EDL and Final Cut Pro 7 XML: one OTIO build, three adapters.

One video track; each shot is a Clip whose source range is its frames after trims, at the board
rate. A take is an ExternalReference with an ABSOLUTE ``file://`` URL (editing tools open it
without knowing the project folder); the path relative to the project folder is kept in
``metadata["previz"]["take_path"]`` so a moved project can be relinked. A shot without a usable
take is a Clip with a MissingReference named after its slate. A cross-dissolve of L frames is a
SMPTE_Dissolve that starts at the cut (in_offset 0, out_offset L), as a CMX 3600 dissolve does:
the incoming clip starts where the dissolve starts, exactly as on our timeline, and the outgoing
clip's last L frames are its handles. So OTIO, EDL and XML read back to the same clips. Dips, which OTIO has no schema for, are markers on the clips they touch, plus
metadata. Prompt, seed, camera and the take's generation settings are in metadata["previz"].
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from studio.exporters.base import ExportContext, Exporter
from studio.timeline import Segment, Timeline

if TYPE_CHECKING:
    import opentimelineio as otio


def _rt(frames: int, timeline: Timeline) -> otio.opentime.RationalTime:
    import opentimelineio as otio

    return otio.opentime.RationalTime(frames, float(timeline.fps))


def _range(start: int, duration: int, timeline: Timeline) -> otio.opentime.TimeRange:
    import opentimelineio as otio

    return otio.opentime.TimeRange(_rt(start, timeline), _rt(duration, timeline))


def _metadata(segment: Segment, settings: Mapping[str, Any] | None) -> dict[str, Any]:
    shot, take = segment.shot, segment.take
    return {
        "shot_id": shot.id,
        "shot_number": segment.number,
        "title": shot.title,
        "prompt": shot.prompt,
        "negative_prompt": shot.negative_prompt,
        "seed": take.seed if take else shot.seed,
        "camera": [dataclasses.asdict(move) for move in shot.camera],
        "camera_label": shot.camera_label(),
        "dialogue": shot.dialogue,
        "notes": shot.notes,
        "duration": shot.duration,
        "trim_in": shot.trim_in,
        "trim_out": shot.trim_out,
        "transition": {"kind": shot.transition.kind, "length": shot.transition.length},
        "take_id": take.id if take else None,
        "take_path": take.path if take else None,
        "backend": take.backend if take else None,
        "model": take.model if take else None,
        "slate": segment.slate_reason or None,
        "settings": dict(settings or {}),
    }


def to_otio(timeline: Timeline, settings: Mapping[str, Mapping[str, Any]] | None = None) -> otio.schema.Timeline:
    """The timeline as an OTIO Timeline; ``settings``: shot id -> the chosen take's sidecar."""
    import opentimelineio as otio

    settings = settings or {}
    result = otio.schema.Timeline(name=timeline.title)
    result.global_start_time = _rt(0, timeline)
    result.metadata["previz"] = {
        "fps": str(timeline.fps), "width": timeline.width, "height": timeline.height,
        "fade_in": timeline.fade_in, "fade_out": timeline.fade_out, "total_frames": timeline.total_frames,
    }
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    result.tracks.append(track)
    segments = timeline.segments
    cuts = [s.start for s in segments] + [timeline.total_frames]
    for segment in segments:
        duration = cuts[segment.index + 1] - cuts[segment.index]
        if segment.is_slate or segment.path is None or segment.info is None:
            reference: otio.core.MediaReference = otio.schema.MissingReference(name=f"slate shot {segment.number}")
        else:
            reference = otio.schema.ExternalReference(
                target_url=segment.path.resolve().as_uri(),
                available_range=_range(0, max(segment.info.frames, segment.source_out), timeline),
            )
        clip = otio.schema.Clip(
            name=segment.label("clip"),
            media_reference=reference,
            source_range=_range(segment.source_in, duration, timeline),
        )
        clip.metadata["previz"] = _metadata(segment, settings.get(segment.shot.id))
        clip.markers.append(otio.schema.Marker(
            name=segment.label(), marked_range=_range(segment.source_in, 1, timeline),
            color=otio.schema.MarkerColor.GREEN if not segment.is_slate else otio.schema.MarkerColor.RED,
            metadata={"previz": {"dialogue": segment.shot.dialogue, "notes": segment.shot.notes}},
        ))
        if segment.dip_in:
            clip.markers.append(otio.schema.Marker(
                name=f"{segment.transition.kind} in {segment.dip_in}",
                marked_range=_range(segment.source_in, segment.dip_in, timeline),
                color=otio.schema.MarkerColor.BLACK if segment.dip_in_color == (0, 0, 0) else otio.schema.MarkerColor.WHITE,
            ))
        if segment.dip_out:
            clip.markers.append(otio.schema.Marker(
                name=f"dip out {segment.dip_out}",
                marked_range=_range(segment.source_out - segment.dip_out, segment.dip_out, timeline),
                color=otio.schema.MarkerColor.BLACK if segment.dip_out_color == (0, 0, 0) else otio.schema.MarkerColor.WHITE,
            ))
        if segment.overlap_in:
            track.append(otio.schema.Transition(
                name=f"dissolve into shot {segment.number}",
                transition_type=otio.schema.TransitionTypes.SMPTE_Dissolve,
                in_offset=_rt(0, timeline),
                out_offset=_rt(segment.overlap_in, timeline),
            ))
        track.append(clip)
    return result


def _writer(adapter: str) -> Callable[[ExportContext, Path], None]:
    def write(context: ExportContext, out: Path) -> None:
        import opentimelineio as otio

        rate = {"rate": float(context.timeline.fps)} if adapter == "cmx_3600" else {}
        otio.adapters.write_to_file(to_otio(context.timeline, context.sidecars()), str(out), adapter_name=adapter, **rate)
    return write


EXPORTERS = (
    Exporter("otio", "board.otio", _writer("otio_json"), "OpenTimelineIO timeline", rank=20),
    Exporter("edl", "board.edl", _writer("cmx_3600"), "CMX 3600 EDL", rank=30),
    Exporter("fcpxml", "board.xml", _writer("fcp_xml"), "Final Cut Pro 7 XML", rank=40),
)
