"""Offline checks of a TensorRT-LLM LLM API options file (``--extra_llm_api_options`` / ``--config``).

``trtllm-serve <HF model> --extra_llm_api_options config.yaml`` hands the YAML's keys to the
release's ``LlmArgs`` (``TorchLlmArgs`` on the PyTorch backend, ``TrtLlmArgs`` on the engine
backend), a pydantic model. This module checks such a file against the schema of that release
as extracted into ``rules/llmargs/<release>.json`` by ``tools/extract_llmargs.py``, without
importing ``tensorrt_llm``:

* :func:`load_yaml` reads the file (bounded, one-line :class:`~doctor.errors.UsageError` for
  anything that is not a small, plain YAML mapping);
* :func:`schema_for` picks the schema of a release, or the nearest known one with a note;
* :func:`validate` returns a list of :class:`Problem` (unknown, renamed and removed keys at every
  nesting level, types, choices, ranges, and cross-field checks, some of them needing facts about
  the model and the machine passed in an :class:`LlmArgsContext`);
* :func:`memory_settings` pulls out what the memory planner needs;
* :func:`options_from_serve_flags` turns trtllm-serve command-line flags into the same option keys.

Where a check restates TensorRT-LLM behaviour, its source is named next to it (repo/path@commit).
"""

from __future__ import annotations

import difflib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from doctor.errors import UsageError

WHAT = "an LLM API options file"
MAX_BYTES = 8 << 20
MAX_NODES = 100_000
MAX_DEPTH = 64

# ---------------------------------------------------------------------------------------------
# results
# ---------------------------------------------------------------------------------------------

KINDS = ("unknown-key", "renamed", "removed", "type", "range", "choice", "inconsistent")


@dataclass(frozen=True)
class Problem:
    """One finding about one key.

    ``key`` is the dotted path (``kv_cache_config.free_gpu_memory_fraction``; list items as
    ``cuda_graph_config.batch_sizes[2]``), ``kind`` one of :data:`KINDS`, ``message`` one sentence
    naming the value seen and what is expected, ``suggestion`` a short hint for the user (or
    None), ``severity`` ``"error"`` or ``"warning"``, ``replacement`` the bare key to use instead
    (a rename target or a did-you-mean), when there is one.
    """

    key: str
    kind: str
    message: str
    suggestion: str | None = None
    severity: str = "error"
    replacement: str | None = None


@dataclass
class LlmArgsContext:
    """What is known about the model and the machine; every field is optional (None = unknown)."""

    gpus: int | None = None  # GPUs visible to the server
    num_attention_heads: int | None = None
    num_kv_heads: int | None = None
    num_experts: int | None = None  # routed experts of an MoE model (0 or None for dense)
    num_nextn_predict_layers: int | None = None  # MTP layers in the checkpoint (DeepSeek-V3/R1: 1)
    max_position_embeddings: int | None = None
    model: str | None = None  # a name for messages

    @classmethod
    def from_model_spec(cls, spec: Any, *, gpus: int | None = None,
                        num_nextn_predict_layers: int | None = None) -> "LlmArgsContext":
        """From a :class:`doctor.sizing.ModelSpec` (or anything with the same attribute names)."""

        def pos(name: str) -> int | None:
            v = getattr(spec, name, None)
            return v if isinstance(v, int) and not isinstance(v, bool) and v > 0 else None

        experts = getattr(spec, "num_experts", None)
        return cls(gpus=gpus, num_attention_heads=pos("num_heads"), num_kv_heads=pos("num_kv_heads"),
                   num_experts=experts if isinstance(experts, int) and experts > 0 else None,
                   num_nextn_predict_layers=num_nextn_predict_layers,
                   max_position_embeddings=pos("max_position_embeddings"),
                   model=getattr(spec, "name", None) or None)


# ---------------------------------------------------------------------------------------------
# reading the YAML
# ---------------------------------------------------------------------------------------------

def _mark(exc: Any) -> str:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    if mark is None:
        return ""
    return f" at line {mark.line + 1} column {mark.column + 1}"


def _yaml_problem(exc: Any) -> str:
    parts = [p for p in (getattr(exc, "context", None), getattr(exc, "problem", None)) if p]
    return _one_line(", ".join(parts) or "syntax error")


def _one_line(text: Any) -> str:
    return " ".join(str(text).split())


def load_yaml(path: Path | str) -> dict:
    """The options mapping of a YAML file; every way it can be wrong is a one-line UsageError.

    Rejected: unreadable / oversized / binary files (via :func:`doctor.inputs.read_text`), YAML
    syntax errors, more than one document, a document that is not a mapping (an empty file
    included), duplicate keys in any mapping, non-scalar keys, and structures that would expand
    past :data:`MAX_NODES` nodes or :data:`MAX_DEPTH` levels (anchor/alias bombs, recursive
    aliases). Line and column are given when YAML reports them.
    """
    from doctor.inputs import read_text

    text = read_text(path, WHAT, MAX_BYTES)
    import yaml  # lazily: PyYAML is only needed here

    class _Bounded(yaml.SafeLoader):
        """Counts nodes and depth while composing, so a huge document stops early."""

        def __init__(self, stream: str) -> None:
            super().__init__(stream)
            self._nodes = 0
            self._depth = 0

        def compose_node(self, parent, index):  # noqa: ANN001 - PyYAML's signature
            if self.check_event(yaml.AliasEvent):
                return super().compose_node(parent, index)
            self._nodes += 1
            self._depth += 1
            try:
                if self._nodes > MAX_NODES:
                    raise _Limit(f"more than {MAX_NODES:,} YAML nodes", self.peek_event().start_mark)
                if self._depth > MAX_DEPTH:
                    raise _Limit(f"nested deeper than {MAX_DEPTH} levels", self.peek_event().start_mark)
                return super().compose_node(parent, index)
            finally:
                self._depth -= 1

    loader = _Bounded(text)
    try:
        try:
            node = loader.get_single_node()
        except _Limit as exc:
            raise UsageError(f"{path}: {exc.what}{_mark_of(exc.mark)}; not {WHAT}") from None
        except yaml.MarkedYAMLError as exc:
            raise UsageError(f"{path}: not valid YAML ({_yaml_problem(exc)}{_mark(exc)})") from None
        except yaml.YAMLError as exc:
            raise UsageError(f"{path}: not valid YAML ({_one_line(exc)})") from None
        except RecursionError:
            raise UsageError(f"{path}: nested too deeply to read; not {WHAT}") from None
        if node is None:
            raise UsageError(f"{path}: empty document; {WHAT} must be a YAML mapping of option: value")
        _check_nodes(node, path)
        if not isinstance(node, yaml.MappingNode):
            kind = "a list" if isinstance(node, yaml.SequenceNode) else "a single value"
            raise UsageError(f"{path}: the document is {kind}{_mark_of(node.start_mark)}; "
                             f"{WHAT} must be a YAML mapping of option: value")
        try:
            data = loader.construct_document(node)
        except yaml.MarkedYAMLError as exc:
            raise UsageError(f"{path}: not valid YAML ({_yaml_problem(exc)}{_mark(exc)})") from None
        except (yaml.YAMLError, ValueError, OverflowError) as exc:
            raise UsageError(f"{path}: not valid YAML ({_one_line(exc)})") from None
        except RecursionError:
            raise UsageError(f"{path}: nested too deeply to read; not {WHAT}") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):  # pragma: no cover - a MappingNode always builds a dict
        raise UsageError(f"{path}: {WHAT} must be a YAML mapping of option: value")
    return data


class _Limit(Exception):
    def __init__(self, what: str, mark: Any) -> None:
        super().__init__(what)
        self.what = what
        self.mark = mark


def _mark_of(mark: Any) -> str:
    return f" at line {mark.line + 1} column {mark.column + 1}" if mark is not None else ""


