"""--format junit / github / markdown: parsed by a real JUnit library, checked against the workflow-command
syntax, secrets redacted; on every fixture machine and on explain reports of real logs."""

from __future__ import annotations

import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from junitparser import Failure, JUnitXml, Skipped

from doctor.commands.check import CheckOptions, run_check
from doctor.report import Finding, Report, Severity
from doctor.render import render
from doctor.render.github import escape_data
from doctor.render.markdown import redact

from .conftest import FIXTURES, ROOT, SNAPSHOTS

SNAPS = sorted(SNAPSHOTS.glob("*.json"))
LOGS = sorted((FIXTURES / "logs").glob("*.log"))[:12]

# GitHub workflow commands: ::name key=value,key=value::message (one line; % CR LF escaped; : , also in values)
COMMAND = re.compile(r"^::(error|warning|notice|debug|group|endgroup)(?: ([a-zA-Z]+=[^,:\r\n]*(?:,[a-zA-Z]+=[^,:\r\n]*)*))?::(.*)$")
BAD_ESCAPE = re.compile(r"%(?!25|0A|0D|3A|2C)")


def unescape(text: str) -> str:
    return text.replace("%0A", "\n").replace("%0D", "\r").replace("%3A", ":").replace("%2C", ",").replace("%25", "%")


@pytest.fixture(scope="module", params=[p.stem for p in SNAPS])
def check_report(request) -> Report:
    return run_check(CheckOptions(snapshot=SNAPSHOTS / f"{request.param}.json"))


def hostile_report() -> Report:
    """Findings with what logs really contain: ANSI colours, NULs, percent signs, newlines, ::commands, secrets."""
    evidence = "\x1b[31m[E]\x1b[0m 100% failed\x00 at ::set-output name=x::y\r\nHF_TOKEN=hf_AbCdEfGhIjKlMnOpQrStUvWxYz0123 <tag> & ``` fence"
    findings = [
        Finding("S001", "oom", "runtime-oom", Severity.ERROR, "Out of memory, 100%: really", evidence, "less",
                "fix it, now: please", "https://example.org/docs", area="log", line=7),
        Finding("S002", "warn", "nccl-failure", Severity.WARNING, "A warning", "w", "", "f", "", area="log"),
        Finding("S003", "note", "slow-first-request", Severity.INFO, "A note", "n", "", "f", "", area="log"),
    ]
    return Report("explain", findings, extra={"policy": {"fail_on": "error"}})


# --- JUnit ---------------------------------------------------------------------------------


def parse_junit(text: str) -> JUnitXml:
    ET.fromstring(text.encode("utf-8"))  # well-formed XML 1.0
    xml = JUnitXml.fromstring(text.encode("utf-8"))  # as a consumer reads the file (lxml refuses str + declaration)
    return xml


def test_junit_one_testcase_per_check_on_every_fixture(check_report):
    text = render(check_report, "junit")
    xml = parse_junit(text)
    suites = list(xml)
    assert len(suites) == 1
    cases = list(suites[0])
    assert len(cases) == len(check_report.checks)
    failed = {c.id for c in check_report.checks if c.status == "fail"}
    erroring = {f.id for f in check_report.findings if f.severity is Severity.ERROR}
    for case in cases:
        cid = case.name.split()[0]
        kinds = {type(r) for r in case.result}
        if cid in erroring:
            (failure,) = [r for r in case.result if isinstance(r, Failure)]
            f = next(x for x in check_report.findings if x.id == cid and x.severity is Severity.ERROR)
            assert failure.message == f.title and failure.type == f.category
            assert f.fix in failure.text and "seen:" in failure.text
        else:
            assert Failure not in kinds
        if cid in failed and cid not in erroring:  # warnings: passing case, text in system-out
            assert case.system_out and "fix:" in case.system_out
    skipped = sum(1 for c in check_report.checks if c.status == "skip")
    assert sum(1 for c in cases if any(isinstance(r, Skipped) for r in c.result)) == skipped
    assert suites[0].tests == len(cases) and suites[0].failures == len(erroring & {c.id for c in check_report.checks})


def test_junit_strict_fails_warnings_too():
    report = hostile_report()
    report.extra["policy"]["fail_on"] = "warning"
    xml = parse_junit(render(report, "junit"))
    cases = {c.name.split()[0]: c for c in next(iter(xml))}
    assert any(isinstance(r, Failure) for r in cases["S002"].result)
    assert not any(isinstance(r, Failure) for r in cases["S003"].result)


def test_junit_survives_control_characters():
    text = render(hostile_report(), "junit")
    xml = parse_junit(text)
    case = next(c for c in next(iter(xml)) if c.name.startswith("S001"))
    failure = next(r for r in case.result if isinstance(r, Failure))
    assert "\\x1b[31m" in failure.text and "\\x00" in failure.text and "line 7:" in failure.text


def test_junit_empty_report_still_has_a_testcase():
    xml = parse_junit(render(Report("explain"), "junit"))
    cases = list(next(iter(xml)))
    assert len(cases) == 1 and not cases[0].result


# --- GitHub ----------------------------------------------------------------------------------


