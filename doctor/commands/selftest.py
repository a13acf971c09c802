"""`trtllm-doctor selftest` (and `check --selftest`): run the GPU self-test tiers and report them.

Each tier becomes a CheckResult (area "selftest"); a failed tier becomes an error
finding whose fix comes from rules/causes.toml, a tier's warnings become warnings, and
a skip that names a cause (no FP8 on this GPU, TensorRT-LLM not installed) becomes a
note. The tiers themselves, with their figures, go to Report.extra["selftest"].
"""

from __future__ import annotations


import os
import platform
import re
import sys
import time
from dataclasses import dataclass, field
from typing import Any, TextIO

from doctor.errors import UsageError
from doctor.kb import KB, KBError, default_kb
from doctor.report import CheckResult, Finding, Report, Severity

AREA = "selftest"
_GPU_ENTRY = re.compile(r"^(\d+|GPU-[0-9A-Fa-f-]+|MIG-[0-9A-Za-z/-]+)$")


@dataclass
class SelftestOptions:
    tiers: list[str] = field(default_factory=list)  # empty: all
    gpus: str | None = None  # CUDA_VISIBLE_DEVICES for the tiers; None: leave as is
    timeout: float | None = None  # seconds per tier; None: each tier's default
    progress: bool | None = None  # None: on when stderr is a terminal
    python: str | None = None  # run the tiers under this interpreter (the one with TensorRT-LLM / torch)


def resolve_python(value: str | None) -> str | None:
    """--python: a path, a command name on PATH, or a venv folder (its bin/python); it must be an executable file."""
    if value is None:
        return None
    from doctor.probes.packages import resolve_interpreter

    try:
        return resolve_interpreter(value)
    except UsageError as exc:
        raise UsageError(f"{exc}; not an executable interpreter") from None


def parse_tiers(values: list[str] | None) -> list[str]:
    """--tier values: numbers, ids or names, repeatable and comma-separated, ranges like 1-4."""
    from doctor.selftest import TIERS, tier

    out: list[str] = []
    for value in values or []:
        for part in str(value).split(","):
            part = part.strip()
            if not part:
                continue
            m = re.fullmatch(r"(?:ST)?(\d+)-(?:ST)?(\d+)", part, re.I)
            if m:
                lo, hi = int(m.group(1)), int(m.group(2))
                if lo > hi or tier(lo) is None or tier(hi) is None:
                    raise UsageError(f"--tier {part}: not a range of tiers 1-{len(TIERS)}")
                out += [str(n) for n in range(lo, hi + 1)]
                continue
            if tier(part) is None:
                names = ", ".join(f"{t.number}/{t.id}/{t.name}" for t in TIERS)
                raise UsageError(f"--tier {part!r}: unknown tier; choose from {names}")
            out.append(part)
    return out


def parse_gpus(value: str | None) -> str | None:
    """--gpus: 'all', or a comma-separated list of indices / GPU UUIDs (CUDA_VISIBLE_DEVICES syntax)."""
    if value is None:
        return None
    text = value.strip()
    if text.lower() == "all":
        return None
    entries = [e.strip() for e in text.split(",")]
    if not text or any(not _GPU_ENTRY.match(e) for e in entries):
        raise UsageError(f"--gpus {value!r}: expected 'all' or indices / GPU UUIDs separated by commas, e.g. 0,1")
    if len(set(entries)) != len(entries):
        raise UsageError(f"--gpus {value!r}: a GPU is listed twice")
    return ",".join(entries)


def _cause(kb: KB, cause_id: str | None) -> Any:
    try:
        return kb.cause(cause_id or "unknown-failure")
    except KBError:
        return kb.cause("unknown-failure")


def _install_params(kb: KB, python_version: str | None) -> dict[str, Any]:
    """The install line and container `check` (PKG001) gives: the newest stable release with wheels for this Python."""
    minor = ".".join((python_version or "").split(".")[:2])
    stable = [r for r in reversed(kb.releases) if not r.prerelease]
    rel = next((r for r in stable if minor in r.python), stable[0] if stable else None)
    if rel is None:
        return {}
    steps = list(rel.install) if rel.install else [f"pip3 install tensorrt_llm=={rel.version}"]
    return {"install": " && ".join(steps), "container": getattr(rel, "container", None) or None, "release": rel.version}


