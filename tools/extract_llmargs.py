#!/usr/bin/env python3
"""Extract the LLM API argument schema of one TensorRT-LLM release as data.

trtllm-doctor validates a user's ``--extra_llm_api_options`` YAML (or the
kwargs of ``LLM(...)``) offline against the schema of the target release.
This tool produces that schema without importing ``tensorrt_llm``.

Two input modes:

``source`` (preferred)
    One or more Python files of the release, usually
    ``tensorrt_llm/llmapi/llm_args.py`` (plus, optionally, files that define
    further field classes, e.g. ``tensorrt_llm/builder.py``).  The files are
    parsed with :mod:`ast` only.  Every class that derives (directly or
    through other classes of the input) from ``BaseModel``,
    ``StrictBaseModel`` or another pydantic model of the input becomes a
    model; ``Enum``/``StrEnum`` classes become enums; ``X: TypeAlias =
    Union[...]`` and ``X = Y`` assignments become aliases.

``docs`` (fallback)
    Saved text of the rendered LLM API reference pages
    (``nvidia.github.io/TensorRT-LLM/<version>/llm-api/reference.html`` or the
    per-class pages under ``llm-api/reference/``).  The Sphinx signature
    ``class tensorrt_llm.llmapi.NAME(*, field: type = default, ...)`` is
    parsed; descriptions, validators and ranges are not available there.

Output (JSON)::

    {"schema": 1, "release": "1.2.1", "input_mode": "source",
     "source": "<repo>/<path>@<commit>", "top": "TorchLlmArgs",
     "trt_top": "TrtLlmArgs",
     "models": {NAME: {"bases": [...], "extra": "forbid"|"allow"|null,
                       "fields": {FIELD: {"type": "int|None", "default": ...,
                                          "required": bool, "ge": ...,
                                          "description": "...",
                                          "status": "prototype", ...}},
                       "field_validators": {FIELD: [names]},
                       "model_validators": [names], ...}},
     "enums": {NAME: {"members": {MEMBER: value}}},
     "aliases": {NAME: [class names]},
     "dispatch": {MODEL: {"key": "decoding_type", "map": {VALUE: CLASS}}},
     "yaml_nested": {FIELD: CLASS},
     "renamed": {...}, "removed": [...], "notes": [...]}

``--annotations FILE.json`` merges hand-checked facts (renames, removals,
notes with their sources) into the output; ``--previous OLD.json`` computes
the keys that disappeared or appeared since an older release.

Standard library only; Python >= 3.10.
"""
from __future__ import annotations

KEEP_DESCRIPTIONS = False  # --keep-descriptions
import argparse
import ast
import json
import re
import sys
from pathlib import Path
from typing import Any

SCHEMA_VERSION = 1

PYDANTIC_ROOTS = {"BaseModel", "StrictBaseModel"}
ENUM_ROOTS = {"Enum", "StrEnum", "IntEnum", "str"}
FIELD_FUNCS = {"Field", "PydanticField"}
# pydantic constrained aliases -> (base type, constraints)
CONSTRAINED = {
    "PositiveInt": ("int", {"gt": 0}),
    "NonNegativeInt": ("int", {"ge": 0}),
    "NegativeInt": ("int", {"lt": 0}),
    "NonPositiveInt": ("int", {"le": 0}),
    "PositiveFloat": ("float", {"gt": 0}),
    "NonNegativeFloat": ("float", {"ge": 0}),
    "StrictInt": ("int", {"strict": True}),
    "StrictBool": ("bool", {"strict": True}),
    "StrictStr": ("str", {"strict": True}),
    "StrictFloat": ("float", {"strict": True}),
}
TYPING_RENAMES = {
    "List": "list", "Dict": "dict", "Set": "set", "Tuple": "tuple",
    "FrozenSet": "frozenset", "Type": "type", "Sequence": "list",
}
KEEP_FIELD_KWARGS = ("ge", "gt", "le", "lt", "min_length", "max_length",
                     "multiple_of", "pattern", "alias", "exclude",
                     "exclude_json_schema", "validate_default", "repr",
                     "init", "frozen", "choices", "discriminator")