def _check_nodes(root: Any, path: Path | str) -> None:
    """Expanded size and depth of the node graph (aliases counted at every use), recursive
    aliases, duplicate keys and non-scalar keys; memoised, so an alias bomb costs linear time."""
    import yaml

    sizes: dict[int, tuple[int, int]] = {}  # id(node) -> (expanded nodes, depth)
    active: set[int] = set()

    def visit(node: Any) -> tuple[int, int]:
        nid = id(node)
        if nid in sizes:
            return sizes[nid]
        if nid in active:
            raise UsageError(f"{path}: a recursive YAML alias{_mark_of(node.start_mark)}; not {WHAT}")
        active.add(nid)
        total, depth = 1, 1
        if isinstance(node, yaml.MappingNode):
            seen: dict[tuple[str, str], Any] = {}
            for key, value in node.value:
                if not isinstance(key, yaml.ScalarNode):
                    raise UsageError(f"{path}: a mapping key that is not a plain value"
                                     f"{_mark_of(key.start_mark)}; not {WHAT}")
                if key.tag != "tag:yaml.org,2002:merge":
                    ident = (key.tag, key.value)
                    if ident in seen:
                        first = seen[ident]
                        raise UsageError(f"{path}: duplicate key {key.value!r}{_mark_of(key.start_mark)} "
                                         f"(first at line {first.line + 1}); YAML would keep only the last value")
                    seen[ident] = key.start_mark
                for child in (key, value):
                    n, d = visit(child)
                    total += n
                    depth = max(depth, d + 1)
                    if total > MAX_NODES:
                        break
        elif isinstance(node, yaml.SequenceNode):
            for child in node.value:
                n, d = visit(child)
                total += n
                depth = max(depth, d + 1)
                if total > MAX_NODES:
                    break
        active.discard(nid)
        if total > MAX_NODES:
            raise UsageError(f"{path}: expands to more than {MAX_NODES:,} values (anchors and aliases "
                             f"included){_mark_of(node.start_mark)}; not {WHAT}")
        if depth > MAX_DEPTH:
            raise UsageError(f"{path}: nested deeper than {MAX_DEPTH} levels (aliases included)"
                             f"{_mark_of(node.start_mark)}; not {WHAT}")
        sizes[nid] = (total, depth)
        return total, depth

    visit(root)


# ---------------------------------------------------------------------------------------------
# schemas
# ---------------------------------------------------------------------------------------------

# Where a branch snapshot sits among the numbered releases (its version_note: main before 1.4).
BRANCH_POSITION = {"main-2026": "1.4.0.dev0"}

_CACHE: dict[tuple[str, int, int], dict] = {}


def default_directory() -> Path:
    from doctor.kb import rules_dir

    return rules_dir() / "llmargs"


def _label_version(label: str):
    from packaging.version import Version

    if label in BRANCH_POSITION:
        return Version(BRANCH_POSITION[label])
    m = re.fullmatch(r"(\d+)\.(\d+)(?:\.(\d+))?(?:rc(\d*))?", label)
    if m is None:
        return Version("9999") if label.startswith("main") else None
    text = f"{m[1]}.{m[2]}.{m[3] or 0}"
    if "rc" in label:
        text += f"rc{m[4] or 0}"
    return Version(text)


def _read_schema(path: Path) -> dict:
    from doctor.kb import KBError

    try:
        st = path.stat()
    except OSError as exc:
        raise KBError(f"{path}: cannot read the LLM API schema ({exc.strerror or exc})") from None
    key = (str(path), st.st_mtime_ns, st.st_size)
    hit = _CACHE.get(key)
    if hit is not None:
        return hit
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise KBError(f"{path}: not a readable LLM API schema ({_one_line(exc)})") from None
    if not isinstance(data, dict) or data.get("schema") != 1 or not isinstance(data.get("models"), dict):
        raise KBError(f"{path}: not an LLM API schema (expected 'schema': 1 and 'models')")
    _CACHE[key] = data
    return data


def known_releases(directory: Path | str | None = None) -> list[str]:
    """The release labels with a schema in ``directory``, oldest first."""
    directory = Path(directory) if directory is not None else default_directory()
    labels = [p.stem for p in directory.glob("*.json") if _label_version(p.stem) is not None]
    return sorted(labels, key=_label_version)


def schema_for(release_version: str | None, directory: Path | str | None = None) -> tuple[dict, str, str | None]:
    """``(schema, label, note)`` for a TensorRT-LLM release.

    The schema of that release line when known (``1.2.1`` -> ``1.2``, ``1.3.0rc11`` ->
    ``1.3.0rc``); otherwise the nearest known one: the same major.minor, else the closest older
    release, else (a release older than every known one) the oldest; an unreadable version or
    None gives the newest. ``note`` says which schema was used and that the release's own is not
    known (None when the release's own line was found). The returned dict is a shallow copy of
    the cached JSON with ``_label`` and ``_releases`` (every known ``(label, schema)``, oldest
    first) added, which :func:`validate` uses to explain keys of other releases.
    """
    from packaging.version import InvalidVersion, Version

    directory = Path(directory) if directory is not None else default_directory()
    labels = known_releases(directory)
    if not labels:
        from doctor.kb import KBError

        raise KBError(f"{directory}: no LLM API schemas (*.json)")
    newest = labels[-1]
    note: str | None = None
    chosen: str
    wanted = (release_version or "").strip()
    if not wanted:
        chosen = newest
        note = f"no TensorRT-LLM release given; checked against the newest known schema ({newest})"
    elif wanted in labels:
        chosen = wanted
    elif wanted.startswith("main"):
        mains = [label for label in labels if label.startswith("main")]
        chosen = mains[-1] if mains else newest
        note = f"TensorRT-LLM {wanted}: its own LLM API schema is not known; checked against {chosen}"
    else:
        try:
            v = Version(wanted.lstrip("vV"))
        except InvalidVersion:
            v = None
        if v is None:
            chosen = newest
            note = (f"cannot read TensorRT-LLM release {wanted!r}; checked against the newest known "
                    f"schema ({newest})")
        else:
            versions = {label: _label_version(label) for label in labels}
            same = [lb for lb in labels if versions[lb].release[:2] == v.release[:2]]
            older = [lb for lb in labels if versions[lb] <= v]
            if same:
                below = [lb for lb in same if versions[lb] <= v]
                chosen = below[-1] if below else same[0]
                lv = versions[chosen]
                exact = (chosen not in BRANCH_POSITION and not chosen.startswith("main")
                         and ("rc" not in chosen or v.is_prerelease)
                         and (chosen.count(".") < 2 or lv.release[2:3] == v.release[2:3]))
            else:
                chosen = older[-1] if older else labels[0]
                exact = False
            if not exact:
                note = (f"TensorRT-LLM {wanted}: its own LLM API schema is not known; checked against "
                        f"the {chosen} schema (the nearest known release)")
    releases = [(label, _read_schema(directory / f"{label}.json")) for label in labels]
    schema = dict(dict(releases)[chosen])
    schema["_label"] = chosen
    schema["_releases"] = releases
    return schema, chosen, note


# ---------------------------------------------------------------------------------------------
# types as written in the schema ("int|None", "list[int]", "Literal['a', 'b']", model names)
# ---------------------------------------------------------------------------------------------

def _split_top(text: str, sep: str) -> list[str]:
    parts, depth, quote, start = [], 0, "", 0
    for i, ch in enumerate(text):
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch in "[(":
            depth += 1
        elif ch in "])":
            depth -= 1
        elif ch == sep and depth == 0:
            parts.append(text[start:i].strip())
            start = i + 1
    parts.append(text[start:].strip())
    return [p for p in parts if p]


_BASIC = {"int": "int", "float": "float", "bool": "bool", "str": "str", "Path": "str", "bytes": "str",
          "None": "none", "NoneType": "none", "Any": "any", "object": "any", "dict": "dict", "list": "list",
          "set": "list", "tuple": "list", "frozenset": "list"}


def _parse_type(text: str, schema: dict, seen: frozenset = frozenset()) -> tuple:
    """A small tree: ('union', [...]) of ('int',) ('float',) ('bool',) ('str',) ('none',) ('any',)
    ('literal', values) ('list', item) ('dict', key, value) ('model', name) ('enum', name, values)."""
    members = _split_top(text or "object", "|")
    out: list[tuple] = []
    for m in members:
        out.extend(_parse_one(m, schema, seen))
    return ("union", out)


def _parse_one(text: str, schema: dict, seen: frozenset) -> list[tuple]:
    if text.startswith("Literal[") and text.endswith("]"):
        import ast

        try:
            values = ast.literal_eval("[" + text[len("Literal["):-1] + "]")
        except (ValueError, SyntaxError):
            return [("any",)]
        return [("literal", tuple(values))]
    head, _, rest = text.partition("[")
    head = head.strip()
    args = _split_top(rest[:-1], ",") if rest.endswith("]") else []
    if head in ("Optional",) and args:
        return list(_parse_type(args[0], schema, seen)[1]) + [("none",)]
    if head == "Union" and args:
        return [t for a in args for t in _parse_type(a, schema, seen)[1]]
    if head in ("Annotated",) and args:
        return list(_parse_type(args[0], schema, seen)[1])
    base = _BASIC.get(head)
    if head in ("List", "Set", "Tuple", "Sequence", "FrozenSet"):
        base = "list"
    if head == "Dict":
        base = "dict"
    if base == "list":
        item = _parse_type(args[0], schema, seen) if args and head not in ("tuple", "Tuple") else ("union", [("any",)])
        return [("list", item)]
    if base == "dict":
        if len(args) == 2:
            return [("dict", _parse_type(args[0], schema, seen), _parse_type(args[1], schema, seen))]
        return [("dict", ("union", [("any",)]), ("union", [("any",)]))]
    if base:
        return [(base,)]
    if head in schema.get("models", {}):
        return [("model", head)]
    enum = schema.get("enums", {}).get(head)
    if enum is not None:
        return [("enum", head, tuple((enum.get("members") or {}).values()))]
    alias = schema.get("aliases", {}).get(head)
    if alias is not None and head not in seen and alias.get("type"):
        return list(_parse_type(alias["type"], schema, seen | {head})[1])
    return [("any",)]  # a type the extraction did not follow (TokenizerBase, LoraConfig, ...)


