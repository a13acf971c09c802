"""Entry points of the explain engine: paths or text in, findings and a Report out."""

from __future__ import annotations

import io

from doctor.report import Finding, Report


def new_scanner(kb):
    from doctor.explain.catalogue import load_catalogue
    from doctor.explain.matcher import Scanner

    return Scanner(load_catalogue(kb))


def explain_paths(paths: list[str], kb) -> Report:
    """Scan every input (files, '-' for stdin) and rank the findings root cause first."""
    from doctor.explain.graph import build_report
    from doctor.explain.reader import check_inputs

    inputs = check_inputs(paths)
    scanner = new_scanner(kb)
    for inp in inputs:
        scanner.scan(inp)
    return build_report(scanner, kb)


def explain_text(text: str, kb, name: str = "<text>") -> list[Finding]:
    """The findings for a piece of text (a tier's stderr, a test's log), as a log file would give them."""
    from doctor.explain.graph import build_findings

    scanner = new_scanner(kb)
    scanner.scan_stream(name, io.BytesIO(text.encode("utf-8", "replace")))
    return build_findings(scanner, kb)
