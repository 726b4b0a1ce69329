"""The edit as OpenTimelineIO (.otio), CMX 3600 EDL and Final Cut Pro 7 XML: one OTIO build, three
adapters, and the ``package`` format: the three files with every media file they name, in one zip.

One video track; each shot is a Clip whose source range is its frames after trims, at the board
rate. Media is named RELATIVE to the timeline file (``../takes/sh_1/t1.mp4`` beside
``exports/board.otio``; ``media/takes/...`` inside a package), so a project folder or a package
opens on another machine; the path relative to the project folder is also kept in
``metadata["previz"]["take_path"]``. A shot without a usable take gets its slate clip as media
(studio.services.slates: the card with its number, as long as the shot), never an empty clip.
The scratch track (when there is one and it is not muted) is an audio track: a Gap for its
offset, then the audio cut to the picture, its level in metadata; in the EDL it is an audio
event ("A" channel) after the picture's events, which OTIO's CMX adapter does not write itself.
Takes with their own sound (LTX-2) add a second audio track, "A2 take sound": per shot the take
file's sound over exactly the picture clip's range (a gap for a silent shot), level in metadata.

A cross-dissolve of L frames is a SMPTE_Dissolve that starts at the cut (in_offset 0, out_offset
L), as a CMX 3600 dissolve does: the incoming clip starts where the dissolve starts, exactly as
on our timeline, and the outgoing clip's last L frames are its handles. So OTIO, EDL and XML read
back to the same clips. Dips, which OTIO has no schema for, are markers on the clips they touch,
plus metadata. Prompt, seed, camera and the take's generation settings are in metadata["previz"].
Clips are named "SHOT003 Title" and their metadata names the shot id: studio.services.recut reads
a re-cut back by these (then by the media file).
"""

from __future__ import annotations

import dataclasses
import os
import re
import zipfile
from pathlib import Path
from typing import TYPE_CHECKING, Any, Callable, Mapping

from studio.exporters.base import ExportContext, Exporter
from studio.timeline import Segment, Timeline

if TYPE_CHECKING:
    import opentimelineio as otio

MediaUrl = Callable[[Path], str]
"""How a timeline file names a media file (relative to the timeline file)."""

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
        "characters": list(shot.characters),
        "location": shot.location,
        "loras": [{"source": lora.source, "weight": lora.weight} for lora in shot.loras],
        "settings": dict(settings or {}),
    }


def relative_to(folder: Path) -> MediaUrl:
    """Media named relative to ``folder`` (where the timeline file is), with '/' separators."""
    def url(path: Path) -> str:
        return Path(os.path.relpath(path.resolve(), folder.resolve())).as_posix()
    return url


def audio_frames(timeline: Timeline) -> int:
    """Whole frames of the scratch track at the board rate (0 without one)."""
    if timeline.audio_path is None:
        return 0
    from studio.media import probe_audio

    return int(probe_audio(timeline.audio_path) * timeline.fps.fraction)


