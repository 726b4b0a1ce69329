"""Backend registry: names as stored in board.json and typed on the CLI -> implementations.

Implementations are imported only when first asked for, so the app starts without loading
torch or diffusers, and a machine without them still has the animatic backend.
"""

from __future__ import annotations

import importlib
from types import MappingProxyType
from typing import Any

from studio.backends.base import Backend, GenerationError
from studio.board import BoardError
from studio.common import shown

BACKENDS = MappingProxyType({
    "animatic": "studio.backends.animatic:AnimaticBackend",
    "wan": "studio.backends.wan:WanBackend",
    "ltx": "studio.backends.ltx:LTXBackend",
    "cogvideox": "studio.backends.cogvideox:CogVideoXBackend",
    "ltx2": "studio.backends.ltx2:LTX2Backend",
    "skyreels": "studio.backends.skyreels:SkyReelsBackend",
    "sana_wm": "studio.backends.sana_wm:SanaWMBackend",
    "hunyuan": "studio.backends.hunyuan:HunyuanBackend",
    "kandinsky": "studio.backends.kandinsky:KandinskyBackend",
})
"""Backend name -> "module:class". The class is built with keyword settings (device, model...)."""


def backend_names() -> list[str]:
    return list(BACKENDS)


def check_backend_name(name: object, field: str = "backend", allow_none: bool = False) -> str | None:
    """``name`` if it is a backend (None too when ``allow_none``: "use the board's"), else a
    BoardError naming ``field`` and the choices.

    Why here and not only in create_backend: a name is checked where it is *set* (an edit, a
    form, an API call, an import), so a board never holds a backend that fails only when its
    render starts, minutes later in the queue.
    """
    if name is None and allow_none:
        return None
    if not isinstance(name, str) or name not in BACKENDS:
        raise BoardError(field, name, f"is not a backend; choose one of {', '.join(BACKENDS)}")
    return name


STILL_BACKENDS = MappingProxyType({
    "image": "studio.backends.image:ImageBackend",
})
"""Backends that make still pictures (keyframe variations), not shots: never a shot's backend, but
held by the same BackendCache, so an image model is unloaded before a video model loads."""


def create_backend(name: str, **settings: Any) -> Backend:
    """Instantiate a backend by name; unknown names list the valid ones."""
    target = BACKENDS.get(name) or STILL_BACKENDS.get(name)
    if target is None:
        raise GenerationError(f"unknown backend {shown(name)}; available: {', '.join(BACKENDS)}")
    module_name, _, class_name = target.partition(":")
    backend_class = getattr(importlib.import_module(module_name), class_name)
    return backend_class(**settings)


class BackendCache:
    """Backend instances by name and settings, made on first use and then reused.

    One per app or CLI run (never module-level): a diffusion backend holds its model weights, so
    rebuilding it for every shot would reload gigabytes.
    """

    def __init__(self, **defaults: Any) -> None:
        self._defaults = defaults
        self._instances: dict[tuple[str, str], Backend] = {}

    def get(self, name: str, **settings: Any) -> Backend:
        """The backend for ``name`` with these settings; making a new one that holds a model
        first unloads the others that do, so one model is resident at a time."""
        merged = {**self._defaults, **settings}
        key = (name, repr(sorted(merged.items())))
        if key not in self._instances:
            backend = create_backend(name, **merged)
            if hasattr(backend, "unload"):
                for other_key, other in list(self._instances.items()):
                    if hasattr(other, "unload"):
                        other.unload()
                        del self._instances[other_key]
            self._instances[key] = backend
        return self._instances[key]
