"""CLI subcommands whose work lives in the heavier layers: export and serve.

Registered by cli.py; the modules they drive are imported only when the parser is built, so
`studio info` and friends stay light enough, and the services never parse command lines.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def register_export(commands: argparse._SubParsersAction) -> None:
    from studio.exporters import pdf
    from studio.services.export import EXPORT_FORMATS
    from studio.timeline import BURN_INS, FIT_MODES

    parser = commands.add_parser("export", help="export the timeline: mp4, preview, otio, edl, fcpxml, pdf, csv, contact")
    parser.add_argument("dir", type=Path, help="project folder")
    parser.add_argument("--format", required=True, choices=tuple(EXPORT_FORMATS), help="what to export")
    parser.add_argument("--out", type=Path, default=None, help="output file (default: DIR/exports/<name>)")
    parser.add_argument("--use-slates", action="store_true",
                        help="show a slate for a missing or corrupt take instead of failing")
    parser.add_argument("--burn-ins", default="", metavar="LIST",
                        help=f"comma-separated burn-ins: {','.join(BURN_INS)} or 'all'")
    parser.add_argument("--per-page", type=int, default=4, choices=sorted(pdf.LAYOUTS), help="PDF panels per page")
    parser.add_argument("--fit", default="cover", choices=FIT_MODES, help="conform takes of another size")
    parser.add_argument("--watermark", default=None, help="watermark text (default: title and date)")
    parser.set_defaults(run=run_export)


def run_export(args: argparse.Namespace) -> int:
    """`studio export`: prints the written path; errors reach cli.main as CommandError (exit 1)."""
    from studio.cli import CommandError
    from studio.services.export import ExportError, ExportOptions, export_board
    from studio.storage import Project
    from studio.timeline import BURN_INS

    text = args.burn_ins.strip()
    burn_ins = set(BURN_INS) if text == "all" else {item.strip() for item in text.split(",") if item.strip()}
    try:
        options = ExportOptions(burn_ins=frozenset(burn_ins), use_slates=args.use_slates,
                                per_page=args.per_page, fit=args.fit, watermark=args.watermark)
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


def register_serve(commands: argparse._SubParsersAction) -> None:
    from studio.ui import server

    parser = commands.add_parser("serve", help="start the browser app on http://127.0.0.1:7860")
    server.add_arguments(parser)
    parser.set_defaults(run=server.run)
