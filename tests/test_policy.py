"""Policy files: discovery, validation (every mistake named), target defaults, minimums, overrides, ignores."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path

import pytest

from doctor.commands.check import CheckOptions
from doctor.errors import UsageError
from doctor.report import Finding, Report, Severity
from doctor.policy import Ignore, Policy, apply, fill_check_options, find_policy, load_policy, resolve

from .conftest import ROOT, SNAPSHOTS

TODAY = dt.date(2026, 6, 1)


def finding(fid: str, symbol: str, cause: str, severity: Severity = Severity.ERROR) -> Finding:
    return Finding(fid, symbol, cause, severity, f"title of {fid}", "seen", "expected", "fix", "docs", area="gpu")


def write(tmp_path: Path, text: str, name: str = "trtllm-doctor.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


# --- discovery ------------------------------------------------------------------------------


def test_found_upward_from_a_subfolder(tmp_path):
    path = write(tmp_path, 'fail_on = "warning"\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    assert find_policy(sub) == path
    assert resolve(None, sub).fail_on is Severity.WARNING


def test_pyproject_table_found_and_trtllm_doctor_toml_wins_in_same_folder(tmp_path):
    pyproject = write(tmp_path, '[project]\nname = "x"\n\n[tool.trtllm-doctor]\nfail_on = "warning"\n', "pyproject.toml")
    assert find_policy(tmp_path) == pyproject
    assert load_policy(pyproject).fail_on is Severity.WARNING
    own = write(tmp_path, 'fail_on = "error"\n')
    assert find_policy(tmp_path) == own


def test_pyproject_without_our_table_is_passed_over(tmp_path):
    outer = write(tmp_path, 'fail_on = "warning"\n')
    inner = tmp_path / "proj"
    inner.mkdir()
    write(inner, '[project]\nname = "x"\n[tool.ruff]\nline-length = 100\n', "pyproject.toml")
    assert find_policy(inner) == outer


def test_no_policy_means_defaults(tmp_path):
    assert find_policy(tmp_path) is None or not str(find_policy(tmp_path)).startswith(str(tmp_path))
    assert Policy().fail_on is Severity.ERROR


def test_config_naming_a_missing_file_or_a_pyproject_without_table(tmp_path):
    with pytest.raises(UsageError, match="no such file"):
        resolve(tmp_path / "nope.toml")
    pyproject = write(tmp_path, '[project]\nname = "x"\n', "pyproject.toml")
    with pytest.raises(UsageError, match=r"no \[tool.trtllm-doctor\] table"):
        resolve(pyproject)


# --- validation: each mistake is named ------------------------------------------------------


@pytest.mark.parametrize(
    "text, named",
    [
        ('fail_on = "warn"\n', "'fail_on'"),
        ('failon = "error"\n', "'failon': unknown key"),
        ("[target]\ntp = 0\n", "'target.tp'"),
        ("[target]\ntp = \"2\"\n", "'target.tp'"),
        ("[target]\nbatch = 8\n", "'target.batch': unknown key"),
        ('[target]\nquant = "fp7"\n', "'target.quant'"),
        ('[minimum]\ndriver = "new"\n', "'minimum.driver'"),
        ('[minimum]\nnccl = "2.20"\n', "'minimum.nccl': unknown key"),
        ('[minimum.packages]\ntorch = true\n', "'minimum.packages.torch'"),
        ('[severity]\nDRV001 = "fatal"\n', "'severity.DRV001'"),
        ('[[ignore]]\nid = "GPU001"\n', "'ignore[0] (GPU001).reason': missing"),
        ('[[ignore]]\nid = "GPU001"\nreason = "  "\n', "'ignore[0] (GPU001).reason': missing"),
        ('[[ignore]]\nreason = "because"\n', "'ignore[0].id': missing"),
        ('[[ignore]]\nid = "GPU001"\nreason = "r"\nuntil = "next week"\n', "'ignore[0] (GPU001).until'"),
        ('[[ignore]]\nid = "GPU001"\nreason = "r"\nowner = "me"\n', "'ignore[0] (GPU001).owner': unknown key"),
        ('ignore = "GPU001"\n', "'ignore'"),
        ("target = 3\n", "'target'"),
    ],
)
def test_invalid_policy_names_the_key(tmp_path, text, named):
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as err:
        load_policy(path)
    message = str(err.value)
    assert named in message
    assert str(path) in message
    assert "\n" not in message


def test_broken_toml_is_a_usage_error(tmp_path):
    path = write(tmp_path, "fail_on = \n")
    with pytest.raises(UsageError, match="not valid TOML"):
        load_policy(path)


def test_valid_policy_parses_every_section(tmp_path):
    (tmp_path / "engines").mkdir()
    path = write(tmp_path, """
