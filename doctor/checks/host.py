"""Host resource checks: RAM, disk, /dev/shm, locked memory, MPI."""

from __future__ import annotations

from doctor.checks import Context, Fail, Skip, check
from doctor.report import Severity

GIB = 2**30
# The guide's requirements table: RAM 32 GB minimum (64 GB+ for 70B builds), disk 200 GB, /dev/shm 16 GB for Triton.
MIN_RAM_GIB = 30  # a "32 GB" machine reports about 31 GiB of MemTotal after firmware and kernel reservations
MIN_DISK_GB = 200
MIN_SHM_GIB = 16
MIN_MEMLOCK = 64 * 2**20


def effective_ram(ctx: Context) -> tuple[int | None, int | None]:
    """(usable RAM in bytes, cgroup limit if it is what binds)."""
    h = ctx.facts.host
    total, limit = h.ram_total_bytes, h.cgroup_memory_limit_bytes
    if total is None:
        return None, None
    if limit is not None and limit < total:
        return limit, limit
    return total, None


@check("HOST001", "ram-too-small", area="host", cause="ram-too-small", title="Host RAM below the build minimum",
       severity=Severity.WARNING,
       severity_when="information when no model is given (sized from the model by MDL005 otherwise)")
def ram(ctx: Context):
    """Engine builds load the checkpoint in host RAM (about 2x its size): 32 GB minimum, 64 GB+ for 70B models."""
    usable, limit = effective_ram(ctx)
    if usable is None:
        return Skip("RAM unknown")
    if ctx.target.model is not None:
        return Skip("sized for the model by MDL005")
    if usable < MIN_RAM_GIB * GIB:
        what = f"{usable / GIB:.1f} GiB" + (" (cgroup limit)" if limit else " total")
        return Fail(what, "32 GB or more (64 GB+ for 70B builds); give --model for the figure of yours",
                    {"ram_gib": round(usable / GIB, 1), "limit_gib": round(limit / GIB, 1) if limit else None},
                    severity=Severity.INFO)
    return None


@check("HOST002", "disk-too-small", area="host", cause="disk-too-small", title="Less free disk than the build needs",
       severity=Severity.WARNING,
       severity_when="information when no model is given (sized from the model by MDL006 otherwise)")
def disk(ctx: Context):
    """Checkpoints, converted weights and engines grow fast: the guide asks for 200 GB free (NVMe)."""
    disks = [d for d in ctx.facts.host.disks if d.free_bytes is not None]
    if not disks:
        return Skip("free disk unknown")
    if ctx.target.model is not None:
        return Skip("sized for the model by MDL006")
    low = [d for d in disks if d.free_bytes < MIN_DISK_GB * 10**9]
    if not low:
        return None
    d = min(low, key=lambda x: x.free_bytes)
    return Fail("; ".join(f"{x.free_bytes / GIB:.0f} GiB free at {x.path} ({x.purpose})" for x in low),
                f">= {MIN_DISK_GB} GB free (the guide's figure); give --model for the figure of yours",
                {"path": d.path, "free_gib": round(d.free_bytes / GIB)}, severity=Severity.INFO)


@check("HOST003", "shm-too-small", area="host", cause="shm-too-small", title="/dev/shm smaller than Triton needs",
       severity=Severity.WARNING,
       severity_when="information on one GPU outside a container")
