"""--model: presets (rules/models.toml) and local Hugging Face config.json files (fixtures/hf-configs)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from doctor import sizing
from doctor.models import ModelConfigError, read_hf_config, resolve_model, spec_from_hf_config, spec_from_preset

HF = Path(__file__).resolve().parent.parent / "fixtures" / "hf-configs"


def test_every_preset_has_sources_and_parses(kb):
    keys = {p.key for p in kb.models}
    assert {"llama-3.1-8b", "llama-3.1-70b", "llama-3.1-405b", "llama-3.2-1b", "llama-3.2-3b", "qwen2.5-7b",
            "qwen2.5-72b", "mistral-7b", "mixtral-8x7b", "gemma-2-9b", "gemma-2-27b"} <= keys
    kinds = set()
    for p in kb.models:
        assert p.sources and p.published_params_source
        kinds.add(spec_from_preset(p).attention_kind.split(" ")[0])
    assert {"GQA", "MHA"} <= kinds


def test_preset_matches_the_real_hf_config(kb):
    for key, name in (("llama-3.1-8b", "meta-llama--Llama-3.1-8B"), ("qwen2.5-7b", "Qwen--Qwen2.5-7B"),
                      ("mixtral-8x7b", "mistralai--Mixtral-8x7B-v0.1")):
        preset = spec_from_preset(kb.model_preset(key))
        local = read_hf_config(HF / f"{name}.config.json")
        for f in ("num_layers", "hidden_size", "num_heads", "num_kv_heads", "head_dim", "intermediate_size",
                  "vocab_size", "tie_embeddings", "num_experts", "experts_per_token", "qkv_bias"):
            assert getattr(preset, f) == getattr(local, f), (key, f)


def test_qwen3_moe_from_real_config():
    """Qwen3-30B-A3B model card: 30.5B parameters, 3.3B activated; head_dim 128 given explicitly, qk-norm."""
    m = read_hf_config(HF / "Qwen--Qwen3-30B-A3B.config.json")
    assert m.is_moe and m.num_experts == 128 and m.experts_per_token == 8 and m.head_dim == 128 and m.qk_norm
    p = sizing.param_count(m)
    assert round(p.total / 1e9, 1) == 30.5 and abs(p.active / 3.3e9 - 1) < 0.02
    assert sizing.kv_bytes_per_token(m, "bf16") == 98304  # engine-format.md §5 table: 96 KiB


def test_qwen25_32b_within_1pct_of_model_card():
    m = read_hf_config(HF / "Qwen--Qwen2.5-32B.config.json")  # model card: 32.5B
    assert abs(sizing.param_count(m).total / 32.5e9 - 1) < 0.01
    assert m.sliding_window is None  # use_sliding_window false


def test_folder_and_name_resolution(kb, tmp_path):
    folder = tmp_path / "My-Model"
    folder.mkdir()
    (folder / "config.json").write_text((HF / "meta-llama--Llama-3.1-8B.config.json").read_text())
    assert resolve_model(str(folder), kb).num_layers == 32
    assert resolve_model("meta-llama/Llama-3.1-70B-Instruct", kb).name == "llama-3.1-70b"
    with pytest.raises(ModelConfigError, match="never downloads"):
        resolve_model("some-org/not-here", kb)
    with pytest.raises(ModelConfigError, match="no config.json"):
        resolve_model(str(tmp_path), kb)


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.pop("num_hidden_layers"), "num_hidden_layers"),
    (lambda c: c.update(num_key_value_heads=5), "num_key_value_heads=5"),
    (lambda c: c.update(hidden_size="4096"), "hidden_size"),
    (lambda c: c.update(num_local_experts=8), "num_experts_per_tok"),
])
def test_bad_config_names_the_field(mutate, message):
    cfg = json.loads((HF / "meta-llama--Llama-3.1-8B.config.json").read_text())
    mutate(cfg)
    with pytest.raises(ModelConfigError, match=message):
        spec_from_hf_config(cfg, "cfg.json")


def test_foreign_files(tmp_path):
    bad = tmp_path / "config.json"
    bad.write_text('{"architectures": ["X"], ')
    with pytest.raises(ModelConfigError, match="not valid JSON"):
        read_hf_config(bad)
    engine = Path(__file__).resolve().parent.parent / "fixtures" / "engines" / "llama2-7b-0.13.0-ditto-constants-rtxa6000.json"
    with pytest.raises(ModelConfigError, match="engine config"):
        read_hf_config(engine)


def test_multimodal_text_config():
    cfg = {"architectures": ["LlavaForConditionalGeneration"], "model_type": "llava",
           "text_config": json.loads((HF / "meta-llama--Llama-3.1-8B.config.json").read_text())}
    assert sizing.param_count(spec_from_hf_config(cfg)).total == 8_030_261_248


# ---------------------------------------------------------------------------------------------
# The 2026 families, read from their own config.json (fixtures/hf-configs, sources.md)
# ---------------------------------------------------------------------------------------------
def _rounding_tolerance(published: int) -> float:
    """Half a unit of the published figure's last digit, relative (12B -> 4.2%, 37B -> 1.4%), at least 2%."""
    digits = len(str(published).rstrip("0")) or 1
    unit = 10 ** (len(str(published)) - digits)
    return max(0.02, unit / 2 / published)


