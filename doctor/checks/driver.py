"""NVIDIA driver and CUDA checks."""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

from doctor.checks import Context, Fail, Skip, check
from doctor.report import Severity

FP8_MIN_DRIVER = "555"  # the guide: "Driver 535+ minimum, 555+ (FP8)"


def _v(text: str | None) -> Version | None:
    if not text:
        return None
    try:
        return Version(text)
    except InvalidVersion:
        return None


def _cuda_mm(text: str | None) -> tuple[int, int] | None:
    m = re.match(r"(\d+)\.(\d+)", text or "")
    return (int(m.group(1)), int(m.group(2))) if m else None


def driver_cuda(ctx: Context) -> str | None:
    """The CUDA version the driver supports: as reported, else derived from the driver branch."""
    drv = ctx.facts.driver
    if drv.cuda_version:
        return drv.cuda_version
    return ctx.kb.max_cuda_for_driver(drv.version) if drv.version else None


@check("DRV001", "no-driver", area="driver", cause="driver-missing", title="No NVIDIA driver found")
def driver_present(ctx: Context):
    """Without the NVIDIA kernel driver and its libraries (libcuda, libnvidia-ml) nothing runs on the GPU."""
    f = ctx.facts
    if f.platform.system not in (None, "Linux"):
        return Skip("not Linux")
    if f.driver.version:
        return None
    release = ctx.target.release
    return Fail(f.driver.error or "no driver", "an NVIDIA driver (nvidia-smi works)",
                {"required_driver": release.min_driver if release else None})


@check("DRV002", "driver-too-old", area="driver", cause="driver-too-old",
       title="Driver too old for the target release's CUDA",
       severity_when="information when the driver runs the CUDA through minor-version compatibility")
def driver_new_enough(ctx: Context):
    """The release's CUDA needs a minimum driver. Within one CUDA major, minor-version compatibility lets
    an older driver of the same family (>= 525 for 12.x, >= 580 for 13.x) run it, with a limited
    feature set; below the family floor nothing works."""
    drv, rel = ctx.facts.driver, ctx.target.release
    have = _v(drv.version)
    if have is None:
        return Skip("driver version unknown")
    if rel is None:
        return Skip("target release not in the knowledge base")
    need = _v(rel.min_driver)
    floor = _v(rel.min_driver_compat) or need
    params = {"driver": drv.version, "required_driver": rel.min_driver, "cuda": rel.cuda, "release": rel.version}
    if need is None or have >= need:
        return None
    if floor is not None and have < floor:
        return Fail(f"driver {drv.version} (supports CUDA {drv.cuda_version or '?'})",
                    f">= {rel.min_driver} for CUDA {rel.cuda} (TensorRT-LLM {rel.version}); at least {rel.min_driver_compat} "
                    f"with minor-version compatibility", params)
    return Fail(f"driver {drv.version} (supports CUDA {drv.cuda_version or '?'})",
                f">= {rel.min_driver} for CUDA {rel.cuda}; {drv.version} runs it through CUDA minor-version compatibility",
                params, severity=Severity.INFO,
                title=f"Driver older than CUDA {rel.cuda} asks for; works through minor-version compatibility")


@check("DRV003", "driver-fp8", area="driver", cause="driver-too-old", title="Driver too old for FP8")
def driver_fp8(ctx: Context):
    """The guide asks for driver 555+ for FP8 engines."""
    t, drv = ctx.target, ctx.facts.driver
    if t.quant != "fp8" and t.kv_cache_dtype != "fp8":
        return Skip("FP8 not asked for")
    have = _v(drv.version)
    if have is None:
        return Skip("driver version unknown")
    if have < Version(FP8_MIN_DRIVER):
        return Fail(f"driver {drv.version}", f">= {FP8_MIN_DRIVER} for FP8", {"driver": drv.version, "required_driver": FP8_MIN_DRIVER})
    return None


@check("DRV004", "driver-library-mismatch", area="driver", cause="driver-library-mismatch",
       title="Driver kernel module and libraries disagree")
def driver_library_mismatch(ctx: Context):
    """NVML says "Driver/library version mismatch" after a driver upgrade without a reboot."""
    err = ctx.facts.driver.error or ""
    if not ctx.facts.driver.version and "mismatch" not in err.lower():
        return Skip("no driver")
    if "mismatch" in err.lower():
        return Fail(err, "kernel module and user-space libraries of one driver version")
    return None


def _pinned_cuda_python(ctx: Context, driver_major: int):
    """The installed tensorrt-llm's cuda-python/cuda-bindings requirement when it asks for a newer CUDA major
    than the driver's (downgrading cuda-python would then break tensorrt-llm), else None."""
    for r in ctx.facts.packages.trtllm_requires:
        if r.name in ("cuda-python", "cuda-bindings"):
            m = re.search(r">=\s*(\d+)", r.requirement)
            if m and int(m.group(1)) > driver_major:
                return r
    return None


