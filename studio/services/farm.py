"""The render farm: a board's shots across many GPUs and machines, on Ray.

Ray is an optional extra (``pip install -e ".[farm]"``); nothing here imports it until a
:class:`Farm` starts, so the app and every other service work without it.

1. **Workers.** One long-lived Ray actor (``farm_worker.FarmWorker``) per GPU of the cluster, or
   ``workers`` CPU workers where there is none. A worker keeps its model loaded between jobs; a
   job goes to a free worker that already holds its model, else to an empty one, else to any.
2. **Exactly once.** A take is named by a hash of everything that makes it (the resolved request:
   prompt, camera, keyframe pixels, continuity frame, size, fps, frames, seed; the backend, the
   model and its settings; memory profile and device left out, since they change how, not what).
   The clip is written to a staging name (shared mode: by the worker, on a filesystem every node
   mounts) or returned as bytes (bytes mode), and the head alone moves it into the project with
   one ``os.replace`` and attaches it with ``Project.update``. A retried job makes the same name,
   so it never makes a second take, and no reader ever sees a torn file; a take already on the
   shot is not made again.
3. **Faults.** A worker lost mid-job (its process killed, its node gone) gives a retry on another
   worker (Ray restarts the lost one); an out-of-memory gives a retry with the next lighter memory
   profile the worker can use; anything else is reported once, with its reason. Cancel reaches
   the worker at once and the backend stops at its next step.
4. **Progress.** Each running job's step count comes from its worker; :meth:`Farm.state` says
   what every worker holds and does, and how many jobs wait for one.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, fields, is_dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from studio.backends.base import GenerationCancelled, GenerationError, ShotRequest
from studio.board import MEMORY_PROFILES, BoardError, Take
from studio.common import atomic_write, shown, write_json_atomic
from studio.services.farm_worker import (
    CANCELLED,
    DONE,
    OOM,
    OUTPUT_MODES,
    SHARED,
    FarmTask,
    FarmWorker,
    TaskResult,
    model_key,
)
from studio.storage import Project

POLL_SECONDS = 0.2
"""How often the head asks a busy worker for its progress."""
POLL_SECONDS_TICKS = 10
"""A cancel is noticed and sent within POLL_SECONDS / POLL_SECONDS_TICKS."""
START_SECONDS = 180.0
"""How long the workers may take to start (and load nothing yet) before the farm gives up."""
RESTART_WAIT_SECONDS = 300.0
"""How long a lost worker may take to come back (Ray restarts it) before it is left out."""
DEFAULT_CPU_WORKERS = 2
HASH_IGNORED_SETTINGS = frozenset({"memory_profile", "device"})
"""Settings that change how a take is made, never what it is (an OOM retry changes the profile)."""
OFFLOAD_PROFILES = frozenset({"model_offload", "group_offload"})
"""Memory profiles that move weights to an accelerator: never tried on a CPU-only worker."""
IDLE, BUSY, LOST = "idle", "busy", "lost"
LOOPBACK_SWITCH = "RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER"
"""Ray's environment switch: "0" keeps a cluster on 127.0.0.1 (a single-machine cluster)."""

JobProgress = Callable[[int, int, str], None]


class FarmError(RuntimeError):
    """The farm cannot start or be used as asked (no Ray, a bad setting); the message says why."""


@dataclass(frozen=True)
class FarmSettings:
    """How to reach the cluster and use it; one per app or CLI run."""

    address: str | None = None
    """A Ray cluster's address ("ray://head:10001" or "head:6379"); None: ``$RAY_ADDRESS``, else a
    local cluster bound to 127.0.0.1 on this machine."""
    workers: int | None = None
    """Workers to start. None: one per GPU in the cluster, else 2 CPU workers."""
    output: str = SHARED
    """``shared``: projects live on a filesystem every node mounts, workers write there. ``bytes``:
    workers send the encoded clip back and the head writes it."""
    max_attempts: int = 3
    """Attempts of one job when workers are lost (out-of-memory retries are counted apart)."""
    device: str | None = None
    """Device for the workers' backends (default: the worker's GPU, else the CPU)."""
    runtime_env: dict[str, Any] | None = None
    """Ray runtime environment for a local cluster this farm starts (environment variables...)."""

    def __post_init__(self) -> None:
        if self.output not in OUTPUT_MODES:
            raise FarmError(f"farm output {shown(self.output)} is not one of {', '.join(OUTPUT_MODES)}")
        if self.workers is not None and (isinstance(self.workers, bool) or not isinstance(self.workers, int)
                                         or not 1 <= self.workers <= 256):
            raise FarmError(f"farm workers must be a whole number from 1 to 256, got {shown(self.workers)}")
        if not 1 <= self.max_attempts <= 10:
            raise FarmError(f"farm max_attempts must be from 1 to 10, got {shown(self.max_attempts)}")


