"""Layers for a single image: the classical split (horizon + GrabCut + inpainting) and a
transformers depth model (a tiny random-weight Depth Anything built here, loaded through the same
from_pretrained path real weights take)."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from studio.services import edits
from studio.services.depth_split import find_depth_model, horizon_row, split_image, split_keyframe
from studio.services.panels import discard_panel, flatten
from studio.storage import Project

from conftest import small_board

W, H = 192, 112


def scene() -> np.ndarray:
    """Sky above row 45, ground below, a dark red figure standing in the middle."""
    rng = np.random.default_rng(1)
    image = np.empty((H, W, 3), np.float32)
    image[:45] = (120, 170, 235)
    image[45:] = (90, 140, 60)
    image += rng.normal(0, 4, image.shape)
    image[30:100, 85:110] = (150, 30, 40)
    return np.clip(image, 0, 255).astype(np.uint8)


def test_the_horizon_is_the_sky_ground_line() -> None:
    assert abs(horizon_row(scene()) - 45) <= 2


def test_the_classical_split_gives_far_mid_and_near_layers_that_rebuild_the_picture() -> None:
    split = split_image(scene())
    assert split.method == "horizon + GrabCut"
    far, mid, near = split.layers
    assert [layer.depth for layer in split.layers] == [2.0, 1.0, 0.6]
    assert far.rgba[..., 3].min() == 255  # the back layer is whole: nothing behind it to show
    figure = np.zeros((H, W), bool)
    figure[34:96, 89:106] = True
    assert near.rgba[..., 3][figure].mean() > 200  # the subject is the near layer
    assert near.rgba[..., 3][:, :40].max() < 30 and near.rgba[..., 3][:, -40:].max() < 30
    assert mid.rgba[..., 3][60:, :40].min() > 200 and mid.rgba[..., 3][:25].max() < 30  # ground, not sky
    # behind the subject the far layer is filled with sky and ground, not the red figure
    assert far.rgba[40:95, 90:105, 0].mean() < 130
    rebuilt = flatten(split.layers).astype(int)
    assert np.abs(rebuilt - scene()).mean() < 4


def tiny_depth_model(folder: Path) -> Path:
    """A Depth Anything with random weights, saved as real weights are."""
    import torch
    from transformers import DepthAnythingConfig, DepthAnythingForDepthEstimation, Dinov2Config, DPTImageProcessor

    backbone = Dinov2Config(image_size=32, patch_size=8, hidden_size=16, num_hidden_layers=4, num_attention_heads=2,
                            intermediate_size=32, out_features=["stage1", "stage2", "stage3", "stage4"],
                            reshape_hidden_states=False)
    config = DepthAnythingConfig(backbone_config=backbone, reassemble_hidden_size=16, patch_size=8,
                                 neck_hidden_sizes=[8, 8, 8, 8], fusion_hidden_size=8, head_hidden_size=8)
    torch.manual_seed(0)
    DepthAnythingForDepthEstimation(config).eval().save_pretrained(folder)
    DPTImageProcessor(size={"height": 32, "width": 32}, keep_aspect_ratio=True, ensure_multiple_of=8,
                      do_pad=False).save_pretrained(folder)
    return folder


def test_a_depth_model_on_disk_is_used_through_from_pretrained(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tiny_depth_model(tmp_path / "depth")
    monkeypatch.setenv("PREVIZ_DEPTH_MODEL", str(folder))
    assert find_depth_model() == str(folder)
    split = split_image(scene(), find_depth_model())
    assert split.method == f"depth model {folder}"
    far, mid, near = split.layers
    assert all(layer.rgba.shape == (H, W, 4) for layer in split.layers)
    assert far.rgba[..., 3].min() == 255
    coverage = (near.rgba[..., 3] > 127).mean()
    assert 0.15 < coverage < 0.25  # the nearest fifth of the model's depth
    monkeypatch.setenv("PREVIZ_DEPTH_MODEL", str(tmp_path / "nothing-here"))
    assert find_depth_model() is None


def test_splitting_a_keyframe_keeps_the_picture_as_the_keyframe_and_can_be_discarded(tmp_path: Path) -> None:
    project = Project.create(tmp_path / "p", small_board(width=W, height=H))
    buffer = io.BytesIO()
    Image.fromarray(scene()).save(buffer, format="PNG")
    edits.set_keyframe(project, "s1", buffer.getvalue(), actor="me")
    board = split_keyframe(project, "s1", actor="me", model=None)
    shot = board.shot("s1")
    panel = shot.panel("first")
    assert [layer.name for layer in panel.layers] == ["background", "midground", "foreground"]
    assert shot.keyframe("first").path == panel.flat
    kept = np.asarray(Image.open(project.resolve(panel.flat)).convert("RGB"))
    assert np.array_equal(kept, scene())
    board = discard_panel(project, "s1", actor="me")
    assert board.shot("s1").panels == () and board.shot("s1").keyframe("first").path == panel.flat


def test_a_shot_without_a_keyframe_cannot_be_split(tmp_path: Path) -> None:
    from studio.services.panels import PanelError

    project = Project.create(tmp_path / "p", small_board(width=W, height=H))
    with pytest.raises(PanelError, match="no first keyframe"):
        split_keyframe(project, "s1", model=None)