# --------------------------------------------------------------------------
# small AST helpers
# --------------------------------------------------------------------------
def _name(node: ast.AST) -> str:
    """Dotted name of a Name/Attribute node, '' otherwise."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        inner = _name(node.value)
        return f"{inner}.{node.attr}" if inner else node.attr
    return ""


def _last(name: str) -> str:
    return name.rsplit(".", 1)[-1]


def _const_str(node: ast.AST) -> str | None:
    """Evaluate a string expression made of literals (implicit concat,
    '+', f-strings with only literal parts, backslash continuation)."""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        a, b = _const_str(node.left), _const_str(node.right)
        if a is not None and b is not None:
            return a + b
    if isinstance(node, ast.JoinedStr):
        parts = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                parts.append(str(v.value))
            else:
                parts.append("{" + ast.unparse(v.value) + "}")
        return "".join(parts)
    return None


class Ctx:
    """What is known about the input: classes, enums, aliases."""

    def __init__(self) -> None:
        self.classes: dict[str, ast.ClassDef] = {}
        self.enums: dict[str, dict[str, Any]] = {}
        self.aliases: dict[str, ast.AST] = {}
        self.simple_aliases: dict[str, str] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        self.models: set[str] = set()
        self.removed_args: set[str] = set()


def _enum_value(ctx: Ctx, dotted: str) -> tuple[bool, Any]:
    """Resolve Enum.MEMBER / Outer.Enum.MEMBER to the member's value."""
    parts = dotted.split(".")
    if len(parts) >= 2:
        enum_name, member = parts[-2], parts[-1]
        enum = ctx.enums.get(enum_name)
        if enum and member in enum["members"]:
            val = enum["members"][member]
            # int-valued Enums are parsed by name (e.g. LoadFormat.AUTO)
            return True, member if not isinstance(val, str) else val
    return False, None


def _literal(ctx: Ctx, node: ast.AST) -> tuple[bool, Any]:
    """Try to turn a default expression into JSON data."""
    try:
        return True, ast.literal_eval(node)
    except Exception:
        pass
    s = _const_str(node)
    if s is not None:
        return True, s
    if isinstance(node, ast.BinOp):  # 1024**3 etc.
        ok_l, left = _literal(ctx, node.left)
        ok_r, right = _literal(ctx, node.right)
        if ok_l and ok_r and isinstance(left, (int, float)) and isinstance(
                right, (int, float)):
            ops = {ast.Pow: lambda a, b: a**b, ast.Mult: lambda a, b: a * b,
                   ast.Add: lambda a, b: a + b, ast.Sub: lambda a, b: a - b}
            fn = ops.get(type(node.op))
            if fn:
                return True, fn(left, right)
    if isinstance(node, ast.Attribute):
        ok, val = _enum_value(ctx, _name(node))
        if ok:
            return True, val
    if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
        out = []
        for elt in node.elts:
            ok, val = _literal(ctx, elt)
            if not ok:
                return False, None
            out.append(val)
        return True, out
    return False, None


# --------------------------------------------------------------------------
# type annotations
# --------------------------------------------------------------------------
def _type_info(ctx: Ctx, node: ast.AST | None) -> dict[str, Any]:
    """Return {"type": str, "choices": [...]?, "refs": [...], constraints}."""
    info: dict[str, Any] = {"refs": []}
    if node is None:
        info["type"] = "Any"
        return info
    info["type"] = _type_str(ctx, node, info)
    info["refs"] = sorted(set(info["refs"]))
    if "choices" in info:
        others = [p for p in _split_top(info["type"], "|")
                  if p != "None" and not p.startswith("Literal[")
                  and p != info.get("enum")]
        if others:
            # e.g. bool|Literal['auto'] or str|SamplerType: values outside
            # `choices` can still be valid
            info["choices_incomplete"] = True
    return info


def _flatten_union(parts: list[str]) -> str:
    out: list[str] = []
    for p in parts:
        for q in p.split("|"):
            if q not in out:
                out.append(q)
    if "None" in out:  # keep None last
        out.remove("None")
        out.append("None")
    return "|".join(out)


