"""Installed-package checks: TensorRT-LLM present, its declared requirements met, wheels agreeing on CUDA."""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

from doctor.checks import Context, Fail, Skip, check
from doctor.report import Severity

KEY_PACKAGES = ("tensorrt", "torch", "cuda-python", "cuda-bindings", "nvidia-modelopt", "transformers", "mpi4py")


def install_plan(ctx: Context) -> tuple[object | None, str | None, str]:
    """The release to install (the one asked or whose engine is checked, else the newest stable that fits
    this Python and driver), a copy-pasteable install line, and what it fits ("" when unknown)."""
    f, kb = ctx.facts, ctx.kb
    minor = ".".join((f.python.version or "").split(".")[:2])
    from doctor.checks.driver import driver_cuda

    driver_major = None
    m = re.match(r"(\d+)\.", driver_cuda(ctx) or "")
    if m:
        driver_major = int(m.group(1))
    pinned = ctx.target.release if ctx.target.release_source in ("asked", "engine") else None
    candidates = [pinned] if pinned else [r for r in reversed(kb.releases) if not r.prerelease]
    fits_driver = [r for r in candidates if driver_major is None or r.cuda_major <= driver_major] or candidates
    rel = next((r for r in fits_driver if not minor or minor in r.python), fits_driver[0] if fits_driver else None)
    if rel is None:
        return None, None, ""
    steps = list(rel.install) if rel.install else [f"pip3 install tensorrt_llm=={rel.version}"]
    fits = []
    root = bool(getattr(f.host, "is_root", False))
    steps = [part.strip() for x in steps for part in x.split("&&") if part.strip()]
    steps = [("sudo " + x if x.startswith("apt-get") and not root else x) for x in steps]  # as a user pastes it
    if minor and minor not in rel.python:
        py = rel.python[-1]
        # the venv after the system packages (they may be what installs python3.X), before the first pip
        at = next((i for i, x in enumerate(steps) if x.split()[0] in ("pip", "pip3", "python3", "python")), len(steps))
        steps = steps[:at] + [f"python{py} -m venv ~/venvs/trtllm", ". ~/venvs/trtllm/bin/activate"] + steps[at:]
        fits.append(f"needs Python {' or '.join(rel.python)}; this is {f.python.version}")
    elif minor:
        fits.append(f"fits Python {f.python.version}")
    if driver_major is None:
        fits.append("needs an NVIDIA driver first" if not f.driver.version else "driver CUDA unknown")
    elif rel.cuda_major <= driver_major:
        fits.append(f"fits this driver (CUDA {driver_cuda(ctx)})")
    else:
        fits.append(f"needs a driver for CUDA {rel.cuda_major}")
    return rel, " && ".join(steps), "; ".join(fits)


@check("PKG001", "trtllm-not-installed", area="packages", cause="trtllm-not-installed",
       title="TensorRT-LLM is not installed")
def trtllm_installed(ctx: Context):
    """Without the tensorrt_llm package there is no trtllm-build or trtllm-serve; the fix names the release
    (the one asked with --trtllm-version, or that built the --engine, else the newest that suits this Python
    and driver) and one install line that works as pasted."""
    pk = ctx.facts.packages
    if ctx.facts.platform.system not in (None, "Linux") and "tensorrt-llm" not in pk.installed:
        # not a pass: it is missing, because of the OS (OS001 is the root; this sits under it as a consequence)
        return Fail(f"no tensorrt-llm distribution in {pk.python or 'this Python'}; it has no wheels for "
                    f"{ctx.facts.platform.system}", "a Linux machine (or WSL2) with an NVIDIA GPU", {})
    if pk.error and not pk.installed:
        return Skip(f"packages unknown ({pk.error})")
    if "tensorrt-llm" in pk.installed:
        return None
    rel, command, fits = install_plan(ctx)
    params = {"install": command, "container": getattr(rel, "container", None) or None, "release": getattr(rel, "version", None)}
    expected = (f"tensorrt-llm {rel.version}" + (f" ({fits})" if fits else "")) if rel else "tensorrt-llm installed"
    if ctx.target.release_source == "engine" and rel is not None:
        expected += " (the release that built the engine)"
    return Fail(f"no tensorrt-llm distribution in {pk.python or 'this Python'}", expected, params)


@check("PKG002", "trtllm-requirement-unmet", area="packages", cause="package-conflict",
       title="A package does not satisfy what tensorrt-llm declares",
       severity_when="a warning for packages other than torch, tensorrt and the nvidia-* wheels")
