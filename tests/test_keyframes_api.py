"""Keyframe variations and the cast over the named HTTP API (gradio_client against a real server),
with a tiny random-weight FLUX loaded from a folder on the server."""

from __future__ import annotations

import base64
import io

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from conftest import free_port  # noqa: E402

import tiny_image_pipelines as tiny_image  # noqa: E402

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from studio.ui.server import ServeOptions, start

    model = tiny_image.build_flux(tmp_path_factory.mktemp("models") / "flux")
    services, demo, url = start(ServeOptions(port=free_port(), home=tmp_path_factory.mktemp("home")), quiet=True)
    try:
        yield services, url, model
    finally:
        demo.close()
        services.close()


def data_url(seed: int) -> str:
    buffer = io.BytesIO()
    Image.fromarray(np.random.default_rng(seed).integers(0, 256, (32, 48, 3), dtype=np.uint8)).save(buffer, "PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_generate_list_pick_and_the_cast_over_the_api(server) -> None:
    services, url, model = server
    client = Client(url, verbose=False)
    assert "sana-sprint-0.6b" in [row["key"] for row in client.predict(api_name="/image_models")]
    project = client.predict("Keys", api_name="/new_project")
    client.predict(project, {"width": 96, "height": 64}, api_name="/update_board")
    shot = client.predict(project, {"title": "Keeper", "prompt": "a keeper", "characters": "ADA"}, -1,
                          api_name="/add_shot")["id"]
    looks = client.predict(project, "cast", "ADA", "a keeper in a yellow oilskin", data_url(1), "",
                           api_name="/set_look")
    assert looks["cast"][0]["description"] == "a keeper in a yellow oilskin" and len(looks["cast"][0]["references"]) == 1
    made = client.predict(project, shot, 3, str(model), 100, "text", 0.6, "", False, "", {"steps": 2}, True,
                          api_name="/generate_keyframes")
    assert made["status"] == "done" and [v["seed"] for v in made["variations"]] == [100, 101, 102]
    assert all("yellow oilskin" in v["prompt"] for v in made["variations"])
    listed = client.predict(project, shot, api_name="/keyframe_variations")
    assert [v["id"] for v in listed] == [v["id"] for v in made["variations"]]
    picked = client.predict(project, shot, listed[2]["id"], "last", 0, api_name="/pick_keyframe")
    assert [k["role"] for k in picked["keyframes"]] == ["last"]
    folder = services.access.folder(project)
    kept = np.asarray(Image.open(folder / picked["keyframes"][0]["file"]))
    assert np.array_equal(kept, np.asarray(Image.open(folder / listed[2]["image"])))
    with pytest.raises(AppError, match="(?i)count: must be a whole number from 1 to 16"):
        client.predict(project, shot, 40, str(model), -1, "text", 0.6, "", False, "", {}, True,
                       api_name="/generate_keyframes")
    with pytest.raises(AppError, match="no keyframe variation"):
        client.predict(project, shot, "kv_missing", "first", 0, api_name="/pick_keyframe")
