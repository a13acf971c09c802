"""`plan` and `check --model` as a new user would run them: the scenarios of issue 10, each against a
hand computation from the model's config (not from sizing.py's own helpers), on --gpu machines and
on the real 1xH200 snapshot."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
from pathlib import Path

import pytest

from doctor import llmargs, sizing
from doctor.commands.check import CheckOptions, run_check
from doctor.commands.plan import PlanOptions, find_gpu, read_startup_log, run_plan
from doctor.errors import UsageError
from doctor.render import render

ROOT = Path(__file__).resolve().parent.parent
H200 = ROOT / "fixtures" / "snapshots" / "h200-1gpu.json"
HF = ROOT / "fixtures" / "hf-configs"
STARTUP = ROOT / "fixtures" / "logs" / "startup"
GIB = 2**30
MIB = 2**20


def plan_of(**kw) -> dict:
    return run_plan(PlanOptions(**kw)).extra["plan"]


def fp8_linear(out: int, inp: int) -> int:
    """ModelOpt FP8 per tensor: 1 B per weight + an FP32 weight scale and an FP32 input scale."""
    return out * inp + 8


def test_70b_fp8_on_two_h100_plans_tp2_and_fits_at_32k():
    p = plan_of(model="llama-3.1-70b", quant="fp8", gpu=["H100 80GB", "H100 80GB"])
    assert (p["tp"], p["pp"]) == (2, 1) and p["fits"] and p["max_seq_len"] == 32768
    # by hand, one TP rank of Llama-3.1-70B (H 8192, 80 layers, 64 q / 8 KV heads of 128, MLP 28672, V 128256)
    h, inter, d = 8192, 28672, 128
    layer = (fp8_linear(64 * d // 2, h) + 2 * fp8_linear(8 * d // 2, h) + fp8_linear(h, 64 * d // 2)
             + 2 * fp8_linear(inter // 2, h) + fp8_linear(h, inter // 2) + 2 * h * 2)
    embed = math.ceil(128256 / 2) * h * 2  # the PyTorch backend splits the embedding and the LM head over TP
    weights = 80 * layer + 2 * embed + h * 2
    assert p["weights_bytes_per_gpu"] == weights
    kv_per_token = 2 * 80 * (8 // 2) * d * 2  # K and V, 4 KV heads per rank, BF16
    assert p["kv_cache_bytes_per_token"] == kv_per_token == 163840
    free = 81559 * MIB  # rules/gpus.toml: H100 80GB HBM3 memory_mib
    available = int(0.9 * (free - weights - p["activation_bytes"] - p["overhead_bytes"]))
    assert p["kv_cache_available_bytes"] == available
    at_32k = next(r for r in p["what_fits"] if r["max_seq_len"] == 32768)
    assert at_32k["max_batch_size"] == available // (32768 * kv_per_token) >= 1
    assert p["max_batch_size"] == at_32k["max_batch_size"]


def test_8b_fp8_on_an_a100_is_refused_with_the_fp8_cause():
    r = run_plan(PlanOptions(model="llama-3.1-8b", quant="fp8", gpu=["A100-SXM4-80GB"]))
    f = next(f for f in r.findings if f.id == "GPU003")
    assert f.category == "fp8-unsupported" and f.severity.value == "error" and "SM 80" in f.evidence
    assert r.exit_code() == 1
    assert r.extra["plan"]["commands"] == [] and r.extra["plan"]["commands_withheld"]


def test_8b_on_one_l4_without_a_length_says_what_fits():
    p = plan_of(model="llama-3.1-8b", gpu=["L4"])
    assert p["fits"] and not p["max_seq_len_asked"]
    free = 23034 * MIB
    weights = 8_030_261_248 * 2  # every parameter BF16 (the preset's published count, exact)
    left = free - weights - p["activation_bytes"] - p["overhead_bytes"]
    tokens = int(0.9 * left) // 131072 // 32 * 32  # 128 KiB per token, whole 32-token blocks
    assert p["kv_cache_tokens"] == tokens
    longest = next(r for r in p["what_fits_by_batch"] if r["max_batch_size"] == 1)["max_seq_len"]
    assert 20_000 < longest < 100_000 and abs(longest - tokens) <= 32  # tens of thousands of tokens
    assert next(r for r in p["what_fits"] if r["max_seq_len"] == 131072)["max_batch_size"] == 0


def test_gpt_oss_120b_fits_one_h200_with_its_mxfp4_weights():
    p = plan_of(model="gpt-oss-120b", gpu=["H200"])
    assert p["fits"] and p["tp"] == 1 and p["quant"] == "mxfp4"
    # experts: 36 layers x 128 x (gate+up 5760x2880 + down 2880x2880), 4-bit + one E8M0 byte per 32
    experts = 36 * 128 * (5760 * 2880 + 2880 * 2880)
    mxfp4 = experts * 0.5 + experts / 32
    attn = 36 * (2880 * 64 * 64 + 2 * 2880 * 8 * 64 + 64 * 64 * 2880)  # modules_to_not_convert: BF16
    bf16 = (attn + 2 * 201088 * 2880) * 2
    assert abs(p["weights_bytes_per_gpu"] / (mxfp4 + bf16) - 1) < 0.005
    assert 60 * GIB < p["weights_bytes_per_gpu"] < 62 * GIB  # ~61 GiB
    assert any(g["status"] == "weight-only" and g["sm"] == 90 for g in p["gates"])  # W4A16 on Hopper


def test_gpt_oss_on_an_ada_gpu_is_refused():
    r = run_plan(PlanOptions(model="gpt-oss-20b", gpu=["L4"]))
    f = next(f for f in r.findings if f.id == "MDL008")
    assert f.category == "checkpoint-quant-unsupported" and "SM 89" in f.evidence and "MXFP4" in f.fix
    assert r.exit_code() == 1


def test_deepseek_v3_fp8_checkpoint_on_eight_h200():
    p = plan_of(model="deepseek-v3", gpu=["8xH200"])
    assert p["quant"] == "fp8_block" and 630 * GIB < p["checkpoint_bytes"] < 650 * GIB  # ~640 GiB
    assert (p["tp"], p["pp"], p["ep"]) == (8, 1, 8) and p["fits"]
    assert p["kv_cache_bytes_per_token"] == 61 * (512 + 64) * 2  # MLA latent, not split over TP


def test_nemotron_3_super_on_two_h200():
    p = plan_of(model="nemotron-3-super-120b-a12b", gpu=["2xH200"])
    assert (p["tp"], p["pp"]) == (2, 1) and p["fits"]
    # Mamba state per sequence per rank: 40 Mamba layers x (conv (8192 + 2*8*128)/2 x 3 x 2 B + ssm 64 x 64 x 128 x 4 B)
    assert p["mamba_state_bytes_per_seq"] == 40 * (5120 * 3 * 2 + 64 * 64 * 128 * 4)
    assert p["mamba_state_bytes"] == p["max_batch_size"] * p["mamba_state_bytes_per_seq"]
    assert p["kv_cache_bytes_per_token"] == 8 * 2 * 1 * 128 * 2  # only the 8 attention layers, 1 KV head per rank


def test_plan_searches_the_gpus_given_and_respects_tp():
    p = plan_of(model="llama-3.1-405b", quant="fp8", gpu=["8xH100 80GB"])
    assert p["tp"] == 8 and p["fits"]
    fixed = run_plan(PlanOptions(model="llama-3.1-8b", gpu=["H100 80GB"], tp=2))
    assert any(f.id == "GPU010" for f in fixed.findings) and not fixed.extra["plan"]["fits"]


def test_405b_on_one_h200_says_how_many_gpus():
    r = run_plan(PlanOptions(model="llama-3.1-405b", snapshot=H200, quant="fp8", max_seq_len=32768))
    p = r.extra["plan"]
    assert not p["fits"] and p["gpus_needed"] == 4 and p["tp_pp_needed"] == [4, 1]
    f = next(f for f in r.findings if f.id == "MDL003")
    assert "4 x NVIDIA H200" in f.fix and "tensor_parallel_size 4" in f.fix


def test_plan_and_check_model_on_the_real_h200_snapshot():
    r = run_plan(PlanOptions(model="llama-3.1-70b", snapshot=H200, quant="fp8", max_seq_len=32768))
    p = r.extra["plan"]
    assert p["fits"] and p["tp"] == 1 and p["gpu"] == "NVIDIA H200" and p["kv_cache_bytes_per_token"] == 327680
    assert p["kv_cache_bytes"] == p["max_batch_size"] * 32768 * 327680
    ok = run_check(CheckOptions(snapshot=H200, model="llama-3.1-70b", quant="fp8", max_seq_len=32768))
    assert not [f for f in ok.findings if f.area == "model" and f.severity.value == "error"]
    bad = run_check(CheckOptions(snapshot=H200, model="llama-3.1-70b", max_seq_len=32768))  # BF16: 131 GiB
    f = next(f for f in bad.findings if f.id == "MDL003")
    assert f.params["gpus_needed"] == 2 and bad.exit_code() == 1


def test_kv_warning_when_the_batch_asked_does_not_fit():
    r = run_check(CheckOptions(snapshot=H200, model="llama-3.1-70b", quant="fp8", max_seq_len=32768, max_batch_size=64))
    f = next(f for f in r.findings if f.id == "MDL004")
    p = run_plan(PlanOptions(snapshot=H200, model="llama-3.1-70b", quant="fp8", max_seq_len=32768)).extra["plan"]
    assert f"max_batch_size <= {p['max_batch_size_fit']}" in f.expected


def test_the_written_yaml_is_valid_for_the_release():
    for model, gpus, release in (("deepseek-v3", ["8xH200"], "1.2.1"), ("llama-3.1-8b", ["L4"], "1.0.0"),
                                 ("nemotron-3-super-120b-a12b", ["2xH200"], "1.4.0rc1")):
        p = plan_of(model=model, gpu=gpus, trtllm_version=release)
        schema, _, _ = llmargs.schema_for(release)
        problems = llmargs.validate(p["llm_api_options"], schema)
        assert not llmargs.errors(problems), (model, problems)
        assert p["commands"] == [f"trtllm-serve {p['hf_repo']} --extra_llm_api_options plan.yaml"]


def test_engine_flow_only_where_the_release_has_it():
    p = plan_of(model="llama-3.1-8b", gpu=["H100 80GB"], trtllm_version="0.16.0")
    assert p["backend"] == "engine" and "trtllm-build" in p["commands"][1] and p["yaml"] is None
    with pytest.raises(UsageError, match="no engine flow"):
        run_plan(PlanOptions(model="llama-3.1-8b", gpu=["H100 80GB"], trtllm_version="1.4.0rc1", backend="tensorrt"))
    r = run_check(CheckOptions(snapshot=H200, trtllm_version="1.4.0rc1", backend="tensorrt", model="llama-3.1-8b"))
    assert any(f.id == "MDL011" and f.category == "engine-flow-removed" for f in r.findings)


def test_a_local_checkpoint_folder_is_named_from_its_config(tmp_path):
    folder = tmp_path / "snapshots" / "0123456789abcdef0123"
    folder.mkdir(parents=True)
    (folder / "config.json").write_text((HF / "openai--gpt-oss-20b.config.json").read_text())
    p = plan_of(model=str(folder), gpu=["H200"])
    assert p["model"] == "GptOssForCausalLM" and p["quant"] == "mxfp4"  # not the snapshot hash
    cache = tmp_path / "hub" / "models--openai--gpt-oss-20b" / "snapshots" / "abc1234"
    cache.mkdir(parents=True)
    (cache / "config.json").write_text((HF / "openai--gpt-oss-20b.config.json").read_text())
    (tmp_path / "hub" / "models--openai--gpt-oss-20b" / "refs").mkdir()
    (tmp_path / "hub" / "models--openai--gpt-oss-20b" / "refs" / "main").write_text("abc1234")
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path / "hub")}
    r = subprocess.run([sys.executable, "-m", "doctor", "plan", "--model", "openai/gpt-oss-20b", "--gpu", "H200",
                        "-f", "json"], capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    got = json.loads(r.stdout)["extra"]["plan"]
    assert got["model"] == "openai/gpt-oss-20b" and str(cache) in got["commands"][0]


def test_safetensors_index_gives_the_checkpoint_size(tmp_path):
    (tmp_path / "config.json").write_text((HF / "meta-llama--Llama-3.1-8B.config.json").read_text())
    (tmp_path / "model.safetensors.index.json").write_text(json.dumps({"metadata": {"total_size": 16060522496},
                                                                       "weight_map": {}}))
    p = plan_of(model=str(tmp_path), gpu=["H200"])
    assert p["checkpoint_bytes"] == 16060522496 and p["checkpoint_bytes_exact"]


def test_gpu_lookup(kb):
    assert find_gpu(kb, "H100 80GB").names[0] == "NVIDIA H100 80GB HBM3"
    assert find_gpu(kb, "H200").names[0] == "NVIDIA H200"
    assert find_gpu(kb, "rtx-4090").key == "rtx-4090"
    with pytest.raises(UsageError, match="not in the GPU table"):
        find_gpu(kb, "Voodoo 5")
    with pytest.raises(UsageError, match="between 1 and"):
        run_plan(PlanOptions(model="llama-3.1-8b", gpu=["0xH200"]))


def test_from_log_sets_the_runtime_beside_the_prediction():
    """fixtures/logs/startup/jeansblog-trt_llm-readme.log: gpt-oss-120b on one GB10, TRT-LLM 1.1.0rc3."""
    log = STARTUP / "jeansblog-trt_llm-readme.log"
    got = read_startup_log(log)
    assert got["kv_bytes_per_token"] == "73728" and got["kv_allocated"] == ("5.95", "86720")
    r = run_plan(PlanOptions(model="gpt-oss-120b", gpu=["GB10"], max_batch_size=64, from_log=log))
    rows = {row["figure"]: row for row in r.extra["calibration"]["rows"]}
    assert rows["KV bytes per token"]["predicted"] == rows["KV bytes per token"]["actual"] == 73728
    assert 0.9 < rows["weights per GPU"]["ratio"] < 1.1  # predicted ~60.8 GiB, the runtime held 63.52 GiB
    with pytest.raises(UsageError, match="no TensorRT-LLM memory"):
        run_plan(PlanOptions(model="gpt-oss-120b", gpu=["H200"], from_log=HF / "sources.md"))


def test_every_format_carries_the_plan():
    r = run_plan(PlanOptions(model="gpt-oss-120b", gpu=["H200"]))
    md = render(r, "markdown")
    assert "## Plan" in md and "plan.yaml" in md and "trtllm-serve openai/gpt-oss-120b" in md
    gh = render(r, "github")
    assert "::group::trtllm-doctor plan: gpt-oss-120b" in gh and "What fits" in gh
    js = json.loads(render(r, "json"))["extra"]["plan"]
    for key in ("params", "tp", "pp", "weights_bytes_per_gpu", "kv_cache_bytes_per_token", "kv_cache_bytes", "fits",
                "weights_fit", "max_batch_size_fit", "max_seq_len_fit", "gpus_needed", "what_fits"):
        assert key in js, key


def test_cli_plan_human_and_json():
    env = {**os.environ, "NO_COLOR": "1"}
    base = [sys.executable, "-m", "doctor", "plan", "--model", "llama-3.1-70b", "--quant", "fp8", "--max-seq-len", "32768",
            "--snapshot", str(H200)]
    r = subprocess.run(base, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "weights" in r.stdout and "█" in r.stdout and "trtllm-serve" in r.stdout and "What fits" in r.stdout
    r = subprocess.run(base + ["-f", "json"], capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(r.stdout)["extra"]["plan"]["max_seq_len"] == 32768
    r = subprocess.run([sys.executable, "-m", "doctor", "plan", "--model", "nope/nothing", "--snapshot", str(H200)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr and "local Hugging Face cache" in r.stderr


def test_serve_command_as_target(tmp_path):
    yaml = tmp_path / "c.yaml"
    yaml.write_text("kv_cache_config:\n  free_gpu_memory_fraction: 0.8\nmax_batch_size: 16\n")
    p = plan_of(serve=f"trtllm-serve llama-3.1-8b --tp_size 2 --max_seq_len 8192 --extra_llm_api_options {yaml}",
                gpu=["2xH100 80GB"])
    assert (p["tp"], p["max_seq_len"], p["max_batch_size"], p["kv_cache_free_gpu_mem_fraction"]) == (2, 8192, 16, 0.8)


def test_sizing_agrees_with_itself_across_backends(kb):
    """The engine figure keeps the replicated embedding; the PyTorch one splits it over TP."""
    from doctor.models import spec_from_preset

    m = spec_from_preset(kb.model_preset("llama-3.1-8b"))
    eng = sizing.weights_per_gpu(m, "bf16", tp=2)
    pyt = sizing.weights_per_gpu(m, "bf16", tp=2, parallel_embedding=True)
    assert eng.embedding == 128256 * 4096 * 2 and pyt.embedding == 128256 // 2 * 4096 * 2


def test_mtp_speculative_config_loads_the_mtp_weights(tmp_path):
    """speculative_config decoding_type MTP: the runtime loads DeepSeek-V3's MTP layer (one more MoE layer per rank)."""
    y = tmp_path / "mtp.yaml"
    y.write_text("speculative_config:\n  decoding_type: MTP\n  num_nextn_predict_layers: 1\n")
    base = plan_of(model="deepseek-v3", gpu=["8xH200"])
    mtp = plan_of(model="deepseek-v3", gpu=["8xH200"], extra_llm_api_options=y)
    extra = mtp["weights_bytes_per_gpu"] - base["weights_bytes_per_gpu"]
    # one MoE layer of 256 experts x 3 x 7168 x 2048 FP8 weights split over 8 ranks is ~1.3 GiB
    assert 1.2 * GIB < extra < 1.6 * GIB


