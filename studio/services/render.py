"""Render a shot (or a whole board) into takes: the one render path of the UI, CLI and API.

1. read the board and resolve the shot's inputs (keyframes decoded, continuity frame, seed);
2. run the backend with progress and cancel;
3. write the take's video and its JSON sidecar (everything that made it);
4. attach the take to the shot with Project.update, so edits made meanwhile are kept.

A failure or a cancel at any step leaves the board untouched and no files behind.
"""

from __future__ import annotations

import datetime as _dt
import json
import platform
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.backends import BackendCache
from studio.backends.base import (
    Continuation,
    GenerationCancelled,
    GenerationError,
    KeyframeImage,
    LayerImage,
    ClipAudio,
    ShotRequest,
    library_versions,
)
from studio.board import Board, BoardError, Panel, Shot, Take, check_seed, new_id, random_seed
from studio.board_codec import panel_from_dict, panel_to_dict, shot_to_dict
from studio.camera import framing_prompt
from studio.common import Progress, no_progress, shown, write_json_atomic
from studio.media import (
    TAKE_AUDIO_ENCODING,
    TAKE_AUDIO_RATE,
    MediaError,
    SoundInput,
    read_last_frame,
    take_encoding,
    write_video,
    write_video_stream,
)
from studio.services.cast import shot_loras, shot_references, woven_prompt
from studio.services.fields import FieldError
from studio.services.panels import PanelError, load_layers
from studio.services.quality import apply_quality, needs_render
from studio.storage import Project, ProjectError
from studio.timeline import shot_label

RECORDED_LIBRARIES = (
    "previz-studio", "numpy", "opencv-python-headless", "pillow", "torch", "diffusers", "transformers",
    "huggingface-hub",
)


def build_request(project: Project, board: Board, shot: Shot, seed: int, options: dict[str, Any] | None = None,
                  model: str | None = None) -> ShotRequest:
    """Everything the backend needs, with files already decoded (images refused here, clearly)."""
    from studio.images import ImageError  # local: Pillow only when rendering

    index = board.index_of(shot.id)
    name = shot_label(index + 1, form="message", shot_id=shot.id)  # no title: errors stay short
    keyframes = []
    for keyframe in shot.keyframes:
        frame = {"first": 0, "last": shot.duration - 1}.get(keyframe.role, keyframe.frame)
        panel = shot.panel_of(keyframe)
        try:
            keyframes.append(plate(project, keyframe.role, frame, keyframe.path, panel))
        except (ImageError, OSError, PanelError) as error:
            raise GenerationError(f"{name}: {keyframe.role} keyframe {keyframe.path}: {error}") from None
    previous_last_frame = continuation = None
    if shot.continuity and index > 0:
        previous = board.shots[index - 1]
        take = previous.chosen()
        if take is None:
            raise GenerationError(
                f"{name} continues from {shot_label(index, form='message', shot_id=previous.id)}, which has "
                "no chosen take yet: render that shot first, or turn continuity off"
            )
        try:
            previous_last_frame = read_last_frame(project.resolve(take.path))
        except MediaError as error:
            raise GenerationError(f"{name}: cannot read the previous shot's take: {error}") from None
        continuation = continue_camera(project, take)
    return ShotRequest(
        shot_id=shot.id,
        shot_number=index + 1,
        prompt=woven_prompt(board, shot),
        negative_prompt=shot.negative_prompt,
        num_frames=shot.duration,
        width=board.width,
        height=board.height,
        fps=board.fps,
        seed=seed,
        camera=shot.camera,
        keyframes=tuple(keyframes),
        previous_last_frame=previous_last_frame,
        continuation=continuation,
        title=shot.title,
        framing=framing_prompt(shot.shot_size, shot.angle, shot.lens_mm),
        model=model,
        options=dict(options or {}),
        references=cast_references(project, board, shot, name),
        loras=shot_loras(board, shot),
    )


def cast_references(project: Project, board: Board, shot: Shot, name: str) -> tuple[Any, ...]:
    """The reference pictures of the shot's cast and location (refused clearly when broken)."""
    try:
        return shot_references(project, board, shot)[1]
    except FieldError as error:
        raise GenerationError(f"{name}: {error}") from None