def _describe(t: tuple) -> str:
    kind = t[0]
    if kind == "union":
        parts, seen = [], set()
        for m in t[1]:
            d = _describe(m)
            if d not in seen:
                seen.add(d)
                parts.append(d)
        return " or ".join(parts) if parts else "any value"
    return {
        "int": "an integer", "float": "a number", "bool": "true or false", "str": "a string",
        "none": "null", "any": "any value", "dict": "a mapping",
    }.get(kind) or (
        "one of " + ", ".join(_fmt(v) for v in t[1]) if kind == "literal" else
        f"a list of {_plural(t[1])}" if kind == "list" else
        f"a mapping of {t[1]} options" if kind == "model" else
        "one of " + ", ".join(_fmt(v) for v in t[2]) if kind == "enum" else "a value")


def _plural(t: tuple) -> str:
    d = _describe(t)
    return {"an integer": "integers", "a number": "numbers", "a string": "strings",
            "true or false": "booleans"}.get(d, d)


def _fmt(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        s = value if len(value) <= 60 else value[:57] + "..."
        return repr(s)
    if isinstance(value, (dict, list)):
        s = json.dumps(value, default=str)
        return s if len(s) <= 60 else s[:57] + "..."
    return repr(value)


def _kind_of(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int):
        return "an integer"
    if isinstance(value, float):
        return "a number"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, (list, tuple, set)):
        return "a list"
    return type(value).__name__


_TRUE = {"1", "true", "yes", "on", "t", "y"}
_FALSE = {"0", "false", "no", "off", "f", "n"}


def _as_number(value: Any, want: str) -> tuple[str, Any]:
    """('ok', number) | ('warn', number) | ('bad', None), following pydantic's lax mode."""
    if isinstance(value, bool):
        return "warn", int(value)
    if isinstance(value, int):
        return "ok", value
    if isinstance(value, float):
        if want == "float":
            return ("ok", value) if math.isfinite(value) else ("bad", None)
        return ("ok", int(value)) if value.is_integer() else ("bad", None)
    if isinstance(value, str):
        s = value.strip().replace("_", "")
        try:
            return "ok", int(s)
        except ValueError:
            pass
        if want == "float":
            try:
                return "ok", float(s)
            except ValueError:
                return "bad", None
        try:
            f = float(s)
        except ValueError:
            return "bad", None
        return ("ok", int(f)) if f.is_integer() else ("bad", None)
    return "bad", None


def _scalar_ok(t: tuple, value: Any) -> tuple[str, Any]:
    kind = t[0]
    if kind == "any":
        return "ok", value
    if kind == "none":
        return ("ok", None) if value is None else ("bad", None)
    if value is None:
        return "bad", None
    if kind in ("int", "float"):
        return _as_number(value, kind)
    if kind == "bool":
        if isinstance(value, bool):
            return "ok", value
        if isinstance(value, int) and value in (0, 1):
            return "ok", bool(value)
        if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
            return "ok", value.strip().lower() in _TRUE
        return "bad", None
    if kind == "str":
        return ("ok", value) if isinstance(value, str) else ("bad", None)
    if kind == "literal":
        for v in t[1]:
            if type(v) is type(value) and v == value:
                return "ok", value
        return "bad", None
    if kind == "enum":
        for v in t[2]:
            if type(v) is type(value) and v == value:
                return "ok", value
        return "bad", None
    return "bad", None


# ---------------------------------------------------------------------------------------------
# trtllm-serve flag names
# ---------------------------------------------------------------------------------------------

# Click option names and aliases of trtllm-serve -> the LlmArgs option they set (dotted) and the
# click type. Source: NVIDIA/TensorRT-LLM tensorrt_llm/commands/serve.py@00209af149e7774406881a37283dce303571eb11
# (the newest copy of serve.py the code index returns; it still has --backend tensorrt); the
# --tp/--pp/--ep, --kv_cache_free_gpu_mem_fraction, --disable_kv_cache_reuse, --max_input_len and
# --skip_tokenizer_init spellings come from tensorrt_llm/commands/common_llm_options.py@1f719075a237587ffbfb120f78330602884d7855.
SERVE_FLAGS: dict[str, tuple[str, str]] = {
    "model": ("model", "str"),
    "tokenizer": ("tokenizer", "str"),
    "custom_tokenizer": ("custom_tokenizer", "str"),
    "backend": ("backend", "backend"),
    "max_beam_width": ("max_beam_width", "int"),
    "max_batch_size": ("max_batch_size", "int"),
    "max_num_tokens": ("max_num_tokens", "int"),
    "max_seq_len": ("max_seq_len", "int"),
    "max_input_len": ("max_input_len", "int"),
    "tensor_parallel_size": ("tensor_parallel_size", "int"),
    "tp_size": ("tensor_parallel_size", "int"),
    "tp": ("tensor_parallel_size", "int"),
    "pipeline_parallel_size": ("pipeline_parallel_size", "int"),
    "pp_size": ("pipeline_parallel_size", "int"),
    "pp": ("pipeline_parallel_size", "int"),
    "context_parallel_size": ("context_parallel_size", "int"),
    "cp_size": ("context_parallel_size", "int"),
    "moe_expert_parallel_size": ("moe_expert_parallel_size", "int"),
    "ep_size": ("moe_expert_parallel_size", "int"),
    "ep": ("moe_expert_parallel_size", "int"),
    "gpus_per_node": ("gpus_per_node", "int"),
    "free_gpu_memory_fraction": ("kv_cache_config.free_gpu_memory_fraction", "float"),
    "kv_cache_free_gpu_memory_fraction": ("kv_cache_config.free_gpu_memory_fraction", "float"),
    "kv_cache_free_gpu_mem_fraction": ("kv_cache_config.free_gpu_memory_fraction", "float"),
    "disable_kv_cache_reuse": ("kv_cache_config.enable_block_reuse", "not-flag"),
    "num_postprocess_workers": ("num_postprocess_workers", "int"),
    "trust_remote_code": ("trust_remote_code", "flag"),
    "skip_tokenizer_init": ("skip_tokenizer_init", "flag"),
    "revision": ("revision", "str"),
    "reasoning_parser": ("reasoning_parser", "str"),
    "fail_fast_on_attention_window_too_large": ("fail_fast_on_attention_window_too_large", "flag"),
    "otlp_traces_endpoint": ("otlp_traces_endpoint", "str"),
    "enable_chunked_prefill": ("enable_chunked_prefill", "flag"),
}

# Flags of trtllm-serve that configure the server, not LlmArgs (dropped). --cluster_size /
# --moe_cluster_parallel_size is among them: serve.py@00209af1 passes it to get_llm_args(), which
# has no such parameter and returns it in the extra dict that serve() discards.
SERVE_ONLY_FLAGS = frozenset({
    "host", "port", "log_level", "custom_module_dirs", "config", "extra_llm_api_options", "tool_parser",
    "metadata_server_config_file", "server_role", "disagg_cluster_uri", "media_io_kwargs", "chat_template",
    "moe_cluster_parallel_size", "cluster_size",
})

# Serve flag names that NVIDIA's own curated YAMLs put at the top level of the options file
# (examples/configs/curated/deepseek-r1-throughput.yaml@180e9756, qwen3.yaml@62e51e52) and that
# the main-branch deployment guide lists as YAML options
# (docs/source/deployment-guide/deployment-guide-for-deepseek-r1-on-trtllm.md@03e4d74f).
# They are not LlmArgs fields in any extracted release; whether a release applies them from the
# YAML is not verified, so they are warnings that name the LlmArgs field.
SERVE_NAMES_IN_YAML = {
    "kv_cache_free_gpu_memory_fraction": "kv_cache_config.free_gpu_memory_fraction",
    "free_gpu_memory_fraction": "kv_cache_config.free_gpu_memory_fraction",
    "kv_cache_free_gpu_mem_fraction": "kv_cache_config.free_gpu_memory_fraction",
    "tp_size": "tensor_parallel_size",
    "pp_size": "pipeline_parallel_size",
    "cp_size": "context_parallel_size",
    "ep_size": "moe_expert_parallel_size",
    "cluster_size": "moe_cluster_parallel_size",
}


