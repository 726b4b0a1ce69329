"""The render farm on a real local Ray cluster bound to 127.0.0.1 (one per module, 2 CPU workers).

A board of animatic and tiny-model shots renders across both workers with the same frames as an
in-process render and each take written exactly once; a worker killed by its pid mid-job gives a
retry on the other and still one take; a forced out-of-memory retries with the next memory
profile; a failure a retry cannot fix is reported once; cancel stops a running job within a step;
the browser's Farm tab shows the workers of an app started with ``--cluster ray``.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from studio.services.farm import LOOPBACK_SWITCH

os.environ.setdefault(LOOPBACK_SWITCH, "0")  # before Ray is imported: the test cluster listens on 127.0.0.1 only
ray = pytest.importorskip("ray", reason="the farm tests need Ray: pip install -e \".[farm]\"")

import tiny_pipelines as tiny
from conftest import free_port
from farm_faults import FLAG, SLOW_FLAG, SLOW_JOB_FLAG

from studio.backends.base import GenerationCancelled
from studio.board import Board, CameraMove, Shot
from studio.media import read_video
from studio.services.farm import Farm, FarmSettings, farm_job, render_board_on_farm
from studio.services.farm_worker import BYTES
from studio.services.render import render_board
from studio.storage import Project

pytestmark = pytest.mark.slow
TESTS = Path(__file__).resolve().parent
TINY = {"steps": 2, "max_sequence_length": 16}
"""Options for the tiny Wan model (the animatic ignores them, and says so in its record)."""


@pytest.fixture(scope="module")
def wan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.build_wan_t2v(tmp_path_factory.mktemp("tiny") / "wan-t2v")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory):
    """One local cluster for the module: CPUs for the farm's 2 workers and for the app's farm in the
    browser test; the fault hook is installed in every worker process."""
    flag = tmp_path_factory.mktemp("faults") / "oom"
    ray.init(num_cpus=4, include_dashboard=False, log_to_driver=False,
             configure_logging=False,
             runtime_env={"env_vars": {FLAG: str(flag), SLOW_FLAG: str(flag.with_name("slow")),
                                       SLOW_JOB_FLAG: str(flag.with_name("slow-job")), "HF_HUB_OFFLINE": "1",
                                       "PYTHONPATH": os.pathsep.join(filter(None, [str(TESTS), os.environ.get("PYTHONPATH")]))},
                          "worker_process_setup_hook": "farm_faults.install"})
    try:
        farm = Farm(FarmSettings(workers=2))
        try:
            yield farm, flag
        finally:
            farm.close()
    finally:
        ray.shutdown()


def board_of_eight(wan_dir: Path, **shot_changes) -> Board:
    """Six animatic shots (one continuing the one before it) and two tiny Wan shots, seeds locked."""
    moves = ("pan_left", "zoom_in", "static", "truck_right", "tilt_up", "dolly_in")
    shots = [Shot(id=f"a{i + 1}", title=f"Animatic {i + 1}", duration=12, camera=(CameraMove(moves[i], 0.5),),
                  seed=200 + i, continuity=i == 3) for i in range(6)]
    shots += [Shot(id=f"w{i + 1}", title=f"Model {i + 1}", prompt=f"a ship at sea {i}", duration=12, backend="wan",
                   seed=300 + i, **shot_changes) for i in range(2)]
    return Board(title="Farm", width=32, height=32, shots=tuple(shots), default_model=str(wan_dir))


def one_shot(root: Path, wan_dir: Path, name: str) -> Project:
    shot = Shot(id="w1", title="Model", prompt="a ship at sea", duration=12, backend="wan", seed=7)
    return Project.create(root / name, Board(width=32, height=32, shots=(shot,), default_model=str(wan_dir)))


def files_of(project: Project) -> list[str]:
    return sorted(str(path.relative_to(project.root)) for path in (project.root / "takes").rglob("*") if path.is_file())


def running_on(farm: Farm, job_id: str, steps: int = 1, timeout: float = 120.0):
    """The worker running ``job_id`` once it has done ``steps`` steps."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for worker in farm.state().workers:
            if worker.job_id == job_id and worker.done >= steps:
                return worker
        time.sleep(0.05)
    raise AssertionError(f"{job_id} never got to step {steps} on a worker")


def in_thread(fn):
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = fn()
        except BaseException as error:  # noqa: BLE001 - the test inspects it
            outcome["error"] = error

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    return thread, outcome


