"""NVIDIA driver and GPU probe: NVML first, then nvidia-smi, then /proc/driver/nvidia/version.

Every NVML call is wrapped: a field NVML cannot read stays None. The whole probe runs
under the caller's time bound (see doctor.probes.run_bounded); nvidia-smi gets its
own timeout.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Callable
from typing import Any

from doctor.facts import DriverFacts, GPUFacts, GPUsFacts

SMI_TIMEOUT = 4.0
SMI_LIMIT = 4 << 20  # nvidia-smi's answer for 64 GPUs is a few kB
SMI_FIELDS = (
    "index,name,uuid,pci.bus_id,driver_version,compute_cap,memory.total,memory.used,memory.free,"
    "mig.mode.current,ecc.mode.current,persistence_mode,compute_mode,pcie.link.gen.current,pcie.link.width.current,power.limit"
)


def _visible_env() -> tuple[str | None, str | None]:
    return os.environ.get("CUDA_VISIBLE_DEVICES"), os.environ.get("NVIDIA_VISIBLE_DEVICES")


def cuda_version_string(code: int) -> str:
    """NVML/CUDA integer version (13000) -> '13.0'."""
    return f"{code // 1000}.{(code % 1000) // 10}"


def _try(func: Callable[..., Any], *args: Any) -> Any:
    try:
        return func(*args)
    except Exception:  # noqa: BLE001 - pynvml raises NVMLError_* for "not supported" and friends
        return None


def _text(value: Any) -> Any:
    return value.decode() if isinstance(value, bytes) else value


def probe_nvml() -> tuple[DriverFacts, GPUsFacts]:
    import pynvml as nv

    nv.nvmlInit()
    try:
        driver = DriverFacts(version=_text(nv.nvmlSystemGetDriverVersion()), source="nvml")
        code = _try(nv.nvmlSystemGetCudaDriverVersion_v2) or _try(nv.nvmlSystemGetCudaDriverVersion)
        driver.cuda_version = cuda_version_string(code) if code else None
        cvd, nvd = _visible_env()
        out = GPUsFacts(source="nvml", cuda_visible_devices=cvd, nvidia_visible_devices=nvd)
        count = nv.nvmlDeviceGetCount()
        handles = [nv.nvmlDeviceGetHandleByIndex(i) for i in range(count)]
        for i, h in enumerate(handles):
            g = GPUFacts(index=i, name=_text(_try(nv.nvmlDeviceGetName, h)) or "unknown")
            g.uuid = _text(_try(nv.nvmlDeviceGetUUID, h))
            pci = _try(nv.nvmlDeviceGetPciInfo, h)
            g.bus_id = _text(getattr(pci, "busId", None)) if pci is not None else None
            cc = _try(nv.nvmlDeviceGetCudaComputeCapability, h)
            g.cc = f"{cc[0]}.{cc[1]}" if cc else None
            mem = _try(nv.nvmlDeviceGetMemoryInfo, h)
            if mem is not None:
                g.memory_total_mib = mem.total // 2**20
                g.memory_used_mib = mem.used // 2**20
                g.memory_free_mib = mem.free // 2**20
            mig = _try(nv.nvmlDeviceGetMigMode, h)
            g.mig_enabled = bool(mig[0]) if mig else None
            ecc = _try(nv.nvmlDeviceGetEccMode, h)
            g.ecc_enabled = bool(ecc[0]) if ecc else None
            pm = _try(nv.nvmlDeviceGetPersistenceMode, h)
            g.persistence = bool(pm) if pm is not None else None
            mode = _try(nv.nvmlDeviceGetComputeMode, h)
            g.compute_mode = {0: "Default", 1: "Exclusive_Thread", 2: "Prohibited", 3: "Exclusive_Process"}.get(mode)
            g.pcie_gen = _try(nv.nvmlDeviceGetCurrPcieLinkGeneration, h)
            g.pcie_width = _try(nv.nvmlDeviceGetCurrPcieLinkWidth, h)
            power = _try(nv.nvmlDeviceGetPowerManagementLimit, h)
            g.power_limit_w = power / 1000 if power else None
            g.nvlink_active = _nvlink_active(nv, h)
            procs = _try(nv.nvmlDeviceGetComputeRunningProcesses, h)
            g.processes = len(procs) if procs is not None else None
            out.gpus.append(g)
        out.topology = _topology(nv, handles)
        return driver, out
    finally:
        _try(nv.nvmlShutdown)


def _nvlink_active(nv: Any, handle: Any) -> int | None:
    links = getattr(nv, "NVML_NVLINK_MAX_LINKS", 18)
    active, supported = 0, False
    for link in range(links):
        state = _try(nv.nvmlDeviceGetNvLinkState, handle, link)
        if state is None:
            continue
        supported = True
        active += int(state == 1)
    return active if supported else 0


def _topology(nv: Any, handles: list[Any]) -> list[list[str]]:
    """A matrix like `nvidia-smi topo -m`: X on the diagonal, NV<n> for NVLink, else the PCIe level."""
    if len(handles) < 2:
        return []
    levels = {0: "X", 10: "PIX", 20: "PXB", 30: "PHB", 40: "NODE", 50: "SYS"}
    links = [_nvlink_peers(nv, h) for h in handles]
    bus = [_text(getattr(_try(nv.nvmlDeviceGetPciInfo, h), "busId", "")) for h in handles]
    matrix = []
    for i, hi in enumerate(handles):
        row = []
        for j, hj in enumerate(handles):
            if i == j:
                row.append("X")
                continue
            n = links[i].get(bus[j].lower(), 0) if bus[j] else 0
            if n:
                row.append(f"NV{n}")
                continue
            level = _try(nv.nvmlDeviceGetTopologyCommonAncestor, hi, hj)
            row.append(levels.get(level, "?") if level is not None else "?")
        matrix.append(row)
    return matrix


def _nvlink_peers(nv: Any, handle: Any) -> dict[str, int]:
    """Remote PCI bus id -> number of active NVLinks to it."""
    peers: dict[str, int] = {}
    for link in range(getattr(nv, "NVML_NVLINK_MAX_LINKS", 18)):
        if _try(nv.nvmlDeviceGetNvLinkState, handle, link) != 1:
            continue
        remote = _try(nv.nvmlDeviceGetNvLinkRemotePciInfo_v2, handle, link) or _try(nv.nvmlDeviceGetNvLinkRemotePciInfo, handle, link)
        if remote is not None:
            key = _text(remote.busId).lower()
            peers[key] = peers.get(key, 0) + 1
    return peers


def _num(text: str) -> float | None:
    m = re.search(r"[-+]?\d+(\.\d+)?", text)
    return float(m.group(0)) if m else None


def parse_smi_csv(text: str) -> tuple[DriverFacts, GPUsFacts]:
    """Parse `nvidia-smi --query-gpu=SMI_FIELDS --format=csv,noheader`."""
    driver = DriverFacts(source="nvidia-smi")
    out = GPUsFacts(source="nvidia-smi")
    for line in text.strip().splitlines():
        cols = [c.strip() for c in line.split(",")]
        if len(cols) < 16:
            continue
        idx, name, uuid, bus, drv, cc, total, used, free, mig, ecc, pm, mode, gen, width, power = cols[:16]
        driver.version = drv
        g = GPUFacts(index=int(_num(idx) or 0), name=name, uuid=uuid, bus_id=bus, cc=cc if re.match(r"\d+\.\d+$", cc) else None)
        g.memory_total_mib, g.memory_used_mib, g.memory_free_mib = (int(v) if v is not None else None for v in map(_num, (total, used, free)))
        g.mig_enabled = {"Enabled": True, "Disabled": False}.get(mig)
        g.ecc_enabled = {"Enabled": True, "Disabled": False}.get(ecc)
        g.persistence = {"Enabled": True, "Disabled": False}.get(pm)
        g.compute_mode = mode if mode and "N/A" not in mode else None
        g.pcie_gen = int(_num(gen)) if _num(gen) is not None else None
        g.pcie_width = int(_num(width)) if _num(width) is not None else None
        g.power_limit_w = _num(power)
        out.gpus.append(g)
    return driver, out


def parse_smi_banner(text: str) -> str | None:
    m = re.search(r"CUDA Version:\s*([\d.]+)", text)
    return m.group(1) if m else None


def probe_smi(timeout: float | None = None) -> tuple[DriverFacts, GPUsFacts]:
    """nvidia-smi's query and banner, each bounded in time (and killed with its process group) and in output."""
    from doctor.probes.proc import run

    smi = shutil.which("nvidia-smi")
    if not smi:
        raise FileNotFoundError("nvidia-smi not found")
    limit = SMI_TIMEOUT if timeout is None else min(SMI_TIMEOUT, timeout)
    query = run([smi, f"--query-gpu={SMI_FIELDS}", "--format=csv,noheader"], timeout=limit, limit=SMI_LIMIT)
    if query.timed_out:
        raise TimeoutError(f"nvidia-smi did not answer within {limit:g} s")
    if query.truncated:
        raise RuntimeError(f"nvidia-smi printed more than {SMI_LIMIT >> 20} MiB; not the real nvidia-smi?")
    if query.returncode != 0:
        last = (query.stdout + query.stderr).strip().splitlines()[-1:] or [f"exit {query.returncode}"]
        raise RuntimeError(f"nvidia-smi failed: {last[0][:200]}")
    driver, gpus = parse_smi_csv(query.stdout)
    try:
        banner = run([smi], timeout=limit, limit=SMI_LIMIT)
        if not banner.timed_out:
            driver.cuda_version = parse_smi_banner(banner.stdout)
    except OSError:
        pass
    gpus.cuda_visible_devices, gpus.nvidia_visible_devices = _visible_env()
    return driver, gpus


