"""Script import, dialogue timing and "fit duration to dialogue" through the named HTTP API."""

from __future__ import annotations

from pathlib import Path

import pytest

gradio_client = pytest.importorskip("gradio_client")
from gradio_client import Client  # noqa: E402
from gradio_client.exceptions import AppError  # noqa: E402

from conftest import free_port  # noqa: E402

SCRIPTS = Path(__file__).parent / "fixtures" / "script"


@pytest.fixture(scope="module")
def url(tmp_path_factory):
    from studio.ui.server import ServeOptions, start

    services, demo, address = start(ServeOptions(port=free_port(), home=tmp_path_factory.mktemp("home")), quiet=True)
    try:
        yield address
    finally:
        demo.close()
        services.close()


def test_import_preview_apply_timing_warnings_and_fit(url: str) -> None:
    client = Client(url, verbose=False)
    project = client.predict("script film", api_name="/new_project")
    text = (SCRIPTS / "sample.fountain").read_text()
    preview = client.predict(project, "sample.fountain", text, {"granularity": "exchange", "cap": 2}, True,
                             api_name="/import_script")
    assert preview["revision"] is None and preview["shots"] == 4
    assert [s["number"] for s in preview["scenes"]] == ["1", "2"]
    assert client.predict(project, api_name="/load_board")["shots"] == []

    done = client.predict(project, "sample.fdx", (SCRIPTS / "sample.fdx").read_text(), {"granularity": "exchange"},
                          False, api_name="/import_script")
    board = client.predict(project, api_name="/load_board")
    assert done["revision"] == board["revision"] and len(board["shots"]) == 6
    assert [s["number"] for s in board["scenes"]] == ["1", "2"] and [c["name"] for c in board["cast"]] == ["ADA", "TOM"]

    # imported cards fit their lines; shorten one and the timing names that shot alone
    talking = board["shots"][2]
    assert all(item["fits"] for item in client.predict(project, api_name="/dialogue_timing"))
    client.predict(project, talking["id"], {"duration": 24}, board["revision"], api_name="/patch_shot")
    timing = client.predict(project, api_name="/dialogue_timing")
    assert [item["shot_id"] for item in timing if not item["fits"]] == [talking["id"]]
    warning = next(item for item in timing if not item["fits"])
    assert warning["needed_frames"] == 87 and "dialogue needs 3.6 s (9 words at 2.5/s)" in warning["warning"]
    fitted = client.predict(project, talking["id"], -1, api_name="/fit_dialogue")
    assert fitted["shot"]["duration"] == 87
    assert all(item["fits"] for item in client.predict(project, api_name="/dialogue_timing"))

    # scene numbering is a board setting, and every shot number follows it
    client.predict(project, {"shot_numbering": "scene", "words_per_second": 3}, api_name="/update_board")
    numbers = [item["number"] for item in client.predict(project, api_name="/dialogue_timing")]
    assert numbers == ["1", "1A", "1B", "2", "2A", "2B"]


def test_a_malformed_script_is_refused_naming_the_line(url: str) -> None:
    client = Client(url, verbose=False)
    project = client.predict("bad script", api_name="/new_project")
    before = client.predict(project, api_name="/load_board")
    with pytest.raises(AppError, match=r"line 3: .*never closed; nothing was imported"):
        client.predict(project, "bad.fountain", "INT. HALL - DAY\n\nShe waits. /* oops\n", {}, False,
                       api_name="/import_script")
    with pytest.raises(AppError, match="Granularity: must be one of scene, action, exchange"):
        client.predict(project, "a.fountain", "INT. HALL - DAY\n", {"granularity": "page"}, False,
                       api_name="/import_script")
    assert client.predict(project, api_name="/load_board") == before
