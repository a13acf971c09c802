"""Policy files: what a site requires of its machines, for unattended runs (CI, init containers, Slurm).

A policy is ``trtllm-doctor.toml`` or the ``[tool.trtllm-doctor]`` table of a
``pyproject.toml``, found by walking up from the working directory (the first
directory that has either wins; ``trtllm-doctor.toml`` before ``pyproject.toml``),
or named with ``--config``. Example::

    fail_on = "warning"                  # "error" (default) or "warning"

    [target]                             # defaults for `check` when the CLI does not set them
    model = "llama-3.1-8b"
    quant = "fp8"
    tp = 2
    max_seq_len = 8192
    max_batch_size = 64

    [minimum]                            # versions below these are errors (POL002)
    driver = "550.54"
    cuda = "12.4"                        # the highest CUDA the driver supports
    tensorrt-llm = "0.17.0"
    packages = { torch = "2.5" }         # any other distribution

    [severity]                           # by check id, symbol or cause id
    HOST004 = "info"
    disk-too-small = "error"

    [[ignore]]
    id = "mixed-gpus"                    # a check id/symbol, signature id or cause id
    reason = "node gpu17 is being replaced (TICKET-123)"
    until = 2026-12-31                   # inclusive; afterwards the finding is back and POL001 says so

Every mistake in a policy is a usage error (exit 2) naming the file and the key.
Applying it: severity overrides first, then ignores (the ignored findings move to
``report.extra["ignored"]`` with their reason), then a notice for each expired ignore.
"""

from __future__ import annotations

import datetime as _dt
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from doctor.errors import UsageError
from doctor.report import Finding, Report, Severity

POLICY_FILE = "trtllm-doctor.toml"
PYPROJECT = "pyproject.toml"
TOOL_TABLE = "trtllm-doctor"

TOP_KEYS = ("fail_on", "target", "minimum", "severity", "ignore")
FAIL_ON = {"error": Severity.ERROR, "warning": Severity.WARNING}
SEVERITIES = {s.value: s for s in Severity}
IGNORE_KEYS = ("id", "reason", "until")
# target key -> (type, CheckOptions field)
TARGET_KEYS: dict[str, tuple[type, str]] = {
    "model": (str, "model"),
    "engine": (str, "engine"),
    "quant": (str, "quant"),
    "kv_cache_dtype": (str, "kv_cache_dtype"),
    "tp": (int, "tp"),
    "pp": (int, "pp"),
    "max_seq_len": (int, "max_seq_len"),
    "max_batch_size": (int, "max_batch_size"),
    "max_num_tokens": (int, "max_num_tokens"),
    "trtllm_version": (str, "trtllm_version"),
    "workdir": (str, "workdir"),
}
PATH_TARGETS = ("engine", "workdir")  # relative to the policy file's folder
# minimum key -> what it is compared with, as a label for findings
MINIMUM_KEYS = {
    "driver": "NVIDIA driver",
    "cuda": "CUDA supported by the driver",
    "python": "Python",
    "tensorrt-llm": "tensorrt-llm",
    "tensorrt": "tensorrt",
    "torch": "torch",
    "transformers": "transformers",
    "packages": "",
}


@dataclass(frozen=True)
class Ignore:
    id: str
    reason: str
    until: _dt.date | None = None

    def expired(self, today: _dt.date) -> bool:
        return self.until is not None and today > self.until

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "reason": self.reason, "until": self.until.isoformat() if self.until else None}


@dataclass
class Policy:
    path: Path | None = None
    fail_on: Severity = Severity.ERROR
    target: dict[str, Any] = field(default_factory=dict)
    minimum: dict[str, str] = field(default_factory=dict)  # component (driver, cuda, python, package name) -> version
    severity: dict[str, Severity] = field(default_factory=dict)
    ignore: list[Ignore] = field(default_factory=list)


# --- discovery and loading ---------------------------------------------------------------


POLICY_LIMIT = 4 * 2**20


def _read_toml(path: Path) -> dict[str, Any]:
    """A policy or pyproject.toml: a regular file of at most 4 MiB, UTF-8 TOML; every problem one line."""
    from doctor.inputs import parse_toml, read_text

    text = read_text(path, "a policy", POLICY_LIMIT)
    return parse_toml(text, "a policy", path)


def _pyproject_table(path: Path, data: dict[str, Any]) -> dict[str, Any] | None:
    tool = data.get("tool")
    if not isinstance(tool, dict) or TOOL_TABLE not in tool:
        return None
    table = tool[TOOL_TABLE]
    if not isinstance(table, dict):
        raise UsageError(f"policy {path}: [tool.{TOOL_TABLE}] must be a table")
    return table


