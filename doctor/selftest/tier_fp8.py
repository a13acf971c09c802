"""Tier 4 (ST4): an FP8 (e4m3) matrix multiply-accumulate on the tensor cores, checked against a reference.

Where the GPU has FP8 tensor cores (compute capability 8.9+), a small GEMM
D = A(e4m3) x B(e4m3) + C(fp32) runs through the PTX instruction
``mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32``, compiled by NVRTC for the
GPU's own architecture, and the result is compared with an exact host reference.
Where NVRTC cannot be used and torch is installed, ``torch._scaled_mm`` runs instead
(DOCTOR_SELFTEST_FP8_BACKEND=torch forces it, =nvrtc forbids the fallback). GPUs
without FP8 are reported and skipped.

Run alone: ``python -m doctor.selftest.tier_fp8`` prints one result line.
"""

from __future__ import annotations

import ctypes
import os
import random
import time
from array import array
from typing import Any

from doctor.selftest._child import CudaError, Fail, Pass, Skip, run
from doctor.selftest import cudautil as cx

EXPECTED = "an e4m3 GEMM on the tensor cores matches the reference"
M, N, K = 64, 32, 128  # 4 x 4 warp tiles of 16 x 8, 4 k-steps of 32
FP8_MIN_CC = (8, 9)

SOURCE = r"""
extern "C" __global__ void doctor_fp8_mma(const unsigned char* A, const unsigned char* Bt, const float* C, float* D,
                                          int n, int k) {
    // A: M x K row-major e4m3; Bt: N x K row-major (= B column-major); C, D: M x N row-major fp32.
    int warp = (blockIdx.x * blockDim.x + threadIdx.x) >> 5;
    int lane = threadIdx.x & 31;
    int tiles_n = n / 8;
    int tm = warp / tiles_n, tn = warp % tiles_n;
    int g = lane >> 2, t = lane & 3;
    int r0 = tm * 16 + g, r1 = r0 + 8;
    int c0 = tn * 8 + t * 2;
    int bn = tn * 8 + g;
    float d0 = C[r0 * n + c0], d1 = C[r0 * n + c0 + 1], d2 = C[r1 * n + c0], d3 = C[r1 * n + c0 + 1];
    for (int kk = 0; kk < k; kk += 32) {
        unsigned int a0 = *(const unsigned int*)(A + r0 * k + kk + t * 4);
        unsigned int a1 = *(const unsigned int*)(A + r1 * k + kk + t * 4);
        unsigned int a2 = *(const unsigned int*)(A + r0 * k + kk + 16 + t * 4);
        unsigned int a3 = *(const unsigned int*)(A + r1 * k + kk + 16 + t * 4);
        unsigned int b0 = *(const unsigned int*)(Bt + bn * k + kk + t * 4);
        unsigned int b1 = *(const unsigned int*)(Bt + bn * k + kk + 16 + t * 4);
        asm volatile(
            "mma.sync.aligned.m16n8k32.row.col.f32.e4m3.e4m3.f32 "
            "{%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, {%0, %1, %2, %3};\n"
            : "+f"(d0), "+f"(d1), "+f"(d2), "+f"(d3)
            : "r"(a0), "r"(a1), "r"(a2), "r"(a3), "r"(b0), "r"(b1));
    }
    D[r0 * n + c0] = d0; D[r0 * n + c0 + 1] = d1; D[r1 * n + c0] = d2; D[r1 * n + c0 + 1] = d3;
}
"""


def e4m3_to_float(b: int) -> float:
    """Decode one OCP FP8 E4M3 byte (bias 7, no infinities, S.1111.111 is NaN)."""
    sign = -1.0 if b & 0x80 else 1.0
    exp = (b >> 3) & 0xF
    man = b & 0x7
    if exp == 0xF and man == 0x7:
        return float("nan")
    if exp == 0:
        return sign * (man / 8.0) * 2.0**-6
    return sign * (1.0 + man / 8.0) * 2.0 ** (exp - 7)


def random_e4m3(rng: random.Random, count: int) -> bytes:
    """Random e4m3 bytes with magnitudes in [2^-3, 2^3] (exponent field 4..10): no NaN, no subnormals."""
    out = bytearray(count)
    for i in range(count):
        out[i] = (rng.getrandbits(1) << 7) | (rng.randint(4, 10) << 3) | rng.getrandbits(3)
    return bytes(out)


