"""The check registry.

A check is one decorated pure function of a :class:`Context` (facts, target, KB). It
returns nothing when the machine passes, a :class:`Fail` (or a list of them) when it
does not, or a :class:`Skip` when the facts it needs are unknown or it does not
apply. Every module in this package is imported by :func:`all_checks`, so adding a
check is one function in the right module plus its data in ``rules/``.

Ids are permanent: a retired check's id goes into ``RETIRED`` and is never reused.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Union

from doctor.facts import Facts
from doctor.kb import KB
from doctor.report import CheckResult, Finding, Severity
from doctor.target import Target

RETIRED: dict[str, str] = {  # id -> why it was retired
    "MDL002": "never used: skipped when the model checks were first numbered (no check ever had it)",
}


class lazy_module:
    """A module imported on first attribute access: checks that size models (doctor.sizing, doctor.planner)
    cost nothing on a plain `check` that has no model or engine."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._mod = None

    def __getattr__(self, attr: str):
        if self._mod is None:
            import importlib

            self._mod = importlib.import_module(self._name)
        return getattr(self._mod, attr)

AREAS = {
    "platform": "Operating system",
    "python": "Python",
    "driver": "NVIDIA driver",
    "gpu": "GPUs",
    "cuda": "CUDA",
    "packages": "Packages",
    "host": "Host resources",
    "engine": "Engine",
    "llm-api": "LLM API options",
    "model": "Model fit",
    "selftest": "GPU self-test",
}


@dataclass
class Fail:
    """A failed check: what was seen, what was expected, and the fix's parameters."""

    evidence: str
    expected: str
    params: dict[str, Any] = field(default_factory=dict)
    severity: Severity | None = None  # default: the check's
    cause: str | None = None  # default: the check's
    title: str | None = None  # default: the check's


@dataclass
class Skip:
    reason: str


Outcome = Union[Fail, Skip, None, Iterable[Union[Fail, Skip]]]


@dataclass
class Context:
    facts: Facts
    target: Target
    kb: KB


@dataclass(frozen=True)
class Check:
    id: str
    symbol: str
    area: str
    cause: str
    title: str
    severity: Severity
    func: Callable[[Context], Outcome]
    severity_when: str = ""  # when the check reports another severity than its default (shown by `rules`)

    @property
    def doc(self) -> str:
        import inspect

        return inspect.cleandoc(self.func.__doc__ or "")  # the docstring without its source indentation


_REGISTRY: dict[str, Check] = {}


def check(id: str, symbol: str, *, area: str, cause: str, title: str, severity: Severity = Severity.ERROR,
          severity_when: str = ""):
    """Register a check function under a permanent id and a readable symbol."""

    if area not in AREAS:
        raise ValueError(f"check {id}: unknown area {area!r}")

    def register(func: Callable[[Context], Outcome]) -> Callable[[Context], Outcome]:
        if id in _REGISTRY or id in RETIRED:
            raise ValueError(f"check id {id} is already used")
        if any(c.symbol == symbol for c in _REGISTRY.values()):
            raise ValueError(f"check symbol {symbol} is already used")
        _REGISTRY[id] = Check(id, symbol, area, cause, title, severity, func, severity_when)
        return func

    return register


def all_checks() -> list[Check]:
    for mod in pkgutil.iter_modules(__path__):
        importlib.import_module(f"{__name__}.{mod.name}")
    return sorted(_REGISTRY.values(), key=lambda c: (list(AREAS).index(c.area), c.id))


def find_check(key: str) -> Check | None:
    checks = all_checks()
    return next((c for c in checks if key in (c.id, c.symbol)), None)


def _outcomes(result: Outcome) -> list[Fail | Skip]:
    if result is None:
        return []
    if isinstance(result, (Fail, Skip)):
        return [result]
    return [r for r in result if r is not None]


def to_finding(chk: Check, fail: Fail, kb: KB) -> Finding:
    cause = kb.cause(fail.cause or chk.cause)
    return Finding(
        id=chk.id,
        symbol=chk.symbol,
        category=cause.id,
        severity=fail.severity or chk.severity,
        title=fail.title or chk.title,
        evidence=fail.evidence,
        expected=fail.expected,
        fix=cause.fix_for(fail.params),
        docs=cause.docs,
        area=chk.area,
        params=fail.params,
    )


