"""The Draw tab in a real browser, beyond drawing: another tab's save shows by the page's poll
(and never wipes strokes that are not saved), an imported file lands as the panel the user picks,
and an uploaded keyframe is split into depth layers, adjusted and discarded. Fails on any 5xx
or error toast, like every browser test."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.board import Board, CameraMove, Shot
from studio.services import edits
from studio.storage import Project

from conftest import served
from test_drawing_browser import colour, pick_layer, stroke
from test_ui_browser import CHROMIUM, Tab, browser, wait_for  # noqa: F401 - the browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]
W, H = 416, 240


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    home = tmp_path_factory.mktemp("previz-home")
    board = Board(title="Sync", width=W, height=H, shots=(
        Shot(id="a1", title="Pier", duration=12, camera=(CameraMove("truck_right", 1.0, "linear"),)),
        Shot(id="a2", title="Lamp", duration=12),
        Shot(id="a3", title="Cliff", duration=12),
    ))
    project = Project.create(tmp_path_factory.mktemp("projects") / "sync", board)
    with served(project, home) as url:
        yield project, url


def shot(project: Project, shot_id: str) -> Shot:
    return Project.open(project.root).load().shot(shot_id)


def layer_names(page) -> list[str]:
    return page.evaluate("[...document.querySelectorAll('#draw .layer input[type=text]')].map(i => i.value)")


def draw_tab(tab: Tab, index: int) -> dict:
    tab.select(index)
    tab.tab("Draw")
    canvas = tab.page.locator("#draw .pointer")
    canvas.wait_for()
    return canvas.bounding_box()


def add_layer(page, name: str) -> None:
    page.locator("#draw [data-act=add]").click()
    field = page.locator("#draw .layer.active input[type=text]")
    field.fill(name)
    field.dispatch_event("change")


def test_another_tabs_save_shows_by_the_poll_but_never_over_unsaved_strokes(app, browser):
    project, url = app
    mine, theirs = Tab(browser, url), Tab(browser, url)
    box = draw_tab(mine, 0)
    their_box = draw_tab(theirs, 0)
    assert layer_names(mine.page) == ["background", "midground", "foreground"]

    # they add a layer and save: my clean canvas shows it without reselecting the shot
    add_layer(theirs.page, "sky")
    colour(theirs.page, "#3050a0")
    stroke(theirs.page, their_box, [(0.1, 0.1), (0.9, 0.1)])
    theirs.page.locator("#draw [data-act=save]").click()
    wait_for(lambda: shot(project, "a1").panel("first"), what="their saved panel")
    mine.page.wait_for_function("[...document.querySelectorAll('#draw .layer input[type=text]')]"
                                ".some(i => i.value === 'sky')", timeout=15_000)
    assert mine.page.locator("#draw .draw-notice").is_hidden()

    # I draw (not saved); they save again: my strokes stay and a notice says why nothing changed
    pick_layer(mine.page, "foreground")
    colour(mine.page, "#e02020")
    stroke(mine.page, box, [(0.5, 0.4), (0.5, 0.9)])
    add_layer(theirs.page, "moon")
    theirs.page.locator("#draw [data-act=save]").click()
    wait_for(lambda: "moon" in [layer.name for layer in shot(project, "a1").panel("first").layers],
             what="their second save")
    mine.page.locator("#draw .draw-notice").wait_for(state="visible", timeout=15_000)
    assert "moon" not in layer_names(mine.page)
    painted = mine.page.evaluate("""() => {
        const row = [...document.querySelectorAll('#draw .layer input[type=text]')].findIndex(i => i.value === 'foreground');
        const canvas = document.querySelectorAll('#draw .planes canvas')[row];
        const px = canvas.getContext('2d').getImageData(canvas.width / 2, canvas.height * 0.65, 1, 1).data;
        return [px[0], px[3]];
    }""")
    assert painted[0] > 200 and painted[1] > 200, painted  # my red stroke is still on the canvas
    mine.page.screenshot(path="/tmp/draw-notice.png")

    # I choose to load the saved panel: their layers replace my unsaved strokes
    mine.page.locator("#draw [data-act=reload]").click()
    mine.page.wait_for_function("[...document.querySelectorAll('#draw .layer input[type=text]')]"
                                ".some(i => i.value === 'moon')")
    assert mine.page.locator("#draw .draw-notice").is_hidden()
    mine.close()
    theirs.close()


def test_an_imported_file_becomes_the_panel_the_user_picks(app, browser, tmp_path: Path):
    project, url = app
    tab = Tab(browser, url)
    page = tab.page
    draw_tab(tab, 1)
    picture = tmp_path / "dusk.png"
    Image.fromarray(np.dstack([np.full((H, W), 180, np.uint8), np.zeros((H, W), np.uint8),
                               np.full((H, W), 90, np.uint8)])).save(picture)

    page.locator("#draw-import-role").get_by_label("last").check()
    page.locator("#draw-import input[type=file]").set_input_files(str(picture))
    page.locator("#draw-status").get_by_text("imported dusk.png as the last panel").wait_for()
    lamp = shot(project, "a2")
    assert lamp.panel("first") is None and lamp.panel("last") is not None
    assert lamp.keyframe("last").path == lamp.panel("last").flat and lamp.keyframe("first") is None

    page.locator("#draw-import-role").get_by_label("mid").check()
    page.locator("#draw-import-frame input").fill("5")
    page.locator("#draw-import input[type=file]").set_input_files(str(picture))
    page.locator("#draw-status").get_by_text("imported dusk.png as the mid panel at frame 5").wait_for()
    mid = shot(project, "a2").keyframe("mid")
    assert mid is not None and mid.frame == 5
    assert sorted((p.role, p.frame) for p in shot(project, "a2").panels) == [("last", 0), ("mid", 5)]
    tab.close()


def test_split_an_uploaded_keyframe_into_layers_adjust_a_depth_and_discard(app, browser):
    project, url = app
    import io

    sky = np.zeros((H * 2, W * 2, 3), np.uint8)
    sky[: H] = (120, 170, 230)  # sky over a ground, a dark figure in front
    sky[H:] = (90, 120, 60)
    sky[H // 2: H * 2 - 20, W - 60: W + 60] = (30, 25, 20)
    buffer = io.BytesIO()
    Image.fromarray(sky).save(buffer, format="PNG")
    edits.set_keyframe(project, "a3", buffer.getvalue())
    keyframe = shot(project, "a3").keyframe("first").path

    tab = Tab(browser, url)
    page = tab.page
    draw_tab(tab, 2)
    page.locator("#draw [data-act=split]").click()
    page.locator("#draw-status").get_by_text("split into depth layers").wait_for()
    page.wait_for_function("[...document.querySelectorAll('#draw .layer input[type=text]')].map(i => i.value).join() "
                           "=== 'background,midground,foreground'")
    split = shot(project, "a3").panel("first")
    assert [layer.depth for layer in split.layers] == [2.0, 1.0, 0.6]
    assert shot(project, "a3").keyframe("first").path == keyframe  # the photo stays the keyframe
    page.locator("#draw").screenshot(path="/tmp/draw-split.png")

    depth = page.locator("#draw .layer").nth(1).locator("input[type=number]")  # midground
    depth.fill("1.5")
    depth.dispatch_event("change")
    page.locator("#draw [data-act=save]").click()
    wait_for(lambda: [layer.depth for layer in shot(project, "a3").panel("first").layers] == [2.0, 1.5, 0.6],
             what="the adjusted depth")

    page.locator("#draw [data-act=discard]").click()
    page.locator("#draw-status").get_by_text("layers discarded").wait_for()
    wait_for(lambda: shot(project, "a3").panel("first") is None, what="the discarded split")
    assert shot(project, "a3").keyframe("first") is not None
    tab.close()
