"""Project commands: ``studio new``, ``info``, ``validate``, ``recover``, ``pack``, ``unpack``."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.board import Board, FrameRate
from studio.cli.errors import CommandError
from studio.storage import Project, ProjectError

SAMPLE_BOARD = Path(__file__).resolve().parent.parent.parent / "assets" / "sample-board"


def register(commands: argparse._SubParsersAction) -> None:
    new = commands.add_parser("new", help="create a project folder")
    new.add_argument("dir", type=Path)
    new.add_argument("--title", default=None)
    new.add_argument("--fps", default="24", help="frame rate: 24, 25, 30000/1001 ...")
    new.add_argument("--size", default="832x480", help="WIDTHxHEIGHT (even numbers)")
    new.add_argument("--from-sample", action="store_true", help="start from a copy of the sample board")
    new.set_defaults(run=cmd_new)

    for name, run, help in (
        ("info", cmd_info, "shots, durations and running time"),
        ("validate", cmd_validate, "check board.json and every file it names"),
        ("recover", cmd_recover, "restore the newest loadable backup of board.json"),
    ):
        command = commands.add_parser(name, help=help)
        command.add_argument("dir", type=Path)
        command.set_defaults(run=run)

    pack = commands.add_parser("pack", help="write the project to one .zip file to share or keep")
    pack.add_argument("dir", type=Path)
    pack.add_argument("archive", type=Path)
    pack.add_argument("--with-exports", action="store_true", help="include the exports folder")
    pack.set_defaults(run=cmd_pack)

    unpack = commands.add_parser("unpack", help="unpack a project .zip into a new folder (checked entry by entry)")
    unpack.add_argument("archive", type=Path)
    unpack.add_argument("dir", type=Path)
    unpack.set_defaults(run=cmd_unpack)


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
    from studio.timeline import shot_label

    project = Project.open(args.dir)
    board = project.load()
    problems = []
    for number, shot in enumerate(board.shots, start=1):
        name = shot_label(number, form="message", shot_id=shot.id)
        for keyframe in shot.keyframes:
            if not project.resolve(keyframe.path).is_file():
                problems.append(f"{name}: {keyframe.role} keyframe missing: {keyframe.path}")
        for panel in shot.panels:
            for layer in panel.layers:
                if not project.resolve(layer.path).is_file():
                    problems.append(f"{name}: {panel.role} panel layer {layer.name!r} missing: {layer.path}")
        for take in shot.takes:
            if not project.resolve(take.path).is_file():
                problems.append(f"{name}: take {take.id} missing: {take.path}")
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


def parse_size(text: str) -> tuple[int, int]:
    try:
        width, height = (int(part) for part in text.lower().split("x"))
    except ValueError:
        raise CommandError(f"--size: expected WIDTHxHEIGHT such as 832x480, got {text!r}") from None
    return width, height


def shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"
