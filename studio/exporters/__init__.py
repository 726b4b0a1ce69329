"""Export formats, one module each, registered by name (see studio.exporters.base).

Adding a format is one new module here that declares ``EXPORTERS = (Exporter(...),)``: the
registry finds it by listing this package, and the CLI, the HTTP API and the UI offer it.
"""

from __future__ import annotations

import functools
import importlib
import pkgutil
from types import MappingProxyType
from typing import Mapping

from studio.exporters.base import Exporter


@functools.cache
def registry() -> Mapping[str, Exporter]:
    """Every format by name, in listing order."""
    found: list[Exporter] = []
    for module in pkgutil.iter_modules(__path__):
        if module.name == "base" or module.name.startswith("_"):
            continue
        found.extend(getattr(importlib.import_module(f"{__name__}.{module.name}"), "EXPORTERS", ()))
    names = [exporter.name for exporter in found]
    duplicated = sorted({name for name in names if names.count(name) > 1})
    if duplicated:
        raise RuntimeError(f"export format names registered twice: {', '.join(duplicated)}")
    return MappingProxyType({exporter.name: exporter for exporter in sorted(found, key=lambda e: (e.rank, e.name))})
