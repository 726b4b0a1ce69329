"""``studio render``: shots into takes, through the render service."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from studio.cli import farm
from studio.cli.errors import CommandError
from studio.storage import Project


def register(commands: argparse._SubParsersAction) -> None:
    render = commands.add_parser("render", help="render shots into takes")
    render.add_argument("dir", type=Path)
    render.add_argument("--shot", action="append", dest="shots", metavar="ID", help="only this shot (repeatable)")
    render.add_argument("--all", action="store_true", help="also re-render shots that already have a take")
    render.add_argument("--backend", default=None, help="override the board's backend (e.g. animatic)")
    render.add_argument("--model", default=None, help="model id or folder for diffusion backends")
    render.add_argument("--device", default=None, help="cuda, mps or cpu (default: automatic)")
    render.add_argument("--memory-profile", default=None,
                        help="diffusion memory profile: none, vae_tiling, quantized, model_offload, group_offload")
    render.add_argument("--quality", choices=("draft", "final"), default=None,
                        help="draft: distilled model or fewer steps, smaller; final: full settings, and a shot "
                             "whose chosen take is a draft is re-rendered with its seed and conditioning "
                             "(default: each shot's, then the board's)")
    render.add_argument("--seed", type=int, default=None, help="seed for this render (default: the shot's)")
    render.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="backend option for this render, e.g. steps=30, strength=0.6, fit=letterbox")
    render.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                        help="backend setting, e.g. first_block_cache=0.05, compile=true, dtype=bfloat16")
    farm.add_arguments(render)
    render.set_defaults(run=cmd_render)


def cmd_render(args: argparse.Namespace) -> int:
    from studio.backends import BackendCache
    from studio.backends.base import GenerationError
    from studio.media import MediaError
    from studio.services.render import render_board, render_shot

    project = Project.open(args.dir)
    options = parse_options(args.option)
    settings = parse_options(args.setting) | {
        key: value for key, value in (("model", args.model), ("device", args.device),
                                      ("memory_profile", args.memory_profile)) if value
    }
    if args.cluster:
        return farm.cmd_render_farm(args, settings, options)
    cancel = threading.Event()
    last_line = [""]

    def show(done: int, total: int, message: str) -> None:
        line = f"\r[{100 * done // max(total, 1):3d}%] {message}"
        if line != last_line[0]:
            print(line.ljust(80), end="", file=sys.stderr, flush=True)
            last_line[0] = line

    backends = BackendCache()
    try:
        if args.seed is not None and not args.shots:
            raise CommandError("--seed applies to one shot: give --shot ID too")
        if args.seed is not None:
            takes = [render_shot(project, shot_id, backend=args.backend, settings=settings, options=options,
                                 seed=args.seed, progress=show, cancel=cancel, backends=backends,
                                 quality=args.quality)
                     for shot_id in args.shots]
        else:
            takes = render_board(project, shot_ids=args.shots, only_missing=not args.all and not args.shots,
                                 backend=args.backend, settings=settings, options=options, progress=show,
                                 cancel=cancel, backends=backends, quality=args.quality)
    except (GenerationError, MediaError, OSError) as error:
        print(file=sys.stderr)
        raise CommandError(str(error)) from None
    print(file=sys.stderr)
    if not takes:
        print("nothing to render: every shot has a chosen take (use --all or --shot ID to re-render)")
    for take in takes:
        print(f"{take.path}  seed {take.seed}  {take.frames} frames  ({take.backend}, {take.quality})")
    return 0


def parse_options(pairs: list[str]) -> dict[str, object]:
    """KEY=VALUE strings -> dict, numbers and booleans parsed."""
    options: dict[str, object] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise CommandError(f"expected KEY=VALUE, got {pair!r}")
        options[key] = parse_scalar(value)
    return options


def parse_scalar(value: str) -> object:
    if value.lower() in ("true", "false"):
        return value.lower() == "true"
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value
