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
