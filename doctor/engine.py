"""``--engine DIR``: read a TensorRT-LLM engine directory into an :class:`EngineInfo`.

Both config.json layouts are understood (shared/engine-format.md §2-3):

* new (0.8+ ``trtllm-build``): top-level ``version``, ``pretrained_config``,
  ``build_config`` (with ``plugin_config`` inside), files ``rank{r}.engine``;
* old (0.5-0.8 ``examples/*/build.py``): top-level ``builder_config`` and
  ``plugin_config``, files ``<name>_<precision>_tp<tp>[_pp<pp>]_rank<r>.engine``.

The runtime's own rule decides the layout: ``version`` present => new, else old. A
config that is truncated, a fragment, not JSON, a checkpoint or a Hugging Face config
raises :class:`EngineConfigError` whose message names the file and the missing or bad
field (for truncated text: the section the text stops in).
"""

from __future__ import annotations

import json
import os
import re
import stat
from dataclasses import dataclass, field
from pathlib import Path
from collections.abc import Iterator
from typing import Any

from doctor.sizing import ModelSpec

MAX_CONFIG_BYTES = 16 * 2**20

#: speculative_decoding_mode (SpeculativeDecodingMode IntFlag, auto() order; engine-format.md §3.4).
SPEC_MODES = {1: "none", 2: "draft_tokens_external", 4: "medusa", 8: "lookahead_decoding",
              16: "explicit_draft_tokens", 32: "eagle", 64: "ngram", 128: "user_provided",
              256: "save_hidden_states", 512: "auto"}
#: Old-layout QuantMode bits (tensorrt_llm/quantization/mode.py @0.5.0).
QM_INT4_WEIGHTS, QM_INT8_WEIGHTS, QM_ACTIVATIONS = 1, 2, 4
QM_INT8_KV, QM_FP8_KV, QM_FP8_QDQ = 64, 128, 256


class EngineConfigError(ValueError):
    """An engine directory or config.json that cannot be used; the message names file and field."""


