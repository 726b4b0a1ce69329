"""Drawn panels over the named HTTP API (gradio_client against a real server on 127.0.0.1):
save layers as PNG data URLs, change a depth, export an .ora and import it into another shot,
split a keyframe into depth layers and discard the split."""

from __future__ import annotations

import base64
import io
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from studio.services.panels import read_ora  # noqa: E402
from studio.storage import Project  # noqa: E402

from conftest import free_port  # noqa: E402

W, H = 96, 64


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from studio.ui.server import ServeOptions, start

    services, demo, url = start(ServeOptions(port=free_port(), home=tmp_path_factory.mktemp("home")), quiet=True)
    try:
        yield services, url
    finally:
        demo.close()
        services.close()


def png_url(pixels: np.ndarray) -> str:
    buffer = io.BytesIO()
    Image.fromarray(pixels).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def test_panels_through_the_api(server, tmp_path: Path) -> None:
    services, url = server
    client = Client(url, verbose=False)
    project = client.predict("panels", api_name="/new_project")
    client.predict(project, {"width": W, "height": H}, api_name="/update_board")
    shots = [client.predict(project, {"title": f"S{i}", "duration": 12}, -1, api_name="/add_shot")["id"] for i in range(2)]
    back = np.zeros((H, W, 4), np.uint8)
    back[...] = (30, 60, 120, 255)
    post = np.zeros((H, W, 4), np.uint8)
    post[10:60, 40:50] = (230, 20, 20, 255)
    layers = [{"name": "sky", "depth": 2.0, "visible": True, "opacity": 1.0, "png": png_url(back)},
              {"name": "post", "depth": 0.6, "visible": True, "opacity": 1.0, "png": png_url(post)}]
    saved = client.predict(project, shots[0], layers, "first", 0, True, api_name="/save_panel")
    assert [layer["name"] for layer in saved["panels"][0]["layers"]] == ["sky", "post"]
    assert "path" not in saved["panels"][0]["layers"][0]  # paths are never handed out as files
    changed = client.predict(project, shots[0], [{"name": "post", "depth": 0.5}], "first", 0, api_name="/panel_layers")
    assert [layer["depth"] for layer in changed["panels"][0]["layers"]] == [2.0, 0.5]

    ora = client.predict(project, shots[0], "first", 0, "ora", api_name="/export_panel")
    with zipfile.ZipFile(ora) as archive:
        assert archive.read("mimetype") == b"image/openraster"
    assert [(layer.name, layer.depth) for layer in read_ora(Path(ora).read_bytes())] == [("sky", 2.0), ("post", 0.5)]
    imported = client.predict(project, shots[1], "last", 0, handle_file(ora), api_name="/import_panel")
    assert [layer["name"] for layer in imported["panels"][0]["layers"]] == ["sky", "post"]

    folder = services.access.folder(project)
    board = Project.open(folder).load()
    assert board.shot(shots[1]).keyframe("last").path == board.shot(shots[1]).panel("last").flat

    split = client.predict(project, shots[0], "first", 0, api_name="/split_keyframe")
    assert [layer["name"] for layer in split["panels"][0]["layers"]] == ["background", "midground", "foreground"]
    discarded = client.predict(project, shots[0], "first", 0, api_name="/discard_panel")
    assert discarded["panels"] == []
    with pytest.raises(AppError, match="no layer named"):
        client.predict(project, shots[1], [{"name": "moon", "depth": 3}], "last", 0, api_name="/panel_layers")
    with pytest.raises(AppError, match="PNG"):
        client.predict(project, shots[0], [{"name": "x", "png": "data:text/html;base64,PGI+"}], "first", 0, True,
                       api_name="/save_panel")
