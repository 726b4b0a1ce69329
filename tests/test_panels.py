"""Drawn panels: layers stored in the project, flattened into the keyframe, and round trips
through OpenRaster and Photoshop files read back with real readers (zipfile + Pillow, psd-tools)."""

from __future__ import annotations

import io
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.board_codec import board_from_dict, board_to_dict
from studio.services import edits
from studio.services.panels import (
    LayerPixels, PanelError, discard_panel, export_panel, flatten, import_file, load_layers, read_ora, read_psd,
    save_panel, update_layers, write_ora, write_psd,
)
from studio.storage import Project

from conftest import small_board

W, H = 96, 64


def three_layers() -> list[LayerPixels]:
    """An opaque sky, a half-transparent hill and a small red figure: each pixel says which layer."""
    back = np.zeros((H, W, 4), np.uint8)
    back[...] = (40, 90, 200, 255)
    mid = np.zeros((H, W, 4), np.uint8)
    mid[40:, :] = (30, 160, 60, 128)
    front = np.zeros((H, W, 4), np.uint8)
    front[20:50, 40:52] = (220, 30, 30, 255)
    return [LayerPixels("background", back, 2.0), LayerPixels("midground", mid, 1.0),
            LayerPixels("foreground", front, 0.6, opacity=0.8)]


@pytest.fixture
def project(tmp_path: Path) -> Project:
    return Project.create(tmp_path / "p", small_board(width=W, height=H))


def test_a_saved_panel_is_one_png_per_layer_and_the_flattened_picture_is_the_first_keyframe(project: Project) -> None:
    board = save_panel(project, "s1", three_layers(), actor="me")
    shot = board.shot("s1")
    panel = shot.panel("first")
    assert panel is not None and [layer.name for layer in panel.layers] == ["background", "midground", "foreground"]
    assert [layer.depth for layer in panel.layers] == [2.0, 1.0, 0.6]
    assert shot.keyframe("first").path == panel.flat and shot.panel_of(shot.keyframe("first")) == panel
    for layer, original in zip(panel.layers, three_layers()):
        stored = np.asarray(Image.open(project.resolve(layer.path)))
        assert stored.shape == (H, W, 4) and np.array_equal(stored, original.rgba)
    flat = np.asarray(Image.open(project.resolve(panel.flat)).convert("RGB"))
    assert np.array_equal(flat, flatten(three_layers()))
    assert tuple(flat[10, 5]) == (40, 90, 200)  # sky only
    assert abs(int(flat[55, 5, 1]) - (90 + (160 - 90) * 128 / 255)) <= 1  # hill half over the sky
    assert flat[30, 45, 0] > 150  # the figure at 80 %
    # the model survives board.json, and the edit is one undoable step
    assert board_from_dict(board_to_dict(board)).shot("s1").panels == shot.panels
    assert Project.open(project.root).load().shot("s1").panels == shot.panels
    undone = edits.undo(project, "me").shot("s1")
    assert undone.panels == () and undone.keyframes == ()


def test_panels_map_to_first_last_and_mid_keyframes_and_can_leave_the_keyframe_alone(project: Project) -> None:
    save_panel(project, "s1", three_layers(), "first")
    save_panel(project, "s1", three_layers()[:1], "last")
    board = save_panel(project, "s1", three_layers()[1:2], "mid", 5)
    shot = board.shot("s1")
    assert {(k.role, k.frame) for k in shot.keyframes} == {("first", 0), ("last", 11), ("mid", 5)}
    assert all(shot.panel_of(k) is not None for k in shot.keyframes)
    board = save_panel(project, "s2", three_layers(), keyframe=False)
    assert board.shot("s2").keyframes == () and board.shot("s2").panel("first") is not None


def test_bad_layers_are_refused_naming_the_layer_and_nothing_changes(project: Project) -> None:
    before = project.load()
    layers = three_layers()
    with pytest.raises(PanelError, match="foreground.*depth"):
        save_panel(project, "s1", layers[:2] + [LayerPixels("foreground", layers[2].rgba, -1.0)])
    with pytest.raises(PanelError, match="same size"):
        save_panel(project, "s1", layers[:2] + [LayerPixels("fg", np.zeros((10, 10, 4), np.uint8))])
    with pytest.raises(PanelError, match="unique"):
        save_panel(project, "s1", [layers[0], LayerPixels("Background", layers[1].rgba)])
    assert project.load() == before


