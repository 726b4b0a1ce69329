"""``studio import-script``: a Fountain or Final Draft screenplay into scenes, cast and shot cards.

    studio import-script DIR FILE [--granularity scene|action|exchange] [--cap N] [--dry-run]

Prints the preview (scenes, shots per scene, new cast, warnings); without ``--dry-run`` the
import is then applied as one undoable edit. A file that cannot be read is reported with its
line, and the board is left as it was.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from studio.cli.errors import CommandError
from studio.storage import Project

GRANULARITIES = ("scene", "action", "exchange")
"""Kept equal to services.script_import.GRANULARITIES (imported only when the command runs)."""


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("import-script", help="import a screenplay (.fountain or .fdx) as scenes and shots")
    parser.add_argument("dir", type=Path, help="project folder")
    parser.add_argument("file", type=Path, help="screenplay: .fountain, .spmd, .txt (Fountain) or .fdx (Final Draft)")
    parser.add_argument("--granularity", choices=GRANULARITIES, default="action",
                        help="one card per scene, per action paragraph, or per dialogue exchange (default: action)")
    parser.add_argument("--cap", type=int, default=12, help="at most this many cards per scene (default 12)")
    parser.add_argument("--min-seconds", type=float, default=2.0, help="shortest card, in seconds (default 2)")
    parser.add_argument("--dry-run", action="store_true", help="print the preview and change nothing")
    parser.set_defaults(run=cmd_import_script)


def cmd_import_script(args: argparse.Namespace) -> int:
    from studio.screenplay import MAX_SCRIPT_BYTES, ScriptError
    from studio.services.fields import FieldError
    from studio.services.script_import import ImportOptions, import_script

    try:
        options = ImportOptions(granularity=args.granularity, cap=args.cap, min_seconds=args.min_seconds)
        project = Project.open(args.dir)
        if not args.file.is_file():
            raise CommandError(f"{args.file}: no such file")
        if args.file.stat().st_size > MAX_SCRIPT_BYTES:
            raise CommandError(f"{args.file}: larger than {MAX_SCRIPT_BYTES // 2**20} MB; not a screenplay")
        result = import_script(project, args.file.read_bytes(), args.file.name, options, actor="cli",
                               dry_run=args.dry_run)
    except ScriptError as error:
        raise CommandError(f"{args.file}: {error}; nothing was imported") from None
    except FieldError as error:
        raise CommandError(str(error)) from None
    plan = result.plan
    print(f"{plan.title or args.file.name} ({plan.format}): {plan.summary()}")
    print(f"{'scene':>6}  {'heading':<40} {'shots':>5}  characters")
    for number, heading, shots, characters, _line in plan.rows():
        print(f"{number:>6}  {heading[:40]:<40} {shots:>5}  {characters}")
    for warning in plan.warnings:
        print(f"warning: {warning}")
    if result.board is None:
        print("dry run: nothing was written")
    else:
        print(f"imported into {args.dir} (revision {result.board.revision}); undo reverts it in one step")
    return 0
