"""The machine-readable report: the stable contract, described by doctor/schema/report.schema.json."""

from __future__ import annotations

import json

from doctor.report import Report


def render(report: Report, *, verbose: bool = False, ascii: bool = False) -> str:
    """``ascii``: every non-ASCII character as a ``\\u`` escape (for an ASCII-only stdout; the data is the same)."""
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=ascii, default=str)
