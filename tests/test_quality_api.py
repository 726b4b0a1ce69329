"""Draft and final over the HTTP API: the board's and a shot's quality are fields, a render-board
call at final re-renders only the shots whose chosen take is a draft, with the draft's seed."""

from __future__ import annotations

import json

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402

from studio.storage import Project  # noqa: E402

from conftest import free_port  # noqa: E402


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from studio.ui.server import ServeOptions, start

    services, demo, url = start(ServeOptions(port=free_port(), home=tmp_path_factory.mktemp("home")), quiet=True)
    try:
        yield services, url
    finally:
        demo.close()
        services.close()


def test_quality_fields_and_a_final_pass_over_the_api(server) -> None:
    services, url = server
    client = Client(url, verbose=False)
    project = client.predict("quality film", api_name="/new_project")
    board = client.predict(project, {"width": 96, "height": 64, "fps": "12", "quality": "draft"},
                           api_name="/update_board")
    assert board["quality"] == "draft"
    ids = [client.predict(project, {"title": f"S{i}", "duration": 6, "move": "pan_left"}, -1,
                          api_name="/add_shot")["id"] for i in (1, 2)]
    jobs = client.predict(project, True, True, api_name="/render_board")
    assert [j["status"] for j in jobs] == ["done", "done"]
    board = client.predict(project, api_name="/load_board")
    assert [s["takes"][0]["quality"] for s in board["shots"]] == ["draft", "draft"]
    # only the first shot goes final; a final pass re-renders just its draft
    shot = client.predict(project, ids[0], {"quality": "final"}, api_name="/update_shot")
    assert shot["quality"] == "final"
    jobs = client.predict(project, True, True, api_name="/render_board")
    assert [j["shot_id"] for j in jobs] == [ids[0]] and jobs[0]["status"] == "done"
    board = client.predict(project, api_name="/load_board")
    first, second = board["shots"]
    assert [t["quality"] for t in first["takes"]] == ["draft", "final"] and first["chosen_take"] == jobs[0]["take"]
    assert first["takes"][0]["seed"] == first["takes"][1]["seed"]
    assert [t["quality"] for t in second["takes"]] == ["draft"]
    folder = services.access.folder(project)
    final = Project.open(folder).load().shot(ids[0]).chosen()
    record = json.loads((folder / final.sidecar_path).read_text())
    assert record["quality"]["from_draft"] == first["takes"][0]["id"]
    with pytest.raises(Exception, match="(?i)quality"):
        client.predict(project, ids[1], {"quality": "best"}, api_name="/update_shot")
