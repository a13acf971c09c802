"""Operating system and Python checks."""

from __future__ import annotations

from packaging.version import InvalidVersion, Version

from doctor.checks import Context, Fail, Skip, check
from doctor.report import Severity

# The guide's minimum OS is Ubuntu 22.04, whose glibc is 2.35.
MIN_GLIBC = "2.35"


@check("OS001", "os-not-linux", area="platform", cause="os-unsupported", title="TensorRT-LLM needs Linux")
def os_is_linux(ctx: Context):
    """TensorRT-LLM ships Linux wheels and containers only (Windows support ended in 0.18; macOS never had it)."""
    p = ctx.facts.platform
    if p.system is None:
        return Skip(p.error or "operating system unknown")
    if p.system != "Linux":
        name = p.distro_name or p.system
        return Fail(f"{name} {p.distro_version or ''} ({p.system}, {p.arch})".replace("  ", " "), "Linux (Ubuntu 22.04 or 24.04)")
    return None


@check("OS002", "cpu-arch-unsupported", area="platform", cause="os-unsupported",
       title="CPU architecture has no TensorRT-LLM wheels for the target release")
def cpu_arch(ctx: Context):
    """Wheels exist for x86_64, and for aarch64 (GH200, GB200, DGX Spark) from the releases that list it."""
    p, rel = ctx.facts.platform, ctx.target.release
    if p.system != "Linux" or not p.arch:
        return Skip("not Linux or architecture unknown")
    if rel is None:
        return Skip("target release not in the knowledge base")
    arch = {"amd64": "x86_64", "arm64": "aarch64"}.get(p.arch.lower(), p.arch.lower())
    supported = [x.split("-", 1)[1] for x in rel.platforms if x.startswith("linux-")]
    if arch not in supported:
        return Fail(f"{arch}", f"one of {', '.join(supported)} for TensorRT-LLM {rel.version}",
                    {"release": rel.version})
    return None


@check("OS003", "wsl2", area="platform", cause="wsl2-slow-build", title="Running under WSL2: engine builds are slow",
       severity=Severity.WARNING)
def wsl2(ctx: Context):
    """WSL2 runs TensorRT-LLM inference, but builds through the Windows filesystem are slow (the guide)."""
    p = ctx.facts.platform
    if p.wsl:
        return Fail(f"kernel {p.kernel}", "native Linux for engine builds")
    return None


@check("OS004", "glibc-old", area="platform", cause="glibc-too-old", title="glibc older than the supported OS",
       severity=Severity.WARNING)
def glibc(ctx: Context):
    """The guide's minimum is Ubuntu 22.04 (glibc 2.35); older systems miss symbols the wheels link against."""
    p = ctx.facts.platform
    if p.system != "Linux":
        return Skip("not Linux")
    if not p.glibc:
        return Skip("glibc version unknown (musl or not detected)")
    try:
        old = Version(p.glibc) < Version(MIN_GLIBC)
    except InvalidVersion:
        return Skip(f"unreadable glibc version {p.glibc!r}")
    if old:
        distro = f"{p.distro_name or p.distro_id or 'Linux'} {p.distro_version or ''}".strip()
        return Fail(f"glibc {p.glibc} ({distro})", f"glibc {MIN_GLIBC}+ (Ubuntu 22.04 or newer)", {"symbol": f"glibc {MIN_GLIBC}"})
    return None


@check("PY001", "python-no-wheel", area="python", cause="python-no-wheel",
       title="No TensorRT-LLM wheel for this Python version")
def python_has_wheel(ctx: Context):
    """Each release publishes wheels for a few CPython minors only (3.10, and 3.12 from 0.16)."""
    py, rel = ctx.facts.python, ctx.target.release
    if not py.version:
        return Skip(py.error or "Python version unknown")
    if rel is None:
        return Skip("target release not in the knowledge base")
    minor = ".".join(py.version.split(".")[:2])
    impl = py.implementation or "CPython"
    supported = ", ".join(f"Python {v}" for v in rel.python)
    if impl != "CPython":
        return Fail(f"{impl} {py.version}", f"CPython {' or '.join(rel.python)}",
                    {"python": py.version, "release": rel.version, "supported": supported})
    if minor not in rel.python:
        newest = rel.python[-1]
        return Fail(f"Python {py.version} ({py.executable})", f"Python {' or '.join(rel.python)} for TensorRT-LLM {rel.version}",
                    {"python": py.version, "release": rel.version, "supported": supported,
                     "venv": f"`python{newest} -m venv ~/venvs/trtllm && . ~/venvs/trtllm/bin/activate`"})
    return None