def _type_str(ctx: Ctx, node: ast.AST, info: dict[str, Any],
              inner: bool = False) -> str:
    """`inner` is True inside list/dict/set/tuple arguments: constraints
    found there apply to the items and are stored as items_<name>."""
    if isinstance(node, ast.Constant):
        if node.value is None:
            return "None"
        if isinstance(node.value, str):  # forward reference
            try:
                return _type_str(ctx, ast.parse(node.value, mode="eval").body,
                                 info)
            except SyntaxError:
                return node.value
        return repr(node.value)
    if isinstance(node, (ast.Name, ast.Attribute)):
        name = _last(_name(node))
        if name in CONSTRAINED:
            base, cons = CONSTRAINED[name]
            for k, v in cons.items():
                info.setdefault(("items_" + k) if inner else k, v)
            return base
        name = TYPING_RENAMES.get(name, name)
        if name in ctx.simple_aliases:
            name = ctx.simple_aliases[name]
        if name in ctx.aliases:
            info.setdefault("alias_of", []).append(name)
            return _type_str(ctx, ctx.aliases[name], info, inner)
        if name in ctx.models:
            info["refs"].append(name)
        elif name in ctx.enums:
            pre = "items_" if inner else ""
            info.setdefault(pre + "enum", name)
            vals = list(ctx.enums[name]["members"].values())
            if not all(isinstance(v, str) for v in vals):
                # int-valued Enums are given by member name (LoadFormat)
                vals = list(ctx.enums[name]["members"].keys())
            info.setdefault(pre + "choices", vals)
        return name
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.BitOr):
        return _flatten_union([_type_str(ctx, node.left, info, inner),
                               _type_str(ctx, node.right, info, inner)])
    if isinstance(node, ast.Subscript):
        head = _last(_name(node.value))
        sl = node.slice
        args = list(sl.elts) if isinstance(sl, ast.Tuple) else [sl]
        if head == "Optional":
            return _flatten_union([_type_str(ctx, args[0], info, inner),
                                   "None"])
        if head == "Union":
            return _flatten_union([_type_str(ctx, a, info, inner)
                                   for a in args])
        if head == "Literal":
            vals = []
            for a in args:
                ok, v = _literal(ctx, a)
                vals.append(v if ok else ast.unparse(a))
            info["items_choices" if inner else "choices"] = vals
            return "Literal[" + ", ".join(repr(v) for v in vals) + "]"
        if head == "Annotated":
            base = _type_str(ctx, args[0], info, inner)
            for meta in args[1:]:
                if isinstance(meta, ast.Call) and _last(_name(
                        meta.func)) in FIELD_FUNCS:
                    for kw in meta.keywords:
                        if kw.arg in ("discriminator", "ge", "gt", "le", "lt"):
                            ok, v = _literal(ctx, kw.value)
                            if ok:
                                key = kw.arg
                                if inner and key != "discriminator":
                                    key = "items_" + key
                                info[key] = v
            return base
        if head == "ClassVar":
            info["classvar"] = True
            return _type_str(ctx, args[0], info, inner)
        head = TYPING_RENAMES.get(head, head)
        return head + "[" + ", ".join(_type_str(ctx, a, info, True)
                                      for a in args) + "]"
    if isinstance(node, (ast.List, ast.Tuple)):
        return "[" + ", ".join(_type_str(ctx, a, info, True)
                               for a in node.elts) + "]"
    return ast.unparse(node)


# --------------------------------------------------------------------------
# validators: names, and simple range checks in field validators
# --------------------------------------------------------------------------
_CMP_TO_BOUND = {  # "v OP k raises" -> bound that holds for valid values
    ast.Lt: "ge", ast.LtE: "gt", ast.Gt: "le", ast.GtE: "lt",
}


def _ranges_from_validator(fn: ast.FunctionDef, arg: str) -> dict[str, Any]:
    """Recognise `if v < 0: raise`, `if v <= 0: raise`,
    `if not 0 <= v <= 1: raise` (and `or` of two such tests)."""
    found: dict[str, Any] = {}

    def raises(body: list[ast.stmt]) -> bool:
        return any(isinstance(s, ast.Raise) for s in body)

    def bad_cmp(test: ast.AST) -> None:
        # v < k  / v > k  (or k > v) meaning "invalid"
        if isinstance(test, ast.BoolOp) and isinstance(test.op, ast.Or):
            for v in test.values:
                bad_cmp(v)
            return
        if not isinstance(test, ast.Compare) or len(test.ops) != 1:
            return
        left, op, right = test.left, test.ops[0], test.comparators[0]
        if _name(left) == arg and isinstance(right, ast.Constant):
            bound = _CMP_TO_BOUND.get(type(op))
            if bound and isinstance(right.value, (int, float)):
                found[bound] = right.value
        elif _name(right) == arg and isinstance(left, ast.Constant):
            flipped = {ast.Gt: ast.Lt, ast.GtE: ast.LtE, ast.Lt: ast.Gt,
                       ast.LtE: ast.GtE}.get(type(op))
            bound = _CMP_TO_BOUND.get(flipped) if flipped else None
            if bound and isinstance(left.value, (int, float)):
                found[bound] = left.value

    def good_chain(test: ast.AST) -> None:
        # not (a <= v <= b)
        if (isinstance(test, ast.Compare) and len(test.ops) == 2
                and _name(test.comparators[0]) == arg
                and isinstance(test.left, ast.Constant)
                and isinstance(test.comparators[1], ast.Constant)):
            lo_op, hi_op = test.ops
            found["ge" if isinstance(lo_op, ast.LtE) else "gt"] = \
                test.left.value
            found["le" if isinstance(hi_op, ast.LtE) else "lt"] = \
                test.comparators[1].value

    for node in ast.walk(fn):
        if isinstance(node, ast.If) and raises(node.body):
            t = node.test
            if isinstance(t, ast.UnaryOp) and isinstance(t.op, ast.Not):
                good_chain(t.operand)
            else:
                bad_cmp(t)
    return found


