"""The server-side generation queue: one GPU lane shared fairly by every session.

Why a queue of our own instead of Gradio's: a render must keep going when the browser tab that
asked for it closes, must be cancellable only by the session that queued it, and one user's
twenty queued shots must not starve another user's single shot. Gradio's queue is per event and
first-come-first-served; this one is per app (created by the UI, never at module level), runs
every job on one worker thread (one accelerator, one model in memory) and picks the next job
round-robin between sessions.

Fairness bound: a job submitted by a session with nothing queued starts after at most the job
running now plus one job of each other session that has jobs queued (sessions rotate).

A job is any callable ``fn(progress, cancel)``; ``progress(done, total, message)`` is the backend
progress callback and ``cancel`` the :class:`threading.Event` the backend polls. A job that raises
is recorded as failed with its message and the worker goes on with the next job.
"""

from __future__ import annotations

import itertools
import threading
import time
import traceback
from collections import OrderedDict, deque
from dataclasses import dataclass
from typing import Any, Callable, Iterable

from studio.backends.base import GenerationCancelled, ProgressCallback

JobFn = Callable[[ProgressCallback, threading.Event], Any]

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
FINISHED = frozenset({DONE, FAILED, CANCELLED})


class QueueFull(RuntimeError):
    """The queue (or this session's share of it) is full; the message says how many are waiting."""


class JobNotFound(KeyError):
    """No such job, or it belongs to another session (which is told the same, on purpose)."""


@dataclass(frozen=True)
class JobView:
    """A snapshot of one job, safe to hand to the UI or the API (no live objects inside)."""

    id: str
    session: str
    kind: str
    label: str
    shot_id: str | None
    project: str | None
    group: str | None
    status: str
    done: int
    total: int
    message: str
    submitted: float
    started: float | None
    finished: float | None
    error: str | None
    result: Any
    now: float

    @property
    def elapsed(self) -> float:
        """Seconds the job has been running (or ran)."""
        if self.started is None:
            return 0.0
        return (self.finished if self.finished is not None else self.now) - self.started

    @property
    def fraction(self) -> float:
        if self.status == DONE:
            return 1.0
        return self.done / self.total if self.total > 0 else 0.0

    @property
    def eta(self) -> float | None:
        """Seconds left, extrapolated from the steps done so far; None until a step is done."""
        if self.status != RUNNING or self.done <= 0 or self.total <= 0:
            return None
        return self.elapsed * (self.total - self.done) / self.done

    @property
    def is_finished(self) -> bool:
        return self.status in FINISHED


class _Job:
    """The mutable record behind a JobView; only touched under the queue's lock."""

    def __init__(self, job_id: str, session: str, fn: JobFn, kind: str, label: str,
                 shot_id: str | None, project: str | None, group: str | None, now: float) -> None:
        self.id, self.session, self.fn, self.kind, self.label = job_id, session, fn, kind, label
        self.shot_id, self.project, self.group = shot_id, project, group
        self.status = QUEUED
        self.done, self.total, self.message = 0, 0, "waiting"
        self.submitted, self.started, self.finished = now, None, None
        self.error: str | None = None
        self.result: Any = None
        self.cancel = threading.Event()
        self.finished_event = threading.Event()

    def view(self, now: float) -> JobView:
        return JobView(
            id=self.id, session=self.session, kind=self.kind, label=self.label,
            shot_id=self.shot_id, project=self.project, group=self.group, status=self.status,
            done=self.done, total=self.total, message=self.message, submitted=self.submitted,
            started=self.started, finished=self.finished, error=self.error, result=self.result,
            now=now,
        )


