"""Several users and long sessions: isolation, fairness, concurrent exports, no leaks.

Fairness bound tested (documented in studio/services/jobs.py): a job submitted by a session
with nothing queued starts after at most the job running now plus one job of each other
session that has jobs queued. With one other user holding 20 queued shots that is 2 jobs; with
two such users, 3 -- never "after their 20".
"""

from __future__ import annotations

import tempfile
import threading
from pathlib import Path

import psutil
import pytest

from studio.backends import BackendCache
from studio.media import probe_stream
from studio.services.export import export_board
from studio.services.jobs import DONE, JobNotFound, JobQueue
from studio.services.render import render_shot
from studio.storage import Project

from rel_helpers import FixedCache, StepBackend, folder_bytes, open_fds, partial_files, tiny_board


@pytest.fixture
def queue():
    with JobQueue(max_queued=100, max_per_owner=50) as jobs:
        yield jobs


def recording_job(order: list[str], name: str, gate: threading.Event | None = None):
    def run(progress, cancel):
        order.append(name)
        if gate is not None:
            assert gate.wait(30)
        return name
    return run


@pytest.mark.parametrize("heavy_users", [1, 2])
def test_twenty_queued_shots_do_not_starve_another_users_single_shot(queue, heavy_users: int) -> None:
    order: list[str] = []
    gate = threading.Event()
    heavy = [f"user{i}" for i in range(heavy_users)]
    for user in heavy:
        for n in range(20):
            first = user == heavy[0] and n == 0
            queue.submit(user, recording_job(order, f"{user}-{n}", gate if first else None))
    light = queue.submit("light", recording_job(order, "light-0"))
    position = queue.position(light.id)
    gate.set()
    assert queue.wait("light", light.id, timeout=30).status == DONE
    ran_before = order.index("light-0")
    bound = 1 + heavy_users  # the running job + one queued job of each other session
    assert ran_before <= bound, f"{ran_before} jobs ran first, the bound is {bound}: {order[:ran_before + 1]}"
    assert position is not None and position <= heavy_users


def test_two_users_neither_see_nor_cancel_nor_overwrite_each_others_work(queue, tmp_path: Path) -> None:
    alice_project = Project.create(tmp_path / "alice", tiny_board(shots=2))
    bob_project = Project.create(tmp_path / "bob", tiny_board(shots=2))
    release = threading.Event()
    blocking = StepBackend(steps=3)
    blocking.on_step = lambda step: release.wait(30)

    def render(project: Project, backend, shot_id: str):
        cache = FixedCache(backend)
        return lambda progress, cancel: render_shot(project, shot_id, progress=progress, cancel=cancel,
                                                    backends=cache)

    bob_job = queue.submit("bob", render(bob_project, blocking, "s1"), shot_id="s1", project=str(bob_project.root))
    alice_job = queue.submit("alice", render(alice_project, StepBackend(), "s2"), shot_id="s2",
                             project=str(alice_project.root))

    assert [job.id for job in queue.jobs(owner="alice")] == [alice_job.id]
    with pytest.raises(JobNotFound):
        queue.cancel("alice", bob_job.id)
    with pytest.raises(JobNotFound):
        queue.get("alice", bob_job.id)
    assert queue.cancel_owner("alice", group=None) == 1  # alice cancels everything of hers...
    release.set()
    assert queue.wait("bob", bob_job.id, timeout=30).status == DONE  # ...bob's render is untouched
    assert queue.get("alice", alice_job.id).status == "cancelled"

    bob_board, alice_board = bob_project.load(), alice_project.load()
    assert bob_board.shot("s1").chosen_take is not None
    assert all(not shot.takes for shot in alice_board.shots)
    assert not any(alice_project.takes_dir.iterdir())


def test_two_users_on_one_project_on_purpose_both_takes_land(queue, tmp_path: Path) -> None:
    project = Project.create(tmp_path / "shared", tiny_board(shots=2))
    views = []
    for session, shot_id in (("alice", "s1"), ("bob", "s2"), ("alice", "s2"), ("bob", "s1")):
        cache = FixedCache(StepBackend(steps=2))
        views.append((session, queue.submit(session, lambda p, c, s=shot_id, cache=cache: render_shot(
            project, s, progress=p, cancel=c, backends=cache))))
    results = [queue.wait(session, view.id, timeout=30) for session, view in views]
    assert [r.status for r in results] == [DONE] * 4
    board = project.load()
    assert {t.id for shot in board.shots for t in shot.takes} == {r.result.id for r in results}