def test_a_board_renders_across_two_workers_once_each_with_the_frames_of_a_local_render(cluster, wan_dir, tmp_path):
    farm, _ = cluster
    board = board_of_eight(wan_dir)
    on_farm = Project.create(tmp_path / "farm", board)
    local = Project.create(tmp_path / "local", board)
    seen: dict[str, int] = {}

    outcomes = render_board_on_farm(farm, on_farm, options=TINY,
                                    progress=lambda shot, done, total, message: seen.__setitem__(shot, total))
    assert [o.error for o in outcomes] == [None] * 8
    local_takes = render_board(local, options=TINY)

    made = {o.shot_id: o.take for o in outcomes}
    for take in local_takes:
        shot_id = take.path.split("/")[1]
        ours = made[shot_id]
        assert ours.seed == take.seed and ours.backend == take.backend
        assert np.array_equal(read_video(on_farm.resolve(ours.path)), read_video(local.resolve(take.path))), shot_id
    saved = on_farm.load()
    assert all(len(shot.takes) == 1 and shot.chosen_take == made[shot.id].id for shot in saved.shots)
    assert len(files_of(on_farm)) == 16  # one video and one sidecar per shot, nothing left at staging names
    records = [json.loads(on_farm.resolve(t.sidecar_path).read_text()) for t in made.values()]
    assert {r["farm"]["worker"] for r in records} == {0, 1}
    assert all(r["farm"]["content_hash"] and r["farm"]["output"] == "shared" for r in records)
    assert set(seen) == set(made)

    # exactly once: rendering the whole board again makes no new take and writes no file
    before = {path: (on_farm.root / path).stat().st_mtime_ns for path in files_of(on_farm)}
    again = render_board_on_farm(farm, on_farm, only_missing=False, options=TINY)
    assert [o.take.id for o in again] == [o.take.id for o in outcomes]
    assert {path: (on_farm.root / path).stat().st_mtime_ns for path in files_of(on_farm)} == before
    assert all(len(shot.takes) == 1 for shot in on_farm.load().shots)

    # bytes mode: workers send the clip back and the head writes it; same takes, same frames
    returned = Project.create(tmp_path / "bytes", board)
    shared_settings = farm.settings
    farm.settings = FarmSettings(workers=2, output=BYTES)
    try:
        by_bytes = render_board_on_farm(farm, returned, shot_ids=["a1", "w1"], options=TINY)
    finally:
        farm.settings = shared_settings
    for outcome in by_bytes:
        assert outcome.take.id == made[outcome.shot_id].id
        assert np.array_equal(read_video(returned.resolve(outcome.take.path)),
                              read_video(on_farm.resolve(outcome.take.path)))
        assert json.loads(returned.resolve(outcome.take.sidecar_path).read_text())["farm"]["output"] == "bytes"


def test_a_worker_killed_mid_job_is_retried_on_the_other_and_makes_one_take(cluster, wan_dir, tmp_path):
    farm, flag = cluster
    project = one_shot(tmp_path, wan_dir, "killed")
    job = farm_job(project, "w1", job_id="kill-me", options={**TINY, "steps": 8})
    slow = flag.with_name("slow")
    slow.touch()  # 8 steps of 0.5 s: a tiny model's job could end between two polls of the head
    try:
        thread, outcome = in_thread(lambda: farm.run(job, lambda *a: None, threading.Event()))
        victim = running_on(farm, "kill-me")
        os.kill(victim.pid, signal.SIGKILL)
    finally:
        slow.unlink()
    thread.join(300)
    take = outcome["value"]
    record = json.loads(project.resolve(take.sidecar_path).read_text())
    assert record["farm"]["worker"] != victim.index
    assert "the worker was lost" in record["farm"]["attempts"][0]
    assert len(project.load().shot("w1").takes) == 1
    assert files_of(project) == sorted([take.path, take.sidecar_path])
    # Ray restarts the killed worker: it comes back with a new process
    deadline = time.monotonic() + 120
    while farm.state().workers[victim.index].state != "idle" and time.monotonic() < deadline:
        time.sleep(0.2)
    back = farm.state().workers[victim.index]
    assert back.state == "idle" and back.pid != victim.pid and back.restarts == 1