def _model_validator_ranges(fn: ast.FunctionDef) -> dict[str, dict]:
    """`if self.x < 0 or self.x > 1: raise` in model validators."""
    out: dict[str, dict] = {}
    for node in ast.walk(fn):
        if not (isinstance(node, ast.If) and any(
                isinstance(s, ast.Raise) for s in node.body)):
            continue
        tests = node.test.values if isinstance(node.test, ast.BoolOp) and \
            isinstance(node.test.op, ast.Or) else [node.test]
        for t in tests:
            if not (isinstance(t, ast.Compare) and len(t.ops) == 1):
                continue
            left = t.left
            if (isinstance(left, ast.Attribute) and _name(left.value) == "self"
                    and isinstance(t.comparators[0], ast.Constant)):
                bound = _CMP_TO_BOUND.get(type(t.ops[0]))
                val = t.comparators[0].value
                if bound and isinstance(val, (int, float)):
                    out.setdefault(left.attr, {})[bound] = val
    return out


def _decorator_info(dec: ast.AST) -> tuple[str, list[str], str | None]:
    """('field'|'model'|'', fields, mode)."""
    if isinstance(dec, ast.Call):
        fname = _last(_name(dec.func))
        mode = None
        for kw in dec.keywords:
            if kw.arg == "mode" and isinstance(kw.value, ast.Constant):
                mode = kw.value.value
        if fname in ("field_validator", "validator"):
            fields = [a.value for a in dec.args
                      if isinstance(a, ast.Constant)
                      and isinstance(a.value, str)]
            return "field", fields, mode
        if fname in ("model_validator", "root_validator"):
            return "model", [], mode
    return "", [], None


# --------------------------------------------------------------------------
# classes
# --------------------------------------------------------------------------
def _collect(ctx: Ctx, tree: ast.Module) -> None:
    for node in tree.body:
        if isinstance(node, ast.ClassDef):
            ctx.classes[node.name] = node
            for sub in node.body:  # nested enums (GuidedDecodingBackend)
                if isinstance(sub, ast.ClassDef):
                    ctx.classes.setdefault(sub.name, sub)
        elif isinstance(node, ast.AnnAssign) and isinstance(
                node.target, ast.Name) and node.value is not None:
            if _last(_name(node.annotation)) == "TypeAlias":
                ctx.aliases[node.target.id] = node.value
            elif node.target.id.endswith("REMOVED_ARG_CHECKS") and \
                    isinstance(node.value, ast.Dict):
                # arguments removed from the model but still accepted on input
                ctx.removed_args.update(
                    k.value for k in node.value.keys
                    if isinstance(k, ast.Constant))
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and \
                isinstance(node.targets[0], ast.Name):
            if isinstance(node.value, (ast.Name, ast.Attribute)):
                ctx.simple_aliases[node.targets[0].id] = _last(
                    _name(node.value))
            elif isinstance(node.value, ast.Subscript):
                head = _last(_name(node.value.value))
                if head in ("Union", "Optional", "Annotated", "Literal"):
                    ctx.aliases[node.targets[0].id] = node.value
            elif isinstance(node.value, ast.Dict) and \
                    node.targets[0].id.endswith("REMOVED_ARG_CHECKS"):
                ctx.removed_args.update(
                    k.value for k in node.value.keys
                    if isinstance(k, ast.Constant))
        elif isinstance(node, ast.FunctionDef):
            ctx.functions[node.name] = node

    def base_names(c: ast.ClassDef) -> list[str]:
        return [_last(_name(b)) for b in c.bases if _name(b)]

    # enums
    for name, c in ctx.classes.items():
        bases = set(base_names(c))
        if bases & {"Enum", "StrEnum", "IntEnum"}:
            members: dict[str, Any] = {}
            for st in c.body:
                if isinstance(st, ast.Assign) and len(st.targets) == 1 and \
                        isinstance(st.targets[0], ast.Name):
                    ok, v = _literal(ctx, st.value)
                    if ok:
                        members[st.targets[0].id] = v
            ctx.enums[name] = {"members": members,
                               "bases": sorted(bases & ENUM_ROOTS)}
    # models: fixed point over inheritance inside the input
    changed = True
    while changed:
        changed = False
        for name, c in ctx.classes.items():
            if name in ctx.models or name in ctx.enums:
                continue
            bases = base_names(c)
            if any(b in PYDANTIC_ROOTS or b in ctx.models for b in bases):
                ctx.models.add(name)
                changed = True


