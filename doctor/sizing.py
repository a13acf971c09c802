"""Every memory formula of trtllm-doctor, documented once.

All sizes are bytes (ints). "Per GPU" always means one rank; where ranks differ
(pipeline stages that hold different layers, the embedding or the LM head) every
stage is computed and the capacity is the smallest one, as the runtime's MIN
all-reduce does. Nothing here touches the machine; the functions are pure and cheap,
so checks, ``plan`` and the tests share them.

Notation: L layers, H hidden size, A attention heads, Kv KV heads, d head dim,
I MLP (FFN) size, V vocabulary, tp / pp tensor- / pipeline-parallel sizes.

The model is read layer by layer (:func:`layer_shapes`): each layer has a *mixer*
(attention, sliding-window attention, a Mamba-2 SSM, or none) and an *FFN* (dense,
MoE, MoE beside a dense MLP, or none). That covers plain decoders, Mistral/Gemma
sliding windows, Gemma 4's global layers, Llama 4's interleaved MoE, DeepSeek's
leading dense layers, and the Nemotron-H / Nemotron 3 hybrids, whose
``hybrid_override_pattern`` gives one block per layer.

Sources for the formulas:

* KV bytes per token (C++ ``BaseKVCacheManager::calculateCacheSizePerToken``; the
  PyTorch backend's ``KVCacheManager.get_cache_bytes_per_token`` in
  ``tensorrt_llm/_torch/pyexecutor/resource_manager.py``): the sum over this rank's
  attention layers of ``kv_factor x local_kv_heads x d`` elements times the element
  size; ``local_kv_heads = max(1, Kv // tp)`` (heads are replicated when tp > Kv);
  kv_factor 2 (K and V), 1 for an MLA latent cache of ``kv_lora_rank + qk_rope_head_dim``.
  NVFP4 KV stores ``ceil(x/2) + ceil(x/16)`` bytes for x elements.
* Mamba-2 state (``tensorrt_llm/_torch/pyexecutor/mamba_cache_manager.py``
  ``PythonMambaCacheManager.__init__``): per Mamba layer and per *batch slot*
  (``max_batch_size`` slots, allocated up front) a conv state of
  ``(d_inner + 2 n_groups d_state) / tp x (d_conv - 1)`` in the model dtype and an SSM
  state of ``heads / tp x head_dim x d_state`` in ``mamba_ssm_cache_dtype`` (FP32 in the
  Nemotron configs).
* KV pool, PyTorch backend (``KvCacheCreator`` in ``tensorrt_llm/_torch/pyexecutor/_util.py``
  and ``KVCacheManager.calculate_max_num_blocks``): ``fraction x (free - weights -
  peak activations - memory outside torch) / bytes_per_token``, capped by
  ``kv_cache_config.max_tokens`` and ``max_gpu_total_bytes``, floored to whole blocks of
  ``tokens_per_block`` (32), then the minimum over ranks. Sliding-window layers get
  per-window pools (VSWA): a window layer holds at most ``window`` tokens of a sequence.
* KV pool, TensorRT engines (C++ ``BaseKVCacheManager::calculateMaxNumBlocks``):
  ``fraction x free_after_engine_load / bytes_per_token``, rounded *up* to blocks of 64
  (trtllm-build's default since 0.10); old engines allocate every layer for the full length.
* Weights: every linear layer in the checkpoint's own format (its ``quantization_config``
  or ``hf_quant_config.json``: FP8 per tensor or in 128x128 blocks, NVFP4, MXFP4, INT4
  AWQ/GPTQ, INT8) or the format asked with ``--quant``, scales included; modules the
  checkpoint excludes from quantisation (``modules_to_not_convert``, ``ignore``,
  ``exclude_modules``), embeddings, norms, routers and the LM head stay 16-bit.
* Activations: an estimate, documented in :func:`activation_bytes`; the runtime measures
  them (PyTorch: a dry run; TensorRT: at build time). ``plan --from-log`` compares.
"""

from __future__ import annotations

import fnmatch
import functools
import math
from dataclasses import dataclass, field, replace
from typing import Any, Callable

GIB = 2**30
GB = 10**9

#: trtllm-build's default ``--max_num_tokens`` (BuildConfig, 0.11+) and the LLM API's (``max_num_tokens`` 8192).
DEFAULT_MAX_NUM_TOKENS = 8192
#: trtllm-build's default ``--tokens_per_block`` (PluginConfig, 0.10+; RN 0.10.0).
DEFAULT_TOKENS_PER_BLOCK = 64
#: The PyTorch backend's ``KvCacheConfig.tokens_per_block`` default (kb.md section 6).
PYTORCH_TOKENS_PER_BLOCK = 32
#: ``KvCacheConfig::kDefaultGpuMemFraction`` (C++) and the LLM API's ``free_gpu_memory_fraction`` default.
DEFAULT_KV_FRACTION = 0.9
#: The LLM API's ``max_batch_size`` default (TorchLlmArgs, 1.x): Mamba state is allocated for this many slots.
PYTORCH_MAX_BATCH_SIZE = 2048
#: CUDA context, cuBLAS/cuBLASLt workspaces, NCCL buffers and the runtime's own buffers:
#: memory a process uses that is neither weights, activations nor KV cache. An
#: estimate (a CUDA context alone is ~0.3-0.6 GiB on Hopper); kept as one constant.
RUNTIME_OVERHEAD_BYTES = 1 * GIB

#: Weight formats -> (label, value bytes per weight). The scales are added by :func:`linear_bytes`.
FORMATS: dict[str, tuple[str, float]] = {
    "bf16": ("BF16", 2.0), "fp16": ("FP16", 2.0), "fp32": ("FP32", 4.0),
    "fp8": ("FP8 per-tensor", 1.0), "fp8_block": ("FP8 128x128 blocks", 1.0),
    "fp8_channel": ("FP8 per-channel", 1.0),
    "int8_sq": ("INT8 SmoothQuant", 1.0), "int8_wo": ("INT8 weight-only", 1.0),
    "int4_awq": ("INT4 AWQ", 0.5), "int4_gptq": ("INT4 GPTQ", 0.5), "int4_wo": ("INT4 weight-only", 0.5),
    "nvfp4": ("NVFP4", 0.5), "mxfp4": ("MXFP4", 0.5), "w4a8_awq": ("W4A8 AWQ", 0.5),
}
#: Kept for callers of the first version: bytes per weight element of each format (no scales).
WEIGHT_BYTES = {k: v[1] for k, v in FORMATS.items()}
#: KV-cache dtypes -> bytes per element ("auto" = the model dtype, resolved by :func:`kv_dtype_for`).
KV_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "nvfp4": 0.5}
#: INT4-AWQ / INT4 weight-only group size (quantize.py ``--awq_block_size``, default 128).
DEFAULT_GROUP_SIZE = 128
#: NVFP4 block size: one FP8 (E4M3) scale per 16 weights.
NVFP4_BLOCK = 16
#: MXFP4 block size: one E8M0 (1-byte) scale per 32 weights (OCP Microscaling spec).
MXFP4_BLOCK = 32
#: FP8 block-scaled checkpoints (DeepSeek-V3, Qwen3-FP8): one FP32 scale per 128x128 block.
FP8_BLOCK = 128


@dataclass(frozen=True)
class Quant:
    """How a checkpoint's weights are stored (read from its config; see doctor/checkpoint.py)."""

    format: str  # a key of FORMATS
    kv_cache: str | None = None  # KV-cache dtype the checkpoint declares (fp8, nvfp4), else None
    group_size: int = 0  # weights per scale (AWQ/GPTQ 128, NVFP4 16, MXFP4 32)
    exclude: tuple[str, ...] = ()  # module patterns kept in 16 bits
    method: str = ""  # quant_method / quant_algo as written
    source: str = ""  # the file and key it was read from
    activations: str = ""  # "fp8" / "fp4" when activations are quantised too (W8A8, W4A4), "" for weight-only

    @property
    def label(self) -> str:
        return FORMATS[self.format][0]


