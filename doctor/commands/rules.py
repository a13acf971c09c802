"""`trtllm-doctor rules [ID]`: list the checks, or explain one check, signature or cause."""

from __future__ import annotations

import json

from doctor.checks import AREAS, all_checks, find_check
from doctor.errors import UsageError
from doctor.kb import default_kb


def run_rules(rule_id: str | None, fmt: str = "human") -> str:
    kb = default_kb()
    checks = all_checks()
    if rule_id is None:
        if fmt == "json":
            rows = [
                {"id": c.id, "symbol": c.symbol, "area": c.area, "severity": c.severity.value, "cause": c.cause, "title": c.title}
                for c in checks
            ]
            return json.dumps(rows, indent=2) + "\n"
        lines = []
        for area, label in AREAS.items():
            mine = [c for c in checks if c.area == area]
            if mine:
                lines.append(f"{label}:")
                lines += [f"  {c.id:<8} {c.severity.value:<8} {c.symbol:<32} {c.title}" for c in mine]
        lines.append("")
        lines.append("`trtllm-doctor rules ID` explains one (check id or symbol, or a cause id).")
        return "\n".join(lines) + "\n"

    chk = find_check(rule_id)
    if chk is not None:
        cause = kb.cause(chk.cause)
        if fmt == "json":
            return json.dumps({"id": chk.id, "symbol": chk.symbol, "area": chk.area, "severity": chk.severity.value,
                               "title": chk.title, "doc": chk.doc, "cause": cause.id, "fix": cause.fix, "docs": cause.docs}, indent=2) + "\n"
        return (
            f"{chk.id} ({chk.symbol}) - {chk.title}\n"
            f"area: {AREAS[chk.area]}; severity: {chk.severity.value}; cause: {cause.id}\n\n"
            f"{chk.doc}\n\nFix: {cause.fix}\nDocs: {cause.docs}\n"
        )
    if rule_id in kb.causes:
        cause = kb.causes[rule_id]
        users = [c.id for c in checks if c.cause == rule_id]
        if fmt == "json":
            return json.dumps({"cause": cause.id, "title": cause.title, "fix": cause.fix, "docs": cause.docs, "checks": users}, indent=2) + "\n"
        return f"cause {cause.id} - {cause.title}\n\nFix: {cause.fix}\nDocs: {cause.docs}\nChecks that report it: {', '.join(users) or 'none'}\n"
    raise UsageError(f"no check or cause named {rule_id!r}; `trtllm-doctor rules` lists them")
