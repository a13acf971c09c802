"""Sizing formulas against hand computations and published memory figures (each cited)."""

from __future__ import annotations

import math

import pytest

from doctor import sizing
from doctor.kb import KB
from doctor.models import spec_from_preset
from doctor.sizing import GB, GIB


@pytest.fixture(scope="module")
def presets():
    kb = KB()
    return {p.key: spec_from_preset(p) for p in kb.models}


def test_llama31_8b_fp8_kv_128k_is_exactly_8_gib(presets):
    m = presets["llama-3.1-8b"]
    # 2 (K,V) x 32 layers x 8 KV heads x 128 head dim x 1 byte = 65536 B/token; x 131072 tokens
    assert sizing.kv_bytes_per_token(m, "fp8") == 2 * 32 * 8 * 128 * 1 == 65536
    assert sizing.kv_cache_bytes(m, "fp8", 131072, 1) == 8 * GIB


def test_kv_per_token_divided_by_tp_and_pp(presets):
    m = presets["llama-3.1-70b"]
    assert sizing.kv_bytes_per_token(m, "bf16") == 2 * 80 * 8 * 128 * 2 == 327680
    assert sizing.kv_bytes_per_token(m, "bf16", tp=4) == 327680 // 4
    assert sizing.kv_bytes_per_token(m, "bf16", pp=3) == 2 * 27 * 8 * 128 * 2  # ceil(80/3) layers on the fullest stage
    # tp larger than the 8 KV heads: each rank keeps one replicated head (gptJsonConfig: max(1, kv // tp))
    assert sizing.kv_bytes_per_token(m, "bf16", tp=16) == 2 * 80 * 1 * 128 * 2


def test_mha_vs_gqa_vs_mqa(presets):
    mha = presets["llama-2-7b"]
    assert mha.attention_kind == "MHA"
    assert sizing.kv_bytes_per_token(mha, "fp16") == 524288  # 512 KiB: 32 x 32 x 128 x 2 x 2
    mqa = sizing.with_overrides(mha, num_kv_heads=1)
    assert mqa.attention_kind == "MQA"
    assert sizing.kv_bytes_per_token(mqa, "fp16") == 2 * 32 * 1 * 128 * 2
    assert sizing.kv_bytes_per_token(mqa, "fp16", tp=8) == 2 * 32 * 1 * 128 * 2  # replicated, not split


def test_sliding_window_layers(presets):
    mistral, gemma = presets["mistral-7b"], presets["gemma-2-9b"]
    assert mistral.sliding_window == 4096 and mistral.sliding_window_layers == 32
    assert gemma.sliding_window == 4096 and gemma.sliding_window_layers == 21  # even layers of 42 are local
    per = sizing.kv_bytes_per_token(mistral, "bf16") // 32
    full = sizing.kv_cache_bytes(mistral, "bf16", 32768)
    windowed = sizing.kv_cache_bytes(mistral, "bf16", 32768, sliding_window=True)
    assert full == 32 * 32768 * per and windowed == 32 * 4096 * per
    g_per = sizing.kv_bytes_per_token(gemma, "bf16") // 42  # 2 x 8 x 256 x 2 = 8192 B per layer
    assert g_per == 8192
    assert sizing.kv_cache_bytes(gemma, "bf16", 8192, sliding_window=True) == g_per * (21 * 8192 + 21 * 4096)


def test_mla_latent_cache():
    m = sizing.ModelSpec(name="mla", num_layers=61, hidden_size=7168, num_heads=128, num_kv_heads=128, head_dim=128,
                         intermediate_size=18432, vocab_size=129280, kv_lora_rank=512, qk_rope_head_dim=64,
                         qk_nope_head_dim=128, v_head_dim=128, q_lora_rank=1536)
    # DeepSeek-V3 shape (config values): one latent of 512 + 64 per token per layer, not split by tp
    assert sizing.kv_bytes_per_token(m, "bf16") == 61 * 576 * 2
    assert sizing.kv_bytes_per_token(m, "bf16", tp=8) == 61 * 576 * 2


def test_nvfp4_kv_bytes(presets):
    m = presets["llama-3.1-8b"]
    x = 2 * 8 * 128  # K and V elements per token per layer
    assert sizing.kv_bytes_per_token(m, "nvfp4") == 32 * (math.ceil(x / 2) + math.ceil(x / 16))