@dataclass(frozen=True)
class ModelSpec:
    """The shape of a decoder-only transformer (or hybrid), as far as memory is concerned.

    Built from a preset (rules/models.toml), a Hugging Face config.json
    (:mod:`doctor.models`) or an engine's config.json (:mod:`doctor.engine`). The
    per-layer tuples are empty for homogeneous models.
    """

    name: str
    num_layers: int
    hidden_size: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    intermediate_size: int
    vocab_size: int
    architecture: str = ""
    model_type: str = ""
    dtype: str = "bf16"  # the checkpoint's 16/32-bit dtype (bf16 / fp16 / fp32)
    tie_embeddings: bool = False
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    gated_mlp: bool = True  # SwiGLU/GeGLU: gate+up+down (3 matrices); else up+down (2; GELU, relu2)
    norms_per_layer: int = 2  # RMSNorm/LayerNorm vectors of size H per layer (Gemma 2: 4, Nemotron-H blocks: 1)
    norm_bias: bool = False  # LayerNorm with bias (GPT/OPT style): 2 vectors per norm
    qk_norm: bool = False  # per-head q/k norms (Qwen3, Gemma 3): 2*d per layer
    learned_positions: int = 0  # rows of a learned absolute position table (GPT-2/OPT), else 0
    # Mixture of experts
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0  # 0 = intermediate_size
    shared_expert_intermediate_size: int = 0  # always-on expert(s), total width
    dense_layers: int = 0  # leading layers with a dense MLP in an MoE model (DeepSeek first_k_dense_replace)
    dense_intermediate_size: int = 0  # width of the dense MLPs of an MoE model when not intermediate_size
    moe_latent_size: int = 0  # LatentMoE (Nemotron 3 Super): experts work in this width, projected from/to H
    expert_bias: bool = False  # gpt-oss experts carry biases
    router_bias: bool = False  # gpt-oss router bias; DeepSeek e_score_correction_bias
    # Attention variants
    sliding_window: int | None = None  # window of the sliding-window layers
    sliding_window_layers: int = 0  # how many layers use that window (Mistral v0.1: all; Gemma 2: half)
    kv_lora_rank: int = 0  # MLA (DeepSeek V2/V3): latent KV cache, kv_factor 1
    q_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    num_kv_heads_per_layer: tuple[int, ...] = ()  # engine configs may give per-layer KV heads
    global_num_kv_heads: int = 0  # Gemma 4: full-attention layers have their own KV heads...
    global_head_dim: int = 0  # ...and head dim
    global_k_eq_v: bool = False  # Gemma 4 attention_k_eq_v: full-attention layers have no v_proj
    attention_sinks: bool = False  # gpt-oss: one learned sink logit per head per layer
    # Per-layer layout (empty = homogeneous)
    layer_mixers: tuple[str, ...] = ()  # "attention" | "sliding" | "mamba" | "none"
    layer_ffns: tuple[str, ...] = ()  # "dense" | "moe" | "moe+dense" | "none"
    # Mamba-2 mixer (Nemotron-H)
    mamba_num_heads: int = 0
    mamba_head_dim: int = 0
    ssm_state_size: int = 0
    mamba_groups: int = 0
    mamba_conv_kernel: int = 4
    mamba_ssm_dtype: str = "fp32"
    # Extra modules
    mtp_layers: tuple[str, ...] = ()  # multi-token-prediction modules, each a "mixer+ffn" layer kind
    vision_params: int = 0  # parameters of a vision tower (multimodal wrappers), estimated from vision_config
    quant: Quant | None = None  # the checkpoint's own quantisation
    config_transformers_version: str = ""  # transformers_version in config.json (the version that wrote it)
    remote_code: bool = False  # config.json has an auto_map: the model's own code (trust_remote_code)
    max_position_embeddings: int = 0
    published_params: int | None = None
    published_params_source: str = ""
    source: str = ""
    hf_repo: str = ""
    checkpoint_bytes: int = 0  # exact bytes on disk when known (safetensors index total_size / headers)

    # ---- derived shape --------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def is_hybrid(self) -> bool:
        return any(k == "mamba" for k in self.layer_mixers)

    @property
    def attention_layers(self) -> int:
        return sum(1 for s in layer_shapes(self) if s.attention)

    @property
    def mamba_layers(self) -> int:
        return sum(1 for s in layer_shapes(self) if s.mixer == "mamba")

    @property
    def attention_kind(self) -> str:
        """MHA, GQA, MQA or MLA, plus sliding windows and the hybrid layout where present."""
        if self.is_mla:
            kind = "MLA"
        elif self.num_kv_heads == self.num_heads:
            kind = "MHA"
        elif self.num_kv_heads == 1:
            kind = "MQA"
        else:
            kind = "GQA"
        if self.sliding_window and self.sliding_window_layers:
            kind += f" + sliding window {self.sliding_window} on {self.sliding_window_layers}/{self.num_layers} layers"
        if self.is_hybrid:
            kind += f", hybrid: {self.attention_layers} attention + {self.mamba_layers} Mamba-2 of {self.num_layers} layers"
        return kind

    @property
    def weight_format(self) -> str:
        """The checkpoint's own weight format: its quantisation, else its dtype."""
        return self.quant.format if self.quant else kv_dtype_for(self, "auto")


# ---------------------------------------------------------------------------------------
# Layers
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class LayerShape:
    """One decoder layer: its mixer, its FFN and, for attention, the KV it caches."""

    index: int
    mixer: str  # attention | sliding | mamba | none
    ffn: str  # dense | moe | moe+dense | none
    kv_heads: int = 0
    head_dim: int = 0
    q_heads: int = 0
    window: int | None = None
    k_eq_v: bool = False

    @property
    def attention(self) -> bool:
        return self.mixer in ("attention", "sliding")


@functools.lru_cache(maxsize=256)
def layer_shapes(m: ModelSpec) -> tuple[LayerShape, ...]:
    """The layers of ``m`` in order (see the module docstring). The homogeneous defaults:
    every layer attention; sliding windows on ``sliding_window_layers`` layers (all of
    them, or every other one starting with the first as in Gemma 2, when no per-layer
    list is given); MoE on every layer after ``dense_layers``."""
    out = []
    n = m.num_layers
    windows = _window_layers(m)
    for i in range(n):
        mixer = m.layer_mixers[i] if m.layer_mixers else ("sliding" if i in windows else "attention")
        if m.layer_ffns:
            ffn = m.layer_ffns[i]
        elif m.is_moe:
            ffn = "dense" if i < m.dense_layers else "moe"
        else:
            ffn = "dense"
        kv, d = m.num_kv_heads, m.head_dim
        if m.num_kv_heads_per_layer:
            kv = m.num_kv_heads_per_layer[i]
            if kv == 0:
                mixer = "none"
        k_eq_v = False
        if mixer == "attention" and (m.global_num_kv_heads or m.global_head_dim):
            kv = m.global_num_kv_heads or kv
            d = m.global_head_dim or d
            k_eq_v = m.global_k_eq_v
        attn = mixer in ("attention", "sliding")
        out.append(LayerShape(i, mixer, ffn, kv if attn else 0, d if attn else 0, m.num_heads if attn else 0,
                              m.sliding_window if mixer == "sliding" else None, k_eq_v))
    return tuple(out)


def _window_layers(m: ModelSpec) -> set[int]:
    if not (m.sliding_window and m.sliding_window_layers):
        return set()
    if m.layer_mixers:
        return {i for i, k in enumerate(m.layer_mixers) if k == "sliding"}
    if m.sliding_window_layers >= m.num_layers:
        return set(range(m.num_layers))
    return set(range(0, m.num_layers, 2)[: m.sliding_window_layers])


def _mtp_shapes(m: ModelSpec) -> tuple[LayerShape, ...]:
    out = []
    for j, kind in enumerate(m.mtp_layers):
        mixer, _, ffn = kind.partition("+")
        attn = mixer in ("attention", "sliding")
        out.append(LayerShape(m.num_layers + j, mixer, ffn or "none", m.num_kv_heads if attn else 0,
                              m.head_dim if attn else 0, m.num_heads if attn else 0))
    return tuple(out)


def stage_layers(num_layers: int, pp: int) -> list[range]:
    """Layers of each pipeline stage: contiguous, the first ``L % pp`` stages one longer
    (TRT-LLM's ``Mapping.pp_layers``, a ``torch.tensor_split`` of the layer list)."""
    base, extra = divmod(num_layers, pp)
    out, start = [], 0
    for s in range(pp):
        n = base + (1 if s < extra else 0)
        out.append(range(start, start + n))
        start += n
    return out


