"""``--model M``: a preset name (rules/models.toml) or a local Hugging Face config.json / model folder.

Never the network: a name that is neither a preset nor a local path is a usage error
listing the presets. Every problem in a config names the file and the field.
"""

from __future__ import annotations

import math
from dataclasses import replace
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


#: upper bounds of the integer fields the sizing loops over (real 2026 models: <= 200 layers, <= 512 experts)
_CAPS = {name: 4096 for name in ("num_hidden_layers", "n_layer", "num_layers", "n_layers", "num_nextn_predict_layers",
                                 "first_k_dense_replace", "depth")}
_CAPS.update({name: 65536 for name in ("num_local_experts", "n_routed_experts", "num_experts", "n_shared_experts",
                                       "num_experts_per_tok", "num_attention_heads", "num_key_value_heads", "n_head")})


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
                cap = _CAPS.get(n, 2**40)
                if v > cap:  # a corrupt or hostile config: never a loop over 10**30 layers
                    shown = str(v) if v < 10**15 else f"a {len(str(v))}-digit number"
                    raise ModelConfigError(f"{where}: field {n!r} is {shown}, more than any model has (at most {cap:,}); "
                                           "the config is corrupt")
            elif kind is bool:
                if not isinstance(v, bool):
                    raise ModelConfigError(f"{where}: field {n!r} should be true or false, found {v!r}")
            return v
    if required:
        alt = f" (or {', '.join(repr(n) for n in names[1:])})" if len(names) > 1 else ""
        raise ModelConfigError(f"{where}: required field {names[0]!r}{alt} is missing")
    return default


#: model_type -> vocab_size when the config omits it (the transformers config class default).
_VOCAB_DEFAULT = {"gemma3_text": 262208, "gemma3": 262208}
#: activations without a gate projection (2-matrix MLPs).
_UNGATED_ACTS = {"relu2", "gelu", "gelu_new", "gelu_pytorch_tanh_ungated", "relu"}
#: Nemotron-H hybrid_override_pattern letters -> (mixer, ffn).
_HYBRID = {"M": ("mamba", "none"), "*": ("attention", "none"), "-": ("none", "dense"), "E": ("none", "moe")}


