"""Every memory formula of trtllm-doctor, documented once.

All sizes are bytes (ints). "Per GPU" always means the worst rank: with pipeline
parallelism the stage that holds the most layers (and the embedding or the LM head),
with tensor parallelism one shard. Nothing here touches the machine; the functions are
pure and cheap, so checks, ``plan`` and the tests share them.

Notation: L layers, H hidden size, A attention heads, Kv KV heads, d head dim,
I MLP (FFN) size, V vocabulary, tp / pp tensor- / pipeline-parallel sizes.

Sources for the formulas (see also shared/engine-format.md §5 and kb.md §6):

* KV bytes per token (C++ ``BaseKVCacheManager::calculateCacheSizePerToken``):
  ``sum over the attention layers of this rank of local_kv_heads * kv_factor * d``
  elements, times the KV element size; ``local_kv_heads = max(1, Kv // tp)``
  (``gptJsonConfig.cpp``: integer division clamped to 1, so MQA / GQA heads are
  replicated when tp > Kv). kv_factor = 2 (K and V), 1 for an MLA latent cache.
* Element size: 2 for fp16/bf16, 1 for fp8 / int8 KV; NVFP4 KV stores
  ``ceil(x/2) + ceil(x/16)`` bytes for x elements (4-bit values + one FP8 scale per
  16), as in the PyTorch backend's ``get_cache_size_per_token``.
* KV pool: ``max_tokens = fraction * free_after_weights_and_activations / bytes_per_token``,
  fraction = ``kv_cache_free_gpu_mem_fraction`` (0.9 by default), rounded to whole
  blocks of ``tokens_per_block`` (64, trtllm-build's default since 0.10).
* Weights: every parameter of the decoder's linear layers at the weight format's
  size plus its scales; embeddings, norms, MoE routers and the LM head stay in the
  16-bit model dtype (TRT-LLM's quantizers exclude ``lm_head``; see the 405B FP8
  checkpoint config with ``exclude_modules = ["lm_head"]``).
* Activations: TensorRT reserves them at build time for the largest shapes
  (``max_num_tokens``); :func:`activation_bytes` is an estimate, documented there.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace
from typing import Any

GIB = 2**30
GB = 10**9

#: trtllm-build's default ``--max_num_tokens`` (BuildConfig, 0.11+).
DEFAULT_MAX_NUM_TOKENS = 8192
#: trtllm-build's default ``--tokens_per_block`` (PluginConfig, 0.10+; RN 0.10.0).
DEFAULT_TOKENS_PER_BLOCK = 64
#: ``KvCacheConfig::kDefaultGpuMemFraction`` (C++), "90% of the remaining free GPU memory".
DEFAULT_KV_FRACTION = 0.9
#: CUDA context, cuBLAS/cuBLASLt workspaces, NCCL buffers and the runtime's own buffers:
#: memory a process uses that is neither weights, activations nor KV cache. An
#: estimate (a CUDA context alone is ~0.3-0.6 GiB on Hopper); kept as one constant.
RUNTIME_OVERHEAD_BYTES = 1 * GIB

#: Weight formats (``--quant``) -> bytes per weight element of a quantised linear layer.
WEIGHT_BYTES = {"bf16": 2.0, "fp16": 2.0, "fp32": 4.0, "fp8": 1.0, "int8_sq": 1.0, "int8_wo": 1.0,
                "int4_awq": 0.5, "int4_wo": 0.5, "nvfp4": 0.5}
#: KV-cache dtypes -> bytes per element ("auto" = the model dtype, resolved by :func:`kv_dtype_for`).
KV_BYTES = {"fp32": 4.0, "bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "int8": 1.0, "nvfp4": 0.5}
#: INT4-AWQ / INT4 weight-only group size (quantize.py ``--awq_block_size``, default 128).
DEFAULT_GROUP_SIZE = 128
#: NVFP4 block size: one FP8 (E4M3) scale per 16 weights.
NVFP4_BLOCK = 16


@dataclass(frozen=True)
class ModelSpec:
    """The shape of a decoder-only transformer, as far as memory is concerned.

    Built from a preset (rules/models.toml), a Hugging Face config.json
    (:mod:`doctor.models`) or an engine's config.json (:mod:`doctor.engine`).
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
    dtype: str = "bf16"  # the checkpoint's dtype (bf16 / fp16 / fp32)
    tie_embeddings: bool = False
    qkv_bias: bool = False
    o_bias: bool = False
    mlp_bias: bool = False
    gated_mlp: bool = True  # SwiGLU/GeGLU: gate+up+down (3 matrices); else up+down (2)
    norms_per_layer: int = 2  # RMSNorm/LayerNorm vectors of size H per layer (Gemma 2: 4)
    norm_bias: bool = False  # LayerNorm with bias (GPT/OPT style): 2 vectors per norm
    qk_norm: bool = False  # per-head q/k norms (Qwen3, Gemma 3): 2*d per layer
    learned_positions: int = 0  # rows of a learned absolute position table (GPT-2/OPT), else 0
    # Mixture of experts
    num_experts: int = 0
    experts_per_token: int = 0
    moe_intermediate_size: int = 0  # 0 = intermediate_size
    shared_expert_intermediate_size: int = 0  # always-on expert(s), total width
    dense_layers: int = 0  # leading layers with a dense MLP in an MoE model (DeepSeek first_k_dense_replace)
    # Attention variants
    sliding_window: int | None = None  # window of the sliding-window layers
    sliding_window_layers: int = 0  # how many layers use that window (Mistral v0.1: all; Gemma 2: half)
    kv_lora_rank: int = 0  # MLA (DeepSeek V2/V3): latent KV cache, kv_factor 1
    q_lora_rank: int = 0
    qk_rope_head_dim: int = 0
    qk_nope_head_dim: int = 0
    v_head_dim: int = 0
    num_kv_heads_per_layer: tuple[int, ...] = ()  # engine configs may give per-layer KV heads
    max_position_embeddings: int = 0
    published_params: int | None = None
    published_params_source: str = ""
    source: str = ""
    hf_repo: str = ""

    # ---- derived shape --------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.num_experts > 0

    @property
    def is_mla(self) -> bool:
        return self.kv_lora_rank > 0

    @property
    def attention_kind(self) -> str:
        """MHA, GQA, MQA or MLA, plus "+sliding window" where some layers use one."""
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
        return kind


