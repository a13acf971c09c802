"""`trtllm-doctor fleet REPORTS...`: merge many nodes' snapshot/check JSON and check them against each other.

REPORTS are files, folders (every ``*.json`` inside), globs (quoted, so the shell leaves
them), or ``-`` for stdin, which holds either JSON documents (one per line, or simply
concatenated, as ``srun ... trtllm-doctor snapshot`` prints them) or one path per line.
The logic is in :mod:`doctor.fleet`; this module reads input and lays out the table.
"""

from __future__ import annotations

import glob
import json
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from doctor.errors import UsageError
from doctor.fleet import COLUMNS, NodeReport, corrupt, merge, parse_document, row_values
from doctor.report import Report, Severity

MAX_BYTES = 64 * 2**20


@dataclass
class FleetOptions:
    reports: list[str] = field(default_factory=list)
    max_age: str = "24h"
    nodes: str | None = None
    check: bool = False
    trtllm_version: str | None = None


_AGE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw]?)\s*$", re.I)
_UNITS = {"": 1, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_max_age(text: str) -> float:
    m = _AGE.match(text or "")
    if not m:
        raise UsageError(f"--max-age {text!r}: expected a number with s, m, h, d or w (e.g. 30m, 24h, 7d)")
    return float(m.group(1)) * _UNITS[m.group(2).lower()]


def expand_hostlist(text: str) -> list[str]:
    """Slurm-style host lists: ``gpu[001-004,010],login1`` -> gpu001..gpu004, gpu010, login1."""
    out: list[str] = []
    depth, start = 0, 0
    parts = []
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    for part in (p.strip() for p in parts):
        if not part:
            continue
        m = re.match(r"^([^\[]*)\[([^\]]+)\](.*)$", part)
        if not m:
            if "[" in part or "]" in part:
                raise UsageError(f"--nodes: cannot read host list {part!r}")
            out.append(part)
            continue
        prefix, ranges, rest = m.groups()
        for r in ranges.split(","):
            r = r.strip()
            lo, _, hi = r.partition("-")
            if not lo.isdigit() or (hi and not hi.isdigit()):
                raise UsageError(f"--nodes: cannot read range {r!r} in {part!r}")
            width = len(lo)
            for n in range(int(lo), int(hi or lo) + 1):
                for tail in expand_hostlist(rest) if rest else [""]:
                    out.append(f"{prefix}{n:0{width}d}{tail}")
    return out


def expected_nodes(spec: str | None) -> list[str] | None:
    if not spec:
        return None
    if spec.startswith("@"):
        path = Path(spec[1:])
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise UsageError(f"--nodes {spec}: cannot read {path} ({getattr(exc, 'strerror', None) or exc})") from None
        names = []
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                names += expand_hostlist(line)
        return names
    return expand_hostlist(spec)


def _read_file(path: Path) -> NodeReport:
    source = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        return corrupt(source, f"cannot read ({exc.strerror})")
    if len(raw) > MAX_BYTES:
        return corrupt(source, f"{len(raw)} bytes is too large for a report")
    try:
        data = json.loads(raw)
    except UnicodeDecodeError:
        return corrupt(source, "binary data, not UTF-8 JSON")
    except json.JSONDecodeError as exc:
        return corrupt(source, f"not valid JSON ({exc.msg}, line {exc.lineno}); truncated or corrupt?")
    except RecursionError:
        return corrupt(source, "JSON nested too deeply")
    return parse_document(data, source)


def _documents(text: str) -> list[NodeReport]:
    """Concatenated or line-separated JSON documents from stdin."""
    decoder = json.JSONDecoder()
    out: list[NodeReport] = []
    i, n, count = 0, len(text), 0
    while True:
        while i < n and text[i].isspace():
            i += 1
        if i >= n:
            return out
        count += 1
        source = f"<stdin>#{count}"
        try:
            data, i = decoder.raw_decode(text, i)
        except json.JSONDecodeError as exc:
            out.append(corrupt(source, f"not valid JSON ({exc.msg}); the rest of stdin is not read"))
            return out
        except RecursionError:
            out.append(corrupt(source, "JSON nested too deeply; the rest of stdin is not read"))
            return out
        out.append(parse_document(data, source))


def _paths(arg: str) -> list[Path]:
    path = Path(arg).expanduser()
    if path.is_dir():
        found = sorted(p for p in path.glob("*.json") if p.is_file())
        if not found:
            raise UsageError(f"{arg}: folder has no *.json reports")
        return found
    if path.exists():
        return [path]
    if any(ch in arg for ch in "*?["):
        found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        if not found:
            raise UsageError(f"{arg}: no reports match")
        return found
    return [path]  # reported as unreadable: a node whose report is missing


def read_reports(args: list[str], stdin: IO[str] | None = None) -> list[NodeReport]:
    if not args:
        raise UsageError("fleet: give report files, folders, globs, or - for stdin")
    out: list[NodeReport] = []
    for arg in args:
        if arg == "-":
            stream = stdin if stdin is not None else sys.stdin
            try:
                text = stream.read()
            except UnicodeDecodeError:
                raise UsageError("stdin: not UTF-8 text") from None
            if text.lstrip().startswith(("{", "[")):
                out += _documents(text)
            else:
                for line in text.splitlines():
                    if line.strip():
                        out += [_read_file(p) for p in _paths(line.strip())]
            continue
        out += [_read_file(p) for p in _paths(arg)]
    if not out:
        raise UsageError("fleet: no reports read")
    return out


def _run_checks(reports: list[NodeReport], trtllm_version: str | None) -> None:
    """Evaluate snapshot nodes with the checks, so their findings join the merge."""
    from doctor.checks import Context, run_checks
    from doctor.commands.check import CheckOptions, build_target
    from doctor.facts import Facts, SnapshotError
    from doctor.kb import default_kb

    kb = default_kb()
    for r in reports:
        if r.status != "ok" or r.kind != "snapshot" or r.facts is None:
            continue
        try:
            facts = Facts.from_dict(r.facts)
        except SnapshotError as exc:
            r.status, r.problem = "corrupt", str(exc)
            continue
        target = build_target(CheckOptions(trtllm_version=trtllm_version), facts, kb)
        findings, _ = run_checks(Context(facts, target, kb))
        r.findings = [f.to_dict() for f in findings]


def run_fleet(opts: FleetOptions, stdin: IO[str] | None = None) -> Report:
    max_age_s = parse_max_age(opts.max_age)
    expected = expected_nodes(opts.nodes)
    reports = read_reports(opts.reports, stdin)
    if opts.check:
        _run_checks(reports, opts.trtllm_version)
    result = merge(reports, max_age_s=max_age_s, expected=expected)
    target = {"nodes_expected": len(expected) if expected is not None else None, "reports": len(reports),
              "max_age_s": max_age_s}
    return Report("fleet", result.findings, None, [], target, {"fleet": result.to_extra()})


def render_human(report: Report, *, verbose: bool = False) -> str:
    """The node table (every node with -v or up to 40 nodes; else the odd ones) and the findings."""
    from doctor.render import console

    fleet = report.extra.get("fleet") or {}
    rows = fleet.get("nodes") or []
    majority = fleet.get("majority") or {}
    flagged = set()
    for f in report.findings:
        if f.area == "fleet":  # nodes that differ from the others
            flagged.update(map(str, f.extra.get("nodes") or []))
    show = rows if verbose or len(rows) <= 40 else [r for r in rows if r.get("status") != "ok" or r.get("node") in flagged]
    table = [[label for _, label in COLUMNS]] + [row_values(r) for r in show]
    widths = [max(len(row[i]) for row in table) for i in range(len(COLUMNS))]
    lines = ["  ".join(cell.ljust(w) for cell, w in zip(row, widths)).rstrip() for row in table]
    counts = fleet.get("counts") or {}
    head = f"{len(rows)} node(s): " + ", ".join(f"{n} {s}" for s, n in counts.items() if n)
    lines.insert(0, head)
    if len(show) < len(rows):
        same = len(rows) - len(show)
        common = ", ".join(f"{k} {majority[k]}" for k in ("driver", "cuda", "trtllm", "gpu", "gpu_count") if majority.get(k) is not None)
        lines.append(f"... and {same} more node(s) like the majority ({common}); -v shows every node")
    body = console.render(report, verbose=verbose)
    verdict = "Fleet is consistent." if fleet.get("consistent") else "Fleet is NOT consistent."
    return "\n".join(lines) + "\n\n" + body.rstrip("\n") + "\n" + verdict + "\n"


def finish(report: Report, fmt: str, verbose: bool, output: str | None, strict: bool, config: Path | None) -> int:
    """Like the CLI's finish for other commands, with the node table for the human format."""
    from doctor.policy import apply_policy
    from doctor.render import emit

    fail_on = apply_policy(report, config)
    if strict:
        fail_on = Severity.WARNING
    report.extra.setdefault("policy", {})["fail_on"] = fail_on.value
    fleet = report.extra.get("fleet")
    if isinstance(fleet, dict):  # the policy may have relaxed or ignored findings
        fleet["consistent"] = report.exit_code(fail_on) == 0
    if fmt != "human":
        emit(report, fmt, verbose=verbose, output=output)
        return report.exit_code(fail_on)
    text = render_human(report, verbose=verbose)
    if output and output != "-":
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"cannot write {output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)
    return report.exit_code(fail_on)