def layers_per_stage(num_layers: int, pp: int) -> int:
    """Layers on the fullest pipeline stage: ceil(L / pp)."""
    return math.ceil(num_layers / pp)


# ---------------------------------------------------------------------------------------
# Weights, module by module
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class W:
    """One group of identical weights: ``count`` modules of ``out x inp`` elements."""

    part: str  # embedding lm_head attention mlp experts shared router mamba norm vision positions
    module: str  # a Hugging Face-style module path, matched against the checkpoint's exclusion lists
    out: int
    inp: int = 1
    count: int = 1
    shard: str = "rep"  # rep | col | row | kv | expert | vocab
    linear: bool = False  # a Linear weight the weight format applies to
    layer: int = -1  # decoder layer index (>= num_layers: an MTP module); -1 = outside the layers
    active: float = 1.0  # fraction of the group one token uses (routed experts: top_k / E)
    fixed_bytes: float = 0.0  # element size when fixed (FP32 SSM parameters), 0 = the model dtype
    bias: bool = False

    @property
    def elements(self) -> int:
        return self.count * self.out * self.inp


def _names(m: ModelSpec) -> dict[str, str]:
    """Module-path templates per model family (used only to apply exclusion lists)."""
    if m.model_type == "nemotron_h":
        return dict(layer="backbone.layers.{i}", attn="mixer", mlp="mixer", moe="mixer", experts="mixer.experts.{e}",
                    router="mixer.gate", shared="mixer.shared_experts", embed="backbone.embeddings", gate="", up="up_proj",
                    down="down_proj", mamba="mixer")
    if m.model_type in ("mixtral", "minimax_m2", "minimax"):
        return dict(layer="model.layers.{i}", attn="self_attn", mlp="mlp", moe="block_sparse_moe",
                    experts="block_sparse_moe.experts.{e}", router="block_sparse_moe.gate", shared="block_sparse_moe.shared_experts",
                    embed="model.embed_tokens", gate="w1", up="w3", down="w2", mamba="mixer")
    if m.model_type == "gpt_oss":
        return dict(layer="model.layers.{i}", attn="self_attn", mlp="mlp", moe="mlp", experts="mlp.experts",
                    router="mlp.router", shared="mlp.shared_expert", embed="model.embed_tokens", gate="gate_up_proj",
                    up="gate_up_proj", down="down_proj", mamba="mixer")
    shared = "mlp.shared_experts" if m.model_type in ("deepseek_v2", "deepseek_v3", "kimi_k2") else "mlp.shared_expert"
    return dict(layer="model.layers.{i}", attn="self_attn", mlp="mlp", moe="mlp", experts="mlp.experts.{e}",
                router="mlp.gate", shared=shared, embed="model.embed_tokens", gate="gate_proj", up="up_proj",
                down="down_proj", mamba="mixer")


def _ffn_weights(m: ModelSpec, s: LayerShape, pre: str, nm: dict[str, str], width: int, where: str,
                 shard_in: str = "col", shard_out: str = "row", part: str = "mlp", count: int = 1,
                 active: float = 1.0, hidden: int | None = None, layer: int = -1) -> list[W]:
    h = hidden or m.hidden_size
    base = f"{pre}.{where}"
    shard_in = "expert" if count > 1 or part == "experts" else shard_in
    shard_out = "expert" if count > 1 or part == "experts" else shard_out
    out = [W(part, f"{base}.{nm['up']}", width, h, count, shard_in, True, layer, active)]
    if m.gated_mlp:
        out.append(W(part, f"{base}.{nm['gate'] or 'gate_proj'}", width, h, count, shard_in, True, layer, active))
    out.append(W(part, f"{base}.{nm['down']}", h, width, count, shard_out, True, layer, active))
    if (part == "experts" and m.expert_bias) or (part == "mlp" and m.mlp_bias):
        out.append(W(part, f"{base}.bias", width * (2 if m.gated_mlp else 1) + h, 1, count, shard_in, False, layer,
                     active, bias=True))
    return out


def _layer_weights(m: ModelSpec, s: LayerShape) -> list[W]:
    nm = _names(m)
    i = s.index
    pre = nm["layer"].format(i=i)
    h = m.hidden_size
    out: list[W] = []
    norm_vec = h * (2 if m.norm_bias else 1)
    out.append(W("norm", f"{pre}.input_layernorm", norm_vec, 1, m.norms_per_layer, layer=i))
    if s.attention:
        a = pre + "." + nm["attn"]
        if m.is_mla:
            qk = m.qk_nope_head_dim + m.qk_rope_head_dim
            if m.q_lora_rank:
                out += [W("attention", f"{a}.q_a_proj", m.q_lora_rank, h, layer=i, linear=True),
                        W("attention", f"{a}.q_b_proj", m.num_heads * qk, m.q_lora_rank, shard="col", layer=i, linear=True),
                        W("norm", f"{a}.q_a_layernorm", m.q_lora_rank, layer=i)]
            else:
                out.append(W("attention", f"{a}.q_proj", m.num_heads * qk, h, shard="col", layer=i, linear=True))
            out += [W("attention", f"{a}.kv_a_proj_with_mqa", m.kv_lora_rank + m.qk_rope_head_dim, h, layer=i, linear=True),
                    W("attention", f"{a}.kv_b_proj", m.num_heads * (m.qk_nope_head_dim + m.v_head_dim), m.kv_lora_rank,
                      shard="col", layer=i, linear=True),
                    W("norm", f"{a}.kv_a_layernorm", m.kv_lora_rank, layer=i),
                    W("attention", f"{a}.o_proj", h, m.num_heads * m.v_head_dim, shard="row", layer=i, linear=True)]
        else:
            d, kv = s.head_dim, s.kv_heads
            out += [W("attention", f"{a}.q_proj", s.q_heads * d, h, shard="col", layer=i, linear=True),
                    W("attention", f"{a}.k_proj", kv * d, h, shard="kv", layer=i, linear=True)]
            if not s.k_eq_v:
                out.append(W("attention", f"{a}.v_proj", kv * d, h, shard="kv", layer=i, linear=True))
            out.append(W("attention", f"{a}.o_proj", h, s.q_heads * d, shard="row", layer=i, linear=True))
            if m.qkv_bias:
                out += [W("attention", f"{a}.q_proj.bias", s.q_heads * d, shard="col", layer=i, bias=True),
                        W("attention", f"{a}.k_proj.bias", kv * d * (1 if s.k_eq_v else 2), shard="kv", layer=i, bias=True)]
            if m.o_bias:
                out.append(W("attention", f"{a}.o_proj.bias", h, layer=i, bias=True))
            if m.qk_norm:
                out.append(W("norm", f"{a}.q_norm", 2 * d, layer=i))
            if m.attention_sinks:
                out.append(W("attention", f"{a}.sinks", s.q_heads, shard="col", layer=i))
    elif s.mixer == "mamba":
        mx = pre + "." + nm["mamba"]
        d_inner = m.mamba_num_heads * m.mamba_head_dim
        gs = m.mamba_groups * m.ssm_state_size
        conv_dim = d_inner + 2 * gs
        out += [W("mamba", f"{mx}.in_proj", 2 * d_inner + 2 * gs + m.mamba_num_heads, h, shard="col", layer=i, linear=True),
                W("mamba", f"{mx}.conv1d", conv_dim, m.mamba_conv_kernel + 1, shard="col", layer=i),  # weight + bias
                W("mamba", f"{mx}.A_log", 3 * m.mamba_num_heads, shard="col", layer=i, fixed_bytes=4.0),  # A_log, D, dt_bias
                W("mamba", f"{mx}.norm", d_inner, shard="col", layer=i),
                W("mamba", f"{mx}.out_proj", h, d_inner, shard="row", layer=i, linear=True)]
    if s.ffn in ("dense", "moe+dense"):
        width = m.dense_intermediate_size or m.intermediate_size
        out += _ffn_weights(m, s, pre, nm, width, nm["mlp"], layer=i)
    if s.ffn in ("moe", "moe+dense"):
        e = m.num_experts
        width = m.moe_intermediate_size or m.intermediate_size
        ex = nm["experts"].format(i=i, e=0)
        inner_h = m.moe_latent_size or h
        out += _ffn_weights(m, s, pre, nm, width, ex, part="experts", count=e, active=m.experts_per_token / e,
                            hidden=inner_h, layer=i)
        if m.moe_latent_size:
            moe = pre + "." + nm["moe"]
            out += [W("experts", f"{moe}.fc1_latent_proj", m.moe_latent_size, h, layer=i, linear=True),
                    W("experts", f"{moe}.fc2_latent_proj", h, m.moe_latent_size, layer=i, linear=True)]
        out.append(W("router", f"{pre}.{nm['router']}", e, h, layer=i))
        if m.router_bias:
            out.append(W("router", f"{pre}.{nm['router']}.bias", e, layer=i, bias=True))
        if m.shared_expert_intermediate_size:
            out += _ffn_weights(m, s, pre, nm, m.shared_expert_intermediate_size, nm["shared"], part="shared", layer=i)
    return out