def options_from_serve_flags(flags: dict) -> dict:
    """LLM API options from trtllm-serve command-line flags, as trtllm-serve builds them.

    Follows trtllm-serve's click options at NVIDIA/TensorRT-LLM
    ``tensorrt_llm/commands/serve.py@00209af149e7774406881a37283dce303571eb11`` (the newest copy
    readable here; the 1.x line before the TensorRT engine backend was removed), plus the short
    spellings of ``tensorrt_llm/commands/common_llm_options.py@1f719075``. ``flags`` maps flag
    names (with or without leading dashes: ``--tp_size``, ``tp_size``) to values (strings as
    typed, or already-converted values; a flag given without a value is True). Aliases land on
    one option (``--tp_size`` and ``--tensor_parallel_size`` -> ``tensor_parallel_size``;
    ``--kv_cache_free_gpu_memory_fraction`` -> ``kv_cache_config.free_gpu_memory_fraction``, which
    serve builds as ``KvCacheConfig(free_gpu_memory_fraction=...)``). Server-only flags
    (:data:`SERVE_ONLY_FLAGS`) are dropped; ``--backend pytorch`` is dropped too (it only picks the
    LLM class; serve pops ``backend`` for the engine backend); unknown flags are kept under their
    own name so that :func:`validate` reports them. Only the flags given are returned: serve's
    defaults are not filled in.
    """
    out: dict[str, Any] = {}
    for raw, value in flags.items():
        name = str(raw).lstrip("-")
        if name in SERVE_ONLY_FLAGS:
            continue
        spec = SERVE_FLAGS.get(name)
        if spec is None:
            out[name] = value
            continue
        dest, kind = spec
        if kind in ("flag", "not-flag"):
            if value is None or value == "":
                value = True
            ok, conv = _scalar_ok(("bool",), value)
            value = (conv if ok == "ok" else value)
            if kind == "not-flag" and isinstance(value, bool):
                value = not value
        elif kind in ("int", "float") and isinstance(value, str):
            state, conv = _as_number(value, kind)
            value = conv if state == "ok" else value
        elif kind == "backend":
            value = {"trt": "tensorrt"}.get(value, value)
            if value == "pytorch":
                continue
        target = out
        parts = dest.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out


# ---------------------------------------------------------------------------------------------
# validation
# ---------------------------------------------------------------------------------------------

def _strip_comment(text: str) -> str:
    return text.split(" (", 1)[0].strip()


def _removed_entries(schema: dict) -> dict[str, str]:
    """'removed' strings -> {dotted key: the whole entry}; entries about values or classes skipped."""
    out: dict[str, str] = {}
    for entry in schema.get("removed") or []:
        if not isinstance(entry, str):
            continue
        m = re.match(r"([A-Za-z_][\w.]*(?: and [A-Za-z_][\w.]*)*)(?:\s*\((.*)\))?\s*$", entry)
        if not m:
            continue
        for key in m[1].split(" and "):
            if key[:1].islower():
                out[key] = entry
    return out


# YAML keys that update_llm_args_with_extra_dict moves to a field before validation. Source:
# NVIDIA/TensorRT-LLM tensorrt_llm/llmapi/llm_args.py@0004396720054fd8e205cbf616f21f0b57c6b412
# ("if 'hf_revision' in llm_args_dict: llm_args_dict.setdefault('revision', ...)"); the 1.3.0rc
# extraction records the same move in its accepted_aliases.
YAML_KEY_MOVES = {"hf_revision": ("revision", "1.3.0rc0")}


def _accepted_aliases(schema: dict, label: str) -> dict[str, str]:
    out = {k: v for k, v in (schema.get("accepted_aliases") or {}).items() if isinstance(v, str)}
    lv = _label_version(label)
    for old, (new, since) in YAML_KEY_MOVES.items():
        from packaging.version import Version

        if lv is not None and lv >= Version(since):
            out.setdefault(old, new)
    return out


def _deprecation_hint(text: str) -> str | None:
    m = re.search(r"[Uu]se '?([A-Za-z_][\w.]*)'? instead", text or "")
    return m[1] if m else None


@dataclass
class _Ctx:
    schema: dict
    label: str
    releases: list[tuple[str, dict]]
    problems: list[Problem] = field(default_factory=list)

    def add(self, key: str, kind: str, message: str, *, severity: str = "error",
            suggestion: str | None = None, replacement: str | None = None) -> None:
        self.problems.append(Problem(key=key, kind=kind, message=message, suggestion=suggestion,
                                     severity=severity, replacement=replacement))


def _top_model(schema: dict, options: dict) -> str:
    backend = options.get("backend")
    if backend in ("tensorrt", "trt") and schema.get("trt_top"):
        return schema["trt_top"]
    return schema.get("top") or "LlmArgs"


def _older_and_self(ctx: _Ctx) -> list[tuple[str, dict]]:
    if not ctx.releases:
        return [(ctx.label, ctx.schema)]
    labels = [lb for lb, _ in ctx.releases]
    if ctx.label not in labels:
        return [(ctx.label, ctx.schema)]
    return ctx.releases[: labels.index(ctx.label) + 1]


def _newer(ctx: _Ctx) -> list[tuple[str, dict]]:
    labels = [lb for lb, _ in ctx.releases]
    if ctx.label not in labels:
        return []
    return ctx.releases[labels.index(ctx.label) + 1:]


def _field_at(schema: dict, dotted: str, top: str | None = None) -> dict | None:
    """The field dict at a dotted path, following nested model types (any union member)."""
    models = schema.get("models", {})
    current = [top or schema.get("top") or "LlmArgs"]
    fdict = None
    for part in dotted.split("."):
        fdict = None
        for name in current:
            f = models.get(name, {}).get("fields", {}).get(part)
            if f is not None:
                fdict = f
                break
        if fdict is None:
            return None
        refs = list(fdict.get("models") or [])
        refs += [n for n in _split_top(fdict.get("type", ""), "|") if n in models and n not in refs]
        yaml_nested = (schema.get("yaml_nested") or {}).get(part)
        if yaml_nested and yaml_nested in models and yaml_nested not in refs:
            refs.append(yaml_nested)
        current = refs
    return fdict


def _model_candidates(schema: dict, fdict: dict, ftype: tuple) -> list[str]:
    models = schema.get("models", {})
    names = [m[1] for m in ftype[1] if m[0] == "model"]
    for n in fdict.get("models") or []:
        if n in models and n not in names:
            names.append(n)
    return names


