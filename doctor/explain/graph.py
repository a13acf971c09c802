"""From matches to a Report: one finding per root cause, its consequences under it.

Matches are grouped by cause. A cause graph (rules/cause-graph.toml) says which causes explain
which (a DNS failure explains "No matching distribution"; an OOM explains "Engine build failed",
MPI_ABORT and the watchdog timeouts of the other ranks). Two more rules need no edge: a cause
marked ``generic`` in causes.toml (an NCCL "unhandled system error", an MPI abort, a failure no
table knows) yields to any specific cause in the same log, and a match whose role is
``consequence`` sits under the log's root. What is left unexplained are the roots, ordered by
severity, specificity (the layer that matched: exact signature, vocabulary, context, structure)
and where they were first seen. A log with an error but no known cause gets ``unknown-failure``
(from its exception or error-level line) with the component that raised it; "No known problem
found" is said only of a log with no error at all.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from doctor.explain.matcher import Agg, Scanner
from doctor.explain.structure import PyException
from doctor.report import Finding, Report, Severity

CHECK_HINT = "run `trtllm-doctor check` on the machine that produced the log"
_SEV = {"error": 2, "warning": 1, "info": 0}
_ROLE = {"root": 0, "consequence": 1, "context": 1, "benign": 2}
_CONFIDENCE = {0: "high", 1: "high", 2: "medium", 3: "low"}

# Named groups that carry a fix-template field under another name.
ALIASES = {"model_type": "arch", "symbol_version": "symbol", "engine_world_size": "world_size", "repo": "model",
           "soname": "lib", "signal_name": "signal"}
_PRODUCT = re.compile(r"^\s*\d+(?:\s*\*\s*\d+)*\s*$")


def fix_params(params: dict[str, str]) -> dict[str, str]:
    """A match's parameters plus the template fields they imply (aliases; world_size = tp * pp)."""
    out = dict(params)
    for group, name in ALIASES.items():
        if out.get(group) and not out.get(name):
            out[name] = out[group]
    if not out.get("world_size") and out.get("tp_size", "").isdigit():
        out["world_size"] = str(int(out["tp_size"]) * int(out.get("pp_size", "1") or 1))
    size = out.get("size", "")
    if size.isdigit() and int(size) >= 2**20 and not out.get("size_human"):  # "24793579520 bytes" -> "23.1 GiB"
        out["size_human"] = f"{int(size) / 2**30:.1f} GiB" if int(size) >= 2**30 else f"{int(size) / 2**20:.0f} MiB"
    ws = out.get("world_size", "")
    if "*" in ws and _PRODUCT.match(ws):  # "Engine world size (2 * 1)" (tp * pp)
        n = 1
        for part in ws.split("*"):
            n *= int(part)
        out["world_size"] = str(n)
    return out


def ranges(numbers: set[int]) -> str:
    """{0,1,2,3,5} -> '0-3, 5'."""
    out: list[str] = []
    nums = sorted(numbers)
    i = 0
    while i < len(nums):
        j = i
        while j + 1 < len(nums) and nums[j + 1] == nums[j] + 1:
            j += 1
        out.append(str(nums[i]) if i == j else f"{nums[i]}-{nums[j]}")
        i = j + 1
    return ", ".join(out)


@dataclass
class Group:
    """All matches of one cause in the log."""

    cause: str
    aggs: list[Agg]
    generic: bool
    parent: "Group | None" = None
    children: list["Group"] = field(default_factory=list)
    exception: PyException | None = None

    @property
    def best(self) -> Agg:
        return self.aggs[0]

    @property
    def severity(self) -> int:
        """The worst of its own matches and of what it explains (a warning-level DNS retry that explains a
        failed install is the failure's root)."""
        own = max(_SEV[a.severity] for a in self.aggs)
        return max([own] + [c.severity for c in self.children])

    @property
    def role(self) -> str:
        return min((a.role for a in self.aggs), key=_ROLE.__getitem__)

    @property
    def first(self) -> int:
        return min(a.order for a in self.aggs)

    @property
    def count(self) -> int:
        return sum(a.count for a in self.aggs)

    def rank(self) -> tuple:
        return (-self.severity, _ROLE[self.role], self.generic, self.best.tier, self.first)


def _agg_order(a: Agg) -> tuple:
    return (_ROLE[a.role], a.tier, -_SEV[a.severity], a.order)


