"""The shot inspector: one fixed set of widgets for the selected panel, built once.

Nothing here is ever rebuilt. Selecting a panel, a take landing or another tab's edit only sets
widget values, and the poll (``layout``) never replaces a field that holds unsaved typing: the
browser sends each field's current value with the poll (and which field has the focus), and a
field whose value differs from what this tab last saw from the server is "dirty" and left alone.
Its base revision then stays old, so saving it later is refused as a conflict if someone else
changed the same field meanwhile (the edit service decides that, not the UI).

The tab's view of the shot lives in a small dict (``view``): shot id, ``seen`` values per
field, and the revision each field is based on.
"""

from __future__ import annotations

import math
from typing import Any

import gradio as gr

from studio.board import ANGLES, EASINGS, INT_EXT, KEYFRAME_ROLES, MOVES, SHOT_SIZES, TRANSITIONS, Board, Shot
from studio.ui.drawing import DrawingPanel
from studio.services.fields import lora_lines
from studio.ui.keyframes import KeyframesPanel

MAX_SEGMENTS = 4
"""Camera moves a shot can combine in the inspector (the model takes up to 8)."""
TEXT = ("title", "prompt", "negative_prompt", "location", "characters", "action", "speaker", "dialogue", "notes",
        "seed", "loras")
NUMBERS = ("lens_mm", "duration_s", "transition_frames")
CHOICES = ("shot_size", "angle", "int_ext", "transition", "seed_locked", "continuity", "quality")


