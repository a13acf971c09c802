"""The GPU self-test: tiers that prove a node with real CUDA work, each in its own process.

Facts can lie (a driver that answers NVML but cannot create a context, FP8 promised by
the table but not runnable). Each tier is a module runnable as
``python -m doctor.selftest.<module>`` that prints one result line; the runner
(:mod:`doctor.selftest.runner`) starts it in its own process group under a timeout and
turns whatever happens (a result, a signal, an exit code, a hang) into a
:class:`~doctor.selftest.runner.TierResult`. This module is the registry: cheap to
import, no CUDA.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TierSpec:
    number: int
    id: str  # permanent: ST1..ST6
    symbol: str
    name: str  # short, for --tier
    title: str
    module: str
    timeout: float  # default seconds
    hang_cause: str  # the cause when the tier hangs past its timeout
    crash_cause: str = "unknown-failure"  # when it crashes and its stderr names no known error
    needs_cuda: bool = False  # skipped when ST2 ran and failed
    argv: tuple[str, ...] | None = None  # tests: run this instead of ``python -m module``


TIERS: tuple[TierSpec, ...] = (
    TierSpec(1, "ST1", "selftest-nvml", "nvml", "NVML: GPUs, clocks and memory", "doctor.selftest.tier_nvml", 20.0, "gpu-hung"),
    TierSpec(2, "ST2", "selftest-cuda-driver", "cuda", "CUDA driver: contexts and a 512 MiB round trip", "doctor.selftest.tier_cuda", 60.0, "gpu-hung"),
    TierSpec(3, "ST3", "selftest-kernel", "kernel", "Kernel: NVRTC build for this GPU, run and verify", "doctor.selftest.tier_kernel", 60.0, "gpu-hung", needs_cuda=True),
    TierSpec(4, "ST4", "selftest-fp8", "fp8", "FP8: e4m3 matrix multiply-accumulate on the tensor cores", "doctor.selftest.tier_fp8", 90.0, "gpu-hung", needs_cuda=True),
    TierSpec(5, "ST5", "selftest-multi-gpu", "multigpu", "Multi-GPU: peer access and NCCL all-reduce", "doctor.selftest.tier_multigpu", 180.0, "nccl-failure", crash_cause="nccl-failure", needs_cuda=True),
    TierSpec(6, "ST6", "selftest-trtllm", "trtllm", "TensorRT-LLM: tiny engine build and generation", "doctor.selftest.tier_trtllm", 900.0, "unknown-failure"),
)


def tier(key: str | int) -> TierSpec | None:
    """Find a tier by number (3), id (ST3, st3) or name (kernel)."""
    text = str(key).strip().lower()
    for t in TIERS:
        if text in (str(t.number), t.id.lower(), t.name, t.symbol):
            return t
    return None
