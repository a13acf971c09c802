"""OS, Python and host-resource probes (stdlib only, reads /proc, /sys and /etc)."""

from __future__ import annotations

import os
import platform
import re
import shutil
import sys
from pathlib import Path

from doctor.facts import DiskFacts, HostFacts, PlatformFacts, PythonFacts

# Environment variables worth reporting. Nothing else is ever captured; values of
# anything that looks like a credential are replaced.
ENV_ALLOW = (
    "CUDA_VISIBLE_DEVICES", "NVIDIA_VISIBLE_DEVICES", "NVIDIA_DRIVER_CAPABILITIES", "CUDA_HOME", "CUDA_PATH",
    "LD_LIBRARY_PATH", "HF_HOME", "HF_HUB_CACHE", "HF_HUB_OFFLINE", "TRANSFORMERS_OFFLINE", "HF_TOKEN",
    "HUGGING_FACE_HUB_TOKEN", "NCCL_DEBUG", "NCCL_P2P_DISABLE", "NCCL_IB_DISABLE", "NCCL_NVLS_ENABLE",
    "NCCL_SOCKET_IFNAME", "OMPI_ALLOW_RUN_AS_ROOT", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "TLLM_LOG_LEVEL",
    "PYTORCH_CUDA_ALLOC_CONF", "TMPDIR", "VIRTUAL_ENV", "CONDA_PREFIX", "KUBERNETES_SERVICE_HOST", "SLURM_JOB_ID",
)
_SECRET = re.compile(r"TOKEN|KEY|SECRET|PASSWORD|CREDENTIAL", re.I)


def allowed_env(environ: dict[str, str] | None = None) -> dict[str, str]:
    env = os.environ if environ is None else environ
    out = {}
    for name in ENV_ALLOW:
        if name in env:
            out[name] = "<set, redacted>" if _SECRET.search(name) else env[name]
    return out


def _read(path: str, limit: int = 1 << 20) -> str | None:
    """A small system file (/proc, /sys, /etc): regular files only, never blocking, at most ``limit`` bytes."""
    import stat

    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except (OSError, ValueError):
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        data = os.read(fd, limit)
    except OSError:
        return None
    finally:
        os.close(fd)
    return data.decode("utf-8", "replace")


def parse_os_release(text: str) -> dict[str, str]:
    out = {}
    for line in text.splitlines():
        if "=" in line and not line.startswith("#"):
            key, _, value = line.partition("=")
            out[key.strip()] = value.strip().strip('"').strip("'")
    return out


def detect_container(cgroup: str | None, env: dict[str, str], dockerenv: bool) -> str | None:
    if "KUBERNETES_SERVICE_HOST" in env or (cgroup and "kubepods" in cgroup):
        return "kubernetes"
    if dockerenv or (cgroup and "docker" in cgroup):
        return "docker"
    if env.get("container") == "podman" or Path("/run/.containerenv").exists():
        return "podman"
    if cgroup and "containerd" in cgroup:
        return "containerd"
    return None


def probe_platform() -> PlatformFacts:
    uname = platform.uname()
    facts = PlatformFacts(system=uname.system, arch=uname.machine, kernel=uname.release, hostname=uname.node)
    if uname.system != "Linux":
        if uname.system == "Darwin":
            facts.distro_name, facts.distro_version = "macOS", platform.mac_ver()[0] or None
        elif uname.system == "Windows":
            facts.distro_name, facts.distro_version = "Windows", platform.version()
        return facts
    osr = parse_os_release(_read("/etc/os-release") or _read("/usr/lib/os-release") or "")
    facts.distro_id = osr.get("ID")
    facts.distro_version = osr.get("VERSION_ID")
    facts.distro_name = osr.get("NAME")
    libc, version = platform.libc_ver()
    facts.glibc = version if libc == "glibc" and version else None
    kernel = uname.release.lower()
    facts.wsl = "microsoft" in kernel or "wsl" in kernel
    facts.container = detect_container(_read("/proc/1/cgroup"), dict(os.environ), Path("/.dockerenv").exists())
    return facts


