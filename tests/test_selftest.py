"""Self-test logic on a CPU machine: tier selection, the pure parts of each tier, result -> findings,
and the real command here, where every tier must skip or fail with a clear reason."""

from __future__ import annotations

import io
import json
import os
import pty
import select
import subprocess
import sys
import time

import pytest

from doctor.commands.selftest import (
    Progress, check_results, findings_for, parse_gpus, parse_tiers,
)
from doctor.errors import UsageError
from doctor.report import Severity
from doctor.selftest import TIERS, tier
from doctor.selftest.diagnose import classify_text, describe_exit, explain_hook
from doctor.selftest.runner import TierResult, child_env, select as select_tiers
from doctor.selftest.tier_fp8 import M, N, K, compare, e4m3_to_float, inputs, reference as fp8_reference
from doctor.selftest.tier_kernel import reference as kernel_reference
from doctor.selftest.tier_multigpu import BUSBW_FLOOR_GBPS, bus_bandwidth, judge, link_type
from doctor.selftest.tier_nvml import select_visible

from tests.conftest import has_gpu

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


# --- tier selection -------------------------------------------------------------------------------

def test_tiers_are_numbered_st1_to_st6_with_unique_symbols():
    assert [t.id for t in TIERS] == [f"ST{i}" for i in range(1, 7)]
    assert len({t.symbol for t in TIERS}) == len(TIERS)
    assert tier("st4") is tier(4) is tier("fp8") is tier("4")
    assert tier("nope") is None


def test_parse_tiers_accepts_numbers_ids_names_lists_and_ranges():
    assert [t.id for t in select_tiers(parse_tiers(["1-3", "fp8"]))] == ["ST1", "ST2", "ST3", "ST4"]
    assert [t.id for t in select_tiers(parse_tiers(["ST6,2", "2"]))] == ["ST2", "ST6"]
    assert select_tiers(parse_tiers([])) == list(TIERS)
    for bad in (["7"], ["0-2"], ["4-2"], ["gpu"]):
        with pytest.raises(UsageError):
            parse_tiers(bad)


def test_parse_gpus_is_cuda_visible_devices_syntax():
    assert parse_gpus(None) is None
    assert parse_gpus("all") is None
    assert parse_gpus(" 0, 1 ") == "0,1"
    assert parse_gpus("GPU-3e173970-8861-57e4") == "GPU-3e173970-8861-57e4"
    for bad in ("", "0,,1", "a", "0;1", "1,1", "-1"):
        with pytest.raises(UsageError):
            parse_gpus(bad)


def test_child_env_turns_multicast_off_and_pins_the_gpus(tmp_path):
    env = child_env("1", str(tmp_path), base={"PATH": "/bin", "NCCL_NVLS_ENABLE": "1"})
    assert env["NCCL_NVLS_ENABLE"] == "0"
    assert env["TORCH_SYMM_MEM_DISABLE_MULTICAST"] == "1" and env["NVSHMEM_DISABLE_NVLS"] == "1"
    assert env["CUDA_VISIBLE_DEVICES"] == "1" and env["TMPDIR"] == str(tmp_path)
    assert env["CUDA_DEVICE_ORDER"] == "PCI_BUS_ID"
    assert "CUDA_VISIBLE_DEVICES" not in child_env(None, str(tmp_path), base={})


# --- ST1 ------------------------------------------------------------------------------------------

def test_nvml_tier_reads_cuda_visible_devices_like_cuda():
    devs = [(0, "GPU-aaaa-1111"), (1, "GPU-bbbb-2222"), (2, "GPU-cccc-3333")]
    assert select_visible(None, devs) == [0, 1, 2]
    assert select_visible("", devs) == []
    assert select_visible("2,0", devs) == [2, 0]
    assert select_visible("1,7,0", devs) == [1]  # CUDA stops at the first invalid entry
    assert select_visible("GPU-bbbb", devs) == [1]
    assert select_visible("cccc-3333,0", devs) == [2, 0]
    assert select_visible("MIG-xyz", devs) == [0, 1, 2]


# --- ST3 / ST4 pure parts -------------------------------------------------------------------------

def test_kernel_reference_mirrors_within_each_block():
    ref = kernel_reference(512, 7)
    assert len(ref) == 512 and len(set(ref)) == 512
    assert ref[0] == kernel_reference(256, 7)[0]


def test_e4m3_decoding_matches_the_ocp_format():
    assert e4m3_to_float(0x00) == 0.0
    assert e4m3_to_float(0x38) == 1.0  # exponent 7 = bias
    assert e4m3_to_float(0xB8) == -1.0
    assert e4m3_to_float(0x7E) == 448.0  # the largest finite value
    assert e4m3_to_float(0x08) == 2.0**-6  # smallest normal
    assert e4m3_to_float(0x01) == 2.0**-9  # smallest subnormal
    assert e4m3_to_float(0x7F) != e4m3_to_float(0x7F)  # NaN


