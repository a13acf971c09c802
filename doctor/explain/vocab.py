"""rules/vocab/*.toml: upstream error vocabularies, loaded and validated.

A vocabulary is one upstream enumeration or message family (CUDA's cudaError_t, NCCL's WARN
texts, pip's network errors, Python module -> pip package, ...). Three kinds:

``enum``      every value of an upstream enumeration: ``name`` (matched as a word anywhere),
              ``text`` (the library's own string, matched only on a line that also matches one
              of the vocabulary's ``contexts``), ``code`` (looked up from the vocabulary's
              ``code_patterns``) and optional extra ``patterns``.
``messages``  curated message texts: each entry's ``patterns`` (named groups become fix
              parameters) with real ``examples``.
``table``     a key -> facts table: the vocabulary's ``key_patterns`` capture a ``key`` (a module,
              a soname, a C++ symbol, an exception class) that is looked up among the entries
              (exact, longest prefix, top-level module), else ``default_cause``.

Every entry names one cause of rules/causes.toml and a role (root, consequence, benign).
:func:`load_vocabularies` validates everything it reads and raises :class:`VocabError` naming
file, entry and key; ``tools/check_vocab.py`` runs the same validation for rule authors.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

KINDS = ("enum", "messages", "table")
ROLES = ("root", "consequence", "benign", "context")  # context: only as the explanation of an error
SEVERITIES = ("error", "warning", "info")
VOCAB_KEYS = {"id", "title", "component", "kind", "source", "source_url", "source_count", "generated_by",
              "contexts", "code_patterns", "key_patterns", "default_cause", "default_params", "default_role", "note"}
ENTRY_KEYS = {"name", "key", "code", "text", "cause", "role", "severity", "patterns", "examples",
              "example_sources", "params", "note", "aliases"}


class VocabError(Exception):
    """A vocabulary file is unreadable or has a bad entry."""


@dataclass(frozen=True)
class Entry:
    vocab: str
    name: str  # enum/messages: the upstream name or a kebab id; table: the key
    cause: str
    role: str = "root"
    severity: str = "error"
    code: int | None = None
    text: str = ""
    patterns: tuple[str, ...] = ()
    examples: tuple[str, ...] = ()
    example_sources: tuple[str, ...] = ()
    params: dict[str, str] = field(default_factory=dict)
    note: str = ""


@dataclass(frozen=True)
class Vocabulary:
    id: str
    title: str
    component: str
    kind: str
    source: str
    path: str
    entries: tuple[Entry, ...]
    source_url: str = ""
    source_count: int | None = None
    generated_by: str = ""
    contexts: tuple[str, ...] = ()
    code_patterns: tuple[str, ...] = ()
    key_patterns: tuple[str, ...] = ()
    default_cause: str = ""
    default_params: dict[str, str] = field(default_factory=dict)
    default_role: str = "root"
    note: str = ""

    def lookup(self, key: str) -> Entry | None:
        """Table look-up: exact key, the longest entry key that prefixes it, the top-level module, the last name."""
        by_key = {e.name: e for e in self.entries}
        if key in by_key:
            return by_key[key]
        best = None
        for e in self.entries:
            if key.startswith(e.name) and (best is None or len(e.name) > len(best.name)):
                best = e
        if best is not None:
            return best
        top = key.split(".", 1)[0]
        if top in by_key:
            return by_key[top]
        return by_key.get(key.rsplit(".", 1)[-1])  # a qualified class name: its own name


def _regex(rx: Any, where: str, errors: list[str]) -> re.Pattern[str] | None:
    if not isinstance(rx, str) or not rx:
        errors.append(f"{where}: a regex must be a non-empty string")
        return None
    try:
        compiled = re.compile(rx)
    except re.error as exc:
        errors.append(f"{where}: regex does not compile: {exc}")
        return None
    if compiled.match(""):
        errors.append(f"{where}: regex matches the empty string")
    return compiled


def _strings(value: Any, where: str, errors: list[str]) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        errors.append(f"{where}: expected a list of strings")
        return ()
    return tuple(value)


def _params(value: Any, where: str, errors: list[str]) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in value.items()):
        errors.append(f"{where}: params must be a table of strings")
        return {}
    return dict(value)


def parse_vocabulary(data: dict[str, Any], path: Path, causes: set[str], errors: list[str]) -> Vocabulary | None:
    """One file's data as a :class:`Vocabulary`; problems are appended to ``errors`` (file: entry: key: what)."""
    where = path.name
    if data.get("schema") != 1:
        errors.append(f"{where}: key 'schema': expected 1")
    v = data.get("vocab")
    if not isinstance(v, dict):
        errors.append(f"{where}: missing [vocab] table")
        return None
    for k in v:
        if k not in VOCAB_KEYS:
            errors.append(f"{where}: [vocab]: unknown key {k!r}")
    for k in ("id", "title", "component", "kind", "source"):
        if not isinstance(v.get(k), str) or not v.get(k):
            errors.append(f"{where}: [vocab]: key {k!r} missing or not a string")
    vid = v.get("id", "")
    if vid != path.stem:
        errors.append(f"{where}: [vocab]: id {vid!r} must equal the file name {path.stem!r}")
    kind = v.get("kind")
    if kind not in KINDS:
        errors.append(f"{where}: [vocab]: kind must be one of {', '.join(KINDS)}")
    contexts = _strings(v.get("contexts"), f"{where}: [vocab] contexts", errors)
    code_patterns = _strings(v.get("code_patterns"), f"{where}: [vocab] code_patterns", errors)
    key_patterns = _strings(v.get("key_patterns"), f"{where}: [vocab] key_patterns", errors)
    compiled_contexts = [c for c in (_regex(rx, f"{where}: [vocab] contexts", errors) for rx in contexts) if c]
    for rx in code_patterns:
        c = _regex(rx, f"{where}: [vocab] code_patterns", errors)
        if c is not None and "code" not in c.groupindex:
            errors.append(f"{where}: [vocab] code_patterns {rx!r}: no (?P<code>...) group")
    compiled_keys = []
    for rx in key_patterns:
        c = _regex(rx, f"{where}: [vocab] key_patterns", errors)
        if c is not None:
            compiled_keys.append(c)
            if "key" not in c.groupindex:
                errors.append(f"{where}: [vocab] key_patterns {rx!r}: no (?P<key>...) group")
    if kind == "table" and not key_patterns:
        errors.append(f"{where}: [vocab]: a table needs key_patterns")
    default_cause = v.get("default_cause", "")
    if default_cause and default_cause not in causes:
        errors.append(f"{where}: [vocab]: default_cause {default_cause!r} is not a cause of causes.toml")
    default_role = v.get("default_role", "root")
    if default_role not in ROLES:
        errors.append(f"{where}: [vocab]: default_role must be one of {', '.join(ROLES)}")
    raw_entries = data.get("entry")
    if not isinstance(raw_entries, list) or not raw_entries:
        errors.append(f"{where}: no [[entry]] tables")
        raw_entries = []
    entries: list[Entry] = []
    seen: set[str] = set()
    for i, e in enumerate(raw_entries):
        if not isinstance(e, dict):
            errors.append(f"{where}: entry[{i}]: expected a table")
            continue
        ident = e.get("key") if kind == "table" else e.get("name")
        label = f"{where}: entry[{i}] ({ident})"
        for k in e:
            if k not in ENTRY_KEYS:
                errors.append(f"{label}: unknown key {k!r}")
        if not isinstance(ident, str) or not ident:
            errors.append(f"{label}: needs {'key' if kind == 'table' else 'name'}")
            continue
        if ident in seen:
            errors.append(f"{label}: duplicate {ident!r}")
        seen.add(ident)
        cause = e.get("cause")
        role = e.get("role", "root")
        if cause == "none" and role != "benign":
            errors.append(f"{label}: key 'cause': 'none' (not a failure) needs role = \"benign\"")
        elif cause not in causes and cause != "none":
            errors.append(f"{label}: key 'cause': {cause!r} is not a cause of causes.toml")
        if role not in ROLES:
            errors.append(f"{label}: key 'role': must be one of {', '.join(ROLES)}")
        severity = e.get("severity", "error")
        if severity not in SEVERITIES:
            errors.append(f"{label}: key 'severity': must be one of {', '.join(SEVERITIES)}")
        code = e.get("code")
        if code is not None and (not isinstance(code, int) or isinstance(code, bool)):
            errors.append(f"{label}: key 'code': expected an integer")
            code = None
        text = e.get("text", "")
        if not isinstance(text, str):
            errors.append(f"{label}: key 'text': expected a string")
            text = ""
        pats = _strings(e.get("patterns"), f"{label}: patterns", errors)
        compiled = [c for c in (_regex(p, f"{label}: pattern", errors) for p in pats) if c]
        exs = _strings(e.get("examples"), f"{label}: examples", errors)
        srcs = _strings(e.get("example_sources"), f"{label}: example_sources", errors)
        if len(exs) != len(srcs):
            errors.append(f"{label}: examples and example_sources differ in length")
        if kind == "messages" and not pats:
            errors.append(f"{label}: a messages entry needs patterns")
        if kind == "messages" and not exs:
            errors.append(f"{label}: a messages entry needs at least one example")
        if kind == "enum" and not (text or pats):
            errors.append(f"{label}: an enum entry needs its text or patterns")
        for ex in exs:
            if not _example_matches(kind, ident, text, compiled, compiled_contexts, compiled_keys, ex):
                errors.append(f"{label}: example does not match its entry: {ex[:120]!r}")
        note = e.get("note", "")
        entries.append(Entry(vid, ident, cause if isinstance(cause, str) else "", role, severity, code, text, pats, exs, srcs,
                             _params(e.get("params"), f"{label}: params", errors), note if isinstance(note, str) else ""))
    source_count = v.get("source_count")
    if kind == "enum" and source_count is not None and source_count != len(entries):
        errors.append(f"{where}: [vocab]: source_count {source_count} but {len(entries)} entries (the enumeration must be complete)")
    return Vocabulary(
        vid, v.get("title", ""), v.get("component", ""), kind or "", v.get("source", ""), str(path), tuple(entries),
        v.get("source_url", ""), source_count, v.get("generated_by", ""), contexts, code_patterns, key_patterns,
        default_cause, _params(v.get("default_params"), f"{where}: [vocab] default_params", errors), default_role, v.get("note", ""),
    )


