"""The generation queue: one lane, fair between owners, cancel isolation, failures survived."""

from __future__ import annotations

import itertools
import threading

import pytest

from studio.backends.base import GenerationCancelled, GenerationError
from studio.services.jobs import (
    CANCELLED,
    DONE,
    FAILED,
    INTERRUPTED,
    INTERRUPTED_MESSAGE,
    JobNotFound,
    JobQueue,
    NotInterrupted,
    QueueFull,
    QueueStateError,
    job_owner,
)

WAIT = 10.0


class FakeBackend:
    """Steps through ``steps`` stages, polling cancel like a real backend; can block or fail."""

    def __init__(self) -> None:
        self.order: list[str] = []
        self.running = 0
        self.max_running = 0
        self.lock = threading.Lock()

    def job(self, name: str, steps: int = 3, gate: threading.Event | None = None,
            fail: Exception | None = None, started: threading.Event | None = None):
        def run(progress, cancel):
            with self.lock:
                self.running += 1
                self.max_running = max(self.max_running, self.running)
            try:
                if started is not None:
                    started.set()
                for step in range(steps):
                    if gate is not None:
                        while not gate.wait(0.01):
                            if cancel.is_set():
                                raise GenerationCancelled(f"{name} cancelled at step {step}")
                    if cancel.is_set():
                        raise GenerationCancelled(f"{name} cancelled at step {step}")
                    progress(step + 1, steps, f"step {step + 1} of {steps}")
                if fail is not None:
                    raise fail
                self.order.append(name)
                return name.upper()
            finally:
                with self.lock:
                    self.running -= 1
        return run


@pytest.fixture
def queue():
    with JobQueue(max_queued=50, max_per_owner=30) as q:
        yield q


def test_job_runs_and_reports_progress(queue):
    backend = FakeBackend()
    view = queue.submit("alice", backend.job("a", steps=4), label="shot 1", shot_id="s1", project="/p")
    done = queue.wait("alice", view.id, WAIT)
    assert done.status == DONE and done.result == "A"
    assert (done.done, done.total) == (4, 4) and done.fraction == 1.0
    assert done.shot_id == "s1" and done.project == "/p" and done.label == "shot 1"
    assert done.elapsed >= 0 and done.eta is None


def test_progress_is_visible_while_running_with_estimate():
    ticks = iter(range(1000))
    gate, started = threading.Event(), threading.Event()
    step_reached = threading.Event()
    with JobQueue(clock=lambda: float(next(ticks))) as q:
        def run(progress, cancel):
            started.set()
            progress(1, 4, "denoising")
            step_reached.set()
            gate.wait(WAIT)
            return "ok"
        view = q.submit("s", run)
        assert step_reached.wait(WAIT)
        running = q.get("s", view.id)
        assert running.status == "running" and (running.done, running.total) == (1, 4)
        assert running.message == "denoising" and running.fraction == 0.25
        assert running.eta is not None and running.eta == pytest.approx(running.elapsed * 3)
        gate.set()
        assert q.wait("s", view.id, WAIT).status == DONE


def test_one_lane_never_runs_two_jobs_at_once(queue):
    backend = FakeBackend()
    views = [queue.submit(f"s{i % 3}", backend.job(f"j{i}", steps=2)) for i in range(9)]
    for view in views:
        assert queue.wait(view.owner, view.id, WAIT).status == DONE
    assert backend.max_running == 1 and len(backend.order) == 9


def test_round_robin_one_owner_cannot_starve_another(queue):
    backend, gate, started = FakeBackend(), threading.Event(), threading.Event()
    blocker = queue.submit("alice", backend.job("block", gate=gate, started=started))
    assert started.wait(WAIT)
    alice = [queue.submit("alice", backend.job(f"a{i}", steps=1)) for i in range(20)]
    bob = queue.submit("bob", backend.job("b0", steps=1))
    # Bob's single shot runs after at most one of Alice's queued twenty.
    assert queue.position(bob.id) <= 1
    gate.set()
    for view in [blocker, *alice, bob]:
        queue.wait(view.owner, view.id, WAIT)
    assert backend.order.index("b0") <= 2
    assert [n for n in backend.order if n.startswith("a")] == [f"a{i}" for i in range(20)]


def test_cancel_stops_only_that_owners_job(queue):
    backend, gate, started = FakeBackend(), threading.Event(), threading.Event()
    running = queue.submit("alice", backend.job("alice-running", gate=gate, started=started))
    assert started.wait(WAIT)
    bob = queue.submit("bob", backend.job("bob-queued", steps=1))
    with pytest.raises(JobNotFound):
        queue.cancel("bob", running.id)  # bob cannot cancel alice's job
    assert queue.cancel_owner("bob", group="nothing") == 0
    assert queue.get("alice", running.id).status == "running"
    assert queue.cancel("alice", running.id) is True
    assert queue.wait("alice", running.id, WAIT).status == CANCELLED
    assert queue.wait("bob", bob.id, WAIT).status == DONE
    assert backend.order == ["bob-queued"]