def test_out_of_memory_is_retried_with_the_next_lighter_memory_profile(cluster, wan_dir, tmp_path):
    farm, flag = cluster
    project = one_shot(tmp_path, wan_dir, "oom")
    flag.touch()
    try:
        take = farm.run(farm_job(project, "w1", job_id="oom", options=TINY), lambda *a: None, threading.Event())
    finally:
        flag.unlink()
    record = json.loads(project.resolve(take.sidecar_path).read_text())
    assert record["settings"]["memory_profile"] == "vae_tiling"
    assert "out of memory" in record["farm"]["attempts"][0] and "'none'" in record["farm"]["attempts"][0]
    assert len(project.load().shot("w1").takes) == 1 and len(files_of(project)) == 2


def test_a_failure_a_retry_cannot_fix_is_reported_once_with_its_reason(cluster, wan_dir, tmp_path):
    farm, _ = cluster
    project = one_shot(tmp_path, wan_dir, "broken")
    shutil.copytree(wan_dir, tmp_path / "broken-model")
    (tmp_path / "broken-model" / "model_index.json").write_text("{ not json")
    before = sum(w.jobs_done for w in farm.state().workers)
    outcomes = render_board_on_farm(farm, project, settings={"model": str(tmp_path / "broken-model")}, options=TINY)
    assert outcomes[0].take is None and "broken-model" in outcomes[0].error
    assert sum(w.jobs_done for w in farm.state().workers) == before + 1  # one attempt, no retry
    assert project.load().shot("w1").takes == () and files_of(project) == []


def test_cancel_stops_a_running_job_on_its_worker_within_a_step(cluster, wan_dir, tmp_path):
    farm, flag = cluster
    project = one_shot(tmp_path, wan_dir, "cancelled")
    cancel = threading.Event()
    steps: list[int] = []
    job = farm_job(project, "w1", job_id="cancel-me", options={**TINY, "steps": 30})
    slow = flag.with_name("slow")
    slow.touch()  # 0.5 s a step: under load the 30 tiny steps could all end before the cancel arrived
    try:
        thread, outcome = in_thread(lambda: farm.run(job, lambda done, total, message: steps.append(done), cancel))
        worker = running_on(farm, "cancel-me")
        cancel.set()
        thread.join(120)
    finally:
        slow.unlink()
    error = outcome.get("error")
    assert isinstance(error, GenerationCancelled)
    stopped, arrived = (int(n) for n in re.search(r"stopped after step (\d+) of 30; the cancel arrived after "
                                                   r"step (\d+)", str(error)).groups())
    assert stopped <= arrived + 1 and stopped < 30 and max(steps) <= stopped
    assert project.load().shot("w1").takes == () and files_of(project) == []
    assert farm.state().workers[worker.index].state == "idle"


@pytest.mark.browser
def test_the_farm_tab_shows_the_workers_their_model_and_the_running_job(cluster, tmp_path):
    from test_ui_browser import CHROMIUM, Tab, wait_for

    from studio.ui.server import ServeOptions, start

    if not CHROMIUM.exists():
        pytest.fail(f"{CHROMIUM} is missing")
    playwright_api = pytest.importorskip("playwright.sync_api")
    _, flag = cluster
    slow_job = flag.with_name("slow-job")  # every job waits 3 s on its worker: two refreshes of the Farm tab
    home = tmp_path / "home"
    project = Project.create(tmp_path / "film", Board(width=320, height=192, shots=(
        Shot(id="pan", title="Slow pan", duration=48, camera=(CameraMove("pan_left", 0.5),)),
        Shot(id="short", title="Short", duration=12))))
    services, demo, url = start(ServeOptions(project=project.root, port=free_port(), home=home, cluster="ray",
                                             farm_workers=2), quiet=True)
    try:
        assert services.jobs.worker_alive() and services.farm.size == 2
        with playwright_api.sync_playwright() as playwright:
            from test_ui_browser import CHROMIUM_ARGS

            browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            try:
                tab = Tab(browser, url)
                page = tab.page
                page.get_by_role("tab", name="Farm", exact=True).click()
                page.wait_for_selector("#farm-state[data-enabled=true] .farm-worker")
                assert page.locator(".farm-worker").count() == 2
                pids = {int(p) for p in page.locator(".farm-worker").evaluate_all("rows => rows.map(r => r.dataset.pid)")}
                assert pids == set(services.farm.pids().values())
                page.get_by_role("tab", name="Board", exact=True).click()
                page.wait_for_function("!document.querySelector('#render-missing').disabled")
                slow_job.touch()
                try:
                    page.click("#render-missing")
                    wait_for(lambda: len(services.jobs.jobs()) == 2, what="the two renders queued")
                    page.get_by_role("tab", name="Farm", exact=True).click()
                    busy = page.locator(".farm-worker[data-state=busy] .farm-job", has_text="Slow pan")
                    busy.first.wait_for(timeout=180_000)
                    page.screenshot(path="/tmp/farm-panel.png")
                    wait_for(lambda: all(s.chosen_take for s in Project.open(project.root).load().shots), timeout=180,
                             what="both shots rendered on the farm")
                finally:
                    slow_job.unlink(missing_ok=True)
                page.wait_for_function("[...document.querySelectorAll('.farm-model')].some(c => c.innerText === 'animatic')")
                page.wait_for_function("document.querySelectorAll('.farm-worker[data-state=busy]').length === 0")
                assert all(s.chosen_take.startswith("tk_") and len(s.takes) == 1
                           for s in Project.open(project.root).load().shots)
                tab.close()
                from gradio_client import Client

                state = Client(url, verbose=False).predict(api_name="/farm_state")
                assert state["enabled"] and state["queued"] == 0
                assert {w["pid"] for w in state["workers"]} == set(services.farm.pids().values())
                assert {w["model"] for w in state["workers"]} >= {"animatic"}
            finally:
                browser.close()
    finally:
        demo.close()
        services.close()


