"""Tier 5 (ST5): peer-to-peer access matrix and an NCCL all-reduce over all visible GPUs.

One process drives every GPU (ncclCommInitAll through ctypes, buffers and streams
through cuda-python), sums a buffer filled with rank+1 on each GPU, checks every byte
of the result, and reports the bus bandwidth, judged against the link type between the
GPUs (NVLink or PCIe, read from NVML's topology). NVLink multicast (NVLS) stays off:
the runner sets NCCL_NVLS_ENABLE=0 and friends, and this module sets them again before
NCCL loads. Needs 2+ GPUs (DOCTOR_SELFTEST_MIN_GPUS lowers that for testing the
plumbing on one GPU).

Run alone: ``python -m doctor.selftest.tier_multigpu`` prints one result line.
"""

from __future__ import annotations

import ctypes
import glob
import os
import struct
import sys
import time
from typing import Any

from doctor.selftest._child import Fail, Pass, Skip, Warn, env_int, run

EXPECTED = "every GPU pair can reach the other, and an NCCL all-reduce is correct at the link's speed"
NO_MULTICAST = {"NCCL_NVLS_ENABLE": "0", "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1", "NVSHMEM_DISABLE_NVLS": "1"}

# Bus-bandwidth floors (GB/s) for a large all-reduce, well under what healthy links give
# (nccl-tests on H100/H200 NVLink: 350+ GB/s; PCIe Gen4/5 x16 through the host: 10-25 GB/s),
# so that only a clearly broken or mis-routed interconnect is flagged.
BUSBW_FLOOR_GBPS = {"nvlink": 40.0, "pcie": 2.0, "unknown": 2.0}

NCCL_FLOAT32, NCCL_SUM = 7, 0


def bus_bandwidth(nbytes: int, seconds: float, ranks: int) -> tuple[float, float]:
    """(algorithm bandwidth, bus bandwidth) in GB/s of an all-reduce, as nccl-tests defines them."""
    if seconds <= 0:
        return 0.0, 0.0
    alg = nbytes / seconds / 1e9
    return alg, alg * 2 * (ranks - 1) / ranks


def link_type(topology: list[list[str]], ranks: list[int]) -> str:
    """'nvlink' when every pair of the chosen GPUs is joined by NVLink (NV#), 'pcie' when none of the pairs is, else 'mixed'."""
    kinds = set()
    for i in ranks:
        for j in ranks:
            if i == j:
                continue
            try:
                cell = topology[i][j]
            except (IndexError, TypeError):
                return "unknown"
            kinds.add("nvlink" if cell.upper().startswith("NV") else "pcie" if cell in ("PIX", "PXB", "PHB", "NODE", "SYS") else "unknown")
    if kinds == {"nvlink"}:
        return "nvlink"
    if kinds == {"pcie"}:
        return "pcie"
    return "mixed" if "nvlink" in kinds else "unknown"


def judge(p2p: list[list[bool]], link: str, busbw: float | None, ranks: int) -> tuple[list[Fail], list[Warn]]:
    """Turn the measurements into failures and warnings (pure; tested on CPU)."""
    fails: list[Fail] = []
    warns: list[Warn] = []
    missing = [(i, j) for i in range(len(p2p)) for j in range(len(p2p)) if i != j and not p2p[i][j]]
    if missing:
        pairs = ", ".join(f"{i}->{j}" for i, j in missing[:8]) + (" ..." if len(missing) > 8 else "")
        if link == "nvlink":
            fails.append(Fail("no-p2p-access", f"NVLink connects the GPUs but CUDA denies peer access for {pairs}",
                              "peer access between every NVLink-connected pair", params={"pairs": pairs}))
        else:
            warns.append(Warn("no-p2p-access", "No peer-to-peer access between some GPUs",
                              f"CUDA denies peer access for {pairs} ({link} topology); NCCL falls back to copies through host memory",
                              "peer access between every pair", {"pairs": pairs}))
    if busbw is not None and ranks > 1:
        kind = link if link in BUSBW_FLOOR_GBPS else "unknown"
        floor = BUSBW_FLOOR_GBPS[kind]
        if busbw < floor:
            label = {"nvlink": "NVLink", "pcie": "PCIe"}.get(kind, "any GPU link")
            warns.append(Warn("gpu-link-slow", f"All-reduce bus bandwidth {busbw:.1f} GB/s is far below {label} speed",
                              f"NCCL all-reduce over {ranks} GPUs: {busbw:.1f} GB/s bus bandwidth ({link} topology)",
                              f">= {floor:g} GB/s over {label}",
                              {"busbw_gbps": f"{busbw:.1f}", "expected_gbps": f"{floor:g}", "link": label}))
    return fails, warns


