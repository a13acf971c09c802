"""The knowledge base, snapshots as input, the CLI's contract (exit codes, one-line errors) and the report."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from doctor.facts import Facts, SnapshotError
from doctor.kb import KB, KBError
from doctor.report import render_template
from tests.conftest import ROOT, SNAPSHOTS, has_gpu


def cli(*args: str, input: bytes | None = None, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "doctor", *args], capture_output=True, input=input, timeout=120,
                          cwd=ROOT, env=env)


# --- knowledge base -------------------------------------------------------------------------------


def test_kb_loads_and_every_number_has_a_source(kb):
    assert len(kb.releases) >= 19 and len(kb.gpus) >= 30 and len(kb.causes) >= 45
    for r in kb.releases:
        assert r.sources and r.python and r.sm and r.min_driver, r.version
    for g in kb.gpus:
        assert g.sources, g.key


def test_kb_release_lookup(kb):
    assert kb.release("0.17.0").tensorrt.startswith("10.8")
    assert kb.release("0.17.0.post1").version == "0.17.0"
    assert kb.release("1.2.0rc5").version.startswith("1.2")
    assert kb.release("0.5.0") is None
    assert kb.newest_release().version == "1.2.1"


def test_kb_release_driver_matches_cuda_table(kb):
    """Each release's minimum driver is the CUDA table's GA minimum for the release's CUDA (kb.md §3.1)."""
    for r in kb.releases:
        if r.prerelease:
            continue
        table = kb.min_driver_for_cuda(r.cuda)
        if table:
            ga_or_update = {c.min_driver for c in kb.cuda if c.version == ".".join(r.cuda.split(".")[:2])}
            assert r.min_driver in ga_or_update, (r.version, r.min_driver, ga_or_update)


def test_gpu_table_knows_the_real_machine(kb):
    real = json.loads((SNAPSHOTS / "h200-1gpu.json").read_text())["gpus"]["gpus"][0]
    g = kb.gpu(real["name"])
    assert g is not None and g.cc == real["cc"] and g.fp8 and not g.fp4 and g.memory_mib == real["memory_total_mib"]


@pytest.mark.parametrize(
    "mutation,message",
    [
        (lambda t: t.replace('id = "driver-too-old"', 'idx = "driver-too-old"', 1), "unknown key 'idx'"),
        (lambda t: t.replace("schema = 1", "schema = 2", 1), "key 'schema': expected 1"),
        (lambda t: t + '\n[[cause]]\nid = 3\ntitle = "t"\nfix = "f"\ndocs = "d"\n', "key 'id' has the wrong type"),
        (lambda t: t + '\n[[cause]]\nid = "x"\n', "missing key"),
        (lambda t: t + "\n[[cause\n", "not valid TOML"),
    ],
)
def test_bad_rules_file_names_file_and_key(tmp_path, mutation, message):
    rules = tmp_path / "rules"
    shutil.copytree(ROOT / "rules", rules)
    path = rules / "causes.toml"
    path.write_text(mutation(path.read_text()))
    with pytest.raises(KBError) as err:
        KB(rules).causes
    assert "causes.toml" in str(err.value) and message in str(err.value)


def test_fix_templates_optional_segments():
    t = "Upgrade the driver[? to {required} or newer?][?; this one is {driver}?]."
    assert render_template(t, {"required": "570.26"}) == "Upgrade the driver to 570.26 or newer."
    assert render_template(t, {}) == "Upgrade the driver."
    assert render_template("need {x}", {}) == "need <x>"


# --- snapshots -----------------------------------------------------------------------------------


def test_every_fixture_snapshot_loads():
    for snap in SNAPSHOTS.glob("*.json"):
        facts = Facts.from_json(snap.read_text())
        assert facts.schema_version == 1 and facts.platform.system, snap.name


@pytest.mark.parametrize(
    "content,message",
    [
        (b'{"schema_version": 1, "platform": {"system": "Linux"', "truncated or corrupt"),
        (b"\x7fELF\x02\x01\x01\x00\x00\x00", "binary data"),
        (b'{"schema_version": 99}', "newer than this trtllm-doctor understands"),
        (b'{"foo": 1}', "no schema_version"),
        (b'{"schema_version": 1, "gpus": {"gpus": [{"index": "zero"}]}}', "snapshot.gpus.gpus[0].index"),
    ],
)
def test_bad_snapshot_is_one_line_and_exit_2(tmp_path, content, message):
    path = tmp_path / "snap.json"
    path.write_bytes(content)
    proc = cli("check", "--snapshot", str(path))
    assert proc.returncode == 2, proc.stderr
    lines = proc.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("trtllm-doctor: error:") and message in lines[0]
    assert b"Traceback" not in proc.stderr


def test_snapshot_missing_or_directory(tmp_path):
    assert cli("check", "--snapshot", str(tmp_path / "none.json")).returncode == 2
    proc = cli("check", "--snapshot", str(tmp_path))
    assert proc.returncode == 2 and b"is a directory" in proc.stderr


