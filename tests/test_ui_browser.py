"""The storyboard wall in a real browser: Debian's chromium driven by Playwright (never
`playwright install`), used the way a person does: clicks, typing, keys, drag and drop, two
browser contexts on one project, a reload while renders run.

Every page fails its test on any HTTP 5xx response or any error toast. The screenshot of the
main walk is the one the README shows (docs/screenshot.png).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from studio.board import Shot
from studio.storage import Project

from conftest import served

REPO = Path(__file__).resolve().parents[1]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]
TIMEOUT_MS = 60_000
SCREEN = {"width": 1440, "height": 900}

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def small_sample(home: Path) -> Project:
    """The sample board's shots (14 of them: the 7 twice), smaller and shorter, in a folder of its own."""
    from studio.services.workspace import Workspace

    project = Workspace(home).first_project()
    project.update(lambda b: b.replace(
        width=320, height=192,
        shots=tuple(s.replace(duration=12, takes=(), chosen_take=None, continuity=False,
                              keyframes=tuple(k for k in s.keyframes if k.role == "first")) for s in b.shots)
        + tuple(Shot(id=f"extra{i}", title=f"Extra {i}", duration=12) for i in range(7)),
    ))
    return project


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package (see DEVELOPERS.md)")
    home = tmp_path_factory.mktemp("previz-home")
    project = small_sample(home)
    with served(project, home) as url:
        yield project, url


@pytest.fixture(scope="module")
def browser():
    playwright_api = pytest.importorskip("playwright.sync_api")
    with playwright_api.sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