def find_nccl() -> str | None:
    """Path (or soname) of libnccl.so.2: cuda-pathfinder, the nvidia-nccl wheels, then the system."""
    try:
        from cuda.pathfinder import load_nvidia_dynamic_lib  # noqa: PLC0415

        lib = load_nvidia_dynamic_lib("nccl")
        path = getattr(lib, "abs_path", None)
        if path:
            return str(path)
    except Exception:  # noqa: BLE001 - older pathfinder or not found
        pass
    for base in sys.path:
        for pattern in ("nvidia/nccl/lib/libnccl.so*", "nvidia/cu*/lib/libnccl.so*"):
            hits = sorted(glob.glob(os.path.join(base, pattern)))
            if hits:
                return hits[0]
    for name in ("libnccl.so.2", "libnccl.so"):
        try:
            ctypes.CDLL(name)
            return name
        except OSError:
            continue
    return None


class Nccl:
    def __init__(self, path: str):
        self.lib = ctypes.CDLL(path)
        lib = self.lib
        lib.ncclGetErrorString.restype = ctypes.c_char_p
        lib.ncclGetErrorString.argtypes = (ctypes.c_int,)
        lib.ncclCommInitAll.argtypes = (ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.POINTER(ctypes.c_int))
        lib.ncclAllReduce.argtypes = (ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)
        lib.ncclCommDestroy.argtypes = (ctypes.c_void_p,)
        lib.ncclGetVersion.argtypes = (ctypes.POINTER(ctypes.c_int),)

    def ok(self, rc: int, call: str) -> None:
        if rc != 0:
            text = (self.lib.ncclGetErrorString(rc) or b"").decode(errors="replace")
            raise Fail("nccl-failure", f"{call} failed: NCCL error {rc} ({text})", EXPECTED, params={"nccl_error": rc})

    def version(self) -> str:
        v = ctypes.c_int()
        self.ok(self.lib.ncclGetVersion(ctypes.byref(v)), "ncclGetVersion")
        code = v.value
        if code >= 10000:  # NCCL >= 2.9: major*10000 + minor*100 + patch
            return f"{code // 10000}.{code // 100 % 100}.{code % 100}"
        return f"{code // 1000}.{code // 100 % 10}.{code % 100}"


def nvml_topology(bus_ids: list[str | None]) -> list[list[str]]:
    """Topology matrix (NV#, PIX, ..., SYS) for the given CUDA devices, through NVML, matched by PCI bus id."""
    try:
        import pynvml as nv  # noqa: PLC0415

        from doctor.probes.gpus import _topology  # noqa: PLC0415 - the one topology reader

        nv.nvmlInit()
    except Exception:  # noqa: BLE001
        return []
    try:
        handles = []
        for bus in bus_ids:
            if not bus:
                return []
            handles.append(nv.nvmlDeviceGetHandleByPciBusId(bus.encode() if isinstance(bus, str) else bus))
        return _topology(nv, handles)
    except Exception:  # noqa: BLE001
        return []
    finally:
        try:
            nv.nvmlShutdown()
        except Exception:  # noqa: BLE001
            pass


