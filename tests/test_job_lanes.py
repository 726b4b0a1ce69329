"""The job queue with several lanes (one per render-farm worker): jobs run at once, and the
round-robin between owners is the same as with one lane."""

from __future__ import annotations

import threading

import pytest

from studio.services.jobs import DONE, JobQueue


def test_two_lanes_run_two_jobs_at_once_and_keep_the_rotation() -> None:
    started: list[str] = []
    release = threading.Event()
    both = threading.Barrier(2, timeout=10)

    def job(name: str):
        def run(progress, cancel):
            started.append(name)
            if name in ("a1", "a2"):
                both.wait()  # only returns when two jobs run at the same time
            release.wait(10)
            return name
        return run

    with JobQueue(lanes=2) as queue:
        views = [queue.submit("user:a", job(f"a{i}"), label=f"a{i}") for i in range(1, 5)]
        waited = threading.Event()
        while len(started) < 2 and not waited.wait(0.01):
            pass
        assert sorted(started) == ["a1", "a2"]  # both lanes busy at once (the barrier let them through)
        views.append(queue.submit("user:b", job("b1"), label="b1"))
        assert queue.position(views[-1].id) == 1  # b's one job goes ahead of a's last: one of a's, then b's
        release.set()
        results = [queue.wait("user:a" if v.label.startswith("a") else "user:b", v.id, timeout=10) for v in views]
    assert [r.status for r in results] == [DONE] * 5
    assert set(started[2:4]) == {"a3", "b1"} and started[4] == "a4"


def test_lanes_must_be_a_positive_whole_number() -> None:
    with pytest.raises(ValueError, match="lanes"):
        JobQueue(lanes=0)
