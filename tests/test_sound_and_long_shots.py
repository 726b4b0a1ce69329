"""LTX-2 keeps its sound in the take, and long shots are made in overlapping windows, on tiny
random-weight pipelines built here and loaded through the real ``from_pretrained`` path."""

from __future__ import annotations

import dataclasses
import json
import threading
from pathlib import Path
from typing import Any

import av
import numpy as np
import pytest

from studio.backends import BackendCache, create_backend
from studio.backends.base import GenerationError, KeyframeImage, ShotRequest
from studio.backends.long_shots import window_plan
from studio.board import Board, CameraMove, FrameRate, Shot
from studio.models import FrameRule
from studio.services.render import render_shot
from studio.storage import Project

import tiny_av

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


@pytest.fixture(scope="module")
def ltx2_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny_av.build_ltx2(tmp_path_factory.mktemp("tiny-av") / "ltx2")


@pytest.fixture(scope="module")
def ltx2(ltx2_dir: Path):
    return create_backend("ltx2", model=str(ltx2_dir))


def request(**changes: Any) -> ShotRequest:
    base = ShotRequest(shot_id="s1", shot_number=1, prompt="a man walks in the rain", negative_prompt="",
                       num_frames=20, width=32, height=32, fps=FrameRate(24), seed=5,
                       camera=(CameraMove("static"),), options={"steps": 2, "max_sequence_length": 16})
    return dataclasses.replace(base, **changes)


