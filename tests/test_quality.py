"""Draft and final quality: a draft asks for less, a final re-renders the chosen draft with its
seed and conditioning as a new take (the draft kept), through the render service, the CLI and
the fields every client edits. Diffusion on a tiny random-weight Wan loaded through from_pretrained."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from studio.backends import BackendCache
from studio.backends.diffusers_common import plan_shape
from studio.backends.base import ShotRequest
from studio.board import Board, CameraMove, FrameRate, Shot
from studio.cli import main
from studio.models import get_spec
from studio.services import edits
from studio.services.fields import FieldError, apply_board_settings, apply_shot_changes
from studio.services.quality import DRAFT_AREA, draft_plan, needs_render
from studio.services.render import render_board, render_shot
from studio.storage import Project

import tiny_pipelines as tiny

pytestmark = pytest.mark.filterwarnings("ignore::FutureWarning", "ignore::UserWarning", "ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def wan_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tiny.build_wan_t2v(tmp_path_factory.mktemp("tiny") / "wan-t2v")


def wan_board(wan_dir: Path, quality: str = "draft") -> Board:
    shots = tuple(Shot(id=f"s{i}", prompt="a lighthouse keeper walks", negative_prompt="blurry", duration=9,
                       camera=(CameraMove("pan_left", 0.5),), seed=40 + i) for i in (1, 2))
    return Board(title="q", width=32, height=32, fps=FrameRate(16), default_backend="wan",
                 default_model=str(wan_dir), quality=quality, shots=shots)


def spy_wan(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    from diffusers import WanPipeline

    calls: list[dict[str, Any]] = []
    original = WanPipeline.__call__

    def spy(self: Any, *args: Any, **kwargs: Any) -> Any:
        calls.append(kwargs | {"seed": kwargs["generator"].initial_seed()})
        return original(self, *args, **kwargs)

    monkeypatch.setattr(WanPipeline, "__call__", spy)
    return calls


def sidecar(project: Project, take: Any) -> dict[str, Any]:
    return json.loads(project.resolve(take.sidecar_path).read_text())


def test_draft_then_final_keeps_seed_and_conditioning(tmp_path: Path, wan_dir: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    project = Project.create(tmp_path / "film", wan_board(wan_dir))
    calls = spy_wan(monkeypatch)
    backends = BackendCache()
    options = {"max_sequence_length": 16}
    draft = render_shot(project, "s1", options=options, backends=backends, seed=1234)
    assert draft.quality == "draft"
    record = sidecar(project, draft)
    assert record["quality"]["level"] == "draft" and record["quality"]["options"]["steps"] == 15  # 30% of 50
    # the card changes after the draft: the final still renders what the draft showed
    edits.patch_shot(project, "s1", {"prompt": "a ship in a storm", "camera": [{"move": "zoom_in"}]},
                     project.load().revision, "test")
    final = render_shot(project, "s1", options=options, backends=backends, quality="final")
    assert final.quality == "final" and final.seed == draft.seed == 1234
    shot = project.load().shot("s1")
    assert [t.id for t in shot.takes] == [draft.id, final.id] and shot.chosen_take == final.id  # draft kept
    record = sidecar(project, final)
    assert record["quality"] == {"level": "final", "from_draft": draft.id, "model": str(wan_dir),
                                 "same_seed": 1234, "conditioning": ["prompt", "negative_prompt", "camera",
                                                                     "keyframes", "panels"]}
    assert record["prompt"] == "a lighthouse keeper walks" and record["camera"][0]["move"] == "pan_left"
    first, second = calls
    assert first["seed"] == second["seed"] == 1234
    assert first["prompt"] == second["prompt"] and first["negative_prompt"] == second["negative_prompt"]
    assert (first["num_inference_steps"], second["num_inference_steps"]) == (15, 50)
    # with the final chosen, a final pass has nothing left to do; the other shot is still missing
    assert not needs_render(project.load(), shot, "final")
    assert [t.quality for t in render_board(project, only_missing=True, backends=backends,
                                            options=options | {"steps": 2}, quality="final")] == ["final"]


def test_a_final_pass_renders_only_shots_whose_chosen_take_is_a_draft(tmp_path: Path, wan_dir: Path) -> None:
    project = Project.create(tmp_path / "film", wan_board(wan_dir))
    backends = BackendCache()
    options = {"max_sequence_length": 16, "steps": 2}
    render_board(project, backends=backends, options=options)  # draft (the board's quality)
    board = project.load()
    assert [s.chosen().quality for s in board.shots] == ["draft", "draft"]
    assert render_board(project, backends=backends, options=options) == []  # drafts count as rendered
    finals = render_board(project, backends=backends, options=options, quality="final")
    board = project.load()
    assert [t.quality for t in finals] == ["final", "final"] and all(len(s.takes) == 2 for s in board.shots)
    assert [t.seed for t in finals] == [s.takes[0].seed for s in board.shots]


def test_draft_asks_for_a_distilled_model_or_fewer_steps_and_a_smaller_size() -> None:
    wan = get_spec("wan2.1-t2v-1.3b")
    model, options = draft_plan(wan)
    assert model is None and options == {"steps": 15, "max_area": int(832 * 480 * DRAFT_AREA)}
    request = ShotRequest(shot_id="s", shot_number=1, prompt="", negative_prompt="", num_frames=33, width=832,
                          height=480, fps=FrameRate(16), seed=0, camera=())
    full, small = plan_shape(request, wan), plan_shape(request, wan, options["max_area"])
    assert (full.width, full.height) == (832, 480) and small.width * small.height <= 832 * 480 * DRAFT_AREA
    assert small.width < 832 and small.height < 480
    assert draft_plan(get_spec("kandinsky-5-lite-t2v")) == (
        "kandinsky-5-lite-t2v-distilled", {"steps": 16, "max_area": int(768 * 512 * DRAFT_AREA), "guidance": 1.0})
    assert draft_plan(get_spec("ltx-2"))[0] == "ltx-2.3-distilled"


def test_quality_is_a_board_and_shot_field_with_clear_errors() -> None:
    board = Board(shots=(Shot(id="a"),))
    assert apply_board_settings(board, {"quality": "draft"}).quality == "draft"
    shot = apply_shot_changes(board, "a", {"quality": "final"}).shot("a")
    assert shot.quality == "final"
    assert apply_shot_changes(board, "a", {"quality": "board default"}).shot("a").quality is None
    with pytest.raises(FieldError, match="(?i)quality"):
        apply_shot_changes(board, "a", {"quality": "best"})
    with pytest.raises(FieldError, match="(?i)quality"):
        apply_board_settings(board, {"quality": "best"})


def test_cli_render_quality_flag(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    board = dataclasses.replace(wan_board(Path("unused")), default_backend="animatic", default_model=None,
                                quality="final")
    project = Project.create(tmp_path / "film", board)
    assert main(["render", str(project.root), "--quality", "draft"]) == 0
    assert "(animatic, draft)" in capsys.readouterr().out
    takes = [s.chosen() for s in project.load().shots]
    assert [t.quality for t in takes] == ["draft", "draft"]
    assert sidecar(project, takes[0])["quality"] == {"level": "draft", "same_as_final": True}
    with pytest.raises(SystemExit):
        main(["render", str(project.root), "--quality", "best"])
