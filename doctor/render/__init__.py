"""Renderers lay a Report out; they never decide severity or wording.

Each format is one module with ``render(report, *, verbose) -> str``. The registry
maps a ``--format`` name to its module, imported only when used.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path

from doctor.errors import UsageError
from doctor.report import Report

FORMATS = {
    "human": "doctor.render.console",
    "json": "doctor.render.json",
    "junit": "doctor.render.junit",
    "github": "doctor.render.github",
    "markdown": "doctor.render.markdown",
}


def render(report: Report, fmt: str = "human", *, verbose: bool = False) -> str:
    try:
        module = importlib.import_module(FORMATS[fmt])
    except KeyError:
        raise UsageError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}") from None
    return module.render(report, verbose=verbose)


def emit(report: Report, fmt: str = "human", *, verbose: bool = False, output: str | None = None) -> None:
    """Render and write to ``output`` (a file) or stdout."""
    text = render(report, fmt, verbose=verbose)
    if output:
        try:
            Path(output).write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text if text.endswith("\n") else text + "\n")
