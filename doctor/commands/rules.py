"""`trtllm-doctor rules [ID]`: list the checks, signatures and vocabularies, or explain one of them or a cause."""

from __future__ import annotations

import difflib
import json

from doctor.checks import AREAS, all_checks, find_check
from doctor.errors import UsageError
from doctor.kb import default_kb

FORMATS = ("human", "json")


def _cause_text(kb, cause_id: str) -> tuple:
    c = kb.cause(cause_id)
    return c, c.fix_for({})


def _listing(kb, checks, fmt: str) -> str:
    vocabs = kb.vocabularies
    if fmt == "json":
        rows = [{"id": c.id, "symbol": c.symbol, "area": c.area, "severity": c.severity.value, "cause": c.cause, "title": c.title}
                for c in checks]
        rows += [{"id": s.id, "symbol": s.symbol, "area": "log", "severity": s.severity, "cause": s.cause, "title": kb.cause(s.cause).title}
                 for s in kb.signatures]
        rows += [{"id": v.id, "kind": v.kind, "component": v.component, "entries": len(v.entries), "title": v.title, "source": v.source}
                 for v in vocabs]
        return json.dumps(rows, indent=2) + "\n"
    lines = []
    for area, label in AREAS.items():
        mine = [c for c in checks if c.area == area]
        if mine:
            lines.append(f"{label}:")
            lines += [f"  {c.id:<8} {c.severity.value:<8} {c.symbol:<32} {c.title}" for c in mine]
    lines.append("Log signatures (explain, exact real lines):")
    lines += [f"  {g.id:<8} {g.severity:<8} {g.symbol:<40} {g.cause}" for g in kb.signatures]
    lines.append(f"Upstream vocabularies (explain, {sum(len(v.entries) for v in vocabs)} entries):")
    lines += [f"  {v.id:<20} {v.kind:<9} {len(v.entries):>5} entries  {v.title}" for v in vocabs]
    lines.append("")
    lines.append("`trtllm-doctor rules ID` explains one: a check (DRV002, driver-too-old), a signature (S003), a vocabulary"
                 " (cuda-runtime) or one of its entries (cudaErrorIllegalAddress, cuda-runtime:cudaErrorIllegalAddress), or a cause.")
    return "\n".join(lines) + "\n"


def _find_entry(kb, rule_id: str):
    vid, _, name = rule_id.partition(":")
    for v in kb.vocabularies:
        if name and v.id != vid:
            continue
        for e in v.entries:
            if e.name == (name or rule_id) or e.name.lower() == (name or rule_id).lower():
                return v, e
    return None


