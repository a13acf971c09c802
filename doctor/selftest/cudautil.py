"""Thin helpers over cuda-python (driver API + NVRTC) shared by the CUDA tiers.

Imported only inside tier processes. Every call goes through :func:`check`, which
turns a non-success result into :class:`~doctor.selftest._child.CudaError` carrying
the error's name, so the tier can map it to a cause.
"""

from __future__ import annotations

import ctypes
import os
from typing import Any

from doctor.selftest._child import CudaError, Fail


def load_driver() -> Any:
    """The cuda-python driver module; a Fail (cuda-python-broken / driver-missing) if it will not load."""
    try:
        try:
            from cuda.bindings import driver as cu
        except ImportError:
            from cuda import cuda as cu  # cuda-python < 12.6 layout
    except ImportError as exc:
        raise Fail("cuda-python-broken", f"cuda-python is not importable: {exc}",
                   "cuda-python (cuda-bindings) importable in this Python") from None
    except Exception as exc:  # noqa: BLE001 - a broken install can raise anything at import
        raise Fail("cuda-python-broken", f"cuda-python failed to import: {type(exc).__name__}: {exc}",
                   "cuda-python (cuda-bindings) importable in this Python") from None
    return cu


def load_nvrtc() -> Any:
    try:
        try:
            from cuda.bindings import nvrtc
        except ImportError:
            from cuda import nvrtc  # old layout
    except Exception as exc:  # noqa: BLE001
        raise Fail("cuda-python-broken", f"cuda-python's NVRTC bindings are not importable: {exc}",
                   "cuda.bindings.nvrtc importable") from None
    return nvrtc


_cu: Any = None


def cuda_init() -> Any:
    """cuInit(0) through cuda-python; returns the driver module."""
    global _cu
    cu = load_driver()
    try:
        res = cu.cuInit(0)
    except Exception as exc:  # noqa: BLE001 - cuda-pathfinder raises when libcuda is absent
        text = f"{type(exc).__name__}: {exc}"
        if "DynamicLibNotFound" in text or "libcuda" in text or "driver library" in text or "display driver" in text:
            raise Fail("driver-missing", f"cuInit: libcuda.so (the NVIDIA driver's CUDA library) not found: {exc}",
                       "the NVIDIA driver's libcuda.so.1 loadable") from None
        raise Fail("cuda-python-broken", f"cuInit raised {text}", "cuInit(0) returns CUDA_SUCCESS") from None
    _cu = cu
    check(res, "cuInit")
    return cu


def _error_name(err: Any) -> tuple[int, str, str]:
    code = int(err)
    name, text = getattr(err, "name", f"CUDA error {code}"), ""
    cu = _cu
    if cu is not None:
        try:
            r, n = cu.cuGetErrorName(err)
            if int(r) == 0 and n:
                name = n.decode() if isinstance(n, bytes) else str(n)
            r, s = cu.cuGetErrorString(err)
            if int(r) == 0 and s:
                text = s.decode() if isinstance(s, bytes) else str(s)
        except Exception:  # noqa: BLE001
            pass
    return code, name, text


def check(result: Any, call: str) -> Any:
    """Unpack a cuda-python result tuple: raise on error, return the value(s)."""
    if isinstance(result, tuple):
        err, rest = result[0], result[1:]
    else:
        err, rest = result, ()
    if int(err) != 0:
        code, name, text = _error_name(err)
        raise CudaError(call, code, name, text)
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else rest


def device_count(cu: Any) -> int:
    return int(check(cu.cuDeviceGetCount(), "cuDeviceGetCount"))


def device_info(cu: Any, ordinal: int) -> dict[str, Any]:
    dev = check(cu.cuDeviceGet(ordinal), "cuDeviceGet")
    attr = cu.CUdevice_attribute
    major = check(cu.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MAJOR, dev), "cuDeviceGetAttribute")
    minor = check(cu.cuDeviceGetAttribute(attr.CU_DEVICE_ATTRIBUTE_COMPUTE_CAPABILITY_MINOR, dev), "cuDeviceGetAttribute")
    raw = check(cu.cuDeviceGetName(256, dev), "cuDeviceGetName")
    name = raw.split(b"\0", 1)[0].decode(errors="replace") if isinstance(raw, bytes) else str(raw)
    total = check(cu.cuDeviceTotalMem(dev), "cuDeviceTotalMem")
    try:
        bus = check(cu.cuDeviceGetPCIBusId(32, dev), "cuDeviceGetPCIBusId")
        bus = bus.split(b"\0", 1)[0].decode() if isinstance(bus, bytes) else str(bus)
    except CudaError:
        bus = None
    return {"ordinal": ordinal, "device": dev, "name": name, "cc": (int(major), int(minor)), "memory_bytes": int(total), "bus_id": bus}


class Primary:
    """The device's primary context (shared with the CUDA runtime, NCCL and torch), made current."""

    def __init__(self, cu: Any, dev: Any):
        self.cu, self.dev = cu, dev
        self.ctx = check(cu.cuDevicePrimaryCtxRetain(dev), "cuDevicePrimaryCtxRetain")
        self.current()

    def current(self) -> None:
        check(self.cu.cuCtxSetCurrent(self.ctx), "cuCtxSetCurrent")

    def release(self) -> None:
        try:
            self.cu.cuDevicePrimaryCtxRelease(self.dev)
        except Exception:  # noqa: BLE001
            pass