def test_every_preset_within_2pct_of_its_published_count(kb):
    for p in kb.models:
        c = sizing.param_count(spec_from_preset(p))
        total = c.in_scope(p.published_scope)
        assert abs(total / p.published_params - 1) < 0.02, (p.key, total, p.published_params)
        if p.published_active_params:
            active = c.active_in_scope(p.published_active_scope)
            tol = _rounding_tolerance(p.published_active_params)
            assert abs(active / p.published_active_params - 1) <= tol, (p.key, active, p.published_active_params)


def test_every_fixture_config_parses_and_matches_its_preset(kb):
    """Each real config.json: its count equals the preset built from the same file, so the 2% check holds too."""
    seen = 0
    for f in sorted(HF.glob("*.config.json")):
        m = read_hf_config(f)
        preset = kb.model_preset(m.name)
        if preset is None:
            continue
        seen += 1
        spec = spec_from_preset(preset)
        assert sizing.param_count(m).total == sizing.param_count(spec).total, f.name
        assert (m.quant.format if m.quant else None) == (spec.quant.format if spec.quant else None), f.name
        assert abs(sizing.param_count(m).in_scope(preset.published_scope) / preset.published_params - 1) < 0.02
    assert seen >= 20


@pytest.mark.parametrize("name, fmt, kv", [
    ("openai--gpt-oss-120b", "mxfp4", None),
    ("deepseek-ai--DeepSeek-V3", "fp8_block", None),
    ("Qwen--Qwen3-32B-FP8", "fp8_block", None),
    ("moonshotai--Kimi-K2-Instruct", "fp8_block", None),
    ("nvidia--Llama-3.1-70B-Instruct-FP8", "fp8", "fp8"),  # only hf_quant_config.json says so
    ("nvidia--Qwen3-235B-A22B-NVFP4", "nvfp4", "fp8"),
    ("nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-NVFP4", "nvfp4", "fp8"),
    ("nvidia--MiniMax-M2.5-NVFP4", "nvfp4", "fp8"),
    ("meta-llama--Llama-3.1-8B", None, None),
])
def test_checkpoint_quantisation_as_shipped(name, fmt, kv):
    m = read_hf_config(HF / f"{name}.config.json")
    assert (m.quant.format if m.quant else None) == fmt and (m.quant.kv_cache if m.quant else None) == kv


def test_checkpoint_bytes_against_the_real_downloads():
    """Tensor sums of real local downloads (model-inspection reports; see the presets' checkpoint_bytes comments):
    Kimi-K2-Instruct 958.49 GiB, MiniMax-M2.7 214.32 GiB, gpt-oss-20b 12.82 GiB; DeepSeek-V3 on the Hub: 685B
    parameters (671B + 14B of MTP module)."""
    for name, gib in (("moonshotai--Kimi-K2-Instruct", 958.49), ("MiniMaxAI--MiniMax-M2.7", 214.32),
                      ("openai--gpt-oss-20b", 12.82)):
        got = sizing.hf_checkpoint_bytes(read_hf_config(HF / f"{name}.config.json")) / 2**30
        assert abs(got / gib - 1) < 0.002, (name, got)
    ds = sizing.param_count(read_hf_config(HF / "deepseek-ai--DeepSeek-V3.config.json"))
    assert abs(ds.checkpoint_total / 685e9 - 1) < 0.005 and abs(ds.total / 671e9 - 1) < 0.001


def test_hybrid_mamba_layout_and_state():
    m = read_hf_config(HF / "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.config.json")
    assert (m.attention_layers, m.mamba_layers, m.num_layers) == (6, 23, 52) and m.is_hybrid and not m.gated_mlp
    assert sizing.kv_bytes_per_token(m, "bf16") == 6 * 2 * 2 * 128 * 2  # KV only on the 6 attention layers
    # per sequence: 23 x (conv (4096 + 2*8*128) x 3 x 2 B + ssm 64 x 64 x 128 x 4 B)
    assert sizing.mamba_state_bytes_per_seq(m) == 23 * (6144 * 3 * 2 + 64 * 64 * 128 * 4)
    h56 = read_hf_config(HF / "nvidia--Nemotron-H-56B-Base-8K.config.json")  # uses attention_head_dim
    assert h56.head_dim == 128 and h56.attention_layers == 10 and abs(sizing.param_count(h56).total / 56.3e9 - 1) < 0.01


