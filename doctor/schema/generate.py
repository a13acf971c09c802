"""Generate doctor/schema/*.schema.json from the dataclasses (run: python -m doctor.schema.generate).

The snapshot schema follows doctor/facts.py field by field (descriptions from the
fields' comments); the report schema wraps it with the Report contract of doctor/report.py.
``--check`` exits 1 when the shipped files differ from what would be generated.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import re
import sys
import types
import typing
from typing import Any, Union

from doctor.schema import REPORT_SCHEMA, SNAPSHOT_SCHEMA

DRAFT = "https://json-schema.org/draft/2020-12/schema"
BASE = "https://github.com/trtllm-doctor/trtllm-doctor/schema/"


def _comments(cls: type) -> dict[str, str]:
    """Inline ``# comments`` of a dataclass's fields, as descriptions."""
    try:
        source = inspect.getsource(cls)
    except (OSError, TypeError):
        return {}
    out = {}
    for line in source.splitlines():
        m = re.match(r"^\s+([a-z_][a-z0-9_]*)\s*:[^#]*#\s*(.+)$", line)
        if m:
            out[m.group(1)] = m.group(2).strip()
    return out


def _type(tp: Any, defs: dict[str, Any]) -> dict[str, Any]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        inner = [a for a in args if a is not type(None)]
        schema = _type(inner[0], defs)
        if type(None) in args:
            if set(schema) == {"type"}:
                return {"type": [schema["type"], "null"]}
            return {"anyOf": [schema, {"type": "null"}]}
        return schema
    if dataclasses.is_dataclass(tp):
        name = tp.__name__
        if name not in defs:
            defs[name] = {}  # placeholder against recursion
            defs[name] = _object(tp, defs)
        return {"$ref": f"#/$defs/{name}"}
    if origin is list:
        return {"type": "array", "items": _type(args[0], defs) if args else {}}
    if origin is dict:
        return {"type": "object", "additionalProperties": _type(args[1], defs) if len(args) > 1 else {}}
    return {str: {"type": "string"}, int: {"type": "integer"}, float: {"type": "number"}, bool: {"type": "boolean"}}.get(tp, {})


def _object(cls: type, defs: dict[str, Any]) -> dict[str, Any]:
    hints = typing.get_type_hints(cls)
    notes = _comments(cls)
    props = {}
    for f in dataclasses.fields(cls):
        prop = _type(hints[f.name], defs)
        if f.name in notes:
            prop = {**prop, "description": notes[f.name]}
        props[f.name] = prop
    out: dict[str, Any] = {"type": "object"}
    doc = (cls.__doc__ or "").strip()
    if doc and not doc.startswith(cls.__name__ + "("):
        out["description"] = doc.splitlines()[0]
    out["properties"] = props
    out["required"] = [f.name for f in dataclasses.fields(cls)]
    return out


def snapshot_schema() -> dict[str, Any]:
    from doctor.facts import FACTS_SCHEMA_VERSION, Facts

    defs: dict[str, Any] = {}
    root = _object(Facts, defs)
    root["properties"]["schema_version"] = {
        "type": "integer", "minimum": 1, "maximum": FACTS_SCHEMA_VERSION,
        "description": "Version of this snapshot format; readers refuse newer ones.",
    }
    return {
        "$schema": DRAFT,
        "$id": BASE + "snapshot.schema.json",
        "title": "trtllm-doctor snapshot (Facts)",
        "description": "What `trtllm-doctor snapshot` writes and `check --snapshot` / `fleet` read. A null field is unknown; "
                       "a section whose probe failed has `error`. Properties may be added within a schema_version.",
        **{k: v for k, v in root.items() if k != "description"},
        "$defs": defs,
    }


def _finding() -> dict[str, Any]:
    s = {"type": "string"}
    return {
        "type": "object",
        "description": "One problem: a cause (category) with what was seen, what was expected and the fix.",
        "properties": {
            "id": {**s, "description": "Stable id of the rule (check id, signature id, self-test tier, POL/FLT id)."},
            "symbol": {**s, "description": "Readable kebab-case name of that rule."},
            "category": {**s, "description": "Cause id from rules/causes.toml; `trtllm-doctor rules CAUSE` explains it."},
            "severity": {"enum": ["error", "warning", "info"]},
            "title": s,
            "evidence": {**s, "description": "What was seen (a fact, a log line)."},
            "expected": s,
            "fix": {**s, "description": "The cause's fix, filled with this finding's params."},
            "docs": s,
            "area": s,
            "line": {"type": ["integer", "null"], "description": "explain: first line number of the evidence."},
            "params": {"type": "object", "description": "Values that filled the fix template."},
            "extra": {"type": "object", "description": "Source-specific detail (fleet: nodes; policy: policy_severity)."},
        },
        "required": ["id", "symbol", "category", "severity", "title", "evidence", "expected", "fix", "docs", "area",
                     "line", "params", "extra"],
    }


