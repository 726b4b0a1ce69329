"""CLI subcommands whose work lives in the heavier layers (export, serve, models).

Kept apart from cli.py so `studio info` never imports the exporters, the UI or diffusers.
"""

from __future__ import annotations

import argparse


def register_export(commands: argparse._SubParsersAction) -> None:
    export = commands.add_parser("export", help="export the timeline (mp4, otio, edl, pdf...)")
    export.add_argument("dir")
    export.add_argument("--format", required=True)
    export.add_argument("--out", default=None)
    export.set_defaults(run=_not_yet("export"))


def register_serve(commands: argparse._SubParsersAction) -> None:
    serve = commands.add_parser("serve", help="start the browser app")
    serve.set_defaults(run=_not_yet("serve"))


def register_models(commands: argparse._SubParsersAction) -> None:
    models = commands.add_parser("models", help="list and download diffusion models")
    models.set_defaults(run=_not_yet("models"))


def _not_yet(name: str):
    def run(args: argparse.Namespace) -> int:
        from studio.cli import CommandError

        raise CommandError(f"`studio {name}` is not available in this build yet")

    return run
