"""The screenplay import in a real browser: upload a Fountain file in the Script tab, preview,
import; the wall groups the new panels under scene headers; a dialogue that no longer fits warns
on its panel and in the inspector, and "Fit duration to dialogue" clears it."""

from __future__ import annotations

from pathlib import Path

import pytest

from studio.board import Board, Shot
from studio.scenes import dialogue_timing
from studio.services import edits
from studio.storage import Project

from conftest import free_port
from test_ui_browser import CHROMIUM, Tab, browser, wait_for  # noqa: F401 - the browser fixture

SAMPLE = Path(__file__).parent / "fixtures" / "script" / "sample.fountain"
pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture
def app(tmp_path):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    from studio.ui.server import ServeOptions, start

    project = Project.create(tmp_path / "film", Board(title="Keeper", width=320, height=192,
                                                       shots=(Shot("existing", title="Existing shot", duration=24),)))
    services, demo, url = start(ServeOptions(project=project.root, port=free_port(), home=tmp_path / "home"), quiet=True)
    try:
        yield project, url
    finally:
        demo.close()
        services.close()


def test_upload_preview_import_scene_headers_timing_warning_and_fit(app, browser) -> None:
    project, url = app
    tab = Tab(browser, url)
    page = tab.page
    page.get_by_role("tab", name="Script").click()
    page.locator("#script-file input[type=file]").set_input_files(str(SAMPLE))
    page.get_by_label("one per dialogue exchange").check()
    page.locator("#script-preview").click()
    page.wait_for_function("document.querySelector('#script-summary').innerText.includes('2 scene(s), 6 shot(s)')")
    assert "INT. LIGHTHOUSE - NIGHT" in page.locator("#script-table").inner_text()
    assert len(Project.open(project.root).load().shots) == 1  # a preview writes nothing

    page.locator("#script-apply").click()
    page.wait_for_function("document.querySelector('#script-summary').innerText.includes('Imported')")
    board = wait_for(lambda: (b := Project.open(project.root).load()) and len(b.shots) == 7 and b, what="import saved")
    assert board.shots[0].id == "existing" and board.shots[0].title == "Existing shot"

    page.get_by_role("tab", name="Board", exact=True).click()
    page.wait_for_function("document.querySelectorAll('.panel').length === 7")
    heads = page.locator(".scene-head").all_inner_texts()
    assert [h.split("\n")[0].strip() for h in heads][:1] == ["Outside any scene"]
    assert any(h.startswith("1 INT. LIGHTHOUSE - NIGHT") for h in heads)
    assert any(h.startswith("2 EXT. CLIFF PATH - DAWN") for h in heads)
    assert page.locator(".panel .warn").count() == 0

    talking = board.shots[3]
    assert talking.dialogue
    edits.patch_shot(project, talking.id, {"duration": 24}, actor="someone else")
    page.wait_for_function("document.querySelectorAll('.panel .warn').length === 1")
    warned = page.locator(".panel", has=page.locator(".warn"))
    assert warned.get_attribute("data-id") == talking.id
    warned.click()
    tab.tab("Story")
    page.wait_for_function("document.querySelector('#dialogue-timing').innerText.includes('Dialogue needs')")
    page.screenshot(path="/tmp/script_import_wall.png")
    page.locator("#fit-dialogue").click()
    page.wait_for_function("document.querySelectorAll('.panel .warn').length === 0")
    fitted = Project.open(project.root).load()
    shot = fitted.shot(talking.id)
    assert shot.duration == dialogue_timing(fitted, shot).needed
    page.wait_for_function("document.querySelector('#dialogue-timing').innerText.includes('fits')")
    tab.close()
