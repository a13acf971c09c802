"""From aggregated matches to a Report: root cause first, consequences after, one finding per cause.

Order: root causes before consequences (a signature's ``role``), then severity, then
confidence, then where it was first seen. Matches of one cause are folded into the
first (its parameters filled in from the others where it has none), so an OOM reported
by the TensorRT builder in three ways is one finding; the same error from eight ranks
already is one (the matcher keys findings by signature and parameters, not by rank).
"""

from __future__ import annotations

from typing import Any

from doctor.explain.matcher import _CONF, _ROLE, Agg, Scanner
from doctor.explain.signatures import fix_params
from doctor.model import Finding, Report

CHECK_HINT = "run `trtllm-doctor check` on the machine that produced the log"


def ranges(numbers: set[int]) -> str:
    """{0,1,2,3,5} -> '0-3, 5'."""
    out: list[str] = []
    nums = sorted(numbers)
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ", ".join(out)


def _order(scanner: Scanner, agg: Agg) -> tuple:
    sig = scanner.cat.signatures[agg.sig]
    return (_ROLE[sig.role], -scanner.cat.severity(agg.sig).rank, _CONF[sig.confidence], agg.file, agg.line)


def _seen(scanner: Scanner, agg: Agg, count: int) -> str:
    bits = []
    if count > 1:
        bits.append(f"seen {count} times")
    if len(agg.ranks) > 1:
        bits.append(f"on ranks {ranges(agg.ranks)}")
    elif len(agg.ranks) == 1:
        bits.append(f"on rank {next(iter(agg.ranks))}")
    if len(agg.files) > 1:
        bits.append(f"in {len(agg.files)} files")
    return ", ".join(bits)


def build_findings(scanner: Scanner) -> list[Finding]:
    cat = scanner.cat
    ordered = sorted(scanner.aggs.values(), key=lambda a: _order(scanner, a))
    primary: dict[str, tuple[Agg, dict[str, Any], list[Agg]]] = {}
    for agg in ordered:
        cause = cat.signatures[agg.sig].cause
        if cause not in primary:
            primary[cause] = (agg, fix_params(agg.params), [])
        else:
            first, params, others = primary[cause]
            for k, v in fix_params(agg.params).items():
                params.setdefault(k, v)
            others.append(agg)
    findings = []
    for agg, params, others in primary.values():
        sig = cat.signatures[agg.sig]
        cause = cat.causes[agg.sig]
        name = scanner.inputs[agg.file].name
        extra: dict[str, Any] = {
            "role": sig.role,
            "confidence": sig.confidence,
            "note": sig.note,
            "file": "<stdin>" if name == "-" else name,
            "count": agg.count + sum(o.count for o in others),
            "lines": [ln for _, ln in agg.lines],
            "span": list(agg.span),
        }
        if len(scanner.inputs) > 1:
            extra["where"] = f"{extra['file']}:{agg.line}"
        seen = _seen(scanner, agg, extra["count"])
        if seen:
            extra["seen"] = seen
        if agg.ranks:
            extra["ranks"] = sorted(agg.ranks)[:64]
        if agg.context:
            extra["context"] = agg.context
        if agg.varied:
            extra["varied"] = True
        if others:
            extra["also"] = [
                {"id": cat.signatures[o.sig].id, "symbol": cat.signatures[o.sig].symbol, "line": o.line,
                 "evidence": o.evidence, "count": o.count}
                for o in others[:8]
            ]
        findings.append(Finding(
            id=sig.id, symbol=sig.symbol, category=cause.id, severity=cat.severity(agg.sig), title=cause.title,
            evidence=agg.evidence, expected="", fix=cause.fix_for(params), docs=cause.docs, area="log",
            line=agg.line, params=params, extra=extra,
        ))
    return findings


def build_report(scanner: Scanner) -> Report:
    findings = build_findings(scanner)
    extra: dict[str, Any] = {
        "inputs": [{"name": "<stdin>" if s.name == "-" else s.name, "bytes": s.bytes, "lines": s.lines} for s in scanner.inputs],
    }
    if not any(f.severity.value == "error" for f in findings):
        multi = len(scanner.inputs) > 1
        lines = [
            {"file": scanner.inputs[fi].name, "line": ln, "text": text,
             "where": f"{scanner.inputs[fi].name}:{ln}" if multi else f"line {ln}"}
            for fi, ln, text in scanner.unexplained
        ]
        if lines:
            extra["message"] = f"No known error signature matched. The last error-looking lines are below; {CHECK_HINT}."
            extra["lines"] = lines
        else:
            extra["message"] = f"No known error signature matched and no error-looking line was found; {CHECK_HINT}."
        if not findings:
            extra["summary"] = "No known problem found."
    return Report("explain", findings, extra=extra)