def shm(ctx: Context):
    """Triton's Python backend, NCCL and MPI exchange data through /dev/shm; Docker's default is 64 MB."""
    size = ctx.facts.host.shm_total_bytes
    if ctx.facts.platform.system not in (None, "Linux"):
        return Skip("not Linux")
    if size is None:
        return Skip("/dev/shm not found")
    if size < MIN_SHM_GIB * GIB * 0.99:
        multi = ctx.target.world_size > 1 or len(ctx.facts.gpus.gpus) > 1
        container = ctx.facts.platform.container
        if container:
            how = ("mount an emptyDir with medium: Memory and sizeLimit: 16Gi at /dev/shm" if container == "kubernetes"
                   else "docker run --shm-size=16g (or --ipc=host)")
        else:
            how = "sudo mount -o remount,size=16G /dev/shm (and the size= option of its /etc/fstab line)"
        n = len(ctx.facts.gpus.gpus)
        scope = "" if multi else f" ({'one GPU' if n == 1 else 'no GPU visible'}: matters for Triton's Python backend)"
        return Fail(f"/dev/shm is {size / GIB:.2f} GiB" + scope,
                    f">= {MIN_SHM_GIB} GiB", {"shm_gib": round(size / GIB, 2), "how": how},
                    severity=Severity.WARNING if (multi or container) else Severity.INFO)
    return None


@check("HOST004", "memlock-low", area="host", cause="memlock-too-low", title="Locked-memory limit is low",
       severity=Severity.WARNING)
def memlock(ctx: Context):
    """NCCL and MPI pin host buffers; Docker's default memlock limit (64 KiB-8 MiB) is too small for them."""
    limit = ctx.facts.host.memlock_bytes
    if limit is None:
        return Skip("memlock limit unknown")
    if ctx.target.world_size <= 1 and len(ctx.facts.gpus.gpus) <= 1:
        return Skip("one GPU: no NCCL/MPI buffers to pin")
    if limit != -1 and limit < MIN_MEMLOCK:
        container = ctx.facts.platform.container
        how = ("docker run --ulimit memlock=-1 --ulimit stack=67108864" if container and container != "kubernetes"
               else "set the pod's container runtime default ulimits (memlock unlimited) on the node" if container
               else "`ulimit -l unlimited` in the launching shell, memlock unlimited in /etc/security/limits.conf, "
                    "or LimitMEMLOCK=infinity in the systemd unit")
        return Fail(f"ulimit -l is {limit // 1024} KiB", "unlimited", {"how": how})
    return None


@check("HOST005", "mpi-as-root", area="host", cause="mpi-run-as-root", title="Running as root: mpirun will refuse without a flag",
       severity=Severity.INFO,
       severity_when="a warning when more than one GPU or rank is in play")
def mpi_root(ctx: Context):
    """Open MPI refuses to start as root unless told to; multi-GPU TensorRT-LLM launches through mpirun."""
    h, env = ctx.facts.host, ctx.facts.env
    if not h.is_root or not h.mpirun:
        return Skip("not root, or no mpirun")
    if env.get("OMPI_ALLOW_RUN_AS_ROOT") == "1" and env.get("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM") == "1":
        return None
    severity = Severity.WARNING if (ctx.target.world_size > 1 or len(ctx.facts.gpus.gpus) > 1) else Severity.INFO
    return Fail(f"uid 0 with {h.mpirun}", "--allow-run-as-root or OMPI_ALLOW_RUN_AS_ROOT=1 + OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1",
                {}, severity=severity)


@check("HOST006", "no-libmpi", area="host", cause="libmpi-missing", title="Open MPI library not found",
       severity_when="a warning when TensorRT-LLM is not installed yet")
def libmpi(ctx: Context):
    """tensorrt_llm links libmpi.so even on one GPU (mpi4py); without it `import tensorrt_llm` fails."""
    f = ctx.facts
    if f.platform.system not in (None, "Linux"):
        return Skip("not Linux")
    if f.host.libmpi or f.host.mpirun:
        return None
    installed = "tensorrt-llm" in f.packages.installed
    return Fail("no libmpi.so found by the loader, no mpirun on PATH", "Open MPI (apt-get install libopenmpi-dev)",
                {"lib": "libmpi.so.40", "provider": "Open MPI (tensorrt_llm links it through mpi4py, even on one GPU)",
                 "install": "Install it: sudo apt-get -y install libopenmpi-dev (conda: conda install -c conda-forge openmpi), "
                            "or use the TensorRT-LLM container, which has it"},
                severity=Severity.ERROR if installed else Severity.WARNING)