def find_policy(start: Path | None = None) -> Path | None:
    """The policy file for ``start`` (default: the working directory), searching upward."""
    try:
        here = (start or Path.cwd()).resolve()
    except OSError:  # the working directory was deleted
        return None
    for folder in (here, *here.parents):
        candidate = folder / POLICY_FILE
        if candidate.is_file():
            return candidate
        pyproject = folder / PYPROJECT
        if pyproject.is_file():
            from doctor.inputs import read_bytes

            try:
                text = read_bytes(pyproject, "a pyproject.toml", POLICY_LIMIT).decode("utf-8", "replace")
            except UsageError:
                continue
            # only a pyproject that mentions our table is parsed (a broken unrelated one is not our business)
            if re.search(r"^\s*\[\s*tool\s*\.\s*[\"']?trtllm-doctor", text, re.M):
                return pyproject
    return None


def load_policy(path: Path) -> Policy:
    """Read and validate one policy file; any mistake is a UsageError naming the file and key."""
    data = _read_toml(path)
    if path.name == PYPROJECT:
        table = _pyproject_table(path, data)
        if table is None:
            raise UsageError(f"policy {path}: has no [tool.{TOOL_TABLE}] table")
        where = f"{path} [tool.{TOOL_TABLE}]"
    else:
        table = data
        where = str(path)
    return parse_policy(table, where, path)


def parse_policy(table: dict[str, Any], where: str, path: Path | None = None) -> Policy:
    def bad(key: str, why: str) -> UsageError:
        return UsageError(f"policy {where}: key {key!r}: {why}")

    for key in table:
        if key not in TOP_KEYS:
            raise bad(key, f"unknown key (known: {', '.join(TOP_KEYS)})")
    policy = Policy(path=path)

    if "fail_on" in table:
        value = table["fail_on"]
        if not isinstance(value, str) or value not in FAIL_ON:
            raise bad("fail_on", f"expected \"error\" or \"warning\", found {value!r}")
        policy.fail_on = FAIL_ON[value]

    target = table.get("target", {})
    if not isinstance(target, dict):
        raise bad("target", "expected a table")
    for key, value in target.items():
        if key not in TARGET_KEYS:
            raise bad(f"target.{key}", f"unknown key (known: {', '.join(TARGET_KEYS)})")
        kind = TARGET_KEYS[key][0]
        if kind is int:
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise bad(f"target.{key}", f"expected a whole number >= 1, found {value!r}")
        elif not isinstance(value, str) or not value.strip() or "\x00" in value:
            raise bad(f"target.{key}", f"expected a non-empty string, found {value!r}")
        if key in PATH_TARGETS and path is not None and not Path(value).expanduser().is_absolute():
            value = str(path.parent / value)
        if key == "model" and path is not None and isinstance(value, str) and not Path(value).is_absolute():
            local = path.parent / value
            if local.exists():
                value = str(local)
        policy.target[key] = value
    if "quant" in policy.target:
        from doctor.target import QUANTS

        if policy.target["quant"] not in QUANTS:
            raise bad("target.quant", f"choose one of {', '.join(QUANTS)}, found {policy.target['quant']!r}")
    if "kv_cache_dtype" in policy.target:
        from doctor.target import KV_DTYPES

        if policy.target["kv_cache_dtype"] not in KV_DTYPES:
            raise bad("target.kv_cache_dtype", f"choose one of {', '.join(KV_DTYPES)}")

    minimum = table.get("minimum", {})
    if not isinstance(minimum, dict):
        raise bad("minimum", "expected a table")
    for key, value in minimum.items():
        if key not in MINIMUM_KEYS:
            raise bad(f"minimum.{key}", f"unknown key (known: {', '.join(MINIMUM_KEYS)}; other distributions go in minimum.packages)")
        if key == "packages":
            if not isinstance(value, dict):
                raise bad("minimum.packages", "expected a table of distribution = \"version\"")
            for name, ver in value.items():
                policy.minimum[_normalise(name)] = _version_value(ver, f"minimum.packages.{name}", bad)
        else:
            policy.minimum[key] = _version_value(value, f"minimum.{key}", bad)

    severity = table.get("severity", {})
    if not isinstance(severity, dict):
        raise bad("severity", "expected a table of id = \"error\" | \"warning\" | \"info\"")
    for key, value in severity.items():
        if not isinstance(value, str) or value not in SEVERITIES:
            raise bad(f"severity.{key}", f"expected \"error\", \"warning\" or \"info\", found {value!r}")
        policy.severity[key] = SEVERITIES[value]

    ignores = table.get("ignore", [])
    if not isinstance(ignores, list):
        raise bad("ignore", "expected an array of tables: [[ignore]] id = \"...\" reason = \"...\"")
    for i, entry in enumerate(ignores):
        label = f"ignore[{i}]"
        if not isinstance(entry, dict):
            raise bad(label, "expected a table with id, reason and optional until")
        if isinstance(entry.get("id"), str):
            label += f" ({entry['id']})"
        for key in entry:
            if key not in IGNORE_KEYS:
                raise bad(f"{label}.{key}", f"unknown key (known: {', '.join(IGNORE_KEYS)})")
        rid = entry.get("id")
        if not isinstance(rid, str) or not rid.strip():
            raise bad(f"{label}.id", "missing: which check, signature or cause to ignore")
        reason = entry.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise bad(f"{label}.reason", "missing: every ignore needs a reason (who, why, which ticket)")
        policy.ignore.append(Ignore(rid.strip(), reason.strip(), _date_value(entry.get("until"), f"{label}.until", bad)))
    return policy