@dataclass(frozen=True)
class FarmJob:
    """One take to make on the farm: resolved on the head when the job starts."""

    id: str
    label: str
    project: Project
    shot_id: str
    take: Take
    request: ShotRequest
    backend: str
    settings: dict[str, Any]
    record: Callable[[Take, dict[str, Any], dict[str, Any], float, dict[str, Any] | None], dict[str, Any]]
    """(take, metadata, settings used, elapsed, sound) -> the take's sidecar (RenderPlan.record)."""
    choose: bool = True

    @property
    def key(self) -> str:
        return model_key(self.backend, self.settings)

    def staging(self, attempt: int) -> Path:
        """Where a worker writes attempt ``attempt`` in shared mode (beside the final file, so the
        head's move is one rename on one filesystem)."""
        final = self.project.resolve(self.take.path)
        return final.with_name(f".farm-{self.take.id}-{attempt}.mp4")


@dataclass
class _Slot:
    """The head's view of one worker (only touched under the farm's lock)."""

    index: int
    handle: Any
    pid: int = 0
    host: str = ""
    model: str = ""
    accelerator: bool = False
    state: str = IDLE
    job: dict[str, Any] | None = None
    jobs_done: int = 0
    restarts: int = 0


@dataclass(frozen=True)
class WorkerView:
    index: int
    pid: int
    host: str
    model: str
    state: str
    job: str
    job_id: str
    done: int
    total: int
    message: str
    restarts: int
    jobs_done: int
    """Attempts this worker finished (any outcome; lost ones are counted in ``restarts``)."""


@dataclass(frozen=True)
class FarmState:
    """The farm as the panel and the CLI show it."""

    address: str
    output: str
    workers: tuple[WorkerView, ...]
    waiting: int
    """Jobs waiting for a free worker (the app adds its own queue's length)."""


@dataclass(frozen=True)
class FarmOutcome:
    """One shot of a board render: its take, or the reason it has none."""

    shot_id: str
    take: Take | None = None
    error: str | None = None


@dataclass
class _Attempts:
    notes: list[str] = field(default_factory=list)


