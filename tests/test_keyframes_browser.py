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

from conftest import served
from test_ui_browser import CHROMIUM, Tab, browser, wait_for  # noqa: F401 - the browser fixture

import tiny_image_pipelines as tiny_image

pytestmark = [pytest.mark.browser, pytest.mark.slow,
              pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning")]
W, H = 128, 96


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    home = tmp_path_factory.mktemp("previz-home")
    model = tiny_image.build_flux(tmp_path_factory.mktemp("models") / "tiny-flux")
    board = Board(title="Image first", width=W, height=H, shots=(
        Shot(id="k1", title="Keeper", prompt="a lighthouse keeper at night", shot_size="CU", duration=12, seed=40),
        Shot(id="k2", title="Sea", prompt="the sea", duration=12),
    ))
    project = Project.create(tmp_path_factory.mktemp("projects") / "image-first", board)
    with served(project, home) as url:
        yield project, url, model


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
    # the wall shows the picked picture as the panel (a poster of the keyframe; before, no picture)
    assert before == 0
    page.wait_for_function("(() => { const img = document.querySelector('.panel img');"
                           " return img && img.complete && img.naturalWidth > 0; })()")
    page.screenshot(path=str(tmp_path / "keyframes.png"))
    page.screenshot(path="/tmp/keyframes_browser.png")
    tab.close()


def test_a_character_with_a_description_and_a_reference_picture_from_board_settings(app, browser, tmp_path: Path):
    project, url, _ = app
    picture = tmp_path / "face.png"
    Image.fromarray(np.random.default_rng(3).integers(0, 256, (40, 30, 3), dtype=np.uint8)).save(picture)
    tab = Tab(browser, url)
    page = tab.page
    page.get_by_role("tab", name="Board settings").click()
    page.locator("#looks").get_by_text("Cast and locations").click()
    page.locator("#look-name input, #look-name textarea").first.fill("ADA")
    page.locator("#look-description textarea").fill("a keeper in a yellow oilskin")
    page.locator("#look-reference input[type=file]").set_input_files(str(picture))
    page.wait_for_timeout(500)
    page.locator("#look-save").click()
    page.wait_for_function("document.querySelector('#look-list').innerText.includes('yellow oilskin')")
    page.wait_for_function("document.querySelectorAll('#look-pictures img').length === 1")
    member = Project.open(project.root).load().cast[0]
    assert (member.name, member.description, len(member.references)) == ("ADA", "a keeper in a yellow oilskin", 1)
    stored = np.asarray(Image.open(project.resolve(member.references[0])))
    assert np.array_equal(stored, np.asarray(Image.open(picture)))
    # LoRAs for the board (Board settings) and for one shot (its Image tab), typed one per line
    page.locator("#s-loras textarea").fill("style/ink: 0.7")
    page.locator("#s-loras textarea").press("Tab")
    wait_for(lambda: Project.open(project.root).load().loras, what="board LoRAs")
    page.get_by_role("tab", name="Board", exact=True).click()
    tab.select(1)
    tab.tab("Image")
    tab.field("loras").fill("/models/sea.safetensors: 0.5")
    tab.field("loras").press("Tab")
    shot = wait_for(lambda: Project.open(project.root).load().shot("k2").loras, what="shot LoRAs")
    assert [(lora.source, lora.weight) for lora in shot] == [("/models/sea.safetensors", 0.5)]
    assert [(lora.source, lora.weight) for lora in Project.open(project.root).load().loras] == [("style/ink", 0.7)]
    tab.close()
