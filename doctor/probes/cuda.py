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


def toolkit_version() -> str | None:
    home = os.environ.get("CUDA_HOME") or os.environ.get("CUDA_PATH") or "/usr/local/cuda"
    vj = Path(home, "version.json")
    try:
        return json.loads(vj.read_text())["cuda"]["version"]
    except (OSError, ValueError, KeyError, TypeError):
        pass
    try:
        m = re.search(r"CUDA Version (\d+\.\d+(?:\.\d+)?)", Path(home, "version.txt").read_text())
        if m:
            return m.group(1)
    except OSError:
        pass
    nvcc = shutil.which("nvcc") or (str(Path(home, "bin/nvcc")) if Path(home, "bin/nvcc").exists() else None)
    if nvcc:
        import subprocess

        try:
            out = subprocess.run([nvcc, "--version"], capture_output=True, text=True, timeout=3, stdin=subprocess.DEVNULL).stdout
        except (subprocess.TimeoutExpired, OSError):
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
