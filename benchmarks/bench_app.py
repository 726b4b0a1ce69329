"""App benchmarks: cold start to first page, a card edit through the API, queue overhead.

Each number is printed beside a reference measured in the same run on the same machine:
- start: `python app.py` until the page answers, vs a bare one-textbox Gradio app (the floor
  that importing and launching Gradio itself costs);
- edit: update_shot through gradio_client, vs a bare gr.api endpoint that does nothing;
- queue: render_shot of one small shot through the JobQueue, vs render_shot called directly.

Run: python benchmarks/bench_app.py [--runs N]. Writes benchmarks/results/app.md.
Absolute times move with the machine's load (the load average is printed): read the ratios.
"""

from __future__ import annotations

import argparse
import os
import platform
import socket
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BARE_APP = textwrap.dedent("""
    import sys, gradio as gr
    with gr.Blocks() as demo:
        gr.Textbox()
    demo.launch(server_name="127.0.0.1", server_port=int(sys.argv[1]), quiet=True)
""")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def time_to_first_page(command: list[str], port: int, env: dict[str, str]) -> float:
    started = time.perf_counter()
    with subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) as process:
        try:
            while True:
                if process.poll() is not None:
                    raise RuntimeError(f"{command} exited with {process.returncode}")
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=1) as response:
                        if response.status == 200 and response.read():
                            return time.perf_counter() - started
                except OSError:
                    time.sleep(0.05)
        finally:
            process.terminate()
            process.wait(10)


def bench_start(runs: int, home: Path) -> tuple[float, float]:
    env = {**os.environ, "PREVIZ_HOME": str(home), "GRADIO_ANALYTICS_ENABLED": "False"}
    ours, bare = [], []
    with tempfile.TemporaryDirectory() as folder:
        bare_script = Path(folder) / "bare.py"
        bare_script.write_text(BARE_APP)
        for _ in range(runs):
            port = free_port()
            ours.append(time_to_first_page([sys.executable, str(REPO / "app.py"), "--port", str(port)], port, env))
            port = free_port()
            bare.append(time_to_first_page([sys.executable, str(bare_script), str(port)], port, env))
    return statistics.median(ours), statistics.median(bare)


def bench_edit(runs: int, home: Path) -> tuple[float, float]:
    import gradio as gr
    from gradio_client import Client

    from studio.ui.server import ServeOptions, start

    studio, demo, url = start(ServeOptions(port=free_port(), home=home), quiet=True)
    with gr.Blocks() as bare:
        def noop(project: str, shot_id: str, changes: dict) -> dict:
            return changes
        gr.api(noop, api_name="noop")
    _, bare_url, _ = bare.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    try:
        client, bare_client = Client(url, verbose=False), Client(bare_url, verbose=False)
        project = studio.workspace.recent()[0]
        shot_id = client.predict(project, api_name="/load_board")["shots"][0]["id"]
        ours, reference = [], []
        for index in range(runs * 10):
            started = time.perf_counter()
            client.predict(project, shot_id, {"prompt": f"edit {index}"}, api_name="/update_shot")
            ours.append(time.perf_counter() - started)
            started = time.perf_counter()
            bare_client.predict(project, shot_id, {"prompt": f"edit {index}"}, api_name="/noop")
            reference.append(time.perf_counter() - started)
        return statistics.median(ours), statistics.median(reference)
    finally:
        demo.close()
        bare.close()
        studio.close()


def bench_queue(runs: int, home: Path) -> tuple[float, float]:
    from studio.backends import BackendCache
    from studio.services.jobs import JobQueue
    from studio.services.render import render_shot
    from studio.storage import Project
    from studio.board import Board, Shot

    project = Project.create(home / "queue-bench", Board(width=160, height=96, shots=(Shot(id="s1", duration=24),)))
    backends = BackendCache()
    render_shot(project, "s1", backends=backends)  # warm: imports, backend instance
    direct, queued = [], []
    with JobQueue() as queue:
        for _ in range(runs * 3):
            started = time.perf_counter()
            render_shot(project, "s1", backends=backends)
            direct.append(time.perf_counter() - started)
            started = time.perf_counter()
            job = queue.submit("bench", lambda progress, cancel: render_shot(
                project, "s1", progress=progress, cancel=cancel, backends=backends))
            assert queue.wait("bench", job.id, 60).status == "done"
            queued.append(time.perf_counter() - started)
    return statistics.median(queued), statistics.median(direct)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as folder:
        home = Path(folder)
        start, bare_start = bench_start(args.runs, home / "start")
        rows.append(("app start to first page (cold import)", start, "bare Gradio app", bare_start))
        edit, noop = bench_edit(args.runs, home / "edit")
        rows.append(("card edit round trip (update_shot API)", edit, "no-op gr.api endpoint", noop))
        queued, direct = bench_queue(args.runs, home / "queue")
        rows.append(("1-shot animatic render via JobQueue", queued, "render_shot called directly", direct))
    machine = f"{platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}"
    lines = [
        "## App (issue 6): start, edit round trip, queue overhead", "",
        f"Machine: {machine}; medians of {args.runs} starts, {args.runs * 10} edits, {args.runs * 3} renders. "
        f"Load average {os.getloadavg()[0]:.1f}: compare the ratios.", "",
        "| measure | ours | reference | reference time | ratio |", "|---|---|---|---|---|",
    ]
    for name, ours, reference_name, reference in rows:
        unit, scale = ("ms", 1000) if ours < 1 else ("s", 1)
        lines.append(f"| {name} | {ours * scale:.{0 if unit == 'ms' else 2}f} {unit} | {reference_name} | "
                     f"{reference * scale:.{0 if unit == 'ms' else 2}f} {unit} | {ours / reference:.2f}x |")
    text = "\n".join(lines) + "\n"
    print(text)
    out = REPO / "benchmarks" / "results" / "app.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
