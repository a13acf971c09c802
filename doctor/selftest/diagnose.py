"""Map what a failing tier left behind (a CUDA/NVML/NCCL error name, stderr text, a signal) to a cause id.

Pure and cheap: no CUDA import. Used in two places: inside a tier process, to turn a
CUDA error it caught into a cause, and in the runner, to turn the stderr tail of a
tier that crashed, hung or exited without a result into one.

``classify_text`` first asks explain's catalogue (``doctor.explain``, written by
another engineer; see :func:`explain_hook`) and falls back to the small table here.
"""

from __future__ import annotations

import re
import signal as _signal
from typing import Any

# CUDA driver API error names -> cause id (names as cuGetErrorName prints them).
CUDA_ERROR_CAUSES: dict[str, str] = {
    "CUDA_ERROR_NO_DEVICE": "gpu-not-visible",
    "CUDA_ERROR_INVALID_DEVICE": "gpu-not-visible",
    "CUDA_ERROR_NOT_INITIALIZED": "driver-missing",
    "CUDA_ERROR_STUB_LIBRARY": "driver-missing",
    "CUDA_ERROR_INSUFFICIENT_DRIVER": "driver-too-old",
    "CUDA_ERROR_COMPAT_NOT_SUPPORTED_ON_DEVICE": "driver-too-old",
    "CUDA_ERROR_SYSTEM_DRIVER_MISMATCH": "driver-library-mismatch",
    "CUDA_ERROR_NO_BINARY_FOR_GPU": "gpu-arch-unsupported",
    "CUDA_ERROR_UNSUPPORTED_PTX_VERSION": "nvrtc-unusable",
    "CUDA_ERROR_INVALID_PTX": "nvrtc-unusable",
    "CUDA_ERROR_JIT_COMPILER_NOT_FOUND": "nvrtc-unusable",
    "CUDA_ERROR_UNSUPPORTED_DEVSIDE_SYNC": "nvrtc-unusable",
    "CUDA_ERROR_OUT_OF_MEMORY": "gpu-memory-in-use",
    "CUDA_ERROR_DEVICES_UNAVAILABLE": "gpu-busy-or-unavailable",
    "CUDA_ERROR_DEVICE_UNAVAILABLE": "gpu-busy-or-unavailable",
    "CUDA_ERROR_ECC_UNCORRECTABLE": "gpu-hardware-error",
    "CUDA_ERROR_HARDWARE_STACK_ERROR": "gpu-hardware-error",
    "CUDA_ERROR_ILLEGAL_INSTRUCTION": "gpu-hardware-error",
    "CUDA_ERROR_ILLEGAL_ADDRESS": "gpu-hardware-error",
    "CUDA_ERROR_LAUNCH_FAILED": "gpu-hardware-error",
    "CUDA_ERROR_NVLINK_UNCORRECTABLE": "gpu-hardware-error",
    "CUDA_ERROR_LAUNCH_TIMEOUT": "gpu-hung",
    "CUDA_ERROR_PEER_ACCESS_UNSUPPORTED": "no-p2p-access",
}

# NVML error codes (pynvml NVMLError.value) -> cause id.
NVML_ERROR_CAUSES: dict[int, str] = {
    4: "gpu-not-visible",  # NO_PERMISSION
    6: "gpu-not-visible",  # NOT_FOUND
    9: "driver-missing",  # DRIVER_NOT_LOADED
    12: "driver-missing",  # LIBRARY_NOT_FOUND
    13: "driver-missing",  # FUNCTION_NOT_FOUND (an NVML too old for the bindings)
    15: "gpu-hardware-error",  # GPU_IS_LOST
    18: "driver-library-mismatch",  # LIB_RM_VERSION_MISMATCH
    10: "gpu-busy-or-unavailable",  # TIMEOUT
}

