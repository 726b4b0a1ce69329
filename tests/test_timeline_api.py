"""The timeline over the HTTP API (gradio_client against a real server on 127.0.0.1): export with
every option, the track data, the scratch track's settings, and importing a re-cut."""

from __future__ import annotations

from pathlib import Path

import opentimelineio as otio
import pytest
from pypdf import PdfReader

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client, handle_file  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from conftest import free_port  # noqa: E402
from tests.exportkit import write_tone  # noqa: E402

SMALL = {"width": 96, "height": 64, "fps": "12"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    from studio.ui.server import ServeOptions, start

    home = tmp_path_factory.mktemp("previz-home")
    services, demo, url = start(ServeOptions(port=free_port(), home=home), quiet=True)
    try:
        yield services, url
    finally:
        demo.close()
        services.close()


@pytest.fixture
def client(server):
    return Client(server[1], verbose=False)


def _board(client: Client, tmp_path: Path, shots: int = 4) -> tuple[str, list[str]]:
    project = client.predict("Timeline API", api_name="/new_project")
    client.predict(project, SMALL, api_name="/update_board")
    ids = [client.predict(project, {"title": f"S{i + 1}", "duration": 12, "move": "pan_left"}, -1,
                          api_name="/add_shot")["id"] for i in range(shots)]
    client.predict(project, True, True, api_name="/render_board")
    write_tone(tmp_path / "tone.wav", seconds=3.0)
    client.predict(project, 0, handle_file(str(tmp_path / "tone.wav")), api_name="/upload_audio")
    return project, ids


def test_export_options_track_audio_and_recut_over_http(client: Client, tmp_path: Path) -> None:
    project, ids = _board(client, tmp_path)
    plain = Path(client.predict(project, "pdf", {}, api_name="/export"))
    assert len(PdfReader(str(plain)).pages) == 1  # 4 panels per page by default
    two = Path(client.predict(project, "pdf", {"per_page": 2}, api_name="/export"))
    assert len(PdfReader(str(two)).pages) == 2
    with pytest.raises(AppError, match="unknown export option 'bogus'"):
        client.predict(project, "pdf", {"bogus": 1}, api_name="/export")
    with pytest.raises(AppError, match="per_page must be one of"):
        client.predict(project, "pdf", {"per_page": 5}, api_name="/export")
    edit_file = Path(client.predict(project, "otio", {"include_audio": False}, api_name="/export"))
    assert not otio.adapters.read_from_file(str(edit_file)).audio_tracks()

    track = client.predict(project, api_name="/timeline")
    assert [s["id"] for s in track["shots"]] == ids and track["total_frames"] == 48
    assert track["audio"]["frames"] == 36 and max(track["audio"]["peaks"]) > 0.5
    saved = client.predict(project, {"offset": 6, "level": -6.0}, track["revision"], api_name="/patch_audio")
    assert (saved["audio"]["offset"], saved["audio"]["level"]) == (6, -6.0)
    with pytest.raises(AppError, match="conflict"):
        client.predict(project, {"offset": 8}, track["revision"], api_name="/patch_audio")
    with pytest.raises(AppError, match="level"):
        client.predict(project, {"level": 40}, -1, api_name="/patch_audio")

    exported = Path(client.predict(project, "otio", {}, api_name="/export"))
    timeline = otio.adapters.read_from_file(str(exported))
    clips = list(timeline.video_tracks()[0].find_clips())
    timeline.video_tracks()[0].remove(clips[2])
    text = otio.adapters.write_to_string(timeline)
    preview = client.predict(project, "recut.otio", text, True, -1, api_name="/import_edit")
    assert [c["kind"] for c in preview["changes"]] == ["remove"] and preview["revision"] is None
    applied = client.predict(project, "recut.otio", text, False, preview["base_revision"], api_name="/import_edit")
    board = client.predict(project, api_name="/load_board")
    assert applied["revision"] == board["revision"] and [s["id"] for s in board["shots"]] == [ids[0], ids[1], ids[3]]
    board = client.predict(project, api_name="/undo")
    assert [s["id"] for s in board["shots"]] == ids
    with pytest.raises(AppError, match="not an edit file"):
        client.predict(project, "recut.mov", text, True, -1, api_name="/import_edit")
    removed = client.predict(project, {"remove": True}, -1, api_name="/patch_audio")
    assert removed["audio"] is None