def test_llama4_interleaved_moe_and_gemma4_global_layers(kb):
    mav = spec_from_preset(kb.model_preset("llama-4-maverick-17b-128e-instruct"))
    shapes = sizing.layer_shapes(mav)
    assert [s.ffn for s in shapes[:4]] == ["dense", "moe", "dense", "moe"] and mav.dense_intermediate_size == 16384
    g4 = read_hf_config(HF / "google--gemma-4-26B-A4B.config.json")
    s = sizing.layer_shapes(g4)
    glob = [x for x in s if x.mixer == "attention"]
    assert len(glob) == 5 and all(x.kv_heads == 2 and x.head_dim == 512 and x.k_eq_v for x in glob)
    assert all(x.ffn == "moe+dense" for x in s) and g4.experts_per_token == 8  # top_k_experts
    assert g4.vision_params > 0 and sizing.param_count(g4).vision == g4.vision_params


def test_gemma3_without_vocab_size_uses_the_class_default(kb):
    m = spec_from_preset(kb.model_preset("gemma-3-27b-it"))
    assert m.vocab_size == 262208 and m.sliding_window == 1024 and m.sliding_window_layers == 52


@pytest.mark.parametrize("module, patterns, expected", [
    ("model.layers.3.self_attn.q_proj", ("model.layers.*.self_attn",), True),
    ("model.layers.3.mlp.experts.gate_up_proj", ("model.layers.*.self_attn",), False),
    ("model.layers.12.self_attn.o_proj", ("model.layers.12.self_attn*",), True),
    ("model.layers.1.self_attn.o_proj", ("model.layers.12.self_attn*",), False),
    ("model.layers.5.block_sparse_moe.gate", ("gate",), True),
    ("model.layers.5.mlp.gate_proj", ("gate",), False),
    ("lm_head", ("lm_head",), True),
    ("backbone.layers.4.mixer.in_proj", ("backbone.layers.4.mixer.in_proj",), True),
    ("backbone.layers.40.mixer.in_proj", ("backbone.layers.4.mixer.in_proj",), False),
])
def test_exclusion_lists(module, patterns, expected):
    assert sizing.excluded(module, patterns) is expected


@pytest.mark.parametrize("mutate, message", [
    (lambda c: c.update(hybrid_override_pattern="M*"), "hybrid_override_pattern has 2 layers"),
    (lambda c: c.update(hybrid_override_pattern="MX" + "M" * 50), "unknown layer letters 'X'"),
    (lambda c: c.pop("mamba_num_heads"), "mamba_num_heads"),
])
def test_bad_hybrid_config_names_the_field(mutate, message):
    cfg = json.loads((HF / "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.config.json").read_text())
    mutate(cfg)
    with pytest.raises(ModelConfigError, match=message):
        spec_from_hf_config(cfg, "cfg.json")


@pytest.mark.parametrize("qc, message", [
    ({"quant_method": "fp8", "weight_block_size": 128}, "weight_block_size"),
    ({"quant_method": "awq", "bits": 3}, "4-bit AWQ only"),
    ({"quant_method": "compressed-tensors"}, "config_groups"),
    ({"quant_method": "fp8", "modules_to_not_convert": "lm_head"}, "modules_to_not_convert"),
])
def test_bad_quantization_config_names_the_field(qc, message):
    from doctor.checkpoint import CheckpointError, quant_from_configs

    with pytest.raises(CheckpointError, match=message):
        quant_from_configs(qc, None)


def test_checkpoint_folder_with_hf_quant_config_and_safetensors_headers(tmp_path):
    """A ModelOpt export folder: config.json + hf_quant_config.json + *.safetensors (only their headers are read)."""
    import struct

    from doctor.checkpoint import read_checkpoint

    (tmp_path / "config.json").write_text((HF / "nvidia--Llama-3.1-70B-Instruct-FP8.config.json").read_text())
    (tmp_path / "hf_quant_config.json").write_text((HF / "nvidia--Llama-3.1-70B-Instruct-FP8.hf_quant_config.json").read_text())
    for i, n in enumerate((1000, 234)):
        header = json.dumps({"__metadata__": {"format": "pt"},
                             f"w{i}": {"dtype": "F8_E4M3", "shape": [n], "data_offsets": [0, n]}}).encode()
        (tmp_path / f"model-0000{i + 1}-of-00002.safetensors").write_bytes(struct.pack("<Q", len(header)) + header + b"\0" * n)
    m = read_checkpoint(tmp_path)
    assert m.quant.format == "fp8" and m.quant.kv_cache == "fp8" and m.quant.exclude == ("lm_head",)
    assert m.checkpoint_bytes == 1234 and "hf_quant_config.json" in m.quant.source
    (tmp_path / "model-00001-of-00002.safetensors").write_bytes(struct.pack("<Q", 2**40))  # a corrupt header
    assert read_checkpoint(tmp_path).checkpoint_bytes == 0  # unknown, not a crash: the size is then computed
