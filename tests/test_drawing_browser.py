"""Drawing a panel in a real browser (Debian's chromium through Playwright): strokes on three
layers, saved, filmed by a dolly and a truck with parallax, exported as OpenRaster and imported
back. Fails on any 5xx or error toast, like every browser test."""

from __future__ import annotations

import zipfile
from pathlib import Path

import numpy as np
import pytest

from studio.board import Board, CameraMove, Shot
from studio.services.panels import read_ora
from studio.services.render import render_shot
from studio.media import read_video
from studio.storage import Project

from conftest import served
from test_ui_browser import CHROMIUM, Tab, browser, wait_for  # noqa: F401 - the browser fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]
W, H = 416, 240


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    home = tmp_path_factory.mktemp("previz-home")
    board = Board(title="Drawn", width=W, height=H, shots=(
        Shot(id="d1", title="Harbour", duration=12, camera=(CameraMove("truck_right", 1.0, "linear"),)),
        Shot(id="d2", title="Quay", duration=12, continuity=True, camera=(CameraMove("truck_right", 1.0, "linear"),)),
    ))
    project = Project.create(tmp_path_factory.mktemp("projects") / "drawn", board)
    with served(project, home) as url:
        yield project, url


def stroke(page, box, points, steps: int = 8) -> None:
    """A pointer stroke through ``points`` given as fractions of the canvas."""
    x0, y0 = box["x"] + box["width"] * points[0][0], box["y"] + box["height"] * points[0][1]
    page.mouse.move(x0, y0)
    page.mouse.down()
    for fx, fy in points[1:]:
        page.mouse.move(box["x"] + box["width"] * fx, box["y"] + box["height"] * fy, steps=steps)
    page.mouse.up()


def pick_layer(page, name: str) -> None:
    index = page.evaluate("(name) => [...document.querySelectorAll('#draw .layer input[type=text]')]"
                          ".findIndex(i => i.value === name)", name)
    assert index >= 0, f"no layer named {name}"
    page.locator("#draw .layer").nth(index).click(position={"x": 60, "y": 4})
    page.locator("#draw .layer.active input[type=text]").wait_for()
    assert page.locator("#draw .layer.active input[type=text]").input_value() == name


def colour(page, hex_value: str) -> None:
    page.locator("#draw [data-k=colour]").evaluate(
        f"(el) => {{ el.value = '{hex_value}'; el.dispatchEvent(new Event('input', {{bubbles: true}})); }}")