def reference(a: bytes, bt: bytes, c: list[float], m: int, n: int, k: int) -> list[float]:
    av = [e4m3_to_float(x) for x in a]
    bv = [e4m3_to_float(x) for x in bt]
    out = []
    for i in range(m):
        row = av[i * k:(i + 1) * k]
        for j in range(n):
            col = bv[j * k:(j + 1) * k]
            out.append(c[i * n + j] + sum(x * y for x, y in zip(row, col)))
    return out


def compare(got: list[float], want: list[float], a: bytes, bt: bytes, k: int, n: int) -> tuple[float, int | None]:
    """(largest error relative to the sum of |products|, index of the first element over 1e-3)."""
    av = [abs(e4m3_to_float(x)) for x in a]
    bv = [abs(e4m3_to_float(x)) for x in bt]
    worst, first_bad = 0.0, None
    for idx, (g, w) in enumerate(zip(got, want)):
        i, j = divmod(idx, n)
        scale = sum(x * y for x, y in zip(av[i * k:(i + 1) * k], bv[j * k:(j + 1) * k])) + 1.0
        err = abs(g - w) / scale if g == g else float("inf")
        worst = max(worst, err)
        if err > 1e-3 and first_bad is None:
            first_bad = idx
    return worst, first_bad


def inputs(seed: int = 1234) -> tuple[bytes, bytes, list[float]]:
    rng = random.Random(seed)
    a = random_e4m3(rng, M * K)
    bt = random_e4m3(rng, N * K)
    c = [float(rng.randint(-8, 8)) for _ in range(M * N)]
    return a, bt, c


