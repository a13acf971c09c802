"""Markdown: facts and findings, ready to paste into a bug report or a CI step summary.

Secrets are redacted by :mod:`doctor.redact` (the one redaction function every format uses);
:func:`redact` is re-exported here for older imports.
"""

from __future__ import annotations

from typing import Any

from doctor.redact import REDACTED, redact  # noqa: F401 - re-exported
from doctor.report import Finding, Report, Severity


MARK = {Severity.ERROR: "❌", Severity.WARNING: "⚠️", Severity.INFO: "ℹ️"}


def cell(value: Any) -> str:
    """A value safe inside a Markdown table cell."""
    text = "" if value is None else str(value)
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ") or " "


def code_block(text: str) -> str:
    fence = "```"
    while fence in text:
        fence += "`"
    return f"{fence}text\n{text}\n{fence}"


def _inline(text: str) -> str:
    text = text.replace("\n", " ")
    ticks = "``" if "`" in text else "`"
    return f"{ticks} {text} {ticks}" if ticks == "``" else f"`{text}`"


def _finding(f: Finding) -> list[str]:
    ref = f"{_inline(f.id)} {_inline(f.symbol)} · cause {_inline(f.category)} · {f.severity.value}"
    if f.line is not None:
        ref += f" · line {f.line}"
    out = [f"### {MARK[f.severity]} {f.title}", "", ref, ""]
    if f.evidence:
        out += ["**Seen:**", "", code_block(f.evidence), ""]
    if f.expected:
        out += [f"**Expected:** {f.expected}", ""]
    out += [f"**Fix:** {f.fix}", ""]
    nodes = f.extra.get("nodes") if isinstance(f.extra, dict) else None
    if nodes:
        shown = ", ".join(map(str, nodes[:50])) + (f" and {len(nodes) - 50} more" if len(nodes) > 50 else "")
        out += [f"**Nodes ({len(nodes)}):** {shown}", ""]
    if f.docs:
        out += [f"**Docs:** {f.docs}", ""]
    return out


def _facts_table(report: Report) -> list[str]:
    if not isinstance(report.facts, dict):
        return []
    from doctor.checks import AREAS
    from doctor.render.console import headline

    rows = [(label, headline(area, report.facts)) for area, label in AREAS.items()]
    rows = [(label, text) for label, text in rows if text]
    gsrc = (report.facts.get("gpus") or {}).get("source") if isinstance(report.facts.get("gpus"), dict) else None
    if isinstance(gsrc, str) and gsrc.startswith("--gpu"):  # a machine described by --gpu: only its GPUs are known
        rows = [(label, text) for label, text in rows if label == AREAS["gpu"]]
    env = report.facts.get("env") or {}
    if isinstance(env, dict) and env:
        rows.append(("Environment", "; ".join(f"{k}={v}" for k, v in sorted(env.items()))))
    if not rows:
        return []
    out = ["## Machine", "", "| Area | Found |", "|---|---|"]
    out += [f"| {cell(label)} | {cell(text)} |" for label, text in rows]
    return out + [""]


def _fleet_table(report: Report) -> list[str]:
    fleet = report.extra.get("fleet")
    if not isinstance(fleet, dict) or not fleet.get("nodes"):
        return []
    from doctor.fleet import COLUMNS, row_values

    nodes = fleet["nodes"]
    out = [f"## Nodes ({len(nodes)})", ""]
    if len(nodes) > 20:
        out += ["<details><summary>Table of all nodes</summary>", ""]
    out += ["| " + " | ".join(label for _, label in COLUMNS) + " |", "|" + "---|" * len(COLUMNS)]
    out += ["| " + " | ".join(cell(v) for v in row_values(n)) + " |" for n in nodes]
    if len(nodes) > 20:
        out += ["", "</details>"]
    return out + [""]


def _gib(n: Any) -> str:
    return f"{n / 2**30:.1f} GiB" if isinstance(n, (int, float)) else "?"


