"""The studio in a real browser: Debian's chromium driven by Playwright (never `playwright install`).

One walk through what a new user does: open the app, add a card, type a prompt, pick a camera
move, generate, watch the take play in the card, reorder, export and download. The full-page
screenshot it takes is the one the README shows (docs/screenshot.png).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from studio.storage import Project

from conftest import free_port

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 60_000

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def small_sample(home: Path) -> Project:
    """The sample board's first three shots, smaller and shorter, in a folder of its own."""
    from studio.services.workspace import Workspace

    project = Workspace(home).first_project()
    project.update(lambda b: b.replace(
        width=320, height=192,
        shots=tuple(s.replace(duration=24, takes=(), chosen_take=None, continuity=False) for s in b.shots[:3]),
    ))
    return project


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (see DEVELOPERS.md)")
    from studio.ui.server import ServeOptions, start

    home = tmp_path_factory.mktemp("previz-home")
    project = small_sample(home)
    studio, demo, url = start(ServeOptions(project=project.root, port=free_port(), home=home), quiet=True)
    try:
        yield project, url
    finally:
        demo.close()
        studio.close()


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


def card_titles(page) -> list[str]:
    return [text.split(". ", 1)[1] for text in page.locator(".shot-card h3").all_inner_texts()]


def wait_for(condition, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def test_build_generate_reorder_export_in_the_browser(app, browser, tmp_path):
    project, url = app
    page = browser.new_page(viewport={"width": 1400, "height": 1000}, accept_downloads=True)
    page.set_default_timeout(TIMEOUT_MS)
    server_errors: list[str] = []
    page.on("response", lambda response: server_errors.append(f"{response.status} {response.url}")
            if response.status >= 500 else None)
    page.goto(url)
    page.wait_for_selector(".shot-card")
    assert page.locator(".shot-card").count() == 3

    # Add a card, type a prompt, pick a camera move.
    page.click("#add-shot")
    page.wait_for_function("document.querySelectorAll('.shot-card').length === 4")
    new_id = Project.open(project.root).load().shots[3].id
    card = page.locator(f"#card-{new_id}")
    card.locator(".card-prompt textarea").fill("a lighthouse beam sweeps the fog")
    card.locator(".card-prompt textarea").blur()
    card.locator(".card-move input").click()
    page.get_by_role("option", name="dolly_in", exact=True).click()
    wait_for(lambda: Project.open(project.root).load().shot(new_id).camera[0].move == "dolly_in",
             what="the camera move to be saved")
    shot = Project.open(project.root).load().shot(new_id)
    assert shot.prompt == "a lighthouse beam sweeps the fog"

    # Generate; the take appears in the card and plays.
    card.locator(".card-generate").click()
    wait_for(lambda: Project.open(project.root).load().shot(new_id).chosen_take, what="the take")
    video = page.locator(f"#card-{new_id} .card-video video")
    video.wait_for(state="attached")
    page.wait_for_function(
        "id => { const v = document.querySelector(`#card-${id} .card-video video`);"
        " return v && v.readyState >= 2 && v.duration > 0.5; }", arg=new_id)
    page.evaluate(f"document.querySelector('#card-{new_id} .card-video video').muted = true")
    page.evaluate(f"document.querySelector('#card-{new_id} .card-video video').play()")
    page.wait_for_function(
        f"document.querySelector('#card-{new_id} .card-video video').currentTime > 0.2")
    src = video.get_attribute("src")
    assert src and "/gradio_api/file=" in src and project.root.as_posix() not in src

    # Reorder: the new card moves up one place, on screen and on disk.
    card.locator(".card-up").click()
    wait_for(lambda: Project.open(project.root).load().index_of(new_id) == 2, what="the move on disk")
    page.wait_for_function(
        "id => { const cards = [...document.querySelectorAll('.shot-card')];"
        " return cards.length === 4 && cards[2].id === `card-${id}`; }", arg=new_id)

    # Render the rest, then export and download the MP4 and the OTIO timeline.
    page.click("#render-missing")
    wait_for(lambda: all(s.chosen_take for s in Project.open(project.root).load().shots), timeout=90,
             what="every shot to have a take")
    page.wait_for_function("[...document.querySelectorAll('.shot-card .card-video video')]"
                           ".filter(v => v.readyState >= 2).length === 4")
    page.screenshot(path=str(REPO / "docs" / "screenshot.png"), full_page=True)
    page.get_by_role("tab", name="Timeline").click()
    page.wait_for_selector("#timeline-strip .seg")
    assert page.locator("#timeline-strip .seg").count() == 4
    page.click("#export-button")
    links = page.locator("#export-files a")
    wait_for(lambda: links.count() >= 2, timeout=90, what="download links")
    names = []
    for index in range(links.count()):
        with page.expect_download() as download_info:
            links.nth(index).click()
        download = download_info.value
        target = tmp_path / download.suggested_filename
        download.save_as(target)
        names.append(target.name)
        assert target.stat().st_size > 100
    assert "animatic.mp4" in names and "board.otio" in names

    from studio.media import probe_video

    board = Project.open(project.root).load()
    assert probe_video(tmp_path / "animatic.mp4").frames == board.total_frames
    # Regression: a poll listener inside @gr.render used to be hit after a re-render -> HTTP 500.
    assert server_errors == []
    page.close()


def test_edit_refusal_shows_a_message_at_the_card(app, browser):
    project, url = app
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    page.set_default_timeout(TIMEOUT_MS)
    page.goto(url)
    page.wait_for_selector(".shot-card")
    before = (project.root / "board.json").read_bytes()
    first = Project.open(project.root).load().shots[0]
    seed_box = page.locator(f"#card-{first.id} .card-seed input")
    seed_box.fill("not a seed")
    seed_box.press("Enter")
    page.wait_for_selector(f"#card-{first.id} .card-error:has-text('Seed')")
    assert (project.root / "board.json").read_bytes() == before
    page.close()
