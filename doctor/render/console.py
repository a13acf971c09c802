"""The human report, in the flutter-doctor style: one line per area, the fix under each problem.

Colour only on a terminal without NO_COLOR; otherwise plain text with the same symbols.
"""

from __future__ import annotations

import io
import os
import sys

from doctor.report import Finding, Report, Severity

MARK = {"pass": "✓", Severity.ERROR: "✗", Severity.WARNING: "!", Severity.INFO: "i", "skip": "-"}
STYLE = {"pass": "green", Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan", "skip": "dim"}


def use_color() -> bool:
    return sys.stdout.isatty() and "NO_COLOR" not in os.environ and os.environ.get("TERM") != "dumb"


def _gib(mib: int | None) -> str:
    return "?" if mib is None else f"{mib / 1024:.0f} GiB"


def headline(area: str, facts: dict | None) -> str:
    """A one-line summary of what was found for an area (facts as the JSON dict)."""
    if not facts:
        return ""
    try:
        if area == "platform":
            p = facts["platform"]
            distro = " ".join(x for x in (p.get("distro_name") or p.get("distro_id"), p.get("distro_version")) if x)
            bits = [distro or p.get("system"), f"{p.get('system')} {p.get('kernel') or ''}".strip(), p.get("arch")]
            if p.get("glibc"):
                bits.append(f"glibc {p['glibc']}")
            if p.get("wsl"):
                bits.append("WSL2")
            if p.get("container"):
                bits.append(f"in {p['container']}")
            return ", ".join(b for b in bits if b)
        if area == "python":
            p = facts["python"]
            return f"{p.get('implementation') or ''} {p.get('version') or '?'}{' (venv)' if p.get('venv') else ''}".strip()
        if area == "driver":
            d = facts["driver"]
            if not d.get("version"):
                return d.get("error") or "not found"
            return f"{d['version']} (CUDA {d.get('cuda_version') or '?'}, via {d.get('source')})"
        if area == "gpu":
            g = facts["gpus"]
            if not g.get("gpus"):
                return g.get("error") or "none visible"
            names: dict[str, int] = {}
            for x in g["gpus"]:
                label = f"{x['name']} (CC {x.get('cc') or '?'}, {_gib(x.get('memory_total_mib'))})"
                names[label] = names.get(label, 0) + 1
            return ", ".join(f"{n} x {label}" for label, n in names.items())
        if area == "cuda":
            c = facts["cuda"]
            bits = []
            if c.get("wheel_runtimes"):
                bits.append("wheels " + ", ".join(f"{k} {v}" for k, v in sorted(c["wheel_runtimes"].items())))
            if c.get("toolkit"):
                bits.append(f"toolkit {c['toolkit']}")
            if c.get("cuda_python"):
                bits.append(f"cuda-python {c['cuda_python']}")
            return "; ".join(bits) or "no CUDA runtime found"
        if area == "packages":
            pk = facts["packages"]["installed"]
            names = ("tensorrt-llm", "tensorrt", "torch", "transformers")
            bits = [f"{n} {pk[n]}" for n in names if n in pk]
            return ", ".join(bits) or "tensorrt-llm not installed"
        if area == "host":
            h = facts["host"]
            ram = h.get("ram_total_bytes")
            shm = h.get("shm_total_bytes")
            bits = [f"{h.get('cpus') or '?'} CPUs"]
            if ram:
                bits.append(f"{ram / 2**30:.0f} GiB RAM")
            if shm is not None:
                bits.append(f"/dev/shm {shm / 2**30:.1f} GiB")
            for d in h.get("disks", [])[:1]:
                if d.get("free_bytes") is not None:
                    bits.append(f"{d['free_bytes'] / 2**30:.0f} GiB free at {d['path']}")
            return ", ".join(bits)
    except (KeyError, TypeError, AttributeError):
        return ""
    return ""


def _finding_lines(f: Finding, verbose: bool, indent: str) -> list[tuple[str, str]]:
    """(text, style) pairs for one finding."""
    out = [(f"{indent}{MARK[f.severity]} {f.title}", STYLE[f.severity])]
    pad = indent + "    "
    if f.line is not None:
        out.append((f"{pad}{f.extra.get('where') or f'line {f.line}'}: {f.evidence}", "bold"))
        if f.extra.get("seen"):
            out.append((f"{pad}({f.extra['seen']})", "dim"))
        if f.extra.get("component") and f.category == "unknown-failure":
            exc = f.extra.get("exception") or {}
            out.append((f"{pad}raised by: {f.extra['component']}" + (f" ({exc['type']})" if exc.get("type") else ""), "dim"))
        cons = f.extra.get("consequences", [])
        for c in cons[: None if verbose else 3]:
            out.append((f"{pad}then line {c['line']}: {c['evidence']}  [{c['category']}: a consequence]", "dim"))
        if len(cons) > 3 and not verbose:
            out.append((f"{pad}(and {len(cons) - 3} more consequences; -v shows them)", "dim"))
        for m in f.extra.get("machine", []):
            out.append((f"{pad}on this machine: {m}", ""))
        if verbose:
            out += [(f"{pad}context: {c}", "dim") for c in f.extra.get("context", [])]
            out += [(f"{pad}also {a['id']} line {a['line']}: {a['evidence']}", "dim") for a in f.extra.get("also", [])]
    elif verbose or f.severity is Severity.ERROR:
        out.append((f"{pad}seen: {f.evidence}", ""))
    if verbose and f.expected:
        out.append((f"{pad}expected: {f.expected}", ""))
    out.append((f"{pad}fix: {f.fix}", ""))
    if f.line is None:  # check findings: what this root cause also explains (one root cause, one error)
        for c in f.extra.get("consequences", []):
            out.append((f"{pad}consequence: {c['title']}" + (f" ({c['evidence']})" if verbose or c.get("severity") == "error" else "")
                        + f"  [{c['id']}: {c['why']}]", "dim"))
    if verbose:
        out.append((f"{pad}docs: {f.docs}   [{f.id} {f.symbol}, cause {f.category}]", "dim"))
    return out


def _lines(report: Report, verbose: bool) -> list[tuple[str, str]]:
    from doctor import __version__
    from doctor.checks import AREAS

    lines: list[tuple[str, str]] = []
    t = report.target
    head = f"trtllm-doctor {__version__} {report.command}"
    if t.get("trtllm_version"):
        how = {"installed": "installed", "asked": "asked for", "newest": "newest known, none installed"}.get(t.get("source"), "")
        head += f" - target TensorRT-LLM {t['trtllm_version']} ({how})"
    lines += [(head, "bold"), ("", "")]

    if report.checks:
        areas = [a for a in AREAS if any(c.area == a for c in report.checks)]
        for area in areas:
            found = [f for f in report.findings if f.area == area]
            worst = max((f.severity for f in found), key=lambda s: s.rank, default=None)
            folded = [c for f in report.findings for c in f.extra.get("consequences", []) if f.line is None
                      and any(k.id == c["id"] and k.area == area for k in report.checks)]
            if worst is None and folded:  # failed, but as a consequence of a root cause shown elsewhere
                worst = max((Severity(c["severity"]) for c in folded), key=lambda s: s.rank)
            all_skipped = all(c.status == "skip" for c in report.checks if c.area == area)
            state = worst or ("skip" if all_skipped else "pass")
            mark, style = MARK[state], STYLE[state]
            text = f"[{mark}] {AREAS[area]}"
            head_line = headline(area, report.facts)
            if all_skipped and not head_line and not verbose:
                continue  # e.g. the engine area when no --engine was given
            if head_line:
                text += f": {head_line}"
            lines.append((text, style))
            for f in found:
                lines += _finding_lines(f, verbose, "    ")
            for c in folded if not found else []:
                lines.append((f"    {MARK[Severity(c['severity'])]} {c['title']}: a consequence ({c['why']}); see above", "dim"))
            if verbose:
                for c in report.checks:
                    if c.area == area and c.status != "fail":
                        extra = f" (skipped: {c.reason})" if c.status == "skip" else f": {c.reason}" if c.reason else " ok"
                        lines.append((f"    {MARK[c.status]} {c.id} {c.symbol}{extra}", STYLE[c.status]))
        others = [f for f in report.findings if f.area not in areas]
        for f in others:
            lines += _finding_lines(f, verbose, "")
    else:
        for f in report.findings:
            lines += _finding_lines(f, verbose, "")
            lines.append(("", ""))

    if report.extra.get("message"):  # e.g. explain when no signature matched: what it saw instead
        lines.append((report.extra["message"], "bold"))
        lines += [(f"    {x['where']}: {x['text']}", "") for x in report.extra.get("lines", [])]

    s = report.summary()
    lines.append(("", ""))
    if report.findings:
        summary = f"{s['error']} error(s), {s['warning']} warning(s), {s['info']} note(s)"
    else:
        summary = report.extra.get("summary") or "No problems found."
    if report.checks:
        summary += f" - {s['checks_passed']} checks passed, {s['checks_failed']} failed, {s['checks_skipped']} skipped"
        if not verbose:
            summary += " (-v for evidence and every check)"
    lines.append((summary, "bold"))
    return lines


def render(report: Report, *, verbose: bool = False) -> str:
    lines = _lines(report, verbose)
    if not use_color():
        return "\n".join(text for text, _ in lines)
    from rich.console import Console
    from rich.text import Text

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, highlight=False, soft_wrap=True)
    for text, style in lines:
        console.print(Text(text, style=style or ""))
    return buf.getvalue()
