"""The named HTTP API, driven by gradio_client against a real server on 127.0.0.1.

One server per module (starting Gradio costs seconds); every test makes its own project.
"""

from __future__ import annotations

import json
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from studio.backends.base import Clip, GenerationCancelled  # noqa: E402
from studio.storage import Project  # noqa: E402

from conftest import free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "assets" / "sample-board"
SMALL = {"width": 96, "height": 64, "fps": "12"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from studio.ui.server import ServeOptions, start

    home = tmp_path_factory.mktemp("previz-home")
    sample_before = (SAMPLE / "board.json").read_bytes() if SAMPLE.exists() else None
    services, demo, url = start(ServeOptions(port=free_port(), home=home), quiet=True)
    try:
        yield services, url, home, sample_before
    finally:
        demo.close()
        services.close()


@pytest.fixture
def client(server):
    return Client(server[1], verbose=False)


@pytest.fixture
def folder(server):
    """The folder of a project id the API returned (the test runs the server, so it may look)."""
    return lambda project_id: server[0].access.folder(project_id)


def new_board(client: Client, name: str, shots: int) -> tuple[str, list[str]]:
    project = client.predict(name, api_name="/new_project")
    client.predict(project, SMALL, api_name="/update_board")
    ids = [client.predict(project, {"title": f"S{i + 1}", "duration": 6 + i, "move": "pan_left"}, -1,
                          api_name="/add_shot")["id"] for i in range(shots)]
    return project, ids


def test_first_start_opens_a_copy_of_the_sample_board(server):
    services, _, home, sample_before = server
    recent = services.workspace.recent()
    assert recent and Path(recent[0]).is_relative_to(home / "projects")
    if sample_before is not None:
        assert Project.open(Path(recent[0])).load().title == Project.open(SAMPLE).load().title
        assert (SAMPLE / "board.json").read_bytes() == sample_before
        assert not (SAMPLE / ".backups").exists()


def test_three_shot_board_render_pick_takes_and_export(client, folder):
    import opentimelineio as otio

    from studio.media import probe_stream

    project, ids = new_board(client, "api film", 3)
    board = client.predict(project, api_name="/load_board")
    assert [s["id"] for s in board["shots"]] == ids
    assert board["shots"][1]["camera"][0]["move"] == "pan_left"

    jobs = client.predict(project, True, True, api_name="/render_board")
    assert [j["status"] for j in jobs] == ["done"] * 3 and [j["shot_id"] for j in jobs] == ids
    again = client.predict(project, ids[1], 1234, True, api_name="/render_shot")
    assert again["status"] == "done" and again["total"] > 0
    # The new take was chosen; pick the first one back.
    first_take = jobs[1]["take"]
    shot = client.predict(project, ids[1], {"chosen_take": first_take}, api_name="/update_shot")
    assert shot["chosen_take"] == first_take and len(shot["takes"]) == 2
    assert {t["seed"] for t in shot["takes"]} >= {1234}
    assert all("file" in t and "path" not in t for t in shot["takes"])

    on_disk = Project.open(folder(project)).load()
    assert on_disk.shot(ids[1]).chosen_take == first_take
    for shot in on_disk.shots:
        take = shot.chosen()
        assert take is not None and (folder(project) / take.path).is_file()
        assert probe_stream(folder(project) / take.path).frames == shot.duration

    mp4 = Path(client.predict(project, "mp4", api_name="/export"))
    info = probe_stream(mp4)
    assert info.frames == on_disk.total_frames == 6 + 7 + 8
    assert (info.width, info.height) == (96, 64)

    timeline = otio.adapters.read_from_file(str(Path(client.predict(project, "otio", api_name="/export"))))
    clips = list(timeline.find_clips())
    assert [c.source_range.duration.to_frames() for c in clips] == [6, 7, 8]
    assert [c.source_range.duration.rate for c in clips] == [12, 12, 12]


@pytest.mark.slow
def test_bad_input_is_refused_with_the_field_named_and_nothing_changes(client, folder):
    project, ids = new_board(client, "bad input", 1)
    before = (folder(project) / "board.json").read_bytes()
    cases = [
        ({"seed": "12.5x"}, "Seed"),
        ({"seed": 2**40}, "Seed"),
        ({"duration_s": 0}, "Duration"),
        ({"duration_s": 600}, "Duration"),
        ({"move": "warp_speed"}, "Move"),
        ({"intensity": 3}, "Intensity"),
        ({"wings": True}, "Wings"),
        ({"prompt": "ok", "seed": "nope"}, "Seed"),  # one bad field: the good one is not saved either
    ]
    for changes, named in cases:
        with pytest.raises(AppError, match=named):
            client.predict(project, ids[0], changes, api_name="/update_shot")
    with pytest.raises(AppError, match="fps|Frame rate"):
        client.predict(project, {"fps": "fast"}, api_name="/update_board")
    with pytest.raises(AppError, match="no such shot"):
        client.predict(project, "sh_missing", {"title": "x"}, api_name="/update_shot")
    with pytest.raises(AppError, match="not a Previz Studio project"):
        client.predict("/etc", api_name="/load_board")
    assert (folder(project) / "board.json").read_bytes() == before


def test_empty_prompt_is_refused_for_a_text_to_video_backend(client, folder):
    project, ids = new_board(client, "t2v", 1)
    client.predict(project, ids[0], {"backend": "wan"}, api_name="/update_shot")
    with pytest.raises(AppError, match="prompt"):
        client.predict(project, ids[0], -1, True, api_name="/render_shot")
    assert Project.open(folder(project)).load().shot(ids[0]).takes == ()


def test_card_edits_move_delete_round_trip(client):
    project, ids = new_board(client, "edits", 3)
    assert client.predict(project, ids[2], -5, api_name="/move_shot") == [ids[2], ids[0], ids[1]]
    assert client.predict(project, ids[0], api_name="/delete_shot") == [ids[2], ids[1]]
    shot = client.predict(project, ids[1], {"duration_s": 1.5, "seed": "77", "transition": "cross_dissolve",
                                            "transition_frames": 3, "dialogue": "Hello"}, api_name="/update_shot")
    assert (shot["duration"], shot["seed"], shot["dialogue"]) == (18, 77, "Hello")
    assert shot["transition"] == {"kind": "cross_dissolve", "length": 3}


class GatedBackend:
    """Blocks inside generate until released (or cancelled): lets a test hold the lane."""

    name = "animatic"

    def __init__(self) -> None:
        self.entered = threading.Event()
        self.release = threading.Event()

    def generate(self, request, progress, cancel):
        self.entered.set()
        for step in range(1000):
            if cancel.is_set():
                raise GenerationCancelled(f"cancelled at step {step}")
            if self.release.is_set():
                break
            progress(step, 1000, "waiting")
            self.release.wait(0.01)
        frames = np.zeros((request.num_frames, request.height, request.width, 3), np.uint8)
        return Clip(frames=frames, fps=request.fps)


class GatedCache:
    def __init__(self, backend: GatedBackend) -> None:
        self.backend = backend

    def get(self, name: str, **settings):
        return self.backend


@pytest.mark.slow
def test_two_sessions_are_isolated_and_cannot_cancel_each_other(server, folder, monkeypatch):
    services, url, _, _ = server
    gate = GatedBackend()
    monkeypatch.setattr(services, "backends", GatedCache(gate))
    alice, bob = Client(url, verbose=False), Client(url, verbose=False)
    project_a, ids_a = new_board(alice, "alice film", 1)
    project_b, ids_b = new_board(bob, "bob film", 1)
    assert project_a != project_b

    job_a = alice.predict(project_a, ids_a[0], -1, False, api_name="/render_shot")
    assert gate.entered.wait(10)
    job_b = bob.predict(project_b, ids_b[0], -1, False, api_name="/render_shot")
    assert bob.predict(job_b["id"], api_name="/job_status")["status"] == "queued"
    # Bob can neither see nor cancel Alice's running job...
    with pytest.raises(AppError, match="no job"):
        bob.predict(job_a["id"], api_name="/job_status")
    with pytest.raises(AppError, match="no job"):
        bob.predict(job_a["id"], api_name="/cancel_job")
    assert alice.predict(job_a["id"], api_name="/job_status")["status"] == "running"
    # ...and Alice cancelling hers leaves Bob's to run.
    assert alice.predict(job_a["id"], api_name="/cancel_job") is True
    gate.release.set()
    assert services.jobs.wait(f"session:{bob.session_hash}", job_b["id"], 10).status == "done"
    assert alice.predict(job_a["id"], api_name="/job_status")["status"] == "cancelled"
    assert Project.open(folder(project_a)).load().shot(ids_a[0]).takes == ()
    assert len(Project.open(folder(project_b)).load().shot(ids_b[0]).takes) == 1
    assert services.jobs.worker_alive()


def test_listen_or_share_without_auth_refuses_to_start(tmp_path):
    for flags in (["--listen"], ["--share"], ["--listen", "0.0.0.0", "--port", "7999"]):
        result = subprocess.run([sys.executable, str(REPO / "app.py"), *flags], capture_output=True, text=True,
                                timeout=60, env={"PREVIZ_HOME": str(tmp_path), "PATH": "/usr/bin:/bin"})
        assert result.returncode == 2
        assert "refusing to start" in result.stderr and "--auth" in result.stderr
    bad = tmp_path / "auth.txt"
    bad.write_text("nocolon\n")
    result = subprocess.run([sys.executable, str(REPO / "app.py"), "--listen", "--auth-file", str(bad)],
                            capture_output=True, text=True, timeout=60, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 2 and "USER:PASSWORD" in result.stderr


def test_recent_projects_are_remembered(server, client):
    services, _, home, _ = server
    project = client.predict("remember me", api_name="/new_project")
    data = json.loads((home / "workspace.json").read_text())
    assert data["recent"]["local"][0] == project
    assert client.predict(api_name="/list_projects")[0]["id"] == project
