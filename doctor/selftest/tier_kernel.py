"""Tier 3 (ST3): compile a small kernel with NVRTC for the GPU's own architecture and run it.

Two images of the same kernel: machine code (cubin for sm_XY), which proves NVRTC knows
this GPU and the driver accepts the binary ("no kernel image for this device" shows up
here), and PTX for compute_XY, which the driver JIT-compiles (proving the JIT and its
cache work). Both run on every visible GPU; the output is checked element by element.

Run alone: ``python -m doctor.selftest.tier_kernel`` prints one result line.
"""

from __future__ import annotations

import ctypes
import time
from array import array
from typing import Any

from doctor.selftest._child import Fail, Pass, run
from doctor.selftest import cudautil as cx

EXPECTED = "NVRTC compiles a kernel for this GPU's architecture and it computes the right answer"
N = 1 << 16
SEED = 0x9E3779B9

SOURCE = r"""
extern "C" __global__ void doctor_probe(unsigned int* out, unsigned int n, unsigned int seed) {
    __shared__ unsigned int tile[256];
    unsigned int i = blockIdx.x * blockDim.x + threadIdx.x;
    unsigned int x = i * 2654435761u + seed;
    x ^= x >> 16; x *= 0x7feb352du; x ^= x >> 15;
    tile[threadIdx.x] = x;
    __syncthreads();
    if (i < n) out[i] = tile[blockDim.x - 1 - threadIdx.x];
}
"""


def reference(n: int, seed: int, block: int = 256) -> array:
    """What doctor_probe writes: element i holds the hash of its mirror within the block."""
    def h(i: int) -> int:
        x = (i * 2654435761 + seed) & 0xFFFFFFFF
        x ^= x >> 16
        x = (x * 0x7FEB352D) & 0xFFFFFFFF
        x ^= x >> 15
        return x

    out = array("I", bytes(4 * n))
    for i in range(n):
        b, t = divmod(i, block)
        out[i] = h(b * block + block - 1 - t)
    return out


def arch_of(cc: tuple[int, int]) -> int:
    return cc[0] * 10 + cc[1]


def check_nvrtc_knows(nvrtc: Any, sm: int, version: str) -> None:
    archs = cx.nvrtc_supported_archs(nvrtc)
    if archs and sm not in archs:
        raise Fail("nvrtc-unusable", f"NVRTC {version} cannot compile for sm_{sm} (it knows sm_{min(archs)}..sm_{max(archs)})",
                   f"an NVRTC that supports sm_{sm}", params={"gpu_sm": sm, "nvrtc": version})


def run_image(cu: Any, image: bytes, what: str, ordinal: int, expected: array) -> float:
    mod = cx.Module(cu, image, f"cuModuleLoadData ({what})")
    try:
        func = mod.function("doctor_probe")
        nbytes = 4 * N
        dptr = cx.check(cu.cuMemAlloc(nbytes), "cuMemAlloc")
        try:
            cx.check(cu.cuMemsetD32(dptr, 0, N), "cuMemsetD32")
            t = time.perf_counter()
            cx.launch(cu, func, N // 256, 256, [ctypes.c_uint64(int(dptr)), ctypes.c_uint32(N), ctypes.c_uint32(SEED)])
            ms = (time.perf_counter() - t) * 1000
            host = array("I", bytes(nbytes))
            addr, _ = host.buffer_info()
            cx.check(cu.cuMemcpyDtoH(addr, dptr, nbytes), "cuMemcpyDtoH")
        finally:
            cu.cuMemFree(dptr)
    finally:
        mod.unload()
    if host != expected:
        bad = next(i for i in range(N) if host[i] != expected[i])
        raise Fail("gpu-hardware-error", f"GPU {ordinal}: the {what} kernel wrote a wrong value at element {bad} "
                   f"(0x{host[bad]:08x}, expected 0x{expected[bad]:08x})", EXPECTED, params={"index": ordinal})
    return ms


def body() -> Pass:
    cu = cx.cuda_init()
    nvrtc = cx.load_nvrtc()
    try:
        version = cx.nvrtc_version(nvrtc)
    except Exception as exc:  # noqa: BLE001 - libnvrtc missing: cuda-pathfinder raises
        raise Fail("nvrtc-unusable", f"NVRTC library not loadable: {type(exc).__name__}: {exc}",
                   "libnvrtc loadable by cuda-python") from None
    count = cx.device_count(cu)
    if count == 0:
        raise Fail("gpu-not-visible", "no GPU visible to CUDA", EXPECTED, params={"cuda_visible_devices": cx.visible_devices_env()})
    expected = reference(N, SEED)
    images: dict[int, tuple[bytes, bytes, float]] = {}
    results = []
    for ordinal in range(count):
        info = cx.device_info(cu, ordinal)
        sm = arch_of(info["cc"])
        if sm not in images:
            check_nvrtc_knows(nvrtc, sm, version)
            t = time.perf_counter()
            cubin, _ = cx.compile_source(nvrtc, SOURCE, "doctor_probe", f"sm_{sm}", cubin=True)
            ptx, _ = cx.compile_source(nvrtc, SOURCE, "doctor_probe", f"compute_{sm}", cubin=False)
            images[sm] = (cubin, ptx, time.perf_counter() - t)
        cubin, ptx, _ = images[sm]
        ctx = cx.Primary(cu, info["device"])
        try:
            ms_sass = run_image(cu, cubin, f"sm_{sm} cubin", ordinal, expected)
            t = time.perf_counter()
            ms_ptx = run_image(cu, ptx, f"compute_{sm} PTX (driver JIT)", ordinal, expected)
            jit_s = time.perf_counter() - t
        finally:
            ctx.release()
        results.append({"ordinal": ordinal, "name": info["name"], "sm": sm, "kernel_ms": round(ms_sass, 3),
                        "ptx_jit_and_run_s": round(jit_s, 3), "ptx_kernel_ms": round(ms_ptx, 3)})
    compile_s = sum(v[2] for v in images.values())
    archs = ", ".join(f"sm_{s}" for s in sorted(images))
    figure = (f"NVRTC {version} built {archs} cubin + PTX in {compile_s:.2f} s; both ran correctly on {count} GPU(s)")
    return Pass(figure, {"nvrtc": version, "compile_s": round(compile_s, 3), "elements": N, "gpus": results})


def main() -> None:
    run("ST3", body, expected=EXPECTED)


if __name__ == "__main__":
    main()