class Inspector:
    """The widgets; ``fields`` maps each patch field name to its widget."""

    def __init__(self) -> None:
        self.indicator = gr.HTML('<span class="save-state">Select a panel</span>', elem_id="save-indicator")
        self.heading = gr.Markdown("### Shot", elem_id="inspector-heading")
        with gr.Row():
            self.generate = gr.Button("Generate", variant="primary", size="sm", elem_id="generate")
            self.count = gr.Number(3, label="Takes", precision=0, minimum=1, maximum=8, min_width=60, scale=0,
                                   elem_id="take-count", container=False)
            self.generate_n = gr.Button("Generate N takes", size="sm", elem_id="generate-n")
            self.cancel = gr.Button("Cancel", size="sm", elem_id="cancel-shot")
        f: dict[str, gr.components.Component] = {}
        with gr.Tabs(elem_id="inspector-tabs"):
            with gr.Tab("Shot", id="shot"):
                f["title"] = gr.Textbox(label="Title", max_lines=1, elem_id="insp-title")
                f["prompt"] = gr.Textbox(label="Prompt", lines=3, elem_id="insp-prompt")
                f["negative_prompt"] = gr.Textbox(label="Negative prompt", max_lines=2, elem_id="insp-negative_prompt")
                with gr.Row():
                    f["shot_size"] = gr.Dropdown(_choices(SHOT_SIZES), label="Shot size", elem_id="insp-shot_size",
                                                 min_width=90)
                    f["angle"] = gr.Dropdown(_choices(ANGLES), label="Angle", elem_id="insp-angle", min_width=90)
                    f["lens_mm"] = gr.Number(None, label="Lens (mm)", elem_id="insp-lens_mm", min_width=80)
                self.rows: list[gr.Row] = []
                self.moves: list[tuple[gr.Dropdown, gr.Slider, gr.Dropdown]] = []
                for index in range(MAX_SEGMENTS):
                    with gr.Row(visible=index == 0, elem_classes=["move-row"]) as row:
                        self.moves.append((
                            gr.Dropdown(list(MOVES), value="static", label=f"Camera move {index + 1}",
                                        elem_id=f"insp-move-{index}", min_width=110),
                            gr.Slider(0, 1, value=0.5, step=0.05, label="Intensity",
                                      elem_id=f"insp-intensity-{index}", min_width=110),
                            gr.Dropdown(list(EASINGS), value="ease_in_out", label="Easing",
                                        elem_id=f"insp-easing-{index}", min_width=100),
                        ))
                    self.rows.append(row)
                with gr.Row():
                    self.add_move = gr.Button("+ Add move", size="sm", elem_id="add-move")
                    self.remove_move = gr.Button("− Remove last move", size="sm", elem_id="remove-move")
                with gr.Row():
                    f["duration_s"] = gr.Number(None, label="Duration (s)", step=0.5, elem_id="insp-duration_s",
                                                min_width=90)
                    f["seed"] = gr.Textbox(label="Seed", max_lines=1, elem_id="insp-seed", min_width=90,
                                           placeholder="new seed every take")
                    f["seed_locked"] = gr.Checkbox(label="Lock seed", elem_id="insp-seed_locked", min_width=80)
                    self.dice = gr.Button("Random seed", size="sm", min_width=60, elem_id="random-seed")
                with gr.Row():
                    f["continuity"] = gr.Checkbox(label="Continue from previous shot", elem_id="insp-continuity")
                    f["transition"] = gr.Dropdown(list(TRANSITIONS), label="Transition in", elem_id="insp-transition")
                    f["transition_frames"] = gr.Number(None, label="Transition (frames)", precision=0,
                                                       elem_id="insp-transition_frames")
                    f["quality"] = gr.Dropdown([("board's", ""), ("draft", "draft"), ("final", "final")],
                                               label="Quality", elem_id="insp-quality", min_width=90,
                                               info="final re-renders a chosen draft with its seed")
            with gr.Tab("Story", id="story"):
                with gr.Row():
                    f["int_ext"] = gr.Dropdown(_choices(INT_EXT), label="INT/EXT", elem_id="insp-int_ext", min_width=80)
                    f["location"] = gr.Textbox(label="Location", max_lines=1, elem_id="insp-location", min_width=120)
                f["characters"] = gr.Textbox(label="Characters in the shot (comma-separated)", max_lines=1,
                                             elem_id="insp-characters")
                f["action"] = gr.Textbox(label="Action", lines=3, elem_id="insp-action")
                with gr.Row():
                    f["speaker"] = gr.Textbox(label="Speaker", max_lines=1, elem_id="insp-speaker", scale=1,
                                              min_width=90)
                    f["dialogue"] = gr.Textbox(label="Dialogue", lines=2, elem_id="insp-dialogue", scale=3)
                with gr.Row(equal_height=True):
                    self.timing = gr.Markdown("", elem_id="dialogue-timing")
                    self.fit = gr.Button("Fit duration to dialogue", size="sm", scale=0, min_width=180,
                                         elem_id="fit-dialogue")
                f["notes"] = gr.Textbox(label="Notes", lines=3, elem_id="insp-notes")
            with gr.Tab("Keyframes", id="keyframes"):
                self.keyframes = gr.Gallery(label="Keyframes", columns=3, height=130, allow_preview=False,
                                            object_fit="contain", elem_id="keyframe-gallery", interactive=False)
                with gr.Row():
                    self.kf_role = gr.Dropdown(list(KEYFRAME_ROLES), value="first", label="Role", min_width=80)
                    self.kf_frame = gr.Number(0, label="Frame (mid)", precision=0, min_width=80)
                    self.kf_clear = gr.Button("Remove keyframes", size="sm", elem_id="remove-keyframes")
                self.kf_upload = gr.File(label="Upload keyframe image", file_types=["image"], type="filepath",
                                         elem_id="keyframe-upload", height=90)
            with gr.Tab("Draw", id="draw", elem_id="draw-tab"):
                self.drawing = DrawingPanel()
            with gr.Tab("Image", id="image", elem_id="image-tab"):
                self.image = KeyframesPanel()
                f["loras"] = gr.Textbox(label="LoRAs for this shot, on top of the board's (one per line: a file, "
                                              "folder or hub id, then ': weight')", lines=2, elem_id="insp-loras")
            with gr.Tab("Takes", id="takes", elem_id="takes-tab"):
                self.takes = gr.Gallery(label="Takes (click one to choose it)", columns=4, height=150,
                                        allow_preview=False, object_fit="contain", elem_id="take-strip",
                                        interactive=False)
                self.take_info = gr.Markdown("", elem_id="take-info")
                self.player = gr.Video(label="Chosen take", interactive=False, height=220, elem_id="take-player")
                with gr.Row():
                    self.delete_take = gr.Button("Delete chosen take", size="sm", variant="stop", elem_id="delete-take")
                    self.compare_a = gr.Dropdown([], label="Compare take", min_width=90, elem_id="compare-a")
                    self.compare_b = gr.Dropdown([], label="with", min_width=90, elem_id="compare-b")
                self.compare = gr.HTML("", elem_id="compare", js_on_load=COMPARE_JS)
        self.fields = f

    @property
    def move_widgets(self) -> list[gr.components.Component]:
        return [widget for segment in self.moves for widget in segment]

    @property
    def value_widgets(self) -> list[gr.components.Component]:
        """Every widget whose value the poll sends (to leave unsaved typing alone)."""
        return list(self.fields.values()) + self.move_widgets

    @property
    def edit_controls(self) -> list[gr.components.Component]:
        """What changes the shot or starts a render: turned off for a viewer (the seed field
        follows its lock, which a viewer cannot change)."""
        return [*(w for name, w in self.fields.items() if name != "seed"), *self.move_widgets, self.generate,
                self.count, self.generate_n, self.cancel, self.add_move, self.remove_move, self.dice, self.fit,
                self.kf_clear, self.kf_upload, self.delete_take]


