"""``studio models list`` and ``studio models download ID``: which weights are here, and fetching them.

Listing never touches the network; downloading is the one command that does, and only for the
model named.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TextIO

from studio.cli.errors import CommandError
from studio.image_models import IMAGE_CATALOG, IMAGE_TASKS, download_image_model, is_image_model
from studio.models import TASK_NAMES, Availability, ModelError, download_model, list_models, locate


def register(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="list the diffusion models and download weights")
    actions = models.add_subparsers(title="actions", metavar="ACTION")
    listing = actions.add_parser("list", help="every known model and whether its weights are on disk (offline)")
    listing.add_argument("--cache-dir", default=None, help="Hugging Face cache (default: HF_HOME / ~/.cache/huggingface)")
    listing.add_argument("--models-dir", default=None, help="a folder of Diffusers model folders")
    listing.set_defaults(run=cmd_models_list)
    download = actions.add_parser("download", help="fetch a model's Diffusers weights into the Hugging Face cache")
    download.add_argument("model", metavar="ID", help="catalog key (see `studio models list`) or hub id")
    download.add_argument("--cache-dir", default=None)
    download.set_defaults(run=cmd_models_download)
    models.set_defaults(run=cmd_models_list, cache_dir=None, models_dir=None)


def cmd_models_list(args: argparse.Namespace, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    rows = list_models(cache_dir=args.cache_dir, models_dir=args.models_dir) + image_models(args)
    header = ("model", "backend", "status", "size", "fps", "frames", "memory", "tasks")
    table = [header] + [(
        found.spec.key, found.spec.family,
        "on disk" if found.ready else ("incomplete" if found.path else "missing"),
        f"{found.spec.native_width}x{found.spec.native_height}", str(found.spec.fps), str(found.spec.frames),
        f"{found.spec.memory_gb:g} GB" if found.spec.memory_gb else "?", ", ".join(found.spec.tasks),
    ) for found in rows]
    widths = [max(len(row[i]) for row in table) for i in range(len(header) - 1)]
    for row in table:
        out.write("  ".join(cell.ljust(width) for cell, width in zip(row, widths)) + "  " + row[-1] + "\n")
    out.write("\ntasks: " + "; ".join(f"{key} = {name}" for key, name in {**TASK_NAMES, **IMAGE_TASKS}.items()) + "\n")
    out.write("image models (backend 'image': keyframes; `studio keyframe`): memory for one picture at native size, "
              "fps '-', frames 'still'\n")
    out.write("memory: bf16 weights of every component with no offload (estimated from parameter counts)\n")
    missing = [found for found in rows if not found.ready]
    if missing:
        out.write("\n" + "\n".join(found.explain() for found in missing) + "\n")
    return 0


def image_models(args: argparse.Namespace) -> list[Availability]:
    """The image catalog, found on disk the same way as the video models (offline)."""
    return [locate(spec, args.cache_dir, args.models_dir) for spec in IMAGE_CATALOG.values()]  # type: ignore[arg-type]


def cmd_models_download(args: argparse.Namespace, err: TextIO | None = None) -> int:
    bar = ProgressBar(err or sys.stderr)
    fetch = download_image_model if is_image_model(args.model) else download_model
    try:
        folder = fetch(args.model, progress=bar, cache_dir=args.cache_dir)
    except ModelError as error:
        raise CommandError(str(error)) from None
    bar.finish()
    print(f"{args.model}: ready at {folder}")
    return 0


class ProgressBar:
    """A one-line text progress bar (bytes), redrawn at most ten times a second."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self.shown_at = 0.0

    def __call__(self, done: int, total: int, message: str) -> None:
        now = time.monotonic()
        if now - self.shown_at < 0.1 and done < total:
            return
        self.shown_at = now
        fraction = done / total if total else 0.0
        filled = int(fraction * self.width)
        self.stream.write(f"\r{message} [{'#' * filled}{'.' * (self.width - filled)}] {fraction:6.1%} "
                          f"{done / 1e9:.2f}/{total / 1e9:.2f} GB")
        self.stream.flush()

    def finish(self) -> None:
        self.stream.write("\n")