class JobQueue:
    """One worker thread, per-session FIFO queues served round-robin, bounded in size.

    Use as a context manager (or call :meth:`close`) so the worker stops with the app.
    """

    def __init__(self, *, max_queued: int = 200, max_per_session: int = 100,
                 history: int = 100, clock: Callable[[], float] = time.monotonic,
                 name: str = "previz-jobs") -> None:
        if max_queued < 1 or max_per_session < 1:
            raise ValueError(f"queue sizes must be at least 1, got {max_queued}, {max_per_session}")
        self.max_queued, self.max_per_session = max_queued, max_per_session
        self._clock = clock
        self._lock = threading.Condition()
        self._pending: OrderedDict[str, deque[_Job]] = OrderedDict()
        """Session -> its queued jobs; the dict's order is the round-robin rotation."""
        self._jobs: dict[str, _Job] = {}
        self._history: deque[str] = deque()
        self._history_size = history
        self._running: _Job | None = None
        self._closed = False
        self._ids = itertools.count(1)
        self._worker = threading.Thread(target=self._work, name=name, daemon=True)
        self._worker.start()

    # -- submitting and cancelling ---------------------------------------------------------
    def submit(self, session: str, fn: JobFn, *, kind: str = "render", label: str = "",
               shot_id: str | None = None, project: str | None = None,
               group: str | None = None) -> JobView:
        """Queue ``fn`` for ``session``; raises QueueFull instead of growing without bound."""
        with self._lock:
            if self._closed:
                raise RuntimeError("the job queue is closed")
            queued = sum(len(q) for q in self._pending.values())
            if queued >= self.max_queued:
                raise QueueFull(f"the generation queue is full ({queued} jobs waiting); try again later")
            mine = self._pending.get(session)
            if mine is not None and len(mine) >= self.max_per_session:
                raise QueueFull(
                    f"you already have {len(mine)} jobs waiting (limit {self.max_per_session})"
                )
            job = _Job(f"job{next(self._ids)}", session, fn, kind, label, shot_id, project,
                       group, self._clock())
            self._jobs[job.id] = job
            self._pending.setdefault(session, deque()).append(job)
            self._lock.notify_all()
            return job.view(self._clock())

    def cancel(self, session: str, job_id: str) -> bool:
        """Cancel one of ``session``'s jobs (queued: dropped; running: its event is set).

        Returns False when the job had already finished. Another session's job id raises
        JobNotFound, exactly as an unknown id does, so ids cannot be probed.
        """
        with self._lock:
            job = self._own(session, job_id)
            return self._cancel(job)

    def cancel_session(self, session: str, group: str | None = None) -> int:
        """Cancel every unfinished job of ``session`` (optionally only one group); returns how many."""
        with self._lock:
            jobs = [j for j in self._jobs.values()
                    if j.session == session and (group is None or j.group == group)]
            return sum(self._cancel(job) for job in jobs)

    def _cancel(self, job: _Job) -> bool:
        if job.status in FINISHED:
            return False
        job.cancel.set()
        if job.status == QUEUED:
            queue = self._pending.get(job.session)
            if queue is not None and job in queue:
                queue.remove(job)
                if not queue:
                    del self._pending[job.session]
            self._finish(job, CANCELLED, None, "cancelled before it started")
        return True

    # -- looking -------------------------------------------------------------------------
    def get(self, session: str, job_id: str) -> JobView:
        with self._lock:
            return self._own(session, job_id).view(self._clock())

    def jobs(self, *, session: str | None = None, project: str | None = None,
             group: str | None = None) -> list[JobView]:
        """Snapshots of known jobs (oldest first), filtered by session, project and/or group."""
        with self._lock:
            now = self._clock()
            return [j.view(now) for j in self._jobs.values()
                    if (session is None or j.session == session)
                    and (project is None or j.project == project)
                    and (group is None or j.group == group)]

    def position(self, job_id: str) -> int | None:
        """How many jobs will run before this queued one (round-robin order); None if not queued."""
        with self._lock:
            for index, job in enumerate(self._schedule()):
                if job.id == job_id:
                    return index
            return None

    def wait(self, session: str, job_id: str, timeout: float | None = None) -> JobView:
        """Block until the job finishes (or ``timeout`` passes) and return its snapshot."""
        with self._lock:
            job = self._own(session, job_id)
        job.finished_event.wait(timeout)
        with self._lock:
            return job.view(self._clock())

    def worker_alive(self) -> bool:
        return self._worker.is_alive()

    # -- lifetime ------------------------------------------------------------------------
    def close(self, timeout: float = 10.0) -> None:
        """Cancel everything, stop the worker and wait for it (the running job sees its cancel)."""
        with self._lock:
            self._closed = True
            for job in list(self._jobs.values()):
                self._cancel(job)
            self._lock.notify_all()
        self._worker.join(timeout)

    def __enter__(self) -> "JobQueue":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------
    def _own(self, session: str, job_id: str) -> _Job:
        job = self._jobs.get(job_id)
        if job is None or job.session != session:
            raise JobNotFound(f"no job {job_id!r} in this session")
        return job

    def _schedule(self) -> Iterable[_Job]:
        """The order queued jobs would run in: one per session per round."""
        queues = [list(q) for q in self._pending.values()]
        for round_index in range(max((len(q) for q in queues), default=0)):
            for queue in queues:
                if round_index < len(queue):
                    yield queue[round_index]

    def _next(self) -> _Job | None:
        if not self._pending:
            return None
        session, queue = next(iter(self._pending.items()))
        job = queue.popleft()
        del self._pending[session]
        if queue:
            self._pending[session] = queue  # back of the rotation
        return job

    def _work(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._closed:
                    self._lock.wait()
                if self._closed and not self._pending:
                    return
                job = self._next()
                if job is None:
                    continue
                job.status, job.started, job.message = RUNNING, self._clock(), "starting"
                self._running = job
            self._run(job)

    def _run(self, job: _Job) -> None:
        def progress(done: int, total: int, message: str = "") -> None:
            with self._lock:
                job.done, job.total = int(done), int(total)
                if message:
                    job.message = message

        status, result, error = DONE, None, None
        try:
            result = job.fn(progress, job.cancel)
        except GenerationCancelled as exc:
            status, error = CANCELLED, str(exc) or "cancelled"
        except BaseException as exc:  # noqa: BLE001 - the worker must outlive any job
            status = CANCELLED if job.cancel.is_set() else FAILED
            error = _describe(exc)
            if status == FAILED:
                traceback.print_exception(exc)
        with self._lock:
            self._running = None
            if status == DONE and job.cancel.is_set():
                message = "finished (cancel came too late to stop it)"
            else:
                message = {DONE: "done", CANCELLED: "cancelled", FAILED: "failed"}[status]
            self._finish(job, status, error, message, result)

    def _finish(self, job: _Job, status: str, error: str | None, message: str,
                result: Any = None) -> None:
        job.status, job.error, job.message, job.result = status, error, message, result
        job.finished = self._clock()
        job.fn = _spent
        job.finished_event.set()
        self._history.append(job.id)
        while len(self._history) > self._history_size:
            self._jobs.pop(self._history.popleft(), None)


def _spent(progress: ProgressCallback, cancel: threading.Event) -> None:
    """Stands in for a finished job's function so its closure (frames, models) can be freed."""


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, MemoryError) and not text:
        text = "out of memory"
    return text if text and type(exc).__module__.startswith("studio") else f"{type(exc).__name__}: {text}"
