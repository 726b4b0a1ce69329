"""The running app over HTTP: file routes, forged file payloads, markup uploads.

One server per module, started in-process on 127.0.0.1 with a free port and a temp home
(as the UI's own API tests do). Requests are raw HTTP (httpx), as an attacker would send them.
"""

from __future__ import annotations

import json
import uuid
import wave
from pathlib import Path

import httpx
import pytest

from studio.storage import Project

from conftest import free_port, small_board

PASSWD_MARK = "root:x:0:0"


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from studio.ui.server import ServeOptions, start

    home = tmp_path_factory.mktemp("previz-home")
    services, demo, url = start(ServeOptions(port=free_port(), home=home), quiet=True)
    try:
        with httpx.Client(base_url=url, timeout=30) as http:
            yield services, url, home, http
    finally:
        demo.close()
        services.close()


def upload(http: httpx.Client, name: str, content: bytes) -> str:
    response = http.post("gradio_api/upload", files={"files": (name, content)})
    response.raise_for_status()
    return response.json()[0]


def call(http: httpx.Client, api_name: str, data: list, session: str | None = None) -> dict:
    """Run one event the way the browser does (queue/join + the SSE stream); the completion message.

    ``api_name`` "load" means the page-load event (it sets up the session's state)."""
    config = http.get("config").json()
    fn_index = next(dep["id"] for dep in config["dependencies"]
                    if dep.get("api_name") == api_name
                    or (api_name == "load" and any(target[1] == "load" for target in dep["targets"])))
    session = session or uuid.uuid4().hex[:11]
    joined = http.post("gradio_api/queue/join", json={"data": data, "fn_index": fn_index, "event_data": None,
                                                       "trigger_id": None, "session_hash": session})
    joined.raise_for_status()
    with http.stream("GET", "gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return message
    raise AssertionError("the event never completed")


def other_project(server) -> Project:
    """Another user's project, with backups, under the same server's projects folder."""
    services = server[0]
    project = services.workspace.new(f"other-{uuid.uuid4().hex[:6]}", small_board())
    project.update(lambda b: b.replace(title="private title"))
    return project


def refused(response: httpx.Response, *secrets: str) -> bool:
    return response.status_code in (400, 403, 404, 405) and not any(s in response.text for s in secrets)


def test_a_real_upload_is_served_so_the_refusals_below_mean_something(server) -> None:
    http = server[3]
    path = upload(http, "note.txt", b"hello there")
    response = http.get(f"gradio_api/file={path}")
    assert response.status_code == 200 and response.content == b"hello there"


def test_file_routes_refuse_traversal_absolute_paths_and_case_tricks(server) -> None:
    services, _, home, http = server
    theirs = other_project(server)
    backup = theirs.backups()[0]
    upload_dir = Path(upload(http, "seed.txt", b"x")).parent.parent
    served = Path(services.served_copies.publish(theirs.board_path))
    targets = [
        "/etc/passwd",
        "..%2f..%2f..%2f..%2f..%2fetc%2fpasswd",
        "%2e%2e%2f%2e%2e%2f%2e%2e%2f%2e%2e%2fetc%2fpasswd",
        "%252e%252e%252f%252e%252e%252fetc%252fpasswd",
        "..\\..\\..\\..\\etc\\passwd",
        f"{upload_dir}/..%2f..%2f..%2f..%2fetc%2fpasswd",
        f"{upload_dir}/../../../../etc/passwd",
        "/ETC/PASSWD", "/etc/PASSWD", "/etc/passwd%00.png", "file:///etc/passwd",
        str(theirs.board_path), str(backup), str(theirs.board_path).upper(),
        str(backup).replace(".backups", ".BACKUPS"), f"{theirs.root}/./.backups/{backup.name}",
        f"{theirs.root}/keyframes/../.backups/{backup.name}", str(home / "recent.json"), str(served),
    ]
    for target in targets:
        for route in ("gradio_api/file=", "file=", "gradio_api/FILE="):
            response = http.get(route + target)
            assert refused(response, PASSWD_MARK, "private title"), f"{route}{target}: {response.status_code}"


def test_markup_uploads_are_never_served_inline(server) -> None:
    http = server[3]
    script = b"<html><body><script>alert(document.cookie)</script></body></html>"
    svg = b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(document.cookie)"/>'
    for name, content in (("evil.html", script), ("evil.svg", svg), ("evil.htm", script), ("evil.xhtml", script)):
        response = http.get(f"gradio_api/file={upload(http, name, content)}")
        kind = response.headers.get("content-type", "")
        assert "html" not in kind and "svg" not in kind and "xml" not in kind, f"{name}: {kind}"
        assert response.headers.get("content-disposition", "").startswith("attachment"), name
    disguised = http.get(f"gradio_api/file={upload(http, 'evil.png', script)}")
    assert disguised.headers.get("content-type", "").startswith("image/png")


def _wav(path: Path) -> Path:
    with wave.open(str(path), "wb") as handle:
        handle.setnchannels(1)
        handle.setsampwidth(2)
        handle.setframerate(8000)
        handle.writeframes(b"\x00\x01" * 4000)
    return path


def test_forged_file_payloads_are_refused_and_real_uploads_work(server, tmp_path: Path) -> None:
    services, _, _, http = server
    victim = other_project(server)
    victim_audio = _wav(victim.audio_dir / "secret-scratch.wav")
    session = uuid.uuid4().hex[:11]
    loaded = call(http, "load", [None], session)
    assert loaded.get("success") is True
    state = next(item for item in loaded["output"]["data"]
                 if isinstance(item, dict) and {"token", "project"} <= set(item))  # the browser state
    mine = Project.open(services.access.folder(state["project"]))  # the session opened (by id)
    before = set(mine.audio_dir.iterdir()) if mine.audio_dir.exists() else set()

    for forged in (str(victim_audio), "/etc/passwd", f"{mine.root}/../{victim.root.name}/audio/secret-scratch.wav"):
        payload = {"path": forged, "orig_name": "scratch.wav", "meta": {"_type": "gradio.FileData"}}
        result = call(http, "add_audio", [None, payload], session)
        assert result.get("success") is False or "refused" in json.dumps(result.get("output", {})), forged
        assert PASSWD_MARK not in json.dumps(result)
    after = set(mine.audio_dir.iterdir()) if mine.audio_dir.exists() else set()
    assert after == before, "a forged path was imported into the project"

    real = upload(http, "scratch.wav", _wav(tmp_path / "scratch.wav").read_bytes())
    result = call(http, "add_audio", [None, {"path": real, "orig_name": "scratch.wav",
                                             "meta": {"_type": "gradio.FileData"}}], session)
    assert result.get("success") is True, result
    assert mine.load().audio is not None


def test_api_results_name_no_server_path_as_a_file(server) -> None:
    from gradio_client import Client
    from gradio_client.exceptions import AppError

    _, url, _, _ = server
    client = Client(url, verbose=False)
    project = client.predict("api safety", api_name="/new_project")
    board = client.predict(project, api_name="/load_board")
    assert '"path"' not in json.dumps(board), "gradio_client downloads any dict with a 'path' as a file"
    with pytest.raises(AppError):
        client.predict({"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}, "csv", api_name="/export")
