"""Fuzzing the two doors hostile bytes come in by: board.json and uploaded images.

Properties: the board loader returns a Board or raises a ProjectError (nothing else, no hang),
and whatever loads can be saved and loaded again; the image decoder returns RGB uint8 of at
least MIN_SIDE pixels a side or raises ImageError, and a refused upload leaves no file behind.
Derandomized so CI is reproducible; a few thousand cases in all, a few seconds each test.
"""

from __future__ import annotations

import io
import copy
import json
import math
from typing import Any

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from PIL import Image

from studio.board import Board, Take
from studio.board_codec import board_from_dict, board_to_dict
from studio.images import MIN_SIDE, ImageError, load_rgb
from studio.storage import Project, ProjectError

from rel_helpers import tiny_board



def fuzz(examples: int) -> settings:
    """Reproducible in CI: derandomized, no example database, no per-example deadline."""
    return settings(max_examples=examples, derandomize=True, deadline=None, database=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


def _valid_dict() -> dict[str, Any]:
    board = tiny_board(shots=2)
    take = Take(id="t1", path="takes/s1/t1.mp4", seed=1, backend="animatic", model=None, frames=4, created="")
    return board_to_dict(board.with_shot(board.shots[0].with_take(take)))


VALID = _valid_dict()


def _paths(value: Any, prefix: tuple = ()) -> list[tuple]:
    found = [prefix]
    if isinstance(value, dict):
        for key, child in value.items():
            found += _paths(child, prefix + (key,))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            found += _paths(child, prefix + (index,))
    return found


PATHS = [path for path in _paths(VALID) if path]
NASTY: tuple[Any, ...] = (
    None, True, False, 0, -1, 1, 2**31, 2**32, -2**63, 2**70, 0.5, -0.0, 1e308, math.inf, -math.inf, math.nan,
    "", " ", "x" * 300, "../x.png", "/etc/passwd", "~/x.png", "C:/x.png", "http://127.0.0.1:1/x.png",
    "file:///etc/passwd", "takes/s1/t1.mp4", "takes//t1.mp4", "./board.json", "a\x00b", "a\\b", "\u202e",
    "s1", "s2", "t1", "24", "0/0", "30000/1001", "-24", "cut", "cross_dissolve", "pan_left", "first", "mid",
    [], [None], [[]], {}, {"id": "s1"}, {"path": "../../x"}, [{"id": "s1"}, {"id": "s1"}],
    {"kind": "cross_dissolve", "length": 10**6}, {"move": "orbit_left", "intensity": 2}, [1] * 50,
)
"""Values that have broken loaders before: wrong types, extremes, traversal, URLs, duplicate ids.
Drawn by index (cheap for hypothesis to generate and to shrink) and mixed with plain integers
and short texts."""
values = st.one_of(
    st.integers(0, len(NASTY) - 1).map(NASTY.__getitem__),
    st.integers(-2**40, 2**40),
    st.text(alphabet="ab_-./:%\\0123456789", max_size=12),
    st.just(KeyError),
)
mutations = st.lists(st.tuples(st.integers(0, len(PATHS) - 1).map(PATHS.__getitem__), values),
                     min_size=1, max_size=4)


def _mutated(changes: list[tuple[tuple, Any]]) -> Any:
    data = json.loads(json.dumps(VALID))
    for path, value in changes:
        parent = data
        try:
            for key in path[:-1]:
                parent = parent[key]
            if value is KeyError:
                del parent[path[-1]]
            else:
                parent[path[-1]] = copy.deepcopy(value)  # NASTY values are shared between examples
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed or replaced this path
    return data


def _check_loads_or_typed_error(project: Project) -> Board | None:
    try:
        board = project.load()
    except ProjectError as error:
        assert str(error)
        return None
    text = json.dumps(board_to_dict(board), allow_nan=True)
    again = board_from_dict(json.loads(text))
    assert len(again.shots) == len(board.shots)
    return board


@pytest.fixture(scope="module")
def fuzz_project(tmp_path_factory: pytest.TempPathFactory) -> Project:
    return Project.create(tmp_path_factory.mktemp("fuzz") / "film", tiny_board())


@pytest.mark.slow
@fuzz(1000)
@given(changes=mutations)
def test_board_loader_structured_fuzz(fuzz_project: Project, changes: list) -> None:
    fuzz_project.board_path.write_text(json.dumps(_mutated(changes), allow_nan=True))
    _check_loads_or_typed_error(fuzz_project)


@fuzz(600)
@given(data=st.one_of(
    st.binary(max_size=300),
    st.tuples(st.integers(0, len(json.dumps(VALID))), st.binary(min_size=1, max_size=8)).map(
        lambda cut: json.dumps(VALID).encode()[:cut[0]] + cut[1] + json.dumps(VALID).encode()[cut[0] + len(cut[1]):]),
))
def test_board_loader_byte_fuzz(fuzz_project: Project, data: bytes) -> None:
    fuzz_project.board_path.write_bytes(data)
    _check_loads_or_typed_error(fuzz_project)


def _image_bytes(fmt: str, size: tuple[int, int], mode: str = "RGB") -> bytes:
    rng = np.random.default_rng(len(fmt) + size[0])
    pixels = rng.integers(0, 256, (size[1], size[0], len(mode)), dtype=np.uint8)
    image = Image.fromarray(pixels[:, :, 0] if mode == "L" else pixels, mode)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt)
    return buffer.getvalue()