def _example_matches(kind, ident, text, patterns, contexts, keys, example: str) -> bool:
    if any(p.search(example) for p in patterns):
        return True
    if kind == "enum":
        if re.search(rf"(?<![\w]){re.escape(ident)}(?![\w])", example):
            return True
        return bool(text and text in example and (not contexts or any(c.search(example) for c in contexts)))
    if kind == "table":
        return any(k.search(example) for k in keys)
    return False


def load_vocabularies(directory: Path, causes: set[str], tomllib_module) -> list[Vocabulary]:
    """Every rules/vocab/*.toml, validated; one :class:`VocabError` listing every problem."""
    errors: list[str] = []
    out: list[Vocabulary] = []
    for path in sorted(directory.glob("*.toml")):
        try:
            data = tomllib_module.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib_module.TOMLDecodeError) as exc:
            errors.append(f"{path.name}: cannot read: {exc}")
            continue
        v = parse_vocabulary(data, path, causes, errors)
        if v is not None:
            out.append(v)
    ids = [v.id for v in out]
    for dup in {i for i in ids if ids.count(i) > 1}:
        errors.append(f"vocab id {dup!r} is used by more than one file")
    if errors:
        raise VocabError("; ".join(errors[:20]) + (f" (and {len(errors) - 20} more)" if len(errors) > 20 else ""))
    return out
