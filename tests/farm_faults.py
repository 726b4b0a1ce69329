"""Faults the farm tests cause inside Ray workers, installed by Ray's ``worker_process_setup_hook``
(the test cluster names ``farm_faults.install``, with this folder on PYTHONPATH): code in a worker process cannot be
monkeypatched from the test process.

Out of memory: while the file named by ``$PREVIZ_TEST_OOM_FLAG`` exists, a diffusion pipeline run
with memory profile "none" raises torch's own ``OutOfMemoryError`` from inside the pipeline call,
where a real one comes from, so the backend's real handling turns it into ``OutOfMemory``.

Slow steps: while the file named by ``$PREVIZ_TEST_SLOW_FLAG`` exists, every denoising step takes
half a second more, so a test can see a job running on its worker (a tiny model's job otherwise
ends between two of the head's polls) and kill the worker in the middle of it.

Slow jobs: while the file named by ``$PREVIZ_TEST_SLOW_JOB_FLAG`` exists, every job (any backend,
the animatic too) waits three seconds on its worker before it makes its clip, so a page that
refreshes every 1.5 s surely shows it running (a short animatic otherwise can end between two).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

FLAG = "PREVIZ_TEST_OOM_FLAG"
SLOW_FLAG = "PREVIZ_TEST_SLOW_FLAG"
SLOW_JOB_FLAG = "PREVIZ_TEST_SLOW_JOB_FLAG"
STEP_SECONDS = 0.5
JOB_SECONDS = 3.0


def install() -> None:
    flag, slow, slow_job = os.environ.get(FLAG), os.environ.get(SLOW_FLAG), os.environ.get(SLOW_JOB_FLAG)
    if slow_job:
        _slow_jobs(Path(slow_job))
    if not flag and not slow:
        return
    from studio.backends import diffusers_common

    original = diffusers_common.DiffusersBackend._run

    def run(self: Any, pipe: Any, *args: Any, **kwargs: Any) -> Any:
        if flag and self.memory_profile == "none" and Path(flag).exists():
            pipe = _OutOfMemoryPipe(pipe)
        elif slow and Path(slow).exists():
            pipe = _SlowPipe(pipe)
        return original(self, pipe, *args, **kwargs)

    diffusers_common.DiffusersBackend._run = run


def _slow_jobs(flag: Path) -> None:
    """Every job waits JOB_SECONDS before making its clip while ``flag`` exists."""
    import time

    from studio.services import farm_worker

    original = farm_worker._encode

    def encode(*args: Any, **kwargs: Any) -> Any:
        if flag.exists():
            time.sleep(JOB_SECONDS)
        return original(*args, **kwargs)

    farm_worker._encode = encode


class _OutOfMemoryPipe:
    """The pipeline, except that calling it runs out of memory as a GPU would."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe

    def __call__(self, **kwargs: Any) -> Any:
        import torch

        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (forced by the farm test)")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)


class _SlowPipe:
    """The pipeline, with every step's callback (where progress is reported) half a second later."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe

    def __call__(self, **kwargs: Any) -> Any:
        import time

        callback = kwargs.get("callback_on_step_end")
        if callback is not None:
            def slowed(*args: Any, **more: Any) -> Any:
                time.sleep(STEP_SECONDS)
                return callback(*args, **more)
            kwargs["callback_on_step_end"] = slowed
        return self._pipe(**kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)