def parse_proc_version(text: str) -> str | None:
    m = re.search(r"Kernel Module\s+(?:for\s+\S+\s+)?(\d+\.\d+(?:\.\d+)?)", text)
    return m.group(1) if m else None


def probe(timeout: float | None = None) -> tuple[DriverFacts, GPUsFacts]:
    errors = []
    for name, func in (("NVML", probe_nvml), ("nvidia-smi", lambda: probe_smi(timeout))):
        try:
            return func()
        except Exception as exc:  # noqa: BLE001 - fall through to the next source
            errors.append(f"{name}: {_describe(exc)}")
    cvd, nvd = _visible_env()
    try:
        with open("/proc/driver/nvidia/version", encoding="utf-8", errors="replace") as fh:
            version = parse_proc_version(fh.read(65536))
    except OSError:
        version = None
    reason = "; ".join(errors)
    if version:
        return (DriverFacts(version=version, source="/proc/driver/nvidia/version", error=None),
                GPUsFacts(cuda_visible_devices=cvd, nvidia_visible_devices=nvd, error=reason))
    return (DriverFacts(error=reason or "no NVIDIA driver found"),
            GPUsFacts(cuda_visible_devices=cvd, nvidia_visible_devices=nvd, error=reason))


def _describe(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    if "NVML Shared Library Not Found" in text or "libnvidia-ml" in text:
        return "libnvidia-ml.so.1 not found (no NVIDIA driver installed or not mounted into this container)"
    if type(exc).__name__ == "ModuleNotFoundError":
        return "pynvml (nvidia-ml-py) is not installed"
    return text
