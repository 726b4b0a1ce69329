"""The generation queue: one lane, fair between sessions, cancel isolation, failures survived."""

from __future__ import annotations

import threading

import pytest

from studio.backends.base import GenerationCancelled, GenerationError
from studio.services.jobs import (
    CANCELLED,
    DONE,
    FAILED,
    JobNotFound,
    JobQueue,
    QueueFull,
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
    with JobQueue(max_queued=50, max_per_session=30) as q:
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
        assert queue.wait(view.session, view.id, WAIT).status == DONE
    assert backend.max_running == 1 and len(backend.order) == 9


def test_round_robin_one_session_cannot_starve_another(queue):
    backend, gate, started = FakeBackend(), threading.Event(), threading.Event()
    blocker = queue.submit("alice", backend.job("block", gate=gate, started=started))
    assert started.wait(WAIT)
    alice = [queue.submit("alice", backend.job(f"a{i}", steps=1)) for i in range(20)]
    bob = queue.submit("bob", backend.job("b0", steps=1))
    # Bob's single shot runs after at most one of Alice's queued twenty.
    assert queue.position(bob.id) <= 1
    gate.set()
    for view in [blocker, *alice, bob]:
        queue.wait(view.session, view.id, WAIT)
    assert backend.order.index("b0") <= 2
    assert [n for n in backend.order if n.startswith("a")] == [f"a{i}" for i in range(20)]


def test_cancel_stops_only_that_sessions_job(queue):
    backend, gate, started = FakeBackend(), threading.Event(), threading.Event()
    running = queue.submit("alice", backend.job("alice-running", gate=gate, started=started))
    assert started.wait(WAIT)
    bob = queue.submit("bob", backend.job("bob-queued", steps=1))
    with pytest.raises(JobNotFound):
        queue.cancel("bob", running.id)  # bob cannot cancel alice's job
    assert queue.cancel_session("bob", group="nothing") == 0
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


def test_queue_is_bounded_overall_and_per_session():
    gate, started = threading.Event(), threading.Event()
    backend = FakeBackend()
    with JobQueue(max_queued=5, max_per_session=3) as q:
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


def test_sessions_see_only_their_own_jobs(queue):
    backend = FakeBackend()
    a = queue.submit("alice", backend.job("a"), project="/p1")
    b = queue.submit("bob", backend.job("b"), project="/p2")
    queue.wait("alice", a.id, WAIT)
    queue.wait("bob", b.id, WAIT)
    assert [j.id for j in queue.jobs(session="alice")] == [a.id]
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