def test_studio_render_cluster_ray_renders_the_missing_shots_and_shows_progress(cluster, tmp_path, capsys):
    from studio.cli import main

    project = Project.create(tmp_path / "cli", Board(width=64, height=48, shots=tuple(
        Shot(id=f"c{i}", title=f"Shot {i}", duration=12, seed=50 + i, camera=(CameraMove("pan_left", 0.4),))
        for i in range(3))))
    assert main(["render", str(project.root), "--cluster", "ray", "--workers", "2", "--farm-output", "bytes"]) == 0
    out, err = capsys.readouterr()
    shots = project.load().shots
    assert all(len(shot.takes) == 1 and shot.chosen_take.startswith("tk_") for shot in shots)
    assert [line.split()[0] for line in out.splitlines()] == [shot.takes[0].path for shot in shots]
    assert all(f"{shot.id}: done: {shot.takes[0].path}" in err for shot in shots)
    # nothing missing now: a second run makes nothing
    assert main(["render", str(project.root), "--cluster", "ray", "--workers", "2"]) == 0
    assert "nothing to render" in capsys.readouterr().out
    # a seed for one named shot, as without the farm (it was refused with --cluster)
    assert main(["render", str(project.root), "--cluster", "ray", "--workers", "2", "--shot", "c1", "--seed", "777"]) == 0
    c1 = project.load().shot("c1")
    assert len(c1.takes) == 2 and c1.chosen().seed == 777
    assert main(["render", str(project.root), "--cluster", "ray", "--seed", "5"]) != 0
    assert "--seed applies to one shot: give --shot ID too" in capsys.readouterr().err


def test_the_apps_queue_renders_on_the_farm_and_a_continuity_shot_waits_for_the_one_before(cluster, tmp_path):
    from studio.services.app import StudioServices
    from studio.services.jobs import DONE, JobQueue
    from studio.services.workspace import Workspace

    farm, _ = cluster
    project = Project.create(tmp_path / "app", Board(width=64, height=48, shots=(
        Shot(id="first", title="First", duration=36, seed=1, camera=(CameraMove("pan_left", 0.5),)),
        Shot(id="second", title="Second", duration=12, seed=2, continuity=True, camera=(CameraMove("tilt_up", 0.5),)))))
    services = StudioServices(Workspace(tmp_path / "home"), jobs=JobQueue(lanes=farm.size), farm=farm)
    try:
        views = services.submit_renders("user:ann", project)
        done = [services.jobs.wait("user:ann", view.id, timeout=120) for view in views]
        assert [view.status for view in done] == [DONE, DONE], [view.error for view in done]
        state = services.farm_state("user:ann")
        assert state["enabled"] and len(state["workers"]) == 2 and state["queued"] == 0
    finally:
        services.jobs.close()
    shots = project.load().shots
    assert all(len(shot.takes) == 1 and shot.chosen_take.startswith("tk_") for shot in shots)
    second = json.loads(project.resolve(shots[1].takes[0].sidecar_path).read_text())
    assert second["continuity"] is True and second["farm"]["content_hash"]