def _normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _version_value(value: Any, key: str, bad) -> str:
    from packaging.version import InvalidVersion, Version

    if isinstance(value, (int, float)) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str):
        raise bad(key, f"expected a version string, found {value!r}")
    try:
        Version(value)
    except InvalidVersion:
        raise bad(key, f"{value!r} is not a version") from None
    return value


def _date_value(value: Any, key: str, bad) -> _dt.date | None:
    if value is None:
        return None
    if isinstance(value, _dt.datetime):
        return value.date()
    if isinstance(value, _dt.date):
        return value
    if isinstance(value, str):
        try:
            return _dt.date.fromisoformat(value.strip())
        except ValueError:
            pass
    raise bad(key, f"expected a date YYYY-MM-DD, found {value!r}")


def resolve(config: Path | None, start: Path | None = None) -> Policy:
    """The policy in effect: ``config`` when given, else the one found upward, else the defaults."""
    if config is not None:
        path = Path(config).expanduser()
        try:
            exists = path.exists()
        except (OSError, ValueError):
            exists = False
        if not exists:
            raise UsageError(f"policy {config}: no such file")
        return load_policy(path)
    found = find_policy(start)
    return load_policy(found) if found is not None else Policy()


# --- applying ----------------------------------------------------------------------------


def set_on_command_line(ctx: Any) -> set[str]:
    """Names of the parameters the user gave (command line or environment), from a click/typer context."""
    given = {"COMMANDLINE", "ENVIRONMENT", "PROMPT"}  # by name: typer may vendor its own click
    out = set()
    for name in ctx.params:
        source = ctx.get_parameter_source(name)
        if getattr(source, "name", None) in given:
            out.add(name)
    return out


def fill_check_options(opts: Any, policy: Policy, explicit: set[str]) -> Any:
    """Fill CheckOptions fields from ``[target]`` unless the command line set them; what was taken is kept
    in ``opts.from_policy`` (key -> value) for the report's header."""
    taken = {}
    for key, value in policy.target.items():
        name = TARGET_KEYS[key][1]
        if name in explicit or not hasattr(opts, name):
            continue
        if name in ("engine", "workdir"):
            value = Path(value).expanduser()
        setattr(opts, name, value)
        taken[key] = str(value)
    try:
        opts.from_policy = taken
    except AttributeError:
        pass
    return opts


def _matches(f: Finding | dict[str, Any], key: str) -> bool:
    if isinstance(f, dict):
        return key in (f.get("id"), f.get("symbol"), f.get("category"))
    return key in (f.id, f.symbol, f.category)


def _finding(fid: str, symbol: str, cause_id: str, severity: Severity, title: str, evidence: str, expected: str,
             params: dict[str, Any]) -> Finding:
    from doctor.kb import default_kb

    cause = default_kb().cause(cause_id)
    return Finding(id=fid, symbol=symbol, category=cause.id, severity=severity, title=title, evidence=evidence,
                   expected=expected, fix=cause.fix_for(params), docs=cause.docs, area="policy", params=params)