def plate(project: Project, role: str, frame: int, path: str, panel: Panel | None) -> KeyframeImage:
    """A keyframe decoded for a backend: the picture, and a drawn panel's visible layers (the
    animatic films each at its depth). ``source`` records the paths, for a continuity shot."""
    from studio.images import load_rgb  # local: Pillow only when rendering

    image = load_rgb(project.resolve(path))
    if panel is None:
        return KeyframeImage(role=role, frame=frame, image=image, source={"path": path})
    layers = tuple(LayerImage(pixels.name, pixels.rgba, pixels.depth, pixels.opacity)
                   for pixels in load_layers(project, panel) if pixels.visible)
    if layers and layers[0].rgba.shape[:2] != image.shape[:2]:
        raise PanelError(f"the flattened panel is {image.shape[1]}x{image.shape[0]} but its layers are "
                         f"{layers[0].rgba.shape[1]}x{layers[0].rgba.shape[0]}")
    return KeyframeImage(role=role, frame=frame, image=image, layers=layers,
                         source={"path": path, "panel": panel_to_dict(panel)})


def continue_camera(project: Project, take: Take) -> Continuation | None:
    """The previous take's animatic camera at its end and the plate it filmed there, from its
    sidecar; None when it was not an animatic of a picture (a model, a slate) or its files are
    gone: the continuity shot then starts from the take's last frame itself."""
    from studio.images import ImageError

    try:
        record = json.loads(project.resolve(take.sidecar_path).read_text(encoding="utf-8"))
        generation = record["generation"]
        end = generation["end"]
        if generation.get("backend") != "animatic" or not isinstance(end.get("plate"), dict):
            return None
        source = end["plate"]
        panel = panel_from_dict(source["panel"]) if "panel" in source else None
        picture = plate(project, "first", 0, source["path"], panel)
        return Continuation(pose=tuple(float(v) for v in end["pose"]),
                            overscan=tuple(float(v) for v in end["overscan"]),  # type: ignore[arg-type]
                            plate=picture, fit=str(end.get("fit", "cover")))
    except (OSError, ValueError, KeyError, TypeError, ImageError, BoardError, ProjectError):
        return None


def choose_seed(shot: Shot, seed: int | None) -> int:
    """An explicit seed wins; a locked shot uses its own; otherwise a fresh random one."""
    if seed is not None:
        try:
            return check_seed("seed", seed)
        except BoardError as error:
            raise GenerationError(f"seed {error.problem}, got {shown(seed)}") from None
    return shot.seed if shot.seed_locked else random_seed()


def render_shot(
    project: Project,
    shot_id: str,
    *,
    backend: str | None = None,
    settings: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    seed: int | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    choose: bool = True,
    backends: BackendCache | None = None,
    quality: str | None = None,
) -> Take:
    """Generate one take of a shot and attach it (chosen unless ``choose`` is False).

    ``backend`` defaults to the shot's, then the board's; ``settings`` build the backend (model,
    device, memory profile); ``options`` go to this generation only (steps, strength, fit).
    ``quality`` (draft / final) defaults to the shot's, then the board's (services/quality.py):
    a final render of a chosen draft re-renders it with its seed and conditioning.
    """
    progress = progress or no_progress
    cancel = cancel or threading.Event()
    backends = backends or BackendCache()

    # 1. inputs
    plan = plan_render(project, shot_id, backend=backend, settings=settings, options=options, seed=seed,
                       quality=quality)
    request = plan.request

    # 2. generate (a backend that streams hands each frame to the encoder as it is made)
    started = time.perf_counter()
    generator = backends.get(plan.backend, **plan.settings)
    take = plan.take(new_id("tk_"))
    video_path = project.resolve(take.path)
    sidecar_path = project.resolve(take.sidecar_path)
    try:
        # 3. files
        metadata, sound_record = encode_take(generator, plan.backend, request, video_path, progress, cancel)
        if cancel.is_set():
            raise GenerationCancelled(f"shot {shot_id}: cancelled; nothing was attached")
        elapsed = time.perf_counter() - started
        write_json_atomic(sidecar_path, plan.record(take, metadata, plan.settings, elapsed, sound_record))
        # 4. attach
        project.update(lambda current: current.with_shot(current.shot(shot_id).with_take(take, choose)),
                       label=f"take {take.id} landed", undoable=False)
    except BaseException as error:
        video_path.unlink(missing_ok=True)
        sidecar_path.unlink(missing_ok=True)
        if isinstance(error, BoardError):
            raise GenerationError(f"shot {shot_id} changed while rendering and the take was dropped: {error}") from None
        raise
    return take


