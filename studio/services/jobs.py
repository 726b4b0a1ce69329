"""The server-side generation queue: one GPU lane shared fairly by every owner.

Why a queue of our own instead of Gradio's: a render must keep going when the browser tab that
asked for it closes, must be cancellable only by the owner that queued it, and one user's
twenty queued shots must not starve another user's single shot. Gradio's queue is per event and
first-come-first-served; this one is per app (created by the UI, never at module level), runs
every job on one worker thread (one accelerator, one model in memory) and picks the next job
round-robin between owners. With a render farm it runs one lane per farm worker: each lane takes
the next job in the same rotation, so the farm gets the jobs in the fair order.

An **owner** is who a job belongs to: the login when the server has one, the browser session only
when it has none (see :func:`job_owner`). A user sees and cancels their jobs from any of their
tabs and clients, and nobody else's; another owner's job id is answered exactly like an unknown
one, so ids cannot be probed.

Fair share: each owner may have at most ``max_per_owner`` jobs waiting, always fewer than the
global ``max_queued``, so one user can never fill the queue for the others. Fairness bound: a job
submitted by an owner with nothing queued starts after at most the job running now plus one job
of each other owner that has jobs queued (owners rotate).

Restarts (with a ``state_dir``): every change of a job's state is written to
``state_dir/jobs.json`` atomically. Jobs that were queued or running when the process died (or
stopped) come back as :data:`INTERRUPTED` ("interrupted by a restart") for their owner, with
what is needed to queue them again (project, shot id, seed, label); :meth:`JobQueue.requeue`
does that in one call. Job ids carry a random per-start prefix, so they are never reused across
restarts, and the ids of the previous runs' jobs still answer with their last state.

A job is any callable ``fn(progress, cancel)``; ``progress(done, total, message)`` is the backend
progress callback and ``cancel`` the :class:`threading.Event` the backend polls. A job that raises
is recorded as failed with its message and the worker goes on with the next job.
"""

from __future__ import annotations

import contextlib
import fcntl
import itertools
import json
import os
import secrets
import sys
import threading
import time
import traceback
from collections import OrderedDict, deque
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any, Callable, Iterable

from studio.backends.base import GenerationCancelled
from studio.common import Progress, write_json_atomic

JobFn = Callable[[Progress, threading.Event], Any]

QUEUED, RUNNING, DONE, FAILED, CANCELLED = "queued", "running", "done", "failed", "cancelled"
INTERRUPTED = "interrupted"
"""Queued or running when the server stopped or died; the owner may re-queue it."""
FINISHED = frozenset({DONE, FAILED, CANCELLED, INTERRUPTED})
INTERRUPTED_MESSAGE = "interrupted by a restart"
STATE_FILE = "jobs.json"
STATE_LOCK = "jobs.lock"
STATE_VERSION = 1
RUNS_KEPT = 1000
"""How many previous starts' id prefixes are remembered (to tell an expired id from a made-up one)."""
DEFAULT_MAX_QUEUED = 200
DEFAULT_MAX_PER_OWNER = 40


class QueueFull(RuntimeError):
    """The queue (or this owner's share of it) is full; the message says how many are waiting."""


class JobNotFound(KeyError):
    """No such job, or it belongs to another owner (which is told the same, on purpose)."""

    def __str__(self) -> str:  # KeyError would print the message with quotes around it
        return str(self.args[0]) if self.args else "no such job"


class NotInterrupted(RuntimeError):
    """Only a job interrupted by a restart, and not re-queued yet, can be re-queued."""


class QueueStateError(RuntimeError):
    """The queue's state folder cannot be used (another server holds it, or it cannot be written)."""


def job_owner(login: str | None, session: str | None = None) -> str:
    """Who a job belongs to: the login when there is one, else the session (never both).

    Prefixed so that a user named like a session hash can never meet that session's jobs.
    """
    if login:
        return f"user:{login}"
    if session:
        return f"session:{session}"
    raise ValueError("a job needs an owner: there is neither a login nor a session")