def test_draw_three_layers_save_render_with_parallax_and_round_trip_an_ora(app, browser, tmp_path: Path):
    project, url = app
    tab = Tab(browser, url)
    page = tab.page
    tab.tab("Draw")
    canvas = page.locator("#draw .pointer")
    canvas.wait_for()
    box = canvas.bounding_box()
    assert box["width"] / box["height"] == pytest.approx(W / H, rel=0.02)  # the board's aspect
    assert page.locator("#draw .layer").count() == 3

    page.locator("#draw [data-k=size]").fill("30")
    pick_layer(page, "background")  # a dark horizon band across the whole width
    colour(page, "#203050")
    stroke(page, box, [(0.0, 0.35), (1.0, 0.35)])
    page.locator("#draw [data-tool=fill]").click()
    page.mouse.click(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.1)  # fill the sky
    page.locator("#draw [data-tool=brush]").click()
    pick_layer(page, "midground")  # a red post
    colour(page, "#e02020")
    stroke(page, box, [(0.45, 0.45), (0.45, 0.8)])
    pick_layer(page, "foreground")  # a green post, then an undone blue mark
    colour(page, "#20c040")
    stroke(page, box, [(0.6, 0.5), (0.6, 0.95)])
    colour(page, "#2040ff")
    stroke(page, box, [(0.2, 0.6), (0.3, 0.6)])
    page.locator("#draw [data-act=undo]").click()
    page.screenshot(path="/tmp/drawing.png")
    page.locator("#draw [data-act=save]").click()
    shot = wait_for(lambda: (Project.open(project.root).load().shot("d1").panel("first") or None)
                    and Project.open(project.root).load().shot("d1"), what="the saved panel")
    panel = shot.panel("first")
    assert [layer.name for layer in panel.layers] == ["background", "midground", "foreground"]
    assert shot.keyframe("first").path == panel.flat
    page.locator("#draw-status").get_by_text("first panel saved").wait_for()
    page.locator("#draw").screenshot(path=str(Path(__file__).resolve().parents[1] / "docs" / "drawing.png"))

    from PIL import Image

    def layer(index: int) -> np.ndarray:
        return np.asarray(Image.open(project.resolve(panel.layers[index].path)))
    back, mid, front = layer(0), layer(1), layer(2)
    assert back[..., 3].min() == 255 and back[int(H * 0.1), W // 2, 2] > back[int(H * 0.1), W // 2, 0]  # filled sky
    assert mid[int(H * 0.6), int(W * 0.45)][0] > 200 and mid[..., 3].mean() < 40  # only the red post
    assert front[int(H * 0.7), int(W * 0.6)][1] > 150 and front[int(H * 0.6), int(W * 0.25), 3] == 0  # undo worked

    # a truck past the panel: each post moves by its own amount, the near one most
    take = render_shot(project, "d1")
    frames = read_video(project.resolve(take.path)).astype(int)

    def column(frame: np.ndarray, channel: int, row: float) -> float:
        line = frame[int(H * row)]
        score = line[:, channel] - line[:, [c for c in range(3) if c != channel]].max(axis=1)
        return float(np.argmax(score))
    red = column(frames[0], 0, 0.6) - column(frames[-1], 0, 0.6)
    green = column(frames[0], 1, 0.85) - column(frames[-1], 1, 0.85)
    assert red > 5 and green > red * 1.3, (red, green)  # near layer (0.6) moves more than mid (1.0)

    # a dolly in: the near post grows more than the mid one (a plane at 0.6 nears faster than at 1)
    from studio.services import edits

    edits.patch_shot(project, "d1", {"camera": [{"move": "dolly_in", "intensity": 1.0, "easing": "linear"}]})
    dolly = read_video(project.resolve(render_shot(project, "d1").path)).astype(int)

    def width(frame: np.ndarray, channel: int, row: float) -> int:
        line = frame[int(H * row)]
        others = line[:, [c for c in range(3) if c != channel]].max(axis=1)
        return int(((line[:, channel] - others) > 80).sum())
    mid_growth = width(dolly[-1], 0, 0.6) / width(dolly[0], 0, 0.6)
    near_growth = width(dolly[-1], 1, 0.75) / width(dolly[0], 1, 0.75)
    assert mid_growth > 1.2 and near_growth > mid_growth * 1.25, (mid_growth, near_growth)
    edits.patch_shot(project, "d1", {"camera": [{"move": "truck_right", "intensity": 1.0, "easing": "linear"}]})
    take = render_shot(project, "d1")
    frames = read_video(project.resolve(take.path)).astype(int)

    # a continuity shot cuts with no jump
    following = render_shot(project, "d2")
    first_of_next = read_video(project.resolve(following.path))[0].astype(int)
    assert np.abs(first_of_next - frames[-1]).mean() < 2.5

    # export as OpenRaster from the browser, read it back, import it into the next shot
    page.locator("#draw [data-act=export-ora]").click()
    link = page.locator("#draw-export a").first
    link.wait_for()
    with page.expect_download() as download:
        link.click()
    saved = tmp_path / "panel.ora"
    download.value.save_as(saved)
    with zipfile.ZipFile(saved) as archive:
        assert archive.read("mimetype") == b"image/openraster"
    assert [l.name for l in read_ora(saved.read_bytes())] == ["background", "midground", "foreground"]
    tab.select(1)
    tab.tab("Draw")
    page.locator("#draw-import input[type=file]").set_input_files(str(saved))
    wait_for(lambda: Project.open(project.root).load().shot("d2").panel("first"), what="the imported panel")
    imported = Project.open(project.root).load().shot("d2").panel("first")
    assert [layer.name for layer in imported.layers] == ["background", "midground", "foreground"]
    assert [layer.depth for layer in imported.layers] == [2.0, 1.0, 0.6]
    page.locator("#draw-status").get_by_text("imported panel.ora").wait_for()
    page.wait_for_function("document.querySelectorAll('#draw .layer').length === 3")
    # onion skins of the previous panel and (continuity) the previous shot's last frame
    onions = page.locator("#draw .onions label")
    assert {text.split(": ", 1)[1] for text in onions.all_inner_texts()} >= {"previous panel", "previous shot's last frame"}
    page.locator("#draw .onions label", has_text="last frame").locator("input").check()
    page.wait_for_function("document.querySelectorAll('#draw .onion img').length === 1")
    # an image imported as a layer lands above the active one, named after its file
    picture = tmp_path / "photo.png"
    Image.fromarray(np.full((60, 100, 3), 200, np.uint8)).save(picture)
    page.locator("#draw [data-k=image]").set_input_files(str(picture))
    page.wait_for_function("[...document.querySelectorAll('#draw .layer input[type=text]')].some(i => i.value === 'photo')")
    assert page.locator("#draw .layer").count() == 4
    tab.close()
