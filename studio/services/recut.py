"""Read back a cut an editor changed (OTIO, FCP7 XML or CMX 3600 EDL) and turn it into board
edits: trims, order, removed shots and transitions, shown as a reviewable list and applied as
ONE undoable edit (studio.services.edits.apply_change).

Rules it owns:
- a clip is matched to a shot by the metadata our export wrote (``metadata["previz"]["shot_id"]``,
  kept by OTIO), else by its clip name as our export writes it and the board numbers it now
  ("SHOT003 Title": number and title must both agree), else by its media (a take of the shot, or
  its slate clip ``slates/<id>.mp4``; OTIO's EDL reader can give a dissolve's incoming clip the
  outgoing clip's file, so the name goes first); a clip that matches no shot, or a shot a second
  time, is reported and left out, never guessed;
- time is read as our exports write it (studio.exporters.edit_otio): a clip's visible frames run
  from its source in, less the ``in_offset`` of a dissolve into it, to its source out, plus the
  ``out_offset`` of a dissolve out of it; a dissolve of ``in_offset + out_offset`` frames becomes
  a cross-dissolve of that length. So a re-cut that changed nothing gives no changes at all;
- dips to black or white, which these formats cannot carry, stay when the shot keeps its
  neighbour and the editor put no dissolve there; gaps and extra tracks are reported, not kept;
- a clip that would need frames before its take's first frame is a problem: the import is
  refused (the list says which clip) rather than shifted silently. A clip running past its
  take lengthens the shot (the export holds the take's last frame, and says so);
- the scratch track's offset is read back from the audio clip that names the scratch file (the
  EDL's audio event, whose record in OTIO's EDL reader loses, is read from the text) and listed as
  an "audio" change; a take's own sound follows its shot and is not read.
"""

from __future__ import annotations

import dataclasses
import re
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any

from studio.board import Board, Shot, Transition
from studio.scenes import shot_numbers
from studio.services import edits
from studio.storage import Project
from studio.timeline import shot_label

if TYPE_CHECKING:
    import opentimelineio as otio

MAX_EDIT_BYTES = 20 * 2**20
"""An edit file larger than this is not a timeline of a board."""
FORMATS = {".otio": "otio_json", ".xml": "fcp_xml", ".edl": "cmx_3600"}


class RecutError(ValueError):
    """The file cannot be read as a timeline, or its changes cannot be applied; says why."""


@dataclass(frozen=True)
class Change:
    """One line of the reviewable list."""

    kind: str
    """trim, extend, transition, remove, order."""
    shot_id: str
    text: str

    def to_json(self) -> dict[str, str]:
        return {"kind": self.kind, "shot_id": self.shot_id, "text": self.text}


@dataclass(frozen=True)
class Cut:
    """A kept shot as the re-cut has it."""

    shot_id: str
    trim_in: int
    length: int
    """Visible frames (the shot's edit duration)."""
    transition: Transition


@dataclass(frozen=True)
class RecutPlan:
    """What importing the file would do to the board at ``base_revision``."""

    name: str
    format: str
    base_revision: int
    cuts: tuple[Cut, ...]
    changes: tuple[Change, ...]
    unmatched: tuple[str, ...] = ()
    """Clips that match no shot (or a shot already used), described."""
    problems: tuple[str, ...] = ()
    """Why the plan cannot be applied; empty when it can."""
    warnings: tuple[str, ...] = ()
    matched_by: dict[str, str] = field(default_factory=dict)
    """Shot id -> how its clip was matched (metadata, media, name)."""
    audio_offset: int | None = None
    """The scratch track's new offset in frames, when the re-cut moved it."""

    def lines(self) -> list[str]:
        """The list as text, for --dry-run and the UI."""
        out = [f"{self.name} ({self.format}): {len(self.cuts)} clips matched, {len(self.changes)} change(s)"]
        out += [f"  {change.kind:<10} {change.text}" for change in self.changes]
        out += [f"  unmatched  {text}" for text in self.unmatched]
        out += [f"  problem    {text}" for text in self.problems]
        out += [f"  warning    {text}" for text in self.warnings]
        return out

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "format": self.format, "base_revision": self.base_revision,
                "changes": [change.to_json() for change in self.changes], "unmatched": list(self.unmatched),
                "problems": list(self.problems), "warnings": list(self.warnings),
                "order": [cut.shot_id for cut in self.cuts], "matched_by": dict(self.matched_by),
                "audio_offset": self.audio_offset}