@pytest.mark.parametrize("key", ["llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.2-1b", "llama-3.2-3b",
                                 "qwen2.5-7b", "qwen2.5-72b", "mistral-7b", "mixtral-8x7b", "gemma-2-9b",
                                 "gemma-2-27b", "llama-2-7b"])
def test_preset_parameter_count_within_1pct_of_published(presets, key):
    m = presets[key]
    total = sizing.param_count(m).total
    assert abs(total / m.published_params - 1) < 0.01, (key, total, m.published_params)


def test_exact_counts_where_published_exactly(presets):
    # Gemma 2 tech report (arXiv:2408.00118) Table 2 non-embedding parameters, exact
    for key, non_emb in (("gemma-2-9b", 8_324_201_984), ("gemma-2-27b", 26_047_480_320)):
        p = sizing.param_count(presets[key])
        assert p.total - p.embedding - p.lm_head == non_emb
    # tied embeddings are counted once; Llama 3.2 1B = 1,235,814,400 (HF safetensors 1.24B)
    assert sizing.param_count(presets["llama-3.2-1b"]).lm_head == 0
    assert sizing.param_count(presets["llama-3.2-1b"]).total == 1_235_814_400


def test_moe_total_and_active(presets):
    # Mistral AI, "Mixtral of experts": 46.7B total, 12.9B used per token
    p = sizing.param_count(presets["mixtral-8x7b"])
    assert round(p.total / 1e9, 1) == 46.7 and round(p.active / 1e9, 1) == 12.9
    w1 = sizing.weights_per_gpu(presets["mixtral-8x7b"], "bf16", tp=1).layers
    w2 = sizing.weights_per_gpu(presets["mixtral-8x7b"], "bf16", tp=2).layers
    assert 0.49 < w2 / w1 < 0.52  # experts split over TP, router and norms replicated


