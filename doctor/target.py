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


def resolve_release(facts: Facts, kb: KB, asked: str | None) -> tuple[Release | None, str | None, str]:
    """Pick the release to check against.

    ``--trtllm-version`` wins when given (the question is "will X work here?"), then the
    installed tensorrt_llm, then the newest release the KB knows.
    """
    if asked:
        return kb.release(asked), asked, "asked"
    installed = facts.packages.installed.get("tensorrt-llm")
    if installed:
        return kb.release(installed), installed, "installed"
    newest = kb.newest_release()
    return newest, newest.version, "newest"