def test_cancel_queued_job_drops_it(queue):
    backend, gate, started = FakeBackend(), threading.Event(), threading.Event()
    first = queue.submit("s", backend.job("first", gate=gate, started=started))
    assert started.wait(WAIT)
    second = queue.submit("s", backend.job("second", steps=1))
    third = queue.submit("s", backend.job("third", steps=1))
    assert queue.cancel("s", second.id)
    assert queue.get("s", second.id).status == CANCELLED
    gate.set()
    queue.wait("s", third.id, WAIT)
    assert backend.order == ["first", "third"]
    assert queue.cancel("s", first.id) is False  # already finished


def test_a_job_that_raises_leaves_the_worker_alive(queue):
    backend = FakeBackend()
    bad = queue.submit("s", backend.job("bad", fail=GenerationError("the model needs a prompt")))
    crash = queue.submit("s", backend.job("crash", fail=ZeroDivisionError("boom")))
    good = queue.submit("s", backend.job("good"))
    failed = queue.wait("s", bad.id, WAIT)
    assert failed.status == FAILED and failed.error == "the model needs a prompt"
    crashed = queue.wait("s", crash.id, WAIT)
    assert crashed.status == FAILED and crashed.error == "ZeroDivisionError: boom"
    assert queue.wait("s", good.id, WAIT).status == DONE
    assert queue.worker_alive() and backend.order == ["good"]


def test_queue_is_bounded_overall_and_per_owner():
    gate, started = threading.Event(), threading.Event()
    backend = FakeBackend()
    with JobQueue(max_queued=5, max_per_owner=3) as q:
        q.submit("a", backend.job("run", gate=gate, started=started))
        assert started.wait(WAIT)
        for i in range(3):
            q.submit("a", backend.job(f"a{i}", steps=1))
        with pytest.raises(QueueFull, match="limit 3"):
            q.submit("a", backend.job("a-extra", steps=1))
        q.submit("b", backend.job("b0", steps=1))
        q.submit("c", backend.job("c0", steps=1))
        with pytest.raises(QueueFull, match="5 jobs waiting"):
            q.submit("d", backend.job("d0", steps=1))
        gate.set()


def test_owners_see_only_their_own_jobs(queue):
    backend = FakeBackend()
    a = queue.submit("alice", backend.job("a"), project="/p1")
    b = queue.submit("bob", backend.job("b"), project="/p2")
    queue.wait("alice", a.id, WAIT)
    queue.wait("bob", b.id, WAIT)
    assert [j.id for j in queue.jobs(owner="alice")] == [a.id]
    assert [j.id for j in queue.jobs(project="/p2")] == [b.id]
    with pytest.raises(JobNotFound):
        queue.get("alice", b.id)


def test_history_is_bounded():
    backend = FakeBackend()
    with JobQueue(history=3) as q:
        views = [q.submit("s", backend.job(f"j{i}", steps=1)) for i in range(6)]
        q.wait("s", views[-1].id, WAIT)
        assert [j.id for j in q.jobs()] == [v.id for v in views[-3:]]


def test_close_cancels_the_running_job_and_stops_the_worker():
    backend, gate, started = FakeBackend(), threading.Event(), threading.Event()
    q = JobQueue()
    running = q.submit("s", backend.job("r", gate=gate, started=started))
    queued = q.submit("s", backend.job("q", steps=1))
    assert started.wait(WAIT)
    q.close()
    assert not q.worker_alive()
    assert q.get("s", running.id).status == CANCELLED
    assert q.get("s", queued.id).status == CANCELLED
    with pytest.raises(RuntimeError, match="closed"):
        q.submit("s", backend.job("late"))


# -- owners, fair share (issue 13) -------------------------------------------------------------
def test_owner_is_the_login_and_the_session_only_without_one():
    assert job_owner("alice", "hash-1") == job_owner("alice", "hash-2") == "user:alice"
    assert job_owner(None, "hash-1") == "session:hash-1" != job_owner("hash-1")
    with pytest.raises(ValueError, match="owner"):
        job_owner(None, None)


def test_one_owner_from_two_clients_cannot_fill_the_queue_for_others():
    gate, started = threading.Event(), threading.Event()
    backend = FakeBackend()
    with JobQueue(max_queued=10) as q:
        assert q.max_per_owner < q.max_queued
        alice = job_owner("alice", "tab-1")
        q.submit(alice, backend.job("run", gate=gate, started=started))
        assert started.wait(WAIT)
        submitted = 0
        with pytest.raises(QueueFull, match="per user"):
            for tab in itertools.cycle(["tab-1", "tab-2"]):  # alice's two clients, one owner
                q.submit(job_owner("alice", tab), backend.job(f"a{submitted}", steps=1))
                submitted += 1
        assert submitted == q.max_per_owner
        bob = q.submit(job_owner("bob", "tab-9"), backend.job("b", steps=1))
        assert q.position(bob.id) == 1  # right after alice's next one
        gate.set()
        assert q.wait(bob.owner, bob.id, WAIT).status == DONE


