"""The team server in-process (issue 13, items 2, 3, 5 and 8): fair share per login, not per
session; the server's decode limiter on API uploads; unknown backends refused when a render is
asked for. The server runs with two logins on 127.0.0.1; clients are gradio_client with auth.
"""

from __future__ import annotations

import threading

import numpy as np
import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from studio.backends.base import Clip, GenerationCancelled  # noqa: E402
from studio.board import BoardError  # noqa: E402
from studio.services.access import Who  # noqa: E402
from studio.services.jobs import JobQueue  # noqa: E402

from conftest import free_port  # noqa: E402

LOGINS = (("alice", "a-secret"), ("bob", "b-secret"))
SMALL = {"width": 96, "height": 64, "fps": "12"}


class Gate:
    """A backend that holds the lane until released (or cancelled)."""

    name = "animatic"

    def __init__(self) -> None:
        self.entered, self.release = threading.Event(), threading.Event()

    def generate(self, request, progress, cancel):
        self.entered.set()
        while not self.release.wait(0.01):
            if cancel.is_set():
                raise GenerationCancelled("cancelled")
        return Clip(frames=np.zeros((request.num_frames, request.height, request.width, 3), np.uint8),
                    fps=request.fps)

    def get(self, name: str, **settings):
        return self


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    from studio.ui.server import ServeOptions, start

    home = tmp_path_factory.mktemp("team-home")
    studio, demo, url = start(ServeOptions(port=free_port(), home=home, auth=LOGINS), quiet=True)
    try:
        yield studio, url
    finally:
        demo.close()
        studio.close()


def login(url: str, user: str) -> Client:
    return Client(url, auth=(user, dict(LOGINS)[user]), verbose=False)


def board_of(client: Client, name: str) -> tuple[str, str]:
    project = client.predict(name, api_name="/new_project")
    client.predict(project, SMALL, -1, "seconds", api_name="/update_board")
    shot = client.predict(project, {"title": "one", "duration": 4, "prompt": "x"}, -1, "", api_name="/add_shot")
    return project, shot["id"]


def test_one_login_with_two_clients_gets_one_share_of_the_queue(team, monkeypatch) -> None:
    studio, url = team
    gate = Gate()
    monkeypatch.setattr(studio, "backends", gate)
    small = JobQueue(max_queued=4, max_per_owner=2)
    monkeypatch.setattr(studio, "jobs", small)
    try:
        first, second, bob = login(url, "alice"), login(url, "alice"), login(url, "bob")
        project, shot = board_of(first, "fair share")
        bob_project, bob_shot = board_of(bob, "bob's turn")
        running = first.predict(project, shot, 1, False, api_name="/render_shot")
        assert gate.entered.wait(20)
        queued = [first.predict(project, shot, 2, False, api_name="/render_shot"),
                  second.predict(project, shot, 3, False, api_name="/render_shot")]
        with pytest.raises(AppError, match="limit 2 per user"):
            second.predict(project, shot, 4, False, api_name="/render_shot")  # her other client: same share
        theirs = bob.predict(bob_project, bob_shot, 5, False, api_name="/render_shot")
        assert theirs["status"] == "queued"  # the global cap (4) was never reached by alice alone
        # the queue takes turns per login: bob's one job runs before alice's second
        assert small.position(theirs["id"]) < small.position(queued[1]["id"])
        # alice's second client sees and cancels the job her first client queued; bob cannot
        assert {j["id"] for j in second.predict(api_name="/list_jobs")} >= {running["id"], queued[0]["id"]}
        with pytest.raises(AppError, match="no job"):
            bob.predict(queued[0]["id"], api_name="/cancel_job")
        assert second.predict(queued[0]["id"], api_name="/cancel_job") is True
        gate.release.set()
        assert small.wait("user:bob", theirs["id"], 30).status == "done"
    finally:
        gate.release.set()
        small.close()


def test_api_uploads_go_through_the_servers_decode_limiter(team, tmp_path) -> None:
    from PIL import Image

    studio, url = team
    alice = login(url, "alice")
    project, shot = board_of(alice, "keyframes")
    image = tmp_path / "big.png"
    Image.new("RGBA", (2400, 1800), (10, 200, 30, 255)).save(image)
    before = studio.limiter.peak_running
    revision = alice.predict(project, shot, "first", 0, handle_file(str(image)), api_name="/upload_keyframe")
    assert revision > 0 and studio.limiter.peak_running >= max(before, 1)
    board = alice.predict(project, api_name="/load_board")
    assert board["shots"][0]["keyframes"][0]["role"] == "first"


def test_an_unknown_backend_is_refused_when_the_render_is_asked_for(team, monkeypatch) -> None:
    studio, url = team
    alice = login(url, "alice")
    project, shot = board_of(alice, "backends")
    who = Who(user="user:alice", actor="user:alice")
    monkeypatch.setattr(studio, "backend_override", "warp-drive")
    with pytest.raises(BoardError, match="backend: .*is not a backend"):
        studio.submit_render(who.actor, studio.project(project, who), shot)
    assert studio.jobs.jobs(who.actor, project=str(studio.project(project, who).root)) == []
