"""The human report, in the flutter-doctor style: one line per area, the fix under each problem.

Layout: the header (version, command, target, the policy file in use), the command's body
(``plan``: the memory budget and commands; ``fleet``: the node table), the areas with their
findings (``seen:``, ``expected:`` and ``fix:`` under every problem), what the policy ignored,
and the summary. On a terminal, long lines wrap to its width with a hanging indent (``fix:``
continues under its first word); elsewhere lines are not wrapped, so that grep sees them whole.

Colour only on a terminal without NO_COLOR, or with FORCE_COLOR set (CI logs); otherwise plain
text with the same symbols.
"""

from __future__ import annotations

import io
import os
import shutil
import textwrap

from doctor.report import Finding, Report, Severity

MARK = {"pass": "✓", Severity.ERROR: "✗", Severity.WARNING: "!", Severity.INFO: "i", "skip": "-"}
STYLE = {"pass": "green", Severity.ERROR: "bold red", Severity.WARNING: "yellow", Severity.INFO: "cyan", "skip": "dim"}
MIN_WIDTH = 40
Line = tuple[str, str, "int | None"]  # text, rich style, hanging indent for wrapping (None: never wrap)


def _truthy(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


def use_color(terminal: bool | None = None) -> bool:
    """NO_COLOR wins; FORCE_COLOR turns colour on anywhere (CI logs); else only on a terminal that is not dumb."""
    if "NO_COLOR" in os.environ and os.environ["NO_COLOR"] != "":
        return False
    if _truthy("FORCE_COLOR"):
        return True
    if terminal is None:
        from doctor.render import stdout_is_terminal

        terminal = stdout_is_terminal()
    return terminal and os.environ.get("TERM") != "dumb"


def wrap_width(terminal: bool | None = None) -> int | None:
    """The width to wrap to on a terminal (its own, or $COLUMNS); None when the output is not a terminal."""
    columns = os.environ.get("COLUMNS", "")
    if terminal is None:
        from doctor.render import stdout_is_terminal

        terminal = stdout_is_terminal()
    if not terminal:
        return None
    width = int(columns) if columns.isdigit() else shutil.get_terminal_size((100, 24)).columns
    return max(width, MIN_WIDTH)


def wrap(text: str, width: int | None, hang: int | None) -> list[str]:
    """``text`` cut at spaces to ``width``, continuation lines indented by ``hang`` (URLs and commands are never split)."""
    if width is None or hang is None or len(text) <= width:
        return [text]
    lead = len(text) - len(text.lstrip(" "))
    hang = min(max(hang, lead), width // 2)
    out = textwrap.wrap(text, width=width, subsequent_indent=" " * hang, break_long_words=False,
                        break_on_hyphens=False, replace_whitespace=False, drop_whitespace=True)
    return out or [text]


def _severity(value: object) -> Severity:
    return Severity(value) if value in {s.value for s in Severity} else Severity.ERROR


def plural(n: int, word: str, many: str | None = None) -> str:
    return f"{n} {word if n == 1 else (many or word + 's')}"


def _gib(mib: int | None) -> str:
    return "?" if mib is None else f"{mib / 1024:.0f} GiB"


def headline(area: str, facts: dict | None) -> str:
    """A one-line summary of what was found for an area (facts as the JSON dict)."""
    if not facts:
        return ""
    try:
        gsrc = (facts.get("gpus") or {}).get("source") or ""
        if gsrc.startswith("--gpu") and area not in ("gpu", "model", "llm-api", "engine"):
            return ""  # `plan --gpu`: a machine described by its GPUs only; nothing else about it is known
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
            return ", ".join(str(b) for b in bits if b)
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
                bits.append(f"{ram / 2**30:.1f} GiB RAM")  # the precision the findings use
            if shm is not None:
                bits.append(f"/dev/shm {shm / 2**30:.2f} GiB" if shm < 2**30 else f"/dev/shm {shm / 2**30:.1f} GiB")
            for d in h.get("disks", [])[:1]:
                if d.get("free_bytes") is not None:
                    bits.append(f"{d['free_bytes'] / 2**30:.0f} GiB free at {d['path']}")
            return ", ".join(bits)
    except (KeyError, TypeError, AttributeError, ValueError):
        return ""
    return ""


def _labelled(pad: str, label: str, text: str, style: str = "") -> Line:
    """``pad label: text`` wrapping under the text's first word."""
    head = f"{pad}{label}: "
    return (head + text, style, len(head))


def _finding_lines(f: Finding, verbose: bool, indent: str, same_fix: bool = False) -> list[Line]:
    out: list[Line] = [(f"{indent}{MARK[f.severity]} {f.title}", STYLE[f.severity], len(indent) + 2)]
    pad = indent + "    "
    if f.line is not None:
        out.append(_labelled(pad, f.extra.get("where") or f"line {f.line}", f.evidence, "bold"))
        if f.extra.get("seen"):
            out.append((f"{pad}({f.extra['seen']})", "dim", len(pad) + 1))
        if f.extra.get("component") and f.category == "unknown-failure":
            exc = f.extra.get("exception") or {}
            out.append((f"{pad}raised by: {f.extra['component']}" + (f" ({exc['type']})" if exc.get("type") else ""), "dim",
                        len(pad) + 11))
        cons = f.extra.get("consequences", [])
        for c in cons[: None if verbose else 3]:
            out.append(_labelled(pad, f"then line {c['line']}", f"{c['evidence']}  [{c['category']}: a consequence]", "dim"))
        if len(cons) > 3 and not verbose:
            out.append((f"{pad}(and {len(cons) - 3} more consequences; -v shows them)", "dim", len(pad)))
        for m in f.extra.get("machine", []):
            out.append(_labelled(pad, "on this machine", str(m)))
        if verbose:
            out += [_labelled(pad, "context", str(c), "dim") for c in f.extra.get("context", [])]
            out += [_labelled(pad, f"also {a['id']} line {a['line']}", str(a["evidence"]), "dim") for a in f.extra.get("also", [])]
    elif f.evidence:
        out.append(_labelled(pad, "seen", f.evidence))
    if f.expected:
        out.append(_labelled(pad, "expected", f.expected))
    ps = f.extra.get("policy_severity") if isinstance(f.extra, dict) else None
    if isinstance(ps, dict) and ps.get("from"):
        out.append((f"{pad}(severity {ps.get('from')} -> {ps.get('to')} by the policy's [severity] {ps.get('key')})", "dim",
                    len(pad) + 1))
    nodes = f.extra.get("nodes") if isinstance(f.extra, dict) else None
    if nodes and f.area != "fleet":  # merged node findings: which nodes (fleet findings name them in seen:)
        shown = ", ".join(map(str, nodes[:12])) + (f" and {len(nodes) - 12} more" if len(nodes) > 12 else "")
        out.append(_labelled(pad, "nodes", shown))
    out.append(_labelled(pad, "fix", "as above" if same_fix and not verbose else f.fix))
    if f.line is None:  # check findings: what this root cause also explains (one root cause, one error)
        for c in f.extra.get("consequences", []):
            if not isinstance(c, dict):
                continue
            out.append(_labelled(pad, "consequence", f"{c.get('title')}"
                                 + (f" ({c.get('evidence')})" if verbose or c.get("severity") == "error" else "")
                                 + f"  [{c.get('id')}: {c.get('why')}]", "dim"))
    if verbose:
        out.append((f"{pad}docs: {f.docs}   [{f.id} {f.symbol}, cause {f.category}]", "dim", len(pad) + 6))
    return out


def _header(report: Report) -> list[Line]:
    from doctor import __version__

    t = report.target or {}
    head = f"trtllm-doctor {__version__} {report.command}"
    if t.get("trtllm_version"):
        how = {"installed": "installed", "asked": "asked for", "newest": "newest known, none installed"}.get(t.get("source"), "")
        head += f" - target TensorRT-LLM {t['trtllm_version']}" + (f" ({how})" if how else "")
    lines: list[Line] = [(head, "bold", 4)]
    policy = report.extra.get("policy") if isinstance(report.extra, dict) else None
    if isinstance(policy, dict) and policy.get("file"):
        fail_on = policy.get("fail_on")
        lines.append((f"policy: {policy['file']}" + (f" (fails on {fail_on}s and above)" if fail_on else ""), "dim", 8))
    if isinstance(policy, dict) and isinstance(policy.get("target"), dict) and policy["target"]:
        lines.append(("target from the policy: " + ", ".join(f"{k} {v}" for k, v in policy["target"].items()), "dim", 8))
    return lines + [("", "", None)]


def _plan_lines(report: Report) -> list[Line]:
    plan = report.extra.get("plan") if isinstance(report.extra, dict) else None
    if not isinstance(plan, dict):
        return []
    try:
        from doctor.commands.plan import calibration_lines, plan_lines

        lines = plan_lines(plan)
        if isinstance(report.extra.get("calibration"), dict):
            lines += calibration_lines(report.extra["calibration"])
    except (KeyError, TypeError, ValueError):  # a plan dict from elsewhere (tests, older JSON) without every field
        return []
    prose = ("Plan:", "Target:", "Checkpoint", "Does not fit", "Fits", "Note", "KV cache pool", "Suggested", "No commands")
    return [(x, "", 4 if x.startswith(prose) else None) for x in lines] + [("", "", None)]  # tables and bars stay whole


def _fleet_lines(report: Report, verbose: bool) -> list[Line]:
    """The node table (every node with -v or up to 40 nodes; else the odd ones)."""
    fleet = report.extra.get("fleet") if isinstance(report.extra, dict) else None
    if not isinstance(fleet, dict):
        return []
    from doctor.fleet import COLUMNS, row_values

    rows = fleet.get("nodes") or []
    majority = fleet.get("majority") or {}
    flagged = set()
    for f in report.findings:
        if f.area == "fleet":  # nodes that differ from the others
            flagged.update(map(str, f.extra.get("nodes") or []))
    show = rows if verbose or len(rows) <= 40 else [r for r in rows if r.get("status") != "ok" or r.get("node") in flagged]
    table = [[label for _, label in COLUMNS]] + [row_values(r) for r in show]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    counts = fleet.get("counts") or {}
    lines: list[Line] = [(f"{plural(len(rows), 'node')}: " + ", ".join(f"{n} {s}" for s, n in counts.items() if n), "bold", 4)]
    lines += [("  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip(), "", None) for row in table]
    if len(show) < len(rows):
        same = len(rows) - len(show)
        common = ", ".join(f"{k} {majority[k]}" for k in ("driver", "cuda", "trtllm", "gpu", "gpu_count") if majority.get(k) is not None)
        lines.append((f"... and {plural(same, 'more node')} like the majority ({common}); -v shows every node", "", 4))
    return lines + [("", "", None)]


def _ignored_lines(report: Report) -> list[Line]:
    ignored = report.extra.get("ignored") if isinstance(report.extra, dict) else None
    if not isinstance(ignored, list) or not ignored:
        return []
    lines: list[Line] = [("", "", None), (f"Ignored by the policy ({len(ignored)}):", "bold", 4)]
    for item in ignored:
        if not isinstance(item, dict):
            continue
        ig = item.get("ignore") if isinstance(item.get("ignore"), dict) else {}
        until = f" until {ig['until']}" if ig.get("until") else ""
        lines.append((f"    - {item.get('id')} {item.get('symbol', '')}: {item.get('title', '')}"
                      f" (ignored{until}: {ig.get('reason', '')})", "dim", 8))
    return lines


def _lines(report: Report, verbose: bool) -> list[Line]:
    from doctor.checks import AREAS

    lines = _header(report)
    lines += _plan_lines(report)
    lines += _fleet_lines(report, verbose)

    if report.checks:
        areas = [a for a in AREAS if any(c.area == a for c in report.checks)]
        for area in areas:
            found = [f for f in report.findings if f.area == area]
            worst = max((f.severity for f in found), key=lambda s: s.rank, default=None)
            folded = [c for f in report.findings for c in f.extra.get("consequences", []) if f.line is None
                      and isinstance(c, dict) and any(k.id == c.get("id") and k.area == area for k in report.checks)]
            if worst is None and folded:  # failed, but as a consequence of a root cause shown elsewhere
                worst = max((_severity(c.get("severity")) for c in folded), key=lambda s: s.rank)
            all_skipped = all(c.status == "skip" for c in report.checks if c.area == area)
            state = worst or ("skip" if all_skipped else "pass")
            mark, style = MARK[state], STYLE[state]
            text = f"[{mark}] {AREAS[area]}"
            head_line = headline(area, report.facts)
            if all_skipped and not head_line and not verbose:
                continue  # e.g. the engine area when no --engine was given
            if head_line:
                text += f": {head_line}"
            lines.append((text, style, 4))
            for k, f in enumerate(found):  # a fix word for word the previous one's is not printed twice
                lines += _finding_lines(f, verbose, "    ", same_fix=k > 0 and f.fix == found[k - 1].fix)
            for c in folded if not found else []:
                lines.append((f"    {MARK[_severity(c.get('severity'))]} {c.get('title')}: a consequence ({c.get('why')}); "
                              "see above", "dim", 6))
            if verbose:
                for c in report.checks:
                    if c.area == area and c.status != "fail":
                        extra = f" (skipped: {c.reason})" if c.status == "skip" else f": {c.reason}" if c.reason else " ok"
                        lines.append((f"    {MARK[c.status]} {c.id} {c.symbol}{extra}", STYLE[c.status], 6))
        others = [f for f in report.findings if f.area not in areas]
        for k, f in enumerate(others):
            lines += _finding_lines(f, verbose, "", same_fix=k > 0 and f.fix == others[k - 1].fix)
    else:
        for k, f in enumerate(report.findings):
            lines += _finding_lines(f, verbose, "", same_fix=k > 0 and f.fix == report.findings[k - 1].fix)
            lines.append(("", "", None))

    if report.extra.get("message"):  # e.g. explain when no signature matched: what it saw instead
        lines.append((str(report.extra["message"]), "bold", 4))
        lines += [_labelled("    ", str(x.get("where")), str(x.get("text"))) for x in report.extra.get("lines", [])
                  if isinstance(x, dict)]

    lines += _ignored_lines(report)
    s = report.summary()
    lines.append(("", "", None))
    if report.findings:
        summary = f"{plural(s['error'], 'error')}, {plural(s['warning'], 'warning')}, {plural(s['info'], 'note')}"
    else:
        summary = report.extra.get("summary") or "No problems found."
    ignored = report.extra.get("ignored")
    if isinstance(ignored, list) and ignored:
        summary += f", {len(ignored)} ignored by the policy"
    if report.checks:
        summary += (f" - {plural(s['checks_passed'], 'check')} passed, {s['checks_failed']} failed, "
                    f"{s['checks_skipped']} skipped")
        if not verbose:
            summary += " (-v for evidence and every check)"
    lines.append((summary, "bold", 4))
    fleet = report.extra.get("fleet") if isinstance(report.extra, dict) else None
    if isinstance(fleet, dict):
        lines.append(("Fleet is consistent." if fleet.get("consistent") else "Fleet is NOT consistent.", "bold", None))
    return lines


def render(report: Report, *, verbose: bool = False, terminal: bool | None = None, color: bool | None = None) -> str:
    """``terminal``: the text goes to a terminal (wrap, colour); None: stdout's. ``color``: False for a file."""
    width = wrap_width(terminal)
    lines = [(piece, style) for text, style, hang in _lines(report, verbose) for piece in wrap(text, width, hang)]
    if not (use_color(terminal) if color is None else color):
        return "\n".join(text for text, _ in lines) + "\n"
    from rich.console import Console
    from rich.text import Text

    buf = io.StringIO()
    console = Console(file=buf, force_terminal=True, highlight=False, soft_wrap=True, width=width or 1000)
    for text, style in lines:
        console.print(Text(text, style=style or ""))
    return buf.getvalue()
