"""Fleet: merge the reports of many nodes and make the checks no single node can make.

Input is parsed JSON, one document per node: a snapshot (Facts JSON, `trtllm-doctor
snapshot`) or a check report (`trtllm-doctor check --format json`, whose findings are
carried over). Everything here is pure: documents in, :class:`FleetResult` out; reading
files is ``doctor.commands.fleet``'s job.

Cross-node checks (ids are permanent):
  FLT001 fleet-report-missing     a node named with --nodes has no report        (error)
  FLT002 fleet-report-corrupt     a report is not JSON / not a trtllm-doctor report (error)
  FLT003 fleet-report-stale       a report is older than --max-age (or undated)   (error)
  FLT004 fleet-gpu-model-differs  nodes loading the same engine differ in GPU model (error)
  FLT005 fleet-trtllm-differs     ... or in TensorRT-LLM version                  (error)
  FLT006 fleet-driver-differs     a node's driver differs from the majority       (error)
  FLT007 fleet-package-differs    tensorrt / torch / Python differ from the majority (warning; tensorrt error)
  FLT008 fleet-gpu-count-differs  a node has another number of GPUs than the majority (warning)
  FLT009 fleet-report-duplicate   two reports name the same node; the newer is used (warning)
Node findings (from check reports) are merged: one finding per rule and title, listing
its nodes in ``extra["nodes"]``.

"Nodes that load the same engine" are the nodes whose check report names the same
``target.engine``; snapshots (and reports without an engine) form one group.
"""

from __future__ import annotations

import datetime as _dt
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from doctor.report import Finding, Severity

STATUSES = ("ok", "corrupt", "stale", "missing", "duplicate")
# (key in NodeReport.values, label); the table and the JSON use these keys
COLUMNS = (
    ("node", "Node"),
    ("status", "Status"),
    ("driver", "Driver"),
    ("cuda", "CUDA"),
    ("trtllm", "TensorRT-LLM"),
    ("gpus", "GPUs"),
    ("disk", "Free disk"),
    ("problems", "Findings"),
    ("problem", "Problem"),  # last, never cut: it names the file a duplicate or corrupt report came from
)
# cross-node comparisons: value key, label, finding (id, symbol), severity
COMPARE = (
    ("driver", "the NVIDIA driver", "FLT006", "fleet-driver-differs", Severity.ERROR),
    ("tensorrt", "tensorrt", "FLT007", "fleet-package-differs", Severity.ERROR),
    ("torch", "torch", "FLT007", "fleet-package-differs", Severity.WARNING),
    ("python", "Python", "FLT007", "fleet-package-differs", Severity.WARNING),
    ("gpu_count", "the GPU count", "FLT008", "fleet-gpu-count-differs", Severity.WARNING),
)
PER_ENGINE = (
    ("gpu", "the GPU model", "FLT004", "fleet-gpu-model-differs"),
    ("trtllm", "TensorRT-LLM", "FLT005", "fleet-trtllm-differs"),
)
NOT_INSTALLED = "not installed"
UNKNOWN = "unknown"


@dataclass
class NodeReport:
    node: str
    source: str
    status: str = "ok"
    problem: str = ""
    created: _dt.datetime | None = None
    kind: str = ""  # snapshot | check
    engine: str = ""
    values: dict[str, Any] = field(default_factory=dict)
    findings: list[dict[str, Any]] = field(default_factory=list)
    facts: dict[str, Any] | None = None
    checked: bool = False  # its findings are known: a check report, or `fleet --check` evaluated the snapshot

    def row(self, now: _dt.datetime | None = None) -> dict[str, Any]:
        v = self.values
        errors = sum(1 for f in self.findings if f.get("severity") == "error")
        warnings = sum(1 for f in self.findings if f.get("severity") == "warning")
        out = {
            "node": self.node,
            "source": self.source,
            "status": self.status,
            "problem": self.problem,
            "kind": self.kind or None,
            "created": self.created.isoformat() if self.created else None,
            "age_s": round((now - self.created).total_seconds(), 1) if now and self.created else None,
            "engine": self.engine or None,
            "driver": v.get("driver"),
            "cuda": v.get("cuda"),
            "trtllm": v.get("trtllm"),
            "tensorrt": v.get("tensorrt"),
            "torch": v.get("torch"),
            "python": v.get("python"),
            "gpu": v.get("gpu"),
            "gpu_count": v.get("gpu_count"),
            "disk_free_bytes": v.get("disk_free_bytes"),
            "errors": errors,
            "warnings": warnings,
            "findings": sorted({str(f.get("id")) for f in self.findings}),
            "checked": self.checked,
        }
        return out