def _two_projects(tmp_path: Path) -> tuple[Project, Project]:
    first = Project.create(tmp_path / "a", tiny_board(shots=2, frames=6))
    second = Project.create(tmp_path / "b", tiny_board(shots=3, frames=8))
    for project in (first, second):
        for shot in project.load().shots:
            render_shot(project, shot.id, backends=FixedCache(StepBackend(steps=1)))
    return first, second


def test_two_exports_to_the_same_name_at_once_leave_a_whole_file(tmp_path: Path) -> None:
    first, second = _two_projects(tmp_path)
    totals = {first.load().total_frames, second.load().total_frames}
    assert len(totals) == 2
    out = tmp_path / "shared" / "animatic.mp4"
    for round_ in range(3):
        errors: list[BaseException] = []

        def export(project: Project) -> None:
            try:
                export_board(project, "mp4", out)
            except BaseException as error:  # noqa: BLE001 - reported below
                errors.append(error)

        threads = [threading.Thread(target=export, args=(p,)) for p in (first, second)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
        assert probe_stream(out).frames in totals, f"round {round_}: a mix of two exports"
        assert partial_files(out.parent) == []


def test_two_exports_at_once_give_two_whole_files(tmp_path: Path) -> None:
    first, _ = _two_projects(tmp_path)
    outs = [tmp_path / "one.mp4", tmp_path / "two.mp4"]
    threads = [threading.Thread(target=export_board, args=(first, "mp4", out)) for out in outs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    total = first.load().total_frames
    assert [probe_stream(out).frames for out in outs] == [total, total]


@pytest.mark.slow
def test_200_render_and_export_cycles_leak_no_files_handles_or_processes(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    temp = tmp_path / "tmp"
    temp.mkdir()
    monkeypatch.setenv("TMPDIR", str(temp))
    monkeypatch.setattr(tempfile, "tempdir", str(temp))
    project = Project.create(tmp_path / "film", tiny_board(shots=1, frames=4))
    backends = BackendCache()
    me = psutil.Process()
    samples: dict[int, tuple[int, int, list[str], int]] = {}
    with JobQueue() as queue:
        for cycle in range(1, 201):
            job = queue.submit("soak", lambda p, c, n=cycle: render_shot(
                project, "s1", seed=n, progress=p, cancel=c, backends=backends))
            assert queue.wait("soak", job.id, timeout=60).status == DONE
            fmt = "mp4" if cycle % 20 == 0 else ("otio", "csv", "edl", "fcpxml")[cycle % 4]
            export_board(project, fmt)
            if cycle % 10 == 0:
                project.update(lambda board: board.with_shot(board.shots[0].replace(
                    takes=board.shots[0].takes[-1:], chosen_take=board.shots[0].takes[-1].id)))
            assert not me.children(recursive=True), f"cycle {cycle}: child processes left running"
            if cycle in (20, 200):
                cache = [p for p in project.exports_dir.rglob("*") if p.is_file() and p.parent != project.exports_dir]
                samples[cycle] = (open_fds(), folder_bytes(temp),
                                  sorted(p.name for p in project.exports_dir.iterdir() if p.is_file()), len(cache))
    (fds_20, temp_20, exports_20, cache_20), (fds_200, temp_200, exports_200, cache_200) = samples[20], samples[200]
    assert fds_200 <= fds_20 + 4, f"open files grew from {fds_20} to {fds_200}"
    assert temp_200 <= temp_20 + 64 * 1024, f"temp folder grew from {temp_20} to {temp_200} bytes"
    assert exports_200 == exports_20, "exports must be replaced, not accumulate"
    assert cache_200 <= cache_20 + 4, f"export cache files grew from {cache_20} to {cache_200}"
    takes = [p for p in project.takes_dir.rglob("*.mp4")]
    assert len(takes) == 200, "every render wrote exactly one take (none lost, no strays)"
    assert partial_files(project.root) == [] and partial_files(temp) == []
    assert len(project.backups()) <= 10
