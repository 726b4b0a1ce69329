"""The render service: shot -> take files + sidecar + board edit, and nothing on failure."""

from __future__ import annotations

import json
import threading
from typing import Any, Callable

import numpy as np
import pytest

from studio.backends import BackendCache
from studio.backends.base import Clip, GenerationCancelled, GenerationError, ShotRequest
from studio.board import Keyframe
from studio.media import probe_stream, read_video
from studio.services.render import render_board, render_shot
from studio.storage import Project


class FakeBackend:
    """Records requests; ``behaviour`` decides what generate does."""

    name = "fake"

    def __init__(self, behaviour: Callable[[ShotRequest, threading.Event], Clip] | None = None) -> None:
        self.requests: list[ShotRequest] = []
        self.behaviour = behaviour or self.solid_colour

    @staticmethod
    def solid_colour(request: ShotRequest, cancel: threading.Event) -> Clip:
        frames = np.full((request.num_frames, request.height, request.width, 3), request.seed % 256, np.uint8)
        return Clip(frames, request.fps, {"made_by": "fake"})

    def generate(self, request: ShotRequest, progress: Any, cancel: threading.Event) -> Clip:
        self.requests.append(request)
        progress(1, 1, "done")
        return self.behaviour(request, cancel)


class FakeCache(BackendCache):
    def __init__(self, backend: FakeBackend) -> None:
        super().__init__()
        self.backend = backend

    def get(self, name: str, **settings: Any) -> FakeBackend:  # type: ignore[override]
        return self.backend


def files_under(project: Project) -> set[str]:
    return {project.relative(p) for p in project.takes_dir.rglob("*") if p.is_file()}


def test_render_board_makes_one_playable_take_per_shot(small_project: Project) -> None:
    takes = render_board(small_project)
    board = small_project.load()
    assert len(takes) == len(board.shots)
    for shot, take in zip(board.shots, takes):
        assert shot.chosen_take == take.id and shot.seed == take.seed
        info = probe_stream(small_project.resolve(take.path))
        assert (info.frames, info.width, info.height) == (shot.duration, board.width, board.height)
        sidecar = json.loads(small_project.resolve(take.sidecar_path).read_text())
        assert sidecar["seed"] == shot.seed and sidecar["backend"] == "animatic"
        assert sidecar["frames"] == shot.duration and "numpy" in sidecar["libraries"]
        assert sidecar["camera"][0]["move"] == shot.camera[0].move
    assert render_board(small_project) == [], "only shots without a take are rendered by default"


def test_same_seed_gives_the_same_frames(small_project: Project) -> None:
    first = render_shot(small_project, "s1", seed=42)
    second = render_shot(small_project, "s1", seed=42)
    frames_a = read_video(small_project.resolve(first.path))
    frames_b = read_video(small_project.resolve(second.path))
    assert np.array_equal(frames_a, frames_b)


def test_seeds_locked_explicit_and_random(small_project: Project) -> None:
    backend = FakeBackend()
    cache = FakeCache(backend)
    assert render_shot(small_project, "s1", backends=cache).seed == 100
    assert render_shot(small_project, "s1", seed=7, backends=cache).seed == 7
    small_project.update(lambda b: b.with_shot(b.shot("s2").replace(seed_locked=False)))
    seeds = {render_shot(small_project, "s2", backends=cache).seed for _ in range(3)}
    assert len(seeds) == 3
    with pytest.raises(GenerationError, match="seed must be"):
        render_shot(small_project, "s1", seed=-3, backends=cache)


def test_continuity_passes_the_previous_takes_last_frame(small_project: Project) -> None:
    backend = FakeBackend()
    small_project.update(lambda b: b.with_shot(b.shot("s2").replace(continuity=True)))
    with pytest.raises(GenerationError, match="no chosen take yet"):
        render_shot(small_project, "s2", backends=FakeCache(backend))
    render_shot(small_project, "s1", seed=200, backends=FakeCache(backend))
    render_shot(small_project, "s2", backends=FakeCache(backend))
    last = backend.requests[-1].previous_last_frame
    assert last is not None and last.shape == (64, 96, 3)
    assert abs(int(last.mean()) - 200) <= 2


def test_keyframes_are_decoded_and_pinned_to_frames(small_project: Project) -> None:
    from io import BytesIO

    from PIL import Image

    buffer = BytesIO()
    Image.new("RGB", (120, 80), (0, 255, 0)).save(buffer, format="PNG")
    path = small_project.import_keyframe(buffer.getvalue())
    small_project.update(lambda b: b.with_shot(b.shot("s1").replace(
        keyframes=(Keyframe("first", path), Keyframe("last", path), Keyframe("mid", path, 5)))))
    backend = FakeBackend()
    render_shot(small_project, "s1", backends=FakeCache(backend))
    request = backend.requests[-1]
    assert [(k.role, k.frame) for k in request.keyframes] == [("first", 0), ("last", 11), ("mid", 5)]
    assert request.keyframes[0].image.shape == (80, 120, 3)


