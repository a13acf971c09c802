"""A ✓ worth trusting (issue 11): no silent pass on releases the KB does not know, one root cause one error,
fixes that never contradict the platform or the release, over every fixture snapshot x every known release."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from doctor.checks import Context, run_checks
from doctor.commands.check import CheckOptions, build_target, run_check
from doctor.errors import UsageError
from doctor.facts import Facts, Requirement
from doctor.kb import KB
from tests.conftest import SNAPSHOTS

KBASE = KB()
ROOT = Path(__file__).resolve().parent.parent
SNAPS = sorted(p.stem for p in SNAPSHOTS.glob("*.json"))
RELEASES = [r.version for r in KBASE.releases]


def load(name: str) -> Facts:
    return Facts.from_json((SNAPSHOTS / f"{name}.json").read_text())


def closure() -> dict[str, set[str]]:
    from doctor.checks import _closure

    return _closure(KBASE.cause_graph)


KNOWN_DRIVERS = ({r.min_driver for r in KBASE.releases} | {r.min_driver_compat for r in KBASE.releases}
                 | {c.min_driver for c in KBASE.cuda} | {f.min_driver for f in KBASE.cuda_families} | {"555"})


@pytest.mark.parametrize("snap", SNAPS)
def test_every_snapshot_against_every_release(snap):
    """No two errors with the same root; every version a fix suggests is one the KB lists for that release."""
    graph = closure()
    for version in RELEASES:
        facts = load(snap)
        t = build_target(CheckOptions(trtllm_version=version), facts, KBASE)
        findings, _ = run_checks(Context(facts, t, KBASE))
        errors = [f for f in findings if f.severity.value == "error"]
        cats = [f.category for f in errors if not KBASE.cause(f.category).distinct]
        assert len(cats) == len(set(cats)), (snap, version, cats)
        for a in errors:
            for b in errors:
                assert a is b or b.category not in graph.get(a.category, ()), (snap, version, a.id, b.id)
        rel = KBASE.release(version)
        for f in findings:
            for py in re.findall(r"python(3\.\d+) -m venv", f.fix):
                assert py in rel.python, (snap, version, f.id, f.fix)
            for v in re.findall(r"tensorrt_llm==([0-9](?:[\w.]*\w)?)", f.fix):
                assert KBASE.release_exact(v) is not None, (snap, version, f.id, v)
            for d in re.findall(r"driver (?:to )?\(?(\d{3}(?:\.\d+){0,2})\)? or newer", f.fix):
                assert d in KNOWN_DRIVERS, (snap, version, f.id, d)
            if facts.platform.system not in (None, "Linux"):
                assert "apt-get" not in f.fix, (snap, version, f.id)


@pytest.mark.parametrize("asked", ["9.9", "abc", "latest", "0.5", "1.2.9", ""])
def test_an_unknown_asked_release_is_a_usage_error(asked):
    with pytest.raises(UsageError, match="not a TensorRT-LLM release the knowledge base knows.*newest stable"):
        build_target(CheckOptions(trtllm_version=asked), load("h200-1gpu"), KBASE)


def test_the_known_release_is_taken_as_written():
    t = build_target(CheckOptions(trtllm_version="v1.2.1"), load("h200-1gpu"), KBASE)
    assert t.release.version == "1.2.1" and t.release_source == "asked"


def test_an_installed_release_newer_than_the_kb_is_checked_with_its_own_pins():
    facts = load("h200-1gpu")
    facts.packages.installed["tensorrt-llm"] = "1.9.0"
    facts.packages.trtllm_requires = [
        Requirement("torch<=2.16.0,>=2.16.0a0", "torch", facts.packages.installed.get("torch"), False),
        Requirement("cuda-python>=14", "cuda-python", "13.3.1", False),
        Requirement("nvidia-nccl-cu14", "nvidia-nccl-cu14", None, False)]
    t = build_target(CheckOptions(), facts, KBASE)
    assert t.release_source == "installed-unknown" and t.release.version == "1.9.0"
    assert t.release.cuda_major == 14 and t.release.carried_from == KBASE.releases[-1].version
    findings, checks = run_checks(Context(facts, t, KBASE))
    results = {c.id: c for c in checks}
    pkg6 = next(f for f in findings if f.id == "PKG006")
    assert pkg6.severity.value == "warning" and "1.9.0" in pkg6.evidence and KBASE.releases[-1].version in pkg6.fix
    assert results["PY001"].status == "pass" and results["DRV002"].status != "skip"  # checks still run


def test_an_engine_without_trtllm_is_judged_against_the_release_that_built_it(tmp_path):
    d = tmp_path / "engine"
    d.mkdir()
    shutil.copy(ROOT / "fixtures" / "engines" / "llama2-7b-0.13.0-ditto-constants-rtxa6000.json", d / "config.json")
    (d / "rank0.engine").write_bytes(b"\0" * 16)
    r = run_check(CheckOptions(snapshot=SNAPSHOTS / "h200-1gpu.json", engine=d))
    assert r.target["trtllm_version"] == "0.13.0" and r.target["source"] == "engine"
    pkg1 = next(f for f in r.findings if f.id == "PKG001")
    assert "0.13.0" in pkg1.expected and "built the engine" in pkg1.expected and "tensorrt_llm==0.13.0" in pkg1.fix


def test_no_driver_is_one_error_with_its_consequences_under_it():
    r = run_check(CheckOptions(snapshot=SNAPSHOTS / "cpu-container.json", tp=2))
    drv = next(f for f in r.findings if f.id == "DRV001")
    assert {c["id"] for c in drv.extra["consequences"]} >= {"GPU001", "GPU010"}
    assert not any(f.id in ("GPU001", "GPU010") for f in r.findings)
    assert {c.id: c.status for c in r.checks}["GPU001"] == "fail"  # the check failed; it is shown under its root


def test_an_old_driver_gets_the_driver_fix_not_a_cuda_python_downgrade():
    """old-driver.json: TRT-LLM 1.2.1 (cuda-python>=13) installed, driver 535: downgrading cuda-python would break it."""
    r = run_check(CheckOptions(snapshot=SNAPSHOTS / "old-driver.json"))
    errors = [f for f in r.findings if f.severity.value == "error"]
    assert [f.id for f in errors] == ["DRV002"]
    fixes = " ".join([errors[0].fix] + [c["evidence"] for c in errors[0].extra["consequences"]])
    assert "cuda-python>=12,<13" not in " ".join(f.fix for f in r.findings) and "590.44.01" in errors[0].fix
    assert {c["id"] for c in errors[0].extra["consequences"]} >= {"CUDA001", "CUDA003"} and fixes


def test_macos_is_one_root_and_no_linux_fix():
    r = run_check(CheckOptions(snapshot=SNAPSHOTS / "macos.json"))
    assert [f.id for f in r.findings if f.severity.value == "error"] == ["OS001"]
    assert not any("apt-get" in f.fix for f in r.findings)
    gpu = {c.id: c.status for c in r.checks}
    assert gpu["GPU001"] == "skip"
    # not a green "Packages" either: TensorRT-LLM is missing, as a consequence of the OS (review: no silent pass)
    assert gpu["PKG001"] == "fail"
    os001 = next(f for f in r.findings if f.id == "OS001")
    assert any(c["id"] == "PKG001" for c in os001.extra["consequences"])


def test_v100_names_the_last_release_for_its_sm():
    r = run_check(CheckOptions(snapshot=SNAPSHOTS / "v100.json"))
    f = next(f for f in r.findings if f.id == "GPU002")
    last = [x for x in KBASE.releases if 70 in x.sm and not x.prerelease][-1]
    assert f"The last release that supports it is {last.version}" in f.fix and "supports SM 75, 80" not in f.fix


def test_install_fix_only_claims_what_fits():
    r = run_check(CheckOptions(snapshot=SNAPSHOTS / "cpu-container.json"))
    pkg = next(f for f in r.findings if f.id == "PKG001")
    assert "fits this driver" not in pkg.expected and "needs an NVIDIA driver first" in pkg.expected
    facts = load("h200-1gpu")
    facts.python.version = "3.11.7"
    t = build_target(CheckOptions(trtllm_version="1.2.1"), facts, KBASE)
    findings, _ = run_checks(Context(facts, t, KBASE))
    pkg = next(f for f in findings if f.id == "PKG001")
    assert "needs Python" in pkg.expected and ". ~/venvs/trtllm/bin/activate" in pkg.fix
    py = next(f for f in findings if f.id == "PY001")
    assert "python3.12 -m venv" in py.fix and "3.12" in KBASE.release("1.2.1").python


def test_generic_host_warnings_are_sized_or_informational():
    r = run_check(CheckOptions(snapshot=SNAPSHOTS / "h200-1gpu.json"))
    host = [f for f in r.findings if f.id in ("HOST001", "HOST002")]
    assert host and all(f.severity.value == "info" for f in host)
    m = run_check(CheckOptions(snapshot=SNAPSHOTS / "h200-1gpu.json", model="llama-3.1-70b"))
    ids = [f.id for f in m.findings]
    assert "HOST002" not in ids and "MDL006" in ids  # once, with the model's own figure
    mdl6 = next(f for f in m.findings if f.id == "MDL006")
    assert "GiB needed" in mdl6.fix


def test_memlock_only_where_gpus_talk_to_each_other():
    assert {c.id: c.status for c in run_check(CheckOptions(snapshot=SNAPSHOTS / "rtx4090.json")).checks}["HOST004"] == "skip"
    facts = load("h200-2gpu-nvlink")
    facts.host.memlock_bytes = 65536
    t = build_target(CheckOptions(), facts, KBASE)
    f = next(f for f in run_checks(Context(facts, t, KBASE))[0] if f.id == "HOST004")
    assert ("docker run --ulimit" in f.fix) == bool(facts.platform.container)


def test_report_json_keeps_consequences():
    r = run_check(CheckOptions(snapshot=SNAPSHOTS / "old-driver.json"))
    from doctor.render import render

    d = json.loads(render(r, "json"))
    drv = next(f for f in d["findings"] if f["id"] == "DRV002")
    assert {c["id"] for c in drv["extra"]["consequences"]} >= {"CUDA001", "CUDA003"}


def test_a_missing_libmpi_is_its_own_finding_not_a_consequence_of_no_driver(tmp_path):
    """No driver explains libcuda and CUDA failures, not a missing Open MPI (it has its own fix)."""
    import json
    import subprocess
    import sys

    snap = json.loads((ROOT / "fixtures/snapshots/cpu-container.json").read_text())
    snap["host"]["libmpi"] = None
    snap["host"]["mpirun"] = None
    path = tmp_path / "no-mpi.json"
    path.write_text(json.dumps(snap))
    r = subprocess.run([sys.executable, "-m", "doctor", "check", "--snapshot", str(path), "-f", "json"],
                       capture_output=True, text=True, timeout=120)
    rep = json.loads(r.stdout)
    mpi = [f for f in rep["findings"] if f["id"] == "HOST006"]
    assert mpi and mpi[0]["category"] == "libmpi-missing" and "libopenmpi-dev" in mpi[0]["fix"]
    folded = [c["id"] for f in rep["findings"] for c in f.get("extra", {}).get("consequences", [])]
    assert "HOST006" not in folded


def test_selftest_failures_from_no_driver_sit_under_the_driver_finding(tmp_path):
    """check --selftest without a driver: ST1/ST2 fail for the same root, so one error, not three (review D9)."""
    import json
    import subprocess
    import sys

    r = subprocess.run([sys.executable, "-m", "doctor", "check", "--selftest", "-f", "json"],
                       capture_output=True, text=True, timeout=180)
    rep = json.loads(r.stdout)
    if rep["facts"]["driver"].get("version"):
        pytest.skip("a driver is installed here")
    roots = [f["id"] for f in rep["findings"] if f["category"] == "driver-missing"]
    assert roots == ["DRV001"], roots
    under = {c["id"] for f in rep["findings"] if f["id"] == "DRV001" for c in f["extra"]["consequences"]}
    assert {"ST1", "ST2"} <= under


def test_a_policy_minimum_for_what_is_not_installed_sits_under_not_installed(tmp_path):
    import json
    import subprocess
    import sys

    (tmp_path / "trtllm-doctor.toml").write_text('[minimum]\ntensorrt-llm = "0.17.0"\n')
    r = subprocess.run([sys.executable, "-m", "doctor", "check", "--snapshot", str(ROOT / "fixtures/snapshots/h200-1gpu.json"),
                        "--config", str(tmp_path / "trtllm-doctor.toml"), "-f", "json"],
                       capture_output=True, text=True, timeout=120)
    rep = json.loads(r.stdout)
    assert "POL002" not in [f["id"] for f in rep["findings"]]
    pkg = next(f for f in rep["findings"] if f["id"] == "PKG001")
    assert any(c["id"] == "POL002" and c["params"]["minimum"] == "0.17.0" for c in pkg["extra"]["consequences"])


def test_the_target_a_policy_sets_is_shown(tmp_path):
    """A trtllm-doctor.toml found upward changes the target: the header and the JSON say so (review D15)."""
    import json
    import subprocess
    import sys

    (tmp_path / "trtllm-doctor.toml").write_text('[target]\nmodel = "llama-3.1-8b"\nquant = "fp8"\n')
    snap = str(ROOT / "fixtures/snapshots/h200-1gpu.json")
    env = {**__import__("os").environ, "PYTHONPATH": str(ROOT)}
    human = subprocess.run([sys.executable, "-m", "doctor", "check", "--snapshot", snap], cwd=tmp_path,
                           capture_output=True, text=True, timeout=120, env=env).stdout
    assert "target from the policy: model llama-3.1-8b, quant fp8" in human.splitlines()[2]
    rep = json.loads(subprocess.run([sys.executable, "-m", "doctor", "check", "--snapshot", snap, "-f", "json"], cwd=tmp_path,
                                    capture_output=True, text=True, timeout=120, env=env).stdout)
    assert rep["extra"]["policy"]["target"] == {"model": "llama-3.1-8b", "quant": "fp8"}
    assert rep["target"]["model"] == "llama-3.1-8b" and rep["target"]["quant"] == "fp8"


def test_install_line_makes_the_venv_after_the_python_it_installs():
    """0.9.0 on a Python 3.12 machine: apt-get installs python3.10 first, then the venv, then pip (review D11);
    apt-get gets sudo when the user is not root."""
    import json

    snap = json.loads((SNAPSHOTS / "h200-1gpu.json").read_text())
    snap["host"]["is_root"] = False
    facts = Facts.from_dict(snap)
    target = build_target(CheckOptions(trtllm_version="0.9.0"), facts, KBASE)
    from doctor.checks import Context
    from doctor.checks.packages import install_plan

    _, line, _ = install_plan(Context(facts, target, KBASE))
    steps = [s.strip() for s in line.split("&&")]
    apt = next(i for i, s in enumerate(steps) if "install python3.10" in s)
    venv = steps.index("python3.10 -m venv ~/venvs/trtllm")
    pip = next(i for i, s in enumerate(steps) if s.startswith("pip"))
    assert apt < venv < pip and steps[venv + 1] == ". ~/venvs/trtllm/bin/activate"
    assert all(s.startswith("sudo ") for s in steps if "apt-get" in s)