SEEDS = (
    _image_bytes("PNG", (24, 20)), _image_bytes("PNG", (20, 18), "RGBA"), _image_bytes("JPEG", (32, 24)),
    _image_bytes("GIF", (20, 20), "L"), _image_bytes("BMP", (18, 16)), _image_bytes("WEBP", (20, 20)),
    _image_bytes("TIFF", (16, 16)), _image_bytes("PNG", (8, 8)),
)


@st.composite
def damaged_images(draw: st.DrawFn) -> bytes:
    data = bytearray(draw(st.sampled_from(SEEDS)))
    for _ in range(draw(st.integers(0, 4))):
        kind = draw(st.sampled_from(["flip", "cut", "insert", "header"]))
        if not data:
            break
        at = draw(st.integers(0, len(data) - 1))
        if kind == "flip":
            data[at] = draw(st.integers(0, 255))
        elif kind == "cut":
            del data[at:]
        elif kind == "insert":
            data[at:at] = draw(st.binary(min_size=1, max_size=16))
        else:  # width/height fields of PNG/BMP/GIF headers sit in the first 30 bytes
            data[min(at, 29) % max(1, len(data))] = 0xFF
    return bytes(data)


@fuzz(1200)
@given(data=damaged_images() | st.binary(max_size=200))
def test_upload_decoder_fuzz(data: bytes) -> None:
    try:
        pixels = load_rgb(data)
    except ImageError as error:
        assert str(error)
        return
    assert pixels.dtype == np.uint8 and pixels.ndim == 3 and pixels.shape[2] == 3
    assert min(pixels.shape[:2]) >= MIN_SIDE


@fuzz(300)
@given(data=damaged_images())
def test_keyframe_import_fuzz(fuzz_project: Project, data: bytes) -> None:
    before = set(fuzz_project.keyframes_dir.iterdir())
    try:
        relative = fuzz_project.import_keyframe(data, ".png")
    except ImageError:
        assert set(fuzz_project.keyframes_dir.iterdir()) == before, "a refused upload must leave nothing"
        return
    stored = fuzz_project.resolve(relative)
    assert stored.parent == fuzz_project.keyframes_dir and stored.suffix == ".png"
    assert np.array_equal(load_rgb(stored), load_rgb(data))
    assert not [p for p in fuzz_project.keyframes_dir.iterdir() if ".partial" in p.name]