def failing(request: ShotRequest, cancel: threading.Event) -> Clip:
    raise GenerationError("the model exploded")


def cancelled(request: ShotRequest, cancel: threading.Event) -> Clip:
    cancel.set()
    raise GenerationCancelled("cancelled at step 2")


def wrong_size(request: ShotRequest, cancel: threading.Event) -> Clip:
    return Clip(np.zeros((3, 8, 8, 3), np.uint8), request.fps)


@pytest.mark.parametrize("behaviour, error, fragment", [
    (failing, GenerationError, "exploded"),
    (cancelled, GenerationCancelled, "cancelled"),
    (wrong_size, GenerationError, r"expected \(12, 64, 96, 3\)"),
])
def test_a_failed_render_leaves_the_board_and_folder_unchanged(small_project: Project, behaviour, error, fragment) -> None:
    before = small_project.board_path.read_bytes()
    with pytest.raises(error, match=fragment):
        render_shot(small_project, "s1", backends=FakeCache(FakeBackend(behaviour)))
    assert small_project.board_path.read_bytes() == before
    assert files_under(small_project) == set()
    render_shot(small_project, "s1", backends=FakeCache(FakeBackend()))  # and the next job runs
    assert small_project.load().shot("s1").chosen_take


def test_a_shot_deleted_during_its_render_drops_the_take_and_its_files(small_project: Project) -> None:
    def delete_meanwhile(request: ShotRequest, cancel: threading.Event) -> Clip:
        small_project.update(lambda b: b.remove_shot("s1"))
        return FakeBackend.solid_colour(request, cancel)

    with pytest.raises(GenerationError, match="changed while rendering"):
        render_shot(small_project, "s1", backends=FakeCache(FakeBackend(delete_meanwhile)))
    assert files_under(small_project) == set()
    assert [s.id for s in small_project.load().shots] == ["s2", "s3"]


def test_edits_made_during_a_render_are_kept(small_project: Project) -> None:
    def edit_meanwhile(request: ShotRequest, cancel: threading.Event) -> Clip:
        small_project.update(lambda b: b.with_shot(b.shot("s1").replace(notes="typed while rendering")))
        return FakeBackend.solid_colour(request, cancel)

    take = render_shot(small_project, "s1", backends=FakeCache(FakeBackend(edit_meanwhile)))
    shot = small_project.load().shot("s1")
    assert shot.notes == "typed while rendering" and shot.chosen_take == take.id


def test_a_deleted_take_keeps_its_files_until_undo_can_no_longer_bring_it_back(small_project: Project,
                                                                               monkeypatch) -> None:
    from studio import history
    from studio.services import edits

    monkeypatch.setattr(history, "EVENTS_KEPT", 5)
    cache = FakeCache(FakeBackend())
    first = render_shot(small_project, "s1", seed=1, backends=cache)
    second = render_shot(small_project, "s1", seed=2, backends=cache)
    board = edits.delete_take(small_project, "s1", second.id, "alice")
    assert board.shot("s1").chosen_take == first.id == small_project.load().shot("s1").chosen_take
    assert files_under(small_project) == {first.path, first.sidecar_path, second.path, second.sidecar_path}
    edits.undo(small_project, "alice")
    assert small_project.load().shot("s1").chosen_take == second.id
    edits.redo(small_project, "alice")
    assert small_project.load().revision == 5
    for number in range(5):  # revision 10 compacts the log to 5 events: the delete falls out
        assert files_under(small_project) >= {second.path, second.sidecar_path}
        edits.patch_shot(small_project, "s1", {"notes": f"n{number}"}, small_project.load().revision, "bob")
    assert files_under(small_project) == {first.path, first.sidecar_path}
    assert [take.id for take in small_project.load().shot("s1").takes] == [first.id]


def test_the_cards_framing_reaches_the_backend_and_the_prompt(small_project: Project) -> None:
    from studio.backends.diffusers_common import full_prompt

    backend = FakeBackend()
    small_project.update(lambda b: b.with_shot(b.shot("s1").replace(shot_size="MCU", angle="low", lens_mm=85.0)))
    render_shot(small_project, "s1", seed=1, backends=FakeCache(backend))
    request = backend.requests[-1]
    assert request.framing == "medium close-up, low-angle shot, 85mm telephoto lens"
    prompt, phrase = full_prompt(request)
    assert prompt.startswith("medium close-up, low-angle shot, 85mm telephoto lens. ")
    assert prompt.endswith(phrase) and request.prompt.strip().rstrip(".") in prompt
