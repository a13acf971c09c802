"""Every environment check, made to pass and to fail on real-looking facts (the fixture snapshots)."""

from __future__ import annotations

import copy
import re

import pytest

from doctor.checks import Context, all_checks, find_check, run_checks
from doctor.commands.check import CheckOptions, build_target
from doctor.facts import Facts, GPUFacts
from doctor.report import Severity
from tests.conftest import SNAPSHOTS


def load(name: str) -> Facts:
    return Facts.from_json((SNAPSHOTS / f"{name}.json").read_text())


def run(facts: Facts, kb, **target):
    t = build_target(CheckOptions(**target), facts, kb)
    findings, results = run_checks(Context(facts, t, kb))
    return findings, {r.id: r for r in results}


def flat(findings) -> list:
    """The findings with their folded consequences (a consequence keeps id, severity, evidence and params)."""
    from types import SimpleNamespace

    out = []
    for f in findings:
        out.append(f)
        out += [SimpleNamespace(id=c["id"], severity=Severity(c["severity"]), evidence=c["evidence"], params=c["params"],
                                category=c["category"]) for c in f.extra.get("consequences", [])]
    return out


def status(facts: Facts, kb, check_id: str, **target) -> str:
    return run(facts, kb, **target)[1][check_id].status


# (snapshot, check id, expected status): each row is one real-looking machine.
MATRIX = [
    ("h200-1gpu", "OS001", "pass"),
    ("macos", "OS001", "fail"),
    ("wsl2-laptop", "OS003", "fail"),
    ("h200-1gpu", "OS003", "pass"),
    ("h200-1gpu", "PY001", "pass"),
    ("h200-1gpu", "DRV001", "pass"),
    ("cpu-container", "DRV001", "fail"),
    ("macos", "DRV001", "skip"),
    ("old-driver", "DRV002", "fail"),
    ("rtx4090", "DRV002", "pass"),
    ("h200-1gpu", "GPU001", "pass"),
    ("cpu-container", "GPU001", "fail"),
    ("v100", "GPU002", "fail"),
    ("h200-1gpu", "GPU002", "pass"),
    ("b200", "GPU002", "pass"),
    ("old-driver", "CUDA001", "fail"),
    ("h200-1gpu", "CUDA001", "pass"),
    ("old-driver", "CUDA003", "fail"),
    ("h200-1gpu", "CUDA002", "pass"),
    ("h200-1gpu", "PKG001", "fail"),
    ("rtx4090", "PKG001", "pass"),
    ("trt-mismatch", "PKG002", "fail"),
    ("rtx4090", "PKG002", "pass"),
    ("trt-mismatch", "PKG003", "fail"),
    ("rtx4090", "PKG003", "pass"),
    ("wsl2-laptop", "HOST001", "fail"),
    ("h200-1gpu", "HOST001", "pass"),
    ("h200-1gpu", "HOST002", "fail"),  # 64 GiB free on the real machine, the guide asks for 200 GB
    ("rtx4090", "HOST002", "pass"),
    ("cpu-container", "HOST003", "fail"),
    ("h200-1gpu", "HOST003", "pass"),
    ("rtx4090", "HOST004", "skip"),  # one GPU: memlock matters for NCCL/MPI across GPUs only
    ("h200-2gpu-nvlink", "HOST004", "pass"),
    ("h200-1gpu", "HOST006", "pass"),
]


@pytest.mark.parametrize("snapshot,check_id,expected", MATRIX)
def test_matrix(kb, snapshot, check_id, expected):
    assert status(load(snapshot), kb, check_id) == expected


def test_every_check_has_a_known_cause_doc_and_unique_symbol(kb):
    checks = all_checks()
    assert len({c.id for c in checks}) == len(checks)
    assert len({c.symbol for c in checks}) == len(checks)
    for c in checks:
        assert c.cause in kb.causes, c.id
        assert c.doc, f"{c.id} has no docstring for `trtllm-doctor rules {c.id}`"


