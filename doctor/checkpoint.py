"""A Hugging Face checkpoint as a target: its folder, its quantisation, its size on disk.

``--model`` may name a folder (or its config.json), a hub id found in the local Hugging
Face cache (``$HF_HUB_CACHE``, ``$HF_HOME/hub`` or ``~/.cache/huggingface/hub``; never the
network), or a preset. From the folder the doctor reads:

* ``config.json`` (the model; ``text_config`` for multimodal wrappers);
* the quantisation as TensorRT-LLM's PyTorch backend looks for it
  (``tensorrt_llm/_torch/model_config.py``, ``ModelConfig.from_pretrained``): ModelOpt's
  ``hf_quant_config.json`` first, else ``config.json``'s ``quantization_config``
  (``quant_method`` fp8 with or without ``weight_block_size``, mxfp4, modelopt,
  compressed-tensors, awq, gptq, bitsandbytes...);
* the size on disk: ``model.safetensors.index.json``'s ``metadata.total_size``, else the
  sum of the tensors in the ``*.safetensors`` headers (read without the weights).

Every read is bounded (doctor/inputs.py); every problem names the file and the field.
"""

from __future__ import annotations

import json
import os
import re
import struct
from pathlib import Path
from typing import Any

from doctor.errors import UsageError
from doctor.inputs import parse_json, read_text
from doctor.sizing import Quant

MAX_CONFIG_BYTES = 32 * 2**20  # Nemotron 3 Super's NVFP4 config.json is 5.7 MB
MAX_INDEX_BYTES = 64 * 2**20
MAX_SAFETENSORS_HEADER = 100 * 2**20  # the format's own limit
MAX_SHARDS = 4096

#: ModelOpt QuantAlgo names (hf_quant_config.json ``quant_algo``, tensorrt_llm/quantization/mode.py) -> (format, activations).
MODELOPT_ALGOS: dict[str, tuple[str, str]] = {
    "FP8": ("fp8", "fp8"), "FP8_BLOCK_SCALES": ("fp8_block", "fp8"), "FP8_PB_WO": ("fp8_block", ""),
    "FP8_PER_CHANNEL_PER_TOKEN": ("fp8_channel", "fp8"), "FP8_ROWWISE": ("fp8_channel", "fp8"),
    "NVFP4": ("nvfp4", "fp4"), "W4A16_AWQ": ("int4_awq", ""), "W4A8_AWQ": ("w4a8_awq", "fp8"),
    "W4A16_GPTQ": ("int4_gptq", ""), "W4A16": ("int4_wo", ""), "W8A16": ("int8_wo", ""),
    "W8A16_GPTQ": ("int8_wo", ""), "W8A8_SQ_PER_CHANNEL": ("int8_sq", "int8"),
    "W8A8_SQ_PER_CHANNEL_PER_TOKEN_PLUGIN": ("int8_sq", "int8"), "W8A8_SQ_PER_TENSOR_PLUGIN": ("int8_sq", "int8"),
    "W8A8_SQ_PER_CHANNEL_PER_TENSOR_PLUGIN": ("int8_sq", "int8"), "W8A8_SQ_PER_TENSOR_PER_TOKEN_PLUGIN": ("int8_sq", "int8"),
    "W4A16_MXFP4": ("mxfp4", ""), "W4A8_MXFP4_FP8": ("mxfp4", "fp8"), "W4A8_MXFP4_MXFP8": ("mxfp4", "fp8"),
    "W4A8_NVFP4_FP8": ("nvfp4", "fp8"), "MXFP8": ("fp8_block", "fp8"),
}
_KV_ALGOS = {"FP8": "fp8", "NVFP4": "nvfp4", "INT8": "int8"}


class CheckpointError(ValueError):
    """A checkpoint folder or file that cannot describe a model; the message names file and field."""


def _bad(where: str, msg: str) -> CheckpointError:
    return CheckpointError(f"{where}: {msg}")


def _exclusions(value: Any, where: str, key: str) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _bad(where, f"field {key!r} should be a list of module names")
    return tuple(value)


