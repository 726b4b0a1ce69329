"""Published Gradio security advisories and the first release that fixes each.

Why a table here: this suite runs on machines that can reach the package registries but not
pip-audit's vulnerability services (PyPI's per-release JSON API answers 404 through the mirror,
api.osv.dev does not resolve), so an online audit cannot be the gate. This table can, offline.
Add a row when an advisory is published (https://github.com/gradio-app/gradio/security/advisories);
``audit_deps.py`` runs pip-audit as a report wherever its service is reachable.
"""

from __future__ import annotations

GRADIO_ADVISORIES: tuple[tuple[str, str, str], ...] = (
    ("CVE-2023-51449", "4.11.0", "path traversal through the /file route"),
    ("CVE-2024-1561", "4.13.0", "arbitrary file read through /component_server"),
    ("CVE-2023-6572", "4.14.0", "exposure of sensitive information"),
    ("CVE-2024-1727", "4.19.2", "CSRF: a page on another site could drive a local app"),
    ("CVE-2024-1728", "4.19.2", "local file inclusion through UploadButton"),
    ("CVE-2024-47164", "5.0.0", "is_in_or_equal directory traversal bypass"),
    ("CVE-2024-47166", "5.0.0", "one-level read path traversal in /custom_component"),
    ("CVE-2024-47167", "5.0.0", "SSRF through /queue/join"),
    ("CVE-2024-47168", "5.0.0", "enable_monitoring flag not honoured (data exposure)"),
    ("CVE-2024-47867", "5.0.0", "missing integrity check of the share (FRP) client"),
    ("CVE-2024-47868", "5.0.0", "file traversal through postprocess of several components"),
    ("CVE-2024-47869", "5.0.0", "timing attack on the analytics hash"),
    ("CVE-2024-47870", "5.0.0", "race condition in update_root_in_config"),
    ("CVE-2024-47871", "5.0.0", "insecure communication between share client and server"),
    ("CVE-2025-23042", "5.11.0", "blocked_paths ACL bypass by changing letter case"),
    ("CVE-2025-48889", "5.31.0", "arbitrary file copy through the flagging method"),
    ("CVE-2026-27167", "6.6.0", "fixed in 6.6.0 (GHSA/PYSEC advisory)"),
    ("CVE-2026-28415", "6.6.0", "fixed in 6.6.0 (GHSA/PYSEC advisory)"),
    ("CVE-2026-28416", "6.6.0", "fixed in 6.6.0 (GHSA/PYSEC advisory)"),
    ("CVE-2026-28414", "6.7.0", "absolute path traversal on Windows with Python 3.13+ (GHSA-39mp-8hj3-5c49)"),
    ("CVE-2026-48545", "6.15.0", "cookie injection through the shared proxy client"),
    ("GHSA-j36p-7w88-g82j", "6.16.0", "path traversal in FileExplorer.preprocess"),
)
"""(advisory id, first fixed gradio version, what it was)."""


def version_tuple(text: str) -> tuple[int, ...]:
    """"6.31.0" -> (6, 31, 0); pre-release and local suffixes are ignored ("6.1.0rc1" -> (6, 1, 0))."""
    parts = []
    for piece in text.split("+")[0].split("."):
        digits = ""
        for char in piece:
            if not char.isdigit():
                break
            digits += char
        parts.append(int(digits or 0))
        if digits != piece:
            break
    while len(parts) < 3:
        parts.append(0)
    return tuple(parts)


def unfixed(installed: str) -> list[tuple[str, str, str]]:
    """The advisories the installed gradio version is not fixed for."""
    have = version_tuple(installed)
    return [row for row in GRADIO_ADVISORIES if have < version_tuple(row[1])]
