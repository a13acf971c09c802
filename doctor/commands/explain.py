"""`trtllm-doctor explain LOG...`: name the root cause of a failure log, with the line that proves it."""

from __future__ import annotations

import sys

from doctor.errors import UsageError
from doctor.kb import KB, default_kb
from doctor.report import Report


def run_explain(paths: list[str], kb: KB | None = None, facts=None) -> Report:
    """Explain the logs; with ``facts`` (a snapshot or the live machine) the findings are joined with them."""
    from doctor.explain.run import explain_paths

    if not paths:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("give one or more log files (or - to read stdin)")
        paths = ["-"]
    kb = kb or default_kb()
    report = explain_paths(paths, kb)
    if facts is not None:
        from doctor.explain.join import join_facts

        join_facts(report, facts, kb)
    return report
