"""`check --extra-llm-api-options` and `--serve` as a user runs them: real YAMLs of the TensorRT-LLM docs of several
releases (fixtures/llm-api, sources.md), valid and broken, against the release schemas (rules/llmargs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from doctor.commands.check import CheckOptions, parse_serve_command, run_check
from doctor.errors import UsageError

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "fixtures" / "llm-api"
H200 = ROOT / "fixtures" / "snapshots" / "h200-1gpu.json"


def llm_findings(yaml: Path, release: str, **kw):
    r = run_check(CheckOptions(snapshot=H200, extra_llm_api_options=yaml, trtllm_version=release, **kw))
    return r, [f for f in r.findings if f.area == "llm-api"]


@pytest.mark.parametrize("name, release", [
    ("1.0.0rc6-gpt-oss-120b-low-latency.yaml", "1.0.0"),
    ("1.0.0rc6-deepseek-r1-fp8.yaml", "1.0.0"),
    ("1.3.0rc11-deepseek-r1-reasoning-parser.yaml", "1.3.0rc29"),
    ("main-llama-3.3-70b.yaml", "1.4.0rc1"),
])
def test_real_yamls_pass_their_release(name, release):
    _, fs = llm_findings(API / name, release)
    assert not [f for f in fs if f.severity.value == "error"], [f.evidence for f in fs]


def test_a_key_renamed_by_the_release_is_named_with_its_replacement():
    """The B200 FP8-KV blog config sets top-level kv_cache_dtype, which 1.0 moved into kv_cache_config.dtype."""
    r, fs = llm_findings(API / "1.0-dev-b6261862-deepseek-r1-b200-max-throughput-fp8kv.yaml", "1.0.0")
    f = next(f for f in fs if f.id == "LLM002")
    assert "kv_cache_dtype" in f.evidence and "kv_cache_config.dtype" in (f.expected + f.fix)
    assert r.exit_code() == 1 and f.category == "llm-api-config-invalid"


def test_0_19_pytorch_backend_config_is_gone_in_1_2():
    _, fs = llm_findings(API / "0.19-era-deepseek-r1-b200-min-latency.yaml", "1.2.1")
    assert any(f.id == "LLM002" and "pytorch_backend_config" in f.evidence for f in fs)


def test_broken_yaml_typo_range_and_inconsistency(tmp_path):
    y = tmp_path / "bad.yaml"
    y.write_text("max_batch_sise: 64\nkv_cache_config:\n  free_gpu_memory_fraction: 1.5\n"
                 "max_seq_len: 32768\nmax_num_tokens: 4096\nenable_chunked_prefill: false\n")
    r, fs = llm_findings(y, "1.2.1")
    ids = {f.id for f in fs}
    assert {"LLM001", "LLM003", "LLM004"} <= ids
    typo = next(f for f in fs if f.id == "LLM001")
    assert "max_batch_size" in typo.expected + typo.fix and "bad.yaml" in typo.evidence
    assert r.exit_code() == 1


def test_an_unknown_release_is_checked_against_the_nearest_schema_and_says_so(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("max_batch_sise: 8\n")
    _, fs = llm_findings(y, "1.1.0")
    assert fs and "nearest known" in fs[0].evidence


def test_yaml_feeds_the_target_and_the_plan(tmp_path):
    y = tmp_path / "c.yaml"
    y.write_text("tensor_parallel_size: 1\nmax_batch_size: 8\nmax_seq_len: 16384\n"
                 "kv_cache_config:\n  free_gpu_memory_fraction: 0.5\n  dtype: fp8\n")
    r = run_check(CheckOptions(snapshot=H200, extra_llm_api_options=y, model="llama-3.1-8b"))
    t = r.target
    assert (t["tp"], t["max_batch_size"], t["max_seq_len"], t["kv_cache_dtype"]) == (1, 8, 16384, "fp8")


def test_serve_command_line_parsing():
    model, flags, extra = parse_serve_command(
        "trtllm-serve serve nvidia/DeepSeek-R1-FP4 --tp_size 8 --ep_size=8 --trust_remote_code "
        "--extra_llm_api_options /tmp/x.yaml")
    assert model == "nvidia/DeepSeek-R1-FP4" and flags == {"tp_size": "8", "ep_size": "8", "trust_remote_code": True}
    assert extra == "/tmp/x.yaml"
    with pytest.raises(UsageError, match="one model"):
        parse_serve_command("trtllm-serve a b")


def test_cli_bad_yaml_is_a_usage_error(tmp_path):
    y = tmp_path / "broken.yaml"
    y.write_text("a: [1, 2\n")
    env = {**os.environ, "NO_COLOR": "1"}
    r = subprocess.run([sys.executable, "-m", "doctor", "check", "--snapshot", str(H200), "--extra-llm-api-options", str(y)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "broken.yaml" in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
