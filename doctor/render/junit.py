"""JUnit XML: one testcase per check, for CI systems that show test reports (Jenkins, GitLab, GitHub test reporters).

Layout:
- ``<testsuites>`` holding one ``<testsuite name="trtllm-doctor <command>">``;
- one ``<testcase>`` per check (``classname`` = ``trtllm-doctor.<area>``, ``name`` = ``ID symbol``);
  a failed check whose findings reach the failing severity has one ``<failure>`` (message = title,
  type = cause id, text = evidence, expected, fix, docs of each finding); findings below it
  go to ``<system-out>`` and the testcase passes; a skipped check has ``<skipped message=reason>``;
- findings that no check produced (explain signatures, self-test tiers, policy, fleet) get one
  testcase per finding id; a report with neither gets one passing testcase for the command.
The failing severity is the run's (``report.extra["policy"]["fail_on"]``, default error).
XML-invalid characters (ANSI escapes, NULs from logs) are written as ``\\xNN``.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections import OrderedDict

from doctor.report import Finding, Report, Severity

_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def clean(text: object) -> str:
    """Text safe for XML 1.0: characters XML cannot carry are spelt as escapes."""
    return _INVALID_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", str(text))


def fail_on(report: Report) -> Severity:
    value = (report.extra.get("policy") or {}).get("fail_on", "error")
    return Severity(value) if value in {s.value for s in Severity} else Severity.ERROR


def finding_text(f: Finding) -> str:
    lines = [f"{f.severity.value}: {f.title} [{f.id} {f.symbol}, cause {f.category}]"]
    if f.line is not None:
        lines.append(f"line {f.line}: {f.evidence}")
    elif f.evidence:
        lines.append(f"seen: {f.evidence}")
    if f.expected:
        lines.append(f"expected: {f.expected}")
    lines.append(f"fix: {f.fix}")
    if f.docs:
        lines.append(f"docs: {f.docs}")
    nodes = f.extra.get("nodes") if isinstance(f.extra, dict) else None
    if nodes:
        lines.append(f"nodes: {', '.join(map(str, nodes))}")
    return "\n".join(lines)


def _case(suite: ET.Element, classname: str, name: str, found: list[Finding], threshold: Severity,
          skipped: str | None = None) -> tuple[int, int]:
    case = ET.SubElement(suite, "testcase", {"classname": clean(classname), "name": clean(name), "time": "0"})
    failing = [f for f in found if f.severity.rank >= threshold.rank]
    below = [f for f in found if f.severity.rank < threshold.rank]
    if failing:
        worst = max(failing, key=lambda f: f.severity.rank)
        failure = ET.SubElement(case, "failure", {"message": clean(worst.title), "type": clean(worst.category)})
        failure.text = clean("\n\n".join(finding_text(f) for f in failing))
    elif skipped is not None:
        ET.SubElement(case, "skipped", {"message": clean(skipped or "skipped")})
    if below:
        out = ET.SubElement(case, "system-out")
        out.text = clean("\n\n".join(finding_text(f) for f in below))
    return (1 if failing else 0), (1 if skipped is not None and not failing else 0)


def render(report: Report, *, verbose: bool = False) -> str:
    threshold = fail_on(report)
    suite_name = f"trtllm-doctor {report.command}"
    root = ET.Element("testsuites", {"name": "trtllm-doctor"})
    suite = ET.SubElement(root, "testsuite", {"name": suite_name})
    created = (report.facts or {}).get("created") if isinstance(report.facts, dict) else None
    if created:
        suite.set("timestamp", clean(str(created)[:19]))
    host = ((report.facts or {}).get("platform") or {}).get("hostname") if isinstance(report.facts, dict) else None
    if host:
        suite.set("hostname", clean(host))

    by_check: dict[str, list[Finding]] = {}
    for f in report.findings:
        by_check.setdefault(f.id, []).append(f)
    from dataclasses import replace

    from doctor.report import Severity

    for f in report.findings:  # a folded consequence: its check's case passes, saying whose consequence it is
        for c in f.extra.get("consequences", []) if f.line is None else []:
            if c.get("id") and c["id"] not in by_check:
                by_check[c["id"]] = [replace(f, id=c["id"], symbol=c.get("symbol", ""), title=c["title"], severity=Severity.INFO,
                                             evidence=f"{c['evidence']} (a consequence of {f.id}: {c['why']})", extra={})]
    tests = failures = skipped = 0
    check_ids = set()
    ignored: dict[str, str] = {}
    for item in report.extra.get("ignored") or []:
        if isinstance(item, dict) and isinstance(item.get("ignore"), dict):
            ignored.setdefault(str(item.get("id")), f"ignored by policy: {item['ignore'].get('reason', '')}")
    for c in report.checks:
        check_ids.add(c.id)
        found = by_check.get(c.id, [])
        skip = c.reason if c.status == "skip" else ignored.get(c.id) if not found else None
        fails, skips = _case(suite, f"trtllm-doctor.{c.area or report.command}", f"{c.id} {c.symbol}: {c.title}",
                             found, threshold, skipped=skip)
        tests, failures, skipped = tests + 1, failures + fails, skipped + skips
    others: OrderedDict[str, list[Finding]] = OrderedDict()
    for f in report.findings:
        if f.id not in check_ids:
            others.setdefault(f.id, []).append(f)
    for fid, found in others.items():
        first = found[0]
        fails, _ = _case(suite, f"trtllm-doctor.{first.area or report.command}", f"{fid} {first.symbol}: {first.title}",
                         found, threshold)
        tests, failures = tests + 1, failures + fails
    if tests == 0:
        _case(suite, f"trtllm-doctor.{report.command}", f"trtllm-doctor {report.command}", [], threshold)
        tests = 1
    for el in (suite, root):
        el.set("tests", str(tests))
        el.set("failures", str(failures))
        el.set("errors", "0")
        el.set("skipped", str(skipped))
        el.set("time", "0")
    ET.indent(root, space="  ")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