def test_depths_can_be_adjusted_and_a_split_discarded(project: Project) -> None:
    save_panel(project, "s1", three_layers())
    board = update_layers(project, "s1", [{"name": "foreground", "depth": 0.4}])
    panel = board.shot("s1").panel("first")
    assert [layer.depth for layer in panel.layers] == [2.0, 1.0, 0.4]
    assert board.shot("s1").keyframe("first").path == panel.flat
    board = update_layers(project, "s1", [{"name": "midground", "visible": False}])
    flat = np.asarray(Image.open(project.resolve(board.shot("s1").panel("first").flat)).convert("RGB"))
    assert tuple(flat[55, 5]) == (40, 90, 200)  # the hidden hill no longer shows
    with pytest.raises(PanelError, match="no layer named"):
        update_layers(project, "s1", [{"name": "sky", "depth": 3.0}])
    board = discard_panel(project, "s1")
    assert board.shot("s1").panels == () and board.shot("s1").keyframe("first") is not None


def test_openraster_round_trip_keeps_layers_names_depths_and_is_a_valid_ora(project: Project) -> None:
    save_panel(project, "s1", three_layers())
    data = export_panel(project, "s1", "ora")
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        first = archive.infolist()[0]
        assert first.filename == "mimetype" and first.compress_type == zipfile.ZIP_STORED
        assert archive.read("mimetype") == b"image/openraster"
        stack = archive.read("stack.xml").decode()
        assert stack.index('name="foreground"') < stack.index('name="background"')  # top layer first
        merged = np.asarray(Image.open(io.BytesIO(archive.read("mergedimage.png"))).convert("RGB"))
        assert np.array_equal(merged, flatten(three_layers()))
    layers = read_ora(data)
    assert [(layer.name, layer.depth, layer.opacity) for layer in layers] == [
        ("background", 2.0, 1.0), ("midground", 1.0, 1.0), ("foreground", 0.6, 0.8)]
    for got, want in zip(layers, three_layers()):
        assert np.array_equal(got.rgba[..., 3], want.rgba[..., 3])
        visible = want.rgba[..., 3] > 100
        assert np.abs(got.rgba[..., :3].astype(int) - want.rgba[..., :3])[visible].max() <= 2
    board = import_file(project, "s2", data, "panel.ora")
    assert [layer.name for layer in board.shot("s2").panel("first").layers] == ["background", "midground", "foreground"]


def test_an_ora_from_a_painting_program_with_offsets_groups_and_hidden_layers(project: Project) -> None:
    """Like Krita writes them: layers smaller than the canvas at x/y, a nested stack, no depth."""
    patch = np.zeros((10, 20, 4), np.uint8)
    patch[...] = (250, 250, 0, 255)
    sky = np.zeros((H, W, 4), np.uint8)
    sky[...] = (0, 0, 90, 255)
    stack = f"""<?xml version='1.0' encoding='UTF-8'?>
<image w="{W}" h="{H}" version="0.0.5"><stack>
 <stack name="group"><layer name="sun" src="data/sun.png" x="70" y="4" opacity="1" visibility="visible"/>
  <layer name="ghost" src="data/ghost.png" x="0" y="0" visibility="hidden"/></stack>
 <layer name="sky" src="data/sky.png" x="0" y="0" opacity="1.0"/>
</stack></image>"""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("mimetype", "image/openraster")
        archive.writestr("stack.xml", stack)
        for name, pixels in (("sun", patch), ("ghost", patch), ("sky", sky)):
            png = io.BytesIO()
            Image.fromarray(pixels).save(png, format="PNG")
            archive.writestr(f"data/{name}.png", png.getvalue())
    layers = read_ora(buffer.getvalue(), "krita.ora")
    assert [(layer.name, layer.visible) for layer in layers] == [("sky", True), ("ghost", False), ("sun", True)]
    assert layers[0].depth > layers[1].depth > layers[2].depth  # far to near by position
    sun = layers[2].rgba
    assert sun.shape == (H, W, 4) and sun[4:14, 70:90, 3].min() == 255 and sun[:, :70, 3].max() == 0
    assert sun[4:14, 90:, 3].max() == 0  # clipped at the canvas edge (x 70 + 20 > 96? no: ends at 90)