# ---------------------------------------------------------------------------------------
# Parameter count
# ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Params:
    """Parameters by kind: what is quantised (``linear``) and what stays 16-bit."""

    embedding: int
    lm_head: int  # 0 when tied to the embedding
    attention: int  # q/k/v/o projection weights (quantisable)
    attention_bias: int
    mlp: int  # dense MLP weights + routed experts + shared experts (quantisable)
    mlp_bias: int
    router: int  # MoE gate (kept 16-bit)
    norms: int
    positions: int = 0
    active_mlp: int = 0  # MLP weights a token actually uses (MoE: top-k experts + shared)

    @property
    def linear(self) -> int:
        return self.attention + self.mlp

    @property
    def total(self) -> int:
        return (self.embedding + self.lm_head + self.attention + self.attention_bias + self.mlp
                + self.mlp_bias + self.router + self.norms + self.positions)

    @property
    def active(self) -> int:
        """Parameters used per token (MoE: only the routed top-k experts count)."""
        return self.total - self.mlp + self.active_mlp


def _attention_weights(m: ModelSpec) -> tuple[int, int]:
    """(weights, biases) of one layer's attention projections.

    Standard: q = H x A*d, k = v = H x Kv*d, o = A*d x H (GQA/MQA shrink k and v only).
    MLA (DeepSeek): q through an optional low-rank (H x q_lora, q_lora x A*(nope+rope)),
    kv_a = H x (kv_lora + rope), kv_b = kv_lora x A*(nope + v), o = A*v x H; the two
    low-rank norms are counted with the norms.
    """
    h, a, kv, d = m.hidden_size, m.num_heads, m.num_kv_heads, m.head_dim
    if m.is_mla:
        qk = m.qk_nope_head_dim + m.qk_rope_head_dim
        q = (h * m.q_lora_rank + m.q_lora_rank * a * qk) if m.q_lora_rank else h * a * qk
        kv_a = h * (m.kv_lora_rank + m.qk_rope_head_dim)
        kv_b = m.kv_lora_rank * a * (m.qk_nope_head_dim + m.v_head_dim)
        o = a * m.v_head_dim * h
        return q + kv_a + kv_b + o, 0
    weights = h * a * d + 2 * h * kv * d + a * d * h
    bias = (a * d + 2 * kv * d if m.qkv_bias else 0) + (h if m.o_bias else 0)
    return weights, bias


