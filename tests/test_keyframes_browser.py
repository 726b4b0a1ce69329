"""Keyframe variations in a real browser (Debian's chromium through Playwright): the Image tab
makes four seeded variations with a tiny random-weight FLUX, one is clicked and used as the first
keyframe, and the wall shows it as the panel. Fails on any 5xx or error toast."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.board import Board, Shot
from studio.services.keyframes import list_variations
from studio.storage import Project

from conftest import free_port
from test_ui_browser import CHROMIUM, Tab, browser, wait_for  # noqa: F401 - the browser fixture

import tiny_image_pipelines as tiny_image

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")]
W, H = 128, 96


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    from studio.ui.server import ServeOptions, start

    home = tmp_path_factory.mktemp("previz-home")
    model = tiny_image.build_flux(tmp_path_factory.mktemp("models") / "tiny-flux")
    board = Board(title="Image first", width=W, height=H, shots=(
        Shot(id="k1", title="Keeper", prompt="a lighthouse keeper at night", shot_size="CU", duration=12, seed=40),
        Shot(id="k2", title="Sea", prompt="the sea", duration=12),
    ))
    project = Project.create(tmp_path_factory.mktemp("projects") / "image-first", board)
    services, demo, url = start(ServeOptions(project=project.root, port=free_port(), home=home), quiet=True)
    try:
        yield project, url, model
    finally:
        demo.close()
        services.close()


def test_make_four_variations_pick_one_and_see_it_as_the_panel(app, browser, tmp_path: Path):
    project, url, model = app
    tab = Tab(browser, url)
    page = tab.page
    tab.select(0)
    before = page.locator(".panel").first.locator("img").count()
    tab.tab("Image")
    model_box = page.locator("#kf-model input")
    model_box.fill(str(model))
    model_box.press("Enter")
    page.locator("#kf-steps input").fill("2")
    page.locator("#kf-generate").click()
    page.wait_for_function("document.querySelectorAll('#kf-gallery img').length === 4", timeout=240_000)
    assert "4 variation(s) made" in page.locator("#kf-status").inner_text()
    variations = list_variations(project, "k1")
    assert len(variations) == 4 and sorted(v.seed for v in variations) == [40, 41, 42, 43]
    assert all(v.record["model"] == str(model) for v in variations)
    page.locator("#kf-gallery img").nth(1).click()
    page.locator("#kf-use").click()
    page.wait_for_function("document.querySelector('#kf-status').innerText.includes('first keyframe')")
    keyframe = wait_for(lambda: Project.open(project.root).load().shot("k1").keyframe("first"), what="keyframe")
    picked = np.asarray(Image.open(project.resolve(keyframe.path)))
    assert np.array_equal(picked, np.asarray(Image.open(project.resolve(variations[1].path))))
    # the wall shows the picked picture as the panel (a poster of the keyframe)
    page.wait_for_function("document.querySelector('.panel img') && document.querySelector('.panel img').src.length > 0")
    assert page.locator(".panel").first.locator("img").count() >= max(1, before)
    page.screenshot(path=str(tmp_path / "keyframes.png"))
    page.screenshot(path="/tmp/keyframes_browser.png")
    tab.close()
