"""Facts: the typed, versioned, JSON-serialisable snapshot of a machine.

Probes fill these records; checks read them. A field left ``None`` is unknown; a
section whose probe failed carries ``error`` (the one-line reason) and default
values. ``Facts.from_dict`` is strict about the schema version and about types, so a
corrupt or foreign snapshot is a usage error, not a crash in a check.
"""

from __future__ import annotations

import dataclasses
import json
import math
import re
import types
import typing
from dataclasses import dataclass, field
from typing import Any, Union

FACTS_SCHEMA_VERSION = 1


class SnapshotError(ValueError):
    """A snapshot file that cannot be used (corrupt, truncated, newer schema)."""


@dataclass
class PlatformFacts:
    system: str | None = None  # platform.system(): Linux, Darwin, Windows
    arch: str | None = None  # x86_64, aarch64
    kernel: str | None = None
    distro_id: str | None = None  # os-release ID: ubuntu, rhel, ...
    distro_version: str | None = None
    distro_name: str | None = None
    glibc: str | None = None
    wsl: bool = False
    container: str | None = None  # docker, kubernetes, podman, containerd, None
    hostname: str | None = None
    error: str | None = None


@dataclass
class PythonFacts:
    version: str | None = None  # 3.12.3
    implementation: str | None = None
    executable: str | None = None
    venv: bool = False
    error: str | None = None


@dataclass
class DriverFacts:
    version: str | None = None  # 580.159.04
    cuda_version: str | None = None  # highest CUDA the driver supports: 13.0
    source: str | None = None  # nvml, nvidia-smi, /proc/driver/nvidia/version
    error: str | None = None


@dataclass
class GPUFacts:
    index: int = 0
    name: str = ""
    uuid: str | None = None
    bus_id: str | None = None
    cc: str | None = None  # "9.0"
    memory_total_mib: int | None = None
    memory_used_mib: int | None = None
    memory_free_mib: int | None = None
    mig_enabled: bool | None = None
    ecc_enabled: bool | None = None
    persistence: bool | None = None
    compute_mode: str | None = None
    pcie_gen: int | None = None
    pcie_width: int | None = None
    power_limit_w: float | None = None
    nvlink_active: int | None = None  # active NVLink links
    processes: int | None = None  # compute processes holding memory


@dataclass
class GPUsFacts:
    gpus: list[GPUFacts] = field(default_factory=list)
    topology: list[list[str]] = field(default_factory=list)  # matrix like nvidia-smi topo -m: X, NV18, PIX, SYS
    cuda_visible_devices: str | None = None  # None = unset
    nvidia_visible_devices: str | None = None
    source: str | None = None
    error: str | None = None


@dataclass
class CudaFacts:
    wheel_runtimes: dict[str, str] = field(default_factory=dict)  # package -> CUDA it was built for
    toolkit: str | None = None  # system CUDA toolkit (nvcc / version.json)
    cuda_python: str | None = None  # cuda-python / cuda-bindings version
    driver_api_version: str | None = None  # what cuDriverGetVersion says through cuda-python
    driver_api_error: str | None = None
    error: str | None = None


@dataclass
class Requirement:
    requirement: str  # as declared: "tensorrt~=10.8.0"
    name: str
    installed: str | None  # None = not installed
    ok: bool


@dataclass
class PackagesFacts:
    python: str | None = None  # the interpreter whose packages these are
    installed: dict[str, str] = field(default_factory=dict)  # normalised name -> version
    trtllm_requires: list[Requirement] = field(default_factory=list)
    broken: list[str] = field(default_factory=list)  # distributions whose metadata is unreadable
    error: str | None = None


@dataclass
class DiskFacts:
    path: str
    purpose: str  # workdir, hf_home, tmp
    free_bytes: int | None = None
    total_bytes: int | None = None


@dataclass
class HostFacts:
    cpus: int | None = None
    ram_total_bytes: int | None = None
    ram_available_bytes: int | None = None
    cgroup_memory_limit_bytes: int | None = None  # None = no limit
    shm_total_bytes: int | None = None
    memlock_bytes: int | None = None  # -1 = unlimited
    disks: list[DiskFacts] = field(default_factory=list)
    mpirun: str | None = None
    libmpi: str | None = None  # the Open MPI library the loader finds (TensorRT-LLM links it even on one GPU)
    is_root: bool | None = None
    error: str | None = None


