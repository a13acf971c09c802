"""GitHub Actions: workflow commands that become annotations, plus a job summary.

Each finding is one line ``::error title=...::message`` (``::warning`` for warnings,
``::notice`` for notes), escaped as the Actions runner expects (``%``, CR and LF in the
message; also ``:`` and ``,`` in properties), so a finding is always exactly one line
and text from a log can never start a command of its own. The facts go in a collapsed
``::group::``. When ``$GITHUB_STEP_SUMMARY`` names a file, the Markdown report
(secrets redacted) is appended to it, which GitHub shows on the run's summary page.
"""

from __future__ import annotations

import os

from doctor.report import Finding, Report, Severity
from doctor.redact import redact

COMMAND = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "notice"}


def escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def escape_property(text: str) -> str:
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def annotation(f: Finding) -> str:
    title = f"{f.id} {f.title}"
    parts = []
    if f.line is not None:
        parts.append(f"line {f.line}: {f.evidence}")
    elif f.evidence:
        parts.append(f"seen: {f.evidence}")
    if f.expected:
        parts.append(f"expected: {f.expected}")
    nodes = f.extra.get("nodes") if isinstance(f.extra, dict) else None
    if nodes:
        parts.append(f"nodes ({len(nodes)}): " + ", ".join(map(str, nodes[:20])) + (" ..." if len(nodes) > 20 else ""))
    parts.append(f"fix: {f.fix}")
    if f.docs:
        parts.append(f"docs: {f.docs}")
    message = redact("\n".join(parts))
    return f"::{COMMAND[f.severity]} title={escape_property(redact(title))}::{escape_data(message)}"


def _facts_lines(report: Report) -> list[str]:
    if not isinstance(report.facts, dict):
        return []
    from doctor.checks import AREAS
    from doctor.render.console import headline

    lines = []
    for area, label in AREAS.items():
        text = headline(area, report.facts)
        if text:
            lines.append(f"  {label}: {redact(text)}")
    return lines


def step_summary(report: Report) -> str:
    from doctor.render import markdown

    return markdown.render(report, heading=2)


def render(report: Report, *, verbose: bool = False) -> str:
    lines: list[str] = []
    facts = _facts_lines(report)
    if facts:
        lines.append(f"::group::{escape_data(f'trtllm-doctor {report.command}: facts')}")
        lines += facts
        lines.append("::endgroup::")
    plan = report.extra.get("plan") if isinstance(report.extra, dict) else None
    if isinstance(plan, dict):
        from doctor.commands.plan import plan_lines

        lines.append(f"::group::{escape_data('trtllm-doctor plan: ' + str(plan.get('model')))}")
        lines += [escape_data(x) if x.startswith("::") else x for x in plan_lines(plan)]
        lines.append("::endgroup::")
    lines += [annotation(f) for f in report.findings]
    s = report.summary()
    from doctor.render.console import plural

    lines.append(f"trtllm-doctor {report.command}: {plural(s['error'], 'error')}, {plural(s['warning'], 'warning')}, "
                 f"{plural(s['info'], 'note')}")
    summary_path = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_path:
        try:
            with open(summary_path, "a", encoding="utf-8", errors="backslashreplace") as fh:  # a lone surrogate from a report
                fh.write(step_summary(report) + "\n")
        except OSError as exc:
            lines.append(f"::warning title=trtllm-doctor::{escape_data(f'cannot append to GITHUB_STEP_SUMMARY ({summary_path}): {exc.strerror}')}")
    return "\n".join(lines) + "\n"