def group_matches(scanner: Scanner, kb) -> list[Group]:
    by_cause: dict[str, list[Agg]] = {}
    for a in scanner.aggs.values():
        if a.role == "benign":
            continue
        by_cause.setdefault(a.cause, []).append(a)
    groups = []
    for cause, aggs in by_cause.items():
        c = kb.causes.get(cause)
        aggs.sort(key=_agg_order)
        if cause == "unknown-failure":  # the last exception (the fatal one; of a chain, its first), else the first error line
            exc_lines = [a for a in aggs if a.tier == 3 and a.role == "root"]
            if exc_lines:
                pick = max(exc_lines, key=lambda a: a.order)
                pick = _chain_head(pick, exc_lines, scanner)
                aggs.remove(pick)
                aggs.insert(0, pick)
        groups.append(Group(cause, aggs, bool(c and c.generic)))
    exceptions = {(e.file, e.line): e for e in scanner.all_exceptions()}
    for g in groups:
        for a in g.aggs:
            for fi, ln in a.lines:
                e = exceptions.get((fi, ln))
                if e is not None:
                    g.exception = g.exception or e
    return groups


def _chain_head(agg: Agg, candidates: list[Agg], scanner: Scanner) -> Agg:
    """For an exception raised while handling (or because of) earlier ones, the first of that chain."""
    excs = scanner.all_exceptions()
    by_line = {(e.file, e.line): i for i, e in enumerate(excs)}
    i = by_line.get((agg.file, agg.line))
    if i is None:
        return agg
    while i > 0 and excs[i].chained:
        i -= 1
    head = excs[i]
    return next((a for a in candidates if (a.file, a.line) == (head.file, head.line)), agg)


def link(groups: list[Group], graph: dict[str, set[str]]) -> list[Group]:
    """Attach every explained group to its explainer; returns the roots, best first.

    In order: (1) edges of the cause graph; (2) two causes read off the same line with no edge between
    them: the stricter layer's reading is the root (a signature over a vocabulary's guess); (3) a
    consequence (MPI_ABORT, "driver shutting down") goes under the best specific error; (4) a generic cause
    under the best specific one, unknown-failure under any other; (5) of several generic roots, one.
    """
    ordered = sorted(groups, key=Group.rank)

    def attach(g: Group, candidates: list[Group]) -> None:
        for a in candidates:
            if a is not g and not _descends_from(a, g):
                g.parent = a
                a.children.append(g)
                return

    def free(g: Group) -> bool:
        return g.parent is None

    for g in ordered:  # (1)
        attach(g, [a for a in ordered if g.cause in graph.get(a.cause, ()) and a.severity >= 1
                   and not (a.cause in graph.get(g.cause, ()) and Group.rank(g) < Group.rank(a))])
    lines = {id(g): {(fi, ln) for a in g.aggs for fi, ln in a.lines} for g in ordered}
    for g in ordered:  # (2)
        if free(g):
            attach(g, [a for a in ordered if free(a) and a is not g and lines[id(a)] & lines[id(g)]
                       and (a.best.tier, a.generic) < (g.best.tier, g.generic)])
    for g in ordered:  # (3)
        if free(g) and g.role != "root":
            attach(g, [a for a in ordered if free(a) and a.role == "root" and not a.generic and a.severity == 2])
    for g in ordered:  # (4)
        if free(g) and g.generic:
            specific = [a for a in ordered if free(a) and not a.generic and a.severity == 2]
            if not specific and g.cause == "unknown-failure":
                specific = [a for a in ordered if free(a) and a.generic and a.cause != "unknown-failure" and a.severity == 2]
            attach(g, specific)
    roots = [g for g in ordered if free(g)]
    errors = [g for g in roots if g.severity == 2]
    if len(errors) > 1 and all(g.generic for g in errors):  # (5)
        for g in errors[1:]:
            attach(g, [errors[0]])
    # a context line (pip fetched the tensorrt-llm stub sdist: no wheel matched) is a root only when it explains
    # something that failed; alone it is what a healthy install prints too, and says nothing
    return [g for g in ordered if free(g) and not (g.role == "context" and not g.children)]


def _descends_from(a: Group, g: Group) -> bool:
    while a is not None:
        if a is g:
            return True
        a = a.parent
    return False


def _seen(g: Group, agg: Agg, count: int) -> str:
    bits = []
    if count > 1:
        bits.append(f"seen {count} times")
    ranks = set().union(*(a.ranks for a in g.aggs))
    if len(ranks) > 1:
        bits.append(f"on ranks {ranges(ranks)}")
    elif len(ranks) == 1:
        bits.append(f"on rank {next(iter(ranks))}")
    files = set().union(*(a.files for a in g.aggs))
    if len(files) > 1:
        bits.append(f"in {len(files)} files")
    return ", ".join(bits)


def _descendants(g: Group) -> list[Group]:
    out = []
    for c in sorted(g.children, key=lambda x: x.first):
        out.append(c)
        out.extend(_descendants(c))
    return out


