"""Draft and final from the inspector in a real browser (the harness of test_ui_browser.py): the
shot's Quality dropdown, Generate, and the take line that says which quality made the take."""

from __future__ import annotations

import pytest

from test_ui_browser import Tab, app, board, browser, wait_for  # noqa: F401  (fixtures)

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def test_a_draft_then_its_final_from_the_inspector(app, browser):  # noqa: F811
    project, url = app
    tab = Tab(browser, url)
    page = tab.page
    tab.select(0)
    shot_id = board(project).shots[0].id
    tab.choose("quality", "draft")
    wait_for(lambda: board(project).shot(shot_id).quality == "draft", what="the shot set to draft")
    page.click("#generate")
    wait_for(lambda: len(board(project).shot(shot_id).takes) == 1, timeout=90, what="the draft take")
    draft = board(project).shot(shot_id).takes[0]
    assert draft.quality == "draft"
    tab.tab("Takes")
    page.wait_for_function("document.querySelector('#take-info').innerText.includes('draft')")

    tab.tab("Shot")
    tab.choose("quality", "final")
    wait_for(lambda: board(project).shot(shot_id).quality == "final", what="the shot set to final")
    page.click("#generate")
    wait_for(lambda: len(board(project).shot(shot_id).takes) == 2, timeout=90, what="the final take")
    shot = board(project).shot(shot_id)
    final = shot.takes[1]
    assert (final.quality, final.seed, shot.chosen_take) == ("final", draft.seed, final.id)
    tab.tab("Takes")
    page.wait_for_function(
        f"document.querySelector('#take-info').innerText.includes('final re-render of draft {draft.id}')")
    page.screenshot(path="/tmp/quality-final.png")
    tab.close()