def _modelopt(q: dict, where: str, exclude_key: str = "exclude_modules") -> Quant | None:
    algo = q.get("quant_algo")
    kv = q.get("kv_cache_quant_algo")
    if algo is not None and not isinstance(algo, str):
        raise _bad(where, f"field 'quant_algo' should be a string, found {algo!r}")
    if kv is not None and not isinstance(kv, str):
        raise _bad(where, f"field 'kv_cache_quant_algo' should be a string, found {kv!r}")
    kv_dtype = _KV_ALGOS.get(kv.upper()) if kv else None
    if kv and kv_dtype is None:
        raise _bad(where, f"kv_cache_quant_algo {kv!r} is not one TensorRT-LLM knows (FP8, NVFP4, INT8)")
    group = q.get("group_size") or 0
    if not isinstance(group, int) or isinstance(group, bool) or group < 0:
        raise _bad(where, f"field 'group_size' should be a positive integer, found {group!r}")
    exclude = _exclusions(q.get(exclude_key), where, exclude_key)
    if algo is None or algo.upper() in ("NONE", ""):
        return Quant("bf16", kv_dtype, 0, (), "modelopt (weights unquantised)", where) if kv_dtype else None
    if algo.upper() == "MIXED_PRECISION":
        layers = q.get("quantized_layers") or {}
        algos = {str(v.get("quant_algo", "")).upper() for v in layers.values() if isinstance(v, dict)} if isinstance(layers, dict) else set()
        fmt, act = ("nvfp4", "fp4") if "NVFP4" in algos else ("fp8", "fp8")
        return Quant(fmt, kv_dtype, group, exclude, f"MIXED_PRECISION ({', '.join(sorted(algos)) or 'layers not listed'})",
                     where, act)
    try:
        fmt, act = MODELOPT_ALGOS[algo.upper()]
    except KeyError:
        raise _bad(where, f"quant_algo {algo!r} is not a ModelOpt algorithm TensorRT-LLM knows "
                          f"({', '.join(sorted(MODELOPT_ALGOS))})") from None
    return Quant(fmt, kv_dtype, group, exclude, algo, where, act)


def _compressed_tensors(q: dict, where: str) -> Quant | None:
    groups = q.get("config_groups")
    if not isinstance(groups, dict) or not groups:
        raise _bad(where, "quant_method compressed-tensors needs a 'config_groups' object")
    g = next(iter(groups.values()))
    if not isinstance(g, dict) or not isinstance(g.get("weights"), dict):
        raise _bad(where, "config_groups entries need a 'weights' object")
    w = g["weights"]
    bits, typ, strategy = w.get("num_bits"), str(w.get("type") or "int"), str(w.get("strategy") or "")
    acts = g.get("input_activations")
    if bits == 8 and typ == "float":
        fmt = {"block": "fp8_block", "channel": "fp8_channel"}.get(strategy, "fp8")
        act = "fp8" if acts else ""
    elif bits == 4 and typ == "float":
        fmt, act = "nvfp4", ("fp4" if acts else "")
    elif bits == 4:
        fmt, act = "int4_gptq", ""
    elif bits == 8:
        fmt, act = ("int8_sq", "int8") if acts else ("int8_wo", "")
    else:
        raise _bad(where, f"compressed-tensors weights of {bits} bits ({typ}) are not a format TensorRT-LLM loads")
    kv = q.get("kv_cache_scheme")
    kv_dtype = "fp8" if isinstance(kv, dict) and kv.get("num_bits") == 8 and kv.get("type") == "float" else None
    return Quant(fmt, kv_dtype, int(w.get("group_size") or 0), _exclusions(q.get("ignore"), where, "ignore"),
                 f"compressed-tensors ({q.get('format') or fmt})", where, act)


