"""PDF storyboard panels fill their column, the worksheet layout, and the animated GIF."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import ContentStream

from studio.exporters.pdf import GUTTER, LAYOUTS, MARGIN
from studio.services.export import ExportOptions, export_board
from tests.exportkit import make_project


def _image_boxes(reader: PdfReader, page: int) -> list[tuple[float, float]]:
    """(width, height) in points of every image drawn on a page (the cm before each Do)."""
    operations = ContentStream(reader.pages[page].get_contents(), reader).operations
    return [(float(operations[i - 1][0][0]), float(operations[i - 1][0][3]))
            for i, (_, op) in enumerate(operations) if op == b"Do"]


@pytest.mark.parametrize("per_page", [2, 4, 6])
def test_storyboard_pictures_fill_their_column(tmp_path: Path, per_page: int) -> None:
    project = make_project(tmp_path / "p", durations=(12,) * 7)
    reader = PdfReader(str(export_board(project, "pdf", options=ExportOptions(per_page=per_page))))
    assert len(reader.pages) == -(-7 // per_page)
    page_w = float(reader.pages[0].mediabox.width)
    assert (page_w > float(reader.pages[0].mediabox.height)) == (per_page == 2)  # 2: landscape, 4 and 6: portrait
    columns = LAYOUTS[per_page][0]
    column = (page_w - 2 * MARGIN - (columns - 1) * GUTTER) / columns
    boxes = _image_boxes(reader, 0)
    assert len(boxes) == min(per_page, 7)
    for width, height in boxes:
        assert width == pytest.approx(column, abs=0.01) and width / height == pytest.approx(160 / 96, rel=1e-3)


def test_worksheet_has_empty_frames_and_ruled_lines(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(12,) * 5)
    path = export_board(project, "worksheet", options=ExportOptions(per_page=4))
    assert path.name == "worksheet.pdf"
    reader = PdfReader(str(path))
    assert len(reader.pages) == 2 and not _image_boxes(reader, 0)  # nothing drawn in the frames
    text = "\n".join(page.extract_text() for page in reader.pages)
    for index in range(5):
        assert f"SHOT {index + 1} - Title {index}" in text
    assert "prompt number" not in text  # a worksheet leaves the panel to be drawn
    operations = ContentStream(reader.pages[0].get_contents(), reader).operations
    lines = sum(1 for _, op in operations if op == b"l")
    assert lines > 4 * 10  # ruled lines and frame marks under and in each of the 4 panels


def test_gif_is_small_loops_and_runs_as_long_as_the_cut(tmp_path: Path) -> None:
    project = make_project(tmp_path / "p", durations=(24, 30, 18))
    plain = export_board(project, "gif", out=tmp_path / "plain.gif")
    burned = export_board(project, "gif", options=ExportOptions(burn_ins=frozenset({"shot"})))
    assert burned.name == "animatic.gif"
    image = Image.open(plain)
    assert image.format == "GIF" and image.size == (160, 96) and image.info.get("loop") == 0
    assert image.n_frames == -(-72 // 3)  # 24 fps taken every 3rd frame: 8 frames a second
    total = 0
    for index in range(image.n_frames):
        image.seek(index)
        total += image.info["duration"]
    assert total == 3000  # 72 frames at 24 fps
    image.seek(10)  # frame 30 of the cut: shot 2 (red level 50)
    assert abs(float(np.asarray(image.convert("RGB"))[30:38, :, 0].mean()) - 50) < 8
    with Image.open(plain) as a, Image.open(burned) as b:
        top_left = [np.asarray(im.convert("RGB"))[:16, :80].astype(int) for im in (a, b)]
    assert np.abs(top_left[0] - top_left[1]).mean() > 5  # the shot burn-in is in the GIF