@dataclass(frozen=True)
class RecutResult:
    plan: RecutPlan
    board: Board | None
    """The saved board; None for a dry run."""


# --------------------------------------------------------------------------------------------
# Reading


def read_edit(data: bytes, name: str, board: Board) -> tuple[otio.schema.Timeline, str]:
    """The file as an OTIO timeline, by its suffix; RecutError naming the file otherwise."""
    import opentimelineio as otio

    suffix = PurePosixPath(name.lower()).suffix
    if suffix not in FORMATS:
        raise RecutError(f"{name}: not an edit file; expected {', '.join(FORMATS)}")
    if len(data) > MAX_EDIT_BYTES:
        raise RecutError(f"{name}: larger than {MAX_EDIT_BYTES // 2**20} MB; not a timeline of a board")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("latin-1")
        except UnicodeDecodeError:
            raise RecutError(f"{name}: not a text file") from None
    if suffix == ".xml":
        import defusedxml.ElementTree as safe

        try:  # entities and external references refused before OTIO's parser sees the file
            safe.fromstring(text.encode("utf-8"))
        except Exception as error:  # noqa: BLE001 - any XML failure is the file's problem
            raise RecutError(f"{name}: not readable XML ({error})") from None
    options = {"rate": float(board.fps)} if suffix == ".edl" else {}
    try:
        timeline = otio.adapters.read_from_string(text, adapter_name=FORMATS[suffix], **options)
    except Exception as error:  # noqa: BLE001 - adapters raise many kinds; all mean "cannot read"
        raise RecutError(f"{name}: cannot be read as {FORMATS[suffix]} ({str(error)[:300]})") from None
    if not isinstance(timeline, otio.schema.Timeline):
        raise RecutError(f"{name}: holds no timeline")
    return timeline, FORMATS[suffix]


# --------------------------------------------------------------------------------------------
# Matching


@dataclass
class _Clip:
    position: int
    name: str
    url: str
    shot_id: str | None
    start: int
    duration: int
    record: int
    in_offset: int = 0
    in_length: int = 0
    out_offset: int = 0


def _frames(time: otio.opentime.RationalTime, rate: float) -> int:
    return int(round(time.value_rescaled_to(rate)))


def _clips(timeline: otio.schema.Timeline, rate: float, warnings: list[str]) -> list[_Clip]:
    import opentimelineio as otio

    tracks = timeline.video_tracks()
    if not tracks:
        raise RecutError("the file has no video track")
    if len(tracks) > 1:
        warnings.append(f"{len(tracks)} video tracks: only the first (V1) is read")
    clips: list[_Clip] = []
    pending: otio.schema.Transition | None = None
    record = 0
    for item in tracks[0]:
        if isinstance(item, otio.schema.Transition):
            pending = item
            continue
        if isinstance(item, otio.schema.Gap):
            length = _frames(item.duration(), rate)
            if length:
                warnings.append(f"a gap of {length} frames at {record} is not kept (a board has no gaps)")
            record += length
            pending = None
            continue
        if not isinstance(item, otio.schema.Clip):
            warnings.append(f"{type(item).__name__} {item.name!r} is not read (only clips and dissolves are)")
            continue
        source = item.source_range or item.available_range()
        reference = item.media_reference
        url = getattr(reference, "target_url", "") or ""
        previz = item.metadata.get("previz") if hasattr(item.metadata, "get") else None
        shot_id = previz.get("shot_id") if hasattr(previz, "get") else None
        clip = _Clip(position=len(clips) + 1, name=(item.name or "").strip(), url=str(url),
                     shot_id=shot_id if isinstance(shot_id, str) else None,
                     start=_frames(source.start_time, rate), duration=_frames(source.duration, rate), record=record)
        if pending is not None:
            clip.in_offset = _frames(pending.in_offset, rate)
            clip.in_length = clip.in_offset + _frames(pending.out_offset, rate)
            if clips:
                clips[-1].out_offset = _frames(pending.out_offset, rate)
        pending = None
        record += clip.duration
        clips.append(clip)
    if not clips:
        raise RecutError("the video track holds no clips")
    return clips