def probe_python(python: str | None = None, timeout: float = 5.0) -> PythonFacts:
    if python:
        from doctor.probes.packages import run_in

        data = run_in(python, "python", timeout=timeout)
        return PythonFacts(version=data["version"], implementation=data["implementation"],
                           executable=data["executable"], venv=data["venv"])
    return PythonFacts(
        version=platform.python_version(),
        implementation=platform.python_implementation(),
        executable=sys.executable,
        venv=sys.prefix != getattr(sys, "base_prefix", sys.prefix),
    )


def parse_meminfo(text: str) -> dict[str, int]:
    out = {}
    for line in text.splitlines():
        m = re.match(r"(\w+):\s+(\d+)\s*kB", line)
        if m:
            out[m.group(1)] = int(m.group(2)) * 1024
    return out


def cgroup_memory_limit() -> int | None:
    """The cgroup v2 (or v1) memory limit of this process, or None when unlimited."""
    for path in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        raw = _read(path)
        if raw is None:
            continue
        raw = raw.strip()
        if raw == "max" or not raw.isdigit():
            return None
        value = int(raw)
        return None if value >= 2**60 else value  # v1 reports a huge number for "no limit"
    return None


def memlock_limit() -> int | None:
    try:
        import resource

        soft, _hard = resource.getrlimit(resource.RLIMIT_MEMLOCK)
    except (ImportError, OSError, ValueError):
        return None
    return -1 if soft == resource.RLIM_INFINITY else soft


def disk(path: str, purpose: str) -> DiskFacts:
    """Free disk at ``path``; a folder that does not exist (yet) is measured at its nearest existing parent,
    and the path says so ("/data/engines (does not exist; measured at /data)")."""
    p = Path(path).expanduser()
    try:
        while not p.exists() and p != p.parent:  # a workdir that does not exist yet: measure its parent
            p = p.parent
        usage = shutil.disk_usage(p)
    except (OSError, ValueError):
        return DiskFacts(path=str(path), purpose=purpose)
    shown = str(path)
    if p != Path(path).expanduser():
        shown = f"{path} (does not exist; measured at {p})"
    return DiskFacts(path=shown, purpose=purpose, free_bytes=usage.free, total_bytes=usage.total)


LDCONFIG_TIMEOUT = 3.0
LDCONFIG_LIMIT = 16 << 20  # `ldconfig -p` of a large system is about 1 MB


def find_shared_library(prefix: str) -> str | None:
    """The first library the dynamic loader knows whose name starts with ``prefix`` (from `ldconfig -p`).

    ctypes.util.find_library would do, but it falls back to running gcc when the library is absent,
    which costs a tenth of a second exactly on the machines that lack it.
    """
    from doctor.probes.proc import run

    ldconfig = shutil.which("ldconfig") or ("/sbin/ldconfig" if os.path.exists("/sbin/ldconfig") else None)
    if not ldconfig:
        return None
    try:
        out = run([ldconfig, "-p"], timeout=LDCONFIG_TIMEOUT, limit=LDCONFIG_LIMIT).stdout
    except OSError:
        return None
    for line in out.splitlines():
        name = line.strip().split(" ", 1)[0]
        if name.startswith(prefix):
            return name
    return None


def probe_host(workdir: str | None = None) -> HostFacts:
    host = HostFacts(cpus=os.cpu_count())
    mem = parse_meminfo(_read("/proc/meminfo") or "")
    host.ram_total_bytes = mem.get("MemTotal")
    host.ram_available_bytes = mem.get("MemAvailable")
    host.cgroup_memory_limit_bytes = cgroup_memory_limit()
    if Path("/dev/shm").is_dir():
        try:
            host.shm_total_bytes = shutil.disk_usage("/dev/shm").total
        except OSError:
            pass
    host.memlock_bytes = memlock_limit()
    hf_home = os.environ.get("HF_HOME") or os.path.join(os.environ.get("XDG_CACHE_HOME", "~/.cache"), "huggingface")
    places = [(workdir or os.getcwd(), "workdir"), (hf_home, "hf_home")]
    seen = set()
    for path, purpose in places:
        d = disk(path, purpose)
        key = (d.free_bytes, d.total_bytes)
        if key in seen and d.free_bytes is not None:
            continue  # same filesystem already measured
        seen.add(key)
        host.disks.append(d)
    host.mpirun = shutil.which("mpirun")
    host.libmpi = find_shared_library("libmpi.so")
    host.is_root = os.geteuid() == 0 if hasattr(os, "geteuid") else None
    return host
