"""The self-test tiers on a real GPU (skipped where none is visible)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from doctor.selftest import tier
from doctor.selftest.runner import child_env, run_tier

pytestmark = pytest.mark.gpu


def _run(name: str, tmp_path, **extra_env: str):
    env = child_env(None, str(tmp_path))
    env.update(extra_env)
    return run_tier(tier(name), env=env)


@pytest.mark.parametrize("name", ["nvml", "cuda", "kernel", "fp8"])
def test_tiers_1_to_4_pass(name, tmp_path):
    res = _run(name, tmp_path)
    assert res.status == "pass", (res.reason, res.stderr_tail)
    assert res.figure
    assert res.returncode == 0


def test_cuda_tier_measures_bandwidth_on_every_gpu(tmp_path):
    res = _run("cuda", tmp_path)
    assert res.status == "pass", res.reason
    from doctor.selftest.tier_cuda import COPY_MIB

    assert res.metrics["copy_bytes"] == COPY_MIB << 20 == 512 << 20
    for g in res.metrics["gpus"]:
        assert g["h2d_gbps"] > 1 and g["d2h_gbps"] > 1


def test_fp8_tier_through_torch_matches_the_same_reference(tmp_path):
    pytest.importorskip("torch")
    res = _run("fp8", tmp_path, DOCTOR_SELFTEST_FP8_BACKEND="torch")
    assert res.status == "pass", (res.reason, res.stderr_tail)
    assert res.metrics["gpus"][0]["backend"] == "torch._scaled_mm"


def test_multigpu_plumbing_on_one_gpu(tmp_path):
    """NCCL through ctypes, buffers and the result check, forced onto a single GPU."""
    res = _run("multigpu", tmp_path, DOCTOR_SELFTEST_MIN_GPUS="1", DOCTOR_SELFTEST_ALLREDUCE_MIB="64")
    if res.status == "skip":
        pytest.skip(res.reason)
    assert res.status == "pass", (res.reason, res.stderr_tail)
    assert res.metrics["algbw_gbps"] > 0


def test_cli_selftest_tiers_1_to_4_json_and_time(tmp_path):
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "doctor", "selftest", "--tier", "1-4", "-f", "json"],
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONPATH": os.getcwd()})
    wall = time.perf_counter() - start
    data = json.loads(proc.stdout)
    tiers = data["extra"]["selftest"]["tiers"]
    assert [t["id"] for t in tiers] == ["ST1", "ST2", "ST3", "ST4"]
    assert all(t["status"] == "pass" for t in tiers), [(t["id"], t["reason"]) for t in tiers]
    assert proc.returncode == 0
    print(f"selftest tiers 1-4 wall {wall:.2f} s; per tier " + ", ".join(f"{t['id']} {t['elapsed_s']:.2f} s" for t in tiers))