def _by_media(board: Board, url: str) -> str | None:
    if not url:
        return None
    path = url.split("://", 1)[-1].replace("\\", "/")
    parts = PurePosixPath(path).parts
    for shot in board.shots:
        for take in shot.takes:
            tail = PurePosixPath(take.path).parts
            if tuple(parts[-len(tail):]) == tail:
                return shot.id
    if len(parts) >= 2 and parts[-2] == "slates":
        stem = PurePosixPath(parts[-1]).stem
        if any(shot.id == stem for shot in board.shots):
            return stem
    return None


def _match(board: Board, clip: _Clip, by_name: dict[str, str]) -> tuple[str | None, str]:
    ids = {shot.id for shot in board.shots}
    if clip.shot_id in ids:
        return clip.shot_id, "metadata"
    name = re.sub(r"\s+", " ", clip.name).casefold()
    if name in by_name:
        return by_name[name], "name"
    found = _by_media(board, clip.url)
    if found:
        return found, "media"
    return None, ""


# --------------------------------------------------------------------------------------------
# Planning and applying


def plan_recut(board: Board, timeline: otio.schema.Timeline, name: str, fmt: str,
               scratch: tuple[int | None, tuple[str, ...]] = (None, ())) -> RecutPlan:
    """The changes the re-cut makes to ``board`` (nothing is written); ``scratch`` is the scratch
    track's offset the file gives (read_scratch_offset) and what could not be read of it."""
    rate = float(board.fps)
    warnings: list[str] = []
    clips = _clips(timeline, rate, warnings)
    numbers = dict(zip((s.id for s in board.shots), shot_numbers(board)))
    label = {shot.id: shot_label(numbers[shot.id], shot.title, "message", shot.id) for shot in board.shots}
    by_name = {re.sub(r"\s+", " ", shot_label(numbers[s.id], s.title, "clip")).casefold(): s.id for s in board.shots}
    cuts: list[Cut] = []
    unmatched: list[str] = []
    problems: list[str] = []
    matched_by: dict[str, str] = {}
    for clip in clips:
        described = f"clip {clip.position} '{clip.name}'" + (f" ({clip.url})" if clip.url else "")
        shot_id, how = _match(board, clip, by_name)
        if shot_id is None:
            unmatched.append(f"{described}: matches no shot of the board; left out")
            continue
        if shot_id in matched_by:
            unmatched.append(f"{described}: {label[shot_id]} is already in the cut; a board holds each shot once")
            continue
        matched_by[shot_id] = how
        trim_in = clip.start - clip.in_offset
        length = clip.duration + clip.in_offset + clip.out_offset
        if trim_in < 0:
            problems.append(f"{described} ({label[shot_id]}): starts {-trim_in} frame(s) before its take's first "
                            "frame; give it a later source in (or a shorter dissolve in)")
        if length < 1:
            problems.append(f"{described} ({label[shot_id]}): has no frames")
        transition = (Transition("cross_dissolve", clip.in_length) if clip.in_length else Transition())
        cuts.append(Cut(shot_id, trim_in, length, transition))
    if not cuts:
        raise RecutError(f"{name}: no clip matches a shot of this board (is it the right project?)")
    cuts = _keep_dips(board, cuts)
    changes = _changes(board, cuts, label, numbers)
    offset, notes = scratch
    warnings.extend(notes)
    if offset is not None and board.audio is not None and offset != board.audio.offset:
        changes.append(Change("audio", "", f"scratch audio: offset {board.audio.offset} → {offset} frames"))
    else:
        offset = None
    return RecutPlan(name=name, format=fmt, base_revision=board.revision, cuts=tuple(cuts), changes=tuple(changes),
                     unmatched=tuple(unmatched), problems=tuple(problems), warnings=tuple(warnings),
                     matched_by=matched_by, audio_offset=offset)


