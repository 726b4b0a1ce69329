"""LoRAs on a loaded Diffusers pipeline: loaded by name, weighted with ``set_adapters``, and
unloaded as soon as a job no longer asks for them.

A LoRA is a local ``.safetensors`` file, a local folder, or a hub id already in the Hugging Face
cache (looked up offline, like model weights). One that does not fit the model (its weights name
layers the model lacks, or have other shapes) is refused with a message naming both, and the
pipeline is left with no LoRA rather than half of one.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from studio.common import shown

WEIGHT_RANGE = (-4.0, 4.0)


class LoraError(ValueError):
    """A LoRA cannot be used with this model; the message names the LoRA and the model."""


@dataclass(frozen=True)
class LoraRequest:
    """One LoRA a job wants: where it is and how strongly it applies."""

    source: str
    weight: float = 1.0

    def __post_init__(self) -> None:
        if not isinstance(self.source, str) or not self.source.strip():
            raise LoraError(f"a LoRA needs a file, folder or hub id, got {shown(self.source)}")
        if isinstance(self.weight, bool) or not isinstance(self.weight, (int, float)) \
                or not (math.isfinite(self.weight) and WEIGHT_RANGE[0] <= self.weight <= WEIGHT_RANGE[1]):
            raise LoraError(f"LoRA {shown(self.source)}: weight must be a number from {WEIGHT_RANGE[0]:g} to "
                            f"{WEIGHT_RANGE[1]:g}, got {shown(self.weight)}")
        object.__setattr__(self, "weight", float(self.weight))

    @property
    def adapter_name(self) -> str:
        """A name peft accepts (letters, digits, underscores), stable for the same source."""
        stem = Path(self.source).stem if "/" in self.source or "." in self.source else self.source
        return "lora_" + re.sub(r"[^A-Za-z0-9_]", "_", stem)[-48:]

    def record(self) -> dict[str, Any]:
        return {"source": self.source, "weight": self.weight}


def apply_loras(pipe: Any, wanted: tuple[LoraRequest, ...], loaded: tuple[LoraRequest, ...], model: str,
                cache_dir: str | Path | None = None,
                keep: tuple[tuple[str, float], ...] = ()) -> tuple[LoraRequest, ...]:
    """Make ``pipe`` carry exactly ``wanted`` (returns what it now carries), active together with
    ``keep``, (adapter, weight) pairs the backend loaded itself (a camera-move LoRA). LoRAs
    already loaded only get their weights set; any others are unloaded first."""
    if [w.source for w in wanted] == [w.source for w in loaded]:
        activate(pipe, tuple((w.adapter_name, w.weight) for w in wanted) + keep)
        return wanted
    if loaded:
        _unload_quietly(pipe, loaded)
    if not wanted:
        activate(pipe, keep)
        return ()
    if not hasattr(pipe, "load_lora_weights"):
        raise LoraError(f"{model} ({type(pipe).__name__}) takes no LoRA; remove the LoRAs or pick another model")
    names = [w.adapter_name for w in wanted]
    if len(set(names)) != len(names):
        raise LoraError(f"two LoRAs share the name {names}: give each a different file")
    for lora in wanted:
        try:
            _load_one(pipe, lora, cache_dir)
        except LoraError:
            _unload_quietly(pipe, wanted)
            raise
        except (ValueError, RuntimeError, KeyError, TypeError, OSError) as error:
            _unload_quietly(pipe, wanted)
            first_line = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
            raise LoraError(f"LoRA {lora.source!r} does not fit model {model}: {first_line[:300]}") from None
        if not any(lora.adapter_name in adapters for adapters in pipe.get_list_adapters().values()):
            _unload_quietly(pipe, wanted)
            raise LoraError(f"LoRA {lora.source!r} does not fit model {model}: none of its weights name a "
                            "layer of this model (it was made for another model)")
    activate(pipe, tuple((w.adapter_name, w.weight) for w in wanted) + keep)
    return wanted


def activate(pipe: Any, adapters: tuple[tuple[str, float], ...]) -> None:
    """Exactly ``adapters`` active at their weights, in one ``set_adapters`` call (two calls, one
    for the user's LoRAs and one for a camera-move LoRA, would each switch the other's off); no
    adapter at all: every loaded one off."""
    if adapters:
        pipe.enable_lora()
        pipe.set_adapters([name for name, _ in adapters], adapter_weights=[weight for _, weight in adapters])
    elif hasattr(pipe, "get_list_adapters") and any(pipe.get_list_adapters().values()):
        pipe.disable_lora()


def _load_one(pipe: Any, lora: LoraRequest, cache_dir: str | Path | None) -> None:
    path = Path(lora.source).expanduser()
    if path.is_file():
        pipe.load_lora_weights(str(path.parent), weight_name=path.name, adapter_name=lora.adapter_name)
        return
    if path.is_dir():
        pipe.load_lora_weights(str(path), adapter_name=lora.adapter_name)
        return
    if lora.source.startswith(("/", ".", "~")) or lora.source.count("/") != 1:
        raise LoraError(f"LoRA {shown(lora.source)} is not a file, a folder or a hub id (org/name)")
    try:
        pipe.load_lora_weights(lora.source, adapter_name=lora.adapter_name, local_files_only=True, cache_dir=cache_dir)
    except (OSError, EnvironmentError) as error:
        raise LoraError(f"LoRA {shown(lora.source)} is not on this machine ({error}); download it first with "
                        f"`hf download {lora.source}`") from None


def _unload_quietly(pipe: Any, loras: tuple[LoraRequest, ...]) -> None:
    """Delete these LoRAs' adapters (only ours: a backend's own LoRA, such as a camera-move one,
    stays loaded)."""
    present = {name for names in pipe.get_list_adapters().values() for name in names}
    mine = [lora.adapter_name for lora in loras if lora.adapter_name in present]
    if mine:
        pipe.delete_adapters(mine)


def lora_requests(items: Any) -> tuple[LoraRequest, ...]:
    """LoRAs from plain data ([{"source", "weight"}, ...] or board Lora values)."""
    out = []
    for item in items or ():
        if isinstance(item, LoraRequest):
            out.append(item)
        elif isinstance(item, dict):
            out.append(LoraRequest(item.get("source", ""), item.get("weight", 1.0)))
        else:
            out.append(LoraRequest(getattr(item, "source", ""), getattr(item, "weight", 1.0)))
    return tuple(out)
