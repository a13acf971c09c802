"""Installed packages, read from metadata on disk; nothing is imported.

The first half of this file is stdlib-only and also runs as a script inside another
interpreter (``--python PATH``): it prints one JSON object and exits. The doctor
process then evaluates tensorrt_llm's Requires-Dist with ``packaging``.
"""

from __future__ import annotations

import json
import os
import platform
import re
import sys

_DIST = re.compile(r"^(?P<name>[A-Za-z0-9][A-Za-z0-9._]*?)-(?P<version>[^-]+?)\.(dist-info|egg-info)$")


def normalize(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def scan(paths: list[str]) -> tuple[dict[str, str], list[str], dict[str, str]]:
    """name -> version for every distribution on these paths (first one wins, as for imports),
    the unreadable ones, and name -> its metadata directory."""
    installed: dict[str, str] = {}
    broken: list[str] = []
    where: dict[str, str] = {}
    for base in paths:
        try:
            entries = os.listdir(base or ".")
        except OSError:
            continue
        for entry in entries:
            if not entry.endswith((".dist-info", ".egg-info")):
                continue
            m = _DIST.match(entry)
            if m:
                name, version = normalize(m.group("name")), m.group("version")
            else:
                meta = _read_metadata(os.path.join(base, entry))
                if not (meta.get("Name") and meta.get("Version")):
                    broken.append(entry)
                    continue
                name, version = normalize(meta["Name"]), meta["Version"]
            if name not in installed:
                installed[name] = version
                where[name] = os.path.join(base, entry)
    return installed, broken, where


def _read_metadata(path: str) -> dict[str, str]:
    for name in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(path, name), encoding="utf-8", errors="replace") as fh:
                head = fh.read(4096)
        except OSError:
            continue
        out = {}
        for line in head.splitlines():
            if not line.strip():
                break
            key, _, value = line.partition(":")
            out.setdefault(key.strip(), value.strip())
        return out
    return {}


def requires_of(meta_dir: str | None) -> list[str]:
    """The Requires-Dist lines of one distribution's METADATA (read as text, never imported)."""
    if not meta_dir:
        return []
    for name in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(meta_dir, name), encoding="utf-8", errors="replace") as fh:
                head, _, _ = fh.read().partition("\n\n")
        except OSError:
            continue
        return [line.split(":", 1)[1].strip() for line in head.splitlines() if line.startswith("Requires-Dist:")]
    return []


def marker_env() -> dict[str, str]:
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": platform.python_version(),
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def raw() -> dict:
    installed, broken, where = scan(sys.path)
    return {
        "python": {
            "version": platform.python_version(),
            "implementation": platform.python_implementation(),
            "executable": sys.executable,
            "venv": sys.prefix != getattr(sys, "base_prefix", sys.prefix),
        },
        "installed": installed,
        "broken": broken,
        "requires": requires_of(where.get("tensorrt-llm")),
        "marker_env": marker_env(),
    }


if __name__ == "__main__":  # running inside another interpreter for --python
    json.dump(raw(), sys.stdout)
    sys.exit(0)


# ---- doctor side (may use packaging) -------------------------------------------------

import functools  # noqa: E402

from doctor.errors import UsageError  # noqa: E402
from doctor.facts import PackagesFacts, Requirement  # noqa: E402


def run_in(python: str, part: str | None = None, timeout: float = 20.0) -> dict:
    """Run this file's stdlib half under another interpreter and return its JSON (once per interpreter)."""
    data = _run_in(python, timeout)
    return data[part] if part else data


@functools.lru_cache(maxsize=4)
def _run_in(python: str, timeout: float) -> dict:
    import shutil
    import subprocess

    exe = shutil.which(python) or python
    if not os.path.exists(exe):
        raise UsageError(f"--python {python}: no such interpreter")
    try:
        proc = subprocess.run(
            [exe, "-I", __file__],
            capture_output=True, text=True, timeout=timeout, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        raise UsageError(f"--python {python}: the interpreter did not answer within {timeout:g} s") from None
    except OSError as exc:
        raise UsageError(f"--python {python}: cannot run it ({exc.strerror})") from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise UsageError(f"--python {python}: the probe failed there ({last})")
    try:
        data = json.loads(proc.stdout)
    except json.JSONDecodeError:
        raise UsageError(f"--python {python}: unexpected output from the probe") from None
    return data


def evaluate(requires: list[str], installed: dict[str, str], env: dict[str, str]) -> list[Requirement]:
    """Check each Requires-Dist line against what is installed (extras-only lines are skipped)."""
    if not requires:
        return []
    from packaging.requirements import InvalidRequirement
    from packaging.requirements import Requirement as Req
    from packaging.version import InvalidVersion, Version

    out = []
    for line in requires:
        try:
            req = Req(line)
        except InvalidRequirement:
            continue
        if req.marker is not None:
            try:
                if not req.marker.evaluate({**env, "extra": ""}):
                    continue
            except Exception:  # noqa: BLE001 - an odd marker is not our user's problem
                continue
        name = normalize(req.name)
        have = installed.get(name)
        ok = have is not None
        if have is not None and req.specifier:
            try:
                ok = req.specifier.contains(Version(have), prereleases=True)
            except InvalidVersion:
                ok = False
        out.append(Requirement(requirement=str(req), name=name, installed=have, ok=ok))
    return out


def probe(python: str | None = None, timeout: float = 5.0) -> PackagesFacts:
    data = run_in(python, timeout=max(timeout, 20.0)) if python else raw()
    facts = PackagesFacts(python=data["python"]["executable"], installed=data["installed"], broken=data["broken"])
    facts.trtllm_requires = evaluate(data["requires"], data["installed"], data["marker_env"])
    return facts
