"""``studio``: the same services as the browser app, from the shell.

    studio new DIR [--title T] [--fps 24] [--size 832x480] [--from-sample]
    studio info DIR
    studio validate DIR
    studio recover DIR
    studio pack DIR ARCHIVE.zip / studio unpack ARCHIVE.zip DIR
    studio render DIR [--shot ID ...] [--all] [--backend NAME] [--model ID] [--seed N] [--option K=V]
    studio models list | download ID
    studio export DIR --format FMT [--out FILE] [...]
    studio import-script DIR FILE [--granularity scene|action|exchange] [--cap N] [--dry-run]
    studio import-edit DIR FILE.otio|.xml|.edl [--dry-run]
    studio panel DIR SHOT FILE [--role first|mid|last] / studio panel DIR SHOT --export FILE.ora|.psd
    studio keyframe DIR --shot ID [--n 4] [--model ID] [--from panel|upload] / --list / --pick VARIATION
    studio serve [--project DIR] [--port N] [...]

One module per command group (project, render, export, models, serve), each with a
``register(commands)`` that adds its parser. Building the parser imports nothing heavy: each
command imports what it drives when it runs, so ``studio info`` and ``studio --help`` start fast.

Exit status: 0 success, 1 the work failed (message on stderr), 2 bad usage.
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from studio.board import BoardError
from studio.cli import export, keyframe, models, panel, project, recut, render, script, serve
from studio.cli.errors import CommandError
from studio.storage import ProjectError

GROUPS = (project, render, keyframe, models, export, script, recut, panel, serve)


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
    for group in GROUPS:
        group.register(commands)
    return parser


__all__ = ["CommandError", "build_parser", "main"]