def test_broken_layered_files_are_refused_with_the_file_named(project: Project) -> None:
    with pytest.raises(PanelError, match="bad.ora: not an OpenRaster"):
        import_file(project, "s1", b"not a zip", "bad.ora")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("stack.xml", "<image w='64' h='64'><stack><layer src='data/missing.png'/></stack></image>")
    with pytest.raises(PanelError, match="data/missing.png is missing"):
        import_file(project, "s1", buffer.getvalue(), "gone.ora")
    with pytest.raises(PanelError, match="bad.psd: not a readable Photoshop"):
        import_file(project, "s1", b"8BPS garbage", "bad.psd")
    with pytest.raises(PanelError, match="notes.txt"):
        import_file(project, "s1", b"hello", "notes.txt")
    assert project.load().shot("s1").panels == ()


def test_psd_round_trip_through_psd_tools(project: Project) -> None:
    from psd_tools import PSDImage

    save_panel(project, "s1", three_layers())
    data = export_panel(project, "s1", "psd")
    psd = PSDImage.open(io.BytesIO(data))
    assert (psd.width, psd.height) == (W, H)
    assert [layer.name for layer in psd] == ["background", "midground", "foreground"]
    assert psd[2].opacity == round(0.8 * 255)
    layers = read_psd(data)
    assert [layer.name for layer in layers] == ["background", "midground", "foreground"]
    for got, want in zip(layers, three_layers()):
        assert np.array_equal(got.rgba[..., 3], want.rgba[..., 3])
    board = import_file(project, "s3", write_psd(layers), "panel.psd", "last")
    assert len(board.shot("s3").panel("last").layers) == 3 and board.shot("s3").keyframe("last") is not None


def test_a_flat_image_becomes_a_one_layer_panel(project: Project) -> None:
    png = io.BytesIO()
    Image.fromarray(np.full((H, W, 3), 77, np.uint8)).save(png, format="PNG")
    board = import_file(project, "s1", png.getvalue(), "photo.png")
    panel = board.shot("s1").panel("first")
    assert [layer.name for layer in panel.layers] == ["background"]
    assert load_layers(project, panel)[0].rgba[..., 3].min() == 255


def test_the_cli_imports_and_exports_a_panel(project: Project, tmp_path: Path) -> None:
    source = tmp_path / "drawn.ora"
    source.write_bytes(write_ora(three_layers()))
    run = subprocess.run([sys.executable, "-m", "studio", "panel", str(project.root), "s2", str(source), "--role", "last"],
                         capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert "3 layer(s)" in run.stdout and "foreground (depth 0.6)" in run.stdout
    assert project.load().shot("s2").panel("last") is not None
    out = tmp_path / "out.psd"
    run = subprocess.run([sys.executable, "-m", "studio", "panel", str(project.root), "s2", "--export", str(out),
                          "--role", "last"], capture_output=True, text=True)
    assert run.returncode == 0, run.stderr
    assert [layer.name for layer in read_psd(out.read_bytes())] == ["background", "midground", "foreground"]
    run = subprocess.run([sys.executable, "-m", "studio", "panel", str(project.root), "nope", str(source)],
                         capture_output=True, text=True)
    assert run.returncode == 1 and "nope" in run.stderr


def test_a_take_goes_stale_when_its_panel_layers_change(project: Project, tmp_path: Path) -> None:
    from studio.services.app import StudioServices
    from studio.services.render import render_shot
    from studio.services.workspace import Workspace

    save_panel(project, "s1", three_layers())
    take = render_shot(project, "s1")
    services = StudioServices(Workspace(tmp_path / "home"))
    try:
        assert services.stale_reasons(project, project.load().shot("s1"), take) == []
        update_layers(project, "s1", [{"name": "foreground", "depth": 0.3}])
        assert services.stale_reasons(project, project.load().shot("s1"), take) == ["layers"]
    finally:
        services.close()


def test_validate_names_a_missing_layer_file(project: Project) -> None:
    board = save_panel(project, "s1", three_layers())
    project.resolve(board.shot("s1").panel("first").layers[1].path).unlink()
    run = subprocess.run([sys.executable, "-m", "studio", "validate", str(project.root)], capture_output=True, text=True)
    assert run.returncode != 0 and "first panel layer 'midground' missing" in run.stdout + run.stderr
