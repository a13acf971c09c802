"""`plan` and `check --model` on the real 1xH200 snapshot, and `plan --gpu` from rules/gpus.toml."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from doctor.commands.check import CheckOptions, run_check
from doctor.commands.plan import PlanOptions, find_gpu, run_plan
from doctor.errors import UsageError
from doctor.render import render

ROOT = Path(__file__).resolve().parent.parent
H200 = ROOT / "fixtures" / "snapshots" / "h200-1gpu.json"


def test_70b_fp8_tp1_fits_h200_at_32k():
    r = run_plan(PlanOptions(model="llama-3.1-70b", snapshot=H200, quant="fp8", max_seq_len=32768))
    p = json.loads(render(r, "json"))["extra"]["plan"]
    for key in ("weights_bytes_per_gpu", "kv_cache_bytes_per_token", "kv_cache_bytes", "max_batch_size_fit",
                "max_seq_len_fit"):
        assert isinstance(p[key], int), key
    assert p["fits"] and p["max_batch_size_fit"] >= 1 and p["kv_cache_bytes_per_token"] == 327680
    assert p["kv_cache_bytes"] == 32768 * 327680 and p["gpu"] == "NVIDIA H200"
    assert "--max_seq_len 32768" in p["commands"][1] and "--qformat fp8" in p["commands"][0]
    assert not any(f.id == "MDL003" for f in r.findings)


def test_405b_fp8_tp1_does_not_fit_and_says_how_many_gpus():
    r = run_plan(PlanOptions(model="llama-3.1-405b", snapshot=H200, quant="fp8", max_seq_len=32768))
    p = r.extra["plan"]
    assert not p["fits"] and p["gpus_needed"] == 4 and p["tp_pp_needed"] == [4, 1]
    f = next(f for f in r.findings if f.id == "MDL003")
    assert "4 x NVIDIA H200" in f.fix and "tensor_parallel_size 4" in f.fix
    assert "--tp_size 4" in p["commands"][0]


def test_check_model_on_h200_snapshot():
    ok = run_check(CheckOptions(snapshot=H200, model="llama-3.1-70b", quant="fp8", max_seq_len=32768))
    assert not [f for f in ok.findings if f.area == "model" and f.severity.value == "error"]
    bad = run_check(CheckOptions(snapshot=H200, model="llama-3.1-405b", quant="fp8", max_seq_len=32768))
    f = next(f for f in bad.findings if f.id == "MDL003")
    assert f.params["gpus_needed"] == 4 and f.severity.value == "error" and bad.exit_code() == 1


def test_kv_warning_when_batch_too_large():
    r = run_check(CheckOptions(snapshot=H200, model="llama-3.1-70b", quant="fp8", max_seq_len=32768, max_batch_size=64))
    f = next(f for f in r.findings if f.id == "MDL004")
    assert "max_batch_size <= 6" in f.expected


def test_gpu_lookup(kb):
    assert find_gpu(kb, "H100 80GB").names[0] == "NVIDIA H100 80GB HBM3"
    assert find_gpu(kb, "H200").names[0] == "NVIDIA H200"
    assert find_gpu(kb, "rtx-4090").key == "rtx-4090"
    with pytest.raises(UsageError, match="not in the GPU table"):
        find_gpu(kb, "Voodoo 5")


def test_plan_for_gpus_you_do_not_have():
    r = run_plan(PlanOptions(model="llama-3.1-405b", gpu=["H100 80GB"] * 8, quant="fp8", tp=8, max_seq_len=32768))
    p = r.extra["plan"]
    assert p["gpus"] == 8 and p["tp"] == 8 and p["fits"]  # the guide's 8x H100 405B FP8 TP=8 recipe
    one = run_plan(PlanOptions(model="llama-3.1-8b", gpu=["RTX 4090"], quant="fp8", max_seq_len=32768,
                               max_batch_size=64))
    assert one.extra["plan"]["gpu"] == "NVIDIA GeForce RTX 4090"


def test_cli_plan_human_and_json():
    env = {**os.environ, "NO_COLOR": "1"}
    base = [sys.executable, "-m", "doctor", "plan", "--model", "llama-3.1-70b", "--quant", "fp8", "--max-seq-len", "32768",
            "--snapshot", str(H200)]
    r = subprocess.run(base, capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 0, r.stderr
    assert "weights" in r.stdout and "█" in r.stdout and "trtllm-build" in r.stdout
    r = subprocess.run(base + ["-f", "json"], capture_output=True, text=True, env=env, timeout=60)
    assert json.loads(r.stdout)["extra"]["plan"]["max_seq_len"] == 32768
    r = subprocess.run([sys.executable, "-m", "doctor", "plan", "--model", "nope/nothing", "--snapshot", str(H200)],
                       capture_output=True, text=True, env=env, timeout=60)
    assert r.returncode == 2 and "Traceback" not in r.stderr