def _class_extra(c: ast.ClassDef) -> str | None:
    for st in c.body:
        if isinstance(st, ast.ClassDef) and st.name == "Config":
            for s2 in st.body:
                if isinstance(s2, ast.Assign) and any(
                        _name(t) == "extra" for t in s2.targets):
                    ok, v = True, getattr(s2.value, "value", None)
                    return _last(str(v)) if ok and v is not None else \
                        _last(_name(s2.value))
        if isinstance(st, (ast.Assign, ast.AnnAssign)):
            targets = st.targets if isinstance(st, ast.Assign) else [st.target]
            if any(_name(t) == "model_config" for t in targets):
                val = st.value
                if isinstance(val, ast.Dict):
                    for k, v in zip(val.keys, val.values):
                        if isinstance(k, ast.Constant) and k.value == "extra":
                            return getattr(v, "value", None)
                if isinstance(val, ast.Call):
                    for kw in val.keywords:
                        if kw.arg == "extra":
                            return getattr(kw.value, "value", None)
    return None


def _field_from_value(ctx: Ctx, value: ast.AST | None,
                      tinfo: dict[str, Any]) -> dict[str, Any]:
    f: dict[str, Any] = {"type": tinfo["type"]}
    for k in ("choices", "choices_incomplete", "enum", "ge", "gt", "le", "lt",
              "strict", "discriminator", "items_choices", "items_enum", "items_ge",
              "items_gt", "items_le", "items_lt", "items_strict"):
        if k in tinfo:
            f[k] = tinfo[k]
    if tinfo.get("refs"):
        f["models"] = tinfo["refs"]
    if tinfo.get("alias_of"):
        f["type_alias"] = tinfo["alias_of"][0]
    if value is None:
        f["required"] = True
        return f
    is_field = isinstance(value, ast.Call) and _last(_name(
        value.func)) in FIELD_FUNCS
    if not is_field:
        ok, v = _literal(ctx, value)
        if ok:
            f["default"] = v
        else:
            f["default_expr"] = ast.unparse(value)
        f["required"] = False
        return f
    call: ast.Call = value
    default_node = call.args[0] if call.args else None
    kws = {kw.arg: kw.value for kw in call.keywords if kw.arg}
    if "default" in kws:
        default_node = kws["default"]
    if "default_factory" in kws:
        fac = kws["default_factory"]
        fac_name = _last(_name(fac)) or ast.unparse(fac)
        f["default_factory"] = fac_name
        if fac_name in ("dict", "list", "set"):
            f["default"] = {"dict": {}, "list": [], "set": []}[fac_name]
        elif isinstance(fac, ast.Lambda):
            ok, v = _literal(ctx, fac.body)
            if ok:
                f["default"] = v
        f["required"] = False
    elif default_node is None or (isinstance(default_node, ast.Constant)
                                  and default_node.value is Ellipsis):
        f["required"] = True
    else:
        ok, v = _literal(ctx, default_node)
        if ok:
            f["default"] = v
        else:
            f["default_expr"] = ast.unparse(default_node)
        f["required"] = False
    if "description" in kws and KEEP_DESCRIPTIONS:
        d = _const_str(kws["description"])
        f["description"] = re.sub(r"\s+", " ", d).strip() if d is not None \
            else ast.unparse(kws["description"])
    if "status" in kws:
        f["status"] = getattr(kws["status"], "value", None)
    if "deprecated" in kws:
        d = kws["deprecated"]
        f["deprecated"] = _const_str(d) if _const_str(d) is not None else \
            getattr(d, "value", True)
        f.setdefault("status", "deprecated")
    if "json_schema_extra" in kws and isinstance(kws["json_schema_extra"],
                                                  ast.Dict):
        jd = kws["json_schema_extra"]
        for k, v in zip(jd.keys, jd.values):
            if not isinstance(k, ast.Constant):
                continue
            sv = _const_str(v)
            if k.value == "status" and sv:
                f["status"] = sv
            elif k.value == "type":
                f["doc_type"] = sv if sv is not None else ast.unparse(v)
    if "validation_alias" in kws:
        va = kws["validation_alias"]
        if isinstance(va, ast.Call) and _last(_name(va.func)) == "AliasChoices":
            f["accepts"] = [a.value for a in va.args
                            if isinstance(a, ast.Constant)]
        else:
            s = _const_str(va)
            if s:
                f["accepts"] = [s]
    for k in KEEP_FIELD_KWARGS:
        if k in kws:
            ok, v = _literal(ctx, kws[k])
            f[k] = v if ok else ast.unparse(kws[k])
    if f.get("status") is None:
        f.pop("status", None)
    return f


