"""``studio serve``: the browser app (its options are the UI server's own)."""

from __future__ import annotations

import argparse


def register(commands: argparse._SubParsersAction) -> None:
    from studio.ui import server

    parser = commands.add_parser("serve", help="start the browser app on http://127.0.0.1:7860")
    server.add_arguments(parser)
    parser.set_defaults(run=server.run)