def test_attention_dp_replicates_attention_and_keeps_the_whole_kv_per_rank(tmp_path):
    y = tmp_path / "adp.yaml"
    y.write_text("enable_attention_dp: true\n")
    tp = plan_of(model="deepseek-v3", gpu=["8xH200"])
    adp = plan_of(model="deepseek-v3", gpu=["8xH200"], extra_llm_api_options=y)
    assert adp["weights_bytes_per_gpu"] > tp["weights_bytes_per_gpu"]  # attention weights on every rank
    assert adp["kv_cache_bytes_per_token"] == tp["kv_cache_bytes_per_token"]  # MLA: not split by TP anyway
    assert adp["llm_api_options"]["enable_attention_dp"] is True


@pytest.mark.parametrize("given,key,count", [
    ("H100", "h100-sxm", 1),            # what people mean: the 80 GB SXM part, not NVML's bare "NVIDIA H100" (94 GB)
    ("8xH100", "h100-sxm", 8),
    ("NVIDIA H100", "h100-sxm5-94gb", 1),  # the NVML name itself stays exact
    ("2xRTX4090", "rtx-4090", 2),
    ("rtx5090", "rtx-5090", 1),          # not "rt" x 5090
    ("RTX 5090 x2", "rtx-5090", 2),
    ("H200*4", "h200-sxm", 4),
])
def test_gpu_names_people_type(given, key, count):
    from doctor.commands.plan import _expand_gpu_args, find_gpu
    from doctor.kb import default_kb

    names = _expand_gpu_args([given])
    assert len(names) == count
    assert find_gpu(default_kb(), names[0]).key == key