def _mlp_weights(m: ModelSpec, width: int) -> int:
    """One MLP of FFN width ``width``: gated = 3 x H x width (gate, up, down), else 2 x H x width."""
    return (3 if m.gated_mlp else 2) * m.hidden_size * width


def param_count(m: ModelSpec) -> Params:
    """Count parameters exactly from the shape (checked against published sizes in the tests).

    * Embedding V x H; the LM head another V x H unless ``tie_embeddings``.
    * Per layer: attention (see :func:`_attention_weights`), MLP, ``norms_per_layer`` x H
      (x2 with LayerNorm biases), optional q/k norms 2 x d; plus one final norm.
    * MoE layers: ``num_experts`` routed experts of width ``moe_intermediate_size``, an
      H x E router, plus shared experts; ``dense_layers`` leading layers keep a dense MLP.
    """
    h = m.hidden_size
    attn_w, attn_b = _attention_weights(m)
    norm_vec = h * (2 if m.norm_bias else 1)
    per_layer_norms = m.norms_per_layer * norm_vec + (2 * m.head_dim if m.qk_norm else 0)
    if m.is_mla:
        per_layer_norms += m.kv_lora_rank + m.q_lora_rank
    dense_mlp = _mlp_weights(m, m.intermediate_size)
    dense_bias = (m.intermediate_size * (2 if m.gated_mlp else 1) + h) if m.mlp_bias else 0
    if m.is_moe:
        moe_layers = m.num_layers - m.dense_layers
        width = m.moe_intermediate_size or m.intermediate_size
        routed = m.num_experts * _mlp_weights(m, width)
        shared = _mlp_weights(m, m.shared_expert_intermediate_size) if m.shared_expert_intermediate_size else 0
        mlp = m.dense_layers * dense_mlp + moe_layers * (routed + shared)
        active = m.dense_layers * dense_mlp + moe_layers * (m.experts_per_token * _mlp_weights(m, width) + shared)
        router = moe_layers * h * m.num_experts
        mlp_bias = m.dense_layers * dense_bias
    else:
        mlp = active = m.num_layers * dense_mlp
        router = 0
        mlp_bias = m.num_layers * dense_bias
    embedding = m.vocab_size * h
    return Params(
        embedding=embedding,
        lm_head=0 if m.tie_embeddings else embedding,
        attention=m.num_layers * attn_w,
        attention_bias=m.num_layers * attn_b,
        mlp=mlp,
        mlp_bias=mlp_bias,
        router=router,
        norms=m.num_layers * per_layer_norms + norm_vec,
        positions=m.learned_positions * h,
        active_mlp=active,
    )


# ---------------------------------------------------------------------------------------
# Weights
# ---------------------------------------------------------------------------------------
def dtype_bytes(dtype: str) -> float:
    """Bytes per element of a 16/32-bit model dtype name (bf16, bfloat16, float16, float32...)."""
    d = dtype.lower()
    if d in ("fp32", "float32", "float"):
        return 4.0
    return 2.0


