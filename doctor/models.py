"""``--model M``: a preset name (rules/models.toml) or a local Hugging Face config.json / model folder.

Never the network: a name that is neither a preset nor a local path is a usage error
listing the presets. Every problem in a config names the file and the field.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from doctor.kb import KB, ModelPreset
from doctor.sizing import ModelSpec

MAX_CONFIG_BYTES = 8 * 2**20


class ModelConfigError(ValueError):
    """A config.json that cannot describe a model; the message names file and field."""


#: model_type -> tie_word_embeddings when the config does not say (transformers' class defaults).
_TIED_BY_DEFAULT = {"gemma", "gemma2", "gemma3", "gemma3_text", "gpt2", "opt", "bloom", "gpt_neo", "phi3small"}
#: model types whose q/k/v projections carry biases without an attention_bias key.
_QKV_BIAS = {"qwen2", "qwen2_moe", "qwen", "qwen2_vl", "qwen2_5_vl"}
#: dtype names in config.json -> the short names used in sizing.
_DTYPES = {"bfloat16": "bf16", "float16": "fp16", "half": "fp16", "float32": "fp32", "float": "fp32",
           "bf16": "bf16", "fp16": "fp16", "fp32": "fp32"}


def _get(cfg: dict[str, Any], where: str, *names: str, default: Any = None, required: bool = False,
         kind: type = int) -> Any:
    """The first of ``names`` present in ``cfg``; type-checked; missing+required -> error naming it."""
    for n in names:
        if n in cfg and cfg[n] is not None:
            v = cfg[n]
            if kind is int:
                if isinstance(v, bool) or not isinstance(v, (int, float)) or (isinstance(v, float) and not v.is_integer()):
                    raise ModelConfigError(f"{where}: field {n!r} should be an integer, found {v!r}")
                v = int(v)
                if v < 0:
                    raise ModelConfigError(f"{where}: field {n!r} is negative ({v})")
            elif kind is bool:
                if not isinstance(v, bool):
                    raise ModelConfigError(f"{where}: field {n!r} should be true or false, found {v!r}")
            return v
    if required:
        alt = f" (or {', '.join(repr(n) for n in names[1:])})" if len(names) > 1 else ""
        raise ModelConfigError(f"{where}: required field {names[0]!r}{alt} is missing")
    return default


def spec_from_hf_config(cfg: Any, where: str = "config.json", name: str | None = None, **meta: Any) -> ModelSpec:
    """Build a :class:`ModelSpec` from a Hugging Face config dict.

    Handles: GQA/MQA (num_key_value_heads, multi_query), explicit head_dim, tied
    embeddings (per-model-type defaults), Qwen2 QKV biases, MoE (num_local_experts /
    num_experts / n_routed_experts, shared experts, leading dense layers), sliding
    windows (Mistral: all layers; Gemma 2: every other layer; layer_types lists),
    Gemma 2's four norms per layer, qk-norm, MLA (DeepSeek), and multimodal wrappers
    (``text_config``). GPT-style names (n_layer, n_embd, n_head) are accepted.
    """
    if not isinstance(cfg, dict):
        raise ModelConfigError(f"{where}: not a JSON object")
    if "build_config" in cfg or "builder_config" in cfg:
        raise ModelConfigError(f"{where}: this is a TensorRT-LLM engine config; use --engine DIR for engines")
    if "mapping" in cfg and "architecture" in cfg:
        raise ModelConfigError(f"{where}: this is a TensorRT-LLM checkpoint config (architecture + mapping); "
                               "pass the Hugging Face config.json it was converted from")
    top = cfg
    if "num_hidden_layers" not in cfg and isinstance(cfg.get("text_config"), dict):
        cfg = {**cfg["text_config"]}
        cfg.setdefault("torch_dtype", top.get("torch_dtype"))
        where = f"{where}: text_config"
    model_type = str(cfg.get("model_type") or top.get("model_type") or "")
    archs = top.get("architectures") or []
    arch = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else ""

    layers = _get(cfg, where, "num_hidden_layers", "n_layer", "num_layers", "n_layers", required=True)
    hidden = _get(cfg, where, "hidden_size", "n_embd", "d_model", "dim", required=True)
    heads = _get(cfg, where, "num_attention_heads", "n_head", "num_heads", "n_heads", required=True)
    vocab = _get(cfg, where, "vocab_size", "padded_vocab_size", required=True)
    if layers == 0 or hidden == 0 or heads == 0 or vocab == 0:
        raise ModelConfigError(f"{where}: num_hidden_layers, hidden_size, num_attention_heads and vocab_size must be > 0")
    kv = _get(cfg, where, "num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num")
    if kv is None:
        kv = 1 if cfg.get("multi_query") is True else heads
    if kv == 0 or heads % kv:
        raise ModelConfigError(f"{where}: num_key_value_heads={kv} does not divide num_attention_heads={heads}")
    head_dim = _get(cfg, where, "head_dim", "head_size", "kv_channels")
    if head_dim is None:
        if hidden % heads:
            raise ModelConfigError(f"{where}: hidden_size {hidden} is not a multiple of num_attention_heads {heads}; "
                                   "the config needs a 'head_dim'")
        head_dim = hidden // heads
    inter = _get(cfg, where, "intermediate_size", "ffn_hidden_size", "n_inner", "ffn_dim")
    gated = model_type not in ("gpt2", "opt", "gpt_neox", "bloom", "falcon", "phi", "gptj", "starcoder", "gpt_bigcode")
    if inter is None:
        inter = 4 * hidden
    tie = cfg.get("tie_word_embeddings", top.get("tie_word_embeddings"))
    if not isinstance(tie, bool):
        tie = model_type in _TIED_BY_DEFAULT
    dtype_raw = cfg.get("torch_dtype") or cfg.get("dtype") or top.get("torch_dtype") or "bfloat16"
    dtype = _DTYPES.get(str(dtype_raw).lower(), "bf16")

    # MoE
    experts = _get(cfg, where, "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts", default=0)
    top_k = _get(cfg, where, "num_experts_per_tok", "moe_top_k", "top_k", default=0) if experts else 0
    moe_inter = _get(cfg, where, "moe_intermediate_size", default=0) if experts else 0
    shared = 0
    dense_layers = 0
    if experts:
        shared = _get(cfg, where, "shared_expert_intermediate_size", default=0)
        n_shared = _get(cfg, where, "n_shared_experts", default=0)
        if n_shared and not shared:
            shared = n_shared * (moe_inter or inter)
        dense_layers = _get(cfg, where, "first_k_dense_replace", default=0)
        if top_k == 0:
            raise ModelConfigError(f"{where}: an MoE config ({experts} experts) needs 'num_experts_per_tok'")

    # Sliding window
    window = _get(cfg, where, "sliding_window", default=None)
    window_layers = 0
    layer_types = cfg.get("layer_types")
    if isinstance(layer_types, list) and layer_types:
        window_layers = sum(1 for t in layer_types if isinstance(t, str) and "sliding" in t)
    elif window:
        if model_type.startswith("qwen") and not cfg.get("use_sliding_window", False):
            window_layers = 0
        elif model_type == "gemma2":
            window_layers = math.ceil(layers / 2)  # even layers are local (HF Gemma2: not layer_idx % 2)
        elif model_type in ("gemma3", "gemma3_text"):
            pattern = _get(cfg, where, "sliding_window_pattern", default=6)
            window_layers = layers - layers // pattern if pattern else layers
        else:
            window_layers = layers
    if window and window_layers and window >= (_get(cfg, where, "max_position_embeddings", default=0) or 0) > 0:
        window_layers = 0  # a window as long as the context is no window
    if not window_layers:
        window = None

    norms = 4 if model_type in ("gemma2", "gemma3", "gemma3_text") else 2
    qk_norm = model_type in ("qwen3", "qwen3_moe", "gemma3", "gemma3_text", "olmo2") or bool(cfg.get("qk_layernorm"))
    qkv_bias = bool(cfg.get("attention_bias", model_type in _QKV_BIAS)) or bool(cfg.get("qkv_bias"))
    mlp_bias = cfg.get("mlp_bias") is True
    mla = {}
    if _get(cfg, where, "kv_lora_rank", default=0):
        mla = dict(
            kv_lora_rank=_get(cfg, where, "kv_lora_rank"),
            q_lora_rank=_get(cfg, where, "q_lora_rank", default=0),
            qk_rope_head_dim=_get(cfg, where, "qk_rope_head_dim", required=True),
            qk_nope_head_dim=_get(cfg, where, "qk_nope_head_dim", required=True),
            v_head_dim=_get(cfg, where, "v_head_dim", required=True),
        )
    return ModelSpec(
        name=name or str(cfg.get("_name_or_path") or arch or model_type or where),
        num_layers=layers, hidden_size=hidden, num_heads=heads, num_kv_heads=kv, head_dim=head_dim,
        intermediate_size=inter, vocab_size=vocab, architecture=arch, model_type=model_type, dtype=dtype,
        tie_embeddings=tie, qkv_bias=qkv_bias, mlp_bias=mlp_bias, gated_mlp=gated, norms_per_layer=norms,
        norm_bias=not gated, qk_norm=qk_norm,
        learned_positions=_get(cfg, where, "max_position_embeddings", "n_positions", default=0) if model_type in ("gpt2", "opt") else 0,
        num_experts=experts, experts_per_token=top_k, moe_intermediate_size=moe_inter,
        shared_expert_intermediate_size=shared, dense_layers=dense_layers,
        sliding_window=window, sliding_window_layers=window_layers if window else 0,
        max_position_embeddings=_get(cfg, where, "max_position_embeddings", "n_positions", "seq_length", default=0),
        **mla, **meta,
    )


def spec_from_preset(p: ModelPreset) -> ModelSpec:
    return spec_from_hf_config(
        p.config, f"rules/models.toml: model ({p.key}): config", name=p.key,
        published_params=p.published_params, published_params_source=p.published_params_source,
        source="; ".join(p.sources), hf_repo=p.hf_repo,
    )


def read_hf_config(path: Path) -> ModelSpec:
    """A local config.json, or a model folder holding one."""
    cfg_path = path / "config.json" if path.is_dir() else path
    try:
        if cfg_path.stat().st_size > MAX_CONFIG_BYTES:
            raise ModelConfigError(f"{cfg_path}: {cfg_path.stat().st_size} bytes is too large for a config.json")
        raw = cfg_path.read_bytes()
    except FileNotFoundError:
        raise ModelConfigError(f"{cfg_path}: no such file" + (" (the folder has no config.json)" if path.is_dir() else "")) from None
    except OSError as exc:
        raise ModelConfigError(f"cannot read {cfg_path}: {exc.strerror}") from None
    try:
        data = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ModelConfigError(f"{cfg_path}: not a config.json (binary data)") from None
    except json.JSONDecodeError as exc:
        raise ModelConfigError(f"{cfg_path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    name = path.name if path.is_dir() else (path.parent.name or path.stem)
    return spec_from_hf_config(data, str(cfg_path), name=str(data.get("_name_or_path") or name) if isinstance(data, dict) else name,
                               source=str(cfg_path))


def resolve_model(name: str, kb: KB) -> ModelSpec:
    """``--model``: a preset key/alias, else a local path. Never the network."""
    preset = kb.model_preset(name)
    if preset is not None:
        return spec_from_preset(preset)
    path = Path(name).expanduser()
    if path.exists():
        return read_hf_config(path)
    keys = ", ".join(m.key for m in kb.models)
    raise ModelConfigError(f"--model {name!r}: not a preset and no such local file or folder "
                           f"(trtllm-doctor never downloads; presets: {keys})")
