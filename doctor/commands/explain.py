"""`trtllm-doctor explain LOG...`: recognise known TensorRT-LLM failures in logs, root cause first."""

from __future__ import annotations

import sys

from doctor.errors import UsageError
from doctor.kb import KB, default_kb
from doctor.model import Report


def run_explain(paths: list[str], kb: KB | None = None) -> Report:
    from doctor.explain.matcher import Scanner
    from doctor.explain.rank import build_report
    from doctor.explain.reader import check_inputs
    from doctor.explain.signatures import compile_catalogue

    if not paths:
        if sys.stdin is None or sys.stdin.isatty():
            raise UsageError("give one or more log files (or - to read stdin)")
        paths = ["-"]
    inputs = check_inputs(paths)
    scanner = Scanner(compile_catalogue(kb or default_kb()))
    for inp in inputs:
        scanner.scan(inp)
    return build_report(scanner)
