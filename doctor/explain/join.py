"""The machine in the diagnosis: explain's findings read against a snapshot's (or this machine's) facts.

Pure functions: a finding's parameters (the log's own numbers) beside the facts give one line each,
kept in ``finding.extra["machine"]``: the OOM's request against this GPU's memory, the engine's SM
against this GPU's, the ranks launched against the GPUs visible, the missing library against what the
loader finds here. A join never changes the cause; it says whether the same failure would happen on
the machine described by the facts, and with what numbers.
"""

from __future__ import annotations

import re
from typing import Any

from doctor.facts import Facts
from doctor.report import Report

_SIZE = re.compile(r"^\s*([\d.]+)\s*(bytes|B|KiB|MiB|GiB|TiB|KB|MB|GB|TB)?\s*$", re.I)
_UNITS = {"bytes": 1, "b": 1, "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40, "kb": 1e3, "mb": 1e6, "gb": 1e9, "tb": 1e12}


def parse_size(text: str) -> float | None:
    m = _SIZE.match(str(text))
    if not m:
        return None
    return float(m.group(1)) * _UNITS[(m.group(2) or "bytes").lower()]


def _gib(n: float) -> str:
    return f"{n / 2**30:.1f} GiB"


def _gpus(facts: Facts) -> list:
    return list(facts.gpus.gpus)


def _sm(cc: str | None) -> int | None:
    try:
        major, minor = str(cc).split(".")
        return int(major) * 10 + int(minor)
    except (ValueError, AttributeError):
        return None


def join_oom(p: dict[str, Any], facts: Facts) -> list[str]:
    need = parse_size(p.get("size", "")) if p.get("size") else None
    gpus = _gpus(facts)
    if need is None or not gpus:
        return []
    idx = p.get("gpu")
    g = next((x for x in gpus if str(x.index) == str(idx)), gpus[0])
    total = (g.memory_total_mib or 0) * 2**20
    free = (g.memory_free_mib or 0) * 2**20
    if not total:
        return []
    verdict = ("more than this GPU has in all: the model and buffers must shrink or be spread over more GPUs"
               if need > total else "less than it has free now: on this machine that allocation would succeed"
               if need <= free else "more than it has free now (something else holds memory)")
    return [f"GPU {g.index} here ({g.name}) has {_gib(total)}, {_gib(free)} free; the log asked for {_gib(need)}: {verdict}."]


def join_sm(p: dict[str, Any], facts: Facts) -> list[str]:
    gpus = _gpus(facts)
    sms = sorted({s for s in (_sm(g.cc) for g in gpus) if s is not None})
    if not sms:
        return []
    here = ", ".join(f"SM {s}" for s in sms)
    built = p.get("engine_sm")
    if built and str(built).isdigit():
        same = int(built) in sms
        return [f"The GPUs here are {here}; the engine was built for SM {built}: "
                + ("it would load here." if same else "it must be rebuilt here too.")]
    if p.get("gpu_sm"):
        return [f"The GPUs here are {here}; the log's GPU was SM {p['gpu_sm']}."]
    return [f"The GPUs here are {here}."]


def join_ranks(p: dict[str, Any], facts: Facts) -> list[str]:
    n = len(_gpus(facts))
    want = p.get("world_size") or p.get("device")
    vis = facts.env.get("CUDA_VISIBLE_DEVICES")
    line = f"This machine sees {n} GPU(s)" + (f" (CUDA_VISIBLE_DEVICES={vis})" if vis is not None else "")
    if want and str(want).isdigit():
        k = int(want)
        if p.get("device") and not p.get("world_size"):
            return [line + (f"; device {k} exists here." if k < n else f"; device {k} does not exist here either.")]
        return [line + (f"; the {k} ranks of the log fit." if k <= n else f"; {k} ranks need {k} GPUs.")]
    return [line + "."]


def join_driver(p: dict[str, Any], facts: Facts) -> list[str]:
    d = facts.driver
    if not d.version:
        return [f"No NVIDIA driver was found here ({d.error or 'unknown'})."] if d.error else []
    return [f"The driver here is {d.version} (supports CUDA {d.cuda_version or '?'})."]


def join_visible(p: dict[str, Any], facts: Facts) -> list[str]:
    gpus = _gpus(facts)
    if gpus:
        return [f"This machine sees {len(gpus)} GPU(s) ({gpus[0].name}): the process in the log ran where none was visible "
                "(another container, CUDA_VISIBLE_DEVICES, or no --gpus)."]
    return [f"No GPU is visible here either ({facts.gpus.error or facts.driver.error or 'none found'})."]


def join_disk(p: dict[str, Any], facts: Facts) -> list[str]:
    disks = [d for d in facts.host.disks if d.free_bytes is not None]
    return [", ".join(f"{d.path} ({d.purpose}) has {_gib(d.free_bytes)} free" for d in disks[:4]) + " here."] if disks else []


def join_shm(p: dict[str, Any], facts: Facts) -> list[str]:
    s = facts.host.shm_total_bytes
    return [f"/dev/shm here is {_gib(s)}" + (" (the 64 MiB container default: too small)." if s <= 64 * 2**20 else ".")] if s else []


def join_ram(p: dict[str, Any], facts: Facts) -> list[str]:
    h = facts.host
    if not h.ram_total_bytes:
        return []
    limit = f", a {_gib(h.cgroup_memory_limit_bytes)} container limit" if h.cgroup_memory_limit_bytes else ""
    return [f"This machine has {_gib(h.ram_total_bytes)} RAM ({_gib(h.ram_available_bytes or 0)} available{limit})."]


def join_mpi(p: dict[str, Any], facts: Facts) -> list[str]:
    lib = p.get("lib", "")
    if "mpi" not in lib and p.get("provider", "") != "Open MPI":
        return []
    h = facts.host
    return [f"Here the loader finds {h.libmpi}." if h.libmpi else "Here the loader does not find libmpi either (apt-get install libopenmpi-dev)."]


def join_packages(p: dict[str, Any], facts: Facts) -> list[str]:
    pk = facts.packages.installed
    name = p.get("package") or ("tensorrt-llm" if p.get("module", "").startswith("tensorrt_llm") else "")
    if not name:
        return []
    key = name.lower().replace("_", "-")
    ver = pk.get(key)
    return [f"{name} {ver} is installed in {facts.packages.python or 'the Python checked'} here." if ver
            else f"{name} is not installed in {facts.packages.python or 'the Python checked'} here either."]


JOINS = {
    "runtime-oom": join_oom, "build-oom": join_oom, "kv-cache-too-small": join_oom,
    "engine-gpu-mismatch": join_sm, "gpu-arch-unsupported": join_sm, "fp8-unsupported": join_sm, "fp4-unsupported": join_sm,
    "parallelism-mismatch": join_ranks, "cuda-invalid-device": join_ranks, "gpu-shared-by-ranks": join_ranks,
    "driver-too-old": join_driver, "cuda-runtime-mismatch": join_driver, "driver-library-mismatch": join_driver,
    "driver-missing": join_driver,
    "gpu-not-visible": join_visible, "container-gpu-runtime-missing": join_visible,
    "disk-full": join_disk, "shm-too-small": join_shm,
    "host-oom-killed": join_ram, "host-memory-exhausted": join_ram,
    "missing-shared-library": join_mpi,
    "trtllm-not-installed": join_packages, "module-not-found": join_packages,
}


def join_facts(report: Report, facts: Facts, kb=None) -> None:
    """Add ``extra["machine"]`` lines to the findings whose cause has a join; note which machine was read."""
    for f in report.findings:
        fn = JOINS.get(f.category)
        if fn is None:
            continue
        lines = fn(dict(f.params), facts)
        if lines:
            f.extra["machine"] = lines
    where = facts.platform.hostname or "this machine"
    report.extra["machine"] = {"host": where, "created": facts.created, "gpus": [g.name for g in facts.gpus.gpus],
                               "driver": facts.driver.version}
