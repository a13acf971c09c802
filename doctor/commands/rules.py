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
        sigs = kb.signatures if (kb.directory / "signatures.toml").exists() else []
        if sigs:
            lines.append("Log signatures (explain):")
            lines += [f"  {g.id:<8} {g.severity:<8} {g.symbol:<40} {g.cause}" for g in sigs]
        lines.append("")
        lines.append("`trtllm-doctor rules ID` explains one (check or signature id or symbol, or a cause id).")
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
    sig = kb.signature(rule_id) if (kb.directory / "signatures.toml").exists() else None
    if sig is not None:
        cause = kb.cause(sig.cause)
        if fmt == "json":
            return json.dumps({"id": sig.id, "symbol": sig.symbol, "severity": sig.severity, "role": sig.role,
                               "confidence": sig.confidence, "note": sig.note, "patterns": sig.patterns,
                               "examples": sig.examples, "cause": cause.id, "title": cause.title, "fix": cause.fix,
                               "docs": cause.docs}, indent=2) + "\n"
        out = [f"{sig.id} ({sig.symbol}) - {cause.title}",
               f"log signature; severity: {sig.severity}; role: {sig.role}; confidence: {sig.confidence}; cause: {cause.id}",
               "", sig.note, "", "Patterns:"]
        out += [f"  {p}" for p in sig.patterns]
        out.append("Examples (real log lines):")
        for ex in sig.examples:
            out += [f"  {ex['line']}", f"    source: {ex['source']}"]
        out += ["", f"Fix: {cause.fix}", f"Docs: {cause.docs}"]
        return "\n".join(out) + "\n"
    if rule_id in kb.causes:
        cause = kb.causes[rule_id]
        users = [c.id for c in checks if c.cause == rule_id]
        if (kb.directory / "signatures.toml").exists():
            users += [g.id for g in kb.signatures if g.cause == rule_id]
        if fmt == "json":
            return json.dumps({"cause": cause.id, "title": cause.title, "fix": cause.fix, "docs": cause.docs, "checks": users}, indent=2) + "\n"
        return f"cause {cause.id} - {cause.title}\n\nFix: {cause.fix}\nDocs: {cause.docs}\nChecks and log signatures that report it: {', '.join(users) or 'none'}\n"
    raise UsageError(f"no check, signature or cause named {rule_id!r}; `trtllm-doctor rules` lists them")