class CallSpy:
    """Records the keyword arguments each call of a pipeline class receives, then runs it."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, pipeline_class: type) -> None:
        self.calls: list[dict[str, Any]] = []
        self.outputs: list[Any] = []
        original = pipeline_class.__call__

        def spy(pipe: Any, *args: Any, **kwargs: Any) -> Any:
            self.calls.append(kwargs)
            output = original(pipe, *args, **kwargs)
            self.outputs.append(output)
            return output

        monkeypatch.setattr(pipeline_class, "__call__", spy)


def test_ltx2_sound_lands_in_the_take_in_sync(ltx2_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import LTX2Pipeline

    spy = CallSpy(monkeypatch, LTX2Pipeline)
    project = Project.create(tmp_path / "p", Board(title="t", fps=FrameRate(24), width=32, height=32, shots=(
        Shot(id="s1", prompt="a man walks in the rain", duration=20),)))
    take = render_shot(project, "s1", backend="ltx2", settings={"model": str(ltx2_dir)},
                       options={"steps": 2, "max_sequence_length": 16}, backends=BackendCache())
    call = spy.calls[0]
    assert call["frame_rate"] == 24.0 and call["num_frames"] == 25  # the board's rate, 8k+1 frames covering 20
    model_sound = spy.outputs[0].audio[0].float().numpy()
    record = json.loads(project.resolve(take.sidecar_path).read_text())
    assert record["audio"]["codec"] == "aac" and record["audio"]["rate"] == 48000
    assert record["audio"]["model_rate"] == 16000 and record["audio"]["channels"] == 2
    assert record["audio"]["seconds"] == pytest.approx(20 / 24, abs=1 / 16000)
    assert any("cut" in note and "none retimed" in note for note in record["generation"]["adjustments"])
    with av.open(str(project.resolve(take.path))) as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        assert audio.codec_context.name == "aac" and audio.rate == 48000
        assert video.frames == 20
        sound = np.concatenate([frame.to_ndarray() for frame in container.decode(audio=0)], axis=1)
    assert abs(sound.shape[1] - 48000 * 20 / 24) < 1024 + 1  # the AAC's last packet may run on
    # the take's sound is the model's first 20 frames' worth, not shifted: the best match of the
    # model's waveform against the take's (resampled 16k -> 48k, AAC) within +-100 samples
    # (less than the tiny vocoder's 160-sample period) is at lag 0
    wanted = model_sound[0, :round(16000 * 20 / 24)]
    got = sound[0, ::3][:len(wanted)]
    middle = slice(400, len(wanted) - 400)
    scores = {lag: np.corrcoef(wanted[middle], np.roll(got, -lag)[middle])[0, 1] for lag in range(-100, 101)}
    best = max(scores, key=scores.get)
    assert best == 0 and scores[0] > 0.5, (best, scores[best], scores[0])


def test_a_silent_backend_leaves_a_silent_take(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", Board(title="t", fps=FrameRate(24), width=32, height=32, shots=(
        Shot(id="s1", duration=12),)))
    take = render_shot(project, "s1", backend="animatic", backends=BackendCache())
    assert json.loads(project.resolve(take.sidecar_path).read_text())["audio"] is None
    with av.open(str(project.resolve(take.path))) as container:
        assert not container.streams.audio


def test_window_plan_covers_the_shot_with_shared_frames() -> None:
    rule = FrameRule(8, 9, 17)
    assert window_plan(17, rule) == ((0, 17),)
    windows = window_plan(40, rule)
    assert windows == ((0, 17), (16, 17), (32, 9))
    for (start, count), (next_start, _) in zip(windows, windows[1:]):
        assert next_start == start + count - 1
    assert windows[-1][0] + windows[-1][1] >= 40


def test_long_ltx2_shot_is_made_in_windows_each_starting_on_the_last_frame(
        ltx2: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import LTX2ImageToVideoPipeline

    spy = CallSpy(monkeypatch, LTX2ImageToVideoPipeline)
    first = np.random.default_rng(1).integers(0, 256, (32, 32, 3), dtype=np.uint8)
    clip = ltx2.generate(request(num_frames=22, keyframes=(KeyframeImage("first", 0, first),),
                                 options={"steps": 2, "guidance": 1.0, "max_sequence_length": 16, "window_frames": 9}),
                         lambda *a: None, threading.Event())
    assert clip.frames.shape == (22, 32, 32, 3)  # exactly the board's frames, none retimed
    assert clip.metadata["windows"] == [[0, 9], [8, 9], [16, 9]]
    assert [call["num_frames"] for call in spy.calls] == [9, 9, 9]
    assert np.array_equal(np.asarray(spy.calls[0]["image"]), first)
    for number in (1, 2):
        previous = np.clip(np.rint(spy.outputs[number - 1].frames[0][-1] * 255), 0, 255).astype(np.uint8)
        assert np.array_equal(np.asarray(spy.calls[number]["image"]), previous), f"window {number + 1}"
        # the shared frame is kept once: the clip's frame at the window's start is the previous window's last
        start = clip.metadata["windows"][number][0]
        assert np.array_equal(clip.frames[start], previous)
    assert clip.audio is not None and clip.audio.samples.shape[1] == round(22 * clip.audio.rate / 24)
    assert any("3 overlapping windows" in note for note in clip.metadata["adjustments"])


def test_skyreels_diffusion_forcing_makes_the_whole_long_shot_in_one_call(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from diffusers import SkyReelsV2DiffusionForcingPipeline

    spy = CallSpy(monkeypatch, SkyReelsV2DiffusionForcingPipeline)
    backend = create_backend("skyreels", model=str(tiny_av.build_skyreels_df(tmp_path / "sky")))
    clip = backend.generate(request(num_frames=30, options={"steps": 2, "max_sequence_length": 16, "window_frames": 13}),
                            lambda *a: None, threading.Event())
    assert clip.frames.shape == (30, 32, 32, 3) and clip.audio is None
    call = spy.calls[0]
    assert len(spy.calls) == 1
    assert call["base_num_frames"] == 13 and call["num_frames"] == 33 and call["overlap_history"] == 5
    assert len(spy.outputs[0].frames[0]) == 33
    assert clip.metadata["windows"] == [[0, 13], [12, 13], [24, 9]]


def test_a_bad_window_length_is_refused_by_name(ltx2: Any) -> None:
    with pytest.raises(GenerationError, match="window_frames must be"):
        ltx2.generate(request(num_frames=40, options={"steps": 2, "window_frames": 3}), lambda *a: None,
                      threading.Event())
