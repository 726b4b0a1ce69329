"""Backend faults through the real queue and render service: errors, out-of-memory, cancel.

Each job here is exactly what the UI queues: ``render_shot`` running on the JobQueue's worker.
"""

from __future__ import annotations

import gc
import threading
from pathlib import Path

import pytest
import torch

from studio.backends.base import GenerationError, OutOfMemory
from studio.services.jobs import CANCELLED, DONE, FAILED, JobQueue
from studio.services.render import render_shot
from studio.storage import Project

from rel_helpers import FixedCache, StepBackend, project_files, tiny_board


@pytest.fixture
def queue():
    with JobQueue(max_queued=50, max_per_owner=40) as jobs:
        yield jobs


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "film", tiny_board(shots=2))


def submit(queue: JobQueue, project: Project, backend: StepBackend, shot_id: str = "s1", session: str = "alice"):
    cache = FixedCache(backend)

    def run(progress, cancel):
        return render_shot(project, shot_id, progress=progress, cancel=cancel, backends=cache)

    return queue.submit(session, run, shot_id=shot_id, project=str(project.root))


def test_a_backend_that_always_raises_leaves_worker_alive_shot_unchanged_error_visible(queue, project) -> None:
    from studio.ui.views import job_line

    board_before = project.board_path.read_bytes()
    files_before = project_files(project)
    broken = StepBackend()

    def explode(step: int) -> None:
        raise GenerationError(f"model file is damaged <b>at step {step}</b>")

    broken.on_step = explode
    failed = [queue.wait("alice", submit(queue, project, broken).id, timeout=30) for _ in range(3)]

    for view in failed:
        assert view.status == FAILED
        assert view.error == "model file is damaged <b>at step 0</b>"
        card = job_line(view)
        assert "failed" in card and "model file is damaged &lt;b&gt;at step 0&lt;/b&gt;" in card
    assert queue.worker_alive()
    assert project.board_path.read_bytes() == board_before, "the shot must be unchanged"
    assert project_files(project) == files_before, "no take files may be left behind"

    ok = queue.wait("alice", submit(queue, project, StepBackend()).id, timeout=30)
    assert ok.status == DONE
    assert project.load().shot("s1").chosen_take == ok.result.id


def test_an_unexpected_exception_type_is_survived_too(queue, project) -> None:
    backend = StepBackend()

    def crash(step: int) -> None:
        raise KeyError("latents")

    backend.on_step = crash
    failed = queue.wait("alice", submit(queue, project, backend).id, timeout=30)
    assert failed.status == FAILED and "KeyError" in failed.error and "latents" in failed.error
    assert queue.wait("alice", submit(queue, project, StepBackend()).id, timeout=30).status == DONE


@pytest.mark.parametrize("make_error", [
    lambda: OutOfMemory("out of memory at 32x32: try the memory profile 'model_cpu_offload'"),
    lambda: torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB"),
], ids=["studio-OutOfMemory", "torch-OutOfMemoryError"])
def test_out_of_memory_at_step_k_gives_a_clear_message_releases_memory_and_next_job_runs(
        queue, project, make_error) -> None:
    k = 3
    backend = StepBackend(steps=6, buffer_bytes=4 << 20)
    board_before = project.board_path.read_bytes()

    def oom(step: int) -> None:
        if step == k:
            raise make_error()

    backend.on_step = oom
    view = queue.wait("alice", submit(queue, project, backend).id, timeout=30)
    assert view.status == FAILED
    assert "out of memory" in view.error.lower()
    assert backend.steps_run == k
    gc.collect()
    assert backend.live_buffers() == 0, "the failed job's step buffers must be released"
    assert project.board_path.read_bytes() == board_before

    backend.on_step = None
    ok = queue.wait("alice", submit(queue, project, backend).id, timeout=30)
    assert ok.status == DONE and backend.steps_run == 6
    assert project.load().shot("s1").chosen_take == ok.result.id


@pytest.mark.parametrize("k", [0, 2, 5])
def test_cancel_at_step_k_stops_within_one_step_and_attaches_nothing(queue, project, k: int) -> None:
    backend = StepBackend(steps=6)
    files_before = project_files(project)
    board_before = project.board_path.read_bytes()
    job_ids: list[str] = []

    def cancel_now(step: int) -> None:
        if step == k:
            assert queue.cancel("alice", job_ids[0])

    backend.on_step = cancel_now
    job_ids.append(submit(queue, project, backend).id)
    view = queue.wait("alice", job_ids[0], timeout=30)

    assert view.status == CANCELLED
    assert backend.steps_run <= k + 1, f"ran {backend.steps_run} steps after a cancel at step {k}"
    assert project.board_path.read_bytes() == board_before
    assert project_files(project) == files_before

    backend.on_step = None
    ok = queue.wait("alice", submit(queue, project, backend).id, timeout=30)
    assert ok.status == DONE, "the backend must be usable after a cancel"


def test_a_backend_that_ignores_cancel_still_attaches_nothing(project) -> None:
    backend = StepBackend(steps=4)
    cancel = threading.Event()
    backend.on_step = lambda step: cancel.set() if step == 1 else None
    board_before = project.board_path.read_bytes()
    files_before = project_files(project)

    class Deaf(StepBackend):
        def generate(self, request, progress, cancel_event):
            return backend.generate(request, progress, threading.Event())

    with pytest.raises(GenerationError, match="cancelled"):
        render_shot(project, "s1", cancel=cancel, backends=FixedCache(Deaf()))
    assert project.board_path.read_bytes() == board_before
    assert project_files(project) == files_before


def test_the_animatic_backend_stops_within_one_batch_of_a_cancel(project) -> None:
    from studio.backends.animatic import AnimaticBackend
    from studio.backends.warper import BATCH_FRAMES
    from studio.backends.base import GenerationCancelled

    project.update(lambda b: b.with_shot(b.shot("s1").replace(duration=8 * BATCH_FRAMES)))
    cancel = threading.Event()
    reports: list[int] = []

    def progress(done: int, total: int, message: str) -> None:
        reports.append(done)
        if done >= 2 * BATCH_FRAMES:
            cancel.set()

    board_before = project.board_path.read_bytes()
    with pytest.raises(GenerationCancelled):
        render_shot(project, "s1", progress=progress, cancel=cancel,
                    backends=FixedCache(AnimaticBackend(workers=1)))
    after_cancel = [done for done in reports if done > 2 * BATCH_FRAMES]
    assert max(after_cancel, default=2 * BATCH_FRAMES) <= 3 * BATCH_FRAMES
    assert project.board_path.read_bytes() == board_before
