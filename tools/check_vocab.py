#!/usr/bin/env python3
"""Validate rules/vocab/*.toml files (schema, regexes, examples, cause ids).

    python3 tools/check_vocab.py rules/vocab/cuda-runtime.toml [more files]
    python3 tools/check_vocab.py            # every file in rules/vocab/

Exit 0 when every file is valid, 1 otherwise (one line per problem). The package's own loader
(doctor/explain/vocab.py) applies the same rules when explain loads the files.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
KINDS = {"enum", "messages", "table"}
ROLES = {"root", "consequence", "benign"}
SEVERITIES = {"error", "warning", "info"}
VOCAB_KEYS = {"id", "title", "component", "kind", "source", "source_url", "source_count", "generated_by",
              "contexts", "code_patterns", "key_patterns", "default_cause", "default_params", "note"}
ENTRY_KEYS = {"name", "key", "code", "text", "cause", "role", "severity", "patterns", "examples",
              "example_sources", "params", "note", "aliases"}


def known_causes() -> set[str]:
    ids = set()
    data = tomllib.loads((ROOT / "rules" / "causes.toml").read_text(encoding="utf-8"))
    ids |= {c["id"] for c in data.get("cause", [])}
    tax = Path("/work/scratch/taxonomy.md")
    if tax.exists():  # causes being added while the vocabularies are written
        ids |= set(re.findall(r"^- (?:NEW )?([a-z0-9-]+):", tax.read_text(encoding="utf-8"), re.M))
    ids.add("none")
    return ids


def _compile(rx: str, where: str, errors: list[str]) -> re.Pattern | None:
    try:
        c = re.compile(rx)
    except re.error as exc:
        errors.append(f"{where}: regex does not compile: {exc}")
        return None
    if c.match(""):
        errors.append(f"{where}: regex matches the empty string")
    return c


def check_file(path: Path, causes: set[str]) -> list[str]:
    errors: list[str] = []
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        return [f"{path}: cannot parse: {exc}"]
    if data.get("schema") != 1:
        errors.append(f"{path}: schema must be 1")
    v = data.get("vocab")
    if not isinstance(v, dict):
        return errors + [f"{path}: missing [vocab] table"]
    for k in v:
        if k not in VOCAB_KEYS:
            errors.append(f"{path}: [vocab] unknown key {k!r}")
    for k in ("id", "title", "component", "kind", "source"):
        if not isinstance(v.get(k), str) or not v.get(k):
            errors.append(f"{path}: [vocab] {k} missing or not a string")
    if v.get("id") != path.stem:
        errors.append(f"{path}: [vocab] id {v.get('id')!r} must equal the file stem {path.stem!r}")
    kind = v.get("kind")
    if kind not in KINDS:
        errors.append(f"{path}: [vocab] kind must be one of {sorted(KINDS)}")
    contexts = [_compile(rx, f"{path}: contexts", errors) for rx in v.get("contexts", [])]
    codes = [_compile(rx, f"{path}: code_patterns", errors) for rx in v.get("code_patterns", [])]
    for c in codes:
        if c is not None and "code" not in c.groupindex:
            errors.append(f"{path}: code_patterns {c.pattern!r} has no (?P<code>...) group")
    keyps = [_compile(rx, f"{path}: key_patterns", errors) for rx in v.get("key_patterns", [])]
    for c in keyps:
        if c is not None and "key" not in c.groupindex:
            errors.append(f"{path}: key_patterns {c.pattern!r} has no (?P<key>...) group")
    if kind == "table":
        if not keyps:
            errors.append(f"{path}: a table needs [vocab] key_patterns")
        if v.get("default_cause") and v["default_cause"] not in causes:
            errors.append(f"{path}: default_cause {v['default_cause']!r} is not a known cause")
    entries = data.get("entry", [])
    if not isinstance(entries, list) or not entries:
        return errors + [f"{path}: no [[entry]] tables"]
    names = set()
    for i, e in enumerate(entries):
        label = f"{path}: entry[{i}] ({e.get('name') or e.get('key')})"
        for k in e:
            if k not in ENTRY_KEYS:
                errors.append(f"{label}: unknown key {k!r}")
        ident = e.get("name") if kind != "table" else e.get("key")
        if not isinstance(ident, str) or not ident:
            errors.append(f"{label}: needs {'key' if kind == 'table' else 'name'}")
        elif ident in names:
            errors.append(f"{label}: duplicate {ident!r}")
        names.add(ident)
        if e.get("cause") not in causes:
            errors.append(f"{label}: cause {e.get('cause')!r} is not a known cause")
        if e.get("role", "root") not in ROLES:
            errors.append(f"{label}: role must be one of {sorted(ROLES)}")
        if e.get("severity", "error") not in SEVERITIES:
            errors.append(f"{label}: severity must be one of {sorted(SEVERITIES)}")
        if "params" in e and not (isinstance(e["params"], dict) and all(isinstance(x, str) for x in e["params"].values())):
            errors.append(f"{label}: params must be a table of strings")
        pats = [_compile(rx, f"{label} pattern", errors) for rx in e.get("patterns", [])]
        pats = [p for p in pats if p is not None]
        exs = e.get("examples", [])
        srcs = e.get("example_sources", [])
        if len(exs) != len(srcs):
            errors.append(f"{label}: examples and example_sources differ in length")
        if kind == "messages" and not pats:
            errors.append(f"{label}: a messages entry needs patterns")
        if kind == "messages" and not exs:
            errors.append(f"{label}: a messages entry needs at least one example")
        if kind == "enum" and not (e.get("text") or pats):
            errors.append(f"{label}: an enum entry needs text (its string) or patterns")
        for ex in exs:
            hit = any(p.search(ex) for p in pats)
            if not hit and kind == "enum":
                name_hit = isinstance(ident, str) and re.search(rf"\b{re.escape(ident)}\b", ex)
                text = e.get("text")
                text_hit = text and text in ex and (not contexts or any(c and c.search(ex) for c in contexts))
                hit = bool(name_hit or text_hit)
            if not hit and kind == "table":
                hit = any(k and (m := k.search(ex)) for k in keyps)
            if not hit:
                errors.append(f"{label}: example does not match its entry: {ex[:120]!r}")
    if kind == "enum" and v.get("source_count") not in (None, len(entries)):
        errors.append(f"{path}: source_count {v.get('source_count')} != {len(entries)} entries")
    return errors


def main(argv: list[str]) -> int:
    files = [Path(a) for a in argv] or sorted((ROOT / "rules" / "vocab").glob("*.toml"))
    causes = known_causes()
    bad = 0
    for f in files:
        errs = check_file(f, causes)
        for e in errs:
            print(e)
        bad += bool(errs)
        if not errs:
            print(f"{f}: ok")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
