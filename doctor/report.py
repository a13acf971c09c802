"""The report model shared by every command: severities, causes, findings, reports.

A *cause* is one entry of the catalogue in ``rules/causes.toml`` (id, title, fix
template, docs link). A check, an explain signature or a failing self-test tier
produces a *finding*: the cause plus what was observed, what was expected and
the parameters that fill the cause's fix template. Renderers only lay these out.
"""

from __future__ import annotations

import enum
import re
from dataclasses import asdict, dataclass, field
from typing import Any

SCHEMA_VERSION = 1


class Severity(str, enum.Enum):
    ERROR = "error"
    WARNING = "warning"
    INFO = "info"

    @property
    def rank(self) -> int:
        return {"error": 2, "warning": 1, "info": 0}[self.value]


_OPTIONAL = re.compile(r"\[\?((?:(?!\[\?).)*?)\?\]", re.S)  # innermost first: segments may nest
_FIELD = re.compile(r"\{([a-zA-Z_][a-zA-Z0-9_]*)\}")


def render_template(template: str, params: dict[str, Any]) -> str:
    """Fill ``{name}`` fields from params.

    ``[? ... ?]`` marks an optional segment: it is kept (filled) only when every
    field inside it has a value, and dropped otherwise. A required field with no
    value is written as ``<name>`` so the gap is visible rather than a crash.
    """

    def has(name: str) -> bool:
        return params.get(name) not in (None, "")

    def optional(m: re.Match[str]) -> str:
        inner = m.group(1)
        return inner if all(has(n) for n in _FIELD.findall(inner)) else ""

    text, prev = template, None
    while text != prev:  # nested segments, innermost first
        prev, text = text, _OPTIONAL.sub(optional, text)
    text = _FIELD.sub(lambda m: str(params[m.group(1)]) if has(m.group(1)) else f"<{m.group(1)}>", text)
    if template[:2] == "[?" and text[:1].islower():  # a sentence that began in a dropped segment
        text = text[0].upper() + text[1:]
    return text


@dataclass(frozen=True)
class Cause:
    """One root cause with its single, shared fix text."""

    id: str
    title: str
    fix: str
    docs: str
    note: str = ""
    generic: bool = False  # a catch-all (an MPI abort, an NCCL "internal error"): any specific cause in the same log explains it
    defaults: dict[str, str] = field(default_factory=dict)  # values for fix fields a finding may not have
    distinct: bool = False  # each finding of this cause is its own problem (e.g. one per LLM API option): never folded together

    def fix_for(self, params: dict[str, Any]) -> str:
        """The fix with the finding's parameters; a field it lacks takes the cause's default (itself a template)."""
        values = {k: v for k, v in params.items() if v not in (None, "")}
        for k, v in self.defaults.items():
            if k not in values:
                values[k] = render_template(v, values)
        return render_template(self.fix, values)

    def required_fields(self) -> set[str]:
        """Fields outside optional segments that have no default: a template error (a placeholder would show)."""
        text, prev = self.fix, None
        while text != prev:
            prev, text = text, _OPTIONAL.sub("", text)
        return set(_FIELD.findall(text)) - set(self.defaults)


@dataclass
class Finding:
    """One problem, from any source (check, explain, selftest, fleet, policy)."""

    id: str  # stable id of the rule that produced it (check id, signature id, tier id)
    symbol: str  # readable kebab-case name of that rule
    category: str  # the cause id
    severity: Severity
    title: str
    evidence: str
    expected: str
    fix: str
    docs: str
    area: str = ""
    line: int | None = None  # explain: first line number of the evidence
    params: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # source-specific detail (ranks, lines, timings)

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["severity"] = self.severity.value
        return d


@dataclass
class CheckResult:
    """The outcome of one check: passed, failed (with findings) or skipped (with why)."""

    id: str
    symbol: str
    area: str
    title: str
    status: str  # "pass" | "fail" | "skip"
    reason: str = ""  # why skipped

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Report:
    """What every command returns and every renderer lays out."""

    command: str
    findings: list[Finding] = field(default_factory=list)
    facts: dict[str, Any] | None = None
    checks: list[CheckResult] = field(default_factory=list)
    target: dict[str, Any] = field(default_factory=dict)
    extra: dict[str, Any] = field(default_factory=dict)  # command-specific payload (plan table, selftest tiers...)

    def worst(self) -> Severity | None:
        if not self.findings:
            return None
        return max((f.severity for f in self.findings), key=lambda s: s.rank)

    def summary(self) -> dict[str, int]:
        counts = {s.value: 0 for s in Severity}
        for f in self.findings:
            counts[f.severity.value] += 1
        counts["checks_passed"] = sum(1 for c in self.checks if c.status == "pass")
        counts["checks_failed"] = sum(1 for c in self.checks if c.status == "fail")
        counts["checks_skipped"] = sum(1 for c in self.checks if c.status == "skip")
        return counts

    def exit_code(self, fail_on: Severity = Severity.ERROR) -> int:
        worst = self.worst()
        return 1 if worst is not None and worst.rank >= fail_on.rank else 0

    def to_dict(self) -> dict[str, Any]:
        from doctor import __version__

        out: dict[str, Any] = {
            "schema_version": SCHEMA_VERSION,
            "tool": {"name": "trtllm-doctor", "version": __version__, "command": self.command},
            "target": self.target,
            "facts": self.facts,
            "checks": [c.to_dict() for c in self.checks],
            "findings": [f.to_dict() for f in self.findings],
            "summary": self.summary(),
        }
        if self.extra:
            out["extra"] = self.extra
        return out
