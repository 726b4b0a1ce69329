"""The farm's rules that need no cluster: the take's content hash, the memory-profile ladder,
routing to a worker that holds the job's model, settings checks, the panel's HTML, and a clear
error when Ray is not installed (the app works without it)."""

from __future__ import annotations

import dataclasses
import sys
import threading

import numpy as np
import pytest

from studio.backends.base import KeyframeImage, ShotRequest
from studio.board import MEMORY_PROFILES, CameraMove, FrameRate
from studio.services.farm import (IDLE, Farm, FarmError, FarmSettings, _Slot, content_hash,
                                  lighter_profile)
from studio.ui.farm import farm_html


def request(**changes) -> ShotRequest:
    base = ShotRequest(shot_id="s1", shot_number=1, prompt="a ship", negative_prompt="", num_frames=12, width=32,
                       height=32, fps=FrameRate(24), seed=7, camera=(CameraMove("pan_left", 0.5),),
                       keyframes=(KeyframeImage("first", 0, np.zeros((8, 8, 3), np.uint8)),))
    return dataclasses.replace(base, **changes)


def test_the_content_hash_covers_what_makes_a_take_and_not_how_it_is_held() -> None:
    settings = {"model": "m", "memory_profile": "none", "device": "cuda:0"}
    same = content_hash(request(), "wan", settings)
    assert same == content_hash(request(), "wan", {**settings, "memory_profile": "vae_tiling", "device": "cuda:1"})
    picture = np.zeros((8, 8, 3), np.uint8)
    picture[4, 4] = 1
    different = [
        content_hash(request(seed=8), "wan", settings),
        content_hash(request(prompt="a boat"), "wan", settings),
        content_hash(request(camera=(CameraMove("pan_left", 0.6),)), "wan", settings),
        content_hash(request(keyframes=(KeyframeImage("first", 0, picture),)), "wan", settings),
        content_hash(request(previous_last_frame=picture), "wan", settings),
        content_hash(request(options={"steps": 3}), "wan", settings),
        content_hash(request(), "ltx", settings),
        content_hash(request(), "wan", {**settings, "model": "other"}),
    ]
    assert len({same, *different}) == len(different) + 1


def test_out_of_memory_steps_to_the_next_profile_the_worker_can_use() -> None:
    ladder = list(MEMORY_PROFILES)
    assert lighter_profile("none", accelerator=True) == ladder[1]
    for lighter, heavier in zip(ladder[1:], ladder):
        assert lighter_profile(heavier, accelerator=True) == lighter
    assert lighter_profile(ladder[-1], accelerator=True) is None
    on_cpu = [p for p in ladder if p not in ("model_offload", "group_offload")]  # offload needs a GPU
    for lighter, heavier in zip(on_cpu[1:], on_cpu):
        assert lighter_profile(heavier, accelerator=False) == lighter
    assert lighter_profile(on_cpu[-1], accelerator=False) is None


def test_a_job_goes_to_a_free_worker_holding_its_model_else_an_empty_one() -> None:
    farm = Farm.__new__(Farm)  # the routing alone, without a cluster
    farm._lock, farm._closed, farm._waiting = threading.Condition(), False, 0
    farm._slots = [_Slot(0, None, model="wan:a"), _Slot(1, None, model=""), _Slot(2, None, model="wan:b")]
    never = threading.Event()
    assert farm._acquire("wan:b", set(), never).index == 2
    assert farm._acquire("ltx:c", set(), never).index == 1  # an empty worker before one that must switch
    assert farm._acquire("ltx:c", set(), never).index == 0  # only then one that switches model
    for slot in farm._slots:
        slot.state = IDLE
    assert farm._acquire("wan:b", {2}, never).index != 2  # a retry avoids the worker that was lost


@pytest.mark.parametrize("settings, message", [
    ({"output": "ftp"}, "farm output 'ftp'"),
    ({"workers": 0}, "farm workers must be"),
    ({"max_attempts": 0}, "max_attempts"),
])
def test_bad_farm_settings_are_refused_by_name(settings, message) -> None:
    with pytest.raises(FarmError, match=message):
        FarmSettings(**settings)


def test_without_ray_the_farm_says_how_to_install_it(monkeypatch) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # import ray -> ImportError
    with pytest.raises(FarmError, match=r'pip install -e "\.\[farm\]"'):
        Farm(FarmSettings(workers=1))


def test_the_farm_panel_escapes_what_it_shows() -> None:
    worker = {"index": 0, "host": "<b>node</b>", "pid": 12, "state": "busy", "model": "wan:<x>",
              "job": "shot 1 '<script>'", "done": 1, "total": 4, "message": "step 1/4", "restarts": 0}
    page = farm_html({"enabled": True, "address": "10.0.0.1:6379", "output": "shared", "workers": [worker],
                      "queued": 3})
    assert "<script>" not in page and "&lt;script&gt;" in page and "&lt;b&gt;node" in page
    assert 'data-state="busy"' in page and '<span id="farm-queued">3</span>' in page
    assert "--cluster ray" in farm_html({"enabled": False, "queued": 0})


def test_the_cli_draws_a_bar_per_job_and_the_workers_on_a_terminal() -> None:
    import io

    from studio.cli.farm import ProgressBoard
    from studio.services.farm import FarmState, WorkerView

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    class OneWorker:
        def state(self) -> FarmState:
            worker = WorkerView(index=0, pid=42, host="node-a", model="wan:m", state="busy", job="shot 2",
                                job_id="j", done=3, total=4, message="step 3/4", restarts=0, jobs_done=1)
            return FarmState("local (127.0.0.1)", "shared", (worker,), waiting=1)

    out = Terminal()
    board = ProgressBoard(OneWorker(), out)
    board.job("s1", 1, 1, "done: takes/s1/tk_a.mp4")
    board.job("s2", 3, 4, "worker 0: step 3/4")
    board.draw()
    board.draw(final=True)
    first, second = out.getvalue().split("\x1b[4F")  # the second drawing goes back over the first 4 lines
    assert "1/2 takes, 1 waiting" in first
    assert "s2           [" + "#" * 18 + "." * 6 + "]  75%" in first
    assert "worker 0 pid 42 on node-a: busy, model wan:m, shot 2" in first
    assert second.count("\n") == 4