class _Validator:
    def __init__(self, ctx: _Ctx) -> None:
        self.ctx = ctx
        self.schema = ctx.schema
        self.models = self.schema.get("models", {})
        self.rel = ctx.label

    # -- models ------------------------------------------------------------------------------
    def check_model(self, name: str, data: dict, path: str, allowed: Iterable[str] = ()) -> None:
        model = self.models.get(name)
        if model is None:
            return
        fields = model.get("fields", {})
        names: dict[str, str] = {}
        for fname, f in fields.items():
            names[fname] = fname
            if isinstance(f.get("alias"), str):
                names[f["alias"]] = fname
            for a in f.get("accepts") or []:
                if isinstance(a, str):
                    names[a] = fname
        allowed = set(allowed)
        for raw_key, value in data.items():
            key = raw_key if isinstance(raw_key, str) else str(raw_key)
            dotted = f"{path}.{key}" if path else key
            if not isinstance(raw_key, str):
                self.ctx.add(dotted, "type", f"{dotted}: the key {_fmt(raw_key)} is {_kind_of(raw_key)}; "
                             f"option names are strings.", severity="error")
                continue
            if key in allowed:
                continue
            fname = names.get(key)
            if fname is None:
                self.unknown(model, name, key, dotted, value, path, list(names))
                continue
            f = fields[fname]
            self.deprecations(dotted, key, f, value)
            ftype = _parse_type(f.get("type", "object"), self.schema)
            self.check_value(ftype, f, value, dotted)

    def _extra(self, model: dict) -> str:
        return model.get("extra") or "ignore"

    def _sev(self, model: dict) -> str:
        return "error" if self._extra(model) == "forbid" else "warning"

    def _effect(self, model: dict, where: str) -> str:
        extra = self._extra(model)
        where = "at the top level" if where == "the top level" else f"in {where}"
        if extra == "forbid":
            return f"release {self.rel} rejects unknown keys {where}"
        if extra == "allow":
            return (f"release {self.rel} accepts unknown keys {where} without checking them, so it most likely "
                    f"has no effect")
        return f"release {self.rel} silently ignores unknown keys {where}"

    # -- unknown keys ---------------------------------------------------------------------------
    def unknown(self, model: dict, model_name: str, key: str, dotted: str, value: Any, path: str,
                known: list[str]) -> None:
        where = path or "the top level"
        sev = self._sev(model)
        effect = self._effect(model, where)
        # a section the release maps in update_llm_args_with_extra_dict to a class not extracted
        # (0.19/0.20 pytorch_backend_config); where the top level forbids extra keys such a
        # section still reaches LlmArgs and is rejected, so it is reported below
        if not path and self._extra(model) != "forbid" and (
                key in (self.schema.get("yaml_nested_extra") or {})
                or (key in (self.schema.get("yaml_nested") or {})
                    and self.schema["yaml_nested"][key] not in self.models)):
            return
        moved = _accepted_aliases(self.schema, self.rel).get(dotted)
        if moved:
            self.ctx.add(dotted, "renamed", f"{dotted} is the old name of {moved}; release {self.rel} still accepts "
                         f"it and moves it to {moved}.", severity="warning", suggestion=f"use {moved} instead",
                         replacement=moved)
            return
        if self._renamed(dotted, key, value, sev, effect):
            return
        if self._removed(dotted, sev, effect, value):
            return
        if not path and key in SERVE_NAMES_IN_YAML:
            target = SERVE_NAMES_IN_YAML[key]
            if _field_at(self.schema, target.split(".")[0]) is not None:
                self.ctx.add(dotted, "unknown-key",
                             f"{key} is a trtllm-serve command-line flag name, not an LlmArgs field of release "
                             f"{self.rel}; NVIDIA's curated configs put it in the YAML, but whether {self.rel} "
                             f"applies it from there is not verified.",
                             severity="warning", suggestion=f"use {target} in the YAML (or pass --{key} on the command line)",
                             replacement=target)
                return
        if self._from_other_release(dotted, sev, effect):
            return
        norm = {k.lower().replace("-", "_"): k for k in known}
        close = norm.get(key.lower().replace("-", "_"))
        if close is None:
            matches = difflib.get_close_matches(key, known, n=1, cutoff=0.8)
            close = matches[0] if matches else None
        full = f"{path}.{close}" if (close and path) else close
        self.ctx.add(dotted, "unknown-key",
                     f"{dotted} is not an option of {model_name} in release {self.rel}; {effect}.",
                     severity=sev, suggestion=f"did you mean {full}?" if close else None, replacement=full)

    def _rename_chain(self, dotted: str) -> tuple[str, str, str] | None:
        """(new name valid in this release, release that renamed it, evidence text) or None."""
        older = _older_and_self(self.ctx)
        name, first_release, evidence = dotted, None, ""
        for _ in range(6):
            step = None
            for label, sch in older:
                renamed = sch.get("renamed") or {}
                if name in renamed and isinstance(renamed[name], str):
                    step = (_strip_comment(renamed[name]), label,
                            str((sch.get("rename_evidence") or {}).get(name, "")))
            if step is None:
                break
            name, label, ev = step
            first_release = first_release or label
            evidence = evidence or ev
            if _field_at(self.schema, name) is not None:
                return name, first_release, evidence
        return None

    def _renamed(self, dotted: str, key: str, value: Any, sev: str, effect: str) -> bool:
        # a whole section dissolved into top-level fields ("pytorch_backend_config.*")
        for label, sch in _older_and_self(self.ctx):
            target = (sch.get("renamed") or {}).get(dotted + ".*")
            if isinstance(target, str):
                moves, missing = [], []
                for inner in (value if isinstance(value, dict) else {}):
                    inner = str(inner)
                    chain = self._rename_chain(inner) if _field_at(self.schema, inner) is None else (inner, "", "")
                    (moves.append(f"{inner} -> {chain[0]}") if chain else missing.append(inner))
                hint = ("move " + ", ".join(moves) if moves else "move its options to the top level")
                if missing:
                    hint += f"; no field of release {self.rel} takes " + ", ".join(missing)
                m = re.search(r"\((.*)\)", target)
                became = m[1] if m else "top-level fields"
                self.ctx.add(dotted, "renamed",
                             f"the {dotted} section was dissolved in release {label} (its options became {became}), "
                             f"and {effect}.", severity=sev, suggestion=hint)
                return True
        chain = self._rename_chain(dotted)
        if chain is None:
            return False
        new, label, evidence = chain
        inferred = " (a rename inferred from matching descriptions, not stated upstream)" if "inferred" in evidence else ""
        self.ctx.add(dotted, "renamed",
                     f"{dotted} was renamed to {new} in release {label}{inferred}; {effect}.",
                     severity=sev, suggestion=f"use {new} instead", replacement=new)
        return True

    def _removed_but_accepted(self, dotted: str, value: Any) -> None:
        entry = _removed_entries(self.schema).get(dotted, dotted)
        detail = entry[len(dotted):].strip()
        detail = detail[1:-1] if detail.startswith("(") and detail.endswith(")") else detail
        raises = re.findall(r"'([^']+)' raises", detail)
        if isinstance(value, str) and value in raises:
            self.ctx.add(dotted, "removed", f"{dotted} was removed in release {self.rel}, and the value {_fmt(value)} "
                         f"is rejected there ({detail}).", severity="error", suggestion="delete it")
            return
        tail = "" if "accepted" in detail else "; it is still accepted"
        self.ctx.add(dotted, "removed", f"{dotted} was removed in release {self.rel}"
                     + (f" ({detail})" if detail else "") + tail + ".", severity="warning", suggestion="delete it")

    def _removed(self, dotted: str, sev: str, effect: str, value: Any = None) -> bool:
        if dotted in (self.schema.get("removed_but_accepted") or []):
            self._removed_but_accepted(dotted, value)
            return True
        for label, sch in reversed(_older_and_self(self.ctx)):
            entry = _removed_entries(sch).get(dotted)
            if entry is not None:
                detail = entry[len(dotted):].strip()
                detail = detail[1:-1] if detail.startswith("(") and detail.endswith(")") else detail
                msg = f"{dotted} was removed in release {label}"
                msg += f" ({detail})" if detail else ""
                self.ctx.add(dotted, "removed", f"{msg}; {effect}.", severity=sev, suggestion="delete it")
                return True
        return False

    def _from_other_release(self, dotted: str, sev: str, effect: str) -> bool:
        # a new name used on an older release: the old name it replaced
        olds = []
        for label, sch in _newer(self.ctx):
            for old, new in (sch.get("renamed") or {}).items():
                if not isinstance(new, str):
                    continue
                new = _strip_comment(new)
                if (new == dotted or new.startswith(dotted + ".")) and _field_at(self.schema, old) is not None:
                    olds.append((label, old))
        if olds:
            first = olds[0][0]
            names = ", ".join(dict.fromkeys(o for _, o in olds))
            self.ctx.add(dotted, "unknown-key",
                         f"{dotted} is the name used from release {first} on; release {self.rel} has {names} "
                         f"instead, and {effect}.",
                         severity=sev, suggestion=f"use {names}", replacement=olds[0][1])
            return True
        for label, sch in _newer(self.ctx):
            if _field_at(sch, dotted) is not None:
                self.ctx.add(dotted, "unknown-key",
                             f"{dotted} is an option from release {label} on, not of release {self.rel}; {effect}.",
                             severity=sev, suggestion=f"upgrade to {label} or later, or delete it")
                return True
        for label, sch in reversed(_older_and_self(self.ctx)[:-1]):
            if _field_at(sch, dotted) is not None:
                self.ctx.add(dotted, "removed",
                             f"{dotted} was an option up to release {label} and is not one of release {self.rel}; "
                             f"{effect}.", severity=sev, suggestion="delete it")
                return True
        return False

    # -- deprecated but accepted --------------------------------------------------------------
    def deprecations(self, dotted: str, key: str, f: dict, value: Any) -> None:
        sch = self.schema
        renamed = sch.get("renamed") or {}
        if dotted in renamed and isinstance(renamed[dotted], str):
            new = _strip_comment(renamed[dotted])
            self.ctx.add(dotted, "renamed",
                         f"{dotted} is deprecated in release {self.rel} in favour of {new}; it is still accepted.",
                         severity="warning", suggestion=f"use {new} instead", replacement=new)
            return
        aliases = _accepted_aliases(sch, self.rel)
        if dotted in aliases and isinstance(aliases[dotted], str):
            new = aliases[dotted]
            self.ctx.add(dotted, "renamed", f"{dotted} is the old name of {new}; release {self.rel} still accepts it.",
                         severity="warning", suggestion=f"use {new} instead", replacement=new)
            return
        if dotted in (sch.get("removed_but_accepted") or []):
            self._removed_but_accepted(dotted, value)
            return
        text = (sch.get("deprecated") or {}).get(dotted)
        if isinstance(text, str) and text.startswith("False") and value is not False:
            text = None
        marked = f.get("status") == "deprecated" or bool(f.get("deprecated"))
        if text is None and not marked:
            return
        detail = text if isinstance(text, str) else (f.get("deprecated") if isinstance(f.get("deprecated"), str) else "")
        new = _deprecation_hint(detail)
        msg = f"{dotted} is deprecated in release {self.rel}"
        if detail and detail != "status 'deprecated'":
            msg += f" ({detail.rstrip('.')})"
        self.ctx.add(dotted, "renamed" if new else "removed", msg + "; it is still accepted.", severity="warning",
                     suggestion=f"use {new} instead" if new else "delete it unless you need it", replacement=new)

    # -- values -------------------------------------------------------------------------------
    def check_value(self, ftype: tuple, f: dict, value: Any, dotted: str) -> None:
        members = ftype[1]
        if any(m[0] == "any" for m in members) and not isinstance(value, dict):
            return
        if isinstance(value, dict):
            cands = _model_candidates(self.schema, f, ftype)
            if cands:
                self.check_model_value(cands, f, value, dotted)
                return
            dicts = [m for m in members if m[0] == "dict"]
            if dicts:
                self._check_dict(dicts[0], value, dotted)
                return
            if any(m[0] == "any" for m in members):
                return
            self._type_error(dotted, value, ftype)
            return
        if isinstance(value, (list, tuple)):
            lists = [m for m in members if m[0] == "list"]
            if lists:
                self._check_list(lists[0], f, value, dotted)
                return
            self._type_error(dotted, value, ftype)
            return
        results = [(m, *_scalar_ok(m, value)) for m in members if m[0] not in ("list", "dict", "model")]
        good = [r for r in results if r[1] == "ok"]
        if good:
            self._check_range(f, good[0][2], dotted, value)
            return
        warn = [r for r in results if r[1] == "warn"]
        if warn:
            self.ctx.add(dotted, "type", f"{dotted} is {_fmt(value)} ({_kind_of(value)}); release {self.rel} "
                         f"expects {_describe(ftype)} and would read it as {warn[0][2]}.", severity="warning")
            return
        choices = [v for m in members if m[0] == "literal" for v in m[1]]
        choices += [v for m in members if m[0] == "enum" for v in m[2]]
        if choices and (isinstance(value, str) or not any(m[0] not in ("literal", "enum", "none") for m in members)):
            if f.get("choices_incomplete"):
                return
            hint = None
            if isinstance(value, str):
                low = {str(c).lower(): c for c in choices}
                hint = low.get(value.lower())
                if hint is None:
                    m = difflib.get_close_matches(value, [str(c) for c in choices], n=1, cutoff=0.7)
                    hint = m[0] if m else None
            gone = self._value_history(dotted, value)
            self.ctx.add(dotted, "choice", f"{dotted} is {_fmt(value)}{gone}; release {self.rel} accepts "
                         f"{_describe(ftype)}.", severity="error",
                         suggestion=f"did you mean {_fmt(hint)}?" if hint is not None else None,
                         replacement=str(hint) if hint is not None else None)
            return
        self._type_error(dotted, value, ftype)

    def _value_history(self, dotted: str, value: Any) -> str:
        path = re.sub(r"\[\d+\]", "", dotted)
        for label, sch in reversed(_older_and_self(self.ctx)[:-1]):
            f = _field_at(sch, path)
            if f and value in (f.get("choices") or f.get("items_choices") or []):
                return f" ({_fmt(value)} was accepted up to release {label})"
        return ""

    def _type_error(self, dotted: str, value: Any, ftype: tuple) -> None:
        self.ctx.add(dotted, "type", f"{dotted} is {_fmt(value)} ({_kind_of(value)}); release {self.rel} "
                     f"expects {_describe(ftype)}.", severity="error")

    def _check_range(self, f: dict, number: Any, dotted: str, shown: Any) -> None:
        if isinstance(number, bool) or not isinstance(number, (int, float)):
            return
        for op, test, word in (("ge", lambda a, b: a >= b, "at least"), ("gt", lambda a, b: a > b, "greater than"),
                               ("le", lambda a, b: a <= b, "at most"), ("lt", lambda a, b: a < b, "less than")):
            bound = f.get(op)
            if isinstance(bound, (int, float)) and not isinstance(bound, bool) and not test(number, bound):
                self.ctx.add(dotted, "range", f"{dotted} is {_fmt(shown)}; release {self.rel} needs it {word} "
                             f"{bound}.", severity="error")
                return

    def _check_list(self, t: tuple, f: dict, value: list, dotted: str) -> None:
        minlen = f.get("min_length")
        if isinstance(minlen, int) and len(value) < minlen:
            self.ctx.add(dotted, "range", f"{dotted} has {len(value)} items; release {self.rel} needs at least "
                         f"{minlen}.", severity="error")
        item_t = t[1]
        choices = f.get("items_choices")
        for i, item in enumerate(value):
            where = f"{dotted}[{i}]"
            item_f = {k[len("items_"):]: v for k, v in f.items() if k.startswith("items_")}
            if choices:
                item_t = ("union", [("literal", tuple(choices))])
            before = len(self.ctx.problems)
            self.check_value(item_t, item_f, item, where)
            if len(self.ctx.problems) - before > 3:  # one bad list, not a wall of messages
                del self.ctx.problems[before + 3:]
                break

    def _check_dict(self, t: tuple, value: dict, dotted: str) -> None:
        key_t, val_t = t[1], t[2]
        for k, v in value.items():
            where = f"{dotted}.{k}"
            if not any(m[0] == "any" for m in key_t[1]):
                ok = any(_scalar_ok(m, k)[0] == "ok" for m in key_t[1] if m[0] not in ("list", "dict", "model"))
                if not ok:
                    self.ctx.add(where, "type", f"{where}: the key {_fmt(k)} is {_kind_of(k)}; release {self.rel} "
                                 f"expects {_describe(key_t)} keys here.", severity="error")
                    continue
            self.check_value(val_t, {}, v, where)

    def check_model_value(self, cands: list[str], f: dict, value: dict, dotted: str) -> None:
        if len(cands) == 1 and not self.models.get(cands[0], {}).get("dispatch"):
            self.check_model(cands[0], value, dotted)
            return
        key, mapping = self._dispatch(cands, f)
        if key is None:
            best = min(cands, key=lambda c: sum(1 for k in value if k not in self.models[c].get("fields", {})))
            self.check_model(best, value, dotted)
            return
        tag = value.get(key)
        if tag is None:
            default = self._default_model(f, cands)
            if default:
                self.check_model(default, value, dotted, allowed={key})
                return
            self.ctx.add(f"{dotted}.{key}", "choice", f"{dotted} has no {key}; release {self.rel} needs one of "
                         f"{', '.join(_fmt(v) for v in mapping)} to pick the kind of {dotted}.", severity="error")
            return
        target = mapping.get(tag) if isinstance(tag, str) else None
        if target is None or target not in self.models:
            low = {str(v).lower(): v for v in mapping}
            hint = low.get(str(tag).lower())
            gone = ""
            for label, sch in _older_and_self(self.ctx)[:-1]:
                for d in (sch.get("dispatch") or {}).values():
                    if d.get("key") == key and tag in (d.get("map") or {}):
                        gone = f" ({_fmt(tag)} was accepted up to release {label})"
            self.ctx.add(f"{dotted}.{key}", "choice", f"{dotted}.{key} is {_fmt(tag)}{gone}; release {self.rel} "
                         f"accepts {', '.join(_fmt(v) for v in mapping)}.", severity="error",
                         suggestion=f"did you mean {_fmt(hint)}?" if hint else None, replacement=hint)
            return
        self.check_model(target, value, dotted, allowed={key})

    def _dispatch(self, cands: list[str], f: dict) -> tuple[str | None, dict]:
        disc = f.get("discriminator")
        entries = list((self.schema.get("dispatch") or {}).values())
        for name in cands:
            d = self.models.get(name, {}).get("dispatch")
            if isinstance(d, dict):
                entries.append({"key": "decoding_type", "map": d})
        for d in entries:
            mp = d.get("map") or {}
            if (disc is None or d.get("key") == disc) and set(mp.values()) & set(cands):
                return d.get("key"), {k: v for k, v in mp.items() if v in self.models}
        if disc:
            mp = {}
            for name in cands:
                lit = self.models[name].get("fields", {}).get(disc, {}).get("choices") or []
                for v in lit:
                    mp[v] = name
            return disc, mp
        return None, {}

    def _default_model(self, f: dict, cands: list[str]) -> str | None:
        factory = f.get("default_factory")
        if not isinstance(factory, str):
            return None
        if factory in cands:
            return factory
        alias = (self.schema.get("aliases") or {}).get(factory) or {}
        models = [m for m in alias.get("models") or [] if m in cands]
        return models[0] if len(models) == 1 else None


