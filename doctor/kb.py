"""Load and validate the knowledge base in ``rules/*.toml``.

Every file is validated when loaded; a bad file raises :class:`KBError` naming the
file, the entry and the key. Each table is loaded on first use only, so a command
pays for what it reads.
"""

from __future__ import annotations

import functools
import binascii
import json
import os
import sys
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path
from typing import Any, get_args, get_origin, get_type_hints



def _tomllib():
    """tomllib (tomli on 3.10), imported only when a rules file is parsed, not read from the cache."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover - exercised on Python 3.10
        import tomli as tomllib
    return tomllib


def __getattr__(name: str):  # ``from doctor.kb import tomllib`` still works, lazily
    if name == "tomllib":
        return _tomllib()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")

from packaging.version import InvalidVersion, Version

from doctor.report import Cause


class KBError(Exception):
    """A rules file is missing, unparsable or has a bad entry."""


def rules_dir() -> Path:
    here = Path(__file__).resolve().parent
    for candidate in (here / "_rules", here.parent / "rules"):
        if candidate.is_dir():
            return candidate
    raise KBError(f"rules directory not found next to {here}")


def _cache_dir() -> Path | None:
    """Where parsed rules files are kept between runs; None when caching is off (TRTLLM_DOCTOR_NO_CACHE)."""
    if os.environ.get("TRTLLM_DOCTOR_NO_CACHE"):
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "trtllm-doctor"


def _parse_cached(path: Path) -> dict[str, Any]:
    """``path`` parsed as TOML; the parse is kept as JSON in the user's cache, keyed by the file's path,
    size and mtime, because a rules file is read on every run and tomllib is ~20x slower than json. A
    cache that cannot be read or written is ignored (read-only home, full disk, another user's file)."""
    st = path.stat()
    cache = _cache_dir()
    key = f"{path.resolve()}|{st.st_size}|{st.st_mtime_ns}"
    entry = None
    if cache is not None:
        entry = cache / f"{path.stem}-{binascii.crc32(key.encode()):08x}.json"  # the key itself is checked inside
        try:
            with entry.open("rb") as fh:
                if os.fstat(fh.fileno()).st_size < 4 * st.st_size + 4096:  # never a runaway read
                    cached = json.loads(fh.read())
                    if isinstance(cached, dict) and cached.get("key") == key and isinstance(cached.get("data"), dict):
                        return cached["data"]
        except (OSError, ValueError):
            pass
    with path.open("rb") as fh:
        data = _tomllib().load(fh)
    if entry is not None:
        try:
            entry.parent.mkdir(parents=True, exist_ok=True)
            tmp = entry.with_name(f"{entry.name}.{os.getpid()}.tmp")
            tmp.write_text(json.dumps({"key": key, "data": data}))
            os.replace(tmp, entry)
            for old in entry.parent.glob(f"{path.stem}-*.json"):  # an older parse of this file: gone
                if old != entry:
                    old.unlink(missing_ok=True)
        except (OSError, TypeError, ValueError):  # TypeError: a TOML date, which JSON cannot hold
            pass
    return data


def load_toml(name: str, directory: Path | None = None) -> dict[str, Any]:
    path = (directory or rules_dir()) / name
    try:
        data = _parse_cached(path)
    except FileNotFoundError:
        raise KBError(f"{path}: rules file missing") from None
    except ValueError as exc:  # tomllib.TOMLDecodeError
        raise KBError(f"{path}: not valid TOML: {exc}") from None
    if data.get("schema") != 1:
        raise KBError(f"{path}: key 'schema': expected 1, found {data.get('schema')!r}")
    return data


def _check_type(value: Any, hint: Any) -> bool:
    origin = get_origin(hint)
    if hint is Any:
        return True
    if origin is list:
        (item,) = get_args(hint) or (Any,)
        return isinstance(value, list) and all(_check_type(v, item) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    return isinstance(value, hint)


def build_entries(cls: type, entries: Any, where: str) -> list:
    """Turn a list of TOML tables into ``cls`` instances, naming file/entry/key on error.

    Fields without a default are required; unknown keys are errors (a typo in a rules
    file must not silently drop a fact).
    """
    if not isinstance(entries, list):
        raise KBError(f"{where}: expected an array of tables")
    hints = get_type_hints(cls)
    names = {f.name for f in fields(cls)}
    required = {f.name for f in fields(cls) if f.default is MISSING and f.default_factory is MISSING}
    out = []
    for i, entry in enumerate(entries):
        label = f"{where}[{i}]"
        if isinstance(entry, dict) and isinstance(entry.get("id") or entry.get("version") or entry.get("key"), str):
            label += f" ({entry.get('id') or entry.get('version') or entry.get('key')})"
        if not isinstance(entry, dict):
            raise KBError(f"{label}: expected a table")
        for key in entry:
            if key not in names:
                raise KBError(f"{label}: unknown key {key!r}")
        for key in required:
            if key not in entry:
                raise KBError(f"{label}: missing key {key!r}")
        for key, value in entry.items():
            if not _check_type(value, hints[key]):
                raise KBError(f"{label}: key {key!r} has the wrong type ({type(value).__name__})")
        out.append(cls(**entry))
    return out


@dataclass(frozen=True)
class Release:
    version: str
    python: list[str]
    cuda: str
    cuda_major: int
    tensorrt: str
    min_driver: str
    sm: list[int]
    sources: list[str]
    prerelease: bool = False
    platforms: list[str] = ("linux-x86_64",)  # type: ignore[assignment]
    tensorrt_spec: str = ""
    torch_spec: str = ""
    min_driver_compat: str = ""
    fp8_sm: list[int] = ()  # type: ignore[assignment]
    fp4_sm: list[int] = ()  # type: ignore[assignment]
    pip_unsupported_sm: list[int] = ()  # type: ignore[assignment]  # SMs in `sm` served only by the NGC container / a source build, not the pip wheel
    int4_awq_min_sm: int = 75
    int8_sq_min_sm: int = 80
    pip_extra_index: str = ""
    #: model runtimes the release ships, default first: "tensorrt" (engines), "pytorch" (HF checkpoints)
    backends: list[str] = ("tensorrt",)  # type: ignore[assignment]
    #: for a release the KB does not list (an installed wheel newer than it): the KB release whose support
    #: lists (SMs, platforms, install) stand in; its pins come from the wheel's own metadata. "" = a KB entry.
    carried_from: str = ""
    install: list[str] = ()  # type: ignore[assignment]
    container: str = ""
    note: str = ""

    @property
    def parsed(self) -> Version:
        return Version(self.version)

    @property
    def default_backend(self) -> str:
        return self.backends[0] if self.backends else "tensorrt"

    @property
    def has_engine_flow(self) -> bool:
        return "tensorrt" in self.backends


@dataclass(frozen=True)
class SupportedModels:
    """One entry of rules/supported-models.toml: the documented architectures of a release line."""

    version: str  # "1.2", "1.0-1.1", "1.3.0rc", "main-2026"
    source: str
    pytorch: list[str]
    pytorch_complete: bool = False
    engine: list[str] = ()  # type: ignore[assignment]
    engine_verified: bool = False
    autodeploy_only: list[str] = ()  # type: ignore[assignment]
    note: str = ""


@dataclass(frozen=True)
class QuantFormat:
    """One entry of rules/quant-formats.toml: where a quantisation format runs."""

    id: str
    kind: str  # weights | kv_cache
    names: list[str]
    weight_bits: int
    sm_native: list[int]
    sm_weight_only: list[int]
    backend: str  # pytorch | engine | both
    sources: list[str]
    fields: list[str] = ()  # type: ignore[assignment]
    scale: str = ""
    refused_below: int = 0  # 0 = unknown
    refusal: str = ""
    releases: str = ""
    note: str = ""


@dataclass(frozen=True)
class GPU:
    key: str
    names: list[str]
    arch: str
    cc: str
    memory_gib: float
    fp8: bool
    fp4: bool
    sources: list[str]
    memory_mib: int = 0
    nvlink: bool = False
    datacenter: bool = False
    unified_memory: bool = False  # GB10, Jetson: GPU memory is the host's
    aliases: list[str] = field(default_factory=list)  # what people type for it (`--gpu H100`: the 80 GB SXM part)
    note: str = ""

    @property
    def sm(self) -> int:
        major, minor = self.cc.split(".")
        return int(major) * 10 + int(minor)


@dataclass(frozen=True)
class CudaVersion:
    version: str
    min_driver: str
    sources: list[str]
    update: str = "GA"
    full: str = ""
    note: str = ""


@dataclass(frozen=True)
class CudaFamily:
    major: int
    min_driver: str
    sources: list[str]
    max_driver_exclusive: str = ""
    note: str = ""


@dataclass(frozen=True)
class DriverBranch:
    branch: int
    max_cuda: str
    sources: list[str]
    note: str = ""


@dataclass(frozen=True)
class ModelPreset:
    """One entry of rules/models.toml; ``config`` holds real Hugging Face config.json keys."""

    key: str
    names: list[str]
    hf_repo: str
    published_params: int
    published_params_source: str
    sources: list[str]
    config: dict
    note: str = ""
    published_active_params: int = 0
    published_non_embedding_params: int = 0
    #: what the published figure counts: "text" (the decoder), plus "vision" (the vision tower) or "mtp" (MTP modules)
    published_scope: list[str] = ("text",)  # type: ignore[assignment]
    #: what the published active figure counts: both embedding tables ("with-embeddings"), the output head
    #: but not the input table ("without-input-embedding"), or neither ("without-embeddings")
    published_active_scope: str = "with-embeddings"
    hf_quant_config: dict = None  # type: ignore[assignment]  # the checkpoint's hf_quant_config.json, when it has one
    checkpoint_bytes: int = 0  # safetensors total_size, when a source gives it
    checkpoint_bytes_source: str = ""


@dataclass(frozen=True)
class _CauseEntry:
    id: str
    title: str
    fix: str
    docs: str
    note: str = ""
    generic: bool = False
    defaults: dict = None  # type: ignore[assignment]
    distinct: bool = False


@dataclass(frozen=True)
class Signature:
    """One log signature (rules/signatures.toml): regexes that recognise a real message, mapped onto a cause."""

    id: str
    symbol: str
    cause: str
    severity: str
    role: str
    confidence: str
    patterns: list[str]
    note: str
    examples: list[dict]


SIGNATURE_ROLES = ("root", "consequence")
SIGNATURE_CONFIDENCES = ("high", "medium", "low")


def version_key(text: str) -> Version | None:
    try:
        return Version(text)
    except InvalidVersion:
        return None


class KB:
    """The knowledge base; each table is parsed and validated on first access."""

    def __init__(self, directory: Path | None = None):
        self.directory = directory or rules_dir()

    def _load(self, name: str) -> dict[str, Any]:
        return load_toml(name, self.directory)

    @functools.cached_property
    def causes(self) -> dict[str, Cause]:
        entries = build_entries(_CauseEntry, self._load("causes.toml").get("cause"), "causes.toml: cause")
        out: dict[str, Cause] = {}
        for e in entries:
            if e.id in out:
                raise KBError(f"causes.toml: cause ({e.id}): duplicate id")
            if e.defaults is not None and not all(isinstance(v, str) for v in e.defaults.values()):
                raise KBError(f"causes.toml: cause ({e.id}): key 'defaults': values must be strings")
            cause = Cause(e.id, e.title, e.fix, e.docs, e.note, e.generic, dict(e.defaults or {}), e.distinct)
            missing = cause.required_fields()
            if missing:
                raise KBError(f"causes.toml: cause ({e.id}): key 'fix': {', '.join(sorted(missing))} must be in an optional "
                              "[? ... ?] segment or have a default, else a finding without it would show a placeholder")
            out[e.id] = cause
        return out

    @functools.cached_property
    def cause_graph(self) -> dict[str, set[str]]:
        """rules/cause-graph.toml: cause -> the causes it explains (their messages are its consequences)."""
        data = self._load("cause-graph.toml")
        out: dict[str, set[str]] = {}
        for i, e in enumerate(data.get("edge", [])):
            where = f"cause-graph.toml: edge[{i}]"
            if not isinstance(e, dict) or set(e) - {"cause", "explains", "why"} or not isinstance(e.get("explains"), list):
                raise KBError(f"{where}: expected cause, explains (a list) and why")
            if not isinstance(e.get("why"), str) or not e["why"]:
                raise KBError(f"{where} ({e.get('cause')}): key 'why': say why (it is the reason shown to users)")
            for c in [e.get("cause"), *e["explains"]]:
                if c not in self.causes:
                    raise KBError(f"{where}: {c!r} is not a cause of causes.toml")
            out.setdefault(e["cause"], set()).update(e["explains"])
        return out

    @functools.cached_property
    def cause_reasons(self) -> dict[tuple[str, str], str]:
        """(root, consequence) -> the edge's why, for direct edges of rules/cause-graph.toml."""
        out: dict[tuple[str, str], str] = {}
        for e in self._load("cause-graph.toml").get("edge", []):
            for c in e["explains"]:
                out.setdefault((e["cause"], c), e["why"])
        return out

    def cause_reason(self, root: str, consequence: str) -> str:
        got = self.cause_reasons.get((root, consequence))
        if got:
            return got
        for (r, mid), why in self.cause_reasons.items():
            if r == root and consequence in self.cause_graph.get(mid, ()):
                return why
        return f"explained by {root}"

    @functools.cached_property
    def components(self) -> dict[str, dict[str, str]]:
        """rules/components.toml: who owns a message (torch, nccl, tensorrt_llm...) and where to report it."""
        data = self._load("components.toml")
        out: dict[str, dict[str, str]] = {}
        for i, e in enumerate(data.get("component", [])):
            if not isinstance(e, dict) or not all(isinstance(e.get(k), str) and e.get(k) for k in ("id", "name", "tracker")):
                raise KBError(f"components.toml: component[{i}]: expected id, name and tracker (strings)")
            for alias in [e["id"], *e.get("aliases", [])]:
                out[alias] = {"name": e["name"], "tracker": e["tracker"]}
        return out

    @functools.cached_property
    def vocabularies(self) -> list:
        """rules/vocab/*.toml: the upstream error vocabularies, validated (doctor.explain.vocab)."""
        from doctor.explain.vocab import VocabError, load_vocabularies

        try:
            return load_vocabularies(self.directory / "vocab", set(self.causes), _tomllib())
        except VocabError as exc:
            raise KBError(f"rules/vocab: {exc}") from None

    def cause(self, cause_id: str) -> Cause:
        try:
            return self.causes[cause_id]
        except KeyError:
            raise KBError(f"causes.toml: no cause with id {cause_id!r}") from None

    @functools.cached_property
    def releases(self) -> list[Release]:
        rel = build_entries(Release, self._load("releases.toml").get("release"), "releases.toml: release")
        for r in rel:
            if version_key(r.version) is None:
                raise KBError(f"releases.toml: release ({r.version}): key 'version' is not a version")
            if not r.backends or not set(r.backends) <= {"tensorrt", "pytorch"} or len(set(r.backends)) != len(r.backends):
                raise KBError(f"releases.toml: release ({r.version}): key 'backends': expected tensorrt and/or pytorch, "
                              "the default first")
        return sorted(rel, key=lambda r: r.parsed)

    @functools.cached_property
    def quant_formats(self) -> list[QuantFormat]:
        """Quantisation formats (rules/quant-formats.toml): which SMs run each one, with sources."""
        entries = build_entries(QuantFormat, self._load("quant-formats.toml").get("format"), "quant-formats.toml: format")
        seen: set[str] = set()
        for q in entries:
            where = f"quant-formats.toml: format ({q.id})"
            if q.id in seen:
                raise KBError(f"{where}: duplicate id")
            seen.add(q.id)
            if q.kind not in ("weights", "kv_cache"):
                raise KBError(f"{where}: key 'kind': expected weights or kv_cache")
            if q.backend not in ("pytorch", "engine", "both"):
                raise KBError(f"{where}: key 'backend': expected pytorch, engine or both")
            if not q.sources:
                raise KBError(f"{where}: key 'sources': a format needs a source")
            if any(not isinstance(x, int) or not 30 <= x <= 200 for x in (*q.sm_native, *q.sm_weight_only)):
                raise KBError(f"{where}: SM values must be compute capability x 10 (e.g. 90)")
        return entries

    @functools.cached_property
    def supported_models(self) -> list[SupportedModels]:
        """Documented model architectures per release line (rules/supported-models.toml), with sources."""
        entries = build_entries(SupportedModels, self._load("supported-models.toml").get("release"),
                                "supported-models.toml: release")
        for e in entries:
            if not e.source:
                raise KBError(f"supported-models.toml: release ({e.version}): key 'source' is empty")
        return entries

    def quant_format(self, fmt_id: str) -> QuantFormat | None:
        return next((q for q in self.quant_formats if q.id == fmt_id), None)

    def newest_release(self) -> Release:
        stable = [r for r in self.releases if not r.prerelease]
        return stable[-1]

    def release_exact(self, version: str) -> Release | None:
        """The KB entry of exactly this release (a post-release or local build counts as its base release)."""
        v = version_key(version.strip().lstrip("vV")) if version else None
        if v is None:
            return None
        for r in self.releases:
            if r.parsed == v:
                return r
        base = Version(v.base_version) if not v.is_prerelease else None
        return next((r for r in self.releases if base is not None and r.parsed == base), None)

    def nearest_release(self, version: str) -> Release:
        """The newest KB release at or below ``version`` (the oldest when it is older than all of them)."""
        v = version_key(version)
        older = [r for r in self.releases if v is not None and r.parsed <= v]
        return older[-1] if older else self.releases[0]

    def release_range(self) -> str:
        rs = self.releases
        return f"{rs[0].version} ... {rs[-1].version} (newest stable {self.newest_release().version})"

    def release(self, version: str) -> Release | None:
        """The KB entry for an installed/asked version: exact, else same major.minor.micro, else same major.minor."""
        v = version_key(version)
        if v is None:
            return None
        for r in self.releases:
            if r.parsed == v:
                return r
        same_micro = [r for r in self.releases if r.parsed.release[:3] == v.release[:3] and not r.prerelease]
        if same_micro:
            return same_micro[-1]
        same_minor = [r for r in self.releases if r.parsed.release[:2] == v.release[:2]]
        older = [r for r in same_minor if r.parsed <= v] or same_minor
        return older[-1] if older else None

    @functools.cached_property
    def gpus(self) -> list[GPU]:
        return build_entries(GPU, self._load("gpus.toml").get("gpu"), "gpus.toml: gpu")

    def gpu(self, name: str) -> GPU | None:
        """Look a GPU up by the name NVML reports (exact, then case-insensitive, then as a substring)."""
        lowered = name.strip().lower()
        for g in self.gpus:
            if name in g.names or lowered in (n.lower() for n in g.names):
                return g
        return None

    @functools.cached_property
    def cuda(self) -> list[CudaVersion]:
        return build_entries(CudaVersion, self._load("cuda.toml").get("cuda"), "cuda.toml: cuda")

    @functools.cached_property
    def cuda_families(self) -> list[CudaFamily]:
        return build_entries(CudaFamily, self._load("cuda.toml").get("family"), "cuda.toml: family")

    @functools.cached_property
    def driver_branches(self) -> list[DriverBranch]:
        return build_entries(DriverBranch, self._load("cuda.toml").get("driver_branch", []), "cuda.toml: driver_branch")

    def min_driver_for_cuda(self, cuda: str) -> str | None:
        """Minimum Linux driver for CUDA ``major.minor[.patch]``: the GA entry of that major.minor."""
        parts = cuda.split(".")
        mm = ".".join(parts[:2])
        ga = [c for c in self.cuda if c.version == mm and c.update == "GA"]
        return ga[0].min_driver if ga else None

    def max_cuda_for_driver(self, driver: str) -> str | None:
        """The newest CUDA a driver supports, from its branch (580.x -> 13.0); for when the driver does not say."""
        try:
            branch = int(driver.split(".")[0])
        except ValueError:
            return None
        known = [b for b in self.driver_branches if b.branch <= branch]
        return max(known, key=lambda b: b.branch).max_cuda if known else None

    def family(self, major: int) -> CudaFamily | None:
        return next((f for f in self.cuda_families if f.major == major), None)

    @functools.cached_property
    def models(self) -> list[ModelPreset]:
        """Model presets (rules/models.toml): the real HF config values of each model, with sources."""
        entries = build_entries(ModelPreset, self._load("models.toml").get("model"), "models.toml: model")
        seen: set[str] = set()
        for e in entries:
            where = f"models.toml: model ({e.key})"
            if not set(e.published_scope) <= {"text", "vision", "mtp"} or "text" not in e.published_scope:
                raise KBError(f"{where}: key 'published_scope': expected 'text' plus optionally 'vision' / 'mtp'")
            if e.published_active_scope not in ("with-embeddings", "without-input-embedding", "without-embeddings"):
                raise KBError(f"{where}: key 'published_active_scope': expected with-embeddings, "
                              "without-input-embedding or without-embeddings")
            if e.checkpoint_bytes and not e.checkpoint_bytes_source:
                raise KBError(f"{where}: key 'checkpoint_bytes' needs a 'checkpoint_bytes_source'")
            for n in {x.lower() for x in (e.key, *e.names)}:
                if n in seen:
                    raise KBError(f"{where}: name {n!r} is used twice")
                seen.add(n)
        return entries

    def model_preset(self, name: str) -> ModelPreset | None:
        """A preset by key or alias (case-insensitive)."""
        lowered = name.strip().lower()
        return next((m for m in self.models if lowered in (m.key, *(n.lower() for n in m.names))), None)

    @functools.cached_property
    def signatures(self) -> list[Signature]:
        """Log signatures for `explain`, validated: ids, causes, enums, regexes and examples."""
        import re

        data = self._load("signatures.toml")
        sigs = build_entries(Signature, data.get("signature"), "signatures.toml: signature")
        retired = data.get("retired", [])
        if not isinstance(retired, list) or not all(isinstance(r, str) for r in retired):
            raise KBError("signatures.toml: key 'retired': expected a list of ids")
        seen_ids: set[str] = set()
        seen_symbols: set[str] = set()
        for s in sigs:
            where = f"signatures.toml: signature ({s.id})"
            if not re.fullmatch(r"S\d{3}", s.id):
                raise KBError(f"{where}: key 'id': expected S followed by 3 digits")
            if s.id in seen_ids or s.id in retired:
                raise KBError(f"{where}: duplicate or retired id")
            if not re.fullmatch(r"[a-z0-9]+(-[a-z0-9]+)*", s.symbol) or s.symbol in seen_symbols:
                raise KBError(f"{where}: key 'symbol': not kebab-case or a duplicate ({s.symbol!r})")
            seen_ids.add(s.id)
            seen_symbols.add(s.symbol)
            if s.cause not in self.causes:
                raise KBError(f"{where}: key 'cause': no cause {s.cause!r} in causes.toml")
            for key, value, allowed in (("severity", s.severity, ("error", "warning", "info")),
                                        ("role", s.role, SIGNATURE_ROLES), ("confidence", s.confidence, SIGNATURE_CONFIDENCES)):
                if value not in allowed:
                    raise KBError(f"{where}: key {key!r}: {value!r} is not one of {', '.join(allowed)}")
            if not s.patterns:
                raise KBError(f"{where}: key 'patterns': empty")
            for i, pat in enumerate(s.patterns):
                try:
                    re.compile(pat)
                except re.error as exc:
                    raise KBError(f"{where}: key 'patterns'[{i}]: bad regex: {exc}") from None
            if not s.examples:
                raise KBError(f"{where}: key 'examples': at least one real example is required")
            for i, ex in enumerate(s.examples):
                if set(ex) != {"line", "source"} or not all(isinstance(v, str) and v for v in ex.values()):
                    raise KBError(f"{where}: examples[{i}]: expected exactly a non-empty 'line' and 'source'")
        return sigs

    def signature(self, sig_id: str) -> Signature | None:
        return next((s for s in self.signatures if s.id == sig_id or s.symbol == sig_id), None)


@functools.lru_cache(maxsize=1)
def default_kb() -> KB:
    return KB()