def quant_from_configs(qc: Any, hf_quant: Any, where: str = "config.json",
                       hf_quant_where: str = "hf_quant_config.json") -> Quant | None:
    """The checkpoint's quantisation: hf_quant_config.json first (ModelOpt), else config.json's
    quantization_config, in the order TensorRT-LLM's PyTorch backend reads them."""
    if hf_quant is not None:
        if not isinstance(hf_quant, dict):
            raise _bad(hf_quant_where, "not a JSON object")
        q = hf_quant.get("quantization", hf_quant)
        if not isinstance(q, dict):
            raise _bad(hf_quant_where, "field 'quantization' should be an object")
        got = _modelopt(q, hf_quant_where + ": quantization")
        if got is not None:
            return got
    if qc is None:
        return None
    w = f"{where}: quantization_config"
    if not isinstance(qc, dict):
        raise _bad(w, "should be an object")
    method = str(qc.get("quant_method") or "").lower()
    skip = "modules_to_not_convert"
    if method == "fp8":
        block = qc.get("weight_block_size")
        if block is not None and (not isinstance(block, list) or len(block) != 2):
            raise _bad(w, f"field 'weight_block_size' should be [rows, cols], found {block!r}")
        return Quant("fp8_block" if block else "fp8", None, 0, _exclusions(qc.get(skip), w, skip),
                     "fp8 (block " + "x".join(str(b) for b in block) + ")" if block else "fp8", w,
                     "fp8" if qc.get("activation_scheme", "dynamic") else "")
    if method == "mxfp4":
        return Quant("mxfp4", None, 32, _exclusions(qc.get(skip), w, skip), "mxfp4", w, "")
    if method == "modelopt":
        got = _modelopt(qc, w, "ignore" if "ignore" in qc else "exclude_modules")
        if got is None:
            kv = qc.get("kv_cache_scheme")
            return Quant("bf16", "fp8", 0, (), "modelopt", w) if isinstance(kv, dict) else None
        if got.kv_cache is None and isinstance(qc.get("kv_cache_scheme"), dict) and qc["kv_cache_scheme"].get("num_bits") == 8:
            got = Quant(got.format, "fp8", got.group_size, got.exclude, got.method, got.source, got.activations)
        return got
    if method == "compressed-tensors":
        return _compressed_tensors(qc, w)
    bits = qc.get("bits") or qc.get("w_bit") or qc.get("weight_bits")
    group = qc.get("group_size") or qc.get("q_group_size") or 128
    if not isinstance(group, int) or isinstance(group, bool) or group <= 0:
        group = 128
    excl = _exclusions(qc.get(skip), w, skip)
    if method == "awq":
        if bits not in (None, 4):
            raise _bad(w, f"AWQ with {bits} bits: TensorRT-LLM runs 4-bit AWQ only")
        return Quant("int4_awq", None, group, excl, "awq", w, "")
    if method == "gptq":
        if bits == 8:
            return Quant("int8_wo", None, group, excl, "gptq (8-bit)", w, "")
        if bits not in (None, 4):
            raise _bad(w, f"GPTQ with {bits} bits: TensorRT-LLM runs 4-bit (and 8-bit weight-only) GPTQ only")
        return Quant("int4_gptq", None, group, excl, "gptq", w, "")
    if method == "fbgemm_fp8":
        return Quant("fp8_channel", None, 0, excl, "fbgemm_fp8", w, "fp8")
    if method == "bitsandbytes":
        four = qc.get("load_in_4bit") is True or qc.get("_load_in_4bit") is True
        return Quant("int4_wo" if four else "int8_wo", None, 64, _exclusions(qc.get("llm_int8_skip_modules"), w,
                     "llm_int8_skip_modules"), "bitsandbytes", w, "")
    fmt = "int4_wo" if bits == 4 else "int8_wo" if bits == 8 else "bf16"
    return Quant(fmt, None, group, excl, method or "unknown", w, "")


# ---------------------------------------------------------------------------------------
# Files
# ---------------------------------------------------------------------------------------
def _json_file(path: Path, what: str, limit: int) -> Any:
    return parse_json(read_text(path, what, limit), what, path)


def hub_cache_dirs() -> list[Path]:
    """Where a Hugging Face hub cache may live, in the order huggingface_hub resolves it."""
    out = []
    if os.environ.get("HF_HUB_CACHE"):
        out.append(Path(os.environ["HF_HUB_CACHE"]))
    if os.environ.get("HUGGINGFACE_HUB_CACHE"):
        out.append(Path(os.environ["HUGGINGFACE_HUB_CACHE"]))
    if os.environ.get("HF_HOME"):
        out.append(Path(os.environ["HF_HOME"]) / "hub")
    xdg = os.environ.get("XDG_CACHE_HOME")
    out.append((Path(xdg) if xdg else Path.home() / ".cache") / "huggingface" / "hub")
    seen, uniq = set(), []
    for p in out:
        if str(p) not in seen:
            seen.add(str(p))
            uniq.append(p)
    return uniq


_HUB_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*/[A-Za-z0-9][A-Za-z0-9._-]*$")


def looks_like_hub_id(name: str) -> bool:
    return bool(_HUB_ID.match(name)) and ".." not in name


def find_in_hub_cache(repo_id: str) -> Path | None:
    """The snapshot folder of ``repo_id`` in a local hub cache (refs/main first, else the newest snapshot
    with a config.json), or None. Never the network."""
    if not looks_like_hub_id(repo_id):
        return None
    folder = "models--" + repo_id.replace("/", "--")
    for cache in hub_cache_dirs():
        root = cache / folder
        snaps = root / "snapshots"
        try:
            if not snaps.is_dir():
                continue
        except OSError:
            continue
        ref = root / "refs" / "main"
        try:
            if ref.is_file() and ref.stat().st_size < 256:
                commit = ref.read_text(encoding="ascii", errors="replace").strip()
                cand = snaps / commit
                if re.fullmatch(r"[0-9a-f]{7,64}", commit) and (cand / "config.json").exists():
                    return cand
            found = [p for p in snaps.iterdir() if (p / "config.json").exists()]
        except OSError:
            continue
        if found:
            return max(found, key=lambda p: p.stat().st_mtime)
    return None


def name_from_path(path: Path) -> str | None:
    """``org/name`` when the folder is a hub-cache snapshot (``models--org--name/snapshots/<rev>``)."""
    parts = path.resolve().parts if path.exists() else path.parts
    for i, p in enumerate(parts):
        if p.startswith("models--") and i + 1 < len(parts) and parts[i + 1] == "snapshots":
            org_name = p[len("models--"):].split("--", 1)
            if len(org_name) == 2:
                return "/".join(org_name)
    return None