# ---------------------------------------------------------------------------------------------
# cross-field checks
# ---------------------------------------------------------------------------------------------

def _num(value: Any) -> int | float | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, (int, float)):
        return value
    if isinstance(value, str):
        state, conv = _as_number(value, "float")
        return conv if state == "ok" else None
    return None


def _int(value: Any) -> int | None:
    n = _num(value)
    return int(n) if isinstance(n, (int, float)) and float(n).is_integer() else None


def _get(options: dict, dotted: str) -> Any:
    cur: Any = options
    for part in dotted.split("."):
        if not isinstance(cur, dict) or part not in cur:
            return None
        cur = cur[part]
    return cur


def _first(options: dict, *paths: str) -> tuple[Any, str | None]:
    for p in paths:
        v = _get(options, p)
        if v is not None:
            return v, p
    return None, None


def _truthy(value: Any) -> bool:
    state, conv = _scalar_ok(("bool",), value)
    return bool(conv) if state == "ok" else False


def _option_or_default(options: dict, schema: dict, top: str, key: str) -> tuple[int | None, str]:
    """An integer option as given, else (when the file leaves it out) the release's default, with a note saying so."""
    raw = options.get(key)
    if raw is None:
        value = _int(_schema_default(schema, top, key))
        return value, (" (the release's default)" if value is not None else "")
    return _int(raw), ""


