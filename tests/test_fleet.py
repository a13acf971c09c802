"""fleet: merging many nodes' reports, cross-node checks, missing/corrupt/stale reports, inputs, exit codes."""

from __future__ import annotations

import datetime as dt
import importlib.util
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from doctor.commands.fleet import FleetOptions, expand_hostlist, parse_max_age, read_reports, run_fleet
from doctor.errors import UsageError
from doctor.fleet import merge, parse_document

from .conftest import ROOT, SNAPSHOTS

NOW = dt.datetime(2026, 11, 29, 12, 0, tzinfo=dt.timezone.utc)


def bench():
    spec = importlib.util.spec_from_file_location("bench_fleet", ROOT / "benchmarks" / "bench_fleet.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def snap(name: str, host: str, created: dt.datetime = NOW, **changes) -> dict:
    data = json.loads((SNAPSHOTS / f"{name}.json").read_text())
    data["platform"]["hostname"] = host
    data["created"] = created.isoformat()
    for path, value in changes.items():
        node = data
        *head, last = path.split("__")
        for key in head:
            node = node[key]
        node[last] = value
    return data


def ids(findings) -> list[str]:
    return [f.id for f in findings]


def test_identical_nodes_are_consistent():
    nodes = [parse_document(snap("h200-2gpu-nvlink", f"n{i}"), f"n{i}.json") for i in range(4)]
    result = merge(nodes, now=NOW)
    assert result.findings == []
    assert result.to_extra()["consistent"] is True
    assert result.majority["gpu"] == "NVIDIA H200" and result.majority["gpu_count"] == 2


def test_gpu_model_trtllm_and_driver_differences_are_named():
    nodes = [parse_document(snap("h200-2gpu-nvlink", f"n{i}"), "x") for i in range(5)]
    nodes.append(parse_document(snap("h100-pcie", "odd"), "odd.json"))
    nodes.append(parse_document(snap("h200-2gpu-nvlink", "olddrv", driver__version="535.183.01"), "olddrv.json"))
    result = merge(nodes, now=NOW)
    by = {f.id: f for f in result.findings}
    assert {"FLT004", "FLT005", "FLT006"} <= set(by)
    assert by["FLT004"].extra["nodes"] == ["odd"] and "NVIDIA H100 PCIe" in by["FLT004"].title
    assert by["FLT004"].category == "fleet-inconsistent" and "NVIDIA H200" in by["FLT004"].fix
    drivers = [f for f in result.findings if f.id == "FLT006"]
    assert sorted(n for f in drivers for n in f.extra["nodes"]) == ["odd", "olddrv"]
    assert result.to_extra()["consistent"] is False


def test_engine_groups_compare_only_nodes_loading_the_same_engine():
    def check_doc(host: str, fixture: str, engine: str) -> dict:
        return {"schema_version": 1, "tool": {"name": "trtllm-doctor", "version": "x", "command": "check"},
                "target": {"engine": engine}, "facts": snap(fixture, host), "checks": [], "findings": [], "summary": {}}

    docs = [check_doc("a1", "h200-2gpu-nvlink", "/e/h200"), check_doc("a2", "h200-2gpu-nvlink", "/e/h200"),
            check_doc("b1", "rtx4090", "/e/4090"), check_doc("b2", "rtx4090", "/e/4090")]
    result = merge([parse_document(d, d["facts"]["platform"]["hostname"]) for d in docs], now=NOW)
    assert "FLT004" not in ids(result.findings)  # two groups, each uniform
    docs[3] = check_doc("b2", "h200-2gpu-nvlink", "/e/4090")
    result = merge([parse_document(d, "x") for d in docs], now=NOW)
    (gpu,) = [f for f in result.findings if f.id == "FLT004"]
    assert "/e/4090" in gpu.title


def test_node_findings_from_check_reports_are_merged_with_their_nodes():
    from doctor.commands.check import CheckOptions, run_check

    doc = run_check(CheckOptions(snapshot=SNAPSHOTS / "old-driver.json")).to_dict()
    docs = []
    for host in ("a", "b", "c"):
        d = json.loads(json.dumps(doc, default=str))
        d["facts"]["platform"]["hostname"] = host
        d["facts"]["created"] = NOW.isoformat()
        docs.append(d)
    result = merge([parse_document(d, "x") for d in docs], now=NOW)
    errors = [f for f in result.findings if f.area != "fleet" and f.severity.value == "error"]
    assert errors and all(f.extra["nodes"] == ["a", "b", "c"] for f in errors)
    assert len(errors) == sum(1 for f in doc["findings"] if f["severity"] == "error")


def test_missing_corrupt_stale_and_duplicate_reports(tmp_path):
    (tmp_path / "n1.json").write_text(json.dumps(snap("l4", "n1")))
    (tmp_path / "n2.json").write_text(json.dumps(snap("l4", "n2", NOW - dt.timedelta(days=3))))
    (tmp_path / "n3.json").write_text('{"schema_version": 1, "platform": {"hostn')
    (tmp_path / "n4.json").write_bytes(b"\xff\xfe\x00binary")
    (tmp_path / "n5.json").write_text(json.dumps({"schema_version": 1, "gpus": {"gpus": "eight"}}))
    (tmp_path / "n6.json").write_text(json.dumps(snap("l4", "n6", created=NOW - dt.timedelta(hours=1))))
    (tmp_path / "n6-again.json").write_text(json.dumps(snap("l4", "n6")))
    (tmp_path / "n7.json").write_text(json.dumps(snap("l4", "n7", schema_version=99)))
    reports = read_reports([str(tmp_path)])
    result = merge(reports, now=NOW, max_age_s=86400, expected=expand_hostlist("n[1-8]"))
    status = {n.node: n.status for n in result.nodes if n.status != "duplicate"}
    assert status == {"n1": "ok", "n2": "stale", "n3": "corrupt", "n4": "corrupt", "n5": "corrupt", "n6": "ok",
                      "n7": "corrupt", "n8": "missing"}
    assert [n.source for n in result.nodes if n.status == "duplicate"] == [str(tmp_path / "n6.json")]  # the older
    by = {f.id: f for f in result.findings}
    assert by["FLT001"].extra["nodes"] == ["n8"]
    assert sorted(by["FLT002"].extra["nodes"]) == ["n3", "n4", "n5", "n7"]
    assert by["FLT003"].extra["nodes"] == ["n2"] and "3.0 days" in by["FLT003"].evidence
    assert by["FLT009"].severity.value == "warning"
    corrupt_problems = {n.node: n.problem for n in result.nodes if n.status == "corrupt"}
    assert "not valid JSON" in corrupt_problems["n3"] and "UTF-8" in corrupt_problems["n4"]
    assert "gpus" in corrupt_problems["n5"] and "newer" in corrupt_problems["n7"]


def test_stdin_concatenated_documents_and_path_lines(tmp_path):
    docs = [json.dumps(snap("t4", f"s{i}"), indent=2) for i in range(3)]
    reports = read_reports(["-"], io.StringIO("\n".join(docs) + "\n{broken"))
    assert [r.node for r in reports[:3]] == ["s0", "s1", "s2"] and reports[3].status == "corrupt"
    for i, d in enumerate(docs):
        (tmp_path / f"p{i}.json").write_text(d)
    lines = "\n".join(str(tmp_path / f"p{i}.json") for i in range(3))
    assert [r.node for r in read_reports(["-"], io.StringIO(lines))] == ["s0", "s1", "s2"]
    assert len(read_reports([str(tmp_path / "p*.json")])) == 3


@pytest.mark.parametrize("args", [[], ["/nonexistent/*.json"]])
def test_no_reports_is_a_usage_error(args):
    with pytest.raises(UsageError):
        read_reports(args)


def test_host_lists_and_ages():
    assert expand_hostlist("gpu[001-003,010],login1") == ["gpu001", "gpu002", "gpu003", "gpu010", "login1"]
    assert expand_hostlist("r[1-2]n[1-2]") == ["r1n1", "r1n2", "r2n1", "r2n2"]
    with pytest.raises(UsageError):
        expand_hostlist("gpu[a-b]")
    assert parse_max_age("90m") == 5400 and parse_max_age("7d") == 604800 and parse_max_age("30") == 30
    with pytest.raises(UsageError):
        parse_max_age("soon")


def test_thousand_generated_nodes_with_corrupt_and_stale(tmp_path):
    made = bench().make_fleet(tmp_path, 1000, corrupt=10, stale=15, check_reports=50)
    report = run_fleet(FleetOptions(reports=[str(tmp_path)]))
    fleet = report.extra["fleet"]
    assert len(fleet["nodes"]) == 1000
    assert fleet["counts"]["corrupt"] == 10 and fleet["counts"]["stale"] == 15
    by = {f.id: f for f in report.findings}
    assert sorted(by["FLT002"].extra["nodes"]) == sorted(made["corrupt"])
    assert sorted(by["FLT003"].extra["nodes"]) == sorted(made["stale"])
    flagged_drivers = {n for f in report.findings if f.id == "FLT006" for n in f.extra["nodes"]}
    assert set(made["odd_driver"]) - set(made["stale"]) <= flagged_drivers
    assert fleet["consistent"] is False and report.exit_code() == 1


def cli(*args: str, stdin: str | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "doctor", "fleet", *args], input=stdin, cwd=cwd, capture_output=True,
                          text=True, timeout=60, env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})