def _plan_section(report: Report) -> list[str]:
    """extra.plan as Markdown: the budget per GPU, what fits, the YAML and the commands."""
    p = report.extra.get("plan")
    if not isinstance(p, dict):
        return []
    par = f"TP={p.get('tp')} PP={p.get('pp')}" + (f" EP={p['ep']}" if (p.get("ep") or 1) > 1 else "")
    out = ["## Plan", "",
           f"{_inline(str(p.get('model')))}: {p.get('params', 0) / 1e9:.2f}B params, {cell(p.get('attention'))}, "
           f"{cell(p.get('weight_format'))} weights, {cell(p.get('kv_cache_dtype'))} KV cache, {par} on "
           f"{cell(p.get('gpu'))} ({p.get('gpus')} given), {cell(p.get('backend'))} backend"
           + (" · **fits**" if p.get("fits") else " · **does not fit**"), "",
           "| Per GPU | |", "|---|---|",
           f"| weights | {_gib(p.get('weights_bytes_per_gpu'))} |",
           f"| activations (estimate) | {_gib(p.get('activation_bytes'))} |",
           f"| runtime overhead | {_gib(p.get('overhead_bytes'))} |"]
    if p.get("mamba_state_bytes"):
        out.append(f"| Mamba state | {_gib(p['mamba_state_bytes'])} |")
    out += [f"| KV cache ({p.get('kv_cache_bytes_per_token')} B/token x {p.get('max_batch_size')} x {p.get('max_seq_len')}) "
            f"| {_gib(p.get('kv_cache_bytes'))} |",
            f"| free after all of it | {_gib(p.get('free_bytes_after'))} |",
            f"| GPU free memory | {_gib(p.get('gpu_free_bytes'))} |", ""]
    rows = p.get("what_fits") or []
    if rows and p.get("weights_fit"):
        out += ["| max_seq_len | " + " | ".join(str(r["max_seq_len"]) for r in rows) + " |",
                "|---|" + "---|" * len(rows),
                "| largest batch | " + " | ".join(str(r["max_batch_size"]) for r in rows) + " |", ""]
    if not p.get("fits") and p.get("tp_pp_needed"):
        tp, pp = p["tp_pp_needed"]
        out += [f"Needs {p.get('gpus_needed')} x {cell(p.get('gpu'))} (tp={tp}, pp={pp}).", ""]
    if p.get("yaml"):
        out += ["`plan.yaml` (`--extra_llm_api_options`):", "", code_block(p["yaml"]), ""]
    if p.get("commands"):
        out += ["Commands:", "", code_block("\n".join(p["commands"])), ""]
    elif p.get("commands_withheld"):
        out += [f"No commands: {p['commands_withheld']}.", ""]
    return out


def render(report: Report, *, verbose: bool = False, heading: int = 1) -> str:
    from doctor import __version__

    s = report.summary()
    title = f"{'#' * heading} trtllm-doctor {report.command}"
    from doctor.render.console import plural

    counts = (f"{plural(s['error'], 'error')}, {plural(s['warning'], 'warning')}, {plural(s['info'], 'note')}"
              if report.findings else "no problems found")
    out = [title, ""]
    line = f"trtllm-doctor {__version__} · {counts}"
    if report.checks:
        line += f" · {plural(s['checks_passed'], 'check')} passed, {s['checks_failed']} failed, {s['checks_skipped']} skipped"
    out += [line, ""]
    t = report.target or {}
    if t:
        shown = {k: v for k, v in t.items() if v not in (None, "", [], {})}
        if shown:
            out += ["**Target:** " + ", ".join(f"{k} {_inline(str(v))}" for k, v in shown.items()), ""]
    policy = report.extra.get("policy") if isinstance(report.extra, dict) else None
    if isinstance(policy, dict) and policy.get("file"):
        out += [f"**Policy:** {_inline(str(policy['file']))}" + (f" (fails on {policy['fail_on']})" if policy.get("fail_on") else ""), ""]
    out += _facts_table(report)
    out += _plan_section(report)
    out += _fleet_table(report)
    if report.findings:
        out += ["## Findings", ""]
        for f in report.findings:
            out += _finding(f)
    ignored = report.extra.get("ignored")
    if isinstance(ignored, list) and ignored:
        out += [f"## Ignored by policy ({len(ignored)})", ""]
        for item in ignored:
            ig = item.get("ignore") or {}
            until = f" (until {ig['until']})" if ig.get("until") else ""
            out.append(f"- {_inline(str(item.get('id')))} {item.get('title', '')}: {ig.get('reason', '')}{until}")
        out.append("")
    if report.checks:
        out += [f"<details><summary>Checks ({len(report.checks)})</summary>", "", "| Check | Area | Status | Title |", "|---|---|---|---|"]
        for c in report.checks:
            status = c.status + (f": {c.reason}" if c.reason else "")
            out.append(f"| {cell(c.id + ' ' + c.symbol)} | {cell(c.area)} | {cell(status)} | {cell(c.title)} |")
        out += ["", "</details>", ""]
    return redact("\n".join(out).rstrip() + "\n")