def _dispatch_tables(c: ast.ClassDef) -> dict[str, str] | None:
    for st in c.body:
        if isinstance(st, ast.FunctionDef) and st.name == "from_dict":
            for node in ast.walk(st):
                if isinstance(node, ast.Assign) and any(
                        _name(t) == "config_classes" for t in node.targets) \
                        and isinstance(node.value, ast.Dict):
                    return {
                        k.value: _last(_name(v))
                        for k, v in zip(node.value.keys, node.value.values)
                        if isinstance(k, ast.Constant)
                    }
    return None


def _model(ctx: Ctx, name: str) -> dict[str, Any]:
    c = ctx.classes[name]
    m: dict[str, Any] = {
        "bases": [_last(_name(b)) for b in c.bases if _name(b)],
        "fields": {},
        "field_validators": {},
        "model_validators": [],
    }
    extra = _class_extra(c)
    if extra:
        m["extra"] = extra
    classvars: dict[str, Any] = {}
    pending_ranges: list[tuple[list[str], dict]] = []
    for st in c.body:
        if isinstance(st, ast.AnnAssign) and isinstance(st.target, ast.Name):
            fname = st.target.id
            tinfo = _type_info(ctx, st.annotation)
            if tinfo.get("classvar"):
                if st.value is not None:
                    ok, v = _literal(ctx, st.value)
                    if ok:
                        classvars[fname] = v
                continue
            if fname.startswith("_") or fname == "model_config":
                continue  # private attributes are not user-settable
            m["fields"][fname] = _field_from_value(ctx, st.value, tinfo)
        elif isinstance(st, ast.FunctionDef):
            for dec in st.decorator_list:
                kind, fields, mode = _decorator_info(dec)
                if kind == "field":
                    for fld in fields:
                        m["field_validators"].setdefault(fld, []).append(
                            st.name)
                    arg = st.args.args[1].arg if len(st.args.args) > 1 else "v"
                    rng = _ranges_from_validator(st, arg)
                    if rng:
                        pending_ranges.append((fields, rng))
                elif kind == "model":
                    m["model_validators"].append(st.name)
                    for fld, rng in _model_validator_ranges(st).items():
                        pending_ranges.append(([fld], rng))
    for fields, rng in pending_ranges:
        for fld in fields:
            target = m["fields"].get(fld)
            if target is None:
                m.setdefault("inherited_ranges", {}).setdefault(fld, {}).update(
                    rng)
                continue
            for k, v in rng.items():
                target.setdefault(k, v)
            target["range_from_validator"] = True
    if classvars:
        m["class_constants"] = classvars
    table = _dispatch_tables(c)
    if table:
        m["dispatch"] = table
    if not m["field_validators"]:
        del m["field_validators"]
    if not m["model_validators"]:
        del m["model_validators"]
    return m


def _resolve_inheritance(models: dict[str, dict]) -> None:
    """Fill every model's `fields` with inherited ones (MRO: first base
    first; own fields override).  Inherited fields get `defined_in`."""
    resolved: dict[str, dict] = {}

    def resolve(name: str, stack: tuple = ()) -> dict:
        if name in resolved:
            return resolved[name]
        m = models[name]
        fields: dict[str, dict] = {}
        extra = m.get("extra")
        fv: dict[str, list] = {}
        mv: list[str] = []
        for b in reversed(m["bases"]):
            if b in models and b not in stack:
                rb = resolve(b, stack + (name,))
                for k, v in rb["fields"].items():
                    vv = dict(v)
                    vv.setdefault("defined_in", b)
                    fields[k] = vv
                extra = extra or rb.get("extra")
                for k, v in rb.get("field_validators", {}).items():
                    fv.setdefault(k, []).extend(x for x in v
                                                if x not in fv.get(k, []))
                mv.extend(x for x in rb.get("model_validators", [])
                          if x not in mv)
        own = dict(m["fields"])
        for k, v in own.items():
            fields[k] = v
        for fld, rng in m.get("inherited_ranges", {}).items():
            if fld in fields:
                fields[fld] = dict(fields[fld])
                for k, v in rng.items():
                    fields[fld].setdefault(k, v)
                fields[fld]["range_from_validator"] = True
        for k, v in m.get("field_validators", {}).items():
            fv.setdefault(k, []).extend(x for x in v if x not in fv.get(k, []))
        mv.extend(x for x in m.get("model_validators", []) if x not in mv)
        out = dict(m)
        out.pop("inherited_ranges", None)
        out["fields"] = fields
        out["own_fields"] = sorted(own)
        if extra:
            out["extra"] = extra
        if fv:
            out["field_validators"] = fv
        if mv:
            out["model_validators"] = mv
        resolved[name] = out
        return out

    for n in list(models):
        resolve(n)
    models.clear()
    models.update(resolved)