def run_rules(rule_id: str | None, fmt: str = "human") -> str:
    if fmt not in FORMATS:
        raise UsageError(f"unknown format {fmt!r} for rules: use {' or '.join(FORMATS)}")
    kb = default_kb()
    checks = all_checks()
    if rule_id is None:
        return _listing(kb, checks, fmt)
    chk = find_check(rule_id) or find_check(rule_id.upper())
    from doctor.checks import RETIRED

    if chk is None and rule_id.upper() in RETIRED:
        why = RETIRED[rule_id.upper()]
        if fmt == "json":
            return json.dumps({"id": rule_id.upper(), "retired": why}, indent=2) + "\n"
        return f"{rule_id.upper()}: retired ({why}); ids are permanent and never reused\n"
    if chk is not None:
        cause, fix = _cause_text(kb, chk.cause)
        if fmt == "json":
            return json.dumps({"id": chk.id, "symbol": chk.symbol, "area": chk.area, "severity": chk.severity.value,
                               "severity_when": chk.severity_when or None, "title": chk.title, "doc": chk.doc, "cause": cause.id, "fix": fix, "docs": cause.docs}, indent=2) + "\n"
        return (f"{chk.id} ({chk.symbol}) - {chk.title}\n"
                f"area: {AREAS[chk.area]}; severity: {chk.severity.value}"
                + (f" ({chk.severity_when})" if chk.severity_when else "") + f"; cause: {cause.id}\n\n"
                f"{chk.doc}\n\nFix: {fix}\nDocs: {cause.docs}\n")
    sig = kb.signature(rule_id) or kb.signature(rule_id.upper())
    if sig is not None:
        cause, fix = _cause_text(kb, sig.cause)
        if fmt == "json":
            return json.dumps({"id": sig.id, "symbol": sig.symbol, "severity": sig.severity, "role": sig.role,
                               "confidence": sig.confidence, "note": sig.note, "patterns": sig.patterns,
                               "examples": sig.examples, "cause": cause.id, "title": cause.title, "fix": fix,
                               "docs": cause.docs}, indent=2) + "\n"
        out = [f"{sig.id} ({sig.symbol}) - {cause.title}",
               f"log signature; severity: {sig.severity}; role: {sig.role}; confidence: {sig.confidence}; cause: {cause.id}",
               "", sig.note, "", "Patterns:"]
        out += [f"  {p}" for p in sig.patterns]
        out.append("Examples (real log lines):")
        for ex in sig.examples:
            out += [f"  {ex['line']}", f"    source: {ex['source']}"]
        out += ["", f"Fix: {fix}", f"Docs: {cause.docs}"]
        return "\n".join(out) + "\n"
    vocab = next((v for v in kb.vocabularies if v.id == rule_id.lower()), None)
    if vocab is not None:
        causes = sorted({e.cause for e in vocab.entries})
        if fmt == "json":
            return json.dumps({"id": vocab.id, "title": vocab.title, "kind": vocab.kind, "component": vocab.component,
                               "source": vocab.source, "entries": len(vocab.entries), "causes": causes,
                               "generated_by": vocab.generated_by}, indent=2) + "\n"
        out = [f"{vocab.id} - {vocab.title}", f"{vocab.kind}; {len(vocab.entries)} entries; component: {vocab.component}",
               f"source: {vocab.source}"]
        if vocab.generated_by:
            out.append(f"regenerated by: {vocab.generated_by}")
        out += [f"causes: {', '.join(causes)}", "", "Entries:"]
        out += [f"  {e.name:<48} {e.cause}" + (f" ({e.role})" if e.role != "root" else "") for e in vocab.entries[:200]]
        if len(vocab.entries) > 200:
            out.append(f"  ... and {len(vocab.entries) - 200} more (-f json, or `rules {vocab.id}:NAME`)")
        return "\n".join(out) + "\n"
    hit = _find_entry(kb, rule_id)
    if hit is not None:
        v, e = hit
        fix = kb.cause(e.cause).fix_for(dict(e.params)) if e.cause in kb.causes else "(not a failure)"
        data = {"id": f"{v.id}:{e.name}", "vocabulary": v.id, "source": v.source, "name": e.name, "code": e.code,
                "text": e.text, "cause": e.cause, "role": e.role, "severity": e.severity, "patterns": list(e.patterns),
                "examples": list(e.examples), "example_sources": list(e.example_sources), "note": e.note, "fix": fix}
        if fmt == "json":
            return json.dumps(data, indent=2) + "\n"
        out = [f"{v.id}:{e.name}" + (f" (code {e.code})" if e.code is not None else "") + f" - cause {e.cause}, {e.role}, {e.severity}"]
        if e.text:
            out.append(f"text: {e.text}")
        if e.note:
            out += ["", e.note]
        out += [f"vocabulary: {v.title} (source: {v.source})"]
        if e.patterns:
            out += ["Patterns:"] + [f"  {p}" for p in e.patterns]
        if e.examples:
            out.append("Examples:")
            for ex, src in zip(e.examples, e.example_sources):
                out += [f"  {ex}", f"    source: {src}"]
        out += ["", f"Fix: {fix}"]
        return "\n".join(out) + "\n"
    if rule_id.lower() in kb.causes:
        cause, fix = _cause_text(kb, rule_id.lower())
        users = [c.id for c in checks if c.cause == cause.id] + [g.id for g in kb.signatures if g.cause == cause.id]
        entries = sum(1 for v in kb.vocabularies for e in v.entries if e.cause == cause.id)
        if fmt == "json":
            return json.dumps({"cause": cause.id, "title": cause.title, "fix": fix, "docs": cause.docs, "checks": users,
                               "vocabulary_entries": entries, "generic": cause.generic}, indent=2) + "\n"
        return (f"cause {cause.id} - {cause.title}\n\nFix: {fix}\nDocs: {cause.docs}\n"
                f"Checks and log signatures that report it: {', '.join(users) or 'none'}; vocabulary entries: {entries}\n")
    names = list(kb.causes) + [c.id for c in checks] + [c.symbol for c in checks] + [v.id for v in kb.vocabularies]
    names += [s.id for s in kb.signatures] + [s.symbol for s in kb.signatures]
    close = list(dict.fromkeys([n for n in names if rule_id.lower() in n.lower()][:5] + difflib.get_close_matches(rule_id, names, n=3, cutoff=0.6)))[:6]
    hint = f"; did you mean {', '.join(close)}?" if close else "; `trtllm-doctor rules` lists them"
    raise UsageError(f"no check, signature, vocabulary entry or cause named {rule_id!r}{hint}")
