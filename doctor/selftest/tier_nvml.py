"""Tier 1 (ST1): NVML initialises, enumerates the GPUs, and reads their clocks and memory.

Run alone: ``python -m doctor.selftest.tier_nvml`` prints one result line.
"""

from __future__ import annotations

import os
from typing import Any

from doctor.selftest._child import Fail, Pass, Skip, Warn, run
from doctor.selftest.diagnose import cause_for_nvml_error

EXPECTED = "nvmlInit succeeds and lists at least one GPU with readable memory and clocks"


def select_visible(cvd: str | None, devices: list[tuple[int, str | None]]) -> list[int]:
    """The NVML indices that CUDA_VISIBLE_DEVICES keeps, the way CUDA reads it.

    ``devices`` is [(nvml index, uuid)]. Unset: all. Entries are indices or (prefixes
    of) GPU UUIDs; CUDA stops at the first entry it cannot resolve. MIG entries cannot
    be resolved to a parent here: then all GPUs are kept.
    """
    if cvd is None:
        return [i for i, _ in devices]
    out: list[int] = []
    for raw in cvd.split(","):
        entry = raw.strip()
        if not entry:
            break
        if entry.upper().startswith("MIG-"):
            return [i for i, _ in devices]
        if entry.lstrip("-").isdigit():
            idx = int(entry)
            if idx < 0 or idx >= len(devices) or idx in out:
                break
            out.append(idx)
            continue
        key = entry if entry.upper().startswith("GPU-") else f"GPU-{entry}"
        hits = [i for i, uuid in devices if uuid and uuid.lower().startswith(key.lower())]
        if len(hits) != 1 or hits[0] in out:
            break
        out.append(hits[0])
    return out


def _text(v: Any) -> Any:
    return v.decode() if isinstance(v, bytes) else v


def _try(func: Any, *args: Any) -> Any:
    try:
        return func(*args)
    except Exception:  # noqa: BLE001 - NotSupported and friends: the field stays unknown
        return None


def body() -> Pass:
    try:
        import pynvml as nv
    except ImportError as exc:
        raise Skip(f"nvidia-ml-py (pynvml) is not installed ({exc}); pip install nvidia-ml-py") from None
    try:
        nv.nvmlInit()
    except nv.NVMLError as exc:
        code = getattr(exc, "value", None)
        raise Fail(cause_for_nvml_error(code), f"nvmlInit failed: {exc} (NVML error {code})", EXPECTED,
                   params={"cuda_visible_devices": os.environ.get("CUDA_VISIBLE_DEVICES")}) from None
    try:
        driver = _text(_try(nv.nvmlSystemGetDriverVersion))
        count = nv.nvmlDeviceGetCount()
        if count == 0:
            raise Fail("gpu-not-visible", f"NVML initialised (driver {driver}) but lists no GPU", EXPECTED)
        handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        uuids = [_text(_try(nv.nvmlDeviceGetUUID, h)) for h in handles]
        cvd = os.environ.get("CUDA_VISIBLE_DEVICES")
        chosen = select_visible(cvd, list(enumerate(uuids)))
        if not chosen:
            raise Fail("gpu-not-visible", f"NVML lists {count} GPU(s) but CUDA_VISIBLE_DEVICES={cvd!r} selects none of them",
                       EXPECTED, params={"cuda_visible_devices": cvd})
        gpus, warnings = [], []
        for i in chosen:
            h = handles[i]
            name = _text(_try(nv.nvmlDeviceGetName, h)) or "unknown"
            mem = nv.nvmlDeviceGetMemoryInfo(h)  # must work: a GPU whose memory NVML cannot read is broken
            sm = _try(nv.nvmlDeviceGetClockInfo, h, nv.NVML_CLOCK_SM)
            sm_max = _try(nv.nvmlDeviceGetMaxClockInfo, h, nv.NVML_CLOCK_SM)
            memclk = _try(nv.nvmlDeviceGetClockInfo, h, nv.NVML_CLOCK_MEM)
            cc = _try(nv.nvmlDeviceGetCudaComputeCapability, h)
            g = {
                "index": i, "name": name, "uuid": uuids[i], "cc": f"{cc[0]}.{cc[1]}" if cc else None,
                "bus_id": _text(getattr(_try(nv.nvmlDeviceGetPciInfo, h), "busId", None)),
                "memory_total_mib": mem.total // 2**20, "memory_used_mib": mem.used // 2**20,
                "sm_clock_mhz": sm, "sm_clock_max_mhz": sm_max, "mem_clock_mhz": memclk,
                "temperature_c": _try(nv.nvmlDeviceGetTemperature, h, nv.NVML_TEMPERATURE_GPU),
                "pcie_gen": _try(nv.nvmlDeviceGetCurrPcieLinkGeneration, h),
                "pcie_width": _try(nv.nvmlDeviceGetCurrPcieLinkWidth, h),
                "pcie_gen_max": _try(nv.nvmlDeviceGetMaxPcieLinkGeneration, h),
                "pcie_width_max": _try(nv.nvmlDeviceGetMaxPcieLinkWidth, h),
            }
            rows = _try(nv.nvmlDeviceGetRemappedRows, h)  # (corrected, uncorrected, pending, failure)
            if rows is not None:
                g["remapped_rows"] = {"corrected": rows[0], "uncorrected": rows[1], "pending": bool(rows[2]), "failure": bool(rows[3])}
                if rows[3]:
                    raise Fail("gpu-hardware-error", f"GPU {i} ({name}): row remapping failed (uncorrectable memory rows: {rows[1]})",
                               "no row-remapping failure", params={"index": i})
                if rows[2]:
                    warnings.append(Warn("gpu-hardware-error", f"GPU {i}: memory row remapping pending, reset the GPU",
                                         f"GPU {i} ({name}) has a row remap pending ({rows[1]} uncorrectable rows so far)",
                                         "no pending row remaps", {"index": i}))
            if memclk == 0 or sm == 0:
                raise Fail("gpu-hardware-error", f"GPU {i} ({name}) reports a clock of 0 MHz (SM {sm}, memory {memclk})",
                           "non-zero SM and memory clocks", params={"index": i})
            gpus.append(g)
    finally:
        _try(nv.nvmlShutdown)
    names: dict[str, int] = {}
    for g in gpus:
        names[g["name"]] = names.get(g["name"], 0) + 1
    first = gpus[0]
    clock = f", SM {first['sm_clock_mhz']}/{first['sm_clock_max_mhz']} MHz" if first["sm_clock_mhz"] is not None else ""
    figure = (", ".join(f"{n} x {k}" for k, n in names.items())
              + f" (CC {first['cc'] or '?'}, {first['memory_total_mib'] / 1024:.0f} GiB{clock}); driver {driver}")
    return Pass(figure, {"driver": driver, "gpus": gpus, "nvml_count": count}, warnings)


def main() -> None:
    run("ST1", body, expected=EXPECTED)


if __name__ == "__main__":
    main()
