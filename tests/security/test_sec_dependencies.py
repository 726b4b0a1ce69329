"""A Gradio with a published, unfixed advisory fails the suite (offline; see advisories.py)."""

from __future__ import annotations

import importlib.metadata

import pytest

from advisories import GRADIO_ADVISORIES, unfixed, version_tuple


def test_installed_gradio_has_every_published_advisory_fixed() -> None:
    installed = importlib.metadata.version("gradio")
    missing = unfixed(installed)
    assert missing == [], f"gradio {installed} is affected by: " + "; ".join(
        f"{name} (fixed in {fixed}: {what})" for name, fixed, what in missing)


@pytest.mark.parametrize("version, affected", [
    ("4.10.0", "CVE-2023-51449"), ("4.44.1", "CVE-2024-47868"), ("5.49.1", "CVE-2026-28414"),
    ("6.15.2", "GHSA-j36p-7w88-g82j"), ("6.6.0rc1", "CVE-2026-28414"),
])
def test_known_vulnerable_versions_are_caught(version: str, affected: str) -> None:
    assert affected in [name for name, _, _ in unfixed(version)]


def test_the_table_is_well_formed() -> None:
    assert version_tuple("6.31.0") == (6, 31, 0) and version_tuple("5.0") == (5, 0, 0)
    assert unfixed("99.0.0") == []
    assert len({name for name, _, _ in GRADIO_ADVISORIES}) == len(GRADIO_ADVISORIES)
