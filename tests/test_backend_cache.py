"""BackendCache: instances reused per settings; one model-holding backend resident at a time."""

from __future__ import annotations

import pytest

from studio.backends import BackendCache
from studio.backends.base import GenerationError


def test_animatic_instances_are_reused_per_settings() -> None:
    cache = BackendCache()
    assert cache.get("animatic") is cache.get("animatic")
    with pytest.raises(GenerationError, match="unknown backend 'nope'; available: animatic"):
        cache.get("nope")


def test_a_new_model_unloads_the_previous_one(tmp_path, monkeypatch: pytest.MonkeyPatch) -> None:
    unloaded: list[str] = []

    class ModelBackend:
        def __init__(self, model: str) -> None:
            self.model = model

        def unload(self) -> None:
            unloaded.append(self.model)

    monkeypatch.setattr("studio.backends.create_backend", lambda name, **settings: ModelBackend(**settings))
    cache = BackendCache()
    first = cache.get("wan", model="a")
    assert cache.get("wan", model="a") is first and unloaded == []
    cache.get("wan", model="b")
    assert unloaded == ["a"]
    assert cache.get("wan", model="a") is not first, "the unloaded instance is not handed out again"
