"""A server a team shares (issue 13): the real app as a subprocess, ``--listen 127.0.0.1
--auth-file``, two users (alice, bob), driven through gradio_client and raw HTTP.

Every named endpoint is tried by bob with alice's project id, a made-up id and server paths
(absolute, relative, through a symlink): each is refused with an error naming the problem, and
alice's project folder is byte for byte what it was. Sharing as viewer and editor works and can be
taken back. Restarts: kill -9 with queued jobs, start again: the jobs are reported "interrupted"
to their owner only, one call queues one again, ids are never reused, partial files are swept;
SIGTERM removes the server's temp folder.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
import uuid
from pathlib import Path

import httpx
import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from conftest import free_port  # noqa: E402

REPO = Path(__file__).resolve().parents[2]
USERS = {"alice": "alice-secret-1", "bob": "bob-secret-2"}
SMALL = {"width": 96, "height": 64, "fps": "12"}

pytestmark = pytest.mark.slow


class Server:
    """``app.py --listen 127.0.0.1 --auth-file`` in its own process group, on a workspace folder."""

    def __init__(self, workspace: Path, tmp: Path, port: int | None = None) -> None:
        self.workspace, self.tmp = workspace, tmp
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        tmp.mkdir(exist_ok=True)
        auth = tmp / "users.txt"
        auth.write_text("".join(f"{user}:{password}\n" for user, password in USERS.items()))
        env = {**os.environ, "TMPDIR": str(tmp), "GRADIO_ANALYTICS_ENABLED": "False",
               "PYTHONPATH": str(REPO), "HF_HUB_OFFLINE": "1"}
        self.log = open(tmp / f"server-{self.port}.log", "w")
        self.process = subprocess.Popen(
            [sys.executable, str(REPO / "app.py"), "--listen", "127.0.0.1", "--port", str(self.port),
             "--auth-file", str(auth), "--workspace", str(workspace), "--backend", "animatic"],
            stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, env=env, cwd=str(REPO))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            assert self.process.poll() is None, (tmp / f"server-{self.port}.log").read_text()
            try:
                if httpx.get(self.url, timeout=2).status_code < 500:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.3)
        raise AssertionError("the server did not start")

    def client(self, user: str) -> Client:
        return Client(self.url, auth=(user, USERS[user]), verbose=False)

    def http(self, user: str) -> httpx.Client:
        http = httpx.Client(base_url=self.url, timeout=30)
        http.post("login", data={"username": user, "password": USERS[user]}).raise_for_status()
        return http

    def kill(self) -> None:
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(30)
        self.log.close()

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        code = self.process.wait(60)
        self.log.close()
        return code


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with the hash of its bytes (symlinks not followed)."""
    return {str(path.relative_to(folder)): hashlib.sha256(path.read_bytes()).hexdigest()
            for path in sorted(folder.rglob("*")) if path.is_file() and not path.is_symlink()}


def registry(workspace: Path) -> dict:
    return json.loads((workspace / "workspace.json").read_text())


def folder_of(workspace: Path, project_id: str) -> Path:
    return Path(registry(workspace)["projects"][project_id]["folder"])


def new_board(client: Client, name: str, shots: int = 1, duration: int = 6) -> tuple[str, list[str]]:
    project = client.predict(name, api_name="/new_project")
    client.predict(project, SMALL, -1, "seconds", api_name="/update_board")
    ids = [client.predict(project, {"title": f"S{i + 1}", "duration": duration, "prompt": f"shot {i}"}, -1, "",
                          api_name="/add_shot")["id"] for i in range(shots)]
    return project, ids


