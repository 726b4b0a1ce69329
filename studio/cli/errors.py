"""The CLI's one error type and how errors reach the shell."""

from __future__ import annotations


class CommandError(Exception):
    """A command failed in a way the user can fix; printed without a traceback (exit status 1)."""