def _gib(n: Any) -> str:
    return f"{n / 2**30:.0f} GiB" if isinstance(n, (int, float)) else "?"


def row_values(row: dict[str, Any]) -> list[str]:
    """The table's cells for one node row (as in ``extra["fleet"]["nodes"]``), in COLUMNS order."""
    from doctor.render.console import plural

    gpus = "-"
    if row.get("gpu_count") is not None:
        gpus = f"{row['gpu_count']} x {row.get('gpu') or '?'}" if row["gpu_count"] else "none"
    status = str(row.get("status", ""))
    if status != "ok":
        problems = "-"
    elif row.get("errors") or row.get("warnings"):
        problems = f"{plural(row.get('errors', 0), 'error')}, {plural(row.get('warnings', 0), 'warning')}"
    elif row.get("checked"):
        problems = "none"
    else:
        problems = "not checked (--check)"
    return [
        str(row.get("node")), status, row.get("driver") or "-", row.get("cuda") or "-", row.get("trtllm") or "-",
        gpus, _gib(row.get("disk_free_bytes")) if row.get("disk_free_bytes") is not None else "-", problems,
        " ".join(str(row.get("problem") or "").split()),
    ]


# --- parsing one document ----------------------------------------------------------------


class CorruptReport(ValueError):
    pass


def _obj(data: Any, key: str, where: str) -> dict[str, Any]:
    value = data.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise CorruptReport(f"{where}{key} is not an object")
    return value


def _str(data: dict[str, Any], key: str, where: str) -> str | None:
    value = data.get(key)
    if value is None or isinstance(value, str):
        return value
    raise CorruptReport(f"{where}{key} is not a string")


def parse_created(text: Any) -> _dt.datetime | None:
    if not isinstance(text, str) or not text:
        return None
    try:
        when = _dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return when if when.tzinfo else when.replace(tzinfo=_dt.timezone.utc)


def facts_values(facts: dict[str, Any]) -> dict[str, Any]:
    """The key facts of one node, type-checked (a wrong type makes the report corrupt)."""
    driver = _obj(facts, "driver", "facts.")
    python = _obj(facts, "python", "facts.")
    gpus_section = _obj(facts, "gpus", "facts.")
    packages = _obj(facts, "packages", "facts.")
    host = _obj(facts, "host", "facts.")
    platform = _obj(facts, "platform", "facts.")
    installed = packages.get("installed") or {}
    if not isinstance(installed, dict):
        raise CorruptReport("facts.packages.installed is not an object")
    gpus = gpus_section.get("gpus") or []
    if not isinstance(gpus, list) or not all(isinstance(g, dict) and isinstance(g.get("name", ""), str) for g in gpus):
        raise CorruptReport("facts.gpus.gpus is not a list of GPUs")
    names = Counter(g.get("name") or "?" for g in gpus)
    disks = host.get("disks") or []
    if not isinstance(disks, list) or not all(isinstance(d, dict) for d in disks):
        raise CorruptReport("facts.host.disks is not a list")
    disk = next((d for d in disks if d.get("purpose") == "workdir"), disks[0] if disks else None)
    free = disk.get("free_bytes") if disk else None
    if free is not None and (isinstance(free, bool) or not isinstance(free, (int, float))):
        raise CorruptReport("facts.host.disks[].free_bytes is not a number")
    pk_known = not packages.get("error")

    def pkg(name: str) -> str | None:
        value = installed.get(name)
        if value is not None and not isinstance(value, str):
            raise CorruptReport(f"facts.packages.installed.{name} is not a string")
        return value or (NOT_INSTALLED if pk_known else None)

    gpu_known = not gpus_section.get("error") or bool(gpus)
    return {
        "hostname": _str(platform, "hostname", "facts.platform."),
        "driver": _str(driver, "version", "facts.driver."),
        "cuda": _str(driver, "cuda_version", "facts.driver."),
        "python": _str(python, "version", "facts.python."),
        "trtllm": pkg("tensorrt-llm"),
        "tensorrt": pkg("tensorrt"),
        "torch": pkg("torch"),
        "gpu": " + ".join(sorted(names)) if names else ("none" if gpu_known else None),
        "gpu_count": len(gpus) if gpu_known else None,
        "disk_free_bytes": free,
    }