@dataclass(frozen=True)
class RenderPlan:
    """Step 1 of a render, resolved: the shot as it will be made, the backend and its settings,
    the request, and the quality job (shared with the render farm, which runs step 3 elsewhere)."""

    board: Board
    shot: Shot
    backend: str
    settings: dict[str, Any]
    request: ShotRequest
    quality: Any
    """services.quality.QualityJob: the quality level and what the sidecar says about it."""

    def take(self, take_id: str) -> Take:
        """The take this render makes, under ``take_id``."""
        return Take(
            id=take_id,
            path=f"takes/{self.shot.id}/{take_id}.mp4",
            seed=self.request.seed,
            backend=self.backend,
            model=self.settings.get("model"),
            frames=self.request.num_frames,
            created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
            quality=self.quality.quality,
        )

    def record(self, take: Take, metadata: dict[str, Any], settings: dict[str, Any], elapsed: float,
               sound: dict[str, Any] | None) -> dict[str, Any]:
        """The take's sidecar (``settings`` as used: a farm retry may have changed the memory profile)."""
        return take_record(take, self.shot, self.request, metadata, settings, elapsed, audio=sound) | {
            "quality": self.quality.record}


def plan_render(project: Project, shot_id: str, *, backend: str | None = None,
                settings: dict[str, Any] | None = None, options: dict[str, Any] | None = None,
                seed: int | None = None, quality: str | None = None) -> RenderPlan:
    """Read the board and resolve one render (backend, settings, quality, seed, the request)."""
    board = project.load()
    try:
        shot = board.shot(shot_id)
    except BoardError as error:
        raise GenerationError(str(error)) from None
    backend_name = backend or board.backend_for(shot)
    settings = {"model": board.default_model, "memory_profile": board.memory_profile} | dict(settings or {})
    settings = {key: value for key, value in settings.items() if value is not None}
    job = apply_quality(project, board, shot, quality, backend_name, settings, dict(options or {}), seed)
    take_seed = choose_seed(job.shot, job.seed)
    request = build_request(project, board, job.shot, take_seed, job.options, job.settings.get("model"))
    return RenderPlan(board=board, shot=job.shot, backend=job.backend, settings=job.settings, request=request,
                      quality=job)


def encode_take(generator: Any, backend_name: str, request: ShotRequest, video_path: Path, progress: Progress,
                cancel: threading.Event) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Step 3: the backend's frames (and sound) into the take's video; returns the backend's
    metadata and the sound's record. Raises GenerationCancelled when cancelled."""
    expected = (request.num_frames, request.height, request.width, 3)
    if hasattr(generator, "stream"):
        stream = generator.stream(request, progress, cancel, pixel_format="yuv420p")
        written = write_video_stream(video_path, stream.frames, request.width, request.height, request.fps,
                                     take_encoding(request.num_frames), pixel_format=stream.pixel_format)
        if written != request.num_frames:
            raise GenerationError(f"backend {backend_name!r} made {written} frames, expected {request.num_frames}")
        return stream.metadata, None
    clip = generator.generate(request, progress, cancel)
    if clip.frames.shape != expected:
        raise GenerationError(
            f"backend {backend_name!r} returned frames shaped {clip.frames.shape}, expected {expected}"
        )
    if cancel.is_set():
        raise GenerationCancelled(f"shot {request.shot_id}: cancelled; nothing was attached")
    sound = None if clip.audio is None else SoundInput(clip.audio.samples, clip.audio.rate)
    write_video(video_path, clip.frames, request.fps, audio=sound)
    return clip.metadata, audio_record(clip.audio)


