"""``studio panel``: a drawn panel into a shot, or out of it for a painting program.

    studio panel DIR SHOT FILE [--role first|mid|last] [--frame N] [--no-keyframe]
    studio panel DIR SHOT --export FILE.ora|FILE.psd [--role ...] [--frame N]

FILE is an OpenRaster (.ora: Krita, GIMP, MyPaint), a layered Photoshop file (.psd) or a flat
image; its layers and names are kept, and the flattened panel becomes the shot's keyframe of that
role (unless --no-keyframe). The import is one undoable edit.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from studio.cli.errors import CommandError
from studio.storage import Project

ROLES = ("first", "mid", "last")
"""Kept equal to board.KEYFRAME_ROLES (the board is imported only when the command runs)."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("panel", help="import a layered panel (.ora, .psd or an image) into a shot, or export one")
    parser.add_argument("dir", type=Path, help="project folder")
    parser.add_argument("shot", help="shot id")
    parser.add_argument("file", type=Path, nargs="?", help="the .ora, .psd or image file to import")
    parser.add_argument("--export", type=Path, metavar="FILE", help="write the shot's panel to FILE (.ora or .psd)")
    parser.add_argument("--role", choices=ROLES, default="first", help="which keyframe the panel is (default first)")
    parser.add_argument("--frame", type=int, default=0, help="the frame of a mid panel")
    parser.add_argument("--no-keyframe", action="store_true", help="keep the shot's keyframe as it is")
    parser.set_defaults(run=cmd_panel)


def cmd_panel(args: argparse.Namespace) -> int:
    from studio.board import BoardError
    from studio.common import write_atomic
    from studio.services.fields import FieldError
    from studio.services.panels import FORMATS, export_panel, import_file

    if (args.file is None) == (args.export is None):
        raise CommandError("give a FILE to import, or --export FILE (not both)")
    project = Project.open(args.dir)
    try:
        if args.export is not None:
            fmt = args.export.suffix.lower().lstrip(".")
            if fmt not in FORMATS:
                raise CommandError(f"{args.export}: export to .ora or .psd")
            write_atomic(args.export, export_panel(project, args.shot, fmt, args.role, args.frame))
            print(f"wrote {args.export}")
            return 0
        if not args.file.is_file():
            raise CommandError(f"{args.file}: no such file")
        board = import_file(project, args.shot, args.file.read_bytes(), args.file.name, args.role, args.frame,
                            keyframe=not args.no_keyframe, actor="cli")
    except (FieldError, BoardError) as error:
        raise CommandError(str(error)) from None
    panel = board.shot(args.shot).panel(args.role, args.frame)
    assert panel is not None
    names = ", ".join(f"{layer.name} (depth {layer.depth:g})" for layer in panel.layers)
    print(f"{args.shot}: {args.role} panel of {len(panel.layers)} layer(s): {names}")
    return 0