_EDL_AUDIO = re.compile(r"(?m)^\d{3}\s+\S+\s+A\S*\s+C\s+(\S+)\s+(\S+)\s+(\S+)\s+(\S+)\s*\n"
                        r"(?:\*[^\n]*\n)*?\* FROM CLIP:\s*(\S[^\n]*)")


def read_scratch_offset(board: Board, timeline: otio.schema.Timeline, text: str,
                        fmt: str) -> tuple[int | None, tuple[str, ...]]:
    """Where the re-cut puts the board's scratch track (its record start, in frames), read from
    the clip that names the scratch file (or the export's "scratch audio" clip); None when the
    file has no such clip. An audio clip moved to start inside the file (slipped) cannot be an
    offset: it is reported, not guessed. Other audio (a take's own sound) follows its shot."""
    if board.audio is None:
        return None, ()
    stem = PurePosixPath(board.audio.path).name
    if fmt == "cmx_3600":  # OTIO's EDL reader drops the gap before the first audio event
        for match in _EDL_AUDIO.finditer(text):
            if PurePosixPath(match.group(5).strip()).name == stem:
                source, record = (_timecode(match.group(i), board) for i in (1, 3))
                return _offset(record, source)
        return None, ()
    rate = float(board.fps)
    for track in timeline.audio_tracks():
        for clip in track.find_clips():
            url = str(getattr(clip.media_reference, "target_url", "") or "")
            previz = (clip.metadata.get("previz") or {}) if hasattr(clip.metadata, "get") else {}
            if previz.get("audio_path") == board.audio.path or clip.name == "scratch audio" \
                    or PurePosixPath(url.replace("\\", "/")).name == stem:
                record = _frames(clip.range_in_parent().start_time, rate)
                return _offset(record, _frames(clip.source_range.start_time, rate) if clip.source_range else 0)
    return None, ()


def _offset(record: int, source: int) -> tuple[int | None, tuple[str, ...]]:
    if source:
        return None, (f"scratch audio: the editor slipped it to start {source} frame(s) into the file; "
                      "a board's scratch track starts at its first sample, so its offset is left as it is",)
    return record, ()


def _timecode(text: str, board: Board) -> int:
    """Non-drop timecode HH:MM:SS:FF at the board's rate (rounded to a whole frame base) in frames."""
    try:
        hours, minutes, seconds, frames = (int(part) for part in re.split(r"[:;.]", text))
    except ValueError:
        raise RecutError(f"{text!r}: not a timecode HH:MM:SS:FF") from None
    base = max(1, round(float(board.fps)))
    return ((hours * 60 + minutes) * 60 + seconds) * base + frames


def _keep_dips(board: Board, cuts: list[Cut]) -> list[Cut]:
    """A dip stays where the editor left a cut and the shot kept its neighbour (see the module)."""
    order = [shot.id for shot in board.shots]
    kept: list[Cut] = []
    for index, cut in enumerate(cuts):
        shot = board.shot(cut.shot_id)
        before = order[order.index(cut.shot_id) - 1] if order.index(cut.shot_id) > 0 else None
        now = cuts[index - 1].shot_id if index > 0 else None
        if shot.transition.kind.startswith("dip_") and cut.transition.kind == "cut" and before == now:
            cut = Cut(cut.shot_id, cut.trim_in, cut.length, shot.transition)
        kept.append(cut)
    return kept