def _installed(facts: dict[str, Any], component: str) -> tuple[str | None, bool]:
    """(version found, whether the facts could tell) for a minimum's component."""
    try:
        if component == "driver":
            v = facts["driver"].get("version")
            return v, v is not None
        if component == "cuda":
            v = facts["driver"].get("cuda_version")
            return v, v is not None
        if component == "python":
            v = facts["python"].get("version")
            return v, v is not None
        pk = facts["packages"]
        if pk.get("error"):
            return None, False
        return pk.get("installed", {}).get(component), True
    except (KeyError, TypeError, AttributeError):
        return None, False


# a component the policy sets a minimum for -> the cause of the finding that says it is absent
_ABSENT_CAUSE = {"tensorrt-llm": "trtllm-not-installed", "NVIDIA driver": "driver-missing",
                 "CUDA supported by the driver": "driver-missing"}


def minimum_findings(facts: dict[str, Any] | None, policy: Policy) -> list[Finding]:
    from packaging.version import InvalidVersion, Version

    if not facts or not policy.minimum:
        return []
    where = str(policy.path) if policy.path else "the policy"
    out = []
    for component, minimum in policy.minimum.items():
        found, known = _installed(facts, component)
        if not known:
            continue
        label = MINIMUM_KEYS.get(component) or component
        params = {"component": label, "minimum": minimum, "found": found, "policy": where}
        if found is None:
            out.append(_finding("POL002", "policy-min-version", "policy-min-version", Severity.ERROR,
                                f"{label} is not installed; the policy requires {minimum} or newer",
                                f"{label}: not installed", f"{label} >= {minimum} (policy {where})", params))
            continue
        try:
            low = Version(found) < Version(minimum)
        except InvalidVersion:
            continue
        if low:
            out.append(_finding("POL002", "policy-min-version", "policy-min-version", Severity.ERROR,
                                f"{label} {found} is older than the policy's minimum {minimum}",
                                f"{label} {found}", f"{label} >= {minimum} (policy {where})", params))
    return out


def apply(report: Report, policy: Policy, today: _dt.date | None = None) -> Severity:
    """Apply ``policy`` to ``report`` in place; return the severity at which the run fails."""
    today = today or _dt.date.today()
    for f in minimum_findings(report.facts, policy):
        absent = _ABSENT_CAUSE.get(f.params.get("component", "")) if f.params.get("found") is None else None
        root = next((g for g in report.findings if absent and g.category == absent), None)
        if root is None:
            report.findings.append(f)
        else:  # "not installed" is already the root cause the report names; the minimum sits under it
            root.extra.setdefault("consequences", []).append(
                {"id": f.id, "symbol": f.symbol, "category": f.category, "title": f.title, "severity": f.severity.value,
                 "evidence": f.evidence, "why": "what is not installed meets no minimum", "line": None, "params": f.params})

    for f in report.findings:
        for key, sev in policy.severity.items():
            if _matches(f, key) and f.severity is not sev:
                f.extra["policy_severity"] = {"from": f.severity.value, "to": sev.value, "key": key}
                f.severity = sev
                break

    active = [ig for ig in policy.ignore if not ig.expired(today)]
    kept: list[Finding] = []
    ignored: list[dict[str, Any]] = []
    for f in report.findings:
        rule = next((ig for ig in active if _matches(f, ig.id)), None)
        if rule is None:
            kept.append(f)
        else:
            ignored.append({**f.to_dict(), "ignore": rule.to_dict()})
    where = str(policy.path) if policy.path else "the policy"
    for ig in policy.ignore:
        if ig.expired(today):
            assert ig.until is not None
            params = {"rule": ig.id, "until": ig.until.isoformat(), "reason": ig.reason, "policy": where}
            kept.append(_finding(
                "POL001", "policy-ignore-expired", "policy-ignore-expired", Severity.WARNING,
                f"An ignore for {ig.id} expired on {ig.until.isoformat()}; its findings are reported again",
                f"[[ignore]] id = {ig.id!r}, until = {ig.until.isoformat()}, reason = {ig.reason!r} (in {where})",
                f"an ignore dated today ({today.isoformat()}) or later, or none", params))
    kept.sort(key=lambda f: -f.severity.rank)  # stable: keeps each command's own order within a severity
    report.findings[:] = kept
    if ignored:
        report.extra["ignored"] = ignored
    if policy.path is not None:
        report.extra.setdefault("policy", {})["file"] = str(policy.path)
    return policy.fail_on


def apply_policy(report: Report, config: Path | None) -> Severity:
    """Apply the policy (``--config`` or the one found upward) to the report in place; return the failing severity."""
    return apply(report, resolve(config))