@dataclass(frozen=True)
class JobView:
    """A snapshot of one job, safe to hand to the UI or the API (no live objects inside)."""

    id: str
    owner: str
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
    seed: int | None = None
    requeued_as: str | None = None
    """For an interrupted job that was re-queued: the new job's id."""
    dismissed: bool = False
    """An interrupted job its owner chose not to make again."""

    @property
    def session(self) -> str:
        """Deprecated name of :attr:`owner` (callers written before jobs belonged to logins)."""
        return self.owner

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

    @property
    def can_requeue(self) -> bool:
        """True for an interrupted job that has not been queued again yet."""
        return self.status == INTERRUPTED and self.requeued_as is None and not self.dismissed


class _Job:
    """The mutable record behind a JobView; only touched under the queue's lock."""

    def __init__(self, job_id: str, owner: str, fn: JobFn, kind: str, label: str,
                 shot_id: str | None, project: str | None, group: str | None, now: float,
                 seed: int | None = None) -> None:
        self.id, self.owner, self.fn, self.kind, self.label = job_id, owner, fn, kind, label
        self.shot_id, self.project, self.group, self.seed = shot_id, project, group, seed
        self.status = QUEUED
        self.done, self.total, self.message = 0, 0, "waiting"
        self.submitted, self.started, self.finished = now, None, None
        self.submitted_at = time.time()
        self.error: str | None = None
        self.result: Any = None
        self.requeued_as: str | None = None
        self.dismissed = False
        self.cancel = threading.Event()
        self.finished_event = threading.Event()

    def view(self, now: float) -> JobView:
        return JobView(
            id=self.id, owner=self.owner, kind=self.kind, label=self.label,
            shot_id=self.shot_id, project=self.project, group=self.group, status=self.status,
            done=self.done, total=self.total, message=self.message, submitted=self.submitted,
            started=self.started, finished=self.finished, error=self.error, result=self.result,
            now=now, seed=self.seed, requeued_as=self.requeued_as, dismissed=self.dismissed,
        )

    def record(self, status: str | None = None) -> dict[str, Any]:
        """What survives a restart (no function, no result: those live only in this process)."""
        return {
            "id": self.id, "owner": self.owner, "kind": self.kind, "label": self.label,
            "shot_id": self.shot_id, "project": self.project, "group": self.group,
            "seed": self.seed, "status": status or self.status, "message": self.message,
            "error": self.error, "submitted_at": self.submitted_at, "requeued_as": self.requeued_as,
            "dismissed": self.dismissed,
        }

    @classmethod
    def from_record(cls, record: dict[str, Any], now: float) -> "_Job":
        """A finished job read back from the state file; unfinished ones become interrupted."""
        job = cls(str(record["id"]), str(record["owner"]), _spent, str(record.get("kind") or "render"),
                  str(record.get("label") or ""), _optional_str(record.get("shot_id")),
                  _optional_str(record.get("project")), _optional_str(record.get("group")), now,
                  _optional_int(record.get("seed")))
        status = record.get("status")
        if status in FINISHED:
            job.status = status
            job.message = str(record.get("message") or status)
            job.error = _optional_str(record.get("error"))
        else:  # queued or running when the process went away
            job.status, job.message = INTERRUPTED, INTERRUPTED_MESSAGE
            job.error = (f"{INTERRUPTED_MESSAGE}: the server stopped while this job was "
                         f"{'running' if status == RUNNING else 'waiting'}; queue it again to make it")
        if job.status == INTERRUPTED:
            job.requeued_as = _optional_str(record.get("requeued_as"))
            job.dismissed = record.get("dismissed") is True
        job.submitted_at = float(record.get("submitted_at") or 0.0)
        job.started = job.finished = now
        job.finished_event.set()
        return job