def _mtp_weights(m: ModelSpec) -> list[W]:
    """One MTP module (DeepSeek-V3 ``num_nextn_predict_layers``, Nemotron 3 ``mtp_hybrid_override_pattern``):
    its layer(s), an ``eh_proj`` (2H -> H) and two norms; embedding and head are shared."""
    out: list[W] = []
    shapes = _mtp_shapes(m)
    for s in shapes:
        out += [replace(w, part="mtp") for w in _layer_weights(m, s)]
    if shapes:
        h = m.hidden_size
        out += [W("mtp", f"model.layers.{m.num_layers}.eh_proj", h, 2 * h, layer=m.num_layers, linear=True),
                W("mtp", f"model.layers.{m.num_layers}.enorm", h, 1, 3, layer=m.num_layers)]
        if m.model_type in ("deepseek_v3", "deepseek_v32"):
            # DeepSeek-V3's checkpoint stores layer 61 with its own embed_tokens and shared_head.head
            # copies (the model card's 14B MTP weights); the runtime shares the main ones.
            for k in range(len(shapes)):
                out.append(W("mtp_copy", f"model.layers.{m.num_layers + k}.embed_tokens", m.vocab_size, h, 2,
                             layer=m.num_layers + k))
    return out


@functools.lru_cache(maxsize=256)
def weight_groups(m: ModelSpec) -> tuple[W, ...]:
    """Every weight of the model (text decoder, MTP modules, vision tower), grouped."""
    nm = _names(m)
    h, v = m.hidden_size, m.vocab_size
    out = [W("embedding", nm["embed"], v, h, shard="vocab")]
    if m.learned_positions:
        out.append(W("positions", "model.embed_positions", m.learned_positions, h))
    for s in layer_shapes(m):
        out += _layer_weights(m, s)
    out.append(W("norm", "model.norm", h * (2 if m.norm_bias else 1), layer=m.num_layers - 1))
    if not m.tie_embeddings:
        out.append(W("lm_head", "lm_head", v, h, shard="vocab", layer=m.num_layers - 1))
    out += _mtp_weights(m)
    if m.vision_params:
        out.append(W("vision", "vision_tower", m.vision_params))
    return tuple(out)


# ---------------------------------------------------------------------------------------
# Parameter count
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Params:
    """Parameters by kind. ``total`` is the text model (what model cards publish); MTP
    modules and the vision tower are counted apart (``checkpoint_total`` has them all)."""

    embedding: int
    lm_head: int  # 0 when tied to the embedding
    attention: int  # q/k/v/o (or MLA) projection weights
    attention_bias: int
    mlp: int  # dense MLPs + routed experts + shared experts
    mlp_bias: int
    router: int  # MoE gates (kept 16-bit)
    norms: int
    positions: int = 0
    active_mlp: int = 0  # MLP weights a token actually uses (MoE: top-k experts + shared)
    mamba: int = 0  # Mamba-2 mixers
    mtp: int = 0  # multi-token-prediction modules (not in total)
    vision: int = 0  # vision tower (not in total)

    @property
    def linear(self) -> int:
        return self.attention + self.mlp

    @property
    def total(self) -> int:
        return (self.embedding + self.lm_head + self.attention + self.attention_bias + self.mlp
                + self.mlp_bias + self.router + self.norms + self.positions + self.mamba)

    @property
    def active(self) -> int:
        """Parameters used per token, embedding and LM head included (MoE: only the routed top-k experts)."""
        return self.total - self.mlp + self.active_mlp

    @property
    def active_without_embedding(self) -> int:
        return self.active - self.embedding

    def active_in_scope(self, scope: str) -> int:
        """Active parameters as a model card counts them: "with-embeddings" (both tables),
        "without-input-embedding" (the output head counts) or "without-embeddings"."""
        if scope == "without-input-embedding":
            return self.active - self.embedding
        if scope == "without-embeddings":
            return self.active - self.embedding - self.lm_head
        return self.active

    def in_scope(self, scope: list[str] | tuple[str, ...]) -> int:
        """The total as a model card counts it: the text model, plus the vision tower / MTP modules when listed."""
        return self.total + (self.vision if "vision" in scope else 0) + (self.mtp if "mtp" in scope else 0)

    @property
    def non_embedding(self) -> int:
        return self.total - self.embedding - self.lm_head

    @property
    def checkpoint_total(self) -> int:
        return self.total + self.mtp + self.vision


def param_count(m: ModelSpec) -> Params:
    """Count parameters exactly from the shape (checked against published sizes in the tests),
    summing :func:`weight_groups`."""
    acc: dict[str, float] = {}
    active_mlp = 0.0
    for w in weight_groups(m):
        key = "mtp" if w.part == "mtp_copy" else w.part
        if w.part == "attention" and w.bias:
            key = "attention_bias"
        elif w.part in ("mlp", "experts", "shared"):
            key = "mlp_bias" if w.bias else "mlp"
            if not w.bias:
                active_mlp += w.elements * w.active
        acc[key] = acc.get(key, 0) + w.elements
    g = lambda k: int(acc.get(k, 0))  # noqa: E731
    return Params(embedding=g("embedding"), lm_head=g("lm_head"), attention=g("attention"),
                  attention_bias=g("attention_bias"), mlp=g("mlp"), mlp_bias=g("mlp_bias"), router=g("router"),
                  norms=g("norm"), positions=g("positions"), active_mlp=int(round(active_mlp)), mamba=g("mamba"),
                  mtp=g("mtp"), vision=g("vision"))


# ---------------------------------------------------------------------------------------
# Bytes of weights
# ---------------------------------------------------------------------------------------
def dtype_bytes(dtype: str) -> float:
    """Bytes per element of a 16/32-bit model dtype name (bf16, bfloat16, float16, float32...)."""
    d = dtype.lower()
    if d in ("fp32", "float32", "float"):
        return 4.0
    return 2.0


def linear_bytes(out_features: int, in_features: int, fmt: str, group_size: int = 0) -> float:
    """Bytes of one ``out x in`` linear weight in a weight format, scales included.

    * bf16/fp16/fp32: 2/2/4 B per weight, no scales.
    * fp8 (per-tensor E4M3, ModelOpt): 1 B per weight + an FP32 weight scale and an FP32
      input scale (8 B).
    * fp8_block (DeepSeek-V3, Qwen3-FP8 ``weight_block_size [128, 128]``): 1 B per weight +
      one FP32 ``weight_scale_inv`` per 128x128 block.
    * fp8_channel: 1 B per weight + one FP32 scale per output channel.
    * int8_sq (SmoothQuant): 1 B + one FP32 scale per output channel + one FP32 smoothing
      factor per input channel; int8_wo: 1 B + one FP32 scale per output channel.
    * int4_awq: 0.5 B + one 16-bit scale per group of ``group_size`` (128) inputs per output
      + one 16-bit pre-quant scale per input; int4_gptq / int4_wo: 0.5 B + a 16-bit scale and
      a packed 4-bit zero point per group per output; w4a8_awq as int4_awq.
    * nvfp4: 0.5 B + one FP8 scale per 16 weights + two FP32 global scales.
    * mxfp4 (gpt-oss): 0.5 B + one E8M0 (1 B) scale per 32 weights.
    """
    n = out_features * in_features
    if fmt in ("bf16", "fp16", "fp32"):
        return n * FORMATS[fmt][1]
    if fmt == "fp8":
        return n + 8
    if fmt == "fp8_block":
        return n + 4 * math.ceil(out_features / FP8_BLOCK) * math.ceil(in_features / FP8_BLOCK)
    if fmt == "fp8_channel":
        return n + 4 * out_features
    if fmt in ("int8_sq", "int8_wo"):
        return n + 4 * out_features + (4 * in_features if fmt == "int8_sq" else 0)
    if fmt in ("int4_awq", "w4a8_awq"):
        groups = math.ceil(in_features / (group_size or DEFAULT_GROUP_SIZE))
        return n * 0.5 + groups * out_features * 2 + 2 * in_features
    if fmt in ("int4_gptq", "int4_wo"):
        groups = math.ceil(in_features / (group_size or DEFAULT_GROUP_SIZE))
        return n * 0.5 + groups * out_features * 2.5
    if fmt == "nvfp4":
        return n * 0.5 + math.ceil(n / (group_size or NVFP4_BLOCK)) + 8
    if fmt == "mxfp4":
        return n * 0.5 + math.ceil(n / (group_size or MXFP4_BLOCK))
    raise ValueError(f"unknown weight format {fmt!r}")


