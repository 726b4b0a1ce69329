"""``studio export``: the timeline in any registered format, through the export service.

The parser lists the formats from the exporter registry (cheap: exporters import their heavy
libraries only when they write); the service itself is imported when the command runs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from studio.cli.errors import CommandError
from studio.common import FIT_MODES
from studio.exporters import pdf, registry
from studio.storage import Project
from studio.timeline import BURN_INS


def register(commands: argparse._SubParsersAction) -> None:
    formats = tuple(registry())
    parser = commands.add_parser("export", help=f"export the timeline: {', '.join(formats)}")
    parser.add_argument("dir", type=Path, help="project folder")
    parser.add_argument("--format", required=True, choices=formats, help="what to export")
    parser.add_argument("--out", type=Path, default=None, help="output file (default: DIR/exports/<name>)")
    parser.add_argument("--use-slates", action="store_true",
                        help="show a slate for a missing or corrupt take instead of failing")
    parser.add_argument("--burn-ins", default="", metavar="LIST",
                        help=f"comma-separated burn-ins: {','.join(BURN_INS)} or 'all'")
    parser.add_argument("--per-page", type=int, default=4, choices=sorted(pdf.LAYOUTS), help="PDF panels per page")
    parser.add_argument("--fit", default="cover", choices=FIT_MODES, help="conform takes of another size")
    parser.add_argument("--watermark", default=None, help="watermark text (default: title and date)")
    parser.add_argument("--no-audio", action="store_true",
                        help="leave the scratch track out (MP4 sound, the audio track of edit exports)")
    parser.set_defaults(run=cmd_export)


def cmd_export(args: argparse.Namespace) -> int:
    """`studio export`: prints the written path; errors reach cli.main as CommandError (exit 1)."""
    from studio.services.export import ExportError, ExportOptions, export_board

    text = args.burn_ins.strip()
    burn_ins = set(BURN_INS) if text == "all" else {item.strip() for item in text.split(",") if item.strip()}
    try:
        options = ExportOptions(burn_ins=frozenset(burn_ins), use_slates=args.use_slates,
                                per_page=args.per_page, fit=args.fit, watermark=args.watermark,
                                include_audio=not args.no_audio)
        project = Project.open(args.dir)

        def show(done: int, total: int, message: str) -> None:
            print(f"\r{message} ({done}/{total})".ljust(60), end="", file=sys.stderr, flush=True)

        def warn(message: str) -> None:
            print(f"\rwarning: {message}".ljust(60), file=sys.stderr, flush=True)

        path = export_board(project, args.format, args.out, options, progress=show, warn=warn)
    except ExportError as error:
        print(file=sys.stderr)
        raise CommandError(str(error)) from None
    print(file=sys.stderr)
    print(path)
    return 0