class Farm:
    """A pool of Ray render workers; use as a context manager (or :meth:`close`)."""

    def __init__(self, settings: FarmSettings | None = None) -> None:
        self.settings = settings or FarmSettings()
        address = self.settings.address or os.environ.get("RAY_ADDRESS") or None
        ray = _ray(local=address is None)
        self._ray = ray
        self._owns_ray = not ray.is_initialized()
        if self._owns_ray:
            try:
                if address:
                    ray.init(address=address, log_to_driver=False, configure_logging=False)
                else:
                    ray.init(num_cpus=max(self.settings.workers or 0, os.cpu_count() or 1),
                             include_dashboard=False, runtime_env=self.settings.runtime_env,
                             log_to_driver=False, configure_logging=False)
            except (ConnectionError, RuntimeError, ValueError) as error:
                raise FarmError(f"cannot reach the Ray cluster at {address or 'a new local cluster'}: {error}") from None
        self.address = address or "local (127.0.0.1)"
        gpus = int(ray.cluster_resources().get("GPU", 0))
        count = self.settings.workers or gpus or DEFAULT_CPU_WORKERS
        per_worker = {"num_gpus": 1, "num_cpus": 1} if gpus and self.settings.workers is None else {"num_cpus": 1}
        actor = ray.remote(FarmWorker).options(max_concurrency=4, max_restarts=-1, max_task_retries=0, **per_worker)
        self._lock = threading.Condition()
        self._slots = [_Slot(index, actor.remote(index, self.settings.device)) for index in range(count)]
        self._waiting = 0
        self._closed = False
        self._commit_lock = threading.Lock()
        try:
            infos = ray.get([slot.handle.info.remote() for slot in self._slots], timeout=START_SECONDS)
        except (ray.exceptions.GetTimeoutError, ray.exceptions.RayActorError) as error:
            self.close()
            raise FarmError(f"the farm's {count} worker(s) did not start within {START_SECONDS:.0f} s (is there a "
                            f"free CPU or GPU for each? are its Python packages installed on every node?): "
                            f"{str(error).splitlines()[0]}") from None
        for slot, info in zip(self._slots, infos):
            self._update(slot, info)

    # -- lifetime ------------------------------------------------------------------------
    @property
    def size(self) -> int:
        return len(self._slots)

    def close(self) -> None:
        """Stop the workers (and the local cluster this farm started)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
            self._lock.notify_all()
        for slot in self._slots:
            try:
                self._ray.kill(slot.handle, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone is fine
                pass
        if self._owns_ray:
            self._ray.shutdown()

    def __enter__(self) -> Farm:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- looking -------------------------------------------------------------------------
    def state(self) -> FarmState:
        with self._lock:
            views = []
            for s in self._slots:
                job = s.job or {}
                views.append(WorkerView(
                    index=s.index, pid=s.pid, host=s.host, model=s.model or "(none yet)", state=s.state,
                    job=str(job.get("label") or ""), job_id=str(job.get("id") or ""), done=int(job.get("done") or 0),
                    total=int(job.get("total") or 0), message=str(job.get("message") or ""), restarts=s.restarts,
                    jobs_done=s.jobs_done))
            return FarmState(self.address, self.settings.output, tuple(views), self._waiting)

    def pids(self) -> dict[int, int]:
        """Worker index -> its process id now (a restarted worker has a new one)."""
        with self._lock:
            return {s.index: s.pid for s in self._slots}

    # -- running -------------------------------------------------------------------------
    def run(self, job: FarmJob, progress: JobProgress, cancel: threading.Event) -> Take:
        """Make ``job``'s take on some worker, retrying as the module docstring says; blocks."""
        existing = _existing_take(job)
        if existing is not None:
            return existing
        attempts = _Attempts()
        profile = str(job.settings.get("memory_profile") or "none")
        avoid: set[int] = set()
        lost = 0
        try:
            for attempt in range(1, self.settings.max_attempts + len(MEMORY_PROFILES) + 1):
                slot = self._acquire(job.key, avoid, cancel)
                task = FarmTask(job_id=job.id, attempt=attempt, label=job.label, request=job.request,
                                backend=job.backend, settings={**job.settings, "memory_profile": profile},
                                output=self.settings.output,
                                staging=str(job.staging(attempt)) if self.settings.output == SHARED else None)
                result = None
                try:
                    result = self._watch(slot, task, progress, cancel)
                finally:
                    self._release(slot, result)
                where = f"attempt {attempt} on worker {slot.index} ({slot.host}, memory profile {profile!r})"
                if result is None:
                    lost += 1
                    attempts.notes.append(f"{where}: the worker was lost")
                    if cancel.is_set():
                        raise GenerationCancelled(f"{job.label}: cancelled; nothing was attached")
                    if lost >= self.settings.max_attempts:
                        raise GenerationError(f"{job.label}: {lost} workers were lost while making it "
                                              f"({'; '.join(attempts.notes)})")
                    avoid = {slot.index}
                    progress(0, 0, f"worker {slot.index} was lost; trying again on another worker")
                    continue
                if result.status == DONE:
                    return self._commit(job, task, result, attempts)
                if result.status == CANCELLED:
                    raise GenerationCancelled(f"{job.label}: cancelled on worker {slot.index} ({result.error}); "
                                              "nothing was attached")
                if result.status == OOM:
                    lighter = lighter_profile(profile, slot.accelerator)
                    attempts.notes.append(f"{where}: out of memory")
                    if lighter is None:
                        raise GenerationError(f"{job.label}: out of memory even with memory profile {profile!r} "
                                              f"on worker {slot.index}: {result.error}")
                    progress(0, 0, f"out of memory with profile {profile!r}; trying {lighter!r}")
                    profile, avoid = lighter, set()
                    continue
                raise GenerationError(f"{job.label}: {result.error}")  # a retry would not fix it
            raise GenerationError(f"{job.label}: gave up after {len(attempts.notes)} attempts "
                                  f"({'; '.join(attempts.notes)})")
        finally:
            self._clean(job)

    def _acquire(self, key: str, avoid: set[int], cancel: threading.Event) -> _Slot:
        """A free worker for a job needing model ``key``: one holding it, else an empty one,
        else any; never one in ``avoid`` while another live worker could take the job."""
        with self._lock:
            self._waiting += 1
            try:
                while True:
                    if self._closed:
                        raise GenerationCancelled("the farm is closing")
                    if cancel.is_set():
                        raise GenerationCancelled("cancelled before it reached a worker")
                    live = [s for s in self._slots if s.state != LOST]
                    others = [s for s in live if s.index not in avoid]
                    free = [s for s in (others or live) if s.state == IDLE]
                    if free:
                        slot = min(free, key=lambda s: (s.model != key, s.model != "", s.jobs_done))
                        slot.state, slot.job = BUSY, {"label": "", "done": 0, "total": 0, "message": "starting"}
                        return slot
                    self._lock.wait(POLL_SECONDS)
            finally:
                self._waiting -= 1

    def _watch(self, slot: _Slot, task: FarmTask, progress: JobProgress,
               cancel: threading.Event) -> TaskResult | None:
        """Run ``task`` on ``slot``, relaying progress and cancel; None when the worker is lost."""
        ray = self._ray
        lost = (ray.exceptions.RayActorError, ray.exceptions.WorkerCrashedError, ray.exceptions.NodeDiedError,
                ray.exceptions.ObjectLostError)
        with self._lock:
            slot.job = {"id": task.job_id, "label": task.label, "done": 0, "total": 0, "message": "sent to the worker"}
        reference = slot.handle.render.remote(task)
        cancel_sent = False
        while True:
            ready: list = []
            for _ in range(POLL_SECONDS_TICKS):  # a cancel leaves at once; progress is asked less often
                ready, _ = ray.wait([reference], timeout=POLL_SECONDS / POLL_SECONDS_TICKS)
                if ready or (cancel.is_set() and not cancel_sent):
                    break
            if ready:
                try:
                    return ray.get(reference)
                except lost:
                    return None
            if cancel.is_set() and not cancel_sent:
                try:  # until the worker has the job (a cancel sent before it starts it is not kept)
                    cancel_sent = bool(ray.get(slot.handle.cancel.remote(task.job_id), timeout=5 * POLL_SECONDS))
                except ray.exceptions.GetTimeoutError:
                    pass
                except lost:
                    continue  # the result says the worker is gone
                if not cancel_sent:
                    time.sleep(POLL_SECONDS / POLL_SECONDS_TICKS)
                continue
            try:
                info = ray.get(slot.handle.info.remote(), timeout=5 * POLL_SECONDS)
            except lost:
                ready, _ = ray.wait([reference], timeout=0)
                if ready:
                    continue
                return None
            except ray.exceptions.GetTimeoutError:
                continue
            self._update(slot, info)
            current = info.get("job") or {}
            if current.get("id") == task.job_id and current.get("total"):
                progress(int(current["done"]), int(current["total"]),
                         f"worker {slot.index}: {current.get('message', '')}")

    def _release(self, slot: _Slot, result: TaskResult | None) -> None:
        with self._lock:
            slot.job = None
            if result is None and not self._closed:
                slot.state, slot.model, slot.restarts = LOST, "", slot.restarts + 1
                threading.Thread(target=self._await_restart, args=(slot,), daemon=True,
                                 name=f"farm-restart-{slot.index}").start()
            else:
                slot.state = IDLE
                slot.jobs_done += 1
            self._lock.notify_all()

    def _await_restart(self, slot: _Slot) -> None:
        """Ray restarts a lost worker (max_restarts): take it back once it answers again."""
        deadline = time.monotonic() + RESTART_WAIT_SECONDS
        while time.monotonic() < deadline and not self._closed:
            try:
                info = self._ray.get(slot.handle.info.remote(), timeout=10)
            except Exception:  # noqa: BLE001 - still restarting, or the node is gone for now
                time.sleep(1.0)
                continue
            with self._lock:
                self._update(slot, info)
                slot.state = IDLE
                self._lock.notify_all()
            return

    def _update(self, slot: _Slot, info: dict[str, Any]) -> None:
        with self._lock:
            slot.pid, slot.host = int(info["pid"]), str(info["host"])
            slot.model, slot.accelerator = str(info["model"]), bool(info["accelerator"])
            current = info.get("job")
            if current and slot.state == BUSY:
                slot.job = {k: current.get(k) for k in ("id", "label", "done", "total", "message")}

    # -- the one writer ------------------------------------------------------------------
    def _commit(self, job: FarmJob, task: FarmTask, result: TaskResult, attempts: _Attempts) -> Take:
        """Move the clip into the project (one rename) and attach the take, once."""
        final = job.project.resolve(job.take.path)
        sidecar = job.project.resolve(job.take.sidecar_path)
        take = replace(job.take, created=_dt.datetime.now(_dt.UTC).isoformat(timespec="seconds"))
        record = job.record(take, result.metadata, dict(task.settings), result.elapsed, result.sound)
        record["farm"] = {"content_hash": job.take.id.removeprefix("tk_"), "worker": result.worker,
                          "pid": result.pid, "output": task.output, "attempts": attempts.notes + [
                              f"attempt {task.attempt} on worker {result.worker}: done"]}
        with self._commit_lock:
            existing = _existing_take(job)
            if existing is not None:
                return existing
            final.parent.mkdir(parents=True, exist_ok=True)
            if task.output == SHARED:
                staging = Path(task.staging or "")
                if not staging.is_file():
                    raise GenerationError(f"{job.label}: the worker's clip is not at {staging} on this machine: "
                                          "shared output needs the project folder on a filesystem every node "
                                          "mounts at the same path (or use bytes output)")
                os.replace(staging, final)
            else:
                with atomic_write(final, durable=True) as partial:
                    partial.write_bytes(result.data or b"")
            try:
                write_json_atomic(sidecar, record)

                def attach(board: Any) -> Any:
                    shot = board.shot(job.shot_id)
                    if any(t.id == take.id for t in shot.takes):
                        return board
                    return board.with_shot(shot.with_take(take, job.choose))

                job.project.update(attach, label=f"take {take.id} landed", undoable=False)
            except BaseException as error:
                final.unlink(missing_ok=True)
                sidecar.unlink(missing_ok=True)
                if isinstance(error, BoardError):
                    raise GenerationError(f"shot {job.shot_id} changed while rendering and the take was "
                                          f"dropped: {error}") from None
                raise
        return take

    def _clean(self, job: FarmJob) -> None:
        """Remove what killed or failed attempts left at staging names (their temp files too)."""
        try:
            folder = job.project.resolve(job.take.path).parent
            for leftover in folder.glob(f"*farm-{job.take.id}-*"):
                leftover.unlink(missing_ok=True)
        except OSError:
            pass


