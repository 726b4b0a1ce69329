"""``studio keyframe``: keyframe variations of a shot from its card or its sketch, listed, picked.

    studio keyframe DIR --shot ID --n 4 [--model sana-sprint-0.6b] [--seed N] [--from panel|upload FILE]
    studio keyframe DIR --shot ID --list
    studio keyframe DIR --shot ID --pick VARIATION [--role first|mid|last] [--frame N]
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path

from studio.cli.errors import CommandError
from studio.storage import Project


def register(commands: argparse._SubParsersAction) -> None:
    keyframe = commands.add_parser("keyframe", help="make keyframe variations of a shot with an image model, or pick one")
    keyframe.add_argument("dir", type=Path)
    keyframe.add_argument("--shot", required=True, metavar="ID")
    keyframe.add_argument("--n", type=int, default=4, help="how many variations (seeds base, base+1, ...)")
    keyframe.add_argument("--model", default=None,
                          help="image model: catalog key (studio models list), hub id or folder (default: "
                               "sana-sprint-0.6b; an edit model when the shot's cast has reference pictures)")
    keyframe.add_argument("--seed", type=int, default=None, help="base seed (default: the shot's, if locked)")
    keyframe.add_argument("--from", dest="source", choices=("text", "panel", "upload"), default="text",
                          help="start from the card's words, the shot's drawn panel, or --rough FILE")
    keyframe.add_argument("--rough", type=Path, default=None, help="a rough sketch to start from (with --from upload)")
    keyframe.add_argument("--strength", type=float, default=0.6,
                          help="how far from the sketch the picture may go: 0 keeps it, 1 ignores it")
    keyframe.add_argument("--controlnet", default=None, metavar="auto|FOLDER|HUB_ID",
                          help="follow the sketch's lines with a ControlNet (auto: the model's scribble ControlNet)")
    keyframe.add_argument("--no-references", action="store_true", help="leave the cast's reference pictures out")
    keyframe.add_argument("--steps", type=int, default=None)
    keyframe.add_argument("--device", default=None)
    keyframe.add_argument("--memory-profile", default=None)
    keyframe.add_argument("--list", action="store_true", help="list the shot's kept variations")
    keyframe.add_argument("--pick", metavar="VARIATION", default=None, help="make this variation a keyframe")
    keyframe.add_argument("--role", choices=("first", "mid", "last"), default="first")
    keyframe.add_argument("--frame", type=int, default=0, help="frame of a mid keyframe")
    keyframe.set_defaults(run=cmd_keyframe)


def cmd_keyframe(args: argparse.Namespace) -> int:
    from studio.backends.base import GenerationError
    from studio.services import keyframes
    from studio.services.fields import FieldError

    project = Project.open(args.dir)
    try:
        if args.list:
            for variation in keyframes.list_variations(project, args.shot):
                made = variation.record
                print(f"{variation.id}  seed {variation.seed}  {made.get('model')}  {made.get('source')}  "
                      f"{made.get('created')}  {variation.path}")
            return 0
        if args.pick:
            keyframes.pick_variation(project, args.shot, args.pick, args.role, args.frame, actor="cli")
            print(f"{args.pick} is now the {args.role} keyframe of shot {args.shot}")
            return 0
        rough = None
        if args.source == "upload":
            if args.rough is None:
                raise CommandError("--from upload needs --rough FILE")
            rough = args.rough.read_bytes()
        options = {"steps": args.steps} if args.steps else {}
        settings = {key: value for key, value in (("device", args.device), ("memory_profile", args.memory_profile))
                    if value}
        batch = keyframes.generate_keyframes(
            project, args.shot, count=args.n, model=args.model, seed=args.seed, source=args.source, rough=rough,
            strength=args.strength, control=args.controlnet, references=not args.no_references, options=options, settings=settings,
            progress=_show, cancel=threading.Event())
    except (GenerationError, FieldError, OSError) as error:
        print(file=sys.stderr)
        raise CommandError(str(error)) from None
    print(file=sys.stderr)
    for variation in batch.variations:
        print(f"{variation.id}  seed {variation.seed}  {variation.path}")
    print(f"pick one: studio keyframe {args.dir} --shot {args.shot} --pick {batch.variations[0].id} --role first")
    return 0


def _show(done: int, total: int, message: str) -> None:
    print(f"\r[{100 * done // max(total, 1):3d}%] {message}".ljust(80), end="", file=sys.stderr, flush=True)