# Ordered, strictest first: (compiled pattern, cause id). Text from real messages of the
# CUDA runtime/driver, NVML, NCCL, PyTorch and cuda-pathfinder.
_TEXT_RULES: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"no kernel image is available|NO_BINARY_FOR_GPU", re.I), "gpu-arch-unsupported"),
    (re.compile(r"driver/library version mismatch|LIB_RM_VERSION_MISMATCH|SYSTEM_DRIVER_MISMATCH", re.I), "driver-library-mismatch"),
    (re.compile(r"UNSUPPORTED_PTX_VERSION|compiled with an unsupported toolchain|nvrtc|NVRTC_ERROR", re.I), "nvrtc-unusable"),
    (re.compile(r"CUDA driver version is insufficient|INSUFFICIENT_DRIVER|NVIDIA driver on your system is too old", re.I), "driver-too-old"),
    (re.compile(r"uncorrectable ECC|ECC_UNCORRECTABLE|\bXid\b|GPU is lost|GPU_IS_LOST|fallen off the bus|"
                r"unspecified launch failure|LAUNCH_FAILED|illegal memory access|ILLEGAL_ADDRESS|HARDWARE_STACK_ERROR|"
                r"ILLEGAL_INSTRUCTION|NVLINK_UNCORRECTABLE", re.I), "gpu-hardware-error"),
    (re.compile(r"NCCL (?:error|WARN)|nccl\w*Error|ncclUnhandledCudaError|ncclSystemError|ncclInternalError|ncclRemoteError", re.I), "nccl-failure"),
    (re.compile(r"PEER_ACCESS_UNSUPPORTED|peer access is not supported", re.I), "no-p2p-access"),
    (re.compile(r"no CUDA-capable device is detected|CUDA_ERROR_NO_DEVICE|NVML_ERROR_NOT_FOUND", re.I), "gpu-not-visible"),
    (re.compile(r"busy or unavailable|DEVICES_UNAVAILABLE", re.I), "gpu-busy-or-unavailable"),
    (re.compile(r"CUDA_ERROR_OUT_OF_MEMORY|CUDA out of memory|CUDA error: out of memory|cudaErrorMemoryAllocation", re.I), "gpu-memory-in-use"),
    (re.compile(r"NVML Shared Library Not Found|libnvidia-ml\.so[.\d]*: cannot open|libcuda\.so[.\d]*: cannot open|"
                r"found no NVIDIA driver|NVIDIA display driver is installed|STUB_LIBRARY|DRIVER_NOT_LOADED", re.I), "driver-missing"),
    (re.compile(r"No module named '?tensorrt_llm", re.I), "trtllm-not-installed"),
    (re.compile(r"No module named '?cuda\b|cuda\.bindings|cuda-python", re.I), "cuda-python-broken"),
    (re.compile(r"\bMemoryError\b|Cannot allocate memory", re.I), "host-oom-killed"),
]

_XID = re.compile(r"\bXid\b[^\d]{0,40}(\d+)", re.I)

SIGNAL_TEXT = {
    "SIGSEGV": "segmentation fault",
    "SIGABRT": "aborted",
    "SIGBUS": "bus error",
    "SIGILL": "illegal instruction",
    "SIGFPE": "floating-point exception",
    "SIGKILL": "killed",
    "SIGTERM": "terminated",
}


def cause_for_cuda_error(name: str) -> str:
    return CUDA_ERROR_CAUSES.get(name, "unknown-failure")


def cause_for_nvml_error(code: int | None) -> str:
    return NVML_ERROR_CAUSES.get(code if code is not None else -1, "unknown-failure")


def signal_name(returncode: int) -> str | None:
    """-11 -> 'SIGSEGV' (a child killed by a signal); None for ordinary exit codes."""
    if returncode >= 0:
        return None
    try:
        return _signal.Signals(-returncode).name
    except ValueError:
        return f"signal {-returncode}"


def describe_exit(returncode: int) -> str:
    sig = signal_name(returncode)
    if sig:
        text = SIGNAL_TEXT.get(sig)
        return f"killed by {sig}" + (f" ({text})" if text else "")
    return f"exit code {returncode}"


_OWN_CODE_FAULTS = ("cuda-kernel-fault", "cuda-device-assert", "cuda-launch-resources", "cuda-api-misuse")


def explain_hook(text: str) -> tuple[str, dict[str, Any], str] | None:
    """Run ``text`` through explain's catalogue (signatures and vocabularies); its root cause, or None.

    Uses explain's own scanner and ranking (doctor.explain), so a tier's stderr is read
    exactly as `trtllm-doctor explain` would read it as a log file. Anything going wrong
    in there returns None, and the table in this module decides.
    """
    try:
        from doctor.explain.run import explain_text
        from doctor.kb import default_kb

        findings = explain_text(text, default_kb(), name="<tier stderr>")
    except Exception:  # noqa: BLE001 - the explain engine must never break a self-test report
        return None
    if not findings:
        return None
    best = findings[0]
    return best.category, dict(best.params), best.evidence


def classify_text(text: str, *, use_explain: bool = True) -> tuple[str, dict[str, Any], str] | None:
    """(cause id, params, the matching line) for the first known error in ``text``, or None."""
    if not text:
        return None
    if use_explain:
        hit = explain_hook(text)
        if hit is not None and hit[0] in _OWN_CODE_FAULTS:
            # the tiers run known-good kernels: a kernel fault there is the GPU's, not a bug in the code
            return "gpu-hardware-error", hit[1], hit[2]
        if hit is not None and hit[0] != "unknown-failure":
            return hit
    lines = text.splitlines()
    for pattern, cause in _TEXT_RULES:
        for line in lines:
            if pattern.search(line):
                params: dict[str, Any] = {}
                m = _XID.search(text)
                if cause == "gpu-hardware-error" and m:
                    params["xid"] = m.group(1)
                return cause, params, line.strip()[:300]
    return None


def tail(text: str, lines: int = 25, chars: int = 4000) -> str:
    """The last ``lines`` lines (at most ``chars`` characters) of ``text``."""
    out = "\n".join(text.rstrip().splitlines()[-lines:])
    return out[-chars:]