def test_every_finding_is_complete(kb):
    """A finding always carries id, category, severity, evidence, expected, fix and docs."""
    for snap in SNAPSHOTS.glob("*.json"):
        findings, _ = run(Facts.from_json(snap.read_text()), kb)
        for f in findings:
            assert f.id and f.symbol and f.category and f.title and f.evidence and f.expected, (snap.name, f)
            assert f.fix and not re.search(r"<[a-z_]+>", f.fix), (snap.name, f.fix)  # no unfilled field
            assert f.docs.startswith("https://"), f


def test_real_h200_has_no_false_alarm(kb):
    """On the real 1xH200, the only error is the true one: tensorrt_llm is not installed."""
    findings, _ = run(load("h200-1gpu"), kb)
    errors = [f for f in findings if f.severity is Severity.ERROR]
    assert [f.id for f in errors] == ["PKG001"]
    fix = errors[0].fix
    # Python 3.12 + a CUDA 13.0 driver: the newest release with cp312 wheels and CUDA 13 is 1.2.1.
    assert "tensorrt_llm==1.2.1" in fix and "cu130" in fix
    assert "nvcr.io/nvidia/tensorrt-llm/release:1.2.1" in fix
    driver = [f for f in findings if f.id == "DRV002"]
    assert driver and driver[0].severity is Severity.INFO  # 580 runs CUDA 13.1 via minor-version compatibility


def test_install_fix_follows_the_driver(kb):
    """A CUDA 12.8 driver gets the newest release built for CUDA 12, not a CUDA 13 one."""
    facts = load("h200-1gpu")
    facts.driver.cuda_version = "12.8"
    facts.driver.version = "570.124.06"
    findings, _ = run(facts, kb)
    (pkg,) = [f for f in findings if f.id == "PKG001"]
    rel = kb.release(pkg.params["release"])
    assert rel.cuda_major == 12 and "3.12" in rel.python


def test_asked_release_wins_and_old_python_fails(kb):
    facts = load("h200-1gpu")  # Python 3.12
    findings, results = run(facts, kb, trtllm_version="0.15.0")  # 0.15 had Python 3.10 wheels only
    assert results["PY001"].status == "fail"
    (py,) = [f for f in findings if f.id == "PY001"]
    assert "3.10" in py.expected and "0.15.0" in py.fix


def test_fp8_on_ampere_and_ada(kb):
    assert status(load("rtx3090"), kb, "GPU003", quant="fp8") == "fail"
    assert status(load("rtx4090"), kb, "GPU003", quant="fp8") == "pass"
    assert status(load("rtx3090"), kb, "GPU003") == "skip"
    assert status(load("a100-80gb"), kb, "GPU003", kv_cache_dtype="fp8") == "fail"


def test_fp4_needs_blackwell(kb):
    assert status(load("h200-1gpu"), kb, "GPU004", quant="nvfp4") == "fail"
    assert status(load("b200"), kb, "GPU004", quant="nvfp4") == "pass"


def test_driver_for_fp8(kb):
    facts = load("rtx4090")
    facts.driver.version = "550.54.14"
    findings, results = run(facts, kb, quant="fp8")
    assert results["DRV003"].status == "fail"
    assert results["DRV002"].status == "fail"  # 0.17 needs 570.26; 550 is above the 525 floor -> info
    (drv2,) = [f for f in flat(findings) if f.id == "DRV002"]
    assert drv2.severity is Severity.INFO  # under DRV003's error: the same cause


def test_driver_below_family_floor_is_an_error(kb):
    facts = load("rtx4090")
    facts.driver.version = "520.61.05"
    findings, _ = run(facts, kb)
    (drv,) = [f for f in findings if f.id == "DRV002"]
    assert drv.severity is Severity.ERROR and drv.params["required_driver"] == kb.release("0.17.0").min_driver


def test_cuda_visible_devices_hiding_gpus(kb):
    facts = load("h200-2gpu-nvlink")
    facts.gpus.cuda_visible_devices = ""
    assert status(facts, kb, "GPU001") == "fail"
    facts.gpus.cuda_visible_devices = "1"
    assert status(facts, kb, "GPU001") == "pass"
    facts.gpus.cuda_visible_devices = "7"
    assert status(facts, kb, "GPU001") == "fail"


