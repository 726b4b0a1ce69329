"""``studio``: the same services as the browser app, from the shell.

    studio new DIR [--title T] [--fps 24] [--size 832x480] [--from-sample]
    studio info DIR
    studio validate DIR
    studio recover DIR
    studio pack DIR ARCHIVE.zip / studio unpack ARCHIVE.zip DIR
    studio render DIR [--shot ID ...] [--all] [--backend NAME] [--model ID] [--seed N] [--option K=V]
    studio models list | download ID
    studio export DIR --format FMT [--out FILE] [...]
    studio serve [--project DIR] [--port N] [...]

Exit status: 0 success, 1 the work failed (message on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Callable, Sequence

from studio.board import Board, BoardError, FrameRate
from studio.storage import Project, ProjectError

SAMPLE_BOARD = Path(__file__).resolve().parent.parent / "assets" / "sample-board"


class CommandError(Exception):
    """A command failed in a way the user can fix; printed without a traceback."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if not hasattr(args, "run"):
        parser.print_help()
        return 2
    try:
        return args.run(args)
    except (CommandError, ProjectError, BoardError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="studio", description="Previz Studio: storyboards to previs.")
    commands = parser.add_subparsers(title="commands", metavar="COMMAND")

    new = commands.add_parser("new", help="create a project folder")
    new.add_argument("dir", type=Path)
    new.add_argument("--title", default=None)
    new.add_argument("--fps", default="24", help="frame rate: 24, 25, 30000/1001 ...")
    new.add_argument("--size", default="832x480", help="WIDTHxHEIGHT (even numbers)")
    new.add_argument("--from-sample", action="store_true", help="start from a copy of the sample board")
    new.set_defaults(run=cmd_new)

    info = commands.add_parser("info", help="shots, durations and running time")
    info.add_argument("dir", type=Path)
    info.set_defaults(run=cmd_info)

    validate = commands.add_parser("validate", help="check board.json and every file it names")
    validate.add_argument("dir", type=Path)
    validate.set_defaults(run=cmd_validate)

    recover = commands.add_parser("recover", help="restore the newest loadable backup of board.json")
    recover.add_argument("dir", type=Path)
    recover.set_defaults(run=cmd_recover)

    pack = commands.add_parser("pack", help="write the project to one .zip file to share or keep")
    pack.add_argument("dir", type=Path)
    pack.add_argument("archive", type=Path)
    pack.add_argument("--with-exports", action="store_true", help="include the exports folder")
    pack.set_defaults(run=cmd_pack)

    unpack = commands.add_parser("unpack", help="unpack a project .zip into a new folder (checked entry by entry)")
    unpack.add_argument("archive", type=Path)
    unpack.add_argument("dir", type=Path)
    unpack.set_defaults(run=cmd_unpack)

    render = commands.add_parser("render", help="render shots into takes")
    render.add_argument("dir", type=Path)
    render.add_argument("--shot", action="append", dest="shots", metavar="ID", help="only this shot (repeatable)")
    render.add_argument("--all", action="store_true", help="also re-render shots that already have a take")
    render.add_argument("--backend", default=None, help="override the board's backend (e.g. animatic)")
    render.add_argument("--model", default=None, help="model id or folder for diffusion backends")
    render.add_argument("--device", default=None, help="cuda, mps or cpu (default: automatic)")
    render.add_argument("--memory-profile", default=None,
                        help="diffusion memory profile: none, vae_tiling, model_offload, group_offload")
    render.add_argument("--seed", type=int, default=None, help="seed for this render (default: the shot's)")
    render.add_argument("--option", action="append", default=[], metavar="KEY=VALUE",
                        help="backend option for this render, e.g. steps=30, strength=0.6, fit=letterbox")
    render.add_argument("--setting", action="append", default=[], metavar="KEY=VALUE",
                        help="backend setting, e.g. first_block_cache=0.05, compile=true, dtype=bfloat16")
    render.set_defaults(run=cmd_render)

    for register in optional_commands():
        register(commands)
    return parser


def optional_commands() -> list[Callable[[argparse._SubParsersAction], None]]:
    """Subcommands that live beside their services (export, serve, models)."""
    from studio.cli_commands import register_export, register_serve
    from studio.cli_models import register_models

    return [register_export, register_serve, register_models]


# --------------------------------------------------------------------------------------------