def parse_document(data: Any, source: str) -> NodeReport:
    """One node's report from a parsed JSON document; a bad one comes back with status "corrupt"."""
    fallback = source.rsplit("/", 1)[-1].removesuffix(".json") or source
    try:
        if not isinstance(data, dict):
            raise CorruptReport("not a trtllm-doctor report (top level is not an object)")
        tool = data.get("tool")
        if isinstance(tool, dict) and "findings" in data:  # a check report
            if tool.get("name") != "trtllm-doctor":
                raise CorruptReport("not a trtllm-doctor report (tool.name)")
            facts = data.get("facts")
            if not isinstance(facts, dict):
                raise CorruptReport(f"a `{tool.get('command')}` report without facts (use snapshot or check reports)")
            findings = data.get("findings")
            if not isinstance(findings, list) or not all(
                isinstance(f, dict) and f.get("severity") in ("error", "warning", "info") and isinstance(f.get("id"), str)
                for f in findings
            ):
                raise CorruptReport("findings is not a list of findings")
            target = data.get("target") if isinstance(data.get("target"), dict) else {}
            engine = target.get("engine") if isinstance(target.get("engine"), str) else ""
            kind = "check"
        else:
            facts, findings, engine, kind = data, [], "", "snapshot"
        version = facts.get("schema_version")
        if not isinstance(version, int) or isinstance(version, bool):
            raise CorruptReport("not a trtllm-doctor snapshot (no schema_version)")
        from doctor.facts import FACTS_SCHEMA_VERSION

        if version > FACTS_SCHEMA_VERSION:
            raise CorruptReport(f"snapshot schema_version {version} is newer than this trtllm-doctor understands")
        values = facts_values(facts)
    except CorruptReport as exc:
        return NodeReport(node=fallback, source=source, status="corrupt", problem=str(exc))
    return NodeReport(
        node=values.pop("hostname") or fallback, source=source, created=parse_created(facts.get("created")),
        kind=kind, engine=engine, values=values, findings=findings, facts=facts, checked=kind == "check",
    )


def corrupt(source: str, problem: str) -> NodeReport:
    fallback = source.rsplit("/", 1)[-1].removesuffix(".json") or source
    return NodeReport(node=fallback, source=source, status="corrupt", problem=problem)


# --- merging -----------------------------------------------------------------------------


@dataclass
class FleetResult:
    findings: list[Finding]
    nodes: list[NodeReport]
    majority: dict[str, Any]
    groups: dict[str, list[str]]
    now: _dt.datetime
    max_age_s: float

    def to_extra(self) -> dict[str, Any]:
        status = Counter(n.status for n in self.nodes)
        return {
            "nodes": [n.row(self.now) for n in self.nodes],
            "majority": self.majority,
            "groups": {k or "(all)": v for k, v in self.groups.items()},
            "counts": {s: status.get(s, 0) for s in STATUSES},
            "max_age_s": self.max_age_s,
            "now": self.now.isoformat(),
            "consistent": not any(f.severity is Severity.ERROR for f in self.findings),
        }


def _finding(fid: str, symbol: str, cause_id: str, severity: Severity, title: str, evidence: str, expected: str,
             params: dict[str, Any], nodes: list[str], kb: Any) -> Finding:
    cause = kb.cause(cause_id)
    return Finding(id=fid, symbol=symbol, category=cause.id, severity=severity, title=title, evidence=evidence,
                   expected=expected, fix=cause.fix_for(params), docs=cause.docs, area="fleet", params=params,
                   extra={"nodes": nodes})


def _names(nodes: list[str], limit: int = 8) -> str:
    shown = ", ".join(nodes[:limit])
    return shown + (f" and {len(nodes) - limit} more" if len(nodes) > limit else "")


def _majority(counter: Counter) -> Any:
    """The value on most nodes; "unknown" (None) is never the majority while any node knows a value.
    A tie goes to the value that sorts last (usually the newer version), deterministically."""
    known = {k: v for k, v in counter.items() if k is not None}
    if not known:
        return None
    return max(known.items(), key=lambda kv: (kv[1], str(kv[0])))[0]


def _label(value: Any) -> str:
    return UNKNOWN if value is None else str(value)


def histogram(counter: Counter, group: list[NodeReport], key: str, limit: int = 4) -> str:
    """``value: N nodes (a, b ...); value2: ...``, most nodes first, unknown last."""
    parts = []
    for value, count in sorted(counter.items(), key=lambda kv: (kv[0] is None, -kv[1], str(kv[0]))):
        names = sorted(r.node for r in group if r.values.get(key) == value)
        parts.append(f"{_label(value)} on {count} ({_names(names, limit)})")
    return "; ".join(parts)