def test_fp8_reference_and_comparison_catch_a_wrong_element():
    a, bt, c = inputs()
    assert all((x >> 3) & 0xF not in (0, 0xF) for x in a + bt)  # no subnormals, no NaN
    want = fp8_reference(a, bt, c, M, N, K)
    assert len(want) == M * N
    worst, bad = compare(want, want, a, bt, K, N)
    assert worst == 0.0 and bad is None
    got = list(want)
    got[N + 3] += 100.0  # a wrong answer, not rounding (the tolerance is 1e-3 of the sum of |products|)
    worst, bad = compare(got, want, a, bt, K, N)
    assert bad == N + 3 and worst > 1e-3
    worst, bad = compare([float("nan")] * len(want), want, a, bt, K, N)
    assert bad == 0


# --- ST5 pure parts -------------------------------------------------------------------------------

def test_bus_bandwidth_follows_nccl_tests():
    alg, bus = bus_bandwidth(8 * 10**9, 0.1, 8)
    assert alg == pytest.approx(80.0) and bus == pytest.approx(140.0)
    assert bus_bandwidth(10**9, 0.0, 2) == (0.0, 0.0)


def test_link_type_from_the_topology_matrix():
    nv = [["X", "NV18"], ["NV18", "X"]]
    pcie = [["X", "PHB"], ["PHB", "X"]]
    mixed = [["X", "NV4", "SYS"], ["NV4", "X", "SYS"], ["SYS", "SYS", "X"]]
    assert link_type(nv, [0, 1]) == "nvlink"
    assert link_type(pcie, [0, 1]) == "pcie"
    assert link_type(mixed, [0, 1, 2]) == "mixed"
    assert link_type(mixed, [0, 1]) == "nvlink"
    assert link_type([], [0, 1]) == "unknown"


def test_judge_nvlink_without_peer_access_fails_and_slow_links_warn():
    no_p2p = [[True, False], [False, True]]
    fails, warns = judge(no_p2p, "nvlink", 300.0, 2)
    assert [f.cause for f in fails] == ["no-p2p-access"] and not warns
    fails, warns = judge(no_p2p, "pcie", 10.0, 2)
    assert not fails and [w.cause for w in warns] == ["no-p2p-access"]
    ok = [[True, True], [True, True]]
    assert judge(ok, "nvlink", 350.0, 2) == ([], [])
    fails, warns = judge(ok, "nvlink", 12.0, 2)  # NVLink at PCIe speed
    assert [w.cause for w in warns] == ["gpu-link-slow"]
    assert warns[0].params["expected_gbps"] == f"{BUSBW_FLOOR_GBPS['nvlink']:g}"
    assert judge(ok, "pcie", 12.0, 2) == ([], [])


# --- diagnosis ------------------------------------------------------------------------------------

def test_stderr_is_read_through_explain_first_then_the_table():
    # explain's catalogue tells a runtime OOM apart from "another process holds memory"
    assert explain_hook("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")[0] == "runtime-oom"
    assert classify_text("torch.cuda.OutOfMemoryError: CUDA out of memory. Tried to allocate 2.00 GiB")[0] == "runtime-oom"
    assert classify_text("cuInit: CUDA_ERROR_NO_DEVICE")[0] == "gpu-not-visible"
    cause, params, _ = classify_text("NVRM: Xid (PCI:0000:00:06): 79, GPU has fallen off the bus")
    assert cause == "gpu-hardware-error" and params["xid"] == "79"
    assert classify_text("everything is fine") is None
    assert describe_exit(-11) == "killed by SIGSEGV (segmentation fault)"
    assert describe_exit(3) == "exit code 3"


# --- results -> report ----------------------------------------------------------------------------

def _result(**kw) -> TierResult:
    base = dict(id="ST2", number=2, symbol="selftest-cuda-driver", title="CUDA driver", status="pass")
    base.update(kw)
    return TierResult(**base)