@dataclass
class Facts:
    schema_version: int = FACTS_SCHEMA_VERSION
    tool_version: str = ""
    created: str = ""  # ISO 8601 UTC
    platform: PlatformFacts = field(default_factory=PlatformFacts)
    python: PythonFacts = field(default_factory=PythonFacts)
    driver: DriverFacts = field(default_factory=DriverFacts)
    gpus: GPUsFacts = field(default_factory=GPUsFacts)
    cuda: CudaFacts = field(default_factory=CudaFacts)
    packages: PackagesFacts = field(default_factory=PackagesFacts)
    host: HostFacts = field(default_factory=HostFacts)
    env: dict[str, str] = field(default_factory=dict)  # allow-listed variables only
    timings_ms: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2, sort_keys=False)

    @classmethod
    def from_dict(cls, data: Any) -> Facts:
        if not isinstance(data, dict):
            raise SnapshotError("not a trtllm-doctor snapshot (top level is not an object)")
        version = data.get("schema_version")
        if not isinstance(version, int):
            raise SnapshotError("not a trtllm-doctor snapshot (no schema_version)")
        if version > FACTS_SCHEMA_VERSION:
            raise SnapshotError(
                f"snapshot schema_version {version} is newer than this trtllm-doctor understands "
                f"({FACTS_SCHEMA_VERSION}); upgrade trtllm-doctor"
            )
        facts = _build(cls, data, "snapshot")
        _validate(facts)
        return facts

    @classmethod
    def from_json(cls, text: str) -> Facts:
        try:
            data = json.loads(text)
        except json.JSONDecodeError as exc:
            raise SnapshotError(f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); truncated or corrupt?") from None
        except RecursionError:
            raise SnapshotError("JSON nested too deeply to be a snapshot") from None
        except ValueError as exc:  # a number of 4,300+ digits (CPython's int-string limit)
            raise SnapshotError(f"not a usable snapshot ({exc})") from None
        return cls.from_dict(data)


def _build(tp: Any, value: Any, where: str) -> Any:
    """Rebuild a dataclass tree from JSON data, checking types; extra keys are ignored."""
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin in (Union, types.UnionType):
        if value is None and type(None) in args:
            return None
        (inner,) = [a for a in args if a is not type(None)]
        return _build(inner, value, where)
    if dataclasses.is_dataclass(tp):
        if not isinstance(value, dict):
            raise SnapshotError(f"{where}: expected an object")
        hints = typing.get_type_hints(tp)
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.name in value:
                kwargs[f.name] = _build(hints[f.name], value[f.name], f"{where}.{f.name}")
            elif f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING:
                raise SnapshotError(f"{where}: missing {f.name!r}")
        return tp(**kwargs)
    if origin is list:
        if not isinstance(value, list):
            raise SnapshotError(f"{where}: expected a list")
        return [_build(args[0], v, f"{where}[{i}]") for i, v in enumerate(value)]
    if origin is dict:
        if not isinstance(value, dict):
            raise SnapshotError(f"{where}: expected an object")
        return {str(k): _build(args[1], v, f"{where}.{k}") for k, v in value.items()}
    if tp is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise SnapshotError(f"{where}: expected a number")
        if isinstance(value, int) and abs(value) > MAX_INT:
            raise SnapshotError(f"{where}: number out of range")
        value = float(value)
        if not math.isfinite(value):
            raise SnapshotError(f"{where}: expected a finite number, found {value}")
        return value
    if tp is Any:
        return value
    if tp is int and isinstance(value, bool) or not isinstance(value, tp):
        raise SnapshotError(f"{where}: expected {tp.__name__}, found {type(value).__name__}")
    if tp is int and abs(value) > MAX_INT:
        raise SnapshotError(f"{where}: number out of range (a {value.bit_length()}-bit integer)")
    if tp is str and len(value) > MAX_STR:
        raise SnapshotError(f"{where}: a string of {len(value):,} characters is too long")
    return value


MAX_INT = 2**63  # every count, size and id in a snapshot fits in 64 bits
MAX_STR = 1 << 16
# values the checks parse as numbers: their shape is checked here, so a hand-edited snapshot is a one-line error
_SHAPES = {
    "cuda.wheel_runtimes": (re.compile(r"\d{1,3}(?:\.(?:\d{1,3}|x))?"), "a CUDA version like 12.4 or 13.x"),
}
_VERSIONISH = re.compile(r"\d{1,9}(?:\.\d{1,9}){0,5}[A-Za-z0-9.+\-]{0,40}")
_VERSION_FIELDS = (("driver", "version"), ("driver", "cuda_version"), ("cuda", "toolkit"), ("cuda", "driver_api_version"),
                   ("platform", "glibc"), ("python", "version"))


def _validate(facts: "Facts") -> None:
    """Shapes the types cannot say: CUDA versions of wheels, version strings, a GPU's compute capability."""
    pattern, what = _SHAPES["cuda.wheel_runtimes"]
    for name, value in facts.cuda.wheel_runtimes.items():
        if not pattern.fullmatch(value):
            raise SnapshotError(f"snapshot.cuda.wheel_runtimes.{name}: expected {what}, found {value[:40]!r}")
    for section, name in _VERSION_FIELDS:
        value = getattr(getattr(facts, section), name)
        if value is not None and not _VERSIONISH.fullmatch(value):
            raise SnapshotError(f"snapshot.{section}.{name}: expected a version like 12.4 or 580.65.06, found {value[:40]!r}")
    for i, g in enumerate(facts.gpus.gpus):
        if g.cc is not None and not re.fullmatch(r"\d{1,2}\.\d{1,2}", g.cc):
            raise SnapshotError(f"snapshot.gpus.gpus[{i}].cc: expected a compute capability like 9.0, found {g.cc[:40]!r}")


SNAPSHOT_LIMIT = 64 << 20


def load_snapshot(path) -> Facts:
    """Read a snapshot file (bounded, regular file only); any problem is a one-line usage error."""
    from doctor.errors import UsageError
    from doctor.inputs import read_text

    text = read_text(path, "a snapshot", SNAPSHOT_LIMIT)
    try:
        return Facts.from_json(text)
    except SnapshotError as exc:
        raise UsageError(f"{path}: {exc}") from None