def _age(seconds: float) -> str:
    if seconds < 3600:
        return f"{seconds / 60:.0f} min"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def merge(
    reports: list[NodeReport],
    *,
    now: _dt.datetime | None = None,
    max_age_s: float = 86400.0,
    expected: list[str] | None = None,
    kb: Any = None,
) -> FleetResult:
    from doctor.kb import default_kb

    kb = kb or default_kb()
    now = now or _dt.datetime.now(_dt.timezone.utc)
    findings: list[Finding] = []

    # duplicates: the newest report of a node wins
    by_node: dict[str, NodeReport] = {}
    duplicates: list[NodeReport] = []
    for r in reports:
        prev = by_node.get(r.node)
        if prev is None:
            by_node[r.node] = r
            continue
        older, newer = (prev, r)
        if prev.status == "ok" and (r.status != "ok" or (prev.created or now) >= (r.created or now)):
            older, newer = r, prev
        by_node[r.node] = newer
        older.status, older.problem = "duplicate", f"another report for {r.node} is used ({newer.source})"
        duplicates.append(older)
    nodes = list(by_node.values())

    # missing, corrupt, stale
    missing = [n for n in (expected or []) if n not in by_node]
    for name in missing:
        nodes.append(NodeReport(node=name, source="", status="missing", problem="no report"))
    for r in nodes:
        if r.status != "ok":
            continue
        if r.created is None:
            r.status, r.problem = "stale", "no creation time"
        elif (now - r.created).total_seconds() > max_age_s:
            r.status, r.problem = "stale", f"{_age((now - r.created).total_seconds())} old"
    nodes.sort(key=lambda r: r.node)
    nodes += sorted(duplicates, key=lambda r: r.node)

    if missing:
        findings.append(_finding(
            "FLT001", "fleet-report-missing", "fleet-report-stale", Severity.ERROR,
            f"{len(missing)} node(s) have no report", f"no report from {_names(missing)}",
            "one report per node named with --nodes", {"nodes": _names(missing), "problem": "no report"}, missing, kb))
    bad = [r for r in nodes if r.status == "corrupt"]
    if bad:
        findings.append(_finding(
            "FLT002", "fleet-report-corrupt", "fleet-report-stale", Severity.ERROR,
            f"{len(bad)} report(s) cannot be read", "; ".join(f"{r.source}: {r.problem}" for r in bad[:5])
            + (f"; and {len(bad) - 5} more" if len(bad) > 5 else ""),
            "trtllm-doctor snapshot or check JSON", {"nodes": _names([r.node for r in bad]), "problem": bad[0].problem},
            [r.node for r in bad], kb))
    stale = [r for r in nodes if r.status == "stale"]
    if stale:
        findings.append(_finding(
            "FLT003", "fleet-report-stale", "fleet-report-stale", Severity.ERROR,
            f"{len(stale)} report(s) are older than {_age(max_age_s)}",
            "; ".join(f"{r.node}: {r.problem}" for r in stale[:5]) + (f"; and {len(stale) - 5} more" if len(stale) > 5 else ""),
            f"reports created in the last {_age(max_age_s)} (--max-age)",
            {"nodes": _names([r.node for r in stale]), "problem": f"older than {_age(max_age_s)}"}, [r.node for r in stale], kb))
    dup_names = sorted({r.node for r in duplicates})
    if dup_names:
        findings.append(_finding(
            "FLT009", "fleet-report-duplicate", "fleet-report-stale", Severity.WARNING,
            f"{len(dup_names)} node(s) have more than one report; the newest is used",
            "; ".join(f"{r.node}: {r.source}" for r in duplicates[:5]), "one report per node",
            {"nodes": _names(dup_names), "problem": "several reports for one node"}, dup_names, kb))

    usable = [r for r in nodes if r.status == "ok"]
    majority: dict[str, Any] = {}

    def differs(key: str, label: str, fid: str, symbol: str, severity: Severity, group: list[NodeReport], scope: str) -> None:
        """One finding per attribute (and engine group): the value histogram over the group's nodes."""
        counter = Counter(r.values.get(key) for r in group)
        if len(group) < 2 or len(counter) < 2:
            return
        top = _majority(counter)
        if top is None:
            return  # nobody knows the value: nothing to compare
        known = [v for v in counter if v is not None]
        odd = sorted(r.node for r in group if r.values.get(key) != top)
        others = [v for v in counter if v != top]
        Label = ("The" + label[3:]) if label.startswith("the ") else label
        if len(known) > 1:
            sev = severity
            ranked = sorted(counter.items(), key=lambda kv: (kv[0] is None, -kv[1], str(kv[0])))
            title = (f"{Label} differs across {len(group)} nodes{scope}: "
                     + ", ".join(f"{_label(v)} on {c}" for v, c in ranked[:4])
                     + (f" and {len(ranked) - 4} other values" if len(ranked) > 4 else ""))
        else:  # one known value, some nodes could not tell
            sev = Severity.WARNING
            title = f"{Label} is unknown on {counter[None]} of {len(group)} nodes{scope} ({_label(top)} on the others)"
        real_majority = counter[top] * 2 > len(group)
        params: dict[str, Any] = {"what": label}
        if real_majority:  # the fix names the odd nodes only when there is a majority to follow
            params.update(majority=_label(top), nodes=_names(odd), value=", ".join(
                f"{_label(v)} ({counter[v]})" for v in sorted(others, key=lambda v: (v is None, -counter[v], str(v)))))
            expected = f"{label}: {_label(top)} (the majority, {counter[top]} of {len(group)}) on every node{scope}"
        else:
            expected = (f"one {label.removeprefix('the ')} on every node{scope} (no value is on most nodes; the most "
                        f"common is {_label(top)}, on {counter[top]} of {len(group)})")
        findings.append(_finding(
            fid, symbol, "fleet-inconsistent", sev, title, f"{label}: {histogram(counter, group, key)}",
            expected, params, odd, kb))

    groups: dict[str, list[NodeReport]] = {}
    for r in usable:
        groups.setdefault(r.engine, []).append(r)
    for engine, group in sorted(groups.items()):
        scope = f" (nodes loading {engine})" if engine else ""
        for key, label, fid, symbol in PER_ENGINE:
            differs(key, label, fid, symbol, Severity.ERROR, group, scope)
    for key, label, fid, symbol, severity in COMPARE:
        differs(key, label, fid, symbol, severity, usable, "")
    for key in ("driver", "cuda", "trtllm", "tensorrt", "torch", "python", "gpu", "gpu_count"):
        counter = Counter(r.values.get(key) for r in usable)
        if counter:
            majority[key] = _majority(counter)

    # the nodes' own findings, merged by rule and title: one finding over N nodes, at the worst severity any of
    # them has (a /dev/shm warning on multi-GPU nodes and a note on single-GPU ones are one line, not two)
    rank = {s.value: s.rank for s in Severity}
    merged: dict[tuple[str, str], list[Any]] = {}  # (id, title) -> [finding, nodes, the node it is from]
    for r in usable:
        for f in r.findings:
            k = (str(f.get("id")), str(f.get("title", "")))
            if k not in merged:
                merged[k] = [f, [], r.node]
            elif rank.get(str(f.get("severity")), 0) > rank.get(str(merged[k][0].get("severity")), 0):
                merged[k][0], merged[k][2] = f, r.node  # the worst node's finding speaks for the group
            merged[k][1].append(r.node)
    node_findings = []
    for (fid, title), (f, names, speaker) in merged.items():
        sev = str(f.get("severity"))
        if sev not in rank:
            sev = Severity.ERROR.value
        names = [speaker] + [n for n in names if n != speaker]
        extra = dict(f.get("extra") or {}) if isinstance(f.get("extra"), dict) else {}
        extra["nodes"] = names
        evidence = str(f.get("evidence", ""))
        if len(names) > 1:
            evidence = f"{names[0]}: {evidence} (and {len(names) - 1} other node(s))"
        else:
            evidence = f"{names[0]}: {evidence}"
        line = f.get("line")
        node_findings.append(Finding(
            id=fid, symbol=str(f.get("symbol", "")), category=str(f.get("category", "")), severity=Severity(sev),
            title=f"{title} ({len(names)} node(s))", evidence=evidence, expected=str(f.get("expected", "")),
            fix=str(f.get("fix", "")), docs=str(f.get("docs", "")), area=str(f.get("area", "")),
            line=line if isinstance(line, int) and not isinstance(line, bool) else None,
            params=f.get("params") if isinstance(f.get("params"), dict) else {}, extra=extra))
    findings += node_findings
    findings.sort(key=lambda f: -f.severity.rank)
    return FleetResult(findings, nodes, majority, {k: [r.node for r in v] for k, v in groups.items()}, now, max_age_s)