def body() -> Pass:
    for k, v in NO_MULTICAST.items():
        os.environ[k] = v  # before NCCL loads: never NVLink multicast
    from doctor.selftest import cudautil as cx  # noqa: PLC0415

    cu = cx.cuda_init()
    count = cx.device_count(cu)
    need = max(1, env_int("DOCTOR_SELFTEST_MIN_GPUS", 2))
    if count < need:
        raise Skip(f"{count} GPU visible; the multi-GPU test needs {need} or more", metrics={"gpus": count})
    infos = [cx.device_info(cu, i) for i in range(count)]
    p2p = [[i == j or bool(cx.check(cu.cuDeviceCanAccessPeer(infos[i]["device"], infos[j]["device"]), "cuDeviceCanAccessPeer"))
            for j in range(count)] for i in range(count)]
    topo = nvml_topology([i["bus_id"] for i in infos])
    link = link_type(topo, list(range(count))) if topo else "unknown"
    path = find_nccl()
    if path is None:
        fails, warns = judge(p2p, link, None, count)
        if fails:
            raise fails[0]
        raise Skip("NCCL library (libnccl.so.2) not found: install it (pip install nvidia-nccl-cu13, or -cu12; TensorRT-LLM brings it)",
                   metrics={"p2p": p2p, "link": link})
    nccl = Nccl(path)
    version = nccl.version()
    nbytes = max(1, env_int("DOCTOR_SELFTEST_ALLREDUCE_MIB", 256)) * 2**20
    n = nbytes // 4
    ctxs = [cx.Primary(cu, i["device"]) for i in infos]
    comms = (ctypes.c_void_p * count)()
    bufs: list[tuple[Any, Any, Any]] = []
    try:
        for r, ctx in enumerate(ctxs):
            ctx.current()
            send = cx.check(cu.cuMemAlloc(nbytes), f"cuMemAlloc on GPU {r}")
            recv = cx.check(cu.cuMemAlloc(nbytes), f"cuMemAlloc on GPU {r}")
            stream = cx.check(cu.cuStreamCreate(1), "cuStreamCreate")  # CU_STREAM_NON_BLOCKING
            bits = struct.unpack("<I", struct.pack("<f", float(r + 1)))[0]
            cx.check(cu.cuMemsetD32(send, bits, n), "cuMemsetD32")
            bufs.append((send, recv, stream))
        for ctx in ctxs:
            ctx.current()
            cx.check(cu.cuCtxSynchronize(), "cuCtxSynchronize")
        devlist = (ctypes.c_int * count)(*range(count))
        nccl.ok(nccl.lib.ncclCommInitAll(comms, count, devlist), "ncclCommInitAll")

        def allreduce() -> None:
            nccl.ok(nccl.lib.ncclGroupStart(), "ncclGroupStart")
            for r, (send, recv, stream) in enumerate(bufs):
                nccl.ok(nccl.lib.ncclAllReduce(int(send), int(recv), n, NCCL_FLOAT32, NCCL_SUM, comms[r], int(stream)), f"ncclAllReduce (rank {r})")
            nccl.ok(nccl.lib.ncclGroupEnd(), "ncclGroupEnd")
            for r, (_, _, stream) in enumerate(bufs):
                ctxs[r].current()
                cx.check(cu.cuStreamSynchronize(stream), "cuStreamSynchronize (all-reduce)")

        allreduce()  # warm-up: connections are set up here
        iters = max(1, env_int("DOCTOR_SELFTEST_ALLREDUCE_ITERS", 5))
        t = time.perf_counter()
        for _ in range(iters):
            allreduce()
        seconds = (time.perf_counter() - t) / iters
        expect = struct.pack("<f", float(count * (count + 1) // 2)) * n
        host = bytearray(nbytes)
        addr = ctypes.addressof((ctypes.c_char * nbytes).from_buffer(host))
        for r, (_, recv, _) in enumerate(bufs):
            ctxs[r].current()
            cx.check(cu.cuMemcpyDtoH(addr, recv, nbytes), "cuMemcpyDtoH")
            if host != expect:
                bad = next(i for i in range(0, nbytes, 4) if host[i:i + 4] != expect[i:i + 4])
                got = struct.unpack_from("<f", host, bad)[0]
                raise Fail("nccl-failure", f"all-reduce result wrong on GPU {r}: element {bad // 4} is {got}, expected "
                           f"{count * (count + 1) // 2}", EXPECTED)
    finally:
        for c in comms:
            if c:
                nccl.lib.ncclCommDestroy(c)
        for r, (send, recv, stream) in enumerate(bufs):
            ctxs[r].current()
            cu.cuMemFree(send)
            cu.cuMemFree(recv)
            cu.cuStreamDestroy(stream)
        for ctx in ctxs:
            ctx.release()
    alg, bus = bus_bandwidth(nbytes, seconds, count)
    fails, warns = judge(p2p, link, bus, count)
    metrics = {"gpus": count, "p2p": p2p, "topology": topo, "link": link, "nccl": version, "nccl_path": path,
               "bytes": nbytes, "iters": iters, "seconds_per_iter": round(seconds, 6),
               "algbw_gbps": round(alg, 1), "busbw_gbps": round(bus, 1)}
    if fails:
        fails[0].metrics = metrics
        raise fails[0]
    p2p_ok = sum(p2p[i][j] for i in range(count) for j in range(count) if i != j)
    figure = (f"{count} GPUs ({link}), P2P {p2p_ok}/{count * (count - 1)} pairs; NCCL {version} all-reduce "
              f"{nbytes >> 20} MiB correct, bus bandwidth {bus:.1f} GB/s (algorithm {alg:.1f} GB/s)")
    return Pass(figure, metrics, warns)


def main() -> None:
    run("ST5", body, expected=EXPECTED)


if __name__ == "__main__":
    main()