def extract_source(paths: list[Path]) -> dict[str, Any]:
    ctx = Ctx()
    for p in paths:
        tree = ast.parse(p.read_text(encoding="utf-8"), filename=str(p))
        _collect(ctx, tree)
    models = {n: _model(ctx, n) for n in sorted(ctx.models)}
    _resolve_inheritance(models)
    doc: dict[str, Any] = {"models": models}
    doc["enums"] = {k: v for k, v in sorted(ctx.enums.items())}
    aliases = {}
    for k, node in ctx.aliases.items():
        info = _type_info(ctx, node)
        aliases[k] = {"type": info["type"], "models": info["refs"]}
    for k, v in ctx.simple_aliases.items():
        if v in ctx.models:
            aliases[k] = {"type": v, "models": [v]}
    doc["aliases"] = dict(sorted(aliases.items()))
    # pydantic's default for `extra` is "ignore": unknown keys are dropped
    # silently.  Say so explicitly for models that never set it.
    for m in models.values():
        if not m.get("extra"):
            m["extra"] = "ignore"
            m["extra_is_pydantic_default"] = True
    if ctx.removed_args:
        doc["removed_but_accepted"] = sorted(ctx.removed_args)
    # YAML key -> class used to build nested sections
    fn = ctx.functions.get("update_llm_args_with_extra_dict")
    if fn is not None:
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and any(
                    _name(t) == "field_mapping" for t in node.targets) and \
                    isinstance(node.value, ast.Dict):
                doc["yaml_nested"] = {
                    k.value: _last(_name(v))
                    for k, v in zip(node.value.keys, node.value.values)
                    if isinstance(k, ast.Constant)
                }
    dispatch = {}
    for n, m in models.items():
        if "dispatch" in m:
            key = "decoding_type" if "Decoding" in n else "algorithm"
            dispatch[n] = {"key": key, "map": m["dispatch"], "via": "from_dict"}
    # discriminated unions: Annotated[Union[A, B], Field(discriminator="k")]
    for k, node in ctx.aliases.items():
        info = _type_info(ctx, node)
        disc = info.get("discriminator")
        if not disc:
            continue
        table = {}
        for member in info["refs"]:
            fld = models.get(member, {}).get("fields", {}).get(disc)
            if fld is None:
                continue
            for val in fld.get("choices") or [fld.get("default")]:
                if val is not None:
                    table[val] = member
        if table:
            dispatch[k] = {"key": disc, "map": dict(sorted(table.items())),
                           "via": "discriminator"}
    if dispatch:
        doc["dispatch"] = dispatch
    for cand in ("TorchLlmArgs", "LlmArgs"):
        if cand in models:
            doc["top"] = cand
            break
    if "TrtLlmArgs" in models:
        doc["trt_top"] = "TrtLlmArgs"
    elif "LlmArgs" in models and "TorchLlmArgs" not in models:
        doc["trt_top"] = "LlmArgs"
    return doc


# --------------------------------------------------------------------------
# docs mode
# --------------------------------------------------------------------------
_SIG_START = re.compile(r"class\s+tensorrt_llm\.llmapi\.(?:llm_args\.)?(\w+)\(")


def _split_top(s: str, sep: str = ",") -> list[str]:
    out, depth, cur, quote = [], 0, [], None
    for ch in s:
        if quote:
            cur.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"":
            quote = ch
        elif ch in "([{<":
            depth += 1
        elif ch in ")]}>":
            depth -= 1
        if ch == sep and depth == 0:
            out.append("".join(cur))
            cur = []
        else:
            cur.append(ch)
    if "".join(cur).strip():
        out.append("".join(cur))
    return out


def _doc_type(t: str) -> str:
    t = re.sub(r"~?(?:[A-Za-z_][\w]*\.)+([A-Za-z_]\w*)", r"\1", t)
    t = t.replace(" ", "")
    t = t.replace("List[", "list[").replace("Dict[", "dict[")
    return t


