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


def _header_requires(meta_dir: str) -> list[str]:
    """Requires-Dist lines of a METADATA header, read line by line (the long description is never read)."""
    out: list[str] = []
    for name in ("METADATA", "PKG-INFO"):
        try:
            with open(os.path.join(meta_dir, name), encoding="utf-8", errors="replace") as fh:
                for n, line in enumerate(fh):
                    if not line.strip() or n > 2000:
                        break
                    if line.startswith("Requires-Dist:"):
                        out.append(line.split(":", 1)[1].strip())
        except OSError:
            continue
        return out
    return out


TOOL = "trtllm-doctor"
# What the doctor installs for its own probes (NVML, cuDriverGetVersion). Present only because of it, they are not
# the user's environment: reporting them would make the doctor diagnose its own dependencies (a cuda-python 13
# pulled into a CUDA 12 venv, say). One is the user's when it was asked for (REQUESTED) or another
# distribution (tensorrt-llm, numba-cuda, ...) requires it.
PROBE_PACKAGES = ("cuda-python", "cuda-bindings", "cuda-pathfinder", "cuda-core", "nvidia-ml-py")


_EXTRA = re.compile(r"extra\s*==")


def _req_name(line: str) -> str:
    m = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", line)
    return normalize(m.group(1)) if m else ""


def tool_only(installed: dict[str, str], where: dict[str, str]) -> list[str]:
    """The probe packages present only because trtllm-doctor is installed in this environment."""
    if TOOL not in installed:
        return []
    candidates = {n for n in PROBE_PACKAGES if n in installed and n in where
                  and not os.path.exists(os.path.join(where[n], "REQUESTED"))}
    if not candidates:
        return []
    needed: set[str] = set()
    for name, meta in where.items():
        if name == TOOL or name in candidates:
            continue
        for line in _header_requires(meta):
            if _EXTRA.search(line):  # only with an extra the user may not have asked for
                continue
            dep = _req_name(line)
            if dep in candidates:
                needed.add(dep)
    changed = True
    while changed:  # a kept probe package keeps what it needs (cuda-python -> cuda-bindings -> cuda-pathfinder)
        changed = False
        for name in list(needed):
            for line in _header_requires(where[name]):
                dep = _req_name(line)
                if dep in candidates and dep not in needed and not _EXTRA.search(line):
                    needed.add(dep)
                    changed = True
    return sorted(candidates - needed)


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
        "tool_only": tool_only(installed, where),
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
    sys.stdout.flush()
    sys.exit(0)


# ---- doctor side (may use packaging) -------------------------------------------------

import functools  # noqa: E402

from doctor.errors import UsageError  # noqa: E402
from doctor.facts import PackagesFacts, Requirement  # noqa: E402


OUTPUT_LIMIT = 32 << 20  # the package list of a very large environment is a few hundred kB
# Run under the other interpreter with -E -s (no PYTHON* variables, no user site) and without the working
# directory on sys.path, like -I, but in a form Python 2 and old 3.x can read and answer: they only say
# their version, and the doctor says it needs 3.7 or newer.
_BOOTSTRAP = (
    "import sys\n"
    "if sys.version_info < (3, 7):\n"
    "    sys.stdout.write('@@trtllm-doctor-old-python@@ %d.%d.%d\\n' % tuple(sys.version_info[:3]))\n"
    "    sys.exit(0)\n"
    "sys.path = [p for p in sys.path if p]\n"
    "sys.argv = [{path!r}]\n"
    "import runpy\n"
    "runpy.run_path({path!r}, run_name='__main__')\n"
)


def resolve_interpreter(python: str, flag: str = "--python") -> str:
    """``--python`` as an executable: a path, a command on PATH, or a venv (or conda) folder's bin/python."""
    import shutil

    given = os.path.expanduser(python)
    if os.path.isdir(given):
        for rel in ("bin/python3", "bin/python", "Scripts/python.exe", "python.exe"):
            cand = os.path.join(given, rel)
            if os.path.isfile(cand):
                return cand
        raise UsageError(f"{flag} {python}: a folder without bin/python (give an interpreter, or a venv folder)")
    exe = given if os.sep in given else (shutil.which(given) or given)
    if not os.path.exists(exe):
        raise UsageError(f"{flag} {python}: no such interpreter")
    if not os.path.isfile(exe) or not os.access(exe, os.X_OK):
        raise UsageError(f"{flag} {python}: not an executable file")
    return os.path.abspath(exe)


def run_in(python: str, part: str | None = None, timeout: float = 5.0) -> dict:
    """Run this file's stdlib half under another interpreter and return its JSON (once per interpreter)."""
    data = _run_in(python, timeout)
    return data[part] if part else data


def _condense(text: str, limit: int = 400) -> str:
    one = " ".join(text.split())
    return one if len(one) <= limit else one[: limit - 3] + "..."


@functools.lru_cache(maxsize=4)
def _run_in(python: str, timeout: float) -> dict:
    from doctor.probes.proc import run

    exe = resolve_interpreter(python)
    try:
        proc = run([exe, "-E", "-s", "-c", _BOOTSTRAP.format(path=__file__)], timeout=timeout, limit=OUTPUT_LIMIT)
    except OSError as exc:
        raise UsageError(f"--python {python}: cannot run it ({exc.strerror or exc})") from None
    if proc.timed_out:
        raise UsageError(f"--python {python}: the interpreter did not answer within {timeout:g} s (--timeout)")
    if proc.truncated:
        raise UsageError(f"--python {python}: more than {OUTPUT_LIMIT >> 20} MiB of output; not a Python interpreter?")
    old = re.search(r"@@trtllm-doctor-old-python@@ (\d+\.\d+\.\d+)", proc.stdout)
    if old:
        raise UsageError(f"--python {python}: Python {old.group(1)}; the doctor's probe needs Python 3.7 or newer "
                         "(TensorRT-LLM itself needs 3.10+)")
    if proc.returncode != 0:
        why = _condense(proc.stderr) or _condense(proc.stdout) or f"exit code {proc.returncode}"
        raise UsageError(f"--python {python}: the probe failed there ({why})")
    try:
        data = json.loads(proc.stdout)
    except ValueError:
        raise UsageError(f"--python {python}: unexpected output from the probe ({_condense(proc.stdout, 120)!r})") from None
    if not isinstance(data, dict) or not isinstance(data.get("python"), dict) or not isinstance(data.get("installed"), dict):
        raise UsageError(f"--python {python}: unexpected output from the probe")
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
    data = run_in(python, timeout=timeout) if python else raw()
    tool = set(data.get("tool_only") or [])
    installed = {k: v for k, v in data["installed"].items() if k not in tool}
    facts = PackagesFacts(python=data["python"]["executable"], installed=installed, broken=data["broken"])
    facts.trtllm_requires = evaluate(data["requires"], installed, data["marker_env"])
    return facts