def _plan_json(*args: str) -> tuple[int, dict]:
    r = subprocess.run([sys.executable, "-m", "doctor", "plan", *args, "-f", "json"], capture_output=True, text=True,
                       timeout=120)
    assert r.returncode in (0, 1), r.stderr
    return r.returncode, json.loads(r.stdout)


def test_default_length_that_does_not_fit_is_a_warning_with_the_length_that_does():
    """70B FP8 on one 80 GB H100 at the planned (not asked) 32K: the weights fit, 26,560 tokens do (a 327,680 B/token
    bf16 KV cache in the 8.1 GiB pool); the fix names that length and the FP8 KV cache before more GPUs."""
    rc, rep = _plan_json("--model", "llama-3.1-70b", "--quant", "fp8", "--gpu", "H100 80GB")
    f = next(x for x in rep["findings"] if x["id"] == "MDL003")
    assert rc == 0 and f["severity"] == "warning"
    by_batch = {r["max_batch_size"]: r["max_seq_len"] for r in rep["extra"]["plan"]["what_fits_by_batch"]}
    assert f["params"]["fits_at"] == by_batch[1] == 26560
    assert "--max-seq-len 26560" in f["fix"] and "--kv-cache-dtype fp8" in f["fix"]
    rc, rep = _plan_json("--model", "llama-3.1-70b", "--quant", "fp8", "--gpu", "H100 80GB", "--max-seq-len", "32768")
    assert rc == 1 and next(x for x in rep["findings"] if x["id"] == "MDL003")["severity"] == "error"
    rc, rep = _plan_json("--model", "llama-3.1-405b", "--quant", "fp8", "--gpu", "H100 80GB")  # weights alone too big
    f = next(x for x in rep["findings"] if x["id"] == "MDL003")
    assert rc == 1 and "fits_at" not in f["params"] and "FP8 KV" not in f["fix"]


def test_a_tp_that_does_not_divide_the_heads_is_its_own_error_not_a_usage_error():
    rc, rep = _plan_json("--model", "llama-3.1-8b", "--gpu", "4xL4", "--tp", "3")
    f = next(x for x in rep["findings"] if x["id"] == "MDL001")
    assert rc == 1 and f["category"] == "tp-does-not-divide-heads" and "one of 1, 2, 4, 8" in f["fix"]
    assert "plan" not in rep["extra"] and "MDL001" in rep["extra"]["plan_refused"]
    rc, rep = _plan_json("--model", "llama-3.1-8b", "--gpu", "L4", "--tp", "3")  # and too few GPUs: two problems
    assert {"MDL001", "GPU010"} <= {x["id"] for x in rep["findings"]}
