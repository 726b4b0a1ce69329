"""Uploads: size cap to the byte, pixel cap before decoding, empty, truncated video, markup.

An upload either becomes pixels re-encoded as PNG inside the project, or is refused with an
ImageError naming the problem, leaving nothing behind.
"""

from __future__ import annotations

import io
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.images import MAX_BYTES, MAX_PIXELS, ImageError, load_rgb
from studio.storage import Project

from conftest import small_board


def png(width: int = 32, height: int = 24) -> bytes:
    buffer = io.BytesIO()
    Image.fromarray(np.full((height, width, 3), 90, np.uint8)).save(buffer, format="PNG")
    return buffer.getvalue()


def bomb_png(width: int, height: int) -> bytes:
    """A ~100-byte PNG whose header declares width x height pixels (never really encoded)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "film", small_board())


def keyframes(project: Project) -> list[Path]:
    return sorted(project.keyframes_dir.iterdir())


def test_size_cap_accepts_the_limit_and_refuses_one_byte_more(project: Project, tmp_path: Path) -> None:
    from studio.services.edits import set_keyframe
    from studio.services.fields import FieldError

    image = png()
    assert load_rgb(image, max_bytes=len(image)).shape == (24, 32, 3)
    with pytest.raises(ImageError, match="limit"):
        load_rgb(image, max_bytes=len(image) - 1)

    over = image + b"\x00" * (MAX_BYTES + 1 - len(image))  # bytes after IEND are ignored by decoders
    with pytest.raises(ImageError, match="limit"):
        project.import_keyframe(over, ".png")
    too_big = tmp_path / "big.png"
    too_big.write_bytes(over)
    with pytest.raises(FieldError, match="limit"):
        set_keyframe(project, "s1", too_big)  # an upload's size is checked before it is read
    assert keyframes(project) == []


def test_decompression_bomb_is_refused_before_decoding(project: Project) -> None:
    import tracemalloc

    side = int(MAX_PIXELS ** 0.5) + 1
    data = bomb_png(side, side)
    assert len(data) < 200
    tracemalloc.start()
    try:
        with pytest.raises(ImageError, match="megapixel"):
            project.import_keyframe(data, ".png")
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 * 2**20, f"{peak} bytes allocated: the bomb was decoded"
    with pytest.raises(ImageError, match="megapixel"):
        load_rgb(bomb_png(30_000, 30_000))
    assert keyframes(project) == []


@pytest.mark.parametrize("name, data, fragment", [
    ("empty", b"", "empty"),
    ("html-as-png", b"<!doctype html><html><script>alert(document.cookie)</script></html>", "not a recognised image"),
    ("svg-as-png", b'<svg xmlns="http://www.w3.org/2000/svg" onload="alert(1)"><rect width="64" height="64"/></svg>',
     "not a recognised image"),
    ("eps-as-png", b"%!PS-Adobe-3.0 EPSF-3.0\n%%BoundingBox: 0 0 64 64\n", "not a recognised image"),
    ("truncated-png", png()[:60], "truncated or corrupt"),
    ("tracking-pixel", png(1, 1), "too small"),
])
def test_non_images_and_broken_images_are_refused_and_leave_nothing(project: Project, name: str, data: bytes,
                                                                     fragment: str) -> None:
    before = project.board_path.read_bytes()
    with pytest.raises(ImageError, match=fragment):
        project.import_keyframe(data, ".png")
    assert keyframes(project) == []
    assert project.board_path.read_bytes() == before


def test_an_accepted_upload_is_stored_as_reencoded_pixels_only(project: Project) -> None:
    polyglot = png() + b"<script>alert(1)</script>"  # a PNG with markup appended
    relative = project.import_keyframe(polyglot, ".html")
    stored = project.resolve(relative)
    assert stored.suffix == ".png" and b"<script>" not in stored.read_bytes()
    with Image.open(stored) as image:
        assert image.format == "PNG" and image.size == (32, 24)


def test_a_truncated_video_gives_typed_errors_everywhere_it_is_read(project: Project) -> None:
    from studio.backends.base import GenerationError
    from studio.services.export import ExportError, ExportOptions, export_board
    from studio.services.render import render_shot
    from studio.ui.serving import MediaCache

    take = render_shot(project, "s1", seed=3)
    video = project.resolve(take.path)
    video.write_bytes(video.read_bytes()[: video.stat().st_size // 3])
    project.update(lambda b: b.with_shot(b.shot("s2").replace(continuity=True)))

    with pytest.raises(ExportError, match=take.path.split("/")[-1]):
        export_board(project, "mp4")
    assert not (project.exports_dir / "animatic.mp4").exists()
    assert export_board(project, "csv", options=ExportOptions(use_slates=True)).exists()
    with pytest.raises(GenerationError, match="previous shot"):
        render_shot(project, "s2", seed=1)  # continuity reads the truncated take's last frame
    media = MediaCache()
    try:
        assert media.poster(video) is None
    finally:
        media.close()
    with pytest.raises(ImageError):
        project.import_keyframe(video.read_bytes(), ".png")  # a video is not a keyframe
