"""Faults the farm tests cause inside Ray workers, installed by Ray's ``worker_process_setup_hook``
(the test cluster names ``farm_faults.install``, with this folder on PYTHONPATH): code in a worker process cannot be
monkeypatched from the test process.

Out of memory: while the file named by ``$PREVIZ_TEST_OOM_FLAG`` exists, a diffusion pipeline run
with memory profile "none" raises torch's own ``OutOfMemoryError`` from inside the pipeline call,
where a real one comes from, so the backend's real handling turns it into ``OutOfMemory``.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

FLAG = "PREVIZ_TEST_OOM_FLAG"


def install() -> None:
    flag = os.environ.get(FLAG)
    if not flag:
        return
    from studio.backends import diffusers_common

    original = diffusers_common.DiffusersBackend._run

    def run(self: Any, pipe: Any, *args: Any, **kwargs: Any) -> Any:
        if self.memory_profile == "none" and Path(flag).exists():
            pipe = _OutOfMemoryPipe(pipe)
        return original(self, pipe, *args, **kwargs)

    diffusers_common.DiffusersBackend._run = run


class _OutOfMemoryPipe:
    """The pipeline, except that calling it runs out of memory as a GPU would."""

    def __init__(self, pipe: Any) -> None:
        self._pipe = pipe

    def __call__(self, **kwargs: Any) -> Any:
        import torch

        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB (forced by the farm test)")

    def __getattr__(self, name: str) -> Any:
        return getattr(self._pipe, name)