def test_snapshot_round_trip_without_secrets(tmp_path):
    out = tmp_path / "me.json"
    env = {**__import__("os").environ, "HF_TOKEN": "hf_verysecretvalue123", "MY_API_KEY": "k"}
    proc = cli("snapshot", "-o", str(out), env=env)
    assert proc.returncode == 0, proc.stderr
    text = out.read_text()
    assert "hf_verysecretvalue123" not in text and "MY_API_KEY" not in text
    assert Facts.from_json(text).env.get("HF_TOKEN") == "<set, redacted>"
    again = cli("check", "--snapshot", str(out), "--format", "json")
    assert again.returncode in (0, 1)
    assert json.loads(again.stdout)["facts"]["platform"] == json.loads(text)["platform"]


def test_snapshot_facts_error_class():
    with pytest.raises(SnapshotError):
        Facts.from_json("[]")


# --- CLI contract ---------------------------------------------------------------------------------


@pytest.mark.skipif(has_gpu(), reason="this machine has a GPU: the no-GPU report does not apply")
def test_check_on_this_cpu_machine_is_useful_and_exits_1():
    proc = cli("check")
    out = proc.stdout.decode()
    assert proc.returncode == 1
    assert "No NVIDIA driver found" in out and "No NVIDIA GPU visible" in out
    assert out.count("fix:") >= 2


def test_check_json_shape():
    proc = cli("check", "--snapshot", str(SNAPSHOTS / "h200-1gpu.json"), "-f", "json")
    report = json.loads(proc.stdout)
    assert report["schema_version"] == 1 and report["tool"]["name"] == "trtllm-doctor"
    assert {"id", "category", "severity", "title", "evidence", "expected", "fix", "docs"} <= set(report["findings"][0])
    assert report["summary"]["error"] == 1 and proc.returncode == 1


def test_strict_fails_on_warnings():
    snap = str(SNAPSHOTS / "wsl2-laptop.json")
    assert cli("check", "--snapshot", snap).returncode == 0  # one warning (WSL2 builds)
    assert cli("check", "--snapshot", snap, "--strict").returncode == 1


def test_output_file(tmp_path):
    out = tmp_path / "report.json"
    proc = cli("check", "--snapshot", str(SNAPSHOTS / "wsl2-laptop.json"), "-f", "json", "-o", str(out))
    assert proc.returncode == 0 and proc.stdout == b""
    assert json.loads(out.read_text())["findings"][0]["id"] == "OS003"


def test_usage_errors_exit_2():
    assert cli("check", "--tp", "0").returncode == 2
    assert cli("check", "--format", "yaml", "--snapshot", str(SNAPSHOTS / "rtx4090.json")).returncode == 2
    assert cli("nonsense").returncode == 2
    assert cli("check", "--quant", "int3").returncode == 2


def test_rules_listing_and_explanations():
    listing = cli("rules").stdout.decode()
    assert "DRV002" in listing and "driver-too-old" in listing
    one = cli("rules", "DRV002").stdout.decode()
    assert "minor-version compatibility" in one and "Fix:" in one
    assert "cause driver-too-old" in cli("rules", "driver-too-old").stdout.decode() or "DRV002" in cli("rules", "driver-too-old").stdout.decode()
    assert cli("rules", "no-such-rule").returncode == 2
    rows = json.loads(cli("rules", "-f", "json").stdout)
    assert {r["id"] for r in rows} >= {"OS001", "PY001", "DRV001", "GPU001", "CUDA001", "PKG001", "HOST001"}


def test_version_and_module_entry():
    proc = cli("--version")
    assert proc.returncode == 0 and proc.stdout.decode().startswith("trtllm-doctor ")
def test_a_check_that_reports_another_severity_says_when_in_rules():
    """`rules ID` shows one severity; a check that can report another must say when (newcomer review D20)."""
    import ast
    import inspect
    import textwrap

    from doctor.checks import all_checks

    missing = []
    for chk in all_checks():
        tree = ast.parse(textwrap.dedent(inspect.getsource(chk.func)))
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Fail"):
                continue
            for kw in node.keywords:
                if kw.arg != "severity" or (isinstance(kw.value, ast.Constant) and kw.value.value is None):
                    continue
                same = isinstance(kw.value, ast.Attribute) and kw.value.attr == chk.severity.name
                if not same and not chk.severity_when:
                    missing.append(chk.id)
    assert not missing, f"checks that change their severity without severity_when: {sorted(set(missing))}"
    out = cli("rules", "HOST006").stdout.decode()
    assert "a warning when TensorRT-LLM is not installed" in out


def test_a_retired_id_is_explained_not_unknown():
    """The id list skips MDL002 (review D22): `rules MDL002` says it was never used, exit 0."""
    r = cli("rules", "MDL002")
    assert r.returncode == 0 and b"retired" in r.stdout and b"never reused" in r.stdout
