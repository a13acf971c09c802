"""Tier 2 (ST2): cuInit, a context on every visible GPU, and a 512 MiB round trip each.

For each GPU: make its primary context current, allocate 512 MiB, copy 512 MiB of a
patterned host buffer (pinned) to it, clear the host buffer, copy it back and compare
every byte with the pattern; report the host<->device bandwidth. Where the driver will
not pin 512 MiB, a 64 MiB pinned buffer carries it in pieces (pageable memory as a last
resort). The size is set with DOCTOR_SELFTEST_COPY_MIB (tests lower it). 512 MiB, not 1 GiB: pinning, filling
and comparing the buffer are most of the tier's time, and half a GiB still times each direction over ~10 ms on
PCIe 5 (tiers 1-4 in 2.5 s instead of 3.1 s on an H200).

Run alone: ``python -m doctor.selftest.tier_cuda`` prints one result line.
"""

from __future__ import annotations

import ctypes
import os
import struct
import time

from doctor.selftest._child import CudaError, Fail, Pass, env_int, run
from doctor.selftest import cudautil as cx

EXPECTED = "cuInit succeeds, every visible GPU gets a context, and 512 MiB survive a host->device->host round trip"
BLOCK = 1 << 20
PORTABLE = 1  # CU_MEMHOSTALLOC_PORTABLE: pinned for every context, not only the first
COPY_MIB = 512  # the round trip per GPU
STAGING = 64 << 20  # pinned staging buffer when the whole buffer cannot be pinned