def check_workflow_commands(text: str) -> list[tuple[str, dict[str, str], str]]:
    out = []
    for line in text.splitlines():
        if not line.startswith("::"):
            assert not line.lstrip().startswith("::"), line
            continue
        m = COMMAND.match(line)
        assert m, f"not a workflow command: {line!r}"
        name, props, message = m.groups()
        assert not BAD_ESCAPE.search(message), message
        parsed = {}
        for pair in (props or "").split(",") if props else []:
            key, _, value = pair.partition("=")
            assert not BAD_ESCAPE.search(value)
            parsed[key] = unescape(value)
        out.append((name, parsed, unescape(message)))
    return out


def test_github_annotations_on_every_fixture(check_report, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    commands = check_workflow_commands(render(check_report, "github"))
    annotations = [c for c in commands if c[0] in ("error", "warning", "notice")]
    assert len(annotations) == len(check_report.findings)
    for (name, props, message), f in zip(annotations, check_report.findings):
        assert name == {"error": "error", "warning": "warning", "info": "notice"}[f.severity.value]
        assert props["title"].startswith(f.id)
        assert f"fix: {redact(f.fix)}" in message


def test_github_escaping_keeps_one_command_per_line(monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    text = render(hostile_report(), "github")
    commands = check_workflow_commands(text)
    errors = [c for c in commands if c[0] == "error"]
    assert len(errors) == 1
    _, props, message = errors[0]
    assert props["title"] == "S001 Out of memory, 100%: really"
    assert "line 7: " in message and "100% failed" in message and "::set-output" in message  # inert, inside the message
    assert "hf_AbCdEf" not in text
    assert escape_data("a%b\nc") == "a%25b%0Ac"


def test_github_step_summary_appended(tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    summary.write_text("previous step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    render(hostile_report(), "github")
    text = summary.read_text()
    assert text.startswith("previous step\n")
    assert "## trtllm-doctor explain" in text and "Out of memory" in text
    assert "hf_AbCdEf" not in text


def test_github_unwritable_step_summary_is_a_warning_not_a_crash(tmp_path, monkeypatch):
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "missing-dir" / "summary.md"))
    commands = check_workflow_commands(render(hostile_report(), "github"))
    assert any(name == "warning" and "GITHUB_STEP_SUMMARY" in msg for name, _, msg in commands)


# --- Markdown --------------------------------------------------------------------------------


def test_markdown_has_facts_and_findings(check_report):
    text = render(check_report, "markdown")
    assert text.startswith("# trtllm-doctor check")
    if check_report.facts:
        assert "## Machine" in text
    for f in check_report.findings:
        assert redact(f.title) in text and redact(f.fix) in text


def test_markdown_redacts_secrets(monkeypatch):
    monkeypatch.setenv("MY_SERVICE_API_KEY", "s3cr3t-value-1234")
    report = hostile_report()
    report.findings[1].evidence = "curl -H 'Authorization: Bearer abcdefghijk123' https://bob:pa55w0rd@host/x using s3cr3t-value-1234"
    report.facts = {"env": {"HF_TOKEN": "<set, redacted>", "CUDA_VISIBLE_DEVICES": "0,1"}}
    text = render(report, "markdown")
    for secret in ("hf_AbCdEf", "abcdefghijk123", "pa55w0rd", "s3cr3t-value-1234"):
        assert secret not in text
    assert "HF_TOKEN=<redacted>" in text and "CUDA_VISIBLE_DEVICES=0,1" in text
    assert "````text" in text  # the fence outgrows the ``` inside the evidence
    assert "max_num_tokens: 8192" == redact("max_num_tokens: 8192")


# --- every command's formats, through the CLI, --output FILE ---------------------------------


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "doctor", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
                          env={"PATH": "/usr/bin:/bin", "PYTHONPATH": str(ROOT), "NO_COLOR": "1"})


@pytest.mark.parametrize("fmt", ["junit", "github", "markdown", "json"])
def test_explain_formats_to_output_file(tmp_path, fmt):
    logs = [str(p) for p in LOGS]
    out_file = tmp_path / f"report.{fmt}"
    res = cli("explain", *logs[:3], "--format", fmt, "--output", str(out_file), cwd=tmp_path)
    assert res.returncode in (0, 1), res.stderr
    assert res.stdout == ""
    text = out_file.read_text()
    if fmt == "junit":
        assert list(next(iter(parse_junit(text))))
    elif fmt == "github":
        check_workflow_commands(text)
    elif fmt == "markdown":
        assert text.startswith("# trtllm-doctor explain")
    else:
        import json

        assert json.loads(text)["tool"]["command"] == "explain"


def test_unknown_format_is_usage_error(tmp_path):
    res = cli("check", "--snapshot", str(SNAPS[0]), "--format", "yaml", cwd=tmp_path)
    assert res.returncode == 2 and "junit" in res.stderr


def test_a_fix_repeated_word_for_word_is_printed_once():
    """Fleet attribute findings share one long fix: the human report prints it once, -v in full (review D13)."""
    from doctor.render import console
    from doctor.report import Finding, Report, Severity

    fix = "Bring the odd nodes to the majority's version, or pin it in the policy's [minimum] table."
    fs = [Finding(id=f"FLT00{i}", symbol=f"s{i}", category="fleet-drift", severity=Severity.WARNING, title=f"t{i}",
                  evidence="e", expected="x", fix=fix, docs="https://example.org", area="fleet") for i in (1, 2)]
    out = console.render(Report("fleet", fs, None, [], {}), verbose=False, color=False)
    assert out.count(fix) == 1 and "fix: as above" in out
    out = console.render(Report("fleet", fs, None, [], {}), verbose=True, color=False)
    assert out.count(fix) == 2