def test_mixed_mig_busy_exclusive(kb):
    facts = load("h200-2gpu-nvlink")
    assert status(facts, kb, "GPU006") == "pass"
    mixed = copy.deepcopy(facts)
    mixed.gpus.gpus[1].name = "NVIDIA H100 80GB HBM3"
    assert status(mixed, kb, "GPU006") == "fail"
    facts.gpus.gpus[0].mig_enabled = True
    assert status(facts, kb, "GPU007") == "fail"
    facts.gpus.gpus[1].memory_used_mib = 70000
    findings, results = run(facts, kb)
    assert results["GPU008"].status == "fail"
    facts.gpus.gpus[1].compute_mode = "Exclusive_Process"
    facts.gpus.gpus[1].processes = 1
    assert status(facts, kb, "GPU009") == "fail"


def test_vram_minimum(kb):
    facts = load("rtx4090")
    facts.gpus.gpus = [GPUFacts(index=0, name="NVIDIA GeForce RTX 3060", cc="8.6", memory_total_mib=8192, memory_used_mib=0)]
    assert status(facts, kb, "GPU005") == "fail"
    assert status(load("l4"), kb, "GPU005") == "pass"


def test_world_size_vs_gpus(kb):
    assert status(load("h200-1gpu"), kb, "GPU010", tp=2) == "fail"
    assert status(load("h200-2gpu-nvlink"), kb, "GPU010", tp=2) == "pass"


def test_wheels_with_two_cuda_majors(kb):
    facts = load("rtx4090")
    facts.cuda.wheel_runtimes["torch"] = "13.0"
    assert status(facts, kb, "PKG004") == "fail"
    assert status(load("rtx4090"), kb, "PKG004") == "pass"


def test_ram_cgroup_limit_binds(kb):
    facts = load("h200-1gpu")
    facts.host.cgroup_memory_limit_bytes = 16 * 2**30
    findings, _ = run(facts, kb)
    (ram,) = [f for f in findings if f.id == "HOST001"]
    assert "cgroup" in ram.evidence and ram.params["limit_gib"] == 16.0


def test_glibc_and_arch(kb):
    facts = load("rtx4090")
    facts.platform.glibc = "2.31"
    assert status(facts, kb, "OS004") == "fail"
    facts.platform.arch = "ppc64le"
    assert status(facts, kb, "OS002") == "fail"


def test_mpi_root_and_missing_libmpi(kb):
    facts = load("h200-2gpu-nvlink")
    findings, results = run(facts, kb)
    (root,) = [f for f in findings if f.id == "HOST005"]
    assert root.severity is Severity.WARNING  # two GPUs: mpirun will be used
    facts.env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")
    assert status(facts, kb, "HOST005") == "pass"
    facts.host.libmpi = facts.host.mpirun = None
    assert status(facts, kb, "HOST006") == "fail"


def test_rules_lookup_by_id_and_symbol():
    assert find_check("DRV002") is find_check("driver-too-old")
    assert find_check("nope") is None


def test_driver_cuda_from_branch_when_only_proc_answers(kb):
    """/proc/driver/nvidia/version gives no CUDA version: the branch table fills it (580 -> 13.0)."""
    facts = load("old-driver")
    facts.driver.cuda_version = None
    facts.driver.source = "/proc/driver/nvidia/version"
    findings, results = run(facts, kb)
    assert results["CUDA001"].status == "fail"
    (cuda,) = [f for f in flat(findings) if f.id == "CUDA001"]
    assert cuda.params["driver_cuda"] == kb.max_cuda_for_driver("535.183.01") == "12.2"


def test_driver_library_mismatch(kb):
    facts = load("cpu-container")
    facts.driver.error = "NVML: Driver/library version mismatch; nvidia-smi: Failed to initialize NVML: Driver/library version mismatch"
    assert status(facts, kb, "DRV004") == "fail"
    assert status(load("h200-1gpu"), kb, "DRV004") == "pass"
    assert status(load("cpu-container"), kb, "DRV004") == "skip"


def test_broken_metadata_and_cuda_python(kb):
    facts = load("rtx4090")
    facts.packages.broken = ["torch-2.6.0.dist-info"]
    assert status(facts, kb, "PKG005") == "fail"
    assert status(load("rtx4090"), kb, "PKG005") == "pass"
    assert status(load("old-driver"), kb, "CUDA002") == "fail"
    assert status(load("macos"), kb, "CUDA002") == "skip"