def _hybrid_layout(pattern: Any, layers: int, where: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
    if not isinstance(pattern, str) or not pattern:
        raise ModelConfigError(f"{where}: field 'hybrid_override_pattern' should be a string of M, *, - and E")
    bad = sorted({c for c in pattern if c not in _HYBRID})
    if bad:
        raise ModelConfigError(f"{where}: hybrid_override_pattern has unknown layer letters {''.join(bad)!r} "
                               "(known: M Mamba-2, * attention, - MLP, E MoE)")
    if len(pattern) != layers:
        raise ModelConfigError(f"{where}: hybrid_override_pattern has {len(pattern)} layers, num_hidden_layers is {layers}")
    return tuple(_HYBRID[c][0] for c in pattern), tuple(_HYBRID[c][1] for c in pattern)


def _vision_params(vc: Any, text_hidden: int) -> int:
    """An estimate of a ViT-style vision tower's parameters from its vision_config: per layer
    q/k/v/o (4 Hv^2 + biases) and a 2-matrix MLP (2 Hv Iv), two LayerNorms; a patch
    embedding (3 p^2 Hv), a position table, and a projector into the text width (Hv x H)."""
    if not isinstance(vc, dict):
        return 0
    try:
        hv = int(vc.get("hidden_size") or 0)
        layers = int(vc.get("num_hidden_layers") or vc.get("depth") or 0)
        iv = int(vc.get("intermediate_size") or 4 * hv)
        p = int(vc.get("patch_size") or 14)
    except (TypeError, ValueError):
        return 0
    if not (hv and layers):
        return 0
    per_layer = 4 * hv * hv + 4 * hv + 2 * hv * iv + iv + hv + 4 * hv
    positions = vc.get("position_embedding_size") or ((int(vc.get("image_size") or 0) // p) ** 2 if vc.get("image_size") else 0)
    try:
        positions = int(positions)
    except (TypeError, ValueError):
        positions = 0
    return layers * per_layer + 3 * p * p * hv + positions * hv + hv * text_hidden


def spec_from_hf_config(cfg: Any, where: str = "config.json", name: str | None = None, *,
                        hf_quant: Any = None, hf_quant_where: str = "hf_quant_config.json", **meta: Any) -> ModelSpec:
    """Build a :class:`ModelSpec` from a Hugging Face config dict (and its hf_quant_config.json, if any).

    Handles: GQA/MQA (num_key_value_heads, multi_query), explicit head_dim, tied
    embeddings (per-model-type defaults), Qwen2 QKV biases, MoE (num_local_experts /
    num_experts / n_routed_experts, shared experts, leading dense layers, Qwen's
    decoder_sparse_step / mlp_only_layers, Llama 4's interleave_moe_layer_step,
    Gemma 4's MoE beside a dense MLP, LatentMoE), sliding windows (Mistral: all layers;
    Gemma 2: every other layer; Gemma 3 patterns; layer_types lists), Gemma 4's global
    layers, attention sinks (gpt-oss), hybrid Mamba-2 layouts (hybrid_override_pattern),
    MTP modules, qk-norm, MLA (DeepSeek), multimodal wrappers (``text_config``; the vision
    tower is estimated from ``vision_config``) and the checkpoint's quantisation
    (``quantization_config``, ``hf_quant_config.json``). GPT-style names (n_layer, n_embd,
    n_head) are accepted.
    """
    from doctor.checkpoint import quant_from_configs

    if not isinstance(cfg, dict):
        raise ModelConfigError(f"{where}: not a JSON object")
    if "build_config" in cfg or "builder_config" in cfg:
        raise ModelConfigError(f"{where}: this is a TensorRT-LLM engine config; use --engine DIR for engines")
    if "mapping" in cfg and "architecture" in cfg:
        raise ModelConfigError(f"{where}: this is a TensorRT-LLM checkpoint config (architecture + mapping); "
                               "pass the Hugging Face config.json it was converted from")
    top = cfg
    where_top = where
    if "num_hidden_layers" not in cfg and isinstance(cfg.get("text_config"), dict):
        cfg = {**cfg["text_config"]}
        for k in ("torch_dtype", "dtype", "quantization_config", "tie_word_embeddings"):
            if cfg.get(k) is None and top.get(k) is not None:
                cfg[k] = top[k]
        where = f"{where}: text_config"
    model_type = str(cfg.get("model_type") or top.get("model_type") or "")
    archs = top.get("architectures") or []
    arch = archs[0] if isinstance(archs, list) and archs and isinstance(archs[0], str) else ""

    layers = _get(cfg, where, "num_hidden_layers", "n_layer", "num_layers", "n_layers", required=True)
    hidden = _get(cfg, where, "hidden_size", "n_embd", "d_model", "dim", required=True)
    heads = _get(cfg, where, "num_attention_heads", "n_head", "num_heads", "n_heads", required=True)
    vocab = _get(cfg, where, "vocab_size", "padded_vocab_size", default=_VOCAB_DEFAULT.get(model_type))
    if vocab is None:
        raise ModelConfigError(f"{where}: required field 'vocab_size' is missing")
    if layers == 0 or hidden == 0 or heads == 0 or vocab == 0:
        raise ModelConfigError(f"{where}: num_hidden_layers, hidden_size, num_attention_heads and vocab_size must be > 0")
    kv = _get(cfg, where, "num_key_value_heads", "num_kv_heads", "n_head_kv", "multi_query_group_num")
    if kv is None:
        kv = 1 if cfg.get("multi_query") is True else heads
    if kv == 0 or heads % kv:
        raise ModelConfigError(f"{where}: num_key_value_heads={kv} does not divide num_attention_heads={heads}")
    head_dim = _get(cfg, where, "head_dim", "attention_head_dim", "head_size", "kv_channels")
    if head_dim is None:
        if hidden % heads:
            raise ModelConfigError(f"{where}: hidden_size {hidden} is not a multiple of num_attention_heads {heads}; "
                                   "the config needs a 'head_dim'")
        head_dim = hidden // heads
    inter = _get(cfg, where, "intermediate_size", "ffn_hidden_size", "n_inner", "ffn_dim")
    act_name = str(cfg.get("mlp_hidden_act") or cfg.get("hidden_act") or cfg.get("hidden_activation") or "").lower()
    gated = model_type not in ("gpt2", "opt", "gpt_neox", "bloom", "falcon", "phi", "gptj", "starcoder", "gpt_bigcode") \
        and not (model_type == "nemotron_h" and act_name in _UNGATED_ACTS)
    if inter is None:
        inter = 4 * hidden
    tie = cfg.get("tie_word_embeddings", top.get("tie_word_embeddings"))
    if not isinstance(tie, bool):
        tie = model_type in _TIED_BY_DEFAULT
    dtype_raw = cfg.get("torch_dtype") or cfg.get("dtype") or top.get("torch_dtype") or top.get("dtype") or "bfloat16"
    dtype = _DTYPES.get(str(dtype_raw).lower(), "bf16")

    # Hybrid layout (Nemotron-H, Nemotron 3): one block per letter
    mixers: tuple[str, ...] = ()
    ffns: tuple[str, ...] = ()
    if cfg.get("hybrid_override_pattern") is not None:
        mixers, ffns = _hybrid_layout(cfg.get("hybrid_override_pattern"), layers, where)

    # MoE
    experts = _get(cfg, where, "num_local_experts", "num_experts", "n_routed_experts", "moe_num_experts", default=0)
    if experts and cfg.get("enable_moe_block") is False:
        experts = 0
    top_k = _get(cfg, where, "num_experts_per_tok", "experts_per_token", "top_k_experts", "moe_top_k", "top_k",
                 default=0) if experts else 0
    moe_inter = _get(cfg, where, "moe_intermediate_size", default=0) if experts else 0
    if not experts and any(f in ("moe", "moe+dense") for f in ffns):  # found by tools/fuzz.py (a ZeroDivisionError)
        raise ModelConfigError(f"{where}: hybrid_override_pattern has MoE layers ('E') but the config has no experts "
                               "(num_experts / n_routed_experts is 0 or missing)")
    shared = 0
    dense_layers = 0
    dense_inter = 0
    if experts:
        shared = _get(cfg, where, "shared_expert_intermediate_size", "moe_shared_expert_intermediate_size",
                      "shared_intermediate_size", default=0)
        n_shared = _get(cfg, where, "n_shared_experts", default=0)
        if n_shared and not shared:
            shared = n_shared * (moe_inter or inter)
        dense_layers = _get(cfg, where, "first_k_dense_replace", default=0)
        if top_k == 0:
            raise ModelConfigError(f"{where}: an MoE config ({experts} experts) needs 'num_experts_per_tok'")
        if not ffns:
            step = _get(cfg, where, "interleave_moe_layer_step", default=0)
            sparse_step = _get(cfg, where, "decoder_sparse_step", default=0)
            only_dense = cfg.get("mlp_only_layers") or []
            if not isinstance(only_dense, list):
                raise ModelConfigError(f"{where}: field 'mlp_only_layers' should be a list of layer indices")
            if model_type.startswith("gemma4") or cfg.get("enable_moe_block") is True:
                ffns = ("moe+dense",) * layers
            elif step and step > 1:  # Llama 4: MoE on layers step-1, 2*step-1, ...
                ffns = tuple("moe" if (i + 1) % step == 0 else "dense" for i in range(layers))
                dense_inter = _get(cfg, where, "intermediate_size_mlp", default=0)
            elif (sparse_step and sparse_step > 1) or only_dense:
                ffns = tuple("dense" if (i in only_dense or (sparse_step and (i + 1) % sparse_step)) else "moe"
                             for i in range(layers))
            if model_type.startswith("llama4") and not shared:
                shared = inter  # Llama 4: one shared expert of intermediate_size beside the routed ones
                moe_inter = moe_inter or inter
                if not dense_inter:
                    dense_inter = _get(cfg, where, "intermediate_size_mlp", default=0)

    # Sliding window
    window = _get(cfg, where, "sliding_window", default=None)
    window_layers = 0
    layer_types = cfg.get("layer_types")
    if isinstance(layer_types, list) and layer_types and not mixers:
        if len(layer_types) != layers:
            raise ModelConfigError(f"{where}: layer_types has {len(layer_types)} entries, num_hidden_layers is {layers}")
        kinds = tuple("sliding" if isinstance(t, str) and "sliding" in t else "attention" for t in layer_types)
        window_layers = sum(1 for k in kinds if k == "sliding")
        if window and window_layers:
            mixers = kinds
    elif window and not mixers:
        if model_type.startswith("qwen") and not cfg.get("use_sliding_window", False):
            window_layers = 0
        elif model_type == "gemma2":
            window_layers = math.ceil(layers / 2)  # even layers are local (HF Gemma2: not layer_idx % 2)
        elif model_type in ("gemma3", "gemma3_text"):
            pattern = _get(cfg, where, "sliding_window_pattern", default=6)
            mixers = tuple("attention" if pattern and (i + 1) % pattern == 0 else "sliding" for i in range(layers))
            window_layers = sum(1 for k in mixers if k == "sliding")
        else:
            window_layers = layers
    if window and window_layers and window >= (_get(cfg, where, "max_position_embeddings", default=0) or 0) > 0:
        window_layers = 0  # a window as long as the context is no window
        mixers = tuple("attention" if k == "sliding" else k for k in mixers)
    if not window_layers:
        window = None
        if mixers and all(k in ("attention", "sliding") for k in mixers):
            mixers = ()

    norms = 4 if model_type in ("gemma2", "gemma3", "gemma3_text", "gemma4", "gemma4_text") else 2
    if model_type == "nemotron_h":
        norms = 1
    qk_norm = model_type in ("qwen3", "qwen3_moe", "gemma3", "gemma3_text", "gemma4", "gemma4_text", "olmo2") \
        or bool(cfg.get("qk_layernorm")) or cfg.get("use_qk_norm") is True
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
    extra: dict[str, Any] = {}
    if model_type == "gpt_oss":
        extra.update(attention_sinks=True, expert_bias=True, router_bias=True, o_bias=qkv_bias)
    if cfg.get("topk_method") == "noaux_tc" or cfg.get("use_routing_bias") is True:
        extra["router_bias"] = True
    if cfg.get("global_head_dim") or cfg.get("num_global_key_value_heads"):
        extra.update(global_head_dim=_get(cfg, where, "global_head_dim", default=0),
                     global_num_kv_heads=_get(cfg, where, "num_global_key_value_heads", default=0),
                     global_k_eq_v=cfg.get("attention_k_eq_v") is True)
    if any(k == "mamba" for k in mixers):
        extra.update(
            mamba_num_heads=_get(cfg, where, "mamba_num_heads", required=True),
            mamba_head_dim=_get(cfg, where, "mamba_head_dim", required=True),
            ssm_state_size=_get(cfg, where, "ssm_state_size", "state_size", required=True),
            mamba_groups=_get(cfg, where, "n_groups", "ngroups", default=1),
            mamba_conv_kernel=_get(cfg, where, "conv_kernel", "d_conv", default=4),
            mamba_ssm_dtype=_DTYPES.get(str(cfg.get("mamba_ssm_cache_dtype") or "float32").lower(), "fp32"),
        )
    if experts and cfg.get("moe_latent_size"):
        extra["moe_latent_size"] = _get(cfg, where, "moe_latent_size")
    # MTP modules
    mtp: tuple[str, ...] = ()
    n_mtp = _get(cfg, where, "num_nextn_predict_layers", default=0)
    pattern = cfg.get("mtp_hybrid_override_pattern")
    if n_mtp and isinstance(pattern, str) and pattern and all(c in _HYBRID for c in pattern):
        mtp = tuple(f"{_HYBRID[c][0]}+{_HYBRID[c][1]}" for c in pattern) * n_mtp
    elif n_mtp:
        mtp = ("attention+" + ("moe" if experts else "dense"),) * n_mtp
    # (MiniMax-M2's use_mtp / num_mtp_modules: its released checkpoints ship no MTP weights - the
    # safetensors total of MiniMax-M2.7 matches the main model alone - so they are not counted.)
    if mtp:
        extra["mtp_layers"] = mtp
    vision = _vision_params(top.get("vision_config"), hidden) if top is not cfg else 0
    quant = quant_from_configs(cfg.get("quantization_config"), hf_quant, where, hf_quant_where)
    return ModelSpec(
        name=name or str(top.get("_name_or_path") or arch or model_type or where_top),
        num_layers=layers, hidden_size=hidden, num_heads=heads, num_kv_heads=kv, head_dim=head_dim,
        intermediate_size=inter, vocab_size=vocab, architecture=arch, model_type=model_type, dtype=dtype,
        tie_embeddings=tie, qkv_bias=qkv_bias, mlp_bias=mlp_bias, gated_mlp=gated, norms_per_layer=norms,
        norm_bias=not gated and model_type != "nemotron_h", qk_norm=qk_norm,
        learned_positions=_get(cfg, where, "max_position_embeddings", "n_positions", default=0) if model_type in ("gpt2", "opt") else 0,
        num_experts=experts, experts_per_token=top_k, moe_intermediate_size=moe_inter,
        shared_expert_intermediate_size=shared, dense_layers=dense_layers, dense_intermediate_size=dense_inter,
        sliding_window=window, sliding_window_layers=window_layers if window else 0,
        layer_mixers=mixers, layer_ffns=ffns, vision_params=vision, quant=quant,
        config_transformers_version=str(top.get("transformers_version") or cfg.get("transformers_version") or ""),
        remote_code=isinstance(top.get("auto_map"), dict) and bool(top.get("auto_map")),
        max_position_embeddings=_get(cfg, where, "max_position_embeddings", "n_positions", "seq_length", default=0),
        **mla, **extra, **meta,
    )


def spec_from_preset(p: ModelPreset) -> ModelSpec:
    from doctor.checkpoint import CheckpointError

    try:
        return spec_from_hf_config(
            p.config, f"rules/models.toml: model ({p.key}): config", name=p.key, hf_quant=p.hf_quant_config,
            hf_quant_where=f"rules/models.toml: model ({p.key}): hf_quant_config",
            published_params=p.published_params, published_params_source=p.published_params_source,
            source="; ".join(p.sources), hf_repo=p.hf_repo, checkpoint_bytes=p.checkpoint_bytes,
        )
    except CheckpointError as exc:
        raise ModelConfigError(str(exc)) from None


def read_hf_config(path: Path) -> ModelSpec:
    """A local config.json, or a model folder holding one (with its hf_quant_config.json and safetensors index)."""
    from doctor.checkpoint import read_checkpoint

    return read_checkpoint(path)


def resolve_model(name: str, kb: KB) -> ModelSpec:
    """``--model``: a local folder or config.json, a hub id in the local Hugging Face cache, or a
    preset key/alias (rules/models.toml). Never the network."""
    from doctor.checkpoint import find_in_hub_cache, hub_cache_dirs, looks_like_hub_id, read_checkpoint

    path = Path(name).expanduser()
    if path.exists():
        return read_checkpoint(path)
    if looks_like_hub_id(name):
        cached = find_in_hub_cache(name)
        if cached is not None:
            spec = read_checkpoint(cached, display_name=name)
            preset = kb.model_preset(name)
            return replace(spec, hf_repo=name, published_params=preset.published_params if preset else None,
                           published_params_source=preset.published_params_source if preset else "")
    preset = kb.model_preset(name)
    if preset is not None:
        return spec_from_preset(preset)
    keys = ", ".join(m.key for m in kb.models)
    where = ""
    if looks_like_hub_id(name):
        where = (f"; not in the local Hugging Face cache ({', '.join(str(d) for d in hub_cache_dirs()[:2])}): "
                 f"download it first (huggingface-cli download {name}) or pass its folder")
    raise ModelConfigError(f"--model {name!r}: not a preset and no such local file or folder{where} "
                           f"(trtllm-doctor never downloads; presets: {keys})")