def render_board(
    project: Project,
    *,
    shot_ids: list[str] | None = None,
    only_missing: bool = True,
    backend: str | None = None,
    settings: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    progress: Progress | None = None,
    cancel: threading.Event | None = None,
    backends: BackendCache | None = None,
    quality: str | None = None,
) -> list[Take]:
    """Render shots in board order (so continuity sees its predecessor's new take).

    ``only_missing`` skips shots that already have a chosen take (at final quality, one that is
    not a draft). Stops at the first error, keeping the takes already made.
    """
    progress = progress or no_progress
    cancel = cancel or threading.Event()
    backends = backends or BackendCache()
    todo = shots_to_render(project.load(), shot_ids, only_missing, quality)
    takes: list[Take] = []
    scale = 1000
    for position, shot_id in enumerate(todo):
        def shot_progress(done: int, total: int, message: str, position: int = position) -> None:
            fraction = done / total if total else 1.0
            progress(position * scale + int(scale * fraction), len(todo) * scale,
                     f"shot {position + 1}/{len(todo)}: {message}")

        takes.append(render_shot(
            project, shot_id, backend=backend, settings=settings, options=options,
            progress=shot_progress, cancel=cancel, backends=backends, quality=quality,
        ))
    progress(len(todo) * scale, len(todo) * scale, f"rendered {len(takes)} shot(s)")
    return takes


def shots_to_render(board: Board, shot_ids: list[str] | None, only_missing: bool, quality: str | None) -> list[str]:
    """The ids a board render makes, in board order: the named ones (all when None), less those
    with a chosen take when ``only_missing`` (at final quality, a draft still counts as missing)."""
    wanted = set(shot_ids) if shot_ids is not None else None
    if wanted is not None:
        unknown = wanted - {shot.id for shot in board.shots}
        if unknown:
            raise GenerationError(f"no such shot id(s): {shown(', '.join(sorted(map(str, unknown))), plain=True)}")
    return [shot.id for shot in board.shots
            if (wanted is None or shot.id in wanted) and not (only_missing and not needs_render(board, shot, quality))]


def take_record(take: Take, shot: Shot, request: ShotRequest, metadata: dict[str, Any], settings: dict[str, Any],
                elapsed: float, audio: dict[str, Any] | None = None) -> dict[str, Any]:
    """The sidecar: enough to know exactly what made a take, and to make it again. ``audio``
    (audio_record) says whether the take's MP4 carries the model's sound."""
    card = shot_to_dict(shot)
    return {
        "take": take.id,
        "shot": shot.id,
        "created": take.created,
        "backend": take.backend,
        "model": take.model,
        "seed": take.seed,
        "prompt": shot.prompt,
        "negative_prompt": shot.negative_prompt,
        "camera": card["camera"],
        "frames": request.num_frames,
        "width": request.width,
        "height": request.height,
        "fps": str(request.fps),
        "keyframes": card["keyframes"],
        "continuity": shot.continuity,
        "settings": settings,
        "options": request.options,
        "loras": [lora.record() for lora in request.loras],
        "references": len(request.references),
        "panels": card["panels"],
        "generation": metadata,
        "audio": audio,
        "elapsed_seconds": round(elapsed, 3),
        "libraries": library_versions(RECORDED_LIBRARIES),
        "python": platform.python_version(),
    }


def audio_record(audio: ClipAudio | None) -> dict[str, Any] | None:
    """What the sidecar says about a take's own sound: None for a silent take (the timeline then
    lays nothing under it), else the AAC track written into the take's MP4 and what the model gave."""
    if audio is None:
        return None
    return {
        "codec": TAKE_AUDIO_ENCODING[1], "rate": TAKE_AUDIO_RATE, "channels": int(audio.samples.shape[0]),
        "seconds": round(audio.seconds, 6), "model_rate": audio.rate, "stream": 1,
    }
