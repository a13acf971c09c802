"""What the user wants to run: the TensorRT-LLM release, and optionally a model or engine.

The release is the installed tensorrt_llm, else ``--trtllm-version``, else the newest
release the KB knows. Model/engine fields are filled by ``--model``/``--engine``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from doctor.facts import Facts
from doctor.kb import KB, Release

QUANTS = ("bf16", "fp16", "fp8", "int4_awq", "int8_sq", "nvfp4")
KV_DTYPES = ("auto", "fp8", "int8", "fp16", "bf16", "nvfp4")
BACKENDS = ("pytorch", "tensorrt")


@dataclass
class Target:
    release: Release | None = None
    release_version: str | None = None  # what was installed/asked, before KB lookup
    release_source: str = "newest"  # installed | asked | newest
    quant: str | None = None
    kv_cache_dtype: str = "auto"
    tp: int = 1
    pp: int = 1
    tp_given: bool = False  # --tp / the LLM API options fixed it; else the planner searches
    pp_given: bool = False
    ep: int | None = None  # moe_expert_parallel_size
    backend: str = "pytorch"  # pytorch (Hugging Face checkpoints, the 1.x default) | tensorrt (engines)
    backend_source: str = "release"  # asked | engine | release | options
    fraction: float = 0.9  # kv_cache_config.free_gpu_memory_fraction
    tokens_per_block: int | None = None
    max_tokens: int | None = None  # kv_cache_config.max_tokens
    max_gpu_total_bytes: int | None = None
    attention_dp: bool = False
    mtp: bool = False  # speculative_config MTP: the MTP modules are loaded
    llm_options: dict | None = None  # the LLM API options (YAML + serve flags), when given
    llm_options_path: str | None = None
    max_seq_len: int | None = None
    max_batch_size: int | None = None
    max_num_tokens: int | None = None
    model: Any = None  # a sizing.ModelSpec when --model is given
    engine: Any = None  # an engine.EngineInfo when --engine is given
    workdir: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def world_size(self) -> int:
        return self.tp * self.pp

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "trtllm_version": self.release_version,
            "trtllm_release_known": self.release.version if self.release else None,
            "source": self.release_source,
            "quant": self.quant,
            "kv_cache_dtype": self.kv_cache_dtype,
            "tp": self.tp if self.tp_given else None,
            "pp": self.pp if self.pp_given else None,
            "ep": self.ep,
            "backend": self.backend,
            "max_seq_len": self.max_seq_len,
            "max_batch_size": self.max_batch_size,
            "max_num_tokens": self.max_num_tokens,
        }
        if self.model is not None:
            out["model"] = getattr(self.model, "name", str(self.model))
        if self.engine is not None:
            out["engine"] = getattr(self.engine, "path", str(self.engine))
        if self.llm_options_path:
            out["extra_llm_api_options"] = self.llm_options_path
        return out


def default_backend(release: Release | None) -> str:
    """The backend a release runs a Hugging Face checkpoint with: its default (rules/releases.toml backends)."""
    return release.default_backend if release is not None else "pytorch"


def resolve_release(facts: Facts, kb: KB, asked: str | None, engine_version: str | None = None
                    ) -> tuple[Release | None, str | None, str]:
    """Pick the release to check against.

    ``--trtllm-version`` wins when given (the question is "will X work here?") and must be a release the
    knowledge base knows: anything else is a usage error naming the known ones, never a silent pass.
    Then the installed tensorrt_llm: a version the KB does not list is checked with a release built from
    its own wheel metadata (:func:`release_from_wheel`, source "installed-unknown"). Then the release
    that built the engine given with --engine. Then the newest release the KB knows.
    """
    from doctor.errors import UsageError

    if asked is not None:
        text = asked.strip()
        rel = kb.release_exact(text)
        if rel is None:
            close = [r.version for r in kb.releases if r.version.startswith(text.lstrip("vV").split("rc")[0][:3])][-4:]
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise UsageError(f"--trtllm-version {asked!r}: not a TensorRT-LLM release the knowledge base knows "
                             f"(known: {kb.release_range()}){hint}")
        return rel, rel.version, "asked"
    installed = facts.packages.installed.get("tensorrt-llm")
    if installed:
        rel = kb.release_exact(installed)
        if rel is not None:
            return rel, installed, "installed"
        return release_from_wheel(facts, kb, installed), installed, "installed-unknown"
    if engine_version:
        rel = kb.release_exact(engine_version) or kb.release(engine_version)
        if rel is not None:
            return rel, engine_version, "engine"
    newest = kb.newest_release()
    return newest, newest.version, "newest"


def release_from_wheel(facts: Facts, kb: KB, version: str) -> Release:
    """A Release for an installed tensorrt-llm the KB does not list: its pins (torch, tensorrt, CUDA major from
    cuda-python / nvidia-*-cuNN) from the wheel's Requires-Dist, its Python the one it is installed in, and the
    support lists (SMs, platforms, driver floor) of the nearest KB release (named in carried_from)."""
    import re
    from dataclasses import replace

    base = kb.nearest_release(version)
    reqs = {r.name: r.requirement for r in facts.packages.trtllm_requires}

    def spec(name: str) -> str:
        req = reqs.get(name, "")
        return req[len(name):].split(";")[0].strip() if req.startswith(name) else ""

    cuda_major = base.cuda_major
    for name, req in reqs.items():
        m = re.match(r"nvidia-[a-z-]+-cu(\d\d)\b", name)
        if m:
            cuda_major = int(m.group(1))
            break
        if name in ("cuda-python", "cuda-bindings"):
            m = re.search(r">=\s*(\d+)", req)
            if m:
                cuda_major = int(m.group(1))
    min_driver = base.min_driver
    if cuda_major != base.cuda_major:
        fam = kb.family(cuda_major)
        min_driver = fam.min_driver if fam else base.min_driver
    py = facts.python.version or ""
    minor = ".".join(py.split(".")[:2])
    pythons = sorted(set(base.python) | ({minor} if minor else set()))
    return replace(base, version=version, prerelease=True, torch_spec=spec("torch") or base.torch_spec,
                   tensorrt_spec=spec("tensorrt"), tensorrt="", cuda_major=cuda_major, min_driver=min_driver,
                   python=pythons, install=[f"pip3 install tensorrt_llm=={version}"], container="",
                   sources=[f"the installed tensorrt-llm {version} wheel's METADATA (Requires-Dist)"] + list(base.sources),
                   carried_from=base.version,
                   note=f"not in the knowledge base: pins from the installed wheel, support lists carried from {base.version}")