@dataclass
class EngineInfo:
    path: str
    config_path: str
    layout: str  # "new" | "old"
    version: str | None  # tensorrt_llm.__version__ at build time (None: old layout)
    architecture: str
    dtype: str  # float16 / bfloat16 / float32
    quant_algo: str | None = None
    kv_cache_quant_algo: str | None = None
    quant_mode: int = 0  # old layout bitmask
    group_size: int = 128
    tp: int = 1
    pp: int = 1
    cp: int = 1
    world_size: int | None = None  # mapping.world_size as written (not read by the runtime)
    gpus_per_node: int | None = None
    num_layers: int | None = None
    num_heads: int | None = None
    num_kv_heads: int | None = None
    head_size: int | None = None
    hidden_size: int | None = None
    intermediate_size: int | None = None
    vocab_size: int | None = None
    max_position_embeddings: int | None = None
    moe_num_experts: int = 0
    moe_top_k: int = 0
    max_batch_size: int | None = None
    max_input_len: int | None = None
    max_seq_len: int | None = None
    max_num_tokens: int | None = None
    max_beam_width: int | None = None
    kv_cache_type: str | None = None
    plugin: dict[str, Any] = field(default_factory=dict)
    lora: dict[str, Any] = field(default_factory=dict)
    speculative_mode: int = 1
    max_draft_len: int = 0
    num_medusa_heads: int | None = None
    num_eagle_layers: int | None = None
    cluster_key: str | None = None
    cluster_info: dict[str, Any] | None = None
    builder_fp8: bool = False  # old layout builder_config.fp8
    rank_files: list[tuple[str, int]] = field(default_factory=list)  # (name, bytes)
    warnings: list[str] = field(default_factory=list)

    @property
    def expected_ranks(self) -> int:
        return self.tp * self.pp * self.cp

    @property
    def engine_bytes_per_rank(self) -> int | None:
        """Size of the largest rank*.engine file (weights + plan), None if none is present."""
        return max((size for _, size in self.rank_files), default=None)

    @property
    def speculative_mode_name(self) -> str:
        names = [n for bit, n in SPEC_MODES.items() if self.speculative_mode & bit]
        return "+".join(names) if names else str(self.speculative_mode)

    # ---- what the engine needs from the GPU ------------------------------------------
    @property
    def weight_format(self) -> str | None:
        """The sizing weight format: bf16/fp16/fp32, fp8, int8_sq, int8_wo, int4_awq, int4_wo, nvfp4, or None (mixed/unknown)."""
        algo = (self.quant_algo or "").upper()
        if self.layout == "old":
            qm = self.quant_mode
            if qm & QM_FP8_QDQ or self.builder_fp8:
                return "fp8"
            if qm & QM_INT4_WEIGHTS:
                return "int4_wo"
            if qm & QM_INT8_WEIGHTS:
                return "int8_sq" if qm & QM_ACTIVATIONS else "int8_wo"
        elif algo and algo != "NO_QUANT":
            if algo.startswith("FP8"):
                return "fp8"
            if "NVFP4" in algo or "MXFP4" in algo:
                return "nvfp4"
            if algo in ("W4A16_AWQ", "W4A8_AWQ"):
                return "int4_awq"
            if algo.startswith("W4A"):
                return "int4_wo"
            if algo.startswith("W8A8_SQ"):
                return "int8_sq"
            if algo.startswith("W8A16"):
                return "int8_wo"
            return None
        return {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}.get(self.dtype, "bf16")

    @property
    def kv_dtype(self) -> str:
        kv = (self.kv_cache_quant_algo or "").upper()
        if kv == "FP8" or self.quant_mode & QM_FP8_KV:
            return "fp8"
        if kv == "INT8" or self.quant_mode & QM_INT8_KV:
            return "int8"
        if kv == "NVFP4":
            return "nvfp4"
        return {"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}.get(self.dtype, "bf16")

    def fp8_reasons(self) -> list[str]:
        """What in the config needs FP8 tensor cores (SM 8.9+)."""
        out = []
        algo = (self.quant_algo or "").upper()
        if algo.startswith("FP8") or algo in ("W4A8_AWQ", "W4A8_NVFP4_FP8", "W4A8_MXFP4_FP8"):
            out.append(f"quant_algo {self.quant_algo}")
        if (self.kv_cache_quant_algo or "").upper() == "FP8":
            out.append("kv_cache_quant_algo FP8")
        if self.plugin.get("use_fp8_context_fmha") is True:
            out.append("plugin_config.use_fp8_context_fmha")
        if str(self.plugin.get("gemm_plugin") or "").lower() == "fp8":
            out.append("plugin_config.gemm_plugin fp8")
        if self.layout == "old":
            if self.quant_mode & QM_FP8_QDQ or self.builder_fp8:
                out.append("builder_config.fp8 / quant_mode FP8_QDQ")
            if self.quant_mode & QM_FP8_KV:
                out.append("quant_mode FP8_KV_CACHE")
        return out

    def fp4_reasons(self) -> list[str]:
        """What in the config needs FP4 tensor cores (Blackwell, SM 10.0+)."""
        out = []
        algo = (self.quant_algo or "").upper()
        if "NVFP4" in algo or algo in ("W4A8_MXFP4_FP8", "W4A8_MXFP4_MXFP8"):
            out.append(f"quant_algo {self.quant_algo}")
        if (self.kv_cache_quant_algo or "").upper() == "NVFP4":
            out.append("kv_cache_quant_algo NVFP4")
        return out

    def model_spec(self) -> ModelSpec | None:
        """The model shape for sizing, or None when the config lacks it (e.g. BERT examples)."""
        if not (self.num_layers and self.num_heads and self.hidden_size and self.vocab_size):
            return None
        head = self.head_size or self.hidden_size // self.num_heads
        return ModelSpec(
            name=self.architecture, architecture=self.architecture, num_layers=self.num_layers,
            hidden_size=self.hidden_size, num_heads=self.num_heads,
            num_kv_heads=self.num_kv_heads or self.num_heads, head_dim=head,
            intermediate_size=self.intermediate_size or 4 * self.hidden_size, vocab_size=self.vocab_size,
            dtype={"float16": "fp16", "bfloat16": "bf16", "float32": "fp32"}.get(self.dtype, "bf16"),
            num_experts=self.moe_num_experts, experts_per_token=self.moe_top_k,
            max_position_embeddings=self.max_position_embeddings or 0, source=self.config_path,
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "path": self.path, "layout": self.layout, "version": self.version, "architecture": self.architecture,
            "dtype": self.dtype, "quant_algo": self.quant_algo, "kv_cache_quant_algo": self.kv_cache_quant_algo,
            "tp": self.tp, "pp": self.pp, "cp": self.cp, "max_batch_size": self.max_batch_size,
            "max_seq_len": self.max_seq_len, "max_num_tokens": self.max_num_tokens,
            "cluster_key": self.cluster_key, "rank_files": [n for n, _ in self.rank_files],
        }


# ---------------------------------------------------------------------------------------
# Reading
# ---------------------------------------------------------------------------------------
_RANK_NEW = re.compile(r"^rank(\d+)\.engine$")
_RANK_OLD = re.compile(r"^.+_rank(\d+)\.engine$")


def load_engine(path: Path) -> EngineInfo:
    """An engine directory (or its config.json directly); the config is read bounded, regular files only."""
    from doctor.errors import UsageError
    from doctor.inputs import read_bytes

    try:
        exists, is_dir = path.exists(), path.is_dir()
    except (OSError, ValueError) as exc:
        raise EngineConfigError(f"{path}: cannot read the engine directory ({getattr(exc, 'strerror', None) or exc})") from None
    if not exists:
        raise EngineConfigError(f"{path}: no such engine directory")
    if is_dir:
        cfg = path / "config.json"
        if not (cfg.exists() or cfg.is_symlink()):
            try:
                engines = sorted(p.name for p in path.glob("*.engine"))
            except OSError:
                engines = []
            hint = f" (it has {', '.join(engines[:3])})" if engines else ""
            raise EngineConfigError(f"{path}: no config.json in the engine directory{hint}; "
                                    "trtllm-build writes config.json next to rank*.engine")
        directory = path
    else:
        cfg, directory = path, path.parent
    try:
        raw = read_bytes(cfg, "an engine config.json", MAX_CONFIG_BYTES)
    except UsageError as exc:
        raise EngineConfigError(str(exc)) from None
    if b"\x00" in raw[:65536]:
        raise EngineConfigError(f"{cfg}: not a config.json (binary data, not UTF-8 JSON)")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise EngineConfigError(f"{cfg}: not a config.json (binary data, not UTF-8 JSON)") from None
    info = parse_engine_config(text, str(cfg))
    info.path = str(directory if is_dir else path)
    if is_dir:
        info.rank_files = _rank_files(directory, info)
    return info


MAX_RANK_FILES = 4096


def _rank_files(directory: Path, info: EngineInfo) -> list[tuple[str, int]]:
    pattern = _RANK_NEW if info.layout == "new" else _RANK_OLD
    out = []
    try:
        names = sorted(os.listdir(directory))
    except OSError:
        return out
    for name in names:
        if not pattern.match(name):
            continue
        try:
            st = os.stat(directory / name)
        except OSError:
            continue
        if stat.S_ISREG(st.st_mode):
            out.append((name, st.st_size))
        if len(out) >= MAX_RANK_FILES:
            break
    return out


def _json_events(text: str) -> Iterator[tuple[str, str]]:
    """A tolerant scan of possibly broken JSON: ("key", name) for an object key, ("open"|"close", bracket)."""
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == '"':
            j = i + 1
            while j < n and text[j] != '"':
                j += 2 if text[j] == "\\" else 1
            k = j + 1
            while k < n and text[k] in " \t\r\n":
                k += 1
            if k < n and text[k] == ":":
                yield "key", text[i + 1:j]
            i = j + 1
            continue
        if c in "{[":
            yield "open", c
        elif c in "}]":
            yield "close", c
        i += 1


def _open_path(text: str) -> list[str]:
    """The object keys enclosing the end of ``text``."""
    stack: list[list[Any]] = []
    for kind, value in _json_events(text):
        if kind == "key" and stack and stack[-1][0] == "{":
            stack[-1][1] = value
        elif kind == "open":
            stack.append([value, None])
        elif kind == "close" and stack:
            stack.pop()
    # every frame but the innermost was entered through its key; the innermost key is "after"
    path = [str(k) for t, k in stack[:-1] if t == "{" and k is not None]
    if stack and stack[-1][0] == "{" and stack[-1][1] is not None:
        path.append(f"(after {stack[-1][1]!r})")
    return path


def _top_keys(text: str) -> set[str]:
    """Keys seen at depth 1 of possibly broken JSON."""
    keys, depth = set(), 0
    for kind, value in _json_events(text):
        if kind == "key" and depth == 1:
            keys.add(value)
        elif kind == "open":
            depth += 1
        elif kind == "close":
            depth -= 1
    return keys


def _non_finite():
    def refuse(name: str):  # NaN / Infinity / -Infinity: not JSON, and never in a config trtllm-build wrote
        raise ValueError(f"{name} in it; trtllm-build writes finite numbers only, the config is corrupt")
    return refuse


def _decode(text: str, where: str) -> dict[str, Any]:
    stripped = text.strip()
    if not stripped:
        raise EngineConfigError(f"{where}: empty file; expected the engine's config.json")
    if not stripped.startswith("{"):
        first = re.match(r'\s*"([^"]*)"', text)
        what = f" (it starts with the key {first.group(1)!r})" if first else ""
        raise EngineConfigError(f"{where}: not a whole config.json: the text does not start with '{{'{what}; "
                                "a fragment of a config was pasted. Use the complete file trtllm-build wrote")
    try:
        data = json.loads(text, parse_constant=_non_finite())
    except RecursionError:
        raise EngineConfigError(f"{where}: JSON nested too deeply to be an engine config.json") from None
    except json.JSONDecodeError as exc:
        truncated = exc.pos >= len(text.rstrip()) or exc.msg.startswith("Unterminated string")
        path = _open_path(text[: exc.pos])
        keys = [k for k in path if not k.startswith("(")]
        after = " ".join(k for k in path if k.startswith("("))
        inside = (f" inside {'.'.join(keys)}" if keys else " at the top level") + (f" {after}" if after else "")
        kind = ""
        if all(k in text for k in ('"architecture"', '"mapping"')) and not any(
                k in text for k in ('"build_config"', '"version"')):
            kind = " It looks like a TensorRT-LLM checkpoint config, not an engine config."
        if truncated:
            top = _top_keys(text)
            sections = ["pretrained_config", "build_config"] if '"version"' in text else ["builder_config", "plugin_config"]
            cut = [k for k in sections if k in top and keys and keys[0] == k]
            absent = [k for k in sections if k not in top]
            bits = []
            if cut:
                bits.append(f"{cut[0]!r} is cut off")
            if absent:
                bits.append(f"required {' and '.join(repr(a) for a in absent)} {'are' if len(absent) > 1 else 'is'} missing")
            need = f"; {' and '.join(bits)}" if bits else ""
            raise EngineConfigError(f"{where}: truncated: the JSON ends{inside} (line {exc.lineno}){need}. "
                                    f"Copy the whole config.json again.{kind}")
        snippet = text[exc.pos: exc.pos + 12].splitlines()[0] if text[exc.pos:] else ""
        hint = ""
        if snippet.startswith(".."):
            hint = "; the text was elided with '...', so fields are missing"
        elif exc.msg.startswith("Expecting property name") and text[: exc.pos].rstrip().endswith(","):
            hint = "; a trailing comma"
        raise EngineConfigError(f"{where}: not valid JSON at line {exc.lineno} column {exc.colno}{inside} "
                                f"({exc.msg}{': ' + repr(snippet) if snippet else ''}){hint}.{kind}") from None
    except ValueError as exc:  # a number of 4,300+ digits (CPython's int-string limit)
        raise EngineConfigError(f"{where}: not usable as an engine config.json ({exc})") from None
    if not isinstance(data, dict):
        raise EngineConfigError(f"{where}: not an engine config (top level is not an object)")
    return data


MAX_PARALLEL = 4096  # tp, pp, cp (and their product): more ranks than any engine was built for
MAX_INT = 2**48  # every other count or length
PARALLEL_KEYS = ("tp_size", "pp_size", "cp_size", "world_size", "gpus_per_node", "tensor_parallel", "pipeline_parallel",
                 "context_parallel")


def _short(v: Any) -> str:
    text = repr(v) if not isinstance(v, int) or v.bit_length() < 200 else f"a {v.bit_length()}-bit number"
    return text if len(text) <= 80 else text[:77] + "..."


class _Fields:
    """Typed access to a config section; every error names the dotted field."""

    def __init__(self, data: Any, where: str, prefix: str):
        if not isinstance(data, dict):
            raise EngineConfigError(f"{where}: field {prefix!r} should be an object, found {type(data).__name__}")
        self.data, self.where, self.prefix = data, where, prefix

    def name(self, key: str) -> str:
        return f"{self.prefix}.{key}" if self.prefix else key

    def section(self, key: str, required: bool = True) -> _Fields | None:
        if key not in self.data or self.data[key] is None:
            if required:
                raise EngineConfigError(f"{self.where}: required field {self.name(key)!r} is missing")
            return None
        return _Fields(self.data[key], self.where, self.name(key))

    def int(self, key: str, required: bool = False, default: int | None = None) -> int | None:
        if key not in self.data or self.data[key] is None:
            if required:
                raise EngineConfigError(f"{self.where}: required field {self.name(key)!r} is missing")
            return default
        v = self.data[key]
        if isinstance(v, bool) or not isinstance(v, int) or v < 0:
            raise EngineConfigError(f"{self.where}: field {self.name(key)!r} should be a non-negative integer, found {_short(v)}")
        limit = MAX_PARALLEL if key in PARALLEL_KEYS else MAX_INT
        if v > limit:
            raise EngineConfigError(f"{self.where}: field {self.name(key)!r} is {_short(v)}, more than any engine has "
                                    f"(at most {limit:,}); the config is corrupt")
        return v

    def str(self, key: str, required: bool = False) -> str | None:
        if key not in self.data or self.data[key] is None:
            if required:
                raise EngineConfigError(f"{self.where}: required field {self.name(key)!r} is missing")
            return None
        v = self.data[key]
        if not isinstance(v, str):
            raise EngineConfigError(f"{self.where}: field {self.name(key)!r} should be a string, found {_short(v)}")
        return v


def parse_engine_config(text: str, where: str = "config.json") -> EngineInfo:
    """Parse an engine config.json text (either layout) into :class:`EngineInfo`."""
    data = _decode(text, where)
    if "version" in data or "builder_config" in data:
        info = _parse_new(data, where) if "version" in data else _parse_old(data, where)
        if info.expected_ranks > MAX_PARALLEL:
            raise EngineConfigError(f"{where}: tp {info.tp} x pp {info.pp} x cp {info.cp} = {info.expected_ranks:,} ranks, "
                                    f"more than any engine has (at most {MAX_PARALLEL:,}); the config is corrupt")
        return info
    if "architectures" in data and "model_type" in data:
        raise EngineConfigError(f"{where}: this is a Hugging Face config.json, not an engine; "
                                "use --model for it, or build an engine with trtllm-build first")
    if "architecture" in data and ("mapping" in data or "dtype" in data):
        raise EngineConfigError(f"{where}: this is a TensorRT-LLM checkpoint config (no 'version'/'build_config'); "
                                "run trtllm-build --checkpoint_dir on it and check the engine it writes")
    if "pretrained_config" in data or "build_config" in data:
        raise EngineConfigError(f"{where}: required field 'version' is missing (a new-layout engine config "
                                "has version, pretrained_config and build_config)")
    keys = ", ".join(_short(k).strip("'") for k in list(data)[:5]) or "none"
    raise EngineConfigError(f"{where}: unknown layout: neither 'version'+'pretrained_config' (trtllm-build) nor "
                            f"'builder_config' (build.py) is present (top-level keys: {keys})")


def _parse_new(data: dict[str, Any], where: str) -> EngineInfo:
    root = _Fields(data, where, "")
    version = data.get("version")
    if not isinstance(version, str) or not version.strip():
        raise EngineConfigError(f"{where}: field 'version' should be the TensorRT-LLM version string, found {_short(version)}")
    pc = root.section("pretrained_config")
    bc = root.section("build_config")
    plugin = bc.section("plugin_config")
    plugin.int("tokens_per_block")  # validated here: the KV-cache sizing divides by it
    mapping = pc.section("mapping", required=False) or _Fields({}, where, "pretrained_config.mapping")
    quant = pc.section("quantization")
    moe = pc.section("moe", required=False)
    lora = bc.section("lora_config", required=False)
    apc = bc.section("auto_parallel_config", required=False)
    tp = mapping.int("tp_size", default=1) or 1
    info = EngineInfo(
        path="", config_path=where, layout="new", version=version.strip(),
        architecture=pc.str("architecture", required=True) or "",
        dtype=pc.str("dtype", required=True) or "",
        quant_algo=quant.str("quant_algo"), kv_cache_quant_algo=quant.str("kv_cache_quant_algo"),
        group_size=quant.int("group_size", default=128) or 128,
        tp=tp, pp=mapping.int("pp_size", default=1) or 1, cp=mapping.int("cp_size", default=1) or 1,
        world_size=mapping.int("world_size"), gpus_per_node=mapping.int("gpus_per_node"),
        num_layers=pc.int("num_hidden_layers", required=True),
        num_heads=pc.int("num_attention_heads", required=True),
        num_kv_heads=pc.int("num_key_value_heads"), head_size=pc.int("head_size"),
        hidden_size=pc.int("hidden_size", required=True), intermediate_size=pc.int("intermediate_size"),
        vocab_size=pc.int("vocab_size", required=True),
        max_position_embeddings=pc.int("max_position_embeddings"),
        moe_num_experts=(moe.int("num_experts", default=0) if moe else pc.int("moe_num_experts", default=0)) or 0,
        moe_top_k=(moe.int("top_k", default=0) if moe else pc.int("moe_top_k", default=0)) or 0,
        max_batch_size=bc.int("max_batch_size"), max_input_len=bc.int("max_input_len"),
        max_num_tokens=bc.int("max_num_tokens"), max_beam_width=bc.int("max_beam_width"),
        kv_cache_type=bc.str("kv_cache_type"), plugin=dict(plugin.data),
        lora=dict(lora.data) if lora else {},
        speculative_mode=bc.int("speculative_decoding_mode", default=1) or 1,
        max_draft_len=bc.int("max_draft_len", default=0) or 0,
        num_medusa_heads=pc.int("num_medusa_heads"), num_eagle_layers=pc.int("num_eagle_layers"),
    )
    seq = bc.int("max_seq_len")
    if seq is None and bc.int("max_output_len") is not None and info.max_input_len is not None:
        seq = info.max_input_len + (bc.int("max_output_len") or 0)  # 0.9/0.10 configs
    info.max_seq_len = seq
    if info.kv_cache_quant_algo is None and isinstance(pc.data.get("kv_dtype"), str):
        info.warnings.append(f"0.9/0.10-era pretrained_config.kv_dtype {pc.data['kv_dtype']!r}")
    if apc is not None:
        info.cluster_key = apc.str("cluster_key")
        ci = apc.data.get("cluster_info")
        info.cluster_info = ci if isinstance(ci, dict) else None
    if info.dtype not in ("float16", "bfloat16", "float32"):
        raise EngineConfigError(f"{where}: field 'pretrained_config.dtype' is {_short(info.dtype)}; the runtime accepts "
                                "float16, bfloat16 or float32")
    return info


def _parse_old(data: dict[str, Any], where: str) -> EngineInfo:
    root = _Fields(data, where, "")
    bc = root.section("builder_config")
    plugin = root.section("plugin_config")
    plugin.int("tokens_per_block")  # validated here: the KV-cache sizing divides by it
    precision = bc.str("precision", required=True) or ""
    info = EngineInfo(
        path="", config_path=where, layout="old", version=None,
        architecture=bc.str("name", required=True) or "", dtype=precision,
        quant_mode=bc.int("quant_mode", default=0) or 0,
        tp=bc.int("tensor_parallel", required=True) or 1,
        pp=bc.int("pipeline_parallel", default=1) or 1, cp=bc.int("context_parallel", default=1) or 1,
        num_layers=bc.int("num_layers"), num_heads=bc.int("num_heads"), num_kv_heads=bc.int("num_kv_heads"),
        head_size=bc.int("head_size"), hidden_size=bc.int("hidden_size"),
        intermediate_size=bc.int("mlp_hidden_size"), vocab_size=bc.int("vocab_size"),
        max_position_embeddings=bc.int("max_position_embeddings"),
        max_batch_size=bc.int("max_batch_size"), max_input_len=bc.int("max_input_len"),
        max_num_tokens=bc.int("max_num_tokens"), max_beam_width=bc.int("max_beam_width"),
        plugin=dict(plugin.data), max_draft_len=bc.int("max_draft_len", default=0) or 0,
        builder_fp8=bc.data.get("fp8") is True,
    )
    if info.max_input_len is not None and bc.int("max_output_len") is not None:
        info.max_seq_len = info.max_input_len + (bc.int("max_output_len") or 0)
    if isinstance(bc.data.get("lora_target_modules"), list) or bc.int("max_lora_rank"):
        info.lora = {"lora_target_modules": bc.data.get("lora_target_modules") or [],
                     "max_lora_rank": bc.int("max_lora_rank", default=0)}
    if precision not in ("float16", "bfloat16", "float32"):
        raise EngineConfigError(f"{where}: field 'builder_config.precision' is {_short(precision)}; the runtime accepts "
                                "float16, bfloat16 or float32")
    return info