# -- jobs --------------------------------------------------------------------------------


def farm_job(project: Project, shot_id: str, *, job_id: str, backend: str | None = None,
             settings: dict[str, Any] | None = None, options: dict[str, Any] | None = None,
             seed: int | None = None, quality: str | None = None, choose: bool = True) -> FarmJob:
    """Resolve a shot on the head exactly as the in-process render does (render.plan_render: the
    same seed rule, quality and request) and name its take by the content hash."""
    from studio.services.render import plan_render
    from studio.timeline import shot_label

    plan = plan_render(project, shot_id, backend=backend, settings=settings, options=options, seed=seed,
                       quality=quality)
    digest = content_hash(plan.request, plan.backend, {**plan.settings, "quality": plan.quality.quality})
    take = replace(plan.take(f"tk_{digest[:24]}"), created="")
    label = shot_label(plan.board.index_of(shot_id) + 1, plan.shot.title, "message")
    return FarmJob(id=job_id, label=label, project=project, shot_id=shot_id, take=take, request=plan.request,
                   backend=plan.backend, settings=plan.settings, record=plan.record, choose=choose)


def content_hash(request: ShotRequest, backend: str, settings: dict[str, Any]) -> str:
    """SHA-256 of everything that makes a take: the whole request (pixels included), the backend
    and its settings except how it is held in memory."""
    digest = hashlib.sha256()
    _feed(digest, {"backend": backend,
                   "settings": {k: v for k, v in settings.items() if k not in HASH_IGNORED_SETTINGS},
                   "request": request})
    return digest.hexdigest()