def requirements_met(ctx: Context):
    """tensorrt-llm pins tensorrt, torch, cuda-python, modelopt and others (its Requires-Dist); a mismatch
    shows up as undefined symbols or import errors at run time."""
    pk = ctx.facts.packages
    if "tensorrt-llm" not in pk.installed:
        return Skip("tensorrt-llm not installed")
    if not pk.trtllm_requires:
        return Skip("tensorrt-llm declares no requirements (metadata unreadable?)")
    rel = pk.installed["tensorrt-llm"]
    bad = [r for r in pk.trtllm_requires if not r.ok]
    key = [r for r in bad if r.name in KEY_PACKAGES or r.name.startswith("nvidia-")]
    rest = [r for r in bad if r not in key]
    fails = [Fail(f"{r.name} {r.installed or 'missing'}", r.requirement,
                  {"release": rel, "package": r.name, "installed": r.installed or "missing", "required": r.requirement})
             for r in key]
    if rest:
        listing = ", ".join(f"{r.name} {r.installed or 'missing'} (needs {r.requirement})" for r in rest)
        fails.append(Fail(listing, "every declared requirement satisfied", {"release": rel}, severity=Severity.WARNING))
    return fails


@check("PKG003", "tensorrt-release-mismatch", area="packages", cause="package-conflict",
       title="tensorrt is not the version the TensorRT-LLM release pins")
def tensorrt_matches_release(ctx: Context):
    """Each release is built against one TensorRT minor (0.17: 10.8, 1.2: 10.14); another TensorRT fails with
    undefined symbols or refuses the engine."""
    pk, rel = ctx.facts.packages, ctx.target.release
    trt = pk.installed.get("tensorrt") or pk.installed.get("tensorrt-cu12") or pk.installed.get("tensorrt-cu13")
    if not trt:
        return Skip("tensorrt not installed")
    if rel is None or not rel.tensorrt_spec:
        return Skip("release's TensorRT pin unknown")
    try:
        from packaging.specifiers import SpecifierSet  # only when tensorrt is installed: 3-5 ms of import otherwise

        ok = SpecifierSet(rel.tensorrt_spec).contains(Version(trt), prereleases=True)
    except (ValueError, InvalidVersion):  # packaging's InvalidSpecifier is a ValueError
        return Skip(f"unreadable version {trt!r} or pin {rel.tensorrt_spec!r}")
    if not ok:
        return Fail(f"tensorrt {trt} with TensorRT-LLM {ctx.target.release_version}",
                    f"tensorrt{rel.tensorrt_spec} (TensorRT-LLM {rel.version} pins TensorRT {rel.tensorrt})",
                    {"release": rel.version, "package": "tensorrt", "installed": trt, "required": f"tensorrt{rel.tensorrt_spec}"})
    return None


@check("PKG004", "wheels-cuda-majors-differ", area="packages", cause="package-conflict",
       title="Installed wheels are built for different CUDA majors")
def one_cuda_major(ctx: Context):
    """torch+cu130 next to tensorrt-cu12 (or nvidia-*-cu12 next to CUDA 13 wheels) loads two CUDA runtimes
    and fails with undefined symbols or 'CUDA driver version is insufficient'."""
    runtimes = {k: v for k, v in ctx.facts.cuda.wheel_runtimes.items() if k not in ("cuda-python",)}
    majors: dict[str, list[str]] = {}
    for pkg, runtime in runtimes.items():
        majors.setdefault(runtime.split(".")[0], []).append(pkg)
    if len(majors) < 2:
        return None
    listing = "; ".join(f"CUDA {m}: {', '.join(sorted(p))}" for m, p in sorted(majors.items()))
    return Fail(listing, "one CUDA major across torch, tensorrt and the nvidia-* wheels",
                {"release": ctx.facts.packages.installed.get("tensorrt-llm")})


@check("PKG005", "broken-metadata", area="packages", cause="package-conflict",
       title="Distributions with unreadable metadata", severity=Severity.WARNING)
def broken_metadata(ctx: Context):
    """A half-installed or interrupted pip leaves metadata without a name or version; pip and imports may trip on it."""
    broken = ctx.facts.packages.broken
    if broken:
        return Fail(", ".join(broken[:10]), "readable METADATA for every distribution", {})
    return None


@check("PKG006", "trtllm-newer-than-kb", area="packages", cause="release-not-in-kb",
       title="The installed TensorRT-LLM is not in trtllm-doctor's knowledge base", severity=Severity.WARNING)
def release_known(ctx: Context):
    """A release the knowledge base does not list is checked with its own wheel metadata (Requires-Dist pins,
    its CUDA major from the nvidia-*/cuda-python pins, the Python it is installed in) and the support lists
    (GPU architectures, platforms, driver floor) of the nearest known release, which this finding names."""
    t = ctx.target
    if t.release_source != "installed-unknown" or t.release is None:
        return None if t.release is not None else Skip("no target release")
    newest = ctx.kb.releases[-1].version
    return Fail(f"tensorrt-llm {t.release_version} installed; the knowledge base knows {ctx.kb.release_range()}",
                f"a release the knowledge base lists (newest {newest})",
                {"release": t.release_version, "carried_from": t.release.carried_from})