def test_results_become_findings_with_the_catalogue_fix(kb):
    results = [
        _result(status="pass", figure="H2D 50 GB/s"),
        _result(id="ST3", number=3, status="fail", reason="boom", evidence="cuModuleLoadData: CUDA_ERROR_NO_BINARY_FOR_GPU",
                cause="gpu-arch-unsupported", params={"gpu_sm": "120"}, exit="exit code 0", stderr_tail="tail"),
        _result(id="ST4", number=4, status="skip", reason="SM 80 has no FP8", cause="fp8-unsupported",
                params={"gpu": "A100", "gpu_sm": "80"}),
        _result(id="ST5", number=5, status="pass", figure="x", warnings=[{"cause": "gpu-link-slow", "title": "slow",
                "evidence": "12 GB/s", "expected": ">= 40", "params": {"busbw_gbps": "12.0", "link": "NVLink"}}]),
        _result(id="ST6", number=6, status="fail", reason="?", cause="no-such-cause"),
    ]
    found = findings_for(results, kb)
    by = {(f.id, f.severity): f for f in found}
    err = by[("ST3", Severity.ERROR)]
    assert err.category == "gpu-arch-unsupported" and err.area == "selftest"
    assert err.fix == kb.cause("gpu-arch-unsupported").fix_for({"gpu_sm": "120"})
    assert err.extra["stderr_tail"] == "tail"
    note = by[("ST4", Severity.INFO)]
    assert "SM 80" in note.fix and note.evidence == "SM 80 has no FP8"
    warn = by[("ST5", Severity.WARNING)]
    assert warn.category == "gpu-link-slow" and "12.0 GB/s" in warn.fix
    assert by[("ST6", Severity.ERROR)].category == "unknown-failure"  # an unknown cause id never crashes
    checks = check_results(results)
    assert [c.status for c in checks] == ["pass", "fail", "skip", "pass", "fail"]
    assert checks[0].reason == "H2D 50 GB/s"


def test_progress_writes_a_live_line_per_tier():
    buf = io.StringIO()
    p = Progress(buf)
    spec = tier(2)
    p.start(spec)
    p.tick(spec, 1.25)
    p.done(_result(status="pass", figure="H2D 50 GB/s", elapsed_s=1.3))
    text = buf.getvalue()
    assert "\r\x1b[K  ST2" in text and "1.2 s" in text
    assert text.endswith("✓ ST2 CUDA driver (1.3 s): H2D 50 GB/s\n")


# --- the real command on this machine -------------------------------------------------------------

def _doctor(*args, **kw):
    return subprocess.run([sys.executable, "-m", "doctor", *args], capture_output=True, text=True, timeout=120,
                          cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT}, **kw)


@pytest.mark.skipif(has_gpu(), reason="checks the CPU-only outcome")
def test_selftest_on_a_cpu_machine_fails_or_skips_every_tier_with_a_reason():
    proc = _doctor("selftest", "-f", "json")
    assert proc.returncode == 1, proc.stderr
    assert proc.stderr == ""  # not a terminal: no progress lines
    data = json.loads(proc.stdout)
    tiers = {t["id"]: t for t in data["extra"]["selftest"]["tiers"]}
    assert list(tiers) == ["ST1", "ST2", "ST3", "ST4", "ST5", "ST6"]
    assert all(t["status"] in ("fail", "skip") and t["reason"] for t in tiers.values())
    assert tiers["ST2"]["status"] == "fail" and tiers["ST2"]["cause"] in ("driver-missing", "gpu-not-visible", "cuda-python-broken")
    assert all(tiers[i]["status"] == "skip" and "ST2 failed" in tiers[i]["reason"] for i in ("ST3", "ST4", "ST5"))
    assert tiers["ST6"]["cause"] == "trtllm-not-installed" or tiers["ST6"]["status"] == "fail"
    ids = {f["id"] for f in data["findings"] if f["severity"] == "error"}
    assert "ST2" in ids
    for f in data["findings"]:
        assert f["fix"] and f["category"] and f["area"] == "selftest"


@pytest.mark.skipif(has_gpu(), reason="checks the CPU-only outcome")
def test_selftest_tier_pick_and_quiet_human_output():
    proc = _doctor("selftest", "--tier", "fp8", "--gpus", "0", "--timeout", "30")
    assert proc.returncode == 1
    assert "GPU self-test" in proc.stdout and proc.stderr == ""
    assert "FP8" in proc.stdout and "NVML" not in proc.stdout


def test_selftest_bad_arguments_are_one_line_usage_errors():
    for args in (["--tier", "9"], ["--gpus", "zero"], ["--tier", "3-1"]):
        proc = _doctor("selftest", *args)
        assert proc.returncode == 2, args
        assert proc.stderr.count("\n") == 1 and "Traceback" not in proc.stderr


