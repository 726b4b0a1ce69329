"""The Timeline tab in a real browser (Debian's chromium, Playwright): seek by clicking the track
and with the keys, trim a clip by dragging its edge, move the scratch track by dragging its
waveform, and export with a burn-in from the export panel (the burn-in is checked in the
file's pixels). Every page fails its test on any 5xx response or error toast; the screenshot is
the README's docs/timeline.png.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from studio.board import FrameRate, Transition
from studio.media import read_video
from studio.storage import Project
from test_ui_browser import CHROMIUM, REPO, Tab, browser, wait_for  # noqa: F401 - browser is a fixture

from conftest import served

pytestmark = [pytest.mark.browser, pytest.mark.slow]


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    """Five shots of the sample board, rendered by the animatic at 320x192, 12 fps, with a tone
    from 1 s as the scratch track laid from frame 6."""
    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing: install Debian's chromium package")
    from studio.services import edits
    from studio.services.render import render_board
    from studio.services.workspace import Workspace
    from tests.exportkit import write_tone

    home = tmp_path_factory.mktemp("previz-home")
    project = Workspace(home).first_project()
    project.update(lambda b: b.replace(width=320, height=192, fps=FrameRate(12), shots=tuple(
        s.replace(duration=24, takes=(), chosen_take=None, continuity=False, transition=Transition(),
                  keyframes=tuple(k for k in s.keyframes if k.role == "first")) for s in b.shots[:5])))
    render_board(project, backend="animatic")
    write_tone(home / "tone.wav", seconds=6.0, start=1.0)
    edits.set_audio(project, home / "tone.wav", "setup", offset=6)
    with served(project, home) as url:
        yield project, url


def board(project: Project):
    return Project.open(project.root).load()


def open_timeline(browser, url: str) -> Tab:
    tab = Tab(browser, url)
    tab.page.get_by_role("tab", name="Timeline").click()
    tab.page.wait_for_selector(".tl-clip")
    return tab


def frame_shown(page) -> int:
    return int(page.locator(".tl-frame").inner_text().split()[1])


def test_player_seek_keys_trim_and_audio_offset(app, browser):
    project, url = app
    tab = open_timeline(browser, url)
    page = tab.page
    assert page.locator(".tl-clip").count() == 5
    widths = page.evaluate("[...document.querySelectorAll('.tl-clip')].map(n => n.getBoundingClientRect().width)")
    assert max(widths) - min(widths) < 1.5  # five 24-frame shots: equal widths

    page.locator("#build-animatic").click()  # the full-resolution animatic (draft off)
    page.wait_for_function("document.querySelector('.tl video').readyState >= 1", timeout=120_000)
    assert page.evaluate("document.querySelector('.tl video').videoWidth") == 320  # not the 480 px preview

    lanes = page.locator(".tl-lanes").bounding_box()
    page.mouse.click(lanes["x"] + lanes["width"] * 0.5 + 1, lanes["y"] + 40)  # half way: frame 60 of 120
    assert frame_shown(page) == 60
    wait_for(lambda: abs(page.evaluate("document.querySelector('.tl video').currentTime") * 12 - 60.5) < 0.01,
             what="the player to seek to frame 60")
    assert page.locator(".tl-clip.playing").get_attribute("data-id") == board(project).shots[2].id
    page.locator("#board").count()  # the wall marks the same shot (outlined) even while the tab is hidden
    playing = page.evaluate("document.querySelector('#wall .panel.playing-now')?.dataset.id")
    assert playing == board(project).shots[2].id
    page.keyboard.press("ArrowRight")
    page.keyboard.press("ArrowRight")
    assert frame_shown(page) == 62
    page.keyboard.press("ArrowLeft")
    assert frame_shown(page) == 61
    page.keyboard.press("End")
    assert frame_shown(page) == 119
    page.keyboard.press("Home")
    assert frame_shown(page) == 0
    page.keyboard.press(" ")
    wait_for(lambda: frame_shown(page) > 3, what="playback to move the playhead")
    page.keyboard.press(" ")
    assert page.evaluate("document.querySelector('.tl video').paused")

    # trim: drag the head of shot 2 right by 6 frames
    second = board(project).shots[1]
    handle = page.locator(f'.tl-clip[data-id="{second.id}"] .tl-h.in').bounding_box()
    per_frame = lanes["width"] / 120
    x, y = handle["x"] + 2, handle["y"] + handle["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 6 * per_frame + 1, y, steps=8)
    page.mouse.up()
    wait_for(lambda: board(project).shots[1].trim_in == 6, what="the trim to reach the board")
    assert board(project).shots[1].trim_out == 0 and board(project).total_frames == 114
    page.wait_for_function("document.querySelector('.tl-frame').innerText.endsWith('/ 114')")

    # the scratch track: drag its waveform 12 frames right (it was laid from frame 6)
    audio = page.locator(".tl-audio").bounding_box()
    per_frame = lanes["width"] / 114
    x, y = audio["x"] + 20 * per_frame, audio["y"] + audio["height"] / 2
    page.mouse.move(x, y)
    page.mouse.down()
    page.mouse.move(x + 12 * per_frame + 1, y, steps=8)
    page.mouse.up()
    wait_for(lambda: board(project).audio.offset == 18, what="the audio offset to reach the board")
    # and typed: 24 frames, then undo steps back to 18
    page.wait_for_function("document.querySelector('.tl-offset').value === '18'")  # the track shows the drag
    page.locator(".tl-offset").fill("24")
    page.locator(".tl-offset").press("Enter")
    wait_for(lambda: board(project).audio.offset == 24, what="the typed offset")
    page.locator("#undo").click()
    wait_for(lambda: board(project).audio.offset == 18, what="undo of the offset")

    # a 6-frame dissolve into shot 4, from the edit row under the track
    fourth = board(project).shots[3]
    page.locator(f'.tl-clip[data-id="{fourth.id}"]').click()
    page.wait_for_function("document.querySelector('.tl-clip-edit').innerText.includes('Shot 4')")
    page.locator(".tl-kind").select_option("cross_dissolve")
    wait_for(lambda: board(project).shots[3].transition.kind == "cross_dissolve", what="the dissolve")
    page.wait_for_selector(f'.tl-tr[data-into="{fourth.id}"]')
    page.locator(".tl-len").fill("6")
    page.locator(".tl-len").press("Enter")
    wait_for(lambda: board(project).shots[3].transition.length == 6, what="the dissolve's length")
    assert board(project).total_frames == 108

    page.locator("#build-animatic").click()
    page.wait_for_function("!document.querySelector('.tl-stale').innerText", timeout=120_000)
    page.wait_for_function("document.querySelector('.tl video').readyState >= 2", timeout=60_000)
    page.mouse.click(lanes["x"] + lanes["width"] * 40 / 108 + 1, lanes["y"] + 40)
    wait_for(lambda: frame_shown(page) == 40, what="seek to frame 40")
    page.evaluate("window.scrollTo(0, 0)")
    time.sleep(0.5)  # the player paints the sought frame
    page.screenshot(path=str(REPO / "docs" / "timeline.png"))
    tab.close()


def test_recut_import_from_the_timeline_tab(app, browser, tmp_path: Path):
    import opentimelineio as otio

    from studio.services.export import export_board

    project, url = app
    before = [shot.id for shot in board(project).shots]
    timeline = otio.adapters.read_from_file(str(export_board(project, "otio")))
    track = timeline.video_tracks()[0]
    track.remove(list(track.find_clips())[1])  # the editor drops shot 2
    otio.adapters.write_to_file(timeline, str(tmp_path / "recut.otio"))
    tab = open_timeline(browser, url)
    page = tab.page
    page.locator("#recut-panel").get_by_text("Import a re-cut from an editor").click()
    page.locator("#recut-file input[type=file]").set_input_files(str(tmp_path / "recut.otio"))
    page.wait_for_function("document.querySelector('#recut-list').innerText.includes('remove')")
    assert board(project).shots[1].id == before[1]  # listed, not applied
    page.locator("#recut-apply").click()
    wait_for(lambda: [s.id for s in board(project).shots] == before[:1] + before[2:], what="the re-cut applied")
    page.wait_for_function("document.querySelectorAll('.tl-clip').length === 4")
    page.locator("#undo").click()
    wait_for(lambda: [s.id for s in board(project).shots] == before, what="undo of the re-cut")
    tab.close()


def test_export_with_a_burn_in_from_the_panel(app, browser, tmp_path: Path):
    project, url = app
    tab = open_timeline(browser, url)
    page = tab.page
    formats = page.locator("#export-formats")
    for name in ("mp4", "otio"):  # the defaults: clear them, then choose the MP4 alone
        box = formats.get_by_label(name, exact=True)
        if box.is_checked():
            box.uncheck()
    formats.get_by_label("mp4", exact=True).check()
    page.locator("#export-burn-ins").get_by_label("shot number and title", exact=True).check()
    page.locator("#export-audio").get_by_role("checkbox").uncheck()
    page.locator("#export-button").click()
    link = page.locator("#export-files a").first
    link.wait_for(timeout=120_000)
    with page.expect_download() as download:
        link.click()
    path = tmp_path / "animatic.mp4"
    download.value.save_as(path)
    burned = read_video(path)
    from studio.services.export import ExportOptions, export_board

    plain = read_video(export_board(project, "mp4", out=tmp_path / "plain.mp4", options=ExportOptions()))
    assert len(burned) == len(plain) == board(project).total_frames
    corner = np.abs(burned[5, :30, :160].astype(int) - plain[5, :30, :160].astype(int)).mean()
    rest = np.abs(burned[5, 100:, 160:].astype(int) - plain[5, 100:, 160:].astype(int)).mean()
    assert corner > 10 and rest < 3, (corner, rest)  # "Shot 1 - ..." drawn top left, the picture unchanged
    import av

    with av.open(str(path)) as container:
        assert not container.streams.audio  # "Include the scratch audio" was off
    tab.close()


def test_the_export_panel_shows_progress_then_the_download_links(app, browser):
    """Issue 11: while formats are written the Downloads box shows the export's progress (the
    format and its step), then one link per format."""
    project, url = app
    tab = open_timeline(browser, url)
    page = tab.page
    # every text the Downloads box's progress shows, recorded as it changes (an export is quick)
    page.evaluate("""() => {
        window.exportProgress = [];
        const box = document.querySelector('#export-files');
        const note = () => box.querySelectorAll('.progress-level-inner, .progress-text, .progress-bar').forEach(
            e => window.exportProgress.push([e.className.split(' ')[0], e.innerText || e.style.width]));
        new MutationObserver(note).observe(box, {subtree: true, childList: true, characterData: true, attributes: true});
    }""")
    formats = page.locator("#export-formats")
    for name in ("mp4", "pdf", "otio"):
        box = formats.get_by_label(name, exact=True)
        if not box.is_checked():
            box.check()
    page.locator("#export-audio").get_by_role("checkbox").uncheck()
    page.locator("#export-button").click()
    page.wait_for_function("document.querySelectorAll('#export-files a').length >= 3", timeout=180_000)
    names = page.evaluate("[...document.querySelectorAll('#export-files a')].map(a => a.getAttribute('download') || a.href)")
    assert {Path(name.split("?")[0]).suffix for name in names} >= {".mp4", ".pdf", ".otio"}, names
    seen = page.evaluate("window.exportProgress")
    steps = [text for kind, text in seen if kind == "progress-level-inner" and text]
    assert any(text.startswith("mp4: ") for text in steps), seen[:40]
    assert any(text.startswith("pdf: ") for text in steps), seen[:40]
    assert page.locator("#export-files .progress-level-inner").count() == 0  # gone once the links are there
    tab.close()
