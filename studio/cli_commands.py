"""CLI subcommands whose work lives in the heavier layers: export and serve.

Their arguments are defined next to the code they drive (studio.services.export,
studio.ui.server); this module only registers them, importing those modules on demand.
"""

from __future__ import annotations

import argparse


def register_export(commands: argparse._SubParsersAction) -> None:
    from studio.services import export

    parser = commands.add_parser("export", help="export the timeline: mp4, preview, otio, edl, fcpxml, pdf, csv, contact")
    export.add_arguments(parser)
    parser.set_defaults(run=export.run_export)


def register_serve(commands: argparse._SubParsersAction) -> None:
    from studio.ui import server

    parser = commands.add_parser("serve", help="start the browser app on http://127.0.0.1:7860")
    server.add_arguments(parser)
    parser.set_defaults(run=server.run)