def safetensors_bytes(folder: Path) -> tuple[int, str] | None:
    """(bytes of every tensor, where from): the index's ``metadata.total_size``, else the sum of
    the ``data_offsets`` in each ``*.safetensors`` header (the weights themselves are not read)."""
    index = folder / "model.safetensors.index.json"
    if index.is_file():
        data = _json_file(index, "a safetensors index", MAX_INDEX_BYTES)
        total = data.get("metadata", {}).get("total_size") if isinstance(data, dict) else None
        if isinstance(total, (int, float)) and not isinstance(total, bool) and total > 0:
            return int(total), f"{index}: metadata.total_size"
    try:
        shards = sorted(folder.glob("*.safetensors"))[:MAX_SHARDS]
    except OSError:
        return None
    total = 0
    for shard in shards:
        try:
            with shard.open("rb") as fh:
                head = fh.read(8)
                if len(head) != 8:
                    return None
                (n,) = struct.unpack("<Q", head)
                if n > MAX_SAFETENSORS_HEADER:
                    return None
                header = json.loads(fh.read(n).decode("utf-8"))
        except (OSError, ValueError, UnicodeDecodeError):
            return None
        if not isinstance(header, dict):
            return None
        for key, t in header.items():
            if key == "__metadata__" or not isinstance(t, dict):
                continue
            off = t.get("data_offsets")
            if isinstance(off, list) and len(off) == 2 and all(isinstance(x, int) for x in off):
                total += off[1] - off[0]
    if not shards or total <= 0:
        return None
    return total, f"{folder}/*.safetensors headers ({len(shards)} files)"


def read_checkpoint(path: Path, *, display_name: str | None = None):
    """A model folder (or a config.json) -> :class:`doctor.sizing.ModelSpec`, quantisation and size included."""
    from doctor.models import ModelConfigError, spec_from_hf_config

    folder = path if path.is_dir() else path.parent
    cfg_path = path / "config.json" if path.is_dir() else path
    if path.is_dir() and not cfg_path.exists():
        raise ModelConfigError(f"{cfg_path}: no such file (the folder has no config.json)")
    try:
        cfg = _json_file(cfg_path, "a config.json", MAX_CONFIG_BYTES)
        hfq_path = folder / "hf_quant_config.json"
        if not path.is_dir() and path.name.endswith(".config.json"):  # fixtures: NAME.config.json + NAME.hf_quant_config.json
            hfq_path = folder / path.name.replace(".config.json", ".hf_quant_config.json")
        hfq = _json_file(hfq_path, "an hf_quant_config.json", MAX_CONFIG_BYTES) if hfq_path.is_file() else None
        size = safetensors_bytes(folder) if path.is_dir() else None
    except UsageError as exc:
        raise ModelConfigError(str(exc)) from None
    if not isinstance(cfg, dict):
        raise ModelConfigError(f"{cfg_path}: not a JSON object")
    name = display_name or name_from_path(folder) or _config_name(cfg) or _stem_name(path) or _arch_name(cfg)
    try:
        spec = spec_from_hf_config(cfg, str(cfg_path), name=name, hf_quant=hfq, hf_quant_where=str(hfq_path),
                                   source=str(cfg_path), checkpoint_bytes=size[0] if size else 0)
    except CheckpointError as exc:
        raise ModelConfigError(str(exc)) from None
    return spec


def _config_name(cfg: dict) -> str | None:
    """``_name_or_path`` when it is a hub id (exporters often leave a local path there)."""
    n = cfg.get("_name_or_path")
    if isinstance(n, str) and looks_like_hub_id(n):
        return n
    return None


def _stem_name(path: Path) -> str:
    """A fixture-style file name ``org--name.config.json`` -> ``org/name``; else the folder's name."""
    stem = path.name[: -len(".config.json")] if path.name.endswith(".config.json") else ""
    if stem and "--" in stem:
        return stem.replace("--", "/", 1)
    folder = path.resolve() if path.is_dir() else path.parent.resolve()
    if folder.name and not _GENERIC_FOLDER.match(folder.name):
        return folder.name
    return ""


#: folder names that say nothing about the model (a snapshot hash, "model", "checkpoint"...).
_GENERIC_FOLDER = re.compile(r"^([0-9a-f]{12,64}|model|models|checkpoint|checkpoints|hf|weights|snapshot|main|latest|"
                             r"ckpt|final|output|\.)$", re.I)


def _arch_name(cfg: dict) -> str:
    archs = cfg.get("architectures")
    if isinstance(archs, list) and archs and isinstance(archs[0], str):
        return archs[0]
    return str(cfg.get("model_type") or "model")
