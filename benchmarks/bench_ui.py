"""The board page in a real browser at 10, 100 and 300 shots: what a user waits for.

Debian's chromium driven by Playwright against the real server (started in this process),
timing, from the user's action to what they see:
- load: open the page until every panel is drawn and the inspector says "saved";
- select: click a panel until the inspector shows that shot;
- edit: type a title and leave the field until board.json on disk holds it;
- add: click "+ Add shot" until the new panel is on the wall;
- reorder: press "]" on a selected panel until the wall shows the new order;
- take: a take attached to the board on disk (as a finished render does) until its poster
  shows on the panel; this includes the page's poll interval (1 s), the floor of that number.

The reference, measured in the same run: a bare Gradio page (one textbox and one button) for
load, and that button's round trip for the per-action numbers; the ratio is ours / reference.
The goal is a median under 200 ms for select, edit, add and reorder at 100 shots.

Run: python benchmarks/bench_ui.py [--sizes 10 100 300] [--runs N]. Writes benchmarks/results/ui.md.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import socket
import statistics
import tempfile
import time
from pathlib import Path
from typing import Callable

REPO = Path(__file__).resolve().parents[1]
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run", "--disable-quic"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def timed(action: Callable[[], None], done: Callable[[], object], timeout: float = 60.0) -> float:
    """Seconds from ``action`` until ``done()`` is truthy (polled every 2 ms)."""
    started = time.perf_counter()
    action()
    deadline = started + timeout
    while not done():
        if time.perf_counter() > deadline:
            raise TimeoutError("the page never showed the result")
        time.sleep(0.002)
    return time.perf_counter() - started


def make_project(home: Path, shots: int):
    """A board of ``shots`` shots in its own folder, plus one small take file to attach later."""
    from studio.board import Board, Shot
    from studio.storage import Project

    project = Project.create(home / f"board-{shots}", Board(title=f"{shots} shots", width=320, height=192))
    project.update(lambda b: b.replace(shots=tuple(
        Shot(id=f"s{i}", title=f"Shot title {i}", prompt=f"prompt {i}", duration=24) for i in range(shots))))
    return project


def attach_take(project, shot_id: str, number: int) -> None:
    """Write a real take file and attach it, as a finished render does (not an undo step)."""
    import numpy as np

    from studio.board import FrameRate, Take
    from studio.media import write_video

    relative = f"takes/{shot_id}/bench{number}.mp4"
    path = project.resolve(relative)
    path.parent.mkdir(parents=True, exist_ok=True)
    frames = np.full((6, 192, 320, 3), (40 * number) % 255, np.uint8)
    write_video(path, frames, FrameRate(24))
    take = Take(id=f"bench{number}", path=relative, seed=number, backend="animatic", frames=6)
    project.update(lambda b: b.with_shot(b.shot(shot_id).with_take(take)), undoable=False, label="take")


def bare_reference(page, runs: int) -> dict[str, float]:
    """A one-textbox Gradio page: its load, and one button round trip (the floor of any action)."""
    import gradio as gr

    with gr.Blocks() as demo:
        box = gr.Textbox(elem_id="box")
        button = gr.Button("go", elem_id="go")
        button.click(lambda text: (text or "") + "x", box, box)
    port = free_port()
    demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        loads = [timed(lambda: page.goto(url), lambda: page.locator("#go").count()) for _ in range(runs)]
        clicks = []
        for index in range(runs * 3):
            clicks.append(timed(lambda: page.locator("#go").click(),
                                lambda i=index: page.locator("#box textarea").input_value() == "x" * (i + 1)))
        return {"load": statistics.median(loads), "action": statistics.median(clicks)}
    finally:
        demo.close()


def measure_board(browser, home: Path, shots: int, runs: int) -> dict[str, float]:
    from studio.ui.server import ServeOptions, start

    home = home / f"home-{shots}"  # a home of its own: the app reopens a home's last project
    project = make_project(home, shots)
    services, demo, url = start(ServeOptions(project=project.root, port=free_port(), home=home), quiet=True)
    context = browser.new_context(viewport={"width": 1440, "height": 900})
    page = context.new_page()
    page.set_default_timeout(120_000)
    errors: list[str] = []
    page.on("response", lambda r: errors.append(f"{r.status} {r.url}") if r.status >= 500 else None)
    try:
        def panels() -> int:
            return page.locator(".panel").count()

        def loaded() -> bool:
            return panels() == shots and "saved" in page.locator("#save-indicator").inner_text()

        results: dict[str, list[float]] = {name: [] for name in ("load", "select", "edit", "add", "reorder", "take")}
        for _ in range(runs):
            results["load"].append(timed(lambda: page.goto(url), loaded))
        for index in range(runs * 3):
            target = (index * 7 + 1) % shots
            results["select"].append(timed(
                lambda: page.locator(".panel").nth(target).click(),
                lambda: f"Shot {target + 1}" in page.locator("#inspector-heading").inner_text()))
        title = page.locator("#insp-title input, #insp-title textarea").first
        for index in range(runs * 3):
            text = f"edited title {index}"
            title.fill(text)
            results["edit"].append(timed(lambda: title.press("Tab"),
                                         lambda: text.encode() in project.board_path.read_bytes()))
        for _ in range(runs * 2):
            before = panels()
            results["add"].append(timed(lambda: page.locator("#add-shot").click(), lambda: panels() == before + 1))
        for _ in range(runs * 2):
            page.locator(".panel").nth(0).click()
            first = page.locator(".panel").nth(0).get_attribute("data-id")
            results["reorder"].append(timed(
                lambda: page.keyboard.press("]"),
                lambda: page.locator(".panel").nth(1).get_attribute("data-id") == first))
        for index in range(runs):
            shot_id = f"s{shots - 1 - index}"
            selector = f".panel[data-id='{shot_id}'] .pic img"
            results["take"].append(timed(lambda: attach_take(project, shot_id, index + 1),
                                         lambda: page.locator(selector).count() > 0))
        toasts = page.locator(".toast-body.error").all_inner_texts()
        if errors or toasts:
            raise RuntimeError(f"the page failed: {errors} {toasts}")
        return {name: statistics.median(values) for name, values in results.items()}
    finally:
        context.close()
        demo.close()
        services.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 100, 300])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    home = Path(tempfile.mkdtemp(prefix="bench-ui-"))
    os.environ["PREVIZ_HOME"] = str(home)
    try:
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            page = browser.new_page()
            reference = bare_reference(page, args.runs)
            page.close()
            rows = [(shots, measure_board(browser, home, shots, args.runs)) for shots in args.sizes]
            browser.close()
    finally:
        shutil.rmtree(home, ignore_errors=True)
    lines = [f"# UI benchmark ({time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
             f"load average {os.getloadavg()[0]:.2f})", "",
             f"Reference (bare Gradio page): load {reference['load'] * 1000:.0f} ms, "
             f"button round trip {reference['action'] * 1000:.0f} ms.", "",
             "| shots | load ms | select ms | edit→disk ms | add ms | reorder ms | take lands ms | "
             "select/edit/add/reorder vs bare round trip |",
             "|---:|---:|---:|---:|---:|---:|---:|---|"]
    for shots, result in rows:
        ratios = " / ".join(f"{result[name] / reference['action']:.1f}x" for name in ("select", "edit", "add", "reorder"))
        lines.append(f"| {shots} | {result['load'] * 1000:.0f} ({result['load'] / reference['load']:.1f}x) | "
                     + " | ".join(f"{result[name] * 1000:.0f}" for name in ("select", "edit", "add", "reorder", "take"))
                     + f" | {ratios} |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = REPO / "benchmarks" / "results" / "ui.md"
    out.parent.mkdir(exist_ok=True)
    out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