def run_nvrtc(cu: Any, nvrtc: Any, info: dict[str, Any], images: dict[int, bytes], data: tuple[bytes, bytes, list[float]]) -> tuple[list[float], float]:
    sm = info["cc"][0] * 10 + info["cc"][1]
    if sm not in images:
        images[sm], _ = cx.compile_source(nvrtc, SOURCE, "doctor_fp8_mma", f"sm_{sm}", cubin=True)
    a, bt, c = data
    ctx = cx.Primary(cu, info["device"])
    try:
        mod = cx.Module(cu, images[sm], f"cuModuleLoadData (sm_{sm} FP8 cubin)")
        try:
            func = mod.function("doctor_fp8_mma")
            cbytes = array("f", c).tobytes()
            bufs = [cx.check(cu.cuMemAlloc(len(x)), "cuMemAlloc") for x in (a, bt, cbytes, cbytes)]
            try:
                for dptr, host in zip(bufs[:3], (a, bt, cbytes)):
                    cx.check(cu.cuMemcpyHtoD(dptr, host, len(host)), "cuMemcpyHtoD")
                warps = (M // 16) * (N // 8)
                t = time.perf_counter()
                cx.launch(cu, func, warps, 32, [ctypes.c_uint64(int(p)) for p in bufs] + [ctypes.c_int32(N), ctypes.c_int32(K)])
                ms = (time.perf_counter() - t) * 1000
                out = array("f", bytes(len(cbytes)))
                cx.check(cu.cuMemcpyDtoH(out.buffer_info()[0], bufs[3], len(cbytes)), "cuMemcpyDtoH")
            finally:
                for p in bufs:
                    cu.cuMemFree(p)
        finally:
            mod.unload()
    finally:
        ctx.release()
    return list(out), ms


def run_torch(ordinal: int, data: tuple[bytes, bytes, list[float]]) -> tuple[list[float], float]:
    import torch  # noqa: PLC0415 - optional path, only in this child

    a, bt, c = data
    dev = torch.device("cuda", ordinal)
    ta = torch.frombuffer(bytearray(a), dtype=torch.uint8).view(torch.float8_e4m3fn).reshape(M, K).to(dev)
    tb = torch.frombuffer(bytearray(bt), dtype=torch.uint8).view(torch.float8_e4m3fn).reshape(N, K).to(dev)
    one = torch.ones((), device=dev, dtype=torch.float32)
    t = time.perf_counter()
    prod = torch._scaled_mm(ta, tb.t(), scale_a=one, scale_b=one, out_dtype=torch.float32)
    if isinstance(prod, tuple):  # torch < 2.5 returned (out, amax)
        prod = prod[0]
    torch.cuda.synchronize(dev)
    ms = (time.perf_counter() - t) * 1000
    tc = torch.tensor(c, dtype=torch.float32, device=dev).reshape(M, N)
    return (prod + tc).flatten().cpu().tolist(), ms


def body() -> Pass:
    cu = cx.cuda_init()
    count = cx.device_count(cu)
    if count == 0:
        raise Fail("gpu-not-visible", "no GPU visible to CUDA", EXPECTED, params={"cuda_visible_devices": cx.visible_devices_env()})
    infos = [cx.device_info(cu, i) for i in range(count)]
    fp8 = [i for i in infos if i["cc"] >= FP8_MIN_CC]
    if not fp8:
        first = infos[0]
        raise Skip(f"{first['name']} is SM {first['cc'][0]}{first['cc'][1]}: no FP8 tensor cores (needs compute capability 8.9+)",
                   cause="fp8-unsupported", params={"gpu": first["name"], "gpu_sm": f"{first['cc'][0]}{first['cc'][1]}"})
    backend = os.environ.get("DOCTOR_SELFTEST_FP8_BACKEND", "auto")
    data = inputs()
    want = reference(*data, M, N, K)
    images: dict[int, bytes] = {}
    nvrtc, version, why_not = None, None, None
    if backend in ("auto", "nvrtc"):
        try:
            nvrtc = cx.load_nvrtc()
            version = cx.nvrtc_version(nvrtc)
        except Exception as exc:  # noqa: BLE001
            why_not = f"NVRTC not usable: {exc}"
            nvrtc = None
    results = []
    for info in fp8:
        used = None
        got, ms = None, 0.0
        if nvrtc is not None:
            try:
                got, ms = run_nvrtc(cu, nvrtc, info, images, data)
                used = f"PTX mma e4m3 via NVRTC {version}"
            except (Fail, CudaError) as exc:
                if backend == "nvrtc" or not _torch_available():
                    if isinstance(exc, Fail):
                        exc.cause = "fp8-stack-broken" if exc.cause == "nvrtc-unusable" else exc.cause
                        raise
                    raise Fail("fp8-stack-broken", f"GPU {info['ordinal']}: the FP8 kernel failed: {exc}", EXPECTED,
                               params={"nvrtc": version, "gpu_sm": "%d%d" % info["cc"], "cuda_error": exc.name}) from None
                why_not = f"NVRTC path failed: {exc}"
        if got is None:
            if backend == "nvrtc" or not _torch_available():
                raise Fail("fp8-stack-broken", f"no way to run an FP8 GEMM here: {why_not or 'NVRTC not usable'} and torch is not installed",
                           EXPECTED, params={"gpu_sm": "%d%d" % info["cc"]})
            got, ms = run_torch(info["ordinal"], data)
            used = "torch._scaled_mm"
        worst, bad = compare(got, want, data[0], data[1], K, N)
        if bad is not None:
            i, j = divmod(bad, N)
            raise Fail("fp8-stack-broken", f"GPU {info['ordinal']} ({info['name']}): FP8 GEMM via {used} is wrong at [{i},{j}]: "
                       f"{got[bad]!r}, expected {want[bad]!r} (relative error {worst:.2e})", EXPECTED,
                       params={"gpu_sm": "%d%d" % info["cc"], "nvrtc": version})
        results.append({"ordinal": info["ordinal"], "name": info["name"], "backend": used, "max_rel_error": worst, "kernel_ms": round(ms, 3)})
    skipped = [f"GPU {i['ordinal']} (SM {i['cc'][0]}{i['cc'][1]})" for i in infos if i["cc"] < FP8_MIN_CC]
    figure = (f"e4m3 GEMM {M}x{N}x{K} + C on {len(results)} GPU(s) via {results[0]['backend']}: "
              f"max relative error {max(r['max_rel_error'] for r in results):.1e}"
              + (f"; no FP8 on {', '.join(skipped)}" if skipped else ""))
    return Pass(figure, {"gpus": results, "no_fp8": skipped, "shape": [M, N, K]})


def _torch_available() -> bool:
    import importlib.util

    return importlib.util.find_spec("torch") is not None


def main() -> None:
    run("ST4", body, expected=EXPECTED)


if __name__ == "__main__":
    main()
