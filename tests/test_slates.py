"""Slates show the shot's current number wherever they are shown (regression: slate takes baked
their number in, so after a reorder or a duplicate the animatic, MP4, PDF and contact sheet said
"SHOT 3" for shot 2, and two shots both read "SHOT 5")."""

from __future__ import annotations

import io
import re
from pathlib import Path

import numpy as np
from PIL import Image
from pypdf import PdfReader

from studio.board import Board, Shot
from studio.compositor import Compositor
from studio.media import read_video
from studio.services.export import ExportOptions, export_board, load_timeline
from studio.services.render import render_board
from studio.slate import number_sprite, with_number
from studio.storage import Project
from studio.timeline import BURN_INS, Style, frame_recipes
from tests.exportkit import FPS, H, W

FRAMES = 6


def slate_project(root: Path) -> Project:
    """Three shots with no keyframe, rendered by the animatic: three slate takes, then the
    board reordered (the third shot first) and the new second shot duplicated at the end."""
    shots = tuple(Shot(id=f"s{i}", title=f"Card {i}", prompt=f"prompt {i}", duration=FRAMES, seed=10 + i) for i in range(3))
    project = Project.create(root, Board(title="Slates", fps=FPS, width=W, height=H, shots=shots))
    render_board(project)
    def reorder(board: Board) -> Board:
        board = board.move_shot("s2", -2)
        return board.add_shot(board.shots[1].replace(id="s0copy"))
    project.update(reorder)
    assert [shot.id for shot in project.load().shots] == ["s2", "s0", "s1", "s0copy"]
    return project


def number_box(number: int) -> tuple[slice, slice]:
    sprite, x, y = number_sprite(number, W, H)
    return slice(y, y + sprite.shape[0]), slice(x, x + sprite.shape[1])


def shown_number(image: np.ndarray, plain: np.ndarray, candidates: range) -> int:
    """Which "SHOT N" a frame shows: the candidate whose freshly drawn slate number, on the same
    picture without a number, is closest to it (no OCR)."""
    box = number_box(max(candidates))
    errors = {n: np.abs(image[box].astype(int) - with_number(plain, n)[box].astype(int)).mean() for n in candidates}
    best = min(errors, key=errors.get)
    assert errors[best] < 0.75 * sorted(errors.values())[1], errors  # clearly that one, not a near tie
    return best


def take_middle_frames(project: Project) -> list[np.ndarray]:
    """Each shot's middle take frame as the take file has it: a slate with no number on it."""
    board = project.load()
    return [read_video(project.resolve(shot.chosen().path))[FRAMES // 2] for shot in board.shots]


def test_slate_takes_carry_no_number_and_the_metadata_says_slate(tmp_path: Path) -> None:
    project = slate_project(tmp_path / "p")
    timeline = load_timeline(project)
    assert all(segment.slate_take and not segment.is_slate for segment in timeline.segments)
    plain = take_middle_frames(project)
    for frame in plain:  # nothing is drawn where the number goes: the texture alone
        assert np.abs(frame[number_box(4)].astype(int) - with_number(frame, 4)[number_box(4)].astype(int)).mean() > 20


def test_mp4_contact_sheet_and_pdf_show_current_numbers_after_reorder_and_duplicate(tmp_path: Path) -> None:
    project = slate_project(tmp_path / "p")
    plain = take_middle_frames(project)
    numbers = range(1, 5)

    frames = read_video(export_board(project, "mp4"))
    assert len(frames) == 4 * FRAMES
    shown = [shown_number(frames[index * FRAMES + FRAMES // 2], plain[index], numbers) for index in range(4)]
    assert shown == [1, 2, 3, 4]

    sheet = np.asarray(Image.open(export_board(project, "contact")).convert("RGB"))
    pad, label_h = 8, 34  # contact.py's layout: 4 columns, thumbnails at the board size here
    thumbs = [sheet[pad:pad + H, pad + i * (W + pad):pad + i * (W + pad) + W] for i in range(4)]
    assert [shown_number(thumb, plain[i], numbers) for i, thumb in enumerate(thumbs)] == [1, 2, 3, 4]

    reader = PdfReader(export_board(project, "pdf", options=ExportOptions(per_page=4)))
    pictures = []
    for page in reader.pages:  # in the order they are drawn (page.images is in resource order)
        images = {Path(image.name).stem: image for image in page.images}
        for name in re.findall(rb"/([\w.]+) Do", page.get_contents().get_data()):
            pictures.append(np.asarray(Image.open(io.BytesIO(images[name.decode()].data)).convert("RGB")))
    assert len(pictures) == 4 and all(p.shape == (H, W, 3) for p in pictures)
    assert [shown_number(picture, plain[i], numbers) for i, picture in enumerate(pictures)] == [1, 2, 3, 4]


def test_burn_ins_start_below_a_slates_number(tmp_path: Path) -> None:
    project = slate_project(tmp_path / "p")
    timeline = load_timeline(project)
    recipe = frame_recipes(timeline, Style(burn_ins=frozenset(BURN_INS)))[FRAMES // 2]
    with Compositor(timeline) as plain, Compositor(timeline, Style(burn_ins=frozenset(BURN_INS))) as burnt:
        without, with_text = plain.draw(frame_recipes(timeline)[FRAMES // 2]), burnt.draw(recipe)
    box = number_box(1)
    assert np.array_equal(with_text[box], without[box])  # "Shot 1 - Card 2" and "take ..." are not printed over "SHOT 1"
    below = (slice(box[0].stop, box[0].stop + 30), slice(0, W // 2))
    assert np.abs(with_text[below].astype(int) - without[below].astype(int)).mean() > 5  # they are printed below it