def test_cli_exit_codes_and_table(tmp_path):
    now = dt.datetime.now(dt.timezone.utc)
    for i in range(3):
        (tmp_path / f"n{i}.json").write_text(json.dumps(snap("h200-2gpu-nvlink", f"n{i}", now)))
    ok = cli(str(tmp_path), cwd=tmp_path)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "n0" in ok.stdout and "2 x NVIDIA H200" in ok.stdout and "Fleet is consistent." in ok.stdout
    (tmp_path / "n3.json").write_text(json.dumps(snap("h100-pcie", "n3", now)))
    bad = cli(str(tmp_path), "--format", "json", cwd=tmp_path)
    assert bad.returncode == 1 and json.loads(bad.stdout)["extra"]["fleet"]["consistent"] is False
    # a site policy can relax a cross-node rule
    (tmp_path / "trtllm-doctor.toml").write_text('[[ignore]]\nid = "fleet-inconsistent"\nreason = "mixed lab cluster"\n')
    assert cli(str(tmp_path / "n*.json"), cwd=tmp_path).returncode == 0
    assert cli("--max-age", "soon", str(tmp_path), cwd=tmp_path).returncode == 2
    assert cli(str(tmp_path / "empty-dir-*"), cwd=tmp_path).returncode == 2


def test_one_finding_over_nodes_whatever_its_severity_on_each():
    """/dev/shm is a warning on a multi-GPU node and a note on a single-GPU one: one merged finding at the worst
    severity, naming every node, the worst node first (review D13: no copy per severity)."""
    from doctor.commands.check import CheckOptions, run_check

    doc = run_check(CheckOptions(snapshot=SNAPSHOTS / "cpu-container.json")).to_dict()
    shm = next(f for f in doc["findings"] if f["id"] == "HOST003")
    docs = []
    assert shm
    for host, sev in (("a", "info"), ("b", "warning"), ("c", "info")):
        d = json.loads(json.dumps(doc, default=str))
        d["facts"]["platform"]["hostname"] = host
        d["facts"]["created"] = NOW.isoformat()
        next(f for f in d["findings"] if f["id"] == "HOST003")["severity"] = sev
        docs.append(d)
    result = merge([parse_document(d, "x") for d in docs], now=NOW)
    merged = [f for f in result.findings if f.id == "HOST003"]
    assert len(merged) == 1 and merged[0].severity.value == "warning"
    assert merged[0].extra["nodes"][0] == "b" and sorted(merged[0].extra["nodes"]) == ["a", "b", "c"]