def extract_docs(paths: list[Path]) -> dict[str, Any]:
    text = "\n".join(p.read_text(encoding="utf-8") for p in paths)
    models: dict[str, dict] = {}
    for m in _SIG_START.finditer(text):
        name = m.group(1)
        i, depth, quote = m.end(), 1, None
        while i < len(text) and depth:
            ch = text[i]
            if quote:
                if ch == quote:
                    quote = None
            elif ch in "'\"":
                quote = ch
            elif ch == "(":
                depth += 1
            elif ch == ")":
                depth -= 1
            i += 1
        body = text[m.end():i - 1].replace("\n", " ")
        fields: dict[str, dict] = {}
        for part in _split_top(body):
            part = part.strip()
            if not part or part in ("*", "/") or part.startswith("**"):
                continue
            mm = re.match(r"(\w+)\s*(?::\s*(.*?))?(?:\s=\s(.*))?$", part)
            if not mm:
                continue
            fname, ftype, fdef = mm.groups()
            f: dict[str, Any] = {"type": _doc_type(ftype or "Any")}
            if fdef is None:
                f["required"] = True
            else:
                fdef = fdef.strip()
                f["required"] = False
                if fdef == "<factory>":
                    f["default_factory"] = "<factory>"
                else:
                    try:
                        f["default"] = ast.literal_eval(fdef)
                    except Exception:
                        f["default_expr"] = fdef
            lit = re.search(r"Literal\[(.*)\]", ftype or "")
            if lit:
                try:
                    f["choices"] = list(
                        ast.literal_eval("[" + lit.group(1) + "]"))
                except Exception:
                    pass
            fields[fname] = f
        if fields and (name not in models or
                       len(fields) > len(models[name]["fields"])):
            models[name] = {"bases": [], "fields": fields,
                            "own_fields": sorted(fields)}
    doc: dict[str, Any] = {"models": dict(sorted(models.items()))}
    if "TorchLlmArgs" in models:
        doc["top"] = "TorchLlmArgs"
    elif "LlmArgs" in models:
        doc["top"] = "LlmArgs"
    if "TrtLlmArgs" in models:
        doc["trt_top"] = "TrtLlmArgs"
    return doc


# --------------------------------------------------------------------------
# release-to-release comparison
# --------------------------------------------------------------------------
def diff_top(old: dict[str, Any], new: dict[str, Any]) -> dict[str, Any]:
    """Keys of the top model (and of its nested models of the same name)
    that exist in `old` but not in `new`, and the other way round."""
    out: dict[str, Any] = {"since": old.get("release"), "gone": {},
                           "added": {}}
    for side_old, side_new in ((old.get("top"), new.get("top")),):
        if not side_old or not side_new:
            continue
        pairs = [(side_old, side_new)]
        for mname in sorted(set(old["models"]) & set(new["models"])):
            if mname not in (side_old, side_new):
                pairs.append((mname, mname))
        for a, b in pairs:
            fa = set(old["models"].get(a, {}).get("fields", {}))
            fb = set(new["models"].get(b, {}).get("fields", {}))
            label = b
            if fa - fb:
                out["gone"][label] = sorted(fa - fb)
            if fb - fa:
                out["added"][label] = sorted(fb - fa)
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--mode", choices=("source", "docs"), default="source")
    ap.add_argument("inputs", nargs="+", type=Path,
                    help="llm_args.py (+ other source files) or saved docs "
                    "page text")
    ap.add_argument("--release", required=True)
    ap.add_argument("--origin", required=True,
                    help="where the input came from: repo/path@commit or URL")
    ap.add_argument("--version-note", default=None,
                    help="how the input was mapped to the release")
    ap.add_argument("--annotations", type=Path, default=None,
                    help="JSON with renamed/removed/notes to merge")
    ap.add_argument("--previous", type=Path, default=None,
                    help="JSON of an older release to diff against")
    ap.add_argument("-o", "--output", type=Path, default=None)
    ap.add_argument("--keep-descriptions", action="store_true",
                    help="keep the upstream field descriptions (off: rules/ carries facts, not upstream prose)")
    args = ap.parse_args(argv)
    global KEEP_DESCRIPTIONS
    KEEP_DESCRIPTIONS = args.keep_descriptions

    doc = extract_docs(args.inputs) if args.mode == "docs" else \
        extract_source(args.inputs)
    out: dict[str, Any] = {
        "schema": SCHEMA_VERSION,
        "release": args.release,
        "input_mode": args.mode,
        "source": args.origin,
    }
    if args.version_note:
        out["version_note"] = args.version_note
    out.update(doc)
    out["renamed"] = {}
    out["removed"] = []
    if args.annotations:
        ann = json.loads(args.annotations.read_text(encoding="utf-8"))
        for k, v in ann.items():
            if k == "renamed":
                out["renamed"].update(v)
            elif k == "removed":
                out["removed"].extend(v)
            else:
                out[k] = v
    if args.previous:
        prev = json.loads(args.previous.read_text(encoding="utf-8"))
        out["diff_from_previous"] = diff_top(prev, out)
    counts = {n: len(m["fields"]) for n, m in out["models"].items()}
    out["field_counts"] = counts
    text = json.dumps(out, indent=1, sort_keys=False, ensure_ascii=False)
    if args.output:
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(text + "\n", encoding="utf-8")
        top = out.get("top")
        print(f"{args.output}: {len(out['models'])} models, "
              f"{counts.get(top, 0)} fields in {top}", file=sys.stderr)
    else:
        print(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
