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
from doctor.fleet import NodeReport, corrupt, merge, parse_document
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


MAX_NODES = 65536  # a host list that names more nodes than this is a typo (gpu[0-999999999]), not a cluster
MAX_NODES_FILE = 4 * 2**20


def _split_top(text: str) -> list[str]:
    """Split a host list at the commas outside brackets."""
    parts, depth, start = [], 0, 0
    for i, ch in enumerate(text):
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append(text[start:i])
            start = i + 1
    parts.append(text[start:])
    return [p.strip() for p in parts if p.strip()]


_BRACKET = re.compile(r"^([^\[\]]*)\[([^\[\]]+)\](.*)$")


def _parse_host(part: str) -> list[tuple]:
    """One host pattern as a list of segments: ("lit", text) or ("range", [(lo, hi, width), ...])."""
    segments: list[tuple] = []
    rest = part
    while rest:
        m = _BRACKET.match(rest)
        if not m:
            if "[" in rest or "]" in rest:
                raise UsageError(f"--nodes: cannot read host list {part!r}")
            segments.append(("lit", rest))
            break
        prefix, ranges, rest = m.groups()
        if prefix:
            segments.append(("lit", prefix))
        spans = []
        for r in ranges.split(","):
            r = r.strip()
            lo, _, hi = r.partition("-")
            if not lo.isdigit() or (hi and not hi.isdigit()) or len(lo) > 12 or len(hi) > 12:
                raise UsageError(f"--nodes: cannot read range {r!r} in {part!r}")
            a, b = int(lo), int(hi or lo)
            if b < a:
                raise UsageError(f"--nodes: range {r!r} in {part!r} runs backwards")
            spans.append((a, b, len(lo)))
        segments.append(("range", spans))
    return segments


def expand_hostlist(text: str, limit: int = MAX_NODES) -> list[str]:
    """Slurm-style host lists: ``gpu[001-004,010],login1`` -> gpu001..gpu004, gpu010, login1.

    The number of names is computed before anything is expanded: a list naming more than ``limit``
    nodes (``gpu[0-999999999]``, ``n[0-999]x[0-999]y[0-99]``) is a usage error, not a hang."""
    parsed = [_parse_host(part) for part in _split_top(text)]
    total = 0
    for segments in parsed:
        count = 1
        for kind, value in segments:
            if kind == "range":
                count *= sum(b - a + 1 for a, b, _ in value)
                if count > limit:
                    break
        total += count
        if total > limit:
            raise UsageError(f"--nodes: the host list names more than {limit:,} nodes; is a range mistyped?")
    out: list[str] = []
    for segments in parsed:
        names = [""]
        for kind, value in segments:
            if kind == "lit":
                names = [n + value for n in names]
            else:
                names = [n + f"{i:0{w}d}" for n in names for a, b, w in value for i in range(a, b + 1)]
        out += names
    return out


def expected_nodes(spec: str | None) -> list[str] | None:
    if not spec:
        return None
    if spec.startswith("@"):
        from doctor.inputs import read_text

        text = read_text(spec[1:], "a --nodes host list", MAX_NODES_FILE)
        names: list[str] = []
        for line in text.splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                names += expand_hostlist(line, MAX_NODES - len(names))
        return names
    return expand_hostlist(spec)


def _read_file(path: Path) -> NodeReport:
    from doctor.inputs import parse_json, read_bytes

    source = str(path)
    try:
        raw = read_bytes(path, "a report", MAX_BYTES)
    except UsageError as exc:
        msg = str(exc)
        return corrupt(source, msg[len(source) + 2:] if msg.startswith(source + ": ") else msg)
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        return corrupt(source, "binary data, not UTF-8 JSON")
    if "\x00" in text[:65536]:
        return corrupt(source, "binary data, not UTF-8 JSON")
    try:
        data = parse_json(text, "a report", source)
    except UsageError as exc:
        msg = str(exc)
        return corrupt(source, msg[len(source) + 2:] if msg.startswith(source + ": ") else msg)
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
        except ValueError as exc:  # a number of 4,300+ digits (CPython's int-string limit)
            out.append(corrupt(source, f"not usable as a report ({exc}); the rest of stdin is not read"))
            return out
        out.append(parse_document(data, source))


def _printable(text: str) -> str:
    """A name from stdin or the command line, safe to print (no terminal escapes)."""
    return "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)[:300]


def _paths(arg: str) -> list[Path]:
    import os
    import stat

    path = Path(arg).expanduser()
    try:
        st = os.stat(path)
    except FileNotFoundError:
        st = None
    except OSError as exc:
        raise UsageError(f"{_printable(arg)}: cannot read ({exc.strerror or exc})") from None
    if st is not None and stat.S_ISDIR(st.st_mode):
        try:
            found = sorted(p for p in path.glob("*.json") if p.is_file())
        except OSError as exc:
            raise UsageError(f"{_printable(arg)}: cannot list the folder ({exc.strerror or exc})") from None
        if not found:
            raise UsageError(f"{_printable(arg)}: folder has no *.json reports")
        return found
    if st is not None:
        if not stat.S_ISREG(st.st_mode):
            raise UsageError(f"{_printable(arg)}: not a regular file (a pipe, socket or device), expected a report")
        return [path]
    if any(ch in arg for ch in "*?["):
        found = sorted(Path(p) for p in glob.glob(str(path), recursive=True) if Path(p).is_file())
        if not found:
            raise UsageError(f"{_printable(arg)}: no reports match")
        return found
    raise UsageError(f"{_printable(arg)}: no such file or folder (name the nodes that must report with --nodes)")


def read_stdin(stdin: IO[str] | None = None, limit: int = MAX_BYTES) -> str:
    """stdin as text, at most ``limit`` bytes; a closed stdin is a usage error."""
    stream = stdin if stdin is not None else sys.stdin
    if stream is None:
        raise UsageError("stdin is closed: nothing to read for '-'")
    try:
        buf = getattr(stream, "buffer", None)
        if buf is not None:
            raw = buf.read(limit + 1)
            if len(raw) > limit:
                raise UsageError(f"stdin: more than {limit >> 20} MiB, too large for reports (give a folder instead)")
            return raw.decode("utf-8-sig")
        text = stream.read(limit + 1)
        if len(text) > limit:
            raise UsageError(f"stdin: more than {limit >> 20} MiB, too large for reports (give a folder instead)")
        return text
    except UnicodeDecodeError:
        raise UsageError("stdin: not UTF-8 text") from None
    except (OSError, ValueError) as exc:
        raise UsageError(f"cannot read stdin: {getattr(exc, 'strerror', None) or exc}") from None


def read_reports(args: list[str], stdin: IO[str] | None = None) -> list[NodeReport]:
    if not args:
        raise UsageError("fleet: give report files, folders, globs, or - for stdin")
    out: list[NodeReport] = []
    for arg in args:
        if arg == "-":
            text = read_stdin(stdin)
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
        r.checked = True


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


def finish(report: Report, fmt: str, verbose: bool, output: str | None, strict: bool, config: Path | None) -> int:
    """Like the CLI's finish for other commands; the consistency verdict follows the policy."""
    from doctor.policy import apply_policy
    from doctor.render import emit

    fail_on = apply_policy(report, config)
    if strict:
        fail_on = Severity.WARNING
    report.extra.setdefault("policy", {})["fail_on"] = fail_on.value
    fleet = report.extra.get("fleet")
    if isinstance(fleet, dict):  # the policy may have relaxed or ignored findings
        fleet["consistent"] = report.exit_code(fail_on) == 0
    emit(report, fmt, verbose=verbose, output=output)
    return report.exit_code(fail_on)
