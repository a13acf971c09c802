"""Probes on this machine (no GPU here) and their parsers, with real subprocesses where a probe shells out."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from doctor.facts import Facts
from doctor.probes import collect, cuda, gpus, packages, run_bounded, system
from tests.conftest import has_gpu


def test_collect_never_raises_and_is_complete():
    facts = collect(timeout=10)
    assert facts.platform.system and facts.python.version
    assert facts.packages.installed.get("packaging")  # a dependency: read from metadata, never imported
    if not has_gpu():
        assert facts.driver.version is None and facts.driver.error  # "unknown: why", not an exception
        assert facts.gpus.gpus == [] and facts.gpus.error
    assert Facts.from_json(facts.to_json()) == facts


def test_run_bounded_abandons_a_hung_probe():
    start = time.perf_counter()
    result, error, _ = run_bounded(lambda: time.sleep(30), 0.2)
    assert result is None and error == "timed out after 0.2 s"
    assert time.perf_counter() - start < 2


def test_run_bounded_turns_exceptions_into_reasons():
    def broken():
        raise OSError("cannot read /proc/meminfo")

    assert run_bounded(broken, 1)[1] == "OSError: cannot read /proc/meminfo"


def _fake_smi(tmp_path: Path, body: str) -> Path:
    smi = tmp_path / "nvidia-smi"
    smi.write_text("#!/bin/sh\n" + body + "\n")
    smi.chmod(smi.stat().st_mode | stat.S_IEXEC)
    return tmp_path


def test_hung_nvidia_smi_times_out(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(_fake_smi(tmp_path, "sleep 30")) + os.pathsep + os.environ["PATH"])
    monkeypatch.setattr(gpus, "SMI_TIMEOUT", 0.3)
    start = time.perf_counter()
    with pytest.raises(TimeoutError, match="did not answer"):
        gpus.probe_smi()
    assert time.perf_counter() - start < 3


def test_nvidia_smi_fallback_parses_real_values(tmp_path, monkeypatch):
    # The values of the real H200 (../shared/real/machines/h200-1gpu), in our query's column order.
    line = ("0, NVIDIA H200, GPU-00000000-0000-0000-0000-000000000000, 00000000:00:06.0, 580.159.04, 9.0, 143771 MiB, "
            "0 MiB, 143156 MiB, Disabled, Enabled, Enabled, Default, 5, 16, 700.00 W")
    banner = "| NVIDIA-SMI 580.159.04             Driver Version: 580.159.04     CUDA Version: 13.0     |"
    script = f'if [ -n "$1" ]; then echo "{line}"; else echo "{banner}"; fi'
    monkeypatch.setenv("PATH", str(_fake_smi(tmp_path, script)) + os.pathsep + os.environ["PATH"])
    driver, out = gpus.probe_smi()
    assert driver.version == "580.159.04" and driver.cuda_version == "13.0"
    (g,) = out.gpus
    assert (g.name, g.cc, g.memory_total_mib, g.memory_free_mib, g.mig_enabled, g.power_limit_w) == (
        "NVIDIA H200", "9.0", 143771, 143156, False, 700.0)


def test_proc_driver_version():
    text = "NVRM version: NVIDIA UNIX Open Kernel Module for x86_64  580.159.04  Release Build  (dvs-builder@U22-I3-AF03-09-1)\n"
    assert gpus.parse_proc_version(text) == "580.159.04"
    assert gpus.parse_proc_version("NVRM version: NVIDIA UNIX x86_64 Kernel Module  535.183.01  Sun May 12 19:39:15 UTC 2024") == "535.183.01"


def test_cuda_version_strings():
    assert gpus.cuda_version_string(13000) == "13.0"
    assert gpus.cuda_version_string(12080) == "12.8"


def test_wheel_runtimes_from_names():
    got = cuda.wheel_runtimes({"torch": "2.11.0+cu130", "nvidia-cuda-runtime-cu12": "12.6.77", "nvidia-cuda-runtime": "13.0.96",
                               "tensorrt-cu12": "10.8.0.43", "cuda-bindings": "13.3.1", "numpy": "2.0"})
    assert got == {"torch": "13.0", "nvidia-cuda-runtime-cu12": "12.6", "nvidia-cuda-runtime": "13.0",
                   "tensorrt-cu12": "12.x", "cuda-bindings": "13.x"}


def test_requires_dist_evaluation():
    env = packages.marker_env()
    reqs = ["tensorrt~=10.8.0", "torch<=2.6.0,>=2.6.0a0", "mpi4py", "pywin32; sys_platform == 'win32'", "flake8; extra == 'dev'"]
    got = {r.name: (r.installed, r.ok) for r in packages.evaluate(reqs, {"tensorrt": "10.9.0.34", "torch": "2.6.0"}, env)}
    assert got == {"tensorrt": ("10.9.0.34", False), "torch": ("2.6.0", True), "mpi4py": (None, False)}


def test_env_allow_list_redacts_secrets():
    env = system.allowed_env({"HF_TOKEN": "hf_abcdefsecret", "CUDA_VISIBLE_DEVICES": "0,1", "AWS_SECRET_ACCESS_KEY": "x", "HOME": "/root"})
    assert env == {"HF_TOKEN": "<set, redacted>", "CUDA_VISIBLE_DEVICES": "0,1"}


def test_container_detection():
    assert system.detect_container("0::/kubepods/burstable/pod1/abc", {}, False) == "kubernetes"
    assert system.detect_container("0::/", {}, True) == "docker"
    assert system.detect_container("0::/init.scope", {}, False) in (None, "podman")


def test_meminfo_and_os_release():
    assert system.parse_meminfo("MemTotal:       131981020 kB\nMemAvailable:   131492844 kB\n")["MemTotal"] == 131981020 * 1024
    osr = system.parse_os_release('PRETTY_NAME="Ubuntu 24.04.3 LTS"\nID=ubuntu\nVERSION_ID="24.04"\n')
    assert osr["ID"] == "ubuntu" and osr["VERSION_ID"] == "24.04"


OTHER_PYTHONS = [p for p in ("/root/.pyenv/versions/3.10.13/bin/python3.10", "/usr/bin/python3.10") if Path(p).exists()]


@pytest.mark.skipif(not OTHER_PYTHONS, reason="no second interpreter on this machine")
def test_packages_of_another_interpreter():
    other = OTHER_PYTHONS[0]
    facts = packages.probe(other)
    assert facts.python and "3.10" in subprocess.run([other, "--version"], capture_output=True, text=True).stdout
    assert "trtllm-doctor" not in facts.installed  # that interpreter's own site-packages, not ours


def test_bad_python_is_a_usage_error(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "doctor", "check", "--python", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    assert proc.stderr.strip().splitlines() == [f"trtllm-doctor: error: --python {tmp_path / 'nope'}: no such interpreter"]


@pytest.mark.gpu
def test_live_gpu_facts_on_a_real_gpu():
    facts = collect(timeout=10)
    assert facts.driver.version and facts.driver.cuda_version and facts.driver.source == "nvml"
    assert facts.gpus.gpus and all(g.cc and g.memory_total_mib for g in facts.gpus.gpus)
    smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,compute_cap", "--format=csv,noheader"],
                         capture_output=True, text=True, timeout=10).stdout.strip().splitlines()
    assert [f"{g.name}, {facts.driver.version}, {g.cc}" for g in facts.gpus.gpus] == [s.strip() for s in smi]
    assert facts.cuda.driver_api_version == facts.driver.cuda_version  # cuda-python reaches the same driver
    json.loads(facts.to_json())


def test_requires_dist_read_from_metadata_on_disk(tmp_path):
    """tensorrt_llm's requirements come from its METADATA file: a dist-info is all the probe needs."""
    site = tmp_path / "site-packages"
    meta = site / "tensorrt_llm-0.17.0.dist-info"
    meta.mkdir(parents=True)
    (meta / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: tensorrt_llm\nVersion: 0.17.0\nRequires-Dist: tensorrt~=10.8.0\n"
        "Requires-Dist: torch<=2.6.0,>=2.6.0a0\nRequires-Dist: nvidia-modelopt[torch]~=0.23.0; platform_machine == \"x86_64\"\n"
        "\nRequires-Dist: not-a-header-in-the-body\n")
    (site / "tensorrt-10.9.0.34.dist-info").mkdir()
    installed, broken, where = packages.scan([str(site)])
    assert installed == {"tensorrt-llm": "0.17.0", "tensorrt": "10.9.0.34"} and not broken
    reqs = packages.requires_of(where["tensorrt-llm"])
    assert reqs == ["tensorrt~=10.8.0", "torch<=2.6.0,>=2.6.0a0", 'nvidia-modelopt[torch]~=0.23.0; platform_machine == "x86_64"']
    got = {r.name: r.ok for r in packages.evaluate(reqs, installed, {**packages.marker_env(), "platform_machine": "x86_64"})}
    assert got == {"tensorrt": False, "torch": False, "nvidia-modelopt": False}


def test_find_shared_library_through_ldconfig():
    assert (system.find_shared_library("libc.so") or "").startswith("libc.so")
    assert system.find_shared_library("libdefinitely-not-here-xyz.so") is None
