"""CUDA probe: the runtimes the wheels were built for, the system toolkit, and cuda-python.

cuda-python is asked only for cuDriverGetVersion (no cuInit, no context): enough to
prove the bindings load and reach libcuda, and cheap.
"""

from __future__ import annotations

import json
import os
import re
import shutil
from pathlib import Path

from doctor.facts import CudaFacts
from doctor.probes.gpus import cuda_version_string


def wheel_runtimes(installed: dict[str, str]) -> dict[str, str]:
    """Package -> CUDA major.minor it was built for, from names and versions alone."""
    out: dict[str, str] = {}
    for name, version in installed.items():
        m = re.match(r"nvidia-cuda-runtime(?:-cu(\d+))?$", name)
        if m:
            mm = re.match(r"(\d+)\.(\d+)", version)
            if mm:
                out[name] = f"{mm.group(1)}.{mm.group(2)}"
            continue
        if name == "torch":
            local = re.search(r"\+cu(\d+)(\d)$", version)
            if local:
                out[name] = f"{int(local.group(1))}.{local.group(2)}"
            continue
        m = re.match(r"tensorrt-cu(\d+)(?:-libs)?$", name)
        if m:
            out[name] = f"{m.group(1)}.x"
            continue
        if name in ("cuda-bindings", "cuda-python"):
            mm = re.match(r"(\d+)\.(\d+)", version)
            if mm:
                out[name] = f"{mm.group(1)}.x"
    return out


NVCC_TIMEOUT = 3.0


def toolkit_version() -> str | None:
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda"
    from doctor.errors import UsageError
    from doctor.inputs import read_text

    try:  # bounded, regular files only: a FIFO or /dev/zero under CUDA_HOME must not hang the probe
        version = json.loads(read_text(Path(home, "version.json"), "version.json", 1 << 20))["cuda"]["version"]
        if isinstance(version, str) and re.fullmatch(r"\d+\.\d+(?:\.\d+)*", version):
            return version
    except (UsageError, ValueError, KeyError, TypeError, RecursionError):
        pass
    try:
        m = re.search(r"CUDA Version (\d+\.\d+(?:\.\d+)?)", read_text(Path(home, "version.txt"), "version.txt", 1 << 20))
        if m:
            return m.group(1)
    except UsageError:
        pass
    nvcc = shutil.which("nvcc") or (str(Path(home, "bin/nvcc")) if Path(home, "bin/nvcc").exists() else None)
    if nvcc:
        from doctor.probes.proc import run

        try:
            out = run([nvcc, "--version"], timeout=NVCC_TIMEOUT, limit=1 << 20).stdout
        except OSError:
            return None
        m = re.search(r"release (\d+\.\d+)", out)
        return m.group(1) if m else None
    return None


def cuda_python_driver() -> tuple[str | None, str | None]:
    """(driver CUDA version through cuda-python, error)."""
    try:
        try:
            from cuda.bindings import driver as cu
        except ImportError:
            from cuda import cuda as cu  # cuda-python < 12.6 layout
    except ImportError as exc:
        return None, f"cuda-python not importable ({exc})"
    except Exception as exc:  # noqa: BLE001 - a broken install can raise anything at import
        return None, f"cuda-python failed to import ({type(exc).__name__}: {exc})"
    try:
        err, version = cu.cuDriverGetVersion()
    except Exception as exc:  # noqa: BLE001
        return None, f"cuDriverGetVersion raised {type(exc).__name__}: {exc}"
    if int(err) != 0:
        return None, f"cuDriverGetVersion returned {err}"
    return cuda_version_string(version), None


def probe() -> CudaFacts:
    from doctor.probes.packages import normalize, scan
    import sys

    facts = CudaFacts(toolkit=toolkit_version())
    installed, _, _ = scan(sys.path)
    for name in ("cuda-bindings", "cuda-python"):
        if name in installed:
            facts.cuda_python = installed[normalize(name)]
            break
    if facts.cuda_python:
        facts.driver_api_version, facts.driver_api_error = cuda_python_driver()
    return facts
