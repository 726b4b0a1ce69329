"""``studio import-edit``: read back a cut an editor changed (OTIO, FCP7 XML or EDL).

    studio import-edit DIR FILE [--dry-run]

Prints the list of changes (trims, order, removed shots, transitions) and the clips that match
no shot; without ``--dry-run`` the changes are then applied as one undoable edit.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from studio.cli.errors import CommandError
from studio.storage import Project


def register(commands: argparse._SubParsersAction) -> None:
    parser = commands.add_parser("import-edit", help="apply a re-cut from an editor (.otio, .xml, .edl) to the board")
    parser.add_argument("dir", type=Path, help="project folder")
    parser.add_argument("file", type=Path, help="the edit: .otio (OpenTimelineIO), .xml (FCP7 XML) or .edl (CMX 3600)")
    parser.add_argument("--dry-run", action="store_true", help="print the changes and change nothing")
    parser.set_defaults(run=cmd_import_edit)


def cmd_import_edit(args: argparse.Namespace) -> int:
    from studio.services.edits import EditConflict
    from studio.services.fields import FieldError
    from studio.services.recut import MAX_EDIT_BYTES, RecutError, import_edit

    project = Project.open(args.dir)
    if not args.file.is_file():
        raise CommandError(f"{args.file}: no such file")
    if args.file.stat().st_size > MAX_EDIT_BYTES:
        raise CommandError(f"{args.file}: larger than {MAX_EDIT_BYTES // 2**20} MB; not a timeline of a board")
    try:
        result = import_edit(project, args.file.read_bytes(), args.file.name, actor="cli", dry_run=args.dry_run)
    except (RecutError, FieldError, EditConflict) as error:
        raise CommandError(f"{args.file}: {error}; the board is unchanged") from None
    print("\n".join(result.plan.lines()))
    if result.board is None:
        print("dry run: nothing was written")
    else:
        print(f"applied to {args.dir} (revision {result.board.revision}); undo reverts it in one step")
    return 0