def _feed(digest: Any, value: Any) -> None:
    """A canonical byte encoding of plain values, dataclasses and arrays, into ``digest``."""
    if isinstance(value, np.ndarray):
        digest.update(f"array{value.dtype.str}{value.shape}:".encode())
        digest.update(np.ascontiguousarray(value).tobytes())
    elif is_dataclass(value) and not isinstance(value, type):
        digest.update(f"{type(value).__name__}{{".encode())
        for item in fields(value):
            digest.update(item.name.encode() + b"=")
            _feed(digest, getattr(value, item.name))
        digest.update(b"}")
    elif isinstance(value, dict):
        digest.update(b"{")
        for key in sorted(value, key=str):
            digest.update(repr(str(key)).encode() + b":")
            _feed(digest, value[key])
        digest.update(b"}")
    elif isinstance(value, (list, tuple)):
        digest.update(b"[")
        for item in value:
            _feed(digest, item)
            digest.update(b",")
        digest.update(b"]")
    elif value is None or isinstance(value, (bool, int, float, str)):
        digest.update(f"{type(value).__name__}:{value!r};".encode())
    else:
        digest.update(f"{type(value).__name__}:{value};".encode())


def lighter_profile(profile: str, accelerator: bool) -> str | None:
    """The next memory profile after ``profile`` that a worker can use (offload needs a GPU)."""
    usable = [p for p in MEMORY_PROFILES if accelerator or p not in OFFLOAD_PROFILES]
    later = MEMORY_PROFILES[MEMORY_PROFILES.index(profile) + 1:] if profile in MEMORY_PROFILES else ()
    return next((p for p in later if p in usable), None)