def _choices(values: tuple[str, ...]) -> list[tuple[str, str]]:
    return [(value.replace("_", " ") if value else "—", value) for value in values]


# --------------------------------------------------------------------------------------------
# Values: the shot as widgets show it, and widget values compared with it


def shown_values(board: Board, shot: Shot) -> dict[str, Any]:
    """What each field shows for the shot as saved (``camera`` is a list of [move, intensity, easing])."""
    return {
        "title": shot.title, "prompt": shot.prompt, "negative_prompt": shot.negative_prompt,
        "shot_size": shot.shot_size, "angle": shot.angle, "lens_mm": shot.lens_mm, "int_ext": shot.int_ext,
        "location": shot.location, "characters": ", ".join(shot.characters), "action": shot.action,
        "speaker": shot.speaker, "dialogue": shot.dialogue, "notes": shot.notes,
        "duration_s": round(board.fps.frames_to_seconds(shot.duration), 3),
        "seed": str(shot.seed) if shot.seed_locked else "", "seed_locked": shot.seed_locked,
        "continuity": shot.continuity, "transition": shot.transition.kind,
        "transition_frames": shot.transition.length,
        "camera": [[m.move, m.intensity, m.easing] for m in shot.camera],
        "quality": shot.quality or "",
        "loras": lora_lines(shot.loras),
    }


def same(field: str, a: Any, b: Any) -> bool:
    """Widget value ``a`` equals shown value ``b`` (numbers within rounding, None as empty)."""
    if field in NUMBERS:
        try:
            x = None if a in (None, "") else float(a)
            y = None if b in (None, "") else float(b)
        except (TypeError, ValueError):
            return False
        return x == y or (x is not None and y is not None and math.isclose(x, y, abs_tol=1e-6))
    if field == "camera":
        return len(a) == len(b) and all(m1 == m2 and same("lens_mm", i1, i2) and e1 == e2
                                         for (m1, i1, e1), (m2, i2, e2) in zip(a, b))
    if field in TEXT:
        return (a or "") == (b or "")
    return a == b


def camera_from(values: list[Any], count: int) -> list[list[Any]]:
    """The first ``count`` segments from the flat move widget values."""
    return [list(values[i * 3:i * 3 + 3]) for i in range(count)]


def field_updates(ins: Inspector, shown: dict[str, Any], names: set[str]) -> dict[Any, Any]:
    """Widget updates that show ``shown`` for the fields in ``names`` (camera included)."""
    updates: dict[Any, Any] = {}
    for name in names - {"camera"}:
        value = shown[name]
        if name == "seed":
            updates[ins.fields[name]] = gr.update(value=value, interactive=bool(shown["seed_locked"]))
        else:
            updates[ins.fields[name]] = value
    if "seed_locked" in names and "seed" not in names:
        updates[ins.fields["seed"]] = gr.update(interactive=bool(shown["seed_locked"]))
    if "camera" in names:
        camera = shown["camera"]
        for index, (row, (move, intensity, easing)) in enumerate(zip(ins.rows, ins.moves)):
            segment = camera[index] if index < len(camera) else ["static", 0.5, "ease_in_out"]
            updates[row] = gr.update(visible=index < len(camera))
            updates[move], updates[intensity], updates[easing] = segment
    return updates


COMPARE_JS = r"""
function sync() {
  const videos = element.querySelectorAll('video');
  if (videos.length !== 2) return;
  const [a, b] = videos;
  if (a.dataset.synced) return;
  a.dataset.synced = '1';
  a.addEventListener('play', () => { b.currentTime = a.currentTime; b.play().catch(() => {}); });
  a.addEventListener('pause', () => b.pause());
  a.addEventListener('seeked', () => { b.currentTime = a.currentTime; });
  a.addEventListener('timeupdate', () => { if (Math.abs(b.currentTime - a.currentTime) > 0.08) b.currentTime = a.currentTime; });
}
watch('value', sync);
sync();
"""