def findings_for(results: list[Any], kb: KB, python_version: str | None = None) -> list[Finding]:
    """Findings of the tiers: failures (errors), their warnings, and skips that name a cause (notes)."""
    out: list[Finding] = []
    for r in results:
        if r.cause == "trtllm-not-installed":  # one install advice across commands (ST6 and PKG001 alike)
            r.params = {**(r.params or {}), **_install_params(kb, python_version or platform.python_version())}
        extra = {"tier": r.number, "status": r.status, "exit": r.exit, "elapsed_s": r.elapsed_s}
        if r.stderr_tail:
            extra["stderr_tail"] = r.stderr_tail
        if r.status == "fail":
            cause = _cause(kb, r.cause)
            out.append(Finding(
                id=r.id, symbol=r.symbol, category=cause.id, severity=Severity.ERROR, title=f"Self-test {r.title}: failed",
                evidence=r.evidence or r.reason, expected=r.expected, fix=cause.fix_for(r.params), docs=cause.docs,
                area=AREA, params=r.params, extra=extra))
        elif r.status == "skip" and r.cause:
            cause = _cause(kb, r.cause)
            out.append(Finding(
                id=r.id, symbol=r.symbol, category=cause.id, severity=Severity.INFO,
                title=f"Self-test {r.title}: skipped", evidence=r.reason, expected="", fix=cause.fix_for(r.params),
                docs=cause.docs, area=AREA, params=r.params, extra=extra))
        for w in r.warnings:
            cause = _cause(kb, w.get("cause"))
            params = w.get("params") if isinstance(w.get("params"), dict) else {}
            out.append(Finding(
                id=r.id, symbol=r.symbol, category=cause.id, severity=Severity.WARNING,
                title=str(w.get("title") or cause.title), evidence=str(w.get("evidence") or ""),
                expected=str(w.get("expected") or ""), fix=cause.fix_for(params), docs=cause.docs, area=AREA,
                params=params, extra=extra))
    return out


def check_results(results: list[Any]) -> list[CheckResult]:
    return [CheckResult(r.id, r.symbol, AREA, r.title, r.status, r.figure if r.status == "pass" else r.reason) for r in results]


def payload(results: list[Any], gpus: str | None, elapsed: float, python: str | None = None) -> dict[str, Any]:
    return {
        "gpus": gpus if gpus is not None else os.environ.get("CUDA_VISIBLE_DEVICES"),
        "python": python or sys.executable,
        "elapsed_s": round(elapsed, 3),
        "tiers": [r.to_dict() for r in results],
    }


class Progress:
    """A live line per tier on stderr (a terminal only): name, elapsed time, then the outcome."""

    MARK = {"pass": "✓", "fail": "✗", "skip": "-"}
    ASCII_MARK = {"pass": "OK", "fail": "XX", "skip": "-"}

    def __init__(self, stream: TextIO):
        self.stream = stream
        from doctor.render import can_encode

        if not can_encode("✓✗", getattr(stream, "encoding", None) or "utf-8"):
            self.MARK = self.ASCII_MARK

    def start(self, spec: Any) -> None:
        self._line(f"  {spec.id} {spec.title} ...")

    def tick(self, spec: Any, elapsed: float) -> None:
        self._line(f"  {spec.id} {spec.title} ... {elapsed:.1f} s")

    def done(self, r: Any) -> None:
        from doctor.redact import redact

        what = redact(r.figure if r.status == "pass" else r.reason)
        if len(what) > 110:
            what = what[:107] + "..."
        self._line(f"{self.MARK.get(r.status, '?')} {r.id} {r.title} ({r.elapsed_s:.1f} s): {what}")
        self.stream.write("\n")
        self.stream.flush()

    def _line(self, text: str) -> None:
        self.stream.write("\r\x1b[K" + text)
        self.stream.flush()


def run_tiers_for(opts: SelftestOptions) -> tuple[list[Any], dict[str, Any]]:
    from doctor.selftest.runner import run_tiers, select

    specs = select(parse_tiers(opts.tiers))
    gpus = parse_gpus(opts.gpus)
    python = resolve_python(opts.python)
    if opts.timeout is not None and opts.timeout <= 0:
        raise UsageError("--timeout must be positive")
    show = sys.stderr.isatty() if opts.progress is None else opts.progress
    progress = Progress(sys.stderr) if show else None
    start = time.perf_counter()
    results = run_tiers(
        specs, timeout=opts.timeout, gpus=gpus, python=python,
        on_start=progress.start if progress else None,
        on_tick=progress.tick if progress else None,
        on_done=progress.done if progress else None,
    )
    from doctor.selftest.crosscheck import pcie_warnings

    pcie_warnings(results)
    return results, payload(results, gpus, time.perf_counter() - start, python)


def run_selftest(opts: SelftestOptions, kb: KB | None = None) -> Report:
    kb = kb or default_kb()
    results, extra = run_tiers_for(opts)
    return Report("selftest", findings_for(results, kb), None, check_results(results), {}, {"selftest": extra})


def fold_into(report: Report, kb: KB | None = None, opts: SelftestOptions | None = None) -> Report:
    """`check --selftest`: add the tiers to a check report (failures and warnings as findings)."""
    kb = kb or default_kb()
    results, extra = run_tiers_for(opts or SelftestOptions())
    # Skipped-with-a-cause notes are left out here: the checks already report those facts.
    report.findings.extend(f for f in findings_for(results, kb) if f.severity is not Severity.INFO)
    from doctor.checks import fold

    report.findings = fold(report.findings, kb)  # a tier that failed for a root the checks found goes under it
    report.checks.extend(check_results(results))
    report.extra["selftest"] = extra
    return report
