"""The per-shot level of a take's own sound in the Timeline tab (Playwright, Debian's chromium):
the inspector's take strip marks takes with sound; the edit row shows a level for a take with
sound and says "silent take" otherwise; setting it
with the mouse is an undoable board edit; the HTTP API's /timeline and /patch_shot say the same.
Fails on any 5xx response or error toast."""

from __future__ import annotations

import json

import numpy as np
import pytest

from studio.board import FrameRate, Transition
from studio.media import SoundInput, write_video
from studio.storage import Project
from test_ui_browser import CHROMIUM, Tab, browser, wait_for  # noqa: F401 - browser is a fixture

from conftest import served

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """Three shots of the sample board at 320x192, 12 fps, rendered by the animatic; shots 1 and 2
    then get takes with sound (as LTX-2's land: an AAC track and the sidecar's audio record)."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    from studio.services.render import render_board
    from studio.services.workspace import Workspace
    home = tmp_path_factory.mktemp("previz-home")
    project = Workspace(home).first_project()
    project.update(lambda b: b.replace(width=320, height=192, fps=FrameRate(12), shots=tuple(
        s.replace(duration=12, takes=(), chosen_take=None, continuity=False, transition=Transition(),
                  keyframes=()) for s in b.shots[:3])))
    render_board(project, backend="animatic")
    for shot in project.load().shots[:2]:
        take = shot.chosen()
        tone = (0.3 * np.sin(np.arange(48000) * 2 * np.pi * 440 / 48000)).astype(np.float32)[None]
        write_video(project.resolve(take.path), np.full((12, 192, 320, 3), 90, np.uint8), FrameRate(12),
                    audio=SoundInput(tone, 48000))
        sidecar = project.resolve(take.sidecar_path)
        record = json.loads(sidecar.read_text())
        record["audio"] = {"codec": "aac", "rate": 48000, "channels": 1, "seconds": 1.0}
        sidecar.write_text(json.dumps(record))
    with served(project, home) as url:
        yield project, url


def board(project: Project):
    return Project.open(project.root).load()


def test_take_sound_level_per_shot_from_the_timeline_tab(app, browser):
    project, url = app
    second, third = board(project).shots[1], board(project).shots[2]
    tab = Tab(browser, url)
    page = tab.page
    tab.select(0)  # the inspector's take strip says which takes have sound
    tab.tab("Takes")
    page.wait_for_function("document.querySelector('#take-strip').innerText.includes('♪ sound')")
    tab.select(2)
    page.wait_for_function("document.querySelector('#take-strip').innerText.includes('T1') && "
                           "!document.querySelector('#take-strip').innerText.includes('♪')")
    page.get_by_role("tab", name="Timeline").click()
    page.wait_for_selector(".tl-clip")
    page.locator(f'.tl-clip[data-id="{third.id}"]').click()
    page.wait_for_function("document.querySelector('.tl-clip-edit').innerText.includes('Shot 3')")
    assert page.locator(".tl-clip-edit .tl-silent").inner_text() == "silent take"
    assert page.locator(".tl-take-level").count() == 0

    page.locator(f'.tl-clip[data-id="{second.id}"]').click()
    page.wait_for_function("document.querySelector('.tl-clip-edit').innerText.includes('Shot 2')")
    slider = page.locator(".tl-take-level")
    assert slider.input_value() == "0"
    box = slider.bounding_box()
    page.mouse.click(box["x"] + box["width"] * 48 / 72, box["y"] + box["height"] / 2)  # about -12 of -60..12
    level = wait_for(lambda: board(project).shot(second.id).take_audio_level or None, what="the level to reach the board")
    assert -15 <= level <= -9
    page.wait_for_function(f"document.querySelector('.tl-take-level-db').innerText === '{level:g} dB'")
    assert board(project).shots[0].take_audio_level == 0.0  # only that shot

    page.locator("#undo").click()
    wait_for(lambda: board(project).shot(second.id).take_audio_level == 0.0, what="undo of the level")
    page.wait_for_function("document.querySelector('.tl-take-level').value === '0'")
    page.screenshot(path="/tmp/take-sound-level.png")
    tab.close()


def test_take_sound_level_over_the_http_api(app):
    from gradio_client import Client

    project, url = app
    client = Client(url, verbose=False)
    folder = str(project.root)  # a local app with no login takes a folder
    first = board(project).shots[0]
    client.predict(folder, first.id, {"take_audio_level": -6}, board(project).revision, api_name="/patch_shot")
    assert board(project).shot(first.id).take_audio_level == -6.0
    with pytest.raises(Exception, match="take_audio_level"):
        client.predict(folder, first.id, {"take_audio_level": 30}, board(project).revision, api_name="/patch_shot")
    track = client.predict(folder, api_name="/timeline")
    shots = {s["id"]: s for s in track["shots"]}
    assert shots[first.id]["take_audio"] is True and shots[first.id]["take_audio_level"] == -6.0
    assert shots[board(project).shots[2].id]["take_audio"] is False