def nvrtc_version(nvrtc: Any) -> str:
    major, minor = check(nvrtc.nvrtcVersion(), "nvrtcVersion")
    return f"{major}.{minor}"


def nvrtc_supported_archs(nvrtc: Any) -> list[int]:
    try:
        archs = check(nvrtc.nvrtcGetSupportedArchs(), "nvrtcGetSupportedArchs")
        return [int(a) for a in archs]
    except Exception:  # noqa: BLE001 - very old NVRTC: unknown
        return []


def _nvrtc_check(nvrtc: Any, result: Any, call: str) -> Any:
    if isinstance(result, tuple):
        err, rest = result[0], result[1:]
    else:
        err, rest = result, ()
    if int(err) != 0:
        try:
            text = nvrtc.nvrtcGetErrorString(err)[1]
            text = text.decode() if isinstance(text, bytes) else str(text)
        except Exception:  # noqa: BLE001
            text = ""
        raise CudaError(call, int(err), getattr(err, "name", f"NVRTC error {int(err)}"), text)
    if not rest:
        return None
    return rest[0] if len(rest) == 1 else rest


def compile_source(nvrtc: Any, source: str, name: str, arch: str, *, cubin: bool) -> tuple[bytes, str]:
    """Compile CUDA C++ with NVRTC for ``arch`` ('sm_90' for machine code, 'compute_90' for PTX).

    Returns (image, compiler log). A compile error raises Fail(nvrtc-unusable) with the log.
    """
    prog = _nvrtc_check(nvrtc, nvrtc.nvrtcCreateProgram(source.encode(), f"{name}.cu".encode(), 0, [], []), "nvrtcCreateProgram")
    try:
        opts = [f"--gpu-architecture={arch}".encode(), b"-default-device", b"--std=c++17"]
        res = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
        size = _nvrtc_check(nvrtc, nvrtc.nvrtcGetProgramLogSize(prog), "nvrtcGetProgramLogSize")
        log_buf = b" " * int(size)
        _nvrtc_check(nvrtc, nvrtc.nvrtcGetProgramLog(prog, log_buf), "nvrtcGetProgramLog")
        log = log_buf.rstrip(b"\0 ").decode(errors="replace").strip()
        if int(res[0] if isinstance(res, tuple) else res) != 0:
            raise Fail("nvrtc-unusable", f"NVRTC could not compile the test kernel for {arch}: {log.splitlines()[-1] if log else res}",
                       f"NVRTC compiles a small kernel for {arch}", params={"arch": arch}, metrics={"nvrtc_log": log[-2000:]})
        if cubin:
            size = _nvrtc_check(nvrtc, nvrtc.nvrtcGetCUBINSize(prog), "nvrtcGetCUBINSize")
            buf = b" " * int(size)
            _nvrtc_check(nvrtc, nvrtc.nvrtcGetCUBIN(prog, buf), "nvrtcGetCUBIN")
        else:
            size = _nvrtc_check(nvrtc, nvrtc.nvrtcGetPTXSize(prog), "nvrtcGetPTXSize")
            buf = b" " * int(size)
            _nvrtc_check(nvrtc, nvrtc.nvrtcGetPTX(prog, buf), "nvrtcGetPTX")
        return buf, log
    finally:
        try:
            nvrtc.nvrtcDestroyProgram(prog)
        except Exception:  # noqa: BLE001
            pass


class Module:
    def __init__(self, cu: Any, image: bytes, call: str = "cuModuleLoadData"):
        self.cu = cu
        self.mod = check(cu.cuModuleLoadData(image), call)

    def function(self, name: str) -> Any:
        return check(self.cu.cuModuleGetFunction(self.mod, name.encode()), "cuModuleGetFunction")

    def unload(self) -> None:
        try:
            self.cu.cuModuleUnload(self.mod)
        except Exception:  # noqa: BLE001
            pass


def launch(cu: Any, func: Any, grid: int, block: int, args: list[ctypes._SimpleCData], stream: Any = 0) -> None:
    """cuLaunchKernel with a hand-built void** (no numpy needed), then synchronise."""
    holders = (ctypes.c_void_p * len(args))(*[ctypes.addressof(a) for a in args])
    check(cu.cuLaunchKernel(func, grid, 1, 1, block, 1, 1, 0, stream, ctypes.addressof(holders), 0), "cuLaunchKernel")
    check(cu.cuCtxSynchronize(), "cuCtxSynchronize (after the kernel)")


_memcmp: Any = None


def memcmp(a: int, b: int, n: int) -> int:
    global _memcmp
    if _memcmp is None:
        func = ctypes.CDLL(None).memcmp
        func.restype = ctypes.c_int
        func.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t)
        _memcmp = func
    return int(_memcmp(a, b, n))


def first_difference(a: int, b: int, n: int) -> int | None:
    """Byte offset of the first difference between two host buffers (binary search over memcmp)."""
    if memcmp(a, b, n) == 0:
        return None
    lo, hi = 0, n
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if memcmp(a + lo, b + lo, mid - lo) != 0:
            hi = mid
        else:
            lo = mid
    return lo


def visible_devices_env() -> str | None:
    return os.environ.get("CUDA_VISIBLE_DEVICES")