def _describe(transition: Transition) -> str:
    return "cut" if transition.kind == "cut" else f"{transition.kind.replace('_', ' ')} {transition.length}"


def _changes(board: Board, cuts: list[Cut], label: dict[str, str], numbers: dict[str, str]) -> list[Change]:
    changes: list[Change] = []
    for cut in cuts:
        shot = board.shot(cut.shot_id)
        trim_out = shot.duration - cut.trim_in - cut.length
        if (cut.trim_in, trim_out) != (shot.trim_in, shot.trim_out):
            if trim_out < 0:
                changes.append(Change("extend", shot.id, f"{label[shot.id]}: runs to frame {cut.trim_in + cut.length} of "
                                      f"a {shot.duration}-frame shot; lengthened (the take's last frame is held)"))
            else:
                changes.append(Change("trim", shot.id, f"{label[shot.id]}: in {shot.trim_in} → {cut.trim_in}, "
                                      f"out {shot.trim_out} → {trim_out} ({shot.edit_duration} → {cut.length} frames)"))
        if cut.transition != shot.transition:
            changes.append(Change("transition", shot.id, f"{label[shot.id]}: {_describe(shot.transition)} → "
                                  f"{_describe(cut.transition)}"))
    kept = {cut.shot_id for cut in cuts}
    for shot in board.shots:
        if shot.id not in kept:
            changes.append(Change("remove", shot.id, f"{label[shot.id]}: not in the re-cut; removed (undo brings it back)"))
    old = [shot.id for shot in board.shots if shot.id in kept]
    new = [cut.shot_id for cut in cuts]
    if old != new:
        changes.append(Change("order", "", "shots in the order " + ", ".join(numbers[sid] for sid in new)
                              + " (numbers as the board has them now)"))
    return changes


def apply_plan(board: Board, plan: RecutPlan) -> Board:
    """The board with the plan's cut: the kept shots in its order, trimmed and joined as it says."""
    if plan.problems:
        raise RecutError("the re-cut cannot be applied: " + "; ".join(plan.problems))
    shots: list[Shot] = []
    for cut in plan.cuts:
        shot = board.shot(cut.shot_id)
        duration = max(shot.duration, cut.trim_in + cut.length)
        shots.append(shot.replace(duration=duration, trim_in=cut.trim_in,
                                  trim_out=duration - cut.trim_in - cut.length, transition=cut.transition))
    if plan.audio_offset is not None and board.audio is not None:
        return board.replace(shots=tuple(shots), audio=dataclasses.replace(board.audio, offset=plan.audio_offset))
    return board.replace(shots=tuple(shots))


def import_edit(project: Project, data: bytes, name: str, actor: str = "", dry_run: bool = False,
                base_revision: int | None = None) -> RecutResult:
    """Plan (and unless ``dry_run``, apply as one undoable edit) the re-cut in ``data``.

    ``base_revision``: the revision the person reviewed the list at; if the board changed since
    and the list would now differ, the import is refused with EditConflict (nothing changes).
    """
    board = project.load()
    timeline, fmt = read_edit(data, name, board)
    text = data.decode("utf-8-sig", errors="replace")
    plan = plan_recut(board, timeline, name, fmt, read_scratch_offset(board, timeline, text, fmt))
    if dry_run:
        return RecutResult(plan, None)
    applied: list[RecutPlan] = []

    def change(current: Board) -> Board:
        now = (plan_recut(current, timeline, name, fmt, read_scratch_offset(current, timeline, text, fmt))
               if current.revision != plan.base_revision else plan)
        reviewed = base_revision is not None and base_revision != current.revision
        if reviewed and now.to_json() | {"base_revision": 0} != plan.to_json() | {"base_revision": 0}:
            raise edits.EditConflict([], f"the board changed since revision {base_revision}; review the re-cut again",
                                     revision=current.revision)
        applied.append(now)
        return apply_plan(current, now)

    saved = edits.apply_change(project, change, actor, f"import edit {name}")
    return RecutResult(applied[-1], saved)