@pytest.fixture(scope="module")
def team(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("team")
    server = Server(tmp / "workspace", tmp / "tmp")
    try:
        alice, bob = server.client("alice"), server.client("bob")
        project, shots = new_board(alice, "Alice's film", 2)
        job = alice.predict(project, shots[0], 7, True, api_name="/render_shot")
        yield {"server": server, "alice": alice, "bob": bob, "project": project, "shots": shots, "job": job}
    finally:
        server.stop()


def test_each_user_lists_only_their_own_projects(team) -> None:
    alice, bob, project = team["alice"], team["bob"], team["project"]
    theirs = bob.predict(api_name="/list_projects")
    assert project not in [row["id"] for row in theirs]
    assert all(row["owner"] == "bob" for row in theirs)  # bob's first-start copy, if any
    mine = alice.predict(api_name="/list_projects")
    assert mine[0]["id"] == project and mine[0]["role"] == "owner"
    assert not any("/" in json.dumps(row) for row in mine), "a server path in the project list"


def test_every_endpoint_refuses_another_users_project_a_made_up_id_and_paths(team, tmp_path) -> None:
    server, bob, project, shots = team["server"], team["bob"], team["project"], team["shots"]
    workspace = server.workspace
    folder = folder_of(workspace, project)
    link = workspace / "projects" / "bobs-link"
    link.symlink_to(folder, target_is_directory=True)
    take = team["job"]["take"]
    before = snapshot(folder)
    own, own_shots = new_board(bob, "Bob's film", 1)

    image = tmp_path / "key.png"
    from PIL import Image

    Image.new("RGB", (64, 48), (200, 30, 30)).save(image)
    wav = tmp_path / "scratch.wav"
    import wave

    with wave.open(str(wav), "wb") as handle:
        handle.setnchannels(1), handle.setsampwidth(2), handle.setframerate(8000)
        handle.writeframes(b"\x00\x01" * 4000)

    refs = {
        "alice's id": (project, "no project"),
        "a made-up id": ("p0123456789abcdef", "no project"),
        "an absolute path": (str(folder), "not a project id"),
        "a relative path": (f"../projects/{folder.name}", "not a project id"),
        "a symlink": (str(link), "not a project id"),
        "a path to bob's own project": (str(folder_of(workspace, own)), "not a project id"),
    }
    calls = {
        "/load_board": lambda p: (p,),
        "/update_board": lambda p: (p, {"title": "pwned"}, -1, "seconds"),
        "/add_shot": lambda p: (p, {"title": "pwned"}, -1, ""),
        "/patch_shot": lambda p: (p, shots[0], {"title": "pwned"}, 0),
        "/update_shot": lambda p: (p, shots[0], {"title": "pwned"}),
        "/choose_take": lambda p: (p, shots[0], take),
        "/delete_take": lambda p: (p, shots[0], take),
        "/undo": lambda p: (p,),
        "/redo": lambda p: (p,),
        "/move_shot": lambda p: (p, shots[1], -1),
        "/delete_shot": lambda p: (p, shots[0]),
        "/render_shot": lambda p: (p, shots[0], 1, False),
        "/render_board": lambda p: (p, False, False),
        "/share_project": lambda p: (p, "bob", "editor"),
        "/export": lambda p: (p, "csv"),
        "/upload_keyframe": lambda p: (p, shots[0], "first", 0, handle_file(str(image))),
        "/upload_audio": lambda p: (p, 0, handle_file(str(wav))),
    }
    tried = 0
    for endpoint, arguments in calls.items():
        for what, (ref, expected) in refs.items():
            with pytest.raises(AppError) as refused:
                bob.predict(*arguments(ref), api_name=endpoint)
            message = str(refused.value)
            assert expected in message, f"{endpoint} with {what}: {message}"
            assert str(folder) not in message.replace(ref, ""), "the error told a server path"
            tried += 1
    assert tried == len(calls) * len(refs) == 102
    # bob's jobs endpoints know nothing of alice's job
    for endpoint in ("/job_status", "/cancel_job", "/requeue_job", "/dismiss_job"):
        with pytest.raises(AppError, match="no job"):
            bob.predict(team["job"]["id"], api_name=endpoint)
    assert snapshot(folder) == before, "bob changed alice's project"
    assert project not in [row["id"] for row in bob.predict(api_name="/list_projects")]
    link.unlink()


def test_raw_http_cannot_reach_another_users_project_or_files(team) -> None:
    server, project = team["server"], team["project"]
    folder = folder_of(server.workspace, project)
    anonymous = httpx.Client(base_url=server.url, timeout=30)
    assert anonymous.get("config").status_code in (401, 403) or "auth_required" in anonymous.get("config").text
    bob = server.http("bob")
    for target in (folder / "board.json", folder / ".backups", server.workspace / "workspace.json",
                   server.workspace / "state" / "jobs.json"):
        response = bob.get(f"gradio_api/file={target}")
        assert response.status_code in (400, 403, 404), f"{target}: {response.status_code}"
        assert "Alice" not in response.text
    # the page's load event with a browser state naming alice's project opens one of bob's instead
    config = bob.get("config").json()
    fn_index = next(dep["id"] for dep in config["dependencies"] if any(t[1] == "load" for t in dep["targets"]))
    session = uuid.uuid4().hex[:11]
    bob.post("gradio_api/queue/join", json={"data": [{"token": uuid.uuid4().hex, "project": project}],
                                            "fn_index": fn_index, "event_data": None, "trigger_id": None,
                                            "session_hash": session}).raise_for_status()
    with bob.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
        done = next(json.loads(line[5:]) for line in stream.iter_lines()
                    if line.startswith("data:") and json.loads(line[5:]).get("msg") == "process_completed")
    assert done["success"] is True
    text = json.dumps(done["output"])
    assert project not in text and "Alice" not in text and str(folder) not in text


def test_sharing_as_viewer_then_editor_then_taking_it_back(team) -> None:
    alice, bob, project, shots = team["alice"], team["bob"], team["project"], team["shots"]
    folder = folder_of(team["server"].workspace, project)
    with pytest.raises(AppError, match="no login 'mallory'"):
        alice.predict(project, "mallory", "viewer", api_name="/share_project")
    with pytest.raises(AppError, match="role"):
        alice.predict(project, "bob", "admin", api_name="/share_project")
    row = alice.predict(project, "bob", "viewer", api_name="/share_project")
    assert row["shared_with"] == {"bob": "viewer"}

    listed = {r["id"]: r for r in bob.predict(api_name="/list_projects")}
    assert listed[project]["role"] == "viewer" and listed[project]["owner"] == "alice"
    board = bob.predict(project, api_name="/load_board")
    assert board["title"] == "Alice's film" and board["role"] == "viewer"
    before = snapshot(folder)
    for endpoint, arguments in (("/update_shot", (project, shots[0], {"title": "viewer edit"})),
                                ("/render_shot", (project, shots[0], 1, False)),
                                ("/delete_shot", (project, shots[0])),
                                ("/export", (project, "csv")),
                                ("/undo", (project,)),
                                ("/share_project", (project, "bob", "editor"))):
        with pytest.raises(AppError, match="viewer|only its owner"):
            bob.predict(*arguments, api_name=endpoint)
    assert snapshot(folder) == before

    alice.predict(project, "bob", "editor", api_name="/share_project")
    shot = bob.predict(project, shots[1], {"title": "bob was here"}, api_name="/update_shot")
    assert shot["title"] == "bob was here"
    assert alice.predict(project, api_name="/load_board")["shots"][1]["title"] == "bob was here"

    alice.predict(project, "bob", "none", api_name="/share_project")
    assert project not in [r["id"] for r in bob.predict(api_name="/list_projects")]
    with pytest.raises(AppError, match="no project"):
        bob.predict(project, api_name="/load_board")


def test_a_users_jobs_follow_the_login_across_clients(team) -> None:
    server, job = team["server"], team["job"]
    second = server.client("alice")  # another client, another session, same login
    assert second.predict(job["id"], api_name="/job_status")["status"] == "done"
    assert job["id"] in [j["id"] for j in second.predict(api_name="/list_jobs")]
    assert second.predict(job["id"], api_name="/cancel_job") is False  # hers to cancel (already done)
    assert job["id"] not in [j["id"] for j in team["bob"].predict(api_name="/list_jobs")]


def test_kill_9_with_queued_jobs_then_restart(tmp_path) -> None:
    workspace = tmp_path / "workspace"
    server = Server(workspace, tmp_path / "tmp")
    try:
        alice, bob = server.client("alice"), server.client("bob")
        project, _ = new_board(alice, "Long film", 12, duration=96)
        alice.predict(project, {"width": 640, "height": 384, "fps": "24"}, -1, "seconds", api_name="/update_board")
        queued = alice.predict(project, False, False, api_name="/render_board")
        bob_project, bob_shots = new_board(bob, "Bob's", 1)
        folder = folder_of(workspace, project)
        (folder / "takes" / f".take.{server.process.pid}.140012345678912.deadbeef.partial.mp4").write_bytes(b"x" * 4096)
    finally:
        server.kill()
    old_ids = {job["id"] for job in queued}
    assert len(old_ids) == 12

    left_by_the_kill = list((tmp_path / "tmp").glob("previz-served-*"))
    assert left_by_the_kill  # kill -9 runs no cleanup...
    server = Server(workspace, tmp_path / "tmp", port=free_port())
    try:
        assert not any(folder.exists() for folder in left_by_the_kill)  # ...the next start removes it
        alice, other_alice, bob = server.client("alice"), server.client("alice"), server.client("bob")
        interrupted = alice.predict(api_name="/interrupted_jobs")
        assert interrupted and {job["id"] for job in interrupted} <= old_ids
        assert all(job["status"] == "interrupted" and "restart" in job["error"] for job in interrupted)
        assert other_alice.predict(api_name="/interrupted_jobs") == interrupted  # the login, not the session
        assert bob.predict(api_name="/interrupted_jobs") == []
        with pytest.raises(AppError, match="no job"):
            bob.predict(interrupted[0]["id"], api_name="/requeue_job")
        for old in queued:  # an id from before the restart is never "no such job"
            assert alice.predict(old["id"], api_name="/job_status")["status"] in ("interrupted", "done")

        again = alice.predict(interrupted[0]["id"], api_name="/requeue_job")
        assert again["id"] not in old_ids and again["shot_id"] == interrupted[0]["shot_id"]
        with pytest.raises(AppError, match="queued again"):
            alice.predict(interrupted[0]["id"], api_name="/requeue_job")
        assert alice.predict(interrupted[-1]["id"], api_name="/dismiss_job") is True
        left = alice.predict(api_name="/interrupted_jobs")
        assert len(left) == len(interrupted) - 2

        fresh = bob.predict(bob_project, bob_shots[0], 3, True, api_name="/render_shot")
        assert fresh["id"] not in old_ids and fresh["status"] == "done"
        deadline = time.monotonic() + 120
        while alice.predict(again["id"], api_name="/job_status")["status"] != "done":
            assert time.monotonic() < deadline
            time.sleep(0.5)
        board = alice.predict(project, api_name="/load_board")
        shot = next(s for s in board["shots"] if s["id"] == again["shot_id"])
        assert len(shot["takes"]) == 1
        folder = folder_of(workspace, project)
        assert not [p for p in folder.rglob("*") if ".partial" in p.name], "partial files were not swept"
    finally:
        code = server.stop()
    assert code == 0
    assert not list((tmp_path / "tmp").glob("previz-served-*")), "SIGTERM left the served-copies folder"
    state = json.loads((workspace / "state" / "jobs.json").read_text())
    ids = [job["id"] for job in state["jobs"]]
    assert len(ids) == len(set(ids))