@check("CUDA001", "wheel-cuda-newer-than-driver", area="cuda", cause="cuda-runtime-mismatch",
       title="Installed wheels need a newer CUDA than the driver supports")
def wheel_cuda_vs_driver(ctx: Context):
    """Wheels carry their CUDA runtime (torch+cu130, nvidia-cuda-runtime 13.x, tensorrt-cu13). A driver runs
    runtimes of its own CUDA major (newer minors through minor-version compatibility), never a newer major."""
    drv, cuda = ctx.facts.driver, ctx.facts.cuda
    supported = driver_cuda(ctx)
    driver_mm = _cuda_mm(supported)
    if driver_mm is None:
        return Skip("driver CUDA version unknown")
    newer = {pkg: rt for pkg, rt in sorted(cuda.wheel_runtimes.items()) if int(rt.split(".")[0]) > driver_mm[0]}
    if not newer:
        return None
    runtime = max(newer.values(), key=lambda rt: (int(rt.split(".")[0]), not rt.endswith(".x")))
    major = int(runtime.split(".")[0])
    family = ctx.kb.family(major)
    listing = ", ".join(f"{pkg} (CUDA {rt})" for pkg, rt in newer.items())
    return Fail(f"{listing}; driver {drv.version} supports CUDA {supported}",
                f"CUDA {driver_mm[0]}.x wheels, or a driver for CUDA {major}",
                {"runtime_cuda": runtime, "driver_cuda": supported,
                 "required_driver": family.min_driver if family else None})


@check("CUDA002", "cuda-python-no-driver", area="cuda", cause="cuda-python-broken",
       title="cuda-python cannot reach the driver", severity=Severity.WARNING)
def cuda_python_talks(ctx: Context):
    """TensorRT-LLM calls the driver through cuda-python; its bindings must load libcuda and answer."""
    f = ctx.facts
    if not f.cuda.cuda_python:
        return Skip("cuda-python not installed")
    if not f.driver.version:
        return Skip("no driver (reported by the driver check)")
    if f.cuda.driver_api_error:
        major = _cuda_mm(driver_cuda(ctx))
        pinned = _pinned_cuda_python(ctx, major[0]) if major else None
        if pinned is not None:
            m = re.search(r">=\s*(\d+)", pinned.requirement)
            fam = ctx.kb.family(int(m.group(1))) if m else None
            return Fail(f"cuda-python {f.cuda.cuda_python}: {f.cuda.driver_api_error} (tensorrt-llm requires {pinned.requirement})",
                        "cuDriverGetVersion answers", {"driver": f.driver.version, "required_driver": fam.min_driver if fam else None,
                                                      "release": f.packages.installed.get("tensorrt-llm")},
                        cause="driver-too-old")
        return Fail(f"cuda-python {f.cuda.cuda_python}: {f.cuda.driver_api_error}", "cuDriverGetVersion answers",
                    {"driver_cuda": driver_cuda(ctx), "driver_major": major[0] if major else None,
                     "next_major": major[0] + 1 if major else None})
    return None


@check("CUDA003", "cuda-python-major", area="cuda", cause="cuda-python-broken",
       title="cuda-python's CUDA major differs from the driver's")
def cuda_python_major(ctx: Context):
    """cuda-python 13 needs a CUDA 13 driver (580+); cuda-python 12 against a CUDA 13 driver works but
    TensorRT-LLM 1.1+ asks for cuda-python 13."""
    f = ctx.facts
    supported = driver_cuda(ctx)
    mm = _cuda_mm(supported)
    cp = _cuda_mm(f.cuda.cuda_python)
    if mm is None or cp is None:
        return Skip("driver CUDA or cuda-python version unknown")
    if cp[0] > mm[0]:
        # Reinstalling an older cuda-python would break an installed tensorrt-llm that pins this major:
        # then the driver is what has to change (one fix that contradicts nothing else).
        pinned = _pinned_cuda_python(ctx, mm[0])
        if pinned is not None:
            fam = ctx.kb.family(cp[0])
            return Fail(f"cuda-python {f.cuda.cuda_python} (tensorrt-llm {f.packages.installed.get('tensorrt-llm')} requires "
                        f"{pinned.requirement}) with a driver for CUDA {supported}",
                        f"a driver for CUDA {cp[0]}", {"driver": f.driver.version, "cuda": f"{cp[0]}.x",
                                                      "required_driver": fam.min_driver if fam else None,
                                                      "release": f.packages.installed.get("tensorrt-llm")},
                        cause="driver-too-old")
        return Fail(f"cuda-python {f.cuda.cuda_python} with a driver for CUDA {supported}",
                    f"cuda-python {mm[0]}.x", {"driver_cuda": supported, "driver_major": mm[0], "next_major": mm[0] + 1})
    return None