def _existing_take(job: FarmJob) -> Take | None:
    """The job's take when the shot already has it (and its file): made once, never again."""
    try:
        shot = job.project.load().shot(job.shot_id)
    except BoardError:
        return None
    take = next((t for t in shot.takes if t.id == job.take.id), None)
    if take is None or not job.project.resolve(take.path).is_file():
        return None
    if job.choose and shot.chosen_take != take.id:
        job.project.update(lambda board: board.with_shot(board.shot(job.shot_id).replace(chosen_take=take.id)),
                           label=f"take {take.id} chosen again", undoable=False)
    return take


# -- a whole board ---------------------------------------------------------------------


def render_board_on_farm(farm: Farm, project: Project, *, shot_ids: list[str] | None = None,
                         only_missing: bool = True, backend: str | None = None,
                         settings: dict[str, Any] | None = None, options: dict[str, Any] | None = None,
                         progress: Callable[[str, int, int, str], None] | None = None,
                         cancel: threading.Event | None = None, quality: str | None = None,
                         seed: int | None = None) -> list[FarmOutcome]:
    """Every wanted shot on the farm at once (a continuity shot waits for the one before it).

    Unlike the in-process render a failure does not stop the others: each shot's outcome is
    returned, failures with their reason. ``progress(shot_id, done, total, message)``. ``seed``
    renders the named shots (``shot_ids``) with that seed instead of their own.
    """
    from studio.services.render import shots_to_render

    if seed is not None and not shot_ids:
        raise GenerationError("a seed applies to the shots it is given for: name them (shot_ids)")
    cancel = cancel or threading.Event()
    board = project.load()
    todo = [board.shot(shot_id) for shot_id in shots_to_render(board, shot_ids, only_missing, quality)]
    run_id = os.urandom(4).hex()
    futures: dict[str, Future] = {}

    def one(index: int) -> Take:
        shot = todo[index]
        before = board.index_of(shot.id) - 1
        if shot.continuity and before >= 0 and board.shots[before].id in futures:
            if futures[board.shots[before].id].exception() is not None:  # waits for it
                raise GenerationError(f"{shot.id}: continues from a shot whose render failed")
        report = (lambda done, total, message: progress(shot.id, done, total, message)) if progress else _quiet
        report(0, 0, "waiting for a worker")
        job = farm_job(project, shot.id, job_id=f"farm-{run_id}-{index}", backend=backend, settings=settings,
                       options=options, quality=quality, seed=seed)
        take = farm.run(job, report, cancel)
        report(1, 1, f"done: {take.path}")
        return take

    with ThreadPoolExecutor(max_workers=max(farm.size, 1), thread_name_prefix="farm-job") as pool:
        for index, shot in enumerate(todo):
            futures[shot.id] = pool.submit(one, index)
        outcomes = []
        for shot in todo:
            try:
                outcomes.append(FarmOutcome(shot.id, take=futures[shot.id].result()))
            except (GenerationError, OSError) as error:
                outcomes.append(FarmOutcome(shot.id, error=str(error)))
    return outcomes


def _quiet(done: int, total: int, message: str) -> None:
    """Progress nobody listens to."""


def _ray(local: bool) -> Any:
    """Ray, imported on first use. For a local cluster, Ray is told to stay on the loopback
    interface (its switch for single-machine use, read when Ray is first imported): every
    process of it then listens on 127.0.0.1 only."""
    if local and "ray" not in sys.modules:
        os.environ.setdefault(LOOPBACK_SWITCH, "0")
    try:
        import ray
    except ImportError:
        raise FarmError("the render farm needs Ray: pip install -e \".[farm]\" (or pip install ray)") from None
    return ray