def build_findings(scanner: Scanner, kb) -> list[Finding]:
    cat = scanner.cat
    groups = group_matches(scanner, kb)
    roots = link(groups, kb.cause_graph)
    components = kb.components
    findings = []
    for g in roots:
        best = g.best
        rule = cat.rules[best.rule]
        cause = kb.cause(g.cause)
        params: dict[str, Any] = fix_params(best.params)
        for a in g.aggs[1:]:
            for k, v in fix_params(a.params).items():
                params.setdefault(k, v)
        component = params.get("component") or rule.component
        if g.exception is not None:
            component = g.exception.owner or component
            params.setdefault("exception", g.exception.type)
        if component:
            params["component"] = component
            comp = components.get(component)
            if comp:
                params.setdefault("component_name", comp["name"])
                params.setdefault("tracker", comp["tracker"])
        if best.ranks and "rank" not in params:
            params["rank"] = str(min(best.ranks))
        name = scanner.inputs[best.file].name
        count = g.count
        confidence = "low" if g.generic else _CONFIDENCE.get(best.tier, "low")
        extra: dict[str, Any] = {
            "role": best.role,
            "confidence": confidence,
            "note": rule.note,
            "rule": rule.id,  # the pattern that matched (id#n); the finding's id is its entry
            "layer": rule.origin if rule.origin != "vocab" else f"vocab:{rule.vocab}",
            "file": "<stdin>" if name == "-" else name,
            "count": count,
            "lines": [ln for _, ln in best.lines],
            "span": list(best.span),
        }
        if component:
            extra["component"] = component
        if len(scanner.inputs) > 1:
            extra["where"] = f"{extra['file']}:{best.line}"
        seen = _seen(g, best, count)
        if seen:
            extra["seen"] = seen
        ranks = set().union(*(a.ranks for a in g.aggs))
        if ranks:
            extra["ranks"] = sorted(ranks)[:64]
        if best.context:
            extra["context"] = best.context
        if g.exception is not None:
            extra["exception"] = {"type": g.exception.type, "owner": g.exception.owner,
                                  "frames": g.exception.frames[-8:], "chained": g.exception.chained}
        if any(a.varied for a in g.aggs):
            extra["varied"] = True
        if len(g.aggs) > 1:
            extra["also"] = [{"id": cat.rules[a.rule].id.split("#")[0], "symbol": _symbol(a.label), "line": a.line,
                              "evidence": a.evidence, "count": a.count} for a in g.aggs[1:9]]
        own = {(best.file, ln) for _, ln in best.lines}
        kids = [k for k in _descendants(g) if (k.best.file, k.best.line) not in own and k.role != "context"]  # not another reading of the root's line
        fields = set(re.findall(r"\{([a-z_]+)\}", cause.fix))
        for k in _descendants(g):  # the numbers a consequence line carries, where the root's fix asks for them
            for a in k.aggs:
                for key, v in fix_params(a.params).items():
                    if key in fields:
                        params.setdefault(key, v)
        if kids:
            extra["consequences"] = [
                {"category": k.cause, "title": kb.cause(k.cause).title, "id": cat.rules[k.best.rule].id.split("#")[0],
                 "line": k.best.line, "evidence": k.best.evidence, "count": k.count}
                for k in kids[:12]
            ]
        sev = Severity("error" if g.severity == 2 else "warning" if g.severity == 1 else "info")
        findings.append(Finding(
            id=rule.id.split("#")[0], symbol=_symbol(best.label), category=cause.id, severity=sev, title=cause.title,
            evidence=best.evidence, expected="", fix=cause.fix_for(params), docs=cause.docs, area="log",
            line=best.line, params=params, extra=extra,
        ))
    return findings


def _symbol(label: str) -> str:
    s = re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", label)
    s = re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()
    return s or "match"


def build_report(scanner: Scanner, kb) -> Report:
    findings = build_findings(scanner, kb)
    extra: dict[str, Any] = {
        "inputs": [{"name": "<stdin>" if s.name == "-" else s.name, "bytes": s.bytes, "lines": s.lines} for s in scanner.inputs],
        "engine": scanner.engine.name,
    }
    if not any(f.severity == Severity.ERROR for f in findings):
        multi = len(scanner.inputs) > 1
        lines = [
            {"file": scanner.inputs[fi].name, "line": ln, "text": text,
             "where": f"{scanner.inputs[fi].name}:{ln}" if multi else f"line {ln}"}
            for fi, ln, text in scanner.unexplained
        ]
        if lines:
            extra["message"] = f"No failure found. The last error-looking lines are below; {CHECK_HINT}."
            extra["lines"] = lines
        else:
            extra["message"] = f"No failure found and no error-looking line; {CHECK_HINT}."
        if not findings:
            extra["summary"] = "No known problem found."
    return Report("explain", findings, extra=extra)