def quantized_linear_bytes(elements: int, out_features: int, in_features: int, quant: str,
                           group_size: int = DEFAULT_GROUP_SIZE) -> float:
    """Bytes of a linear layer's weights (``elements`` = in x out) in a weight format, scales included.

    * bf16/fp16: 2 B per weight, no scales.
    * fp8 (per-tensor, E4M3): 1 B per weight + one FP32 weight scale and one FP32
      activation scale per linear layer (8 B).
    * int8_sq (SmoothQuant, per-channel): 1 B per weight + one FP32 scale per output
      channel + one FP32 smoothing factor per input channel.
    * int4_awq: 0.5 B per weight + one 16-bit scale per group of ``group_size`` inputs
      per output (``in/group x out x 2`` B) + one 16-bit pre-quant (AWQ) scale per input.
    * nvfp4: 0.5 B per weight + one FP8 scale per 16 weights + two FP32 global scales.
    """
    if quant in ("bf16", "fp16", "fp32"):
        return elements * WEIGHT_BYTES[quant]
    if quant == "fp8":
        return elements * 1.0 + 8
    if quant in ("int8_sq", "int8_wo"):
        return elements * 1.0 + 4 * out_features + (4 * in_features if quant == "int8_sq" else 0)
    if quant in ("int4_awq", "int4_wo"):
        groups = math.ceil(in_features / group_size)
        return elements * 0.5 + groups * out_features * 2 + (2 * in_features if quant == "int4_awq" else 0)
    if quant == "nvfp4":
        return elements * 0.5 + math.ceil(elements / NVFP4_BLOCK) * 1 + 8
    raise ValueError(f"unknown weight format {quant!r}")


@dataclass(frozen=True)
class WeightsPerGPU:
    """Weight bytes on the fullest rank, by part."""

    layers: int  # decoder layers on this rank (quantised linears + 16-bit norms/biases/routers)
    embedding: int  # replicated on every TP rank of the first PP stage (use_parallel_embedding off)
    lm_head: int  # split over TP (vocab padded to a multiple of tp), on the last PP stage
    layers_on_rank: int

    @property
    def total(self) -> int:
        return self.layers + self.embedding + self.lm_head


def padded_vocab(vocab: int, tp: int) -> int:
    """TRT-LLM pads the LM head's vocabulary up to a multiple of tp (``pad_vocab_size``)."""
    return math.ceil(vocab / tp) * tp


def layers_per_stage(num_layers: int, pp: int) -> int:
    """Layers on the fullest pipeline stage: ceil(L / pp)."""
    return math.ceil(num_layers / pp)