class Tab:
    """One browser context on the app, recording every 5xx response and error toast."""

    def __init__(self, browser, url: str) -> None:
        self.context = browser.new_context(viewport=SCREEN, accept_downloads=True)
        self.page = self.context.new_page()
        self.page.set_default_timeout(TIMEOUT_MS)
        self.errors: list[str] = []
        self.page.on("response", lambda r: self.errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
        self.url = url
        self.open()

    def open(self) -> None:
        self.page.goto(self.url)
        self.page.wait_for_selector(".panel")
        self.page.wait_for_function("document.querySelector('#save-indicator').innerText.includes('saved')")

    def field(self, name: str):
        return self.page.locator(f"#insp-{name} input, #insp-{name} textarea").first

    def panel(self, index: int):
        return self.page.locator(".panel").nth(index)

    def select(self, index: int) -> None:
        self.panel(index).click()
        number = index + 1
        self.page.wait_for_function(f"document.querySelector('#inspector-heading').innerText.includes('Shot {number}')")

    def tab(self, name: str) -> None:
        self.page.locator("#inspector-tabs").get_by_role("tab", name=name).click()

    def choose(self, name: str, option: str) -> None:
        self.page.locator(f"#insp-{name} input").click()
        self.page.get_by_role("option", name=option, exact=True).click()

    def check_clean(self) -> None:
        toasts = self.page.locator(".toast-body.error").all_inner_texts()
        assert self.errors == [] and toasts == [], (self.errors, toasts)

    def close(self) -> None:
        self.check_clean()
        self.context.close()


def board(project: Project):
    return Project.open(project.root).load()


def wait_for(condition, timeout: float = 60.0, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition()
        if value:
            return value
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def test_the_wall_shows_a_screen_of_panels_and_the_inspector_edits_the_selected_one(app, browser):
    project, url = app
    tab = Tab(browser, url)
    page = tab.page
    assert page.locator(".panel").count() == 14
    visible = page.evaluate("[...document.querySelectorAll('.panel')].filter(p => {"
                            " const r = p.getBoundingClientRect(); return r.bottom <= innerHeight && r.top >= 0; }).length")
    assert visible >= 12, f"only {visible} panels fit on a 1440x900 screen"
    tab.select(1)
    second = board(project).shots[1]
    assert tab.field("title").input_value() == second.title

    tab.field("title").fill("The keeper, framed by the window")
    tab.field("title").press("Enter")
    wait_for(lambda: board(project).shots[1].title == "The keeper, framed by the window", what="title saved")
    page.wait_for_function("document.querySelectorAll('.panel')[1].innerText.includes('framed by the window')")
    tab.choose("shot_size", "MCU")
    tab.choose("angle", "low")
    tab.field("lens_mm").fill("35")
    tab.field("lens_mm").blur()
    tab.choose("move-0", "dolly_in")
    page.click("#add-move")
    wait_for(lambda: len(board(project).shots[1].camera) == 2, what="a second camera move")
    tab.choose("move-1", "pan_left")
    shot = wait_for(lambda: (s := board(project).shots[1]).camera[1].move == "pan_left" and s.lens_mm == 35 and s, what="edits")
    assert (shot.shot_size, shot.angle, shot.camera[0].move) == ("MCU", "low", "dolly_in")
    page.wait_for_function("document.querySelectorAll('.panel')[1].innerText.includes('dolly in + pan left')")
    tab.tab("Story")
    tab.field("action").fill("He turns from the window.")
    tab.field("action").blur()
    tab.field("speaker").fill("Keeper")
    tab.field("speaker").press("Enter")
    wait_for(lambda: board(project).shots[1].speaker == "Keeper" and board(project).shots[1].action, what="story fields")
    tab.close()


def test_generate_pick_compare_and_delete_takes(app, browser):
    # regression: the take picker was rendered disabled, so the newest take always won
    project, url = app
    tab = Tab(browser, url)
    page = tab.page
    tab.select(2)
    shot_id = board(project).shots[2].id
    page.locator("#take-count input").fill("3")
    page.click("#generate-n")
    wait_for(lambda: len(board(project).shot(shot_id).takes) == 3, timeout=90, what="three takes")
    page.wait_for_function("document.querySelectorAll('.panel')[2].querySelector('.badge').innerText === 'done'")
    tab.tab("Takes")
    thumbs = page.locator("#take-strip .thumbnail-item")
    wait_for(lambda: thumbs.count() == 3, what="three takes in the strip")
    first_take = board(project).shot(shot_id).takes[0].id
    thumbs.nth(0).click()
    wait_for(lambda: board(project).shot(shot_id).chosen_take == first_take, what="the first take chosen")
    page.wait_for_function("document.querySelector('#take-player video') !== null")

    takes = board(project).shot(shot_id).takes
    page.locator("#compare-a input").click()
    page.get_by_role("option", name=f"T1 (seed {takes[0].seed})").click()
    page.locator("#compare-b input").click()
    page.get_by_role("option", name=f"T2 (seed {takes[1].seed})").last.click()
    page.wait_for_function("document.querySelectorAll('#compare video').length === 2")
    page.evaluate("document.querySelectorAll('#compare video')[0].play()")
    page.wait_for_function("document.querySelectorAll('#compare video')[1].currentTime > 0.05")

    page.click("#delete-take")
    wait_for(lambda: len(board(project).shot(shot_id).takes) == 2, what="the take deleted")
    page.click("#undo")
    wait_for(lambda: len(board(project).shot(shot_id).takes) == 3, what="the delete undone")
    tab.close()


def test_typing_while_a_take_lands_and_a_new_keyframe_marks_the_take_stale(app, browser, tmp_path):
    # regression: a take landing re-rendered every card and wiped text being typed
    project, url = app
    tab = Tab(browser, url)
    page = tab.page
    tab.select(4)
    shot_id = board(project).shots[4].id
    prompt = tab.field("prompt")
    prompt.click()
    prompt.fill("")
    page.click("#generate")
    prompt.click()
    typed = "fog rolls in over the water while the boat"
    for word in typed.split(" "):
        prompt.type(word + " ", delay=20)
    wait_for(lambda: board(project).shot(shot_id).chosen_take, timeout=90, what="the take")
    time.sleep(2.5)  # several polls after the take landed
    assert prompt.input_value() == typed + " "
    prompt.blur()
    wait_for(lambda: board(project).shot(shot_id).prompt == typed + " ", what="the prompt saved")
    page.wait_for_function("document.querySelectorAll('.panel')[4].querySelector('.badge').innerText === 'stale'")

    # a new keyframe shows up at once and marks the take stale; a refused one says so, briefly
    tab.tab("Keyframes")
    bad = tmp_path / "not-an-image.png"
    bad.write_text("hello")
    page.locator("#keyframe-upload input[type=file]").set_input_files(str(bad))
    page.wait_for_function("document.querySelector('#save-indicator').innerText.includes('Keyframe refused')")
    from PIL import Image

    good = tmp_path / "frame.png"
    Image.new("RGB", (64, 40), (10, 200, 30)).save(good)
    page.locator("#keyframe-upload input[type=file]").set_input_files(str(good))
    wait_for(lambda: board(project).shot(shot_id).keyframes, what="the keyframe")
    page.wait_for_function("!document.querySelector('#save-indicator').innerText.includes('refused')")
    page.wait_for_function("document.querySelectorAll('#keyframe-gallery img').length >= 1")
    tab.close()


def test_two_tabs_see_each_other_and_a_stale_edit_is_refused_not_saved(app, browser):
    # regression: tab B never saw A's edits and wrote its stale values over them
    project, url = app
    a, b = Tab(browser, url), Tab(browser, url)
    a.select(0)
    b.select(0)
    a.tab("Story")
    a.field("notes").fill("from tab A")
    a.field("notes").blur()
    wait_for(lambda: board(project).shots[0].notes == "from tab A", what="A's notes")
    b.tab("Story")
    b.page.wait_for_function("document.querySelector('#insp-notes textarea').value === 'from tab A'", timeout=4000)
    # B focuses the title and types; meanwhile A saves a new title; B's save is refused
    a.tab("Shot")
    b.tab("Shot")
    b.field("title").click()
    b.field("title").fill("B's title")
    a.field("title").fill("A's title")
    a.field("title").press("Enter")
    wait_for(lambda: board(project).shots[0].title == "A's title", what="A's title")
    time.sleep(1.5)
    assert b.field("title").input_value() == "B's title"  # typing is never replaced under the cursor
    b.field("title").press("Enter")
    b.page.wait_for_function("document.querySelector('#save-indicator').innerText.includes('not saved')")
    assert board(project).shots[0].title == "A's title"
    assert b.field("title").input_value() == "A's title"
    a.close()
    b.close()


def test_reorder_multiselect_undo_redo_and_reload_mid_render(app, browser):
    project, url = app
    tab = Tab(browser, url)
    page = tab.page
    ids = [s.id for s in board(project).shots]
    tab.select(0)
    page.wait_for_timeout(300)
    page.locator(".wall").press("]")
    wait_for(lambda: [s.id for s in board(project).shots][:2] == [ids[1], ids[0]], what="keyboard move")
    page.keyboard.press("Control+z")
    wait_for(lambda: [s.id for s in board(project).shots][:2] == ids[:2], what="undo by keyboard")
    page.keyboard.press("Control+Shift+z")
    wait_for(lambda: [s.id for s in board(project).shots][:2] == [ids[1], ids[0]], what="redo by keyboard")
    page.keyboard.press("Control+z")
    wait_for(lambda: [s.id for s in board(project).shots][:2] == ids[:2], what="undo again")
    page.wait_for_function(f"[...document.querySelectorAll('.panel')].slice(0, 4).map(p => p.dataset.id).join() "
                           f"=== '{','.join(ids[:4])}'")  # the wall shows the undo before we drag

    # drag the 4th panel onto the 1st
    source, target = tab.panel(3).bounding_box(), tab.panel(0).bounding_box()
    page.mouse.move(source["x"] + 40, source["y"] + 40)
    page.mouse.down()
    page.mouse.move(source["x"] + 60, source["y"] + 50, steps=4)
    page.mouse.move(target["x"] + 8, target["y"] + 40, steps=8)
    page.mouse.up()
    wait_for(lambda: board(project).shots[0].id == ids[3], what="drag and drop")
    page.wait_for_function(f"document.querySelector('.panel').dataset.id === '{ids[3]}'")
    page.click("#undo")
    wait_for(lambda: [s.id for s in board(project).shots] == ids, what="undo the drag")

    # ctrl-click two panels, duplicate them, delete the copies
    tab.panel(5).click()
    tab.panel(6).click(modifiers=["Control"])
    page.wait_for_function("document.querySelectorAll('.panel.selected').length === 2")
    page.click("#duplicate-shots")
    wait_for(lambda: len(board(project).shots) == len(ids) + 2, what="two copies")
    page.wait_for_function("document.querySelectorAll('.panel.selected').length === 1")  # the last copy
    page.click("#delete-shots")  # deletes what the wall shows selected, even if clicked at once
    wait_for(lambda: len(board(project).shots) == len(ids) + 1, what="a copy deleted")
    page.click("#undo")
    page.click("#undo")
    wait_for(lambda: [s.id for s in board(project).shots] == ids, what="back to the original board")
    page.wait_for_function(f"[...document.querySelectorAll('.panel')].map(p => p.dataset.id).join() === '{','.join(ids)}'")

    # queue several renders, reload at once: the renders go on and the wall shows them
    page.locator(".panel").nth(8).click()
    page.locator(".panel").nth(9).click(modifiers=["Shift"])
    page.click("#render-selected")
    page.wait_for_function("document.querySelector('#save-indicator').innerText.includes('2 shot(s) queued')")
    page.reload()
    tab.open()
    wait_for(lambda: all(s.chosen_take for s in board(project).shots[8:10]), timeout=90, what="renders after reload")
    page.wait_for_function("[...document.querySelectorAll('.panel')].slice(8, 10).every(p => "
                           "p.querySelector('.badge').innerText === 'done')")
    page.screenshot(path=str(REPO / "docs" / "screenshot.png"))
    tab.close()


def test_a_refused_value_is_named_at_the_inspector_and_nothing_is_saved(app, browser):
    project, url = app
    tab = Tab(browser, url)
    tab.select(0)
    tab.field("seed_locked").check()
    tab.page.wait_for_function("!document.querySelector('#insp-seed input').disabled")
    before = (project.root / "board.json").read_bytes()
    tab.field("seed").fill("not a seed")
    tab.field("seed").press("Enter")
    tab.page.wait_for_function("document.querySelector('#save-indicator').innerText.includes('Seed')")
    assert (project.root / "board.json").read_bytes() == before
    tab.close()


def test_quick_successive_saves_of_one_field_all_land_without_a_false_conflict(app, browser):
    """Regression: a second save right after the first was dropped (Gradio's one-at-a-time
    trigger), and a poll that began before a save answered with its older view state, so the
    next save was refused as a conflict with the person's own edit."""
    project, url = app
    tab = Tab(browser, url)
    tab.select(4)
    for number in range(8):
        text = f"Quick title {number}"
        tab.field("title").fill(text)
        tab.field("title").press("Tab")
        wait_for(lambda: board(project).shots[4].title == text, timeout=30, what=f"save {number}")
    tab.page.wait_for_function("document.querySelectorAll('.panel')[4].innerText.includes('Quick title 7')")
    assert "not saved" not in tab.page.locator("#save-indicator").inner_text()
    tab.close()


def test_new_project_with_a_taken_name_is_refused_and_recent_shows_titles(app, browser):
    # regression: a second project with the same name silently became "name-2"
    project, url = app
    tab = Tab(browser, url)
    page = tab.page
    page.get_by_role("tab", name="Project").click()
    page.locator("#new-name textarea, #new-name input").first.fill("Storm")
    page.click("#new-project")
    page.wait_for_function("document.querySelector('#header').innerText.includes('Storm')")
    page.get_by_role("tab", name="Project").click()
    page.locator("#new-name textarea, #new-name input").first.fill("Storm")
    page.click("#new-project")
    page.wait_for_function("document.querySelector('#project-error').innerText.includes('already exists')")
    page.locator("#recent input").click()
    options = page.get_by_role("option").all_inner_texts()
    assert any("Storm" in option for option in options) and not any(o.startswith("/") for o in options)
    tab.close()