def _fleet() -> dict[str, Any]:
    ns, ni = {"type": ["string", "null"]}, {"type": ["integer", "null"]}
    node = {
        "type": "object",
        "properties": {
            "node": {"type": "string"}, "source": {"type": "string"},
            "status": {"enum": ["ok", "corrupt", "stale", "missing", "duplicate"]},
            "problem": {"type": "string"}, "kind": {"enum": ["snapshot", "check", None]},
            "created": ns, "age_s": {"type": ["number", "null"]}, "engine": ns,
            "driver": ns, "cuda": ns, "trtllm": ns, "tensorrt": ns, "torch": ns, "python": ns, "gpu": ns,
            "gpu_count": ni, "disk_free_bytes": {"type": ["number", "null"]},
            "errors": {"type": "integer", "minimum": 0}, "warnings": {"type": "integer", "minimum": 0},
            "findings": {"type": "array", "items": {"type": "string"}},
        },
        "required": ["node", "source", "status", "driver", "cuda", "trtllm", "gpu", "gpu_count", "disk_free_bytes",
                     "errors", "warnings", "findings"],
    }
    return {
        "type": "object",
        "description": "`fleet`: one row per node, the majority values, and whether the fleet is consistent.",
        "properties": {
            "nodes": {"type": "array", "items": node},
            "majority": {"type": "object"},
            "groups": {"type": "object", "additionalProperties": {"type": "array", "items": {"type": "string"}}},
            "counts": {"type": "object", "additionalProperties": {"type": "integer", "minimum": 0}},
            "max_age_s": {"type": "number"},
            "now": {"type": "string"},
            "consistent": {"type": "boolean"},
        },
        "required": ["nodes", "majority", "counts", "consistent"],
    }


def report_schema() -> dict[str, Any]:
    from doctor.report import SCHEMA_VERSION

    snap = snapshot_schema()
    defs = dict(snap["$defs"])
    defs["Facts"] = {k: v for k, v in snap.items() if k not in ("$schema", "$id", "$defs", "title")}
    defs["Finding"] = _finding()
    counts = {"type": "integer", "minimum": 0}
    return {
        "$schema": DRAFT,
        "$id": BASE + "report.schema.json",
        "title": "trtllm-doctor report",
        "description": "What every command prints with --format json. schema_version changes only when a field is "
                       "removed or changes meaning; new properties may appear within a version.",
        "type": "object",
        "properties": {
            "schema_version": {"const": SCHEMA_VERSION},
            "tool": {
                "type": "object",
                "properties": {"name": {"const": "trtllm-doctor"}, "version": {"type": "string"},
                               "command": {"type": "string", "description": "check, explain, selftest, plan, fleet, ..."}},
                "required": ["name", "version", "command"],
            },
            "target": {"type": "object", "description": "What was checked for (check: TensorRT-LLM release, quant, tp/pp, ...)."},
            "facts": {"anyOf": [{"$ref": "#/$defs/Facts"}, {"type": "null"}],
                      "description": "The machine's facts (same as snapshot.schema.json); null for commands without."},
            "checks": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {"id": {"type": "string"}, "symbol": {"type": "string"}, "area": {"type": "string"},
                                   "title": {"type": "string"}, "status": {"enum": ["pass", "fail", "skip"]},
                                   "reason": {"type": "string"}},
                    "required": ["id", "symbol", "area", "title", "status", "reason"],
                },
            },
            "findings": {"type": "array", "items": {"$ref": "#/$defs/Finding"}},
            "summary": {
                "type": "object",
                "properties": {k: counts for k in ("error", "warning", "info", "checks_passed", "checks_failed", "checks_skipped")},
                "required": ["error", "warning", "info", "checks_passed", "checks_failed", "checks_skipped"],
            },
            "extra": {
                "type": "object",
                "description": "Command-specific payload.",
                "properties": {
                    "policy": {"type": "object", "properties": {"file": {"type": "string"},
                                                                "fail_on": {"enum": ["error", "warning", "info"]}}},
                    "ignored": {"type": "array", "description": "Findings hidden by the policy's [[ignore]], with the ignore.",
                                "items": {"allOf": [{"$ref": "#/$defs/Finding"}, {
                                    "type": "object", "required": ["ignore"],
                                    "properties": {"ignore": {"type": "object", "required": ["id", "reason", "until"],
                                                              "properties": {"id": {"type": "string"},
                                                                             "reason": {"type": "string", "minLength": 1},
                                                                             "until": {"type": ["string", "null"]}}}}}]}},
                    "fleet": _fleet(),
                },
            },
        },
        "required": ["schema_version", "tool", "target", "facts", "checks", "findings", "summary"],
        "$defs": defs,
    }


def dumps(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    stale = []
    for path, schema in ((SNAPSHOT_SCHEMA, snapshot_schema()), (REPORT_SCHEMA, report_schema())):
        text = dumps(schema)
        current = path.read_text(encoding="utf-8") if path.exists() else ""
        if current != text:
            stale.append(path)
            if "--check" not in argv:
                path.write_text(text, encoding="utf-8")
    if "--check" in argv and stale:
        print("out of date: " + ", ".join(map(str, stale)) + " (run python -m doctor.schema.generate)")
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