def _layer_bytes(m: ModelSpec, quant: str, tp: int, group_size: int) -> float:
    """One decoder layer's weights on one TP rank, in weight format ``quant``.

    Column-parallel q/k/v and gate/up split their outputs over tp, row-parallel o/down
    their inputs. KV heads are replicated when tp > Kv: each rank keeps max(1, Kv/tp)
    heads. MoE experts are split over tp (moe_tp_size = tp, TRT-LLM's default); the
    router, norms and biases stay 16-bit (router and norms replicated).
    """
    h, d, act = m.hidden_size, m.head_dim, dtype_bytes(m.dtype)
    total = 0.0
    if m.is_mla:
        attn_w, _ = _attention_weights(m)
        total += quantized_linear_bytes(math.ceil(attn_w / tp), h, h, quant, group_size)
    else:
        q_out = m.num_heads * d // tp
        kv_out = max(1, m.num_kv_heads // tp) * d
        total += quantized_linear_bytes(h * q_out, q_out, h, quant, group_size)
        total += 2 * quantized_linear_bytes(h * kv_out, kv_out, h, quant, group_size)
        total += quantized_linear_bytes(q_out * h, h, q_out, quant, group_size)
        if m.qkv_bias:
            total += (q_out + 2 * kv_out) * act
        if m.o_bias:
            total += h * act
    n_mats_in = 2 if m.gated_mlp else 1

    def mlp(width: int) -> float:
        w = width // tp if width >= tp else width
        return (n_mats_in * quantized_linear_bytes(h * w, w, h, quant, group_size)
                + quantized_linear_bytes(w * h, h, w, quant, group_size))

    norm_vec = h * (2 if m.norm_bias else 1)
    total += (m.norms_per_layer * norm_vec + (2 * d if m.qk_norm else 0)) * act
    if m.is_moe:
        width = m.moe_intermediate_size or m.intermediate_size
        total += m.num_experts * mlp(width)
        if m.shared_expert_intermediate_size:
            total += mlp(m.shared_expert_intermediate_size)
        total += h * m.num_experts * act
    else:
        total += mlp(m.intermediate_size)
        if m.mlp_bias:
            total += (m.intermediate_size * n_mats_in // tp + h) * act
    return total


def weights_per_gpu(m: ModelSpec, quant: str | None = None, tp: int = 1, pp: int = 1,
                    group_size: int = DEFAULT_GROUP_SIZE) -> WeightsPerGPU:
    """Weight bytes on the fullest rank for weight format ``quant`` (default: the model dtype).

    ``layers = ceil(L/pp) x one layer's shard`` (:func:`_layer_bytes`); the embedding
    table is replicated on each TP rank of the first stage (TRT-LLM's default
    ``use_parallel_embedding=False``) and the LM head is split over TP with the
    vocabulary padded to a multiple of tp, both in the 16-bit model dtype. With pp > 1
    the embedding and the LM head live on different stages; the fuller of the two is
    reported. Tied embeddings are still written twice (the engine holds its own
    ``lm_head`` unless ``share_embedding_table`` is set, which is off by default).
    """
    quant = quant or kv_dtype_for(m, "auto")
    act = dtype_bytes(m.dtype)
    n = layers_per_stage(m.num_layers, pp)
    layer = _layer_bytes(m, quant, tp, group_size)
    embedding = int((m.vocab_size + m.learned_positions) * m.hidden_size * act)
    lm_head = int(padded_vocab(m.vocab_size, tp) // tp * m.hidden_size * act)
    final_norm = int(m.hidden_size * act)
    if pp == 1:
        return WeightsPerGPU(int(n * layer) + final_norm, embedding, lm_head, n)
    # first stage: embedding + n layers; last stage: the remaining layers + final norm + LM head
    last_n = max(1, m.num_layers - (pp - 1) * n)
    first = int(n * layer) + embedding
    last = int(last_n * layer) + final_norm + lm_head
    if first >= last:
        return WeightsPerGPU(int(n * layer), embedding, 0, n)
    return WeightsPerGPU(int(last_n * layer) + final_norm, 0, lm_head, last_n)


def checkpoint_bytes(m: ModelSpec, quant: str | None = None, group_size: int = DEFAULT_GROUP_SIZE) -> int:
    """Bytes of the whole model (all ranks) in a weight format: the size of a TRT-LLM
    checkpoint or engine on disk (tp=pp=1 shard of everything; the replicated embedding
    of a TP engine is added by :func:`engine_disk_bytes`)."""
    return weights_per_gpu(m, quant, 1, 1, group_size).total


def hf_checkpoint_bytes(m: ModelSpec) -> int:
    """Bytes of the Hugging Face checkpoint: every parameter once, in the checkpoint dtype."""
    return int(param_count(m).total * dtype_bytes(m.dtype))


# ---------------------------------------------------------------------------------------
# KV cache
# ---------------------------------------------------------------------------------------
def kv_dtype_for(m: ModelSpec, kv_cache_dtype: str | None, quant: str | None = None) -> str:
    """Resolve ``--kv-cache-dtype``: "auto" means the model dtype (TRT-LLM keeps the KV
    cache in the activation dtype unless ``--kv_cache_dtype fp8/int8`` is asked, also
    when the weights are FP8)."""
    if kv_cache_dtype in (None, "", "auto"):
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


def kv_bytes_per_token_layer(m: ModelSpec, kv_dtype: str, tp: int = 1, layer: int = 0) -> float:
    """Bytes one token occupies in one layer's KV cache on one TP rank.

    ``kv_factor x local_kv_heads x d x element size``: kv_factor 2 (K and V) with
    local_kv_heads = max(1, Kv // tp); MLA caches one latent of kv_lora_rank + rope dims
    (kv_factor 1, not split by tp).
    """
    if m.is_mla:
        return _kv_elem_bytes(m.kv_lora_rank + m.qk_rope_head_dim, kv_dtype)
    kv = m.num_kv_heads_per_layer[layer] if m.num_kv_heads_per_layer else m.num_kv_heads
    if kv == 0:  # recurrent / no-op layers hold no KV
        return 0
    return _kv_elem_bytes(2 * kv_heads_per_rank(kv, tp) * m.head_dim, kv_dtype)


def kv_bytes_per_token(m: ModelSpec, kv_dtype: str, tp: int = 1, pp: int = 1) -> int:
    """KV bytes per token on the fullest rank, every layer holding the token:

    ``2 x layers_on_rank x max(1, Kv // tp) x d x bytes_per_element``
    (the issue's "2 x layers x kv_heads x head_dim x bytes, divided by tp").
    Llama-3.1-8B, BF16: 2 x 32 x 8 x 128 x 2 = 131072 B (128 KiB); FP8: 64 KiB.
    """
    n = layers_per_stage(m.num_layers, pp)
    if m.num_kv_heads_per_layer:
        return int(max(sum(kv_bytes_per_token_layer(m, kv_dtype, tp, i)
                           for i in range(s * n, min((s + 1) * n, m.num_layers))) for s in range(pp)))
    return int(n * kv_bytes_per_token_layer(m, kv_dtype, tp))


def kv_cache_bytes(m: ModelSpec, kv_dtype: str, seq_len: int, batch: int = 1, tp: int = 1, pp: int = 1,
                   *, sliding_window: bool = False, tokens_per_block: int = 1) -> int:
    """KV cache of ``batch`` sequences of ``seq_len`` tokens on the fullest rank.

    ``batch x sum over layers of tokens_kept(layer) x bytes_per_token_layer``, where
    ``tokens_kept = seq_len`` rounded up to whole blocks of ``tokens_per_block``
    (1 = no rounding). With ``sliding_window=True`` a sliding-window layer keeps only
    ``min(seq_len, window)`` tokens: what runtimes with per-window KV pools (variable
    sliding-window attention) allocate; older TRT engines allocate the full length
    for every layer (the default here, the safe figure).
    """
    n_layers = layers_per_stage(m.num_layers, pp)
    share = n_layers / m.num_layers if m.num_layers else 1.0

    def blocks(tokens: int) -> int:
        return math.ceil(tokens / tokens_per_block) * tokens_per_block

    full = blocks(seq_len)
    per_token_layer = kv_bytes_per_token(m, kv_dtype, tp, pp) / n_layers if n_layers else 0
    if sliding_window and m.sliding_window and m.sliding_window_layers:
        windowed = round(m.sliding_window_layers * share)
        window_tokens = blocks(min(seq_len, m.sliding_window))
        per_seq = per_token_layer * ((n_layers - windowed) * full + windowed * window_tokens)
    else:
        per_seq = per_token_layer * n_layers * full
    return int(batch * per_seq)


def kv_pool_tokens(free_bytes: float, bytes_per_token: int, fraction: float = DEFAULT_KV_FRACTION,
                   tokens_per_block: int = DEFAULT_TOKENS_PER_BLOCK) -> tuple[int, int]:
    """(blocks, tokens) the paged KV pool gets from ``free_bytes`` left after weights and
    activations: ``blocks = ceil(fraction x free / bytes_per_token / tokens_per_block)``
    (``BaseKVCacheManager::calculateMaxNumBlocks``)."""
    if bytes_per_token <= 0 or free_bytes <= 0:
        return 0, 0
    tokens = fraction * free_bytes / bytes_per_token
    blocks = math.ceil(tokens / tokens_per_block)
    return blocks, blocks * tokens_per_block


# ---------------------------------------------------------------------------------------
# Activations, host RAM, disk
# ---------------------------------------------------------------------------------------
def activation_bytes(m: ModelSpec, max_num_tokens: int, max_batch_size: int = 1, tp: int = 1) -> int:
    """Estimate of the activation memory TensorRT reserves for one engine profile.

    TensorRT sizes activations at build time for the largest shapes (reference/memory.md:
    "TensorRT pre-computes the activation tensors memory requirement at build time"),
    reusing buffers between layers, so the peak is about one layer's live tensors for
    ``max_num_tokens`` packed tokens:

    ``tokens x act_bytes x (4H + (A + 2Kv) d / tp + 3 F / tp)``
    (residual + normed input + attention output + MLP output, the fused QKV, and the
    gate, up and activated FFN of width F; MoE: F = top_k x expert width), plus the
    logits ``max_batch_size x ceil(V/tp) x 4`` B (FP32) of the last tokens.
    An estimate: the real figure is ``ICudaEngine.device_memory_size`` after the build.
    """
    h, act = m.hidden_size, dtype_bytes(m.dtype)
    qkv = (m.num_heads + 2 * m.num_kv_heads) * m.head_dim / tp
    if m.is_moe:
        ffn = m.experts_per_token * (m.moe_intermediate_size or m.intermediate_size) + m.shared_expert_intermediate_size
    else:
        ffn = m.intermediate_size
    per_token = act * (4 * h + qkv + 3 * ffn / tp)
    logits = max_batch_size * math.ceil(m.vocab_size / tp) * 4
    return int(max_num_tokens * per_token + logits)


def build_host_ram_bytes(m: ModelSpec) -> int:
    """Host RAM an engine build needs: about 2x the checkpoint (setup guide: "Build needs
    2x model size in RAM"; causes.toml ram-too-small). The checkpoint is the HF one."""
    return 2 * hf_checkpoint_bytes(m)


def disk_bytes(m: ModelSpec, quant: str | None, tp: int = 1, pp: int = 1,
               group_size: int = DEFAULT_GROUP_SIZE) -> dict[str, int]:
    """Disk for the whole pipeline: HF checkpoint + converted TRT-LLM checkpoint + engine.

    The converted checkpoint and the engine each hold every weight once in the target
    format, plus (tp - 1) extra copies of the replicated embedding table.
    """
    hf = hf_checkpoint_bytes(m)
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
class Fit:
    """The per-GPU memory budget for one target; every field in bytes unless named otherwise."""

    gpu_free_bytes: int
    weights_bytes: int
    activation_bytes: int
    overhead_bytes: int
    kv_bytes_per_token: int
    kv_needed_bytes: int  # KV for max_batch_size x max_seq_len
    kv_available_bytes: int  # fraction x what is left after weights, activations, overhead
    fraction: float
    max_seq_len: int
    max_batch_size: int
    max_num_tokens: int
    tokens_per_block: int
    max_batch_size_fit: int
    max_seq_len_fit: int
    max_seq_len_fit_limited_by: str  # "memory" | "model" (max_position_embeddings)
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def left_for_kv_bytes(self) -> int:
        return self.gpu_free_bytes - self.weights_bytes - self.activation_bytes - self.overhead_bytes

    @property
    def weights_fit(self) -> bool:
        return self.left_for_kv_bytes > 0

    @property
    def kv_fits(self) -> bool:
        return self.weights_fit and self.kv_needed_bytes <= self.kv_available_bytes

    @property
    def free_after_bytes(self) -> int:
        """What is left on the GPU after weights, activations, overhead and the KV the target needs."""
        return self.left_for_kv_bytes - self.kv_needed_bytes


def fit(m: ModelSpec, gpu_free_bytes: int, *, quant: str | None = None, kv_cache_dtype: str | None = "auto",
        tp: int = 1, pp: int = 1, max_seq_len: int | None = None, max_batch_size: int | None = None,
        max_num_tokens: int | None = None, fraction: float = DEFAULT_KV_FRACTION,
        tokens_per_block: int = DEFAULT_TOKENS_PER_BLOCK, weights_bytes: int | None = None,
        overhead_bytes: int = RUNTIME_OVERHEAD_BYTES, sliding_window: bool = False) -> Fit:
    """Weights + activations + overhead + KV for one rank against that rank's free memory.

    * ``max_seq_len`` defaults to the model's ``max_position_embeddings`` (else 4096),
      ``max_batch_size`` to 1 for the fit question, ``max_num_tokens`` to
      min(8192, batch x seq).
    * KV available = fraction x (free - weights - activations - overhead).
    * ``max_batch_size_fit`` = how many ``max_seq_len`` sequences (whole blocks) fit;
      ``max_seq_len_fit`` = the longest sequence ``max_batch_size`` of them can have,
      capped at ``max_position_embeddings`` when the model states it.
    """
    seq = max_seq_len or m.max_position_embeddings or 4096
    batch = max_batch_size or 1
    tokens = max_num_tokens or min(DEFAULT_MAX_NUM_TOKENS, batch * seq)
    kv_dtype = kv_dtype_for(m, kv_cache_dtype, quant)
    w = weights_bytes if weights_bytes is not None else weights_per_gpu(m, quant, tp, pp).total
    act = activation_bytes(m, tokens, batch, tp)
    per_token = kv_bytes_per_token(m, kv_dtype, tp, pp)
    left = gpu_free_bytes - w - act - overhead_bytes
    available = int(fraction * left) if left > 0 else 0

    def seq_bytes(s: int) -> int:
        return kv_cache_bytes(m, kv_dtype, s, 1, tp, pp, sliding_window=sliding_window,
                              tokens_per_block=tokens_per_block)

    needed = batch * seq_bytes(seq)
    per_seq = seq_bytes(seq)
    batch_fit = available // per_seq if per_seq > 0 else 0
    # the longest sequence for `batch` sequences: binary search over whole blocks
    lo, hi = 0, (available // batch // max(1, min(seq_bytes(tokens_per_block), per_token * tokens_per_block))
                 + 1) * tokens_per_block
    cap = m.max_position_embeddings or 0
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if batch * seq_bytes(mid) <= available:
            lo = mid
        else:
            hi = mid - 1
    seq_fit, limited = lo, "memory"
    if cap and seq_fit > cap:
        seq_fit, limited = cap, "model"
    return Fit(
        gpu_free_bytes=int(gpu_free_bytes), weights_bytes=int(w), activation_bytes=act,
        overhead_bytes=overhead_bytes, kv_bytes_per_token=per_token, kv_needed_bytes=needed,
        kv_available_bytes=available, fraction=fraction, max_seq_len=seq, max_batch_size=batch,
        max_num_tokens=tokens, tokens_per_block=tokens_per_block, max_batch_size_fit=int(batch_fit),
        max_seq_len_fit=int(seq_fit), max_seq_len_fit_limited_by=limited,
        extra={"kv_cache_dtype": kv_dtype},
    )


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
    """Why ``tp`` cannot split this model, or None. TRT-LLM needs A % tp == 0, and KV heads
    either divisible by tp or tp a multiple of Kv (then heads are replicated)."""
    if m.num_heads % tp:
        return f"{m.num_heads} attention heads are not divisible by tp={tp}"
    kv = m.num_kv_heads
    if not m.is_mla and kv % tp and tp % kv:
        return f"{kv} KV heads: tp={tp} neither divides them nor is a multiple of them"
    return None


def gpus_needed(m: ModelSpec, gpu_free_bytes: int, *, quant: str | None = None, kv_cache_dtype: str | None = "auto",
                max_seq_len: int | None = None, max_batch_size: int | None = None,
                max_num_tokens: int | None = None, fraction: float = DEFAULT_KV_FRACTION,
                limit: int = 64) -> tuple[int, int] | None:
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
                fraction=fraction)
        if f.kv_fits and f.max_batch_size_fit >= 1:
            return tp, pp
    return None


def with_overrides(m: ModelSpec, **changes: Any) -> ModelSpec:
    return replace(m, **changes)