def test_quant_scales_and_16bit_parts(presets):
    m = presets["llama-3.1-8b"]
    bf16 = sizing.weights_per_gpu(m, "bf16")
    fp8 = sizing.weights_per_gpu(m, "fp8")
    awq = sizing.weights_per_gpu(m, "int4_awq")
    assert bf16.total == 8_030_261_248 * 2  # every parameter in BF16
    linear = sizing.param_count(m).linear
    # FP8: linear weights 1 B + 8 B of scales per linear layer (7 per layer); embeddings, norms and lm_head 16-bit
    assert fp8.total == linear + 32 * 7 * 8 + (bf16.total - 2 * linear)
    # INT4-AWQ group scales: one 16-bit scale per 128 inputs per output + a 16-bit pre-quant scale per input
    q_proj = 4096 * 4096 * 0.5 + (4096 // 128) * 4096 * 2 + 4096 * 2
    assert sizing.quantized_linear_bytes(4096 * 4096, 4096, 4096, "int4_awq") == q_proj
    assert awq.total < fp8.total < bf16.total


def test_vocab_padding_and_replicated_embedding(presets):
    m = sizing.with_overrides(presets["llama-3.1-8b"], vocab_size=32003)
    w = sizing.weights_per_gpu(m, "bf16", tp=4)
    assert sizing.padded_vocab(32003, 4) == 32004
    assert w.lm_head == 32004 // 4 * 4096 * 2
    assert w.embedding == 32003 * 4096 * 2  # use_parallel_embedding is off by default: full table per rank


def test_kv_pool_reproduces_trtllm_docs_log():
    """TRT-LLM docs log (quoted in shared/real/trtllm-messages.md §3.1, H100):
    'available: 70.48 GiB' -> 'Number of blocks in KV cache primary pool: 4060', 'Allocated 63.44 GiB ... (259840)'
    with 64 tokens per block and 256 KiB per token."""
    blocks, tokens = sizing.kv_pool_tokens(70.48 * GIB, 256 * 1024, 0.9, 64)
    assert (blocks, tokens) == (4060, 259840)
    assert round(tokens * 256 * 1024 / GIB, 2) == 63.44


def test_kv_bytes_reproduce_trtllm_issue_1400(presets):
    """NVIDIA/TensorRT-LLM#1400 (0.8): 'Allocate 69524783104 bytes for k/v cache. Using 132608 tokens in paged KV
    cache.' = 524288 B/token: Llama-2-7B (MHA, 32 layers x 32 KV heads x 128) in FP16, exactly."""
    assert 132608 * sizing.kv_bytes_per_token(presets["llama-2-7b"], "fp16") == 69_524_783_104


def test_guide_llama31_8b_128k_fp8_kv_about_24_gb(presets):
    """Setup guide, Long Context: 'Llama 3.1 8B at 128K with FP8 KV uses ~24 GB': BF16 weights (16.06 GB) + FP8 KV
    for 131072 tokens (8 GiB = 8.59 GB) = 24.65 GB, i.e. ~24 GB to the guide's whole-GB precision (+-1 GB)."""
    m = presets["llama-3.1-8b"]
    total = sizing.weights_per_gpu(m, "bf16").total + sizing.kv_cache_bytes(m, "fp8", 131072)
    assert abs(total / GB - 24) <= 1.0


def test_hf_blog_llama31_memory_tables(presets):
    """Hugging Face blog 'Llama 3.1 - 405B, 70B & 8B' (https://huggingface.co/blog/llama31#inference-memory-requirements):
    weights 16/140/810 GB (FP16), 8/70/405 GB (FP8), 4/35/203 GB (INT4); KV (FP16) at 128k tokens
    15.62 GB (8B) and 39.06 GB (70B), computed with 128000 tokens and GiB (blog issue huggingface/blog#2345).
    Their 405B KV row (123.05 GB) assumes 16 KV heads; the released config has 8 (61.52 GiB), see models.toml note."""
    weights = {"llama-3.1-8b": (16, 8, 4), "llama-3.1-70b": (140, 70, 35), "llama-3.1-405b": (810, 405, 203)}
    for key, figures in weights.items():
        n = sizing.param_count(presets[key]).total
        for bytes_per, fig in zip((2, 1, 0.5), figures):
            assert abs(n * bytes_per / GB / fig - 1) < 0.02, (key, bytes_per, fig)
    assert round(sizing.kv_cache_bytes(presets["llama-3.1-8b"], "bf16", 128000) / GIB, 2) == 15.62
    assert round(sizing.kv_cache_bytes(presets["llama-3.1-70b"], "bf16", 128000) / GIB, 2) == 39.06
    m16 = sizing.with_overrides(presets["llama-3.1-405b"], num_kv_heads=16)
    assert round(sizing.kv_cache_bytes(m16, "bf16", 128000) / GIB, 2) == 123.05


def test_fit_h200_70b_fp8_and_405b(presets):
    free = 143155 * 2**20  # fixtures/snapshots/h200-1gpu.json: NVML free MiB
    f = sizing.fit(presets["llama-3.1-70b"], free, quant="fp8", max_seq_len=32768)
    assert f.kv_fits and f.max_batch_size_fit >= 1
    assert f.kv_available_bytes == int(0.9 * (free - f.weights_bytes - f.activation_bytes - f.overhead_bytes))
    assert f.max_batch_size_fit == f.kv_available_bytes // (32768 * 327680)
    g = sizing.fit(presets["llama-3.1-405b"], free, quant="fp8", max_seq_len=32768)
    assert not g.weights_fit
    assert sizing.gpus_needed(presets["llama-3.1-405b"], free, quant="fp8", max_seq_len=32768) == (4, 1)


def test_fit_max_seq_len_is_largest_that_fits(presets):
    m = presets["qwen2.5-7b"]
    f = sizing.fit(m, 24 * GIB, quant="bf16", max_seq_len=131072, max_batch_size=4)
    per = sizing.kv_bytes_per_token(m, "bf16")
    s = f.max_seq_len_fit
    assert 4 * math.ceil(s / 64) * 64 * per <= f.kv_available_bytes
    assert 4 * math.ceil((s + 64) / 64) * 64 * per > f.kv_available_bytes


def test_build_ram_and_disk(presets):
    m = presets["llama-3.1-8b"]
    assert sizing.build_host_ram_bytes(m) == 2 * 8_030_261_248 * 2
    d = sizing.disk_bytes(m, "fp8")
    assert d["total"] == d["hf_checkpoint"] + d["converted_checkpoint"] + d["engine"]
    assert d["hf_checkpoint"] == 8_030_261_248 * 2


def test_tp_problem(presets):
    m = presets["llama-3.1-8b"]
    assert sizing.tp_problem(m, 3) and sizing.tp_problem(m, 2) is None
    assert sizing.valid_tp_sizes(presets["qwen2.5-7b"], 8) == [1, 2, 4]  # 28 heads