class JobQueue:
    """Worker threads (``lanes``, one unless a render farm runs jobs at once), per-owner FIFO
    queues served round-robin, bounded in size.

    Use as a context manager (or call :meth:`close`) so the worker stops with the app. With
    ``state_dir`` the queue survives restarts (see the module docstring); None keeps it in
    memory only (tests, the CLI).
    """

    def __init__(self, *, max_queued: int = DEFAULT_MAX_QUEUED, max_per_owner: int | None = None,
                 history: int = 100, clock: Callable[[], float] = time.monotonic,
                 name: str = "previz-jobs", state_dir: Path | str | None = None, lanes: int = 1) -> None:
        if max_per_owner is None:
            max_per_owner = min(DEFAULT_MAX_PER_OWNER, max(1, max_queued // 2))
        if max_queued < 2 or max_per_owner < 1:
            raise ValueError(f"max_queued must be at least 2 and max_per_owner at least 1, "
                             f"got {max_queued} and {max_per_owner}")
        if max_per_owner >= max_queued:
            raise ValueError(f"max_per_owner ({max_per_owner}) must be below max_queued ({max_queued}): "
                             "one user must never be able to fill the queue for everyone")
        self.max_queued, self.max_per_owner = max_queued, max_per_owner
        self._clock = clock
        self._lock = threading.Condition()
        self._pending: OrderedDict[str, deque[_Job]] = OrderedDict()
        """Owner -> its queued jobs; the dict's order is the round-robin rotation."""
        self._jobs: dict[str, _Job] = {}
        self._history: deque[str] = deque()
        self._history_size = history
        self._interrupted: deque[str] = deque()
        """Interrupted jobs not yet re-queued or dismissed (kept apart, so others' finished jobs
        never push them out of memory)."""
        self._interrupted_size = max(history, max_queued + 1)
        self._closed = False
        self._run_id = secrets.token_hex(4)
        self._previous_runs: list[str] = []
        self._ids = itertools.count(1)
        self._state_dir = Path(state_dir) if state_dir is not None else None
        self._state_lock: IO[bytes] | None = None
        if self._state_dir is not None:
            self._open_state(self._state_dir)
        if isinstance(lanes, bool) or not isinstance(lanes, int) or lanes < 1:
            raise ValueError(f"lanes must be a positive whole number, got {lanes!r}")
        self._workers = [threading.Thread(target=self._work, name=f"{name}-{lane}" if lane else name, daemon=True)
                         for lane in range(lanes)]
        """One per job that may run at once: 1 for the local GPU, one per worker of a render farm.
        Every lane takes the next job in the same round-robin order, so fairness is unchanged."""
        for worker in self._workers:
            worker.start()

    # -- submitting and cancelling ---------------------------------------------------------
    def submit(self, owner: str, fn: JobFn, *, kind: str = "render", label: str = "",
               shot_id: str | None = None, project: str | None = None,
               group: str | None = None, seed: int | None = None) -> JobView:
        """Queue ``fn`` for ``owner``; raises QueueFull instead of growing without bound.

        ``project``, ``shot_id``, ``seed`` and ``label`` are what a re-queue after a restart
        needs; pass the seed when it is known, so the re-made take is the same one.
        """
        with self._lock:
            if self._closed:
                raise RuntimeError("the job queue is closed")
            self._check_room(owner)
            job = _Job(self._new_id(), owner, fn, kind, label, shot_id, project, group,
                       self._clock(), seed)
            self._jobs[job.id] = job
            self._pending.setdefault(owner, deque()).append(job)
            try:
                self._save_state()
            except OSError as error:
                self._unqueue(job)
                del self._jobs[job.id]
                raise QueueStateError(f"cannot record the job in {self._state_dir}: "
                                      f"{error.strerror or error}; it was not queued") from None
            self._lock.notify_all()
            return job.view(self._clock())

    def cancel(self, owner: str, job_id: str) -> bool:
        """Cancel one of ``owner``'s jobs (queued: dropped; running: its event is set).

        Returns False when the job had already finished. Another owner's job id raises
        JobNotFound, exactly as an unknown id does, so ids cannot be probed.
        """
        with self._lock:
            job = self._own(owner, job_id)
            return self._cancel(job)

    def cancel_owner(self, owner: str, group: str | None = None) -> int:
        """Cancel every unfinished job of ``owner`` (optionally only one group); returns how many."""
        with self._lock:
            jobs = [j for j in self._jobs.values()
                    if j.owner == owner and (group is None or j.group == group)]
            return sum(self._cancel(job) for job in jobs)

    cancel_session = cancel_owner
    """Deprecated name of :meth:`cancel_owner`."""

    # -- after a restart -----------------------------------------------------------------
    def interrupted(self, owner: str) -> list[JobView]:
        """``owner``'s jobs that a restart interrupted and that can be queued again (oldest first)."""
        with self._lock:
            now = self._clock()
            return [self._jobs[job_id].view(now) for job_id in self._interrupted
                    if self._jobs[job_id].owner == owner]

    def requeue(self, owner: str, job_id: str, fn: JobFn) -> JobView:
        """Queue an interrupted job of ``owner``'s again, with the same kind, label, project,
        shot, group and seed, running ``fn`` (which the caller rebuilds from those, checking the
        owner may still use the project). The old id then names the new one (``requeued_as``),
        so a second call raises NotInterrupted instead of queuing it twice."""
        with self._lock:
            old = self._own(owner, job_id)
            if old.status != INTERRUPTED or old.requeued_as is not None or old.dismissed:
                raise NotInterrupted(
                    f"job {job_id!r} is {old.status}"
                    + (f" and was already queued again as {old.requeued_as!r}" if old.requeued_as else "")
                    + (" and was dismissed" if old.dismissed else "")
                    + "; only a job interrupted by a restart can be queued again")
            if self._closed:
                raise RuntimeError("the job queue is closed")
            self._check_room(owner)
            job = _Job(self._new_id(), owner, fn, old.kind, old.label, old.shot_id, old.project,
                       old.group, self._clock(), old.seed)
            self._jobs[job.id] = job
            self._pending.setdefault(owner, deque()).append(job)
            old.requeued_as = job.id
            old.message = f"{INTERRUPTED_MESSAGE}; queued again as {job.id}"
            self._retire_interrupted(old)
            try:
                self._save_state()
            except OSError as error:
                self._unqueue(job)
                del self._jobs[job.id]
                old.requeued_as, old.message = None, INTERRUPTED_MESSAGE
                raise QueueStateError(f"cannot record the job in {self._state_dir}: "
                                      f"{error.strerror or error}; it was not queued") from None
            self._lock.notify_all()
            return job.view(self._clock())

    def dismiss(self, owner: str, job_id: str) -> None:
        """The owner does not want an interrupted job made again: drop it from :meth:`interrupted`."""
        with self._lock:
            job = self._own(owner, job_id)
            if job.status != INTERRUPTED:
                raise NotInterrupted(f"job {job_id!r} is {job.status}, not interrupted")
            if job.id in self._interrupted:
                job.message, job.dismissed = f"{INTERRUPTED_MESSAGE}; dismissed", True
                self._retire_interrupted(job)
                self._save_state_quietly()

    # -- looking -------------------------------------------------------------------------
    def get(self, owner: str, job_id: str) -> JobView:
        with self._lock:
            return self._own(owner, job_id).view(self._clock())

    def jobs(self, owner: str | None = None, *, project: str | None = None,
             group: str | None = None, session: str | None = None) -> list[JobView]:
        """Snapshots of known jobs (oldest first), filtered by owner, project and/or group.

        ``session`` is the deprecated name of ``owner``.
        """
        owner = owner if owner is not None else session
        with self._lock:
            now = self._clock()
            return [j.view(now) for j in self._jobs.values()
                    if (owner is None or j.owner == owner)
                    and (project is None or j.project == project)
                    and (group is None or j.group == group)]

    def position(self, job_id: str) -> int | None:
        """How many jobs will run before this queued one (round-robin order); None if not queued."""
        with self._lock:
            for index, job in enumerate(self._schedule()):
                if job.id == job_id:
                    return index
            return None

    def wait(self, owner: str, job_id: str, timeout: float | None = None) -> JobView:
        """Block until the job finishes (or ``timeout`` passes) and return its snapshot."""
        with self._lock:
            job = self._own(owner, job_id)
        job.finished_event.wait(timeout)
        with self._lock:
            return job.view(self._clock())

    def worker_alive(self) -> bool:
        return all(worker.is_alive() for worker in self._workers)

    # -- lifetime ------------------------------------------------------------------------
    def close(self, timeout: float = 10.0) -> None:
        """Stop the worker and wait for it (the running job sees its cancel).

        In memory, every unfinished job is cancelled. With a state folder, they are kept as
        interrupted instead, so their owners can queue them again after the next start.
        """
        with self._lock:
            if self._closed:
                return
            self._closed = True
            for job in list(self._jobs.values()):
                if self._state_dir is not None and job.status == QUEUED:
                    self._unqueue(job)
                    self._interrupt(job, "waiting")
                else:
                    self._cancel(job)
            self._save_state_quietly()
            self._lock.notify_all()
        deadline = time.monotonic() + timeout
        for worker in self._workers:
            worker.join(max(0.0, deadline - time.monotonic()))
        with self._lock:
            if self._state_lock is not None and not any(worker.is_alive() for worker in self._workers):
                self._state_lock.close()  # releases the flock; the next start may take the folder
                self._state_lock = None

    def __enter__(self) -> "JobQueue":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- internals -----------------------------------------------------------------------
    def _new_id(self) -> str:
        return f"job-{self._run_id}-{next(self._ids)}"

    def _check_room(self, owner: str) -> None:
        mine = self._pending.get(owner)
        if mine is not None and len(mine) >= self.max_per_owner:
            raise QueueFull(f"you already have {len(mine)} jobs waiting (limit {self.max_per_owner} per user)")
        queued = sum(len(q) for q in self._pending.values())
        if queued >= self.max_queued:
            raise QueueFull(f"the generation queue is full ({queued} jobs waiting); try again later")

    def _own(self, owner: str, job_id: str) -> _Job:
        job = self._jobs.get(job_id)
        if job is None or job.owner != owner:
            run = job_id.split("-")[1] if job_id.count("-") == 2 and job_id.startswith("job-") else ""
            if job is None and run and run in self._previous_runs:
                raise JobNotFound(f"job {_quote(job_id)} is from before the server restarted and is "
                                  "no longer kept")
            raise JobNotFound(f"no job {_quote(job_id)} of yours")
        return job

    def _unqueue(self, job: _Job) -> None:
        queue = self._pending.get(job.owner)
        if queue is not None and job in queue:
            queue.remove(job)
            if not queue:
                del self._pending[job.owner]

    def _cancel(self, job: _Job) -> bool:
        if job.status in FINISHED:
            return False
        job.cancel.set()
        if job.status == QUEUED:
            self._unqueue(job)
            self._finish(job, CANCELLED, None, "cancelled before it started")
        return True

    def _interrupt(self, job: _Job, was: str) -> None:
        job.cancel.set()
        self._finish(job, INTERRUPTED, f"{INTERRUPTED_MESSAGE}: the server stopped while this job was "
                                       f"{was}; queue it again to make it", INTERRUPTED_MESSAGE)

    def _schedule(self) -> Iterable[_Job]:
        """The order queued jobs would run in: one per owner per round."""
        queues = [list(q) for q in self._pending.values()]
        for round_index in range(max((len(q) for q in queues), default=0)):
            for queue in queues:
                if round_index < len(queue):
                    yield queue[round_index]

    def _next(self) -> _Job | None:
        if not self._pending:
            return None
        owner, queue = next(iter(self._pending.items()))
        job = queue.popleft()
        del self._pending[owner]
        if queue:
            self._pending[owner] = queue  # back of the rotation
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
                self._save_state_quietly()
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
            if status == CANCELLED and self._closed and self._state_dir is not None:
                self._interrupt(job, "running")  # stopped by the server, not by its owner
                self._save_state_quietly()
                return
            if status == DONE and job.cancel.is_set():
                message = "finished (cancel came too late to stop it)"
            else:
                message = {DONE: "done", CANCELLED: "cancelled", FAILED: "failed"}[status]
            self._finish(job, status, error, message, result)
            self._save_state_quietly()

    def _finish(self, job: _Job, status: str, error: str | None, message: str,
                result: Any = None) -> None:
        job.status, job.error, job.message, job.result = status, error, message, result
        job.finished = self._clock()
        job.fn = _spent
        job.finished_event.set()
        if status == INTERRUPTED:
            self._keep_interrupted(job)
        else:
            self._remember(job)

    def _remember(self, job: _Job) -> None:
        self._history.append(job.id)
        while len(self._history) > self._history_size:
            self._jobs.pop(self._history.popleft(), None)

    def _keep_interrupted(self, job: _Job) -> None:
        self._interrupted.append(job.id)
        while len(self._interrupted) > self._interrupted_size:
            self._jobs.pop(self._interrupted.popleft(), None)

    def _retire_interrupted(self, job: _Job) -> None:
        """Re-queued or dismissed: still answers by id, but ages out like any finished job."""
        self._interrupted.remove(job.id)
        self._remember(job)

    # -- the state folder ----------------------------------------------------------------
    def _open_state(self, folder: Path) -> None:
        """Take the folder (one server per folder) and read back the previous runs' jobs."""
        try:
            folder.mkdir(parents=True, exist_ok=True)
            handle = open(folder / STATE_LOCK, "a+b")
        except OSError as error:
            raise QueueStateError(f"{folder}: cannot use it as the queue's state folder "
                                  f"({error.strerror or error})") from None
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            handle.close()
            raise QueueStateError(f"{folder}: another server is using this state folder; give each "
                                  "server its own") from None
        self._state_lock = handle
        try:
            state = _read_state(folder / STATE_FILE)
            now = self._clock()
            self._previous_runs = [str(run) for run in state.get("runs", [])][-RUNS_KEPT:]
            for record in state.get("jobs", []):
                try:
                    job = _Job.from_record(record, now)
                except (KeyError, TypeError, ValueError):
                    continue  # one damaged record must not cost the others
                self._jobs[job.id] = job
                if job.status == INTERRUPTED and job.requeued_as is None and not job.dismissed:
                    self._keep_interrupted(job)
                else:
                    self._remember(job)
            while self._run_id in self._previous_runs:
                self._run_id = secrets.token_hex(4)
            self._previous_runs.append(self._run_id)
            self._save_state()
        except BaseException:
            handle.close()
            self._state_lock = None
            raise

    def _save_state(self) -> None:
        """Write every job's record atomically (called under the lock, on state changes only)."""
        if self._state_dir is None:
            return
        data = {
            "version": STATE_VERSION,
            "runs": self._previous_runs[-RUNS_KEPT:],
            "jobs": [job.record() for job in self._jobs.values()],
        }
        write_json_atomic(self._state_dir / STATE_FILE, data)

    def _save_state_quietly(self) -> None:
        """For transitions the worker makes: a full disk must not stop the lane; it is said."""
        try:
            self._save_state()
        except OSError as error:
            print(f"previz-studio: cannot record the job queue in {self._state_dir}: "
                  f"{error.strerror or error}", file=sys.stderr)


def _read_state(path: Path) -> dict[str, Any]:
    """The state file, or an empty state when there is none or it is damaged (said, not fatal)."""
    try:
        data = json.loads(path.read_bytes().decode("utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as error:
        print(f"previz-studio: {path}: unreadable job queue state ({error}); starting empty",
              file=sys.stderr)
        with contextlib.suppress(OSError):
            os.replace(path, path.with_name(f"{path.name}.broken-{int(time.time())}"))
        return {}
    if not isinstance(data, dict) or data.get("version") != STATE_VERSION:
        return {}
    return data


def _optional_str(value: Any) -> str | None:
    return None if value is None else str(value)


def _optional_int(value: Any) -> int | None:
    return None if value is None or isinstance(value, bool) else int(value)


def _quote(value: str, limit: int = 80) -> str:
    """A client-given value as an error quotes it: repr, cut short (never echo a megabyte back)."""
    text = repr(value)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(value)} characters)"


def _spent(progress: Progress, cancel: threading.Event) -> None:
    """Stands in for a finished job's function so its closure (frames, models) can be freed."""


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if isinstance(exc, MemoryError) and not text:
        text = "out of memory"
    return text if text and type(exc).__module__.startswith("studio") else f"{type(exc).__name__}: {text}"
