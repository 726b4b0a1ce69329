"""Camera-move LoRAs: for models that learn a move from a LoRA rather than a camera path.

LTX-2 and Kandinsky 5 ship LoRAs trained on one camera move each. The card's move picks the LoRA
and its intensity picks the adapter weight, linearly between the row's ``weight_low`` (intensity
0) and ``weight_high`` (intensity 1). A card with several moves uses the strongest one that has a
LoRA (the others stay in the prompt phrase); handheld has none. The table is the README's
"Camera-move LoRAs" table; ``--option move_lora=off`` turns it off for a render, and
``--option move_lora=REPO[:FILE]`` names another LoRA for the card's move (weight as in the table).

Which repos are confirmed: ``Lightricks/LTX-2-19b-LoRA-Camera-Control-Dolly-In`` and its weight
file name appear in diffusers 0.42's LTX2InContextPipeline example; the other LTX-2 rows follow the
same published naming (Dolly-Out/Left/Right, Jib-Up/Down, Static). The Kandinsky 5 Lite camera
LoRAs are published in Kandinsky Lab's "Video Lite LoRAs" collection; the repo ids here follow its
naming and could not be checked offline (``verified`` says which).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Mapping

from studio.backends.base import GenerationError
from studio.board import CameraMove


@dataclass(frozen=True)
class MoveLora:
    """One camera-move LoRA: where it is, and the adapter weight range."""

    repo: str
    weight_name: str | None
    weight_low: float = 0.6
    weight_high: float = 1.0
    verified: bool = False
    """Whether the repo id was confirmed from a source available offline (diffusers' docs)."""

    def weight(self, intensity: float) -> float:
        return round(self.weight_low + (self.weight_high - self.weight_low) * float(intensity), 4)


def _ltx2(name: str, verified: bool = False) -> MoveLora:
    slug = name.lower()
    return MoveLora(f"Lightricks/LTX-2-19b-LoRA-Camera-Control-{name}",
                    f"ltx-2-19b-lora-camera-control-{slug}.safetensors", 0.6, 1.0, verified)


def _kandinsky(name: str) -> MoveLora:
    return MoveLora(f"kandinskylab/Kandinsky-5.0-T2V-Lite-lora-camera-{name}", None, 0.5, 1.0)


MOVE_LORAS: Mapping[str, Mapping[str, MoveLora]] = MappingProxyType({
    "ltx2": MappingProxyType({
        "dolly_in": _ltx2("Dolly-In", verified=True),
        "dolly_out": _ltx2("Dolly-Out"),
        "truck_left": _ltx2("Dolly-Left"),
        "truck_right": _ltx2("Dolly-Right"),
        "crane_up": _ltx2("Jib-Up"),
        "pedestal_up": _ltx2("Jib-Up"),
        "crane_down": _ltx2("Jib-Down"),
        "pedestal_down": _ltx2("Jib-Down"),
        "static": _ltx2("Static"),
    }),
    "kandinsky": MappingProxyType({
        "dolly_in": _kandinsky("dolly-in"),
        "dolly_out": _kandinsky("dolly-out"),
        "pan_left": _kandinsky("pan-left"),
        "pan_right": _kandinsky("pan-right"),
        "tilt_up": _kandinsky("tilt-up"),
        "tilt_down": _kandinsky("tilt-down"),
        "zoom_in": _kandinsky("zoom-in"),
        "zoom_out": _kandinsky("zoom-out"),
        "orbit_left": _kandinsky("orbit-left"),
        "orbit_right": _kandinsky("orbit-right"),
    }),
})
"""family -> camera move -> LoRA."""


@dataclass(frozen=True)
class MoveLoraChoice:
    """The LoRA a card's camera gets, with the move it stands for and the adapter weight."""

    move: str
    intensity: float
    lora: MoveLora
    weight: float

    def to_dict(self) -> dict[str, Any]:
        return {"move": self.move, "intensity": self.intensity, "repo": self.lora.repo,
                "weight_name": self.lora.weight_name, "weight": self.weight, "verified": self.lora.verified}


def choose_move_lora(family: str, moves: tuple[CameraMove, ...], override: object = None) -> MoveLoraChoice | None:
    """The LoRA for the strongest of ``moves`` that has one in ``family``'s table (a static card
    uses the static LoRA where there is one); None when nothing applies or ``override`` is "off".
    ``override`` "REPO[:FILE]" replaces the table's LoRA for that move."""
    table = MOVE_LORAS.get(family, {})
    if override in ("off", False) or not table:
        return None
    candidates = [m for m in moves if m.move in table and (m.move == "static" or m.intensity > 0)]
    if not candidates:
        if all(m.move == "static" or m.intensity == 0 for m in moves) and "static" in table:
            candidates = [CameraMove("static")]
        else:
            return None
    strongest = max(candidates, key=lambda m: 1.0 if m.move == "static" else m.intensity)
    lora = table[strongest.move]
    if isinstance(override, str) and override.strip():
        repo, _, weight_name = override.strip().partition(":")
        lora = MoveLora(repo, weight_name or None, lora.weight_low, lora.weight_high, verified=False)
    intensity = 1.0 if strongest.move == "static" else float(strongest.intensity)
    return MoveLoraChoice(strongest.move, intensity, lora, lora.weight(intensity))


def adapter_name(choice: MoveLoraChoice) -> str:
    """The peft adapter name of ``choice``'s LoRA (one per LoRA file, kept loaded between jobs)."""
    return "camera_move_" + "".join(c if c.isalnum() else "_" for c in choice.lora.repo.rsplit("/", 1)[-1].lower())


def apply_move_lora(pipe: Any, choice: MoveLoraChoice, load: dict[str, Any]) -> str:
    """Load ``choice``'s LoRA into ``pipe`` (once; it stays cached in the pipeline) and return its
    adapter name. Which adapters are active, at what weights, is set once per job for this and
    the user's LoRAs together (backends.loras.activate)."""
    loaded = {name for names in pipe.get_list_adapters().values() for name in names}
    name = adapter_name(choice)
    if name not in loaded:
        extra = {"weight_name": choice.lora.weight_name} if choice.lora.weight_name else {}
        pipe.load_lora_weights(choice.lora.repo, adapter_name=name, **extra, **load)
    return name


def active_move_adapter(record: dict[str, Any]) -> tuple[str, float] | None:
    """The (adapter, weight) a prepare_pipeline record says is loaded for the card's move."""
    move = record.get("move_lora")
    return (move["adapter"], float(move["weight"])) if move and move.get("loaded") else None


def load_move_lora(pipe: Any, family: str, moves: tuple[CameraMove, ...], override: object,
                   cache_dir: str | Path | None) -> dict[str, Any]:
    """The card's camera-move LoRA loaded into ``pipe`` (active once loras.activate runs), for a backend's
    ``prepare_pipeline``; returns the take's record of it. A LoRA is read from a folder or the
    Hugging Face cache only, never downloaded: a table LoRA that is not on disk is skipped and the
    record says so and how to fetch it (the move stays in the prompt); a LoRA named with
    ``move_lora=`` that cannot be read is an error."""
    choice = choose_move_lora(family, moves, override)
    if choice is None:
        return {"move_lora": None}
    local = Path(choice.lora.repo).expanduser().is_dir()
    try:
        name = apply_move_lora(pipe, choice, {} if local else {"local_files_only": True, "cache_dir": cache_dir})
    except (OSError, ValueError) as error:
        fetch = f"fetch it with `huggingface-cli download {choice.lora.repo}`"
        if isinstance(override, str) and override.strip():
            raise GenerationError(f"camera-move LoRA {choice.lora.repo} for {choice.move} is not on disk or not "
                                  f"readable ({error}); {fetch}, or render with --option move_lora=off") from None
        return {"move_lora": choice.to_dict() | {
            "loaded": False, "note": f"{choice.lora.repo} is not on disk, so the {choice.move} move is only in "
                                     f"the prompt; {fetch}"}}
    return {"move_lora": choice.to_dict() | {"loaded": True, "adapter": name}}