def _schema_default(schema: dict, top: str, name: str) -> Any:
    f = schema.get("models", {}).get(top, {}).get("fields", {}).get(name) or {}
    return f.get("default")


def _cross_checks(ctx: _Ctx, options: dict, context: LlmArgsContext | None, top: str) -> None:
    schema, rel = ctx.schema, ctx.label
    # keys already reported: not checked again; keys the release does not know (or ignores) are
    # not cross-checked at all (their values have no effect there), save the serve flag names
    flagged = {p.key for p in ctx.problems if p.severity == "error"}
    flagged |= {p.key for p in ctx.problems
                if p.kind in ("unknown-key", "renamed", "removed") and p.key not in SERVE_NAMES_IN_YAML}

    def gone(key: str | None) -> bool:
        return key is not None and any(key == k or key.startswith(k + ".") for k in flagged)
    top_fields = schema.get("models", {}).get(top, {}).get("fields", {})

    # kv_cache_config.free_gpu_memory_fraction in (0, 1)
    frac_raw, frac_key = _first(options, "kv_cache_config.free_gpu_memory_fraction",
                                *SERVE_NAMES_IN_YAML_FRACTION)
    frac = _num(frac_raw)
    if frac is not None and not gone(frac_key):
        if frac <= 0 or frac > 1:
            ctx.add(frac_key, "range", f"{frac_key} is {_fmt(frac_raw)}; it is the fraction of free GPU memory "
                    f"given to the KV cache and must be greater than 0 and less than 1.", severity="error")
        elif frac == 1:
            ctx.add(frac_key, "range", f"{frac_key} is 1, which gives all free GPU memory to the KV cache and "
                    f"leaves no headroom; a value below 1 (0.9 is the default) is expected.", severity="warning")

    # max_num_tokens vs max_seq_len without chunked prefill. Source: tensorrt_llm/llmapi/llm.py
    # _check_arguments rejects a request whose prompt exceeds max_num_tokens when chunked prefill
    # is off ("... should not exceed max_num_tokens", tests/unittest/llmapi/test_llm.py
    # test_max_num_token_check).
    chunked = _truthy(options.get("enable_chunked_prefill"))
    mnt, mnt_note = _option_or_default(options, schema, top, "max_num_tokens")
    msl = _int(options.get("max_seq_len"))
    if not chunked and mnt is not None and "max_num_tokens" not in flagged:
        if msl is not None and "max_seq_len" not in flagged and mnt < msl:
            ctx.add("max_num_tokens", "inconsistent",
                    f"max_num_tokens is {mnt}{mnt_note}, below max_seq_len {msl}, and enable_chunked_prefill is off, "
                    f"so every prompt longer than {mnt} tokens is rejected ('should not exceed max_num_tokens').",
                    severity="error", suggestion="set enable_chunked_prefill: true, or raise max_num_tokens to max_seq_len")
        elif msl is None and context and context.max_position_embeddings and mnt < context.max_position_embeddings:
            ctx.add("max_num_tokens", "inconsistent",
                    f"max_num_tokens is {mnt}{mnt_note} and enable_chunked_prefill is off, so prompts longer than "
                    f"{mnt} tokens are rejected although the model allows {context.max_position_embeddings}.",
                    severity="warning", suggestion="set enable_chunked_prefill: true, or set max_seq_len to what you serve")
    if msl is not None and context and context.max_position_embeddings and msl > context.max_position_embeddings:
        ctx.add("max_seq_len", "inconsistent",
                f"max_seq_len is {msl}, above the model's max_position_embeddings {context.max_position_embeddings}.",
                severity="warning", suggestion=f"use at most {context.max_position_embeddings} unless the model is rope-scaled for more")

    # CUDA graph batch sizes vs max_batch_size. Source: tensorrt_llm/_torch/pyexecutor/model_engine.py
    # _filter_cuda_graph_batch_sizes drops sizes above min(max_batch_size, max_num_tokens/(1+draft)).
    mbs, mbs_note = _option_or_default(options, schema, top, "max_batch_size")
    sizes_raw, sizes_key = _first(options, "cuda_graph_config.batch_sizes", "cuda_graph_batch_sizes")
    sizes = [_int(s) for s in sizes_raw] if isinstance(sizes_raw, list) else []
    sizes = [s for s in sizes if s is not None]
    cgmax_raw, cgmax_key = _first(options, "cuda_graph_config.max_batch_size", "cuda_graph_max_batch_size")
    cgmax = _int(cgmax_raw)
    if mbs is not None and "max_batch_size" not in flagged:
        over = sorted({s for s in sizes if s > mbs})
        if over and not gone(sizes_key):
            ctx.add(sizes_key, "inconsistent",
                    f"{sizes_key} has {', '.join(map(str, over))}, above max_batch_size {mbs}{mbs_note}; TensorRT-LLM "
                    f"drops CUDA graph batch sizes above max_batch_size, so those graphs are not captured as given.",
                    severity="warning", suggestion=f"keep the batch sizes at or below {mbs}, or raise max_batch_size")
        if cgmax and cgmax > mbs and not gone(cgmax_key):
            ctx.add(cgmax_key, "inconsistent",
                    f"{cgmax_key} is {cgmax}, above max_batch_size {mbs}{mbs_note}; CUDA graphs for batches above "
                    f"max_batch_size are never used.", severity="warning",
                    suggestion=f"use at most {mbs}, or raise max_batch_size")
    if sizes and cgmax and not gone(cgmax_key) and not gone(sizes_key):
        cg_model = _field_at(schema, "cuda_graph_config")
        models = schema.get("models", {})
        strict = any(models.get(m, {}).get("model_validators") for m in
                     ((cg_model or {}).get("models") or []) + ["BaseCudaGraphConfig"] if m in models
                     and m != "TorchLlmArgs")
        if sizes_key == "cuda_graph_batch_sizes":
            strict = False
        if strict and cgmax != max(sizes):
            # CudaGraphConfig.validate_cuda_graph_config (1.3 line on): "max_batch_size must equal max(batch_sizes)"
            ctx.add(cgmax_key, "inconsistent",
                    f"{cgmax_key} is {cgmax} but max({sizes_key}) is {max(sizes)}; release {rel} requires them to "
                    f"be equal when both are given.", severity="error",
                    suggestion="set only batch_sizes (max_batch_size is derived from it)")
        elif not strict:
            # TorchLlmArgs.validate_cuda_graph_config (0.21-1.2): "Please don't set both ..." unless the
            # list equals the one it generates from max_batch_size.
            ctx.add(cgmax_key, "inconsistent",
                    f"both {sizes_key} and {cgmax_key} are set; release {rel} rejects that unless the list is exactly "
                    f"the one it generates from max_batch_size.", severity="warning",
                    suggestion="set only one of them")

    # speculative decoding
    spec = options.get("speculative_config")
    if isinstance(spec, dict):
        dt = spec.get("decoding_type")
        if dt == "MTP" and context and context.num_nextn_predict_layers is not None \
                and context.num_nextn_predict_layers <= 0:
            name = f" {context.model}" if context.model else ""
            ctx.add("speculative_config.decoding_type", "inconsistent",
                    f"speculative_config.decoding_type is 'MTP' but the model{name} has no MTP layers "
                    f"(num_nextn_predict_layers is {context.num_nextn_predict_layers} in its config.json); MTP "
                    f"needs a checkpoint with them (the DeepSeek-V3/R1 family).", severity="error",
                    suggestion="remove speculative_config or use a draft-model method (Eagle3, Draft_Target, NGram)")
        for k in ("max_draft_len", "num_nextn_predict_layers") if dt == "MTP" else ("max_draft_len",):
            v = _int(spec.get(k))
            key = f"speculative_config.{k}"
            if v is not None and v <= 0 and key not in flagged:
                ctx.add(key, "range", f"{key} is {v}; speculative decoding needs at least 1 draft token.",
                        severity="error", suggestion="use 1 or more, or remove speculative_config")

    # parallelism
    def size(*names: str) -> tuple[int | None, str]:
        for n in names:
            v = options.get(n)
            if v is not None:
                return _int(v), n
        return None, names[0]

    tp, tp_key = size("tensor_parallel_size", "tp_size")
    pp, _ = size("pipeline_parallel_size", "pp_size")
    cp, _ = size("context_parallel_size", "cp_size") if "context_parallel_size" in top_fields else (None, "")
    ep, ep_key = size("moe_expert_parallel_size", "ep_size")
    moe_tp, moe_tp_key = size("moe_tensor_parallel_size")
    cluster, _ = size("moe_cluster_parallel_size", "cluster_size")
    tp_e, pp_e, cp_e = tp or 1, pp or 1, cp or 1
    world = tp_e * pp_e * cp_e
    if context and context.gpus is not None and world > context.gpus:
        parts = f"tensor_parallel_size {tp_e} x pipeline_parallel_size {pp_e}"
        if cp is not None:
            parts += f" x context_parallel_size {cp_e}"
        ctx.add(tp_key, "inconsistent", f"{parts} = {world} GPUs, but {context.gpus} are visible.",
                severity="error", suggestion=f"use parallel sizes whose product is at most {context.gpus}")
    attention_dp = _truthy(options.get("enable_attention_dp"))
    if context and context.num_attention_heads and tp_e > 1 and not attention_dp:
        if context.num_attention_heads % tp_e:
            ctx.add(tp_key, "inconsistent", f"tensor_parallel_size {tp_e} does not divide the model's "
                    f"{context.num_attention_heads} attention heads.", severity="error",
                    suggestion="use a tensor_parallel_size that divides the number of heads")
        kv = context.num_kv_heads
        if kv and kv % tp_e and tp_e % kv:
            ctx.add(tp_key, "inconsistent", f"tensor_parallel_size {tp_e} neither divides the model's {kv} KV heads "
                    f"nor is a multiple of them, so they cannot be split or replicated evenly.", severity="warning")
    if ep is not None and ep > 0:
        if context and context.num_experts and context.num_experts % ep:
            ctx.add(ep_key, "inconsistent", f"moe_expert_parallel_size {ep} does not divide the model's "
                    f"{context.num_experts} experts.", severity="error",
                    suggestion="use an expert-parallel size that divides the number of experts")
        if tp_e % ep and moe_tp is None:
            # tensorrt_llm Mapping: "tp_size must equal to moe_tp_size * moe_ep_size" (moe_tp = tp // ep)
            ctx.add(ep_key, "inconsistent", f"moe_expert_parallel_size {ep} does not divide tensor_parallel_size "
                    f"{tp_e}; TensorRT-LLM requires tensor_parallel_size = moe_tensor_parallel_size x "
                    f"moe_expert_parallel_size.", severity="error",
                    suggestion="use an expert-parallel size that divides tensor_parallel_size")
        if ep > 1 and cp_e > 1:
            ctx.add(ep_key, "inconsistent", f"moe_expert_parallel_size {ep} with context_parallel_size {cp_e}: "
                    f"TensorRT-LLM's Mapping does not support MoE TP/EP together with context parallelism "
                    f"('CP don't support MoE tp/ep yet').", severity="error")
    if moe_tp is not None and moe_tp > 0:
        product = moe_tp * (ep or 1) * (cluster or 1)
        if (ep is not None or cluster is not None) and product != tp_e:
            extra = f" x moe_cluster_parallel_size {cluster}" if cluster else ""
            ctx.add(moe_tp_key, "inconsistent",
                    f"moe_tensor_parallel_size {moe_tp} x moe_expert_parallel_size {ep or 1}{extra} = {product}, "
                    f"but tensor_parallel_size is {tp_e}; TensorRT-LLM requires them to be equal.", severity="error")
        elif ep is None and cluster is None and tp_e % moe_tp:
            ctx.add(moe_tp_key, "inconsistent", f"moe_tensor_parallel_size {moe_tp} does not divide "
                    f"tensor_parallel_size {tp_e}.", severity="error")