class Pattern:
    """A GiB-scale test pattern made of 1 MiB blocks, each stamped with its index, so a
    misplaced block is caught, and checkable block by block without a second full buffer."""

    def __init__(self, seed: int = 0x5EED):
        self.seed = seed
        self.block = bytearray(os.urandom(BLOCK))
        self.addr = ctypes.addressof((ctypes.c_char * BLOCK).from_buffer(self.block))

    def _stamp(self, index: int) -> None:
        struct.pack_into("<QQ", self.block, 0, index, self.seed)

    def fill(self, addr: int, offset: int, size: int) -> None:
        """Write the pattern's bytes [offset, offset+size) to host memory at addr."""
        for pos in range(offset, offset + size, BLOCK):
            self._stamp(pos // BLOCK)
            ctypes.memmove(addr + pos - offset, self.addr, min(BLOCK, offset + size - pos))

    def mismatch(self, addr: int, offset: int, size: int) -> int | None:
        """Offset (in the pattern) of the first wrong byte in host memory at addr, or None."""
        for pos in range(offset, offset + size, BLOCK):
            self._stamp(pos // BLOCK)
            n = min(BLOCK, offset + size - pos)
            bad = cx.first_difference(addr + pos - offset, self.addr, n)
            if bad is not None:
                return pos + bad
        return None


def host_buffer(cu, size: int) -> tuple[int, int, bool, str | None, object]:
    """(address, chunk size, pinned, why not pinned, keep-alive): the whole buffer pinned if the driver grants it,
    else a 64 MiB pinned staging buffer, else pageable memory."""
    why = None
    for chunk in (size, min(size, STAGING)):
        try:
            return int(cx.check(cu.cuMemHostAlloc(chunk, PORTABLE), "cuMemHostAlloc")), chunk, True, why, None
        except CudaError as exc:
            why = why or f"cuMemHostAlloc({chunk >> 20} MiB): {exc.name}"
    chunk = min(size, STAGING)
    keep = bytearray(chunk)
    return ctypes.addressof((ctypes.c_char * chunk).from_buffer(keep)), chunk, False, why, keep


def round_trip(cu, dptr, buf: int, chunk: int, size: int, pattern: Pattern, filled: bool) -> tuple[float, float, int | None]:
    """Copy the pattern host->device and back through buf (chunk bytes at a time); (h2d s, d2h s, first bad byte)."""
    base = int(dptr)
    h2d = d2h = 0.0
    for off in range(0, size, chunk):
        n = min(chunk, size - off)
        if not filled:
            pattern.fill(buf, off, n)
        t = time.perf_counter()
        cx.check(cu.cuMemcpyHtoD(base + off, buf, n), "cuMemcpyHtoD")
        cx.check(cu.cuCtxSynchronize(), "cuCtxSynchronize")
        h2d += time.perf_counter() - t
    for off in range(0, size, chunk):
        n = min(chunk, size - off)
        ctypes.memset(buf, 0, n)
        t = time.perf_counter()
        cx.check(cu.cuMemcpyDtoH(buf, base + off, n), "cuMemcpyDtoH")
        cx.check(cu.cuCtxSynchronize(), "cuCtxSynchronize")
        d2h += time.perf_counter() - t
        bad = pattern.mismatch(buf, off, n)
        if bad is not None:
            return h2d, d2h, bad
    return h2d, d2h, None


def body() -> Pass:
    cu = cx.cuda_init()
    version = cx.check(cu.cuDriverGetVersion(), "cuDriverGetVersion")
    driver_cuda = f"{version // 1000}.{(version % 1000) // 10}"
    count = cx.device_count(cu)
    cvd = cx.visible_devices_env()
    if count == 0:
        raise Fail("gpu-not-visible", f"cuInit succeeded (driver CUDA {driver_cuda}) but no GPU is visible", EXPECTED,
                   params={"cuda_visible_devices": cvd})
    size = max(1, env_int("DOCTOR_SELFTEST_COPY_MIB", COPY_MIB)) * 2**20
    # A context first: pinned host memory is allocated through one.
    first = cx.device_info(cu, 0)
    ctx0 = cx.Primary(cu, first["device"])
    t0 = time.perf_counter()
    buf, chunk, pinned, why, keep = host_buffer(cu, size)
    alloc_s = time.perf_counter() - t0
    pattern = Pattern()
    gpus = []
    filled = False
    try:
        for ordinal in range(count):
            info = first if ordinal == 0 else cx.device_info(cu, ordinal)
            ctx = cx.Primary(cu, info["device"])
            try:
                free, total = cx.check(cu.cuMemGetInfo(), "cuMemGetInfo")
                dptr = cx.check(cu.cuMemAlloc(size), f"cuMemAlloc({size >> 20} MiB) on GPU {ordinal}")
                try:
                    h2d, d2h, bad = round_trip(cu, dptr, buf, chunk, size, pattern, filled)
                finally:
                    cu.cuMemFree(dptr)
                if bad is not None:
                    raise Fail("gpu-hardware-error",
                               f"GPU {ordinal} ({info['name']}): the {size >> 20} MiB host->device->host copy came back different "
                               f"(first difference at byte {bad})", "the bytes that were sent come back", params={"index": ordinal})
                filled = chunk == size  # the buffer now holds the whole, verified pattern
                gpus.append({"ordinal": ordinal, "name": info["name"], "cc": "%d.%d" % info["cc"], "bus_id": info["bus_id"],
                             "memory_free_mib": int(free) >> 20, "memory_total_mib": int(total) >> 20,
                             "h2d_gbps": round(size / h2d / 1e9, 1), "d2h_gbps": round(size / d2h / 1e9, 1)})
            finally:
                ctx.release()
    finally:
        if pinned:
            cu.cuMemFreeHost(buf)
        del keep
        ctx0.release()
    h2d = min(g["h2d_gbps"] for g in gpus)
    d2h = min(g["d2h_gbps"] for g in gpus)
    how = "" if pinned and chunk == size else f" through a {chunk >> 20} MiB pinned buffer" if pinned else " (pageable memory: pinned refused)"
    figure = f"{count} GPU(s), {size >> 20} MiB round trip byte-exact{how}; H2D {h2d:.1f} GB/s, D2H {d2h:.1f} GB/s"
    return Pass(figure, {"driver_cuda": driver_cuda, "copy_bytes": size, "pinned": pinned, "chunk_bytes": chunk,
                         "pinned_refused": why, "host_alloc_s": round(alloc_s, 3), "gpus": gpus})


def main() -> None:
    run("ST2", body, expected=EXPECTED)


if __name__ == "__main__":
    main()