def cmd_new(args: argparse.Namespace) -> int:
    if args.from_sample:
        if args.dir.exists() and any(args.dir.iterdir()):
            raise CommandError(f"{args.dir}: already exists and is not empty")
        if not (SAMPLE_BOARD / "board.json").is_file():
            raise CommandError(f"the sample board is missing from {SAMPLE_BOARD}")
        project = Project.open(SAMPLE_BOARD).save_as(args.dir, template=True)
        if args.title:
            project.update(lambda board: board.replace(title=args.title))
    else:
        width, height = parse_size(args.size)
        board = Board(title=args.title or args.dir.name, fps=FrameRate.parse(args.fps), width=width, height=height)
        project = Project.create(args.dir, board)
    print(f"created {project.root}")
    return 0


def cmd_info(args: argparse.Namespace) -> int:
    board = Project.open(args.dir).load()
    fps = board.fps
    print(f"{board.title}")
    print(f"{board.width}x{board.height} at {fps} fps, backend {board.default_backend}"
          + (f" ({board.default_model})" if board.default_model else ""))
    print()
    header = f"{'#':>3}  {'id':<14} {'title':<28} {'frames':>6} {'seconds':>8}  {'camera':<34} {'takes':>5}"
    print(header)
    print("-" * len(header))
    for number, (shot, start) in enumerate(zip(board.shots, board.shot_start_frames()), start=1):
        chosen = "*" if shot.chosen_take else " "
        print(
            f"{number:>3}  {shot.id:<14} {shorten(shot.title or shot.prompt, 28):<28} "
            f"{shot.edit_duration:>6} {fps.frames_to_seconds(shot.edit_duration):>8.2f}  "
            f"{shorten(shot.camera_label(), 34):<34} {len(shot.takes):>4}{chosen}"
        )
    total = board.total_frames
    print("-" * len(header))
    print(f"{len(board.shots)} shots, running time {fps.timecode(total)} "
          f"({total} frames, {fps.frames_to_seconds(total):.2f} s)")
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    project = Project.open(args.dir)
    board = project.load()
    problems = []
    for number, shot in enumerate(board.shots, start=1):
        for keyframe in shot.keyframes:
            if not project.resolve(keyframe.path).is_file():
                problems.append(f"shot {number} ({shot.id}): {keyframe.role} keyframe missing: {keyframe.path}")
        for take in shot.takes:
            if not project.resolve(take.path).is_file():
                problems.append(f"shot {number} ({shot.id}): take {take.id} missing: {take.path}")
    if board.audio is not None and not project.resolve(board.audio.path).is_file():
        problems.append(f"audio track missing: {board.audio.path}")
    for problem in problems:
        print(problem, file=sys.stderr)
    if problems:
        raise CommandError(f"{len(problems)} problem(s) in {project.root}")
    print(f"ok: {len(board.shots)} shots, schema {board.schema_version}, every file present")
    return 0


def cmd_recover(args: argparse.Namespace) -> int:
    project = Project(args.dir)  # not open(): a deleted board.json is what recover is for
    if not project.board_path.exists() and not project.backups():
        raise CommandError(f"{args.dir}: no board.json and no backups: not a Previz Studio project")
    try:
        project.load()
    except ProjectError as error:
        print(f"board.json does not load ({error}); restoring the newest good backup")
        board, backup = project.recover()
        print(f"restored {backup.name}: {len(board.shots)} shots")
        return 0
    print("board.json loads; nothing to recover")
    return 0


def cmd_pack(args: argparse.Namespace) -> int:
    from studio.archive import pack

    print(pack(Project.open(args.dir), args.archive, include_exports=args.with_exports))
    return 0


def cmd_unpack(args: argparse.Namespace) -> int:
    from studio.archive import unpack

    project = unpack(args.archive, args.dir)
    print(f"unpacked {len(project.load().shots)} shots into {project.root}")
    return 0


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
                                 seed=args.seed, progress=show, cancel=cancel, backends=backends)
                     for shot_id in args.shots]
        else:
            takes = render_board(project, shot_ids=args.shots, only_missing=not args.all and not args.shots,
                                 backend=args.backend, settings=settings, options=options, progress=show,
                                 cancel=cancel, backends=backends)
    except (GenerationError, MediaError, OSError) as error:
        print(file=sys.stderr)
        raise CommandError(str(error)) from None
    print(file=sys.stderr)
    if not takes:
        print("nothing to render: every shot has a chosen take (use --all or --shot ID to re-render)")
    for take in takes:
        print(f"{take.path}  seed {take.seed}  {take.frames} frames  ({take.backend})")
    return 0


# --------------------------------------------------------------------------------------------


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise CommandError(f"--size: expected WIDTHxHEIGHT such as 832x480, got {text!r}") from None
    return width, height


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


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


if __name__ == "__main__":
    raise SystemExit(main())