SERVE_NAMES_IN_YAML_FRACTION = ("kv_cache_free_gpu_memory_fraction", "free_gpu_memory_fraction",
                                "kv_cache_free_gpu_mem_fraction")


def validate(options: dict, schema: dict, *, context: LlmArgsContext | None = None) -> list[Problem]:
    """Problems of ``options`` (a loaded YAML mapping or :func:`options_from_serve_flags` output)
    against ``schema`` (from :func:`schema_for`, or a raw ``rules/llmargs/*.json`` dict). Pure.

    Errors are what the release rejects (or, for cross-field checks, what cannot work); warnings
    are keys the release accepts but ignores or deprecates, and settings that work badly.
    ``options["backend"]`` of ``tensorrt``/``trt`` selects the engine backend's ``TrtLlmArgs``.
    """
    label = schema.get("_label") or str(schema.get("release") or "?")
    ctx = _Ctx(schema=schema, label=label, releases=list(schema.get("_releases") or []))
    if not isinstance(options, dict):
        ctx.add("", "type", f"the options are {_kind_of(options)}; a mapping of option: value is expected.")
        return ctx.problems
    top = _top_model(schema, options)
    if options.get("backend") in ("tensorrt", "trt") and not schema.get("trt_top"):
        ctx.add("backend", "choice", f"backend is {_fmt(options['backend'])} but release {label} has no TensorRT "
                f"engine backend (TrtLlmArgs); only the PyTorch backend is left.", severity="error",
                suggestion="serve the Hugging Face checkpoint on the PyTorch backend")
        top = schema.get("top") or top
    allowed = {"backend"} if top == schema.get("trt_top") and top != schema.get("top") else set()
    if options.get("backend") in ("tensorrt", "trt") and not schema.get("trt_top"):
        allowed.add("backend")
    _Validator(ctx).check_model(top, options, "", allowed=allowed)
    _cross_checks(ctx, options, context, top)
    return ctx.problems


def errors(problems: Iterable[Problem]) -> list[Problem]:
    return [p for p in problems if p.severity == "error"]


# ---------------------------------------------------------------------------------------------
# what the memory planner needs
# ---------------------------------------------------------------------------------------------

def memory_settings(options: dict) -> dict:
    """The memory-relevant settings of an options mapping; None where absent or not a number.

    Keys: free_gpu_memory_fraction, max_tokens, kv_cache_dtype, tokens_per_block,
    max_gpu_total_bytes (all from kv_cache_config; the fraction also from the serve flag names
    NVIDIA's curated YAMLs use at the top level, the dtype also from the 0.21-style top-level
    kv_cache_dtype), max_batch_size, max_num_tokens, max_seq_len, tp, pp, cp, ep,
    enable_attention_dp, cuda_graph_batch_sizes (sorted list), cuda_graph_max_batch_size,
    enable_chunked_prefill. Release defaults are not filled in.
    """
    def num(path: str, *more: str, kind: str = "int") -> Any:
        v, _ = _first(options, path, *more)
        n = _num(v)
        if n is None:
            return None
        if kind == "int":
            return int(n) if float(n).is_integer() else None
        return float(n)

    def flag(path: str) -> bool | None:
        v = _get(options, path)
        if v is None:
            return None
        state, conv = _scalar_ok(("bool",), v)
        return conv if state == "ok" else None

    dtype, _ = _first(options, "kv_cache_config.dtype", "kv_cache_dtype")
    sizes, _ = _first(options, "cuda_graph_config.batch_sizes", "cuda_graph_batch_sizes")
    size_list = None
    if isinstance(sizes, list):
        ints = [_int(s) for s in sizes]
        size_list = sorted(i for i in ints if i is not None) if all(i is not None for i in ints) else None
    return {
        "free_gpu_memory_fraction": num("kv_cache_config.free_gpu_memory_fraction", *SERVE_NAMES_IN_YAML_FRACTION,
                                        kind="float"),
        "max_tokens": num("kv_cache_config.max_tokens"),
        "kv_cache_dtype": dtype if isinstance(dtype, str) else None,
        "tokens_per_block": num("kv_cache_config.tokens_per_block", "tokens_per_block"),
        "max_gpu_total_bytes": num("kv_cache_config.max_gpu_total_bytes"),
        "max_batch_size": num("max_batch_size"),
        "max_num_tokens": num("max_num_tokens"),
        "max_seq_len": num("max_seq_len"),
        "tp": num("tensor_parallel_size", "tp_size"),
        "pp": num("pipeline_parallel_size", "pp_size"),
        "cp": num("context_parallel_size", "cp_size"),
        "ep": num("moe_expert_parallel_size", "ep_size"),
        "enable_attention_dp": flag("enable_attention_dp"),
        "cuda_graph_batch_sizes": size_list,
        "cuda_graph_max_batch_size": num("cuda_graph_config.max_batch_size", "cuda_graph_max_batch_size"),
        "enable_chunked_prefill": flag("enable_chunked_prefill"),
    }


__all__ = [
    "KINDS", "LlmArgsContext", "Problem", "default_directory", "errors", "known_releases", "load_yaml",
    "memory_settings", "options_from_serve_flags", "schema_for", "validate",
]