def test_a_per_owner_cap_as_large_as_the_queue_is_refused():
    with pytest.raises(ValueError, match="max_per_owner"):
        JobQueue(max_queued=10, max_per_owner=10)


def test_an_owner_sees_and_cancels_its_jobs_from_any_client():
    gate, started = threading.Event(), threading.Event()
    backend = FakeBackend()
    with JobQueue() as q:
        job = q.submit(job_owner("alice", "tab-1"), backend.job("a", gate=gate, started=started))
        assert [j.id for j in q.jobs(job_owner("alice", "phone"))] == [job.id]
        with pytest.raises(JobNotFound):
            q.cancel(job_owner(None, "tab-1"), job.id)  # the session hash alone is not alice
        assert q.cancel(job_owner("alice", "phone"), job.id)
        assert q.wait(job.owner, job.id, WAIT).status == CANCELLED


def test_unknown_ids_are_not_echoed_in_full():
    with JobQueue() as q:
        with pytest.raises(JobNotFound) as error:
            q.get("alice", "x" * 1_000_000)
        assert len(str(error.value)) < 200 and "1000000 characters" in str(error.value)


# -- restarts (in process; the kill -9 case is in tests/reliability/test_rel_restart.py) ---------
def test_a_stop_keeps_unfinished_jobs_as_interrupted_and_one_call_requeues(tmp_path):
    backend, gate, started = FakeBackend(), threading.Event(), threading.Event()
    first = JobQueue(state_dir=tmp_path)
    running = first.submit("alice", backend.job("r", gate=gate, started=started), label="shot 1",
                           shot_id="s1", project="/p", seed=7)
    assert started.wait(WAIT)
    queued = first.submit("alice", backend.job("q", steps=1), shot_id="s2", project="/p", seed=8)
    bobs = first.submit("bob", backend.job("b", steps=1), shot_id="s3", project="/q")
    first.close()
    assert first.get("alice", queued.id).status == INTERRUPTED

    with JobQueue(state_dir=tmp_path) as second:
        lost = second.interrupted("alice")
        assert [j.id for j in lost] == [running.id, queued.id]
        assert [(j.project, j.shot_id, j.seed) for j in lost] == [("/p", "s1", 7), ("/p", "s2", 8)]
        assert lost[0].label == "shot 1" and lost[0].can_requeue
        assert INTERRUPTED_MESSAGE in lost[0].message and "running" in lost[0].error
        assert [j.id for j in second.interrupted("bob")] == [bobs.id]
        with pytest.raises(JobNotFound):
            second.requeue("bob", running.id, backend.job("stolen", steps=1))
        again = second.requeue("alice", running.id, backend.job("r2", steps=1))
        assert again.id not in {running.id, queued.id, bobs.id}
        assert (again.project, again.shot_id, again.seed, again.label) == ("/p", "s1", 7, "shot 1")
        assert second.wait("alice", again.id, WAIT).status == DONE
        assert second.get("alice", running.id).requeued_as == again.id
        with pytest.raises(NotInterrupted, match="already queued again"):
            second.requeue("alice", running.id, backend.job("twice", steps=1))
        second.dismiss("alice", queued.id)
        assert second.interrupted("alice") == []
        assert second.get("alice", queued.id).status == INTERRUPTED  # the old id still answers


def test_ids_are_never_reused_across_starts_and_expired_ids_say_so(tmp_path):
    backend = FakeBackend()
    seen: set[str] = set()
    for _ in range(3):
        with JobQueue(state_dir=tmp_path, history=2) as q:
            views = [q.submit("s", backend.job("j", steps=1)) for _ in range(3)]
            for view in views:
                q.wait("s", view.id, WAIT)
            ids = {view.id for view in views}
            assert not ids & seen
            seen |= ids
    with JobQueue(state_dir=tmp_path, history=2) as q:
        with pytest.raises(JobNotFound, match="before the server restarted"):
            q.get("s", views[0].id)
        with pytest.raises(JobNotFound, match="of yours"):
            q.get("s", "job-deadbeef-1")
        assert q.get("s", views[-1].id).status == DONE  # recent history survives the restart


def test_one_state_folder_serves_one_queue_at_a_time(tmp_path):
    with JobQueue(state_dir=tmp_path):
        with pytest.raises(QueueStateError, match="another server"):
            JobQueue(state_dir=tmp_path)
    JobQueue(state_dir=tmp_path).close()  # released on close


def test_a_damaged_state_file_starts_an_empty_queue_and_is_kept_aside(tmp_path, capsys):
    (tmp_path / "jobs.json").write_text("{not json")
    with JobQueue(state_dir=tmp_path) as q:
        assert q.jobs() == []
    assert list(tmp_path.glob("jobs.json.broken-*"))
    assert "unreadable job queue state" in capsys.readouterr().err