def to_otio(timeline: Timeline, settings: Mapping[str, Mapping[str, Any]] | None = None,
            media_url: MediaUrl | None = None, slates: Mapping[int, Path] | None = None) -> otio.schema.Timeline:
    """The timeline as an OTIO Timeline; ``settings``: shot id -> the chosen take's sidecar;
    ``media_url`` names media files (default: absolute file URLs); ``slates``: segment index ->
    slate clip for shots without a usable take."""
    import opentimelineio as otio

    settings, slates = settings or {}, slates or {}
    name = media_url or (lambda path: path.resolve().as_uri())
    result = otio.schema.Timeline(name=timeline.title)
    result.global_start_time = _rt(0, timeline)
    result.metadata["previz"] = {
        "fps": str(timeline.fps), "width": timeline.width, "height": timeline.height,
        "fade_in": timeline.fade_in, "fade_out": timeline.fade_out, "total_frames": timeline.total_frames,
        "cast": [{"name": m.name, "description": m.description, "references": list(m.references)} for m in timeline.cast],
        "locations": [{"name": p.name, "description": p.description, "references": list(p.references)}
                      for p in timeline.locations],
    }
    track = otio.schema.Track(name="V1", kind=otio.schema.TrackKind.Video)
    result.tracks.append(track)
    segments = timeline.segments
    cuts = [s.start for s in segments] + [timeline.total_frames]
    for segment in segments:
        duration = cuts[segment.index + 1] - cuts[segment.index]
        if (segment.is_slate or segment.path is None or segment.info is None) and segment.index in slates:
            reference: otio.core.MediaReference = otio.schema.ExternalReference(
                target_url=name(slates[segment.index]),
                available_range=_range(0, segment.shot.duration, timeline),
            )
        elif segment.is_slate or segment.path is None or segment.info is None:
            reference = otio.schema.MissingReference(name=f"slate shot {segment.number}")
        else:
            reference = otio.schema.ExternalReference(
                target_url=name(segment.path),
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
    audio = _audio_track(timeline, name)
    if audio is not None:
        result.tracks.append(audio)
    take_sound = _take_sound_track(timeline, name, cuts)
    if take_sound is not None:
        result.tracks.append(take_sound)
    return result


def _take_sound_track(timeline: Timeline, name: MediaUrl, cuts: list[int]) -> otio.schema.Track | None:
    """The takes' own sound (a model that makes it) as a second audio track, linked to the picture:
    each sounding shot's clip names its take file with the picture clip's exact source and record
    range, its level in metadata; a silent shot is a gap, so every sound stays on its frames."""
    import opentimelineio as otio

    sounding = [segment for segment in timeline.segments
                if segment.take_audio and segment.path is not None and segment.info is not None]
    if not sounding:
        return None
    track = otio.schema.Track(name="A2 take sound", kind=otio.schema.TrackKind.Audio)
    for segment in timeline.segments:
        duration = cuts[segment.index + 1] - cuts[segment.index]
        if segment not in sounding:
            track.append(otio.schema.Gap(source_range=_range(0, duration, timeline)))
            continue
        assert segment.path is not None and segment.info is not None
        clip = otio.schema.Clip(
            name=segment.label("clip"),
            media_reference=otio.schema.ExternalReference(
                target_url=name(segment.path),
                available_range=_range(0, max(segment.info.frames, segment.source_out), timeline)),
            source_range=_range(segment.source_in, duration, timeline),
        )
        clip.metadata["previz"] = {"shot_id": segment.shot.id, "take_id": segment.take.id if segment.take else None,
                                   "level_db": segment.shot.take_audio_level, "take_sound": True}
        track.append(clip)
    return track


def _audio_track(timeline: Timeline, name: MediaUrl) -> otio.schema.Track | None:
    """The scratch track as an audio track: a gap for its offset, then the audio cut to the picture."""
    import opentimelineio as otio

    track_info = timeline.audio
    if track_info is None or timeline.audio_path is None or track_info.muted:
        return None
    offset = min(track_info.offset, timeline.total_frames)
    length = min(audio_frames(timeline), timeline.total_frames - offset)
    if length <= 0:
        return None
    track = otio.schema.Track(name="A1", kind=otio.schema.TrackKind.Audio)
    if offset:
        track.append(otio.schema.Gap(source_range=_range(0, offset, timeline)))
    clip = otio.schema.Clip(
        name="scratch audio",
        media_reference=otio.schema.ExternalReference(
            target_url=name(timeline.audio_path), available_range=_range(0, audio_frames(timeline), timeline)),
        source_range=_range(0, length, timeline),
    )
    clip.metadata["previz"] = {"audio_path": track_info.path, "offset": track_info.offset,
                               "level_db": track_info.level, "fade_out": track_info.fade_out}
    track.append(clip)
    return track


def edl_text(tl: otio.schema.Timeline, timeline: Timeline) -> str:
    """CMX 3600 through OTIO's adapter (picture, dissolve lines put in CMX's columns), plus one
    audio event per clip of each audio track: channel A for the scratch track, A2 for the takes'
    own sound, reel from the file name, source and record timecodes at the board rate."""
    import opentimelineio as otio

    video = tl.deepcopy()
    audio_tracks = [track for track in video.tracks if track.kind == otio.schema.TrackKind.Audio]
    for track in audio_tracks:
        video.tracks.remove(track)
    rate = float(timeline.fps)
    text = otio.adapters.write_to_string(video, adapter_name="cmx_3600", rate=rate)
    # the adapter writes "D 006    "; CMX 3600's columns are a 4-wide transition and a 3-wide length
    text = re.sub(r"(?m)^(\d{3}  .{8} .{5} )D (\d{3})    ", r"\1D    \2 ", text)
    events = max((int(line[:3]) for line in text.splitlines() if re.match(r"^\d{3}\s", line)), default=0)
    timecode = timeline.fps.timecode
    for track in audio_tracks:
        channel = "A2" if track.name.startswith("A2") else "A"  # the takes' own sound: audio channel 2
        for clip in track.find_clips():
            record = clip.range_in_parent()
            source = clip.source_range
            url = clip.media_reference.target_url
            reel = (re.sub(r"[^A-Za-z0-9]", "", Path(url).stem) or "AUDIO")[:8].upper()
            events += 1
            text += (f"{events:03d}  {reel:8} {channel:5} C        "
                     f"{timecode(source.start_time.to_frames())} {timecode(source.end_time_exclusive().to_frames())} "
                     f"{timecode(record.start_time.to_frames())} {timecode(record.end_time_exclusive().to_frames())}\n"
                     f"* FROM CLIP NAME:  {clip.name}\n* FROM CLIP: {url}\n")
    return text


def _build(context: ExportContext, media_url: MediaUrl) -> otio.schema.Timeline:
    return to_otio(context.timeline, context.sidecars(), media_url, context.slates())


def _writer(adapter: str) -> Callable[[ExportContext, Path], None]:
    def write(context: ExportContext, out: Path) -> None:
        import opentimelineio as otio

        built = _build(context, relative_to(out.parent))
        if adapter == "cmx_3600":
            out.write_text(edl_text(built, context.timeline), encoding="utf-8")
        else:
            otio.adapters.write_to_file(built, str(out), adapter_name=adapter)
    return write


PACKAGE_FILES = (("board.otio", "otio_json"), ("board.xml", "fcp_xml"), ("board.edl", "cmx_3600"))


def package_name(path: Path, root: Path) -> str:
    """Where a media file goes inside a package: ``media/`` + its place in the project (slates
    and a mixed scratch track, which live under exports/, go to media/slates and media/audio)."""
    relative = Path(os.path.relpath(path.resolve(), root.resolve())).as_posix()
    if relative.startswith("../"):
        raise ValueError(f"{path}: is not inside the project folder")
    if relative.startswith("exports/"):
        kind = "slates" if relative.startswith("exports/slates/") else "audio"
        return f"media/{kind}/{path.name}"
    return f"media/{relative}"


def write_package(context: ExportContext, out: Path) -> None:
    """One zip: board.otio, board.xml and board.edl at the top, every file they name under
    media/ (takes, slates, the scratch track), named relative to them, so it opens anywhere."""
    import opentimelineio as otio

    files: dict[str, Path] = {}

    def name(path: Path) -> str:
        inside = package_name(path, context.root)
        files[inside] = path
        return inside

    built = _build(context, name)
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for filename, adapter in PACKAGE_FILES:
            text = (edl_text(built, context.timeline) if adapter == "cmx_3600"
                    else otio.adapters.write_to_string(built, adapter_name=adapter))
            archive.writestr(filename, text)
        for position, (inside, path) in enumerate(sorted(files.items())):
            if context.cancel():
                from studio.timeline import ExportCancelled

                raise ExportCancelled("export cancelled")
            context.progress(position, len(files), f"packing {inside}")
            archive.write(path, inside, compress_type=zipfile.ZIP_STORED)


EXPORTERS = (
    Exporter("otio", "board.otio", _writer("otio_json"), "OpenTimelineIO timeline", rank=20),
    Exporter("edl", "board.edl", _writer("cmx_3600"), "CMX 3600 EDL", rank=30),
    Exporter("fcpxml", "board.xml", _writer("fcp_xml"), "Final Cut Pro 7 XML", rank=40),
    Exporter("package", "board-package.zip", write_package,
             "the edit (OTIO, FCP7 XML, EDL) with every media file it names, in one zip", rank=45),
)
