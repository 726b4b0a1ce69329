"""Render a shot (or a whole board) into takes: the one render path of the UI, CLI and API.

1. read the board and resolve the shot's inputs (keyframes decoded, continuity frame, seed);
2. run the backend with progress and cancel;
3. write the take's video and its JSON sidecar (everything that made it);
4. attach the take to the shot with Project.update, so edits made meanwhile are kept.

A failure or a cancel at any step leaves the board untouched and no files behind.
"""

from __future__ import annotations

import datetime as _dt
import platform
import threading
import time
from typing import Any

from studio.backends import BackendCache
from studio.backends.base import (
    Clip,
    GenerationCancelled,
    GenerationError,
    KeyframeImage,
    ShotRequest,
    library_versions,
)
from studio.board import Board, BoardError, Shot, Take, check_seed, new_id, random_seed
from studio.board_codec import shot_to_dict
from studio.camera import framing_prompt
from studio.common import Progress, no_progress, shown, write_json_atomic
from studio.media import MediaError, read_last_frame, write_video
from studio.storage import Project
from studio.timeline import shot_label

RECORDED_LIBRARIES = (
    "previz-studio", "numpy", "opencv-python-headless", "pillow", "torch", "diffusers", "transformers",
    "huggingface-hub",
)


def build_request(project: Project, board: Board, shot: Shot, seed: int, options: dict[str, Any] | None = None,
                  model: str | None = None) -> ShotRequest:
    """Everything the backend needs, with files already decoded (images refused here, clearly)."""
    from studio.images import ImageError, load_rgb  # local: Pillow only when rendering

    index = board.index_of(shot.id)
    name = shot_label(index + 1, form="message", shot_id=shot.id)  # no title: errors stay short
    keyframes = []
    for keyframe in shot.keyframes:
        frame = {"first": 0, "last": shot.duration - 1}.get(keyframe.role, keyframe.frame)
        try:
            image = load_rgb(project.resolve(keyframe.path))
        except (ImageError, OSError) as error:
            raise GenerationError(f"{name}: {keyframe.role} keyframe {keyframe.path}: {error}") from None
        keyframes.append(KeyframeImage(role=keyframe.role, frame=frame, image=image))
    previous_last_frame = None
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
    return ShotRequest(
        shot_id=shot.id,
        shot_number=index + 1,
        prompt=shot.prompt,
        negative_prompt=shot.negative_prompt,
        num_frames=shot.duration,
        width=board.width,
        height=board.height,
        fps=board.fps,
        seed=seed,
        camera=shot.camera,
        keyframes=tuple(keyframes),
        previous_last_frame=previous_last_frame,
        title=shot.title,
        framing=framing_prompt(shot.shot_size, shot.angle, shot.lens_mm),
        model=model,
        options=dict(options or {}),
    )


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
) -> Take:
    """Generate one take of a shot and attach it (chosen unless ``choose`` is False).

    ``backend`` defaults to the shot's, then the board's; ``settings`` build the backend (model,
    device, memory profile); ``options`` go to this generation only (steps, strength, fit).
    """
    progress = progress or no_progress
    cancel = cancel or threading.Event()
    backends = backends or BackendCache()

    # 1. inputs
    board = project.load()
    try:
        shot = board.shot(shot_id)
    except BoardError as error:
        raise GenerationError(str(error)) from None
    backend_name = backend or board.backend_for(shot)
    settings = {"model": board.default_model, "memory_profile": board.memory_profile} | dict(settings or {})
    settings = {key: value for key, value in settings.items() if value is not None}
    take_seed = choose_seed(shot, seed)
    request = build_request(project, board, shot, take_seed, options, settings.get("model"))

    # 2. generate
    started = time.perf_counter()
    generator = backends.get(backend_name, **settings)
    clip = generator.generate(request, progress, cancel)
    elapsed = time.perf_counter() - started
    expected = (request.num_frames, request.height, request.width, 3)
    if clip.frames.shape != expected:
        raise GenerationError(
            f"backend {backend_name!r} returned frames shaped {clip.frames.shape}, expected {expected}"
        )
    if cancel.is_set():
        raise GenerationCancelled(f"shot {shot_id}: cancelled; nothing was attached")

    # 3. files
    take_id = new_id("tk_")
    take = Take(
        id=take_id,
        path=f"takes/{shot.id}/{take_id}.mp4",
        seed=take_seed,
        backend=backend_name,
        model=settings.get("model"),
        frames=clip.frames.shape[0],
        created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    )
    video_path = project.resolve(take.path)
    sidecar_path = project.resolve(take.sidecar_path)
    try:
        write_video(video_path, clip.frames, board.fps)
        write_json_atomic(sidecar_path, take_record(take, shot, request, clip, settings, elapsed))
        # 4. attach
        project.update(lambda current: current.with_shot(current.shot(shot_id).with_take(take, choose)),
                       label=f"take {take_id} landed", undoable=False)
    except BaseException as error:
        video_path.unlink(missing_ok=True)
        sidecar_path.unlink(missing_ok=True)
        if isinstance(error, BoardError):
            raise GenerationError(f"shot {shot_id} changed while rendering and the take was dropped: {error}") from None
        raise
    return take


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
) -> list[Take]:
    """Render shots in board order (so continuity sees its predecessor's new take).

    ``only_missing`` skips shots that already have a chosen take. Stops at the first error,
    keeping the takes already made.
    """
    progress = progress or no_progress
    cancel = cancel or threading.Event()
    backends = backends or BackendCache()
    board = project.load()
    wanted = set(shot_ids) if shot_ids is not None else None
    if wanted is not None:
        unknown = wanted - {shot.id for shot in board.shots}
        if unknown:
            raise GenerationError(f"no such shot id(s): {shown(', '.join(sorted(map(str, unknown))), plain=True)}")
    todo = [
        shot.id for shot in board.shots
        if (wanted is None or shot.id in wanted) and not (only_missing and shot.chosen_take)
    ]
    takes: list[Take] = []
    scale = 1000
    for position, shot_id in enumerate(todo):
        def shot_progress(done: int, total: int, message: str, position: int = position) -> None:
            fraction = done / total if total else 1.0
            progress(position * scale + int(scale * fraction), len(todo) * scale,
                     f"shot {position + 1}/{len(todo)}: {message}")

        takes.append(render_shot(
            project, shot_id, backend=backend, settings=settings, options=options,
            progress=shot_progress, cancel=cancel, backends=backends,
        ))
    progress(len(todo) * scale, len(todo) * scale, f"rendered {len(takes)} shot(s)")
    return takes


def take_record(take: Take, shot: Shot, request: ShotRequest, clip: Clip, settings: dict[str, Any],
                elapsed: float) -> dict[str, Any]:
    """The sidecar: enough to know exactly what made a take, and to make it again."""
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
        "generation": clip.metadata,
        "elapsed_seconds": round(elapsed, 3),
        "libraries": library_versions(RECORDED_LIBRARIES),
        "python": platform.python_version(),
    }