def quantized_linear_bytes(elements: int, out_features: int, in_features: int, quant: str,
                           group_size: int = DEFAULT_GROUP_SIZE) -> float:
    """:func:`linear_bytes` under the first version's signature (``elements`` = in x out)."""
    if elements != out_features * in_features and quant not in ("bf16", "fp16", "fp32", "fp8", "nvfp4", "mxfp4"):
        out_features = max(1, elements // max(1, in_features))
    if quant in ("bf16", "fp16", "fp32"):
        return elements * FORMATS[quant][1]
    if quant == "fp8":
        return elements + 8
    if quant == "nvfp4":
        return elements * 0.5 + math.ceil(elements / NVFP4_BLOCK) + 8
    return linear_bytes(out_features, in_features, quant, group_size)


def _norm(name: str) -> str:
    for prefix in ("model.language_model.", "language_model.model.", "language_model.", "model.", "backbone."):
        if name.startswith(prefix):
            return name[len(prefix):]
    return name


def excluded(module: str, patterns: tuple[str, ...]) -> bool:
    """Whether a module path is kept unquantised by a checkpoint's exclusion list.

    Patterns as checkpoints write them: globs (``model.layers.*.self_attn``,
    ``model.layers.0.self_attn*``) match the path or a prefix of it; a dotted name matches
    itself and everything under it; a bare name (``lm_head``, ``gate``) matches a path
    component. Leading ``model.`` / ``backbone.`` / ``language_model.`` are ignored on both
    sides (exporters differ)."""
    mod = _norm(module)
    parts = mod.split(".")
    for p in patterns:
        q = _norm(p)
        if any(c in q for c in "*?["):
            if fnmatch.fnmatchcase(mod, q) or fnmatch.fnmatchcase(mod, q + ".*") or \
                    any(fnmatch.fnmatchcase(".".join(parts[:k]), q) for k in range(1, len(parts))):
                return True
        elif "." not in q:
            if q in parts:
                return True
        elif mod == q or mod.startswith(q + "."):
            return True
    return False


def _format_of(m: ModelSpec, w: W, fmt: str) -> str:
    """The storage format of one weight group: ``fmt`` for a quantisable linear not excluded, else 16-bit."""
    if not w.linear or fmt in ("bf16", "fp16", "fp32"):
        return ""
    if m.quant and fmt == m.quant.format and m.quant.exclude and excluded(w.module, m.quant.exclude):
        return ""
    if w.part == "mtp" and m.quant and m.quant.format == "fp8_block":
        return fmt
    return fmt


def _rank_shape(w: W, tp: int, attention_dp: bool, parallel_embedding: bool) -> tuple[int, int, float]:
    """(out, in, modules) of the group's share on one TP rank."""
    shard = w.shard
    if attention_dp and w.part == "attention":
        shard = "rep"
    if shard == "col":
        return max(1, w.out // tp) if w.out >= tp else w.out, w.inp, w.count
    if shard == "row":
        return w.out, max(1, w.inp // tp) if w.inp >= tp else w.inp, w.count
    if shard == "kv":
        if w.inp == 1:  # a bias vector over the KV heads: scale like the weight
            return max(1, w.out // tp), 1, w.count
        return w.out, w.inp, w.count  # handled by the caller (needs heads)
    if shard == "expert":
        return w.out, w.inp, w.count / tp
    if shard == "vocab":
        if w.part == "lm_head" or parallel_embedding:
            return math.ceil(w.out / tp), w.inp, w.count
        return w.out, w.inp, w.count
    return w.out, w.inp, w.count


def group_bytes(m: ModelSpec, w: W, fmt: str, tp: int = 1, *, attention_dp: bool = False,
                parallel_embedding: bool = False, group_size: int = 0) -> float:
    """Bytes of one weight group on one TP rank in weight format ``fmt``."""
    act = dtype_bytes(m.dtype)
    out, inp, count = _rank_shape(w, tp, attention_dp, parallel_embedding)
    if w.shard == "kv" and w.inp > 1 and not (attention_dp and w.part == "attention"):
        d = m.head_dim if not (m.global_head_dim and w.out % m.global_head_dim == 0 and w.out // m.global_head_dim
                               == (m.global_num_kv_heads or m.num_kv_heads)) else m.global_head_dim
        heads = max(1, w.out // d)
        out = kv_heads_per_rank(heads, tp) * d
    f = _format_of(m, w, fmt)
    if f:
        own = m.quant.group_size if m.quant and m.quant.format == f else 0
        return count * linear_bytes(out, inp, f, group_size or own)
    return count * out * inp * (w.fixed_bytes or act)


@dataclass(frozen=True)
class WeightsPerGPU:
    """Weight bytes on the fullest rank, by part."""

    layers: int  # decoder layers on this rank (plus MTP modules / vision tower placed here)
    embedding: int  # on the first PP stage (replicated per TP rank unless the embedding is split)
    lm_head: int  # split over TP (vocab padded to a multiple of tp), on the last PP stage
    layers_on_rank: int

    @property
    def total(self) -> int:
        return self.layers + self.embedding + self.lm_head


def padded_vocab(vocab: int, tp: int) -> int:
    """TRT-LLM pads the LM head's vocabulary up to a multiple of tp (``pad_vocab_size``)."""
    return math.ceil(vocab / tp) * tp


def resolve_format(m: ModelSpec, quant: str | None) -> str:
    """The weight format to size: ``quant`` when given, else the checkpoint's own format, else its dtype."""
    if quant:
        return quant
    return m.weight_format


def stage_weights(m: ModelSpec, quant: str | None = None, tp: int = 1, pp: int = 1, *,
                  group_size: int = 0, attention_dp: bool = False, parallel_embedding: bool = False,
                  include_mtp: bool = False, include_vision: bool = True, on_disk: bool = False) -> list[WeightsPerGPU]:
    """Weight bytes of one rank of every pipeline stage (index = stage).

    Decoder layers go to their stage (:func:`stage_layers`); the embedding, positions and
    vision tower to the first stage, the final norm, LM head and MTP modules to the last.
    Column/row-parallel linears split over TP; KV projections keep ``max(1, Kv // tp)``
    heads; routed experts split over the TP x EP ranks (the bytes per rank are the same for
    any moe_tp x moe_ep = tp); routers, norms and the vision tower are replicated. The
    embedding is split over TP when ``parallel_embedding`` (the PyTorch backend's default),
    else replicated (TensorRT engines' ``use_parallel_embedding=False``)."""
    fmt = resolve_format(m, quant)
    stages = stage_layers(m.num_layers, pp)
    where = {i: s for s, r in enumerate(stages) for i in r}
    layers = [0.0] * pp
    emb = [0.0] * pp
    head = [0.0] * pp
    for w in weight_groups(m):
        if (w.part == "mtp" and not include_mtp) or (w.part == "mtp_copy" and not on_disk):
            continue
        if w.part == "vision" and not include_vision:
            continue
        b = group_bytes(m, w, fmt, tp, attention_dp=attention_dp, parallel_embedding=parallel_embedding,
                        group_size=group_size)
        if w.part in ("embedding", "positions"):
            emb[0] += b
        elif w.part == "lm_head":
            head[-1] += b
        elif w.part == "vision":
            layers[0] += b
        elif w.layer >= m.num_layers or w.layer < 0:
            layers[-1] += b
        else:
            layers[where[w.layer]] += b
    return [WeightsPerGPU(int(layers[s]), int(emb[s]), int(head[s]), len(stages[s])) for s in range(pp)]


def weights_per_gpu(m: ModelSpec, quant: str | None = None, tp: int = 1, pp: int = 1,
                    group_size: int = 0, **kw: Any) -> WeightsPerGPU:
    """Weight bytes on the fullest rank for weight format ``quant`` (default: the checkpoint's own)."""
    stages = stage_weights(m, quant, tp, pp, group_size=group_size, **kw)
    return max(stages, key=lambda s: s.total)


def checkpoint_bytes(m: ModelSpec, quant: str | None = None, group_size: int = 0) -> int:
    """Bytes of the whole model in a weight format (every module once: tp = pp = 1), MTP
    modules and vision tower included: the size of the checkpoint on disk."""
    return weights_per_gpu(m, quant, 1, 1, group_size, include_mtp=True, on_disk=True).total


def hf_checkpoint_bytes(m: ModelSpec) -> int:
    """Bytes of the Hugging Face checkpoint as shipped: the index's total_size when it was
    read, else every parameter in the checkpoint's own format."""
    if m.checkpoint_bytes:
        return m.checkpoint_bytes
    if m.quant:
        return checkpoint_bytes(m, None)
    return int(param_count(m).checkpoint_total * dtype_bytes(m.dtype))


# ---------------------------------------------------------------------------------------
# KV cache and Mamba state
# ---------------------------------------------------------------------------------------
def kv_dtype_for(m: ModelSpec, kv_cache_dtype: str | None, quant: str | None = None) -> str:
    """Resolve the KV-cache dtype: "auto" means what the checkpoint declares
    (``kv_cache_quant_algo`` FP8 in ModelOpt checkpoints), else the model dtype (TRT-LLM
    keeps the KV cache in the activation dtype unless asked, also with FP8 weights)."""
    if kv_cache_dtype in (None, "", "auto"):
        if m.quant and m.quant.kv_cache:
            return m.quant.kv_cache
        return "fp16" if m.dtype in ("fp16", "float16") else "fp32" if dtype_bytes(m.dtype) == 4 else "bf16"
    return kv_cache_dtype


def _kv_elem_bytes(elements: int, kv_dtype: str) -> float:
    if kv_dtype == "nvfp4":
        return math.ceil(elements / 2) + math.ceil(elements / 16)
    try:
        return elements * KV_BYTES[kv_dtype]
    except KeyError:
        raise ValueError(f"unknown KV-cache dtype {kv_dtype!r}") from None


def kv_heads_per_rank(kv_heads: int, tp: int) -> int:
    """KV heads one TP rank stores: ``max(1, Kv // tp)`` (gptJsonConfig.cpp). With tp > Kv
    (e.g. MQA, or Llama-3 8 KV heads on TP=16) each rank keeps a replicated head."""
    return max(1, kv_heads // tp)


def _layer_kv(m: ModelSpec, s: LayerShape, kv_dtype: str, tp: int) -> float:
    if not s.attention:
        return 0
    if m.is_mla:
        return _kv_elem_bytes(m.kv_lora_rank + m.qk_rope_head_dim, kv_dtype)
    if s.kv_heads == 0:
        return 0
    return _kv_elem_bytes(2 * kv_heads_per_rank(s.kv_heads, tp) * s.head_dim, kv_dtype)


def kv_bytes_per_token_layer(m: ModelSpec, kv_dtype: str, tp: int = 1, layer: int = 0) -> float:
    """Bytes one token occupies in one layer's KV cache on one TP rank (0 for Mamba layers)."""
    return _layer_kv(m, layer_shapes(m)[layer], kv_dtype, tp)


def stage_kv_per_token(m: ModelSpec, kv_dtype: str, tp: int = 1, pp: int = 1) -> list[int]:
    """KV bytes per token of one rank of every stage (all its attention layers)."""
    shapes = layer_shapes(m)
    return [int(sum(_layer_kv(m, shapes[i], kv_dtype, tp) for i in r)) for r in stage_layers(m.num_layers, pp)]


def kv_bytes_per_token(m: ModelSpec, kv_dtype: str, tp: int = 1, pp: int = 1) -> int:
    """KV bytes per token on the fullest rank, every attention layer holding the token:
    ``sum over its attention layers of 2 x max(1, Kv // tp) x d x bytes_per_element``.
    Llama-3.1-8B, BF16: 2 x 32 x 8 x 128 x 2 = 131072 B (128 KiB); FP8: 64 KiB."""
    if pp == 1:
        return stage_kv_per_token(m, kv_dtype, tp, 1)[0]
    # the first version's convention: ceil(L/pp) layers on the fullest stage
    shapes = layer_shapes(m)
    n = layers_per_stage(m.num_layers, pp)
    return int(max(sum(_layer_kv(m, shapes[i], kv_dtype, tp) for i in range(s * n, min((s + 1) * n, m.num_layers)))
                   for s in range(pp)))


def _stage_seq_bytes(m: ModelSpec, kv_dtype: str, tp: int, layers: range, *, windows: bool,
                     tokens_per_block: int) -> Callable[[int], int]:
    """bytes(seq_len) of one sequence's KV on one rank of a stage."""
    shapes = layer_shapes(m)
    full = 0.0
    windowed: dict[int, float] = {}
    for i in layers:
        s = shapes[i]
        b = _layer_kv(m, s, kv_dtype, tp)
        if not b:
            continue
        if windows and s.window:
            windowed[s.window] = windowed.get(s.window, 0) + b
        else:
            full += b

    def blocks(tokens: int) -> int:
        return math.ceil(tokens / tokens_per_block) * tokens_per_block

    def per_seq(seq: int) -> int:
        t = blocks(seq)
        return int(full * t + sum(b * blocks(min(seq, w)) for w, b in windowed.items()))

    return per_seq


def kv_cache_bytes(m: ModelSpec, kv_dtype: str, seq_len: int, batch: int = 1, tp: int = 1, pp: int = 1,
                   *, sliding_window: bool = False, tokens_per_block: int = 1) -> int:
    """KV cache of ``batch`` sequences of ``seq_len`` tokens on the fullest rank.

    ``batch x sum over attention layers of tokens_kept(layer) x bytes_per_token_layer``,
    where ``tokens_kept = seq_len`` rounded up to whole blocks of ``tokens_per_block``
    (1 = no rounding). With ``sliding_window=True`` a sliding-window layer keeps only
    ``min(seq_len, window)`` tokens: what runtimes with per-window KV pools (the PyTorch
    backend's VSWA) allocate; older TRT engines allocate the full length for every layer.
    """
    if pp == 1:
        ranges = [range(m.num_layers)]
    else:
        n = layers_per_stage(m.num_layers, pp)
        ranges = [range(s * n, min((s + 1) * n, m.num_layers)) for s in range(pp)]
    return int(batch * max(_stage_seq_bytes(m, kv_dtype, tp, r, windows=sliding_window,
                                            tokens_per_block=tokens_per_block)(seq_len) for r in ranges))


def mamba_state_bytes_per_seq(m: ModelSpec, tp: int = 1, layers: range | None = None) -> int:
    """Conv + SSM state of one sequence (one batch slot) on one rank, over ``layers``
    (default all): per Mamba layer ``(d_inner + 2 n_groups d_state)/tp x (d_conv-1)`` in
    the model dtype plus ``heads/tp x head_dim x d_state`` in ``mamba_ssm_cache_dtype``."""
    shapes = layer_shapes(m)
    n = sum(1 for i in (layers if layers is not None else range(m.num_layers)) if shapes[i].mixer == "mamba")
    if not n:
        return 0
    d_inner = m.mamba_num_heads * m.mamba_head_dim
    conv_dim = d_inner + 2 * m.mamba_groups * m.ssm_state_size
    conv = conv_dim // tp * (m.mamba_conv_kernel - 1) * dtype_bytes(m.dtype)
    ssm = m.mamba_num_heads // tp * m.mamba_head_dim * m.ssm_state_size * dtype_bytes(m.mamba_ssm_dtype)
    return int(n * (conv + ssm))


def kv_pool_tokens(free_bytes: float, bytes_per_token: int, fraction: float = DEFAULT_KV_FRACTION,
                   tokens_per_block: int = DEFAULT_TOKENS_PER_BLOCK, *, floor: bool = False) -> tuple[int, int]:
    """(blocks, tokens) the paged KV pool gets from ``free_bytes`` left after weights and
    activations: ``blocks = ceil(fraction x free / bytes_per_token / tokens_per_block)``
    (C++ ``BaseKVCacheManager::calculateMaxNumBlocks``); ``floor=True`` for the PyTorch
    backend's ``calculate_max_num_blocks`` (``int(max_tokens // tokens_per_block)``)."""
    if bytes_per_token <= 0 or free_bytes <= 0:
        return 0, 0
    tokens = fraction * free_bytes / bytes_per_token
    blocks = math.floor(tokens / tokens_per_block) if floor else math.ceil(tokens / tokens_per_block)
    return blocks, blocks * tokens_per_block


# ---------------------------------------------------------------------------------------
# Activations, host RAM, disk
# ---------------------------------------------------------------------------------------
def activation_bytes(m: ModelSpec, max_num_tokens: int, max_batch_size: int = 1, tp: int = 1) -> int:
    """Estimate of the activation memory for ``max_num_tokens`` packed tokens.

    TensorRT sizes activations at build time for the largest shapes, reusing buffers
    between layers; the PyTorch backend measures the peak of a dry run of
    ``max_num_tokens`` tokens. Either way the peak is about one layer's live tensors:

    ``tokens x act_bytes x (4H + (A + 2Kv) d / tp + 3 F / tp)``
    (residual + normed input + attention output + MLP output, the fused QKV, and the
    gate, up and activated FFN of width F; MoE: F = top_k x expert width; Mamba: the
    in_proj output), plus the logits ``max_batch_size x ceil(V/tp) x 4`` B (FP32) of the
    last tokens. An estimate: ``plan --from-log`` compares it with the runtime's figure.
    """
    h, act = m.hidden_size, dtype_bytes(m.dtype)
    heads_d = max(m.num_heads * m.head_dim, m.num_heads * (m.global_head_dim or 0))
    qkv = (heads_d + 2 * m.num_kv_heads * m.head_dim) / tp
    if m.is_moe:
        ffn = m.experts_per_token * (m.moe_intermediate_size or m.intermediate_size) + m.shared_expert_intermediate_size
    else:
        ffn = m.intermediate_size
    if m.is_hybrid:
        d_inner = m.mamba_num_heads * m.mamba_head_dim
        ffn = max(ffn, (2 * d_inner + 2 * m.mamba_groups * m.ssm_state_size) / 3)
    per_token = act * (4 * h + qkv + 3 * ffn / tp)
    logits = max_batch_size * math.ceil(m.vocab_size / tp) * 4
    return int(max_num_tokens * per_token + logits)


def build_host_ram_bytes(m: ModelSpec) -> int:
    """Host RAM an engine build needs: about 2x the checkpoint (setup guide: "Build needs
    2x model size in RAM"; causes.toml ram-too-small). The checkpoint is the HF one."""
    return 2 * hf_checkpoint_bytes(m)


def disk_bytes(m: ModelSpec, quant: str | None, tp: int = 1, pp: int = 1,
               group_size: int = 0, backend: str = "engine") -> dict[str, int]:
    """Disk for the whole pipeline.

    Engine flow: HF checkpoint + converted TRT-LLM checkpoint + engine, each of the last
    two holding every weight once in the target format plus (tp - 1) extra copies of the
    replicated embedding table. PyTorch backend: the HF checkpoint only (it is loaded as is).
    """
    hf = hf_checkpoint_bytes(m)
    if backend == "pytorch":
        return {"hf_checkpoint": hf, "converted_checkpoint": 0, "engine": 0, "total": hf}
    converted = checkpoint_bytes(m, quant, group_size)
    extra_embedding = (tp - 1) * int(m.vocab_size * m.hidden_size * dtype_bytes(m.dtype))
    converted += extra_embedding
    engine = converted
    return {"hf_checkpoint": hf, "converted_checkpoint": converted, "engine": engine,
            "total": hf + converted + engine}


# ---------------------------------------------------------------------------------------
# Fit: the whole per-GPU budget
# ---------------------------------------------------------------------------------------
@dataclass
class Stage:
    """One rank of one pipeline stage: what it holds and what is left for its KV cache."""

    index: int
    weights: int
    kv_bytes_per_token: int
    mamba_bytes_per_seq: int
    left: int  # free - weights - activations - overhead (before Mamba state and the fraction)
    seq_bytes: Callable[[int], int] = field(repr=False, default=lambda s: 0)

    def max_batch(self, seq: int, fraction: float, cap_bytes: int | None = None) -> int:
        """Sequences of ``seq`` tokens this rank can hold: b x kv(seq) <= fraction x (left - b x mamba)."""
        per = self.seq_bytes(seq)
        if self.left <= 0:
            return 0
        budget = fraction * self.left
        if cap_bytes is not None:
            budget = min(budget, cap_bytes)
        denom = per + fraction * self.mamba_bytes_per_seq
        if denom <= 0:
            return 10**9
        return int(budget // denom)


@dataclass
class Fit:
    """The per-GPU memory budget for one target; every field in bytes unless named otherwise."""

    gpu_free_bytes: int
    weights_bytes: int
    activation_bytes: int
    overhead_bytes: int
    kv_bytes_per_token: int
    kv_needed_bytes: int  # KV for max_batch_size x max_seq_len
    kv_available_bytes: int  # fraction x what is left after weights, activations, overhead, Mamba state
    fraction: float
    max_seq_len: int
    max_batch_size: int
    max_num_tokens: int
    tokens_per_block: int
    max_batch_size_fit: int
    max_seq_len_fit: int
    max_seq_len_fit_limited_by: str  # "memory" | "model" (max_position_embeddings)
    backend: str = "engine"
    mamba_bytes: int = 0  # Mamba state for max_batch_size slots
    kv_tokens: int = 0  # tokens the KV pool holds (whole blocks, minimum over ranks)
    stages: list[Stage] = field(default_factory=list, repr=False)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def left_for_kv_bytes(self) -> int:
        return self.gpu_free_bytes - self.weights_bytes - self.activation_bytes - self.overhead_bytes - self.mamba_bytes

    @property
    def weights_fit(self) -> bool:
        return self.left_for_kv_bytes > 0

    @property
    def kv_fits(self) -> bool:
        return self.weights_fit and self.kv_needed_bytes <= self.kv_available_bytes

    @property
    def free_after_bytes(self) -> int:
        """What is left on the GPU after weights, activations, overhead, Mamba state and the KV the target needs."""
        return self.left_for_kv_bytes - self.kv_needed_bytes

    def max_batch(self, seq: int) -> int:
        """Largest batch of ``seq``-token sequences every rank holds."""
        cap = self.extra.get("kv_cap_bytes")
        return min(s.max_batch(seq, self.fraction, cap) for s in self.stages) if self.stages else 0

    def max_seq(self, batch: int, limit: int) -> int:
        """Longest sequence (whole blocks) ``batch`` sequences can each have on every rank (<= limit)."""
        lo, hi = 0, limit
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if self.max_batch(mid) >= batch:
                lo = mid
            else:
                hi = mid - 1
        return lo


def fit(m: ModelSpec, gpu_free_bytes: int, *, quant: str | None = None, kv_cache_dtype: str | None = "auto",
        tp: int = 1, pp: int = 1, max_seq_len: int | None = None, max_batch_size: int | None = None,
        max_num_tokens: int | None = None, fraction: float = DEFAULT_KV_FRACTION,
        tokens_per_block: int | None = None, weights_bytes: int | None = None,
        overhead_bytes: int = RUNTIME_OVERHEAD_BYTES, sliding_window: bool | None = None,
        backend: str = "engine", attention_dp: bool = False, include_mtp: bool = False,
        mamba_slots: int | None = None, max_tokens: int | None = None,
        max_gpu_total_bytes: int | None = None, group_size: int = 0) -> Fit:
    """Weights + activations + overhead (+ Mamba state) + KV for every rank against a GPU's free memory.

    * ``backend``: "pytorch" (1.x default: embedding split over TP, 32-token blocks floored,
      per-window pools, Mamba state for ``mamba_slots`` = max_batch_size slots) or "engine"
      (TensorRT engines: replicated embedding, 64-token blocks rounded up, full-length KV).
    * ``max_seq_len`` defaults to the model's ``max_position_embeddings`` (else 4096),
      ``max_batch_size`` to 1 for the fit question, ``max_num_tokens`` to
      min(8192, batch x seq).
    * KV available = fraction x (free - weights - activations - overhead - Mamba state),
      capped by ``max_tokens`` x bytes_per_token and ``max_gpu_total_bytes``.
    * ``max_batch_size_fit`` = how many ``max_seq_len`` sequences fit on every rank;
      ``max_seq_len_fit`` = the longest sequence ``max_batch_size`` of them can have,
      capped at ``max_position_embeddings`` when the model states it.
    """
    pytorch = backend == "pytorch"
    tpb = tokens_per_block or (PYTORCH_TOKENS_PER_BLOCK if pytorch else DEFAULT_TOKENS_PER_BLOCK)
    windows = pytorch if sliding_window is None else sliding_window
    seq = max_seq_len or m.max_position_embeddings or 4096
    batch = max_batch_size or 1
    tokens = max_num_tokens or min(DEFAULT_MAX_NUM_TOKENS, batch * seq)
    kv_dtype = kv_dtype_for(m, kv_cache_dtype, quant)
    kv_tp = 1 if attention_dp else tp
    sw = stage_weights(m, quant, tp, pp, group_size=group_size, attention_dp=attention_dp,
                       parallel_embedding=pytorch, include_mtp=include_mtp)
    if weights_bytes is not None:
        sw = [WeightsPerGPU(weights_bytes, 0, 0, s.layers_on_rank) for s in sw]
    act = activation_bytes(m, tokens, batch, tp)
    slots = mamba_slots if mamba_slots is not None else batch
    ranges = stage_layers(m.num_layers, pp)
    stages = []
    for s, r in enumerate(ranges):
        seq_fn = _stage_seq_bytes(m, kv_dtype, kv_tp, r, windows=windows, tokens_per_block=tpb)
        kvt = int(sum(_layer_kv(m, layer_shapes(m)[i], kv_dtype, kv_tp) for i in r))
        stages.append(Stage(s, sw[s].total, kvt, mamba_state_bytes_per_seq(m, tp, r),
                            gpu_free_bytes - sw[s].total - act - overhead_bytes, seq_fn))
    # the binding rank: the fewest KV tokens
    def tokens_of(st: Stage) -> float:
        left = st.left - slots * st.mamba_bytes_per_seq
        return fraction * left / st.kv_bytes_per_token if st.kv_bytes_per_token and left > 0 else (
            float("inf") if left > 0 else 0)
    tight = min(stages, key=tokens_of)
    mamba = slots * tight.mamba_bytes_per_seq
    left = tight.left - mamba
    available = int(fraction * left) if left > 0 else 0
    cap = None
    if max_tokens:
        cap = max_tokens * max(1, tight.kv_bytes_per_token)
    if max_gpu_total_bytes:
        cap = min(cap, max_gpu_total_bytes) if cap else max_gpu_total_bytes
    if cap is not None:
        available = min(available, cap)
    if tight.kv_bytes_per_token:
        _, kv_tokens = kv_pool_tokens(available, tight.kv_bytes_per_token, 1.0, tpb, floor=pytorch)
    else:
        kv_tokens = 0
    needed = batch * tight.seq_bytes(seq)
    f = Fit(
        gpu_free_bytes=int(gpu_free_bytes), weights_bytes=int(tight.weights), activation_bytes=act,
        overhead_bytes=overhead_bytes, kv_bytes_per_token=tight.kv_bytes_per_token, kv_needed_bytes=int(needed),
        kv_available_bytes=available, fraction=fraction, max_seq_len=seq, max_batch_size=batch,
        max_num_tokens=tokens, tokens_per_block=tpb, max_batch_size_fit=0, max_seq_len_fit=0,
        max_seq_len_fit_limited_by="memory", backend=backend, mamba_bytes=int(mamba), kv_tokens=int(kv_tokens),
        stages=stages, extra={"kv_cache_dtype": kv_dtype, "kv_cap_bytes": cap, "weight_format": resolve_format(m, quant)},
    )
    # with the fullest-weights rank reported when weights, not KV, are the question
    heaviest = max(stages, key=lambda st: st.weights)
    if heaviest.left <= 0:
        f.weights_bytes = int(heaviest.weights)
    per_seq = tight.seq_bytes(seq)
    f.max_batch_size_fit = f.max_batch(seq) if left > 0 else 0
    if per_seq == 0 and left > 0:
        f.max_batch_size_fit = f.max_batch(seq)
    limit_cap = m.max_position_embeddings or 0
    search_hi = max(seq, limit_cap, tpb)
    if available and tight.kv_bytes_per_token:
        search_hi = max(search_hi, int(available // max(1, batch) // tight.kv_bytes_per_token) + tpb)
    seq_fit = f.max_seq(batch, search_hi) if left > 0 else 0
    if limit_cap and seq_fit > limit_cap:
        f.max_seq_len_fit, f.max_seq_len_fit_limited_by = limit_cap, "model"
    else:
        f.max_seq_len_fit = seq_fit
    return f


def valid_tp_sizes(m: ModelSpec, limit: int = 64) -> list[int]:
    """TP sizes that divide the attention heads (and whose KV split is whole): powers of two up to ``limit``."""
    out = []
    tp = 1
    while tp <= limit:
        if tp_problem(m, tp) is None:
            out.append(tp)
        tp *= 2
    return out


def tp_problem(m: ModelSpec, tp: int) -> str | None:
    """Why ``tp`` cannot split this model, or None. TRT-LLM needs A % tp == 0, KV heads
    either divisible by tp or tp a multiple of Kv (then heads are replicated), and for a
    hybrid the Mamba heads divisible by tp (``nheads must be divisible by tp_size``)."""
    if m.num_heads % tp:
        return f"{m.num_heads} attention heads are not divisible by tp={tp}"
    kv = m.num_kv_heads
    if not m.is_mla and kv % tp and tp % kv:
        return f"{kv} KV heads: tp={tp} neither divides them nor is a multiple of them"
    if m.global_num_kv_heads and m.global_num_kv_heads % tp and tp % m.global_num_kv_heads:
        return f"{m.global_num_kv_heads} KV heads of the global layers: tp={tp} neither divides them nor is a multiple"
    if m.is_hybrid and m.mamba_num_heads % tp:
        return f"{m.mamba_num_heads} Mamba heads are not divisible by tp={tp}"
    return None


def gpus_needed(m: ModelSpec, gpu_free_bytes: int, *, quant: str | None = None, kv_cache_dtype: str | None = "auto",
                max_seq_len: int | None = None, max_batch_size: int | None = None,
                max_num_tokens: int | None = None, fraction: float = DEFAULT_KV_FRACTION,
                limit: int = 64, **kw: Any) -> tuple[int, int] | None:
    """The smallest (tp, pp) on GPUs of ``gpu_free_bytes`` each where weights and the KV for
    ``max_batch_size x max_seq_len`` fit: TP first (powers of two dividing the heads, up
    to 8 = one node), then pipeline stages of TP=8 nodes. None if nothing up to ``limit``."""
    candidates = [(tp, 1) for tp in valid_tp_sizes(m, 8)]
    top = max(t for t, _ in candidates)
    pp = 2
    while top * pp <= limit:
        if pp <= m.num_layers:
            candidates.append((top, pp))
        pp *= 2
    for tp, pp in candidates:
        f = fit(m, gpu_free_bytes, quant=quant, kv_cache_dtype=kv_cache_dtype, tp=tp, pp=pp,
                max_seq_len=max_seq_len, max_batch_size=max_batch_size, max_num_tokens=max_num_tokens,
                fraction=fraction, **kw)
        if f.kv_fits and f.max_batch_size_fit >= 1:
            return tp, pp
    return None


def with_overrides(m: ModelSpec, **changes: Any) -> ModelSpec:
    return replace(m, **changes)