def test_check_selftest_folds_tiers_in_and_refuses_a_snapshot(tmp_path):
    from doctor.commands.check import CheckOptions, run_check

    snap = tmp_path / "s.json"
    snap.write_text("{}")
    with pytest.raises(UsageError, match="--snapshot"):
        run_check(CheckOptions(snapshot=snap, selftest=True))
    if has_gpu():
        pytest.skip("the live fold-in is asserted for the CPU outcome")
    proc = _doctor("check", "--selftest", "-f", "json")
    data = json.loads(proc.stdout)
    assert [t["id"] for t in data["extra"]["selftest"]["tiers"]] == [t.id for t in TIERS]
    st = [c for c in data["checks"] if c["area"] == "selftest"]
    assert len(st) == 6
    # ST2 failed for want of a driver: it sits under DRV001, the root the checks found (one root cause, one error)
    drv = next(f for f in data["findings"] if f["id"] == "DRV001")
    assert any(c["id"] == "ST2" for c in drv["extra"]["consequences"])
    assert not any(f["id"] == "ST2" for f in data["findings"])
    assert not any(f["id"].startswith("ST") and f["severity"] == "info" for f in data["findings"])


@pytest.mark.skipif(has_gpu(), reason="checks the CPU-only outcome")
def test_progress_appears_on_a_terminal_only():
    master, slave = pty.openpty()
    proc = subprocess.Popen([sys.executable, "-m", "doctor", "selftest", "--tier", "1-2"], stdout=subprocess.PIPE,
                            stderr=slave, cwd=ROOT, env={**os.environ, "PYTHONPATH": ROOT})
    os.close(slave)
    chunks = []
    end = time.monotonic() + 60
    while time.monotonic() < end:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 4096)
            except OSError:
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    proc.wait(timeout=30)
    os.close(master)
    text = b"".join(chunks).decode(errors="replace")
    assert "ST1 NVML" in text and "ST2 CUDA driver" in text
    assert "✗ ST2" in text


def test_pcie_crosscheck_warns_only_for_a_link_running_far_below_its_maximum(kb):
    from doctor.selftest.crosscheck import bus_key, pcie_warnings

    assert bus_key("00000000:00:06.0") == bus_key("0000:00:06.0") == (0, 0, 6, 0)
    assert bus_key("garbage") is None

    def results(h2d: float, gen_max: int = 5, width_max: int = 16):
        st1 = _result(id="ST1", number=1, metrics={"gpus": [{"bus_id": "00000000:00:06.0", "pcie_gen": 1, "pcie_width": 16,
                                                             "pcie_gen_max": gen_max, "pcie_width_max": width_max}]})
        st2 = _result(metrics={"gpus": [{"ordinal": 0, "name": "NVIDIA H200", "bus_id": "0000:00:06.0",
                                         "h2d_gbps": h2d, "d2h_gbps": 55.1}]})
        pcie_warnings([st1, st2])
        return st2

    assert results(55.2).warnings == []  # the real H200: 55 GB/s on Gen5 x16 (63 GB/s)
    slow = results(11.0)  # what a Gen5 x16 card trained at Gen3 x16 / x4 would give
    assert [w["cause"] for w in slow.warnings] == ["pcie-bandwidth-low"]
    found = findings_for([slow], kb)
    assert found[0].severity is Severity.WARNING and "11.0 GB/s" in found[0].fix
    assert results(11.0, gen_max=3, width_max=16).warnings == []  # a Gen3 x16 system: 11 GB/s is normal


def test_tiers_run_under_another_interpreter_with_only_the_doctor_package_added(tmp_path):
    other = "/usr/bin/python3"
    if not os.path.exists(other) or os.path.realpath(other) == os.path.realpath(sys.executable):
        pytest.skip("no second interpreter here")
    from doctor.selftest.runner import run_tiers

    (res,) = run_tiers([tier("trtllm")], python=other)
    assert res.status in ("skip", "pass", "fail") and res.exit == "exit code 0", res.stderr_tail
    env = child_env(None, str(tmp_path), base={})
    pkg_dir = env["PYTHONPATH"].split(os.pathsep)[0]
    assert os.listdir(pkg_dir) == ["doctor"]  # not the doctor's whole site-packages


def test_st6_gives_the_same_install_advice_as_check():
    """ST6 skipped for want of TensorRT-LLM names the install line and container PKG001 names (review D11)."""
    from doctor.checks import Context
    from doctor.checks.packages import install_plan
    from doctor.commands.check import CheckOptions, build_target
    from doctor.facts import Facts
    from doctor.kb import default_kb

    kb = default_kb()
    res = _result(id="ST6", number=6, symbol="selftest-trtllm", title="TensorRT-LLM", status="skip",
                  cause="trtllm-not-installed", reason="TensorRT-LLM is not installed in this Python", params={})
    (f,) = findings_for([res], kb, python_version="3.12.3")
    with open(os.path.join(ROOT, "fixtures/snapshots/h200-1gpu.json"), encoding="utf-8") as fh:
        facts = Facts.from_dict(json.load(fh))
    target = build_target(CheckOptions(), facts, kb)
    rel, command, _ = install_plan(Context(facts, target, kb))
    assert command and command in f.fix and rel.container in f.fix
