"""Previz Studio in the browser: `python app.py [--project DIR] [--port N] ...` (see --help)."""

from studio.ui.server import serve

if __name__ == "__main__":
    raise SystemExit(serve())