def run_checks(ctx: Context, areas: Iterable[str] | None = None) -> tuple[list[Finding], list[CheckResult]]:
    """Run every registered check (optionally only some areas); pure given the context."""
    wanted = set(areas) if areas is not None else None
    findings: list[Finding] = []
    results: list[CheckResult] = []
    for chk in all_checks():
        if wanted is not None and chk.area not in wanted:
            continue
        outcomes = _outcomes(chk.func(ctx))
        fails = _merge([o for o in outcomes if isinstance(o, Fail)], chk, ctx.kb)
        skips = [o for o in outcomes if isinstance(o, Skip)]
        findings.extend(to_finding(chk, f, ctx.kb) for f in fails)
        status = "fail" if fails else "skip" if skips else "pass"
        reason = "; ".join(s.reason for s in skips) if status == "skip" else ""
        results.append(CheckResult(chk.id, chk.symbol, chk.area, chk.title, status, reason))
    findings.sort(key=lambda f: (-f.severity.rank, list(AREAS).index(f.area) if f.area in AREAS else 99))
    return fold(findings, ctx.kb), results


def _merge(fails: list[Fail], chk: Check, kb: KB) -> list[Fail]:
    """Fails of one check with the same cause and severity are one finding (GPU 0 and GPU 1 with the same SM,
    two build flags of one engine): evidence and expectations joined, differing parameters listed."""
    if len(fails) < 2:
        return fails
    groups: dict[tuple, list[Fail]] = {}
    for f in fails:
        cause = f.cause or chk.cause
        key = (cause, f.severity or chk.severity, f.title) if not kb.cause(cause).distinct else (id(f),)
        groups.setdefault(key, []).append(f)
    out = []
    for group in groups.values():
        if len(group) == 1:
            out.append(group[0])
            continue
        params: dict[str, Any] = {}
        for f in group:
            for k, v in f.params.items():
                if v in (None, ""):
                    continue
                if k not in params:
                    params[k] = v
                elif params[k] != v and isinstance(v, str) and isinstance(params[k], str) and v not in params[k].split(", "):
                    params[k] = f"{params[k]}, {v}"
        expected = list(dict.fromkeys(f.expected for f in group if f.expected))
        first = group[0]
        out.append(Fail("; ".join(f.evidence for f in group), "; ".join(expected), params, first.severity, first.cause,
                        first.title))
    return out


def _closure(graph: dict[str, set[str]]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {}
    for root in graph:
        seen: set[str] = set()
        stack = list(graph[root])
        while stack:
            c = stack.pop()
            if c not in seen:
                seen.add(c)
                stack.extend(graph.get(c, ()))
        out[root] = seen
    return out


def fold(findings: list[Finding], kb: KB) -> list[Finding]:
    """One root cause, one finding: a finding whose cause another finding's cause explains (rules/cause-graph.toml,
    transitively, and not the other way round), or that repeats an earlier finding's cause, goes under that finding
    as a consequence (``extra["consequences"]``, with the graph's reason) unless it is more severe. Order is kept."""
    graph = _closure(kb.cause_graph)

    def explains(g: Finding, f: Finding, earlier: bool) -> bool:
        if g.severity.rank < f.severity.rank:
            return False
        if g.category == f.category:
            return earlier and not kb.cause(f.category).distinct
        return f.category in graph.get(g.category, ()) and g.category not in graph.get(f.category, ())

    parent: dict[int, int] = {}
    for i, f in enumerate(findings):
        for j, g in enumerate(findings):
            if i != j and explains(g, f, j < i):
                parent[i] = j
                break

    def top(i: int) -> int:
        seen = {i}
        while i in parent and parent[i] not in seen:
            i = parent[i]
            seen.add(i)
        return i

    roots = [f for i, f in enumerate(findings) if i not in parent]
    for i, f in enumerate(findings):
        if i not in parent:
            continue
        root = findings[top(i)]
        if root is f:  # a cycle: keep it
            roots.append(f)
            continue
        why = "the same cause" if root.category == f.category else kb.cause_reason(root.category, f.category)
        root.extra.setdefault("consequences", []).append(
            {"id": f.id, "symbol": f.symbol, "category": f.category, "title": f.title, "severity": f.severity.value,
             "evidence": f.evidence, "why": why, "line": f.line, "params": f.params})
    order = {id(f): k for k, f in enumerate(findings)}
    return sorted(roots, key=lambda f: order[id(f)])