fail_on = "warning"
[target]
engine = "engines"
quant = "fp8"
tp = 2
max_seq_len = 8192
max_batch_size = 64
[minimum]
driver = "550.54.15"
tensorrt-llm = "0.17.0"
packages = { Torch_Vision = "0.20" }
[severity]
HOST004 = "info"
[[ignore]]
id = "mixed-gpus"
reason = "node being replaced"
until = 2026-12-31
[[ignore]]
id = "GPU001"
reason = "CPU runner"
until = "2026-07-01"
""")
    p = load_policy(path)
    assert p.fail_on is Severity.WARNING
    assert p.target["engine"] == str(tmp_path / "engines")  # relative to the policy file
    assert p.target["tp"] == 2 and p.target["quant"] == "fp8"
    assert p.minimum == {"driver": "550.54.15", "tensorrt-llm": "0.17.0", "torch-vision": "0.20"}
    assert p.severity == {"HOST004": Severity.INFO}
    assert [(i.id, i.until) for i in p.ignore] == [("mixed-gpus", dt.date(2026, 12, 31)), ("GPU001", dt.date(2026, 7, 1))]


# --- applying -------------------------------------------------------------------------------


def test_ignore_moves_findings_with_reason_by_id_symbol_or_cause():
    report = Report("check", [finding("GPU001", "no-gpu-visible", "gpu-not-visible"),
                              finding("HOST002", "disk-low", "disk-too-small", Severity.WARNING),
                              finding("DRV001", "no-driver", "driver-missing")])
    policy = Policy(ignore=[Ignore("gpu-not-visible", "CPU runner"),
                            Ignore("disk-low", "small disk ok")])
    apply(report, policy, TODAY)
    assert [f.id for f in report.findings] == ["DRV001"]
    ignored = report.extra["ignored"]
    assert [(i["id"], i["ignore"]["reason"]) for i in ignored] == [("GPU001", "CPU runner"), ("HOST002", "small disk ok")]
    assert report.exit_code(Severity.ERROR) == 1


def test_expired_ignore_stops_ignoring_and_says_so(tmp_path):
    path = write(tmp_path, '[[ignore]]\nid = "GPU001"\nreason = "TICKET-7"\nuntil = 2026-05-31\n'
                           '[[ignore]]\nid = "HOST002"\nreason = "ok"\nuntil = 2026-06-01\n')
    report = Report("check", [finding("GPU001", "no-gpu-visible", "gpu-not-visible"),
                              finding("HOST002", "disk-low", "disk-too-small", Severity.WARNING)])
    apply(report, load_policy(path), TODAY)
    ids = [f.id for f in report.findings]
    assert "GPU001" in ids  # expired yesterday: back
    assert "HOST002" not in ids  # expires today: still ignored (inclusive)
    notice = next(f for f in report.findings if f.id == "POL001")
    assert notice.category == "policy-ignore-expired" and notice.severity is Severity.WARNING
    assert "GPU001" in notice.title and "2026-05-31" in notice.title
    assert "TICKET-7" in notice.fix and str(path) in notice.fix


def test_severity_override_and_fail_on():
    report = Report("check", [finding("HOST004", "memlock-low", "memlock-too-low", Severity.WARNING),
                              finding("HOST002", "disk-low", "disk-too-small", Severity.WARNING)])
    fail_on = apply(report, Policy(fail_on=Severity.WARNING, severity={"HOST004": Severity.INFO,
                                                                       "disk-too-small": Severity.ERROR}), TODAY)
    by = {f.id: f for f in report.findings}
    assert by["HOST004"].severity is Severity.INFO
    assert by["HOST004"].extra["policy_severity"] == {"from": "warning", "to": "info", "key": "HOST004"}
    assert by["HOST002"].severity is Severity.ERROR
    assert [f.id for f in report.findings] == ["HOST002", "HOST004"]  # re-sorted by severity
    assert fail_on is Severity.WARNING


def test_minimum_versions_against_a_fixture_snapshot(kb):
    facts = json.loads((SNAPSHOTS / "h200-1gpu.json").read_text())
    driver = facts["driver"]["version"]
    major = int(driver.split(".")[0])
    report = Report("check", [], facts)
    apply(report, Policy(minimum={"driver": f"{major + 1}.0", "python": "3.0", "tensorrt-llm": "99.0"}), TODAY)
    ids = [(f.id, f.params["component"]) for f in report.findings]
    assert ("POL002", "NVIDIA driver") in ids
    assert ("POL002", "tensorrt-llm") in ids
    assert not any(c == "Python" for _, c in ids)
    assert all(f.category == "policy-min-version" for f in report.findings)


def test_target_fills_check_options_unless_given_on_the_command_line(tmp_path):
    policy = load_policy(write(tmp_path, '[target]\ntp = 4\nquant = "fp8"\nmax_seq_len = 4096\n'))
    opts = fill_check_options(CheckOptions(tp=2), policy, explicit={"tp"})
    assert (opts.tp, opts.quant, opts.max_seq_len) == (2, "fp8", 4096)


# --- through the CLI ------------------------------------------------------------------------


def run_cli(*args: str, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "doctor", *args], cwd=cwd, capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})


def test_cli_policy_found_upward_applies_target_and_ignore(tmp_path):
    write(tmp_path, '[target]\ntp = 4\n[[ignore]]\nid = "PKG001"\nreason = "installed later by the image"\n')
    sub = tmp_path / "ci"
    sub.mkdir()
    snap = SNAPSHOTS / "cpu-container.json"
    out = run_cli("check", "--snapshot", str(snap), "--format", "json", cwd=sub)
    assert out.returncode in (0, 1), out.stderr
    data = json.loads(out.stdout)
    assert data["target"]["tp"] == 4
    assert data["extra"]["policy"]["file"] == str(tmp_path / "trtllm-doctor.toml")
    assert all(f["id"] != "PKG001" for f in data["findings"])
    out2 = run_cli("check", "--snapshot", str(snap), "--format", "json", "--tp", "2", cwd=sub)
    assert json.loads(out2.stdout)["target"]["tp"] == 2


def test_cli_bad_policy_is_exit_2_with_one_line(tmp_path):
    write(tmp_path, '[[ignore]]\nid = "GPU001"\n')
    out = run_cli("check", "--snapshot", str(SNAPSHOTS / "h200-1gpu.json"), cwd=tmp_path)
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "reason" in out.stderr and "Traceback" not in out.stderr
