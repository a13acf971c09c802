"""The plan: on the GPUs given, the smallest parallelism that fits, what fits at each length, and the commands.

Computed once and shared by ``plan`` (the report's ``extra.plan``) and the model checks of
``check --model`` (MDL003/MDL004 and the capability gates), so both say the same thing.
Every memory figure comes from :mod:`doctor.sizing`; the capability gates from
rules/quant-formats.toml and rules/releases.toml; the architecture lists from
rules/supported-models.toml. Pure: facts in, a :class:`Plan` out.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from doctor import sizing
from doctor.kb import KB, QuantFormat, Release

#: sequence lengths of the what-fits table (plus the model's maximum).
TABLE_SEQS = (4096, 8192, 32768, 131072)
#: batch sizes of the what-fits table.
TABLE_BATCHES = (1, 8, 32, 64, 128, 256)
#: the sequence length planned for when none is asked (the model's maximum when shorter): long enough for
#: chat with documents, short enough not to refuse a model that serves 32K well but not its full 128K.
DEFAULT_PLAN_SEQ = 32768
#: max_batch_size the plan suggests at most (a default-ish serving ceiling; the runtime queues beyond it).
MAX_SUGGESTED_BATCH = 256

#: sizing weight formats -> rules/quant-formats.toml ids.
FORMAT_IDS = {"fp8": "fp8", "fp8_block": "fp8-block", "fp8_channel": "fp8-rowwise", "nvfp4": "nvfp4",
              "mxfp4": "mxfp4", "int4_awq": "w4a16-awq", "int4_gptq": "w4a16-gptq", "int4_wo": "w4a16-gptq",
              "int8_sq": "int8-smoothquant", "int8_wo": "int8-weight-only", "w4a8_awq": "w4a8-awq"}
KV_FORMAT_IDS = {"fp8": "fp8-kv", "nvfp4": "nvfp4-kv", "int8": "int8-kv"}
#: quant methods TensorRT-LLM does not load at all (no code path in either backend).
UNLOADABLE_METHODS = {"bitsandbytes": "bitsandbytes (load_in_4bit / load_in_8bit) checkpoints",
                      "hqq": "HQQ checkpoints", "eetq": "EETQ checkpoints", "torchao": "torchao checkpoints",
                      "aqlm": "AQLM checkpoints", "quanto": "quanto checkpoints", "exl2": "EXL2 checkpoints"}


@dataclass
class Gate:
    """Whether a format runs on a GPU: native, weight-only (a dequantising path), refused or unknown."""

    format: QuantFormat
    sm: int
    status: str  # native | weight-only | refused | unlisted | backend
    what: str  # "the checkpoint's MXFP4 weights (config.json: quantization_config)"
    gpu: str = ""

    @property
    def supported(self) -> str:
        sms = sorted(set(self.format.sm_native) | set(self.format.sm_weight_only))
        return ", ".join(str(s) for s in sms) if sms else "none listed"


def gate_format(kb: KB, fmt_id: str, sm: int, backend: str, what: str, gpu: str = "") -> Gate | None:
    """The gate of one format on one SM, or None when the KB has nothing to say about it."""
    qf = kb.quant_format(fmt_id)
    if qf is None or (not qf.sm_native and not qf.sm_weight_only):
        return None
    if (qf.backend == "engine" and backend == "pytorch") or (qf.backend == "pytorch" and backend == "engine"):
        return Gate(qf, sm, "backend", what, gpu)
    if sm in qf.sm_native:
        return Gate(qf, sm, "native", what, gpu)
    if sm in qf.sm_weight_only:
        return Gate(qf, sm, "weight-only", what, gpu)
    lowest = min((*qf.sm_native, *qf.sm_weight_only))
    if sm < (qf.refused_below or lowest):
        return Gate(qf, sm, "refused", what, gpu)
    return Gate(qf, sm, "unlisted", what, gpu)


def weight_gates(kb: KB, m: sizing.ModelSpec, quant: str | None, kv_dtype: str, sms: list[tuple[int, str]],
                 backend: str) -> list[Gate]:
    """Gates of the weight format (the checkpoint's own, or ``--quant``) and of the KV-cache dtype on each GPU."""
    out: list[Gate] = []
    fmt = quant or (m.quant.format if m.quant else None)
    if fmt and fmt in FORMAT_IDS:
        if quant:
            what = f"--quant {quant}"
        else:
            what = f"the checkpoint's {m.quant.label} weights ({m.quant.source})"
        for sm, name in sms:
            g = gate_format(kb, FORMAT_IDS[fmt], sm, backend, what, name)
            if g is not None and g.status != "native":
                out.append(g)
    if kv_dtype in KV_FORMAT_IDS and m.quant and m.quant.kv_cache == kv_dtype:
        for sm, name in sms:
            g = gate_format(kb, KV_FORMAT_IDS[kv_dtype], sm, backend,
                            f"the checkpoint's {kv_dtype.upper()} KV cache ({m.quant.source})", name)
            if g is not None and g.status in ("refused", "backend"):
                out.append(g)
    return out


# ---------------------------------------------------------------------------------------
# Supported architectures
# ---------------------------------------------------------------------------------------
@dataclass
class ArchStatus:
    status: str  # listed | autodeploy | not-listed | unknown | engine-listed | engine-not-listed | no-engine-flow
    list_release: str = ""
    source: str = ""
    complete: bool = False


def _release_label_match(label: str, version: str) -> int:
    """How well a supported-models entry label ("1.2", "1.0-1.1", "1.3.0rc", "main-2026") covers a version (higher = better)."""
    from packaging.version import InvalidVersion, Version

    try:
        v = Version(version)
    except InvalidVersion:
        return -1
    if label == "main-2026":
        return 1 if v >= Version("1.4.0rc0") else 0
    if label.endswith("rc"):
        base = label[:-2]
        return 3 if v.base_version.startswith(base) else 0
    if "-" in label:
        lo, hi = label.split("-", 1)
        return 2 if Version(lo) <= Version(v.base_version) and Version(v.base_version).release[:2] <= Version(hi).release[:2] else 0
    return 3 if v.base_version.startswith(label + ".") or v.base_version == label else 0


def arch_status(kb: KB, architecture: str, release: Release | None, backend: str) -> ArchStatus:
    """Is ``architecture`` in the target release's documented model list for ``backend``?"""
    entries = kb.supported_models
    if not architecture or not entries:
        return ArchStatus("unknown")
    version = release.version if release else ""
    def rank(e):
        score = _release_label_match(e.version, version)
        return (score > 0, e.pytorch_complete if backend == "pytorch" else bool(e.engine), score)

    best = max(entries, key=rank) if version else entries[-1]
    if version and _release_label_match(best.version, version) <= 0:
        return ArchStatus("unknown")
    if backend == "engine":
        if release is not None and not release.has_engine_flow:
            return ArchStatus("no-engine-flow", best.version, best.source)
        if not best.engine:
            return ArchStatus("unknown", best.version, best.source)
        return ArchStatus("engine-listed" if architecture in best.engine else "engine-not-listed", best.version,
                          best.source, best.engine_verified)
    if architecture in best.pytorch:
        return ArchStatus("listed", best.version, best.source, best.pytorch_complete)
    if architecture in best.autodeploy_only:
        return ArchStatus("autodeploy", best.version, best.source, best.pytorch_complete)
    return ArchStatus("not-listed", best.version, best.source, best.pytorch_complete)


# ---------------------------------------------------------------------------------------
# The plan
# ---------------------------------------------------------------------------------------
@dataclass
class PlanRequest:
    """What the user asked; None = let the planner choose."""

    model: sizing.ModelSpec
    gpu_free: list[int]  # free bytes of each available GPU (the GPUs given)
    gpu_names: list[str]
    gpu_sms: list[int | None]
    release: Release | None = None
    backend: str = "pytorch"  # pytorch | engine
    quant: str | None = None
    kv_cache_dtype: str = "auto"
    tp: int | None = None
    pp: int | None = None
    ep: int | None = None
    max_seq_len: int | None = None
    max_batch_size: int | None = None
    max_num_tokens: int | None = None
    fraction: float = sizing.DEFAULT_KV_FRACTION
    tokens_per_block: int | None = None
    max_tokens: int | None = None
    max_gpu_total_bytes: int | None = None
    attention_dp: bool = False
    mtp: bool = False


@dataclass
class Plan:
    request: PlanRequest
    tp: int
    pp: int
    ep: int
    fit: sizing.Fit
    seq: int  # the sequence length planned for
    seq_asked: bool
    batch: int  # max_batch_size planned for
    fits: bool
    weights_fit: bool
    gpus_needed: int | None  # GPUs of this kind the target needs (None: more than 64)
    tp_pp_needed: tuple[int, int] | None
    searched: list[dict] = field(default_factory=list)
    table: list[dict] = field(default_factory=list)
    batch_table: list[dict] = field(default_factory=list)
    gates: list[Gate] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    @property
    def world(self) -> int:
        return self.tp * self.pp


def _candidates(m: sizing.ModelSpec, n: int) -> list[tuple[int, int]]:
    """(tp, pp) with tp x pp <= n GPUs, in the order deployments prefer them: tensor parallelism alone,
    smallest first (TP sizes that split the heads: powers of two up to 8, then n itself); then pipeline
    stages of the largest such TP, fewest first; then any other split that fits on n GPUs."""
    tps = [t for t in sizing.valid_tp_sizes(m, max(1, min(n, 8)))]
    if n > 8 and sizing.tp_problem(m, n) is None and n not in tps:
        tps.append(n)
    out = [(tp, 1) for tp in tps if tp <= n]
    top = max(tps) if tps else 1
    out += [(top, pp) for pp in range(2, n // top + 1) if pp <= m.num_layers]
    for world in range(2, n + 1):
        for tp in sorted(tps, reverse=True):
            if world % tp == 0 and (tp, world // tp) not in out and world // tp <= m.num_layers:
                out.append((tp, world // tp))
    return out


def _ep_for(m: sizing.ModelSpec, tp: int, asked: int | None) -> int:
    """Expert parallelism: what was asked, else tp when the experts split evenly (what the
    deployment guides use for large MoE models), else 1."""
    if asked:
        return asked
    if m.is_moe and tp > 1 and m.num_experts % tp == 0:
        return tp
    return 1


def _fit(req: PlanRequest, tp: int, pp: int, seq: int, batch: int, free: int) -> sizing.Fit:
    m = req.model
    pytorch = req.backend == "pytorch"
    return sizing.fit(
        m, free, quant=req.quant, kv_cache_dtype=req.kv_cache_dtype, tp=tp, pp=pp, max_seq_len=seq,
        max_batch_size=batch, max_num_tokens=req.max_num_tokens or sizing.DEFAULT_MAX_NUM_TOKENS, fraction=req.fraction,
        tokens_per_block=req.tokens_per_block, backend="pytorch" if pytorch else "engine",
        attention_dp=req.attention_dp, include_mtp=req.mtp, mamba_slots=batch,
        max_tokens=req.max_tokens, max_gpu_total_bytes=req.max_gpu_total_bytes)


def default_seq(m: sizing.ModelSpec) -> int:
    return min(m.max_position_embeddings, DEFAULT_PLAN_SEQ) if m.max_position_embeddings else DEFAULT_PLAN_SEQ


def make_plan(req: PlanRequest, kb: KB) -> Plan:
    """Search the parallelism (unless fixed), then size batch and sequence for it."""
    m = req.model
    n = len(req.gpu_free)
    free = min(req.gpu_free) if req.gpu_free else 0
    seq = req.max_seq_len or default_seq(m)
    want_batch = req.max_batch_size or 1
    notes: list[str] = []
    fixed = req.tp is not None or req.pp is not None
    searched: list[dict] = []
    chosen: tuple[int, int] | None = None
    if fixed:
        chosen = (req.tp or 1, req.pp or 1)
    else:
        for tp, pp in _candidates(m, n):
            f = _fit(req, tp, pp, seq, want_batch, free)
            ok = f.weights_fit and f.max_batch(seq) >= want_batch
            searched.append({"tp": tp, "pp": pp, "fits": ok, "weights_bytes_per_gpu": f.weights_bytes})
            if ok:
                chosen = (tp, pp)
                break
    need = None
    if chosen is None:
        # nothing fits on the GPUs given: the largest layout there, and how many GPUs it would take
        tps = sizing.valid_tp_sizes(m, max(1, n))
        chosen = (max(tps), max(1, n // max(tps))) if n else (1, 1)
    tp, pp = chosen
    f = _fit(req, tp, pp, seq, want_batch, free)
    fits_here = f.weights_fit and f.max_batch(seq) >= want_batch and (tp * pp <= n)
    if not fits_here:
        need = sizing.gpus_needed(m, free, quant=req.quant, kv_cache_dtype=req.kv_cache_dtype, max_seq_len=seq,
                                  max_batch_size=want_batch, max_num_tokens=req.max_num_tokens or sizing.DEFAULT_MAX_NUM_TOKENS,
                                  fraction=req.fraction,
                                  backend="pytorch" if req.backend == "pytorch" else "engine",
                                  attention_dp=req.attention_dp, include_mtp=req.mtp, mamba_slots=want_batch,
                                  tokens_per_block=req.tokens_per_block) if free else None
    # the batch to plan for: what was asked, else as many max-length sequences as fit (capped)
    cap = f.max_batch(seq)
    batch = req.max_batch_size or max(1, min(cap, MAX_SUGGESTED_BATCH))
    if req.max_batch_size is None and m.is_hybrid:
        f = _fit(req, tp, pp, seq, batch, free)  # Mamba state is allocated per batch slot
        while batch > 1 and f.max_batch(seq) < batch:
            batch = max(1, batch // 2)
            f = _fit(req, tp, pp, seq, batch, free)
    elif batch != want_batch:
        f = _fit(req, tp, pp, seq, batch, free)
    weights_fit = f.weights_fit
    fits = weights_fit and f.max_batch(seq) >= (req.max_batch_size or 1) and tp * pp <= n
    plan = Plan(req, tp, pp, _ep_for(m, tp, req.ep), f, seq, req.max_seq_len is not None, batch, fits, weights_fit,
                (need[0] * need[1]) if need else (tp * pp if fits else None), need if need else ((tp, pp) if fits else None),
                searched, notes=notes)
    plan.table, plan.batch_table = what_fits(req, tp, pp, free, batch)
    sms = [(s, nm) for s, nm in zip(req.gpu_sms, req.gpu_names) if s is not None][: max(1, tp * pp)]
    kv_dtype = f.extra["kv_cache_dtype"]
    plan.gates = weight_gates(kb, m, req.quant, kv_dtype, sms, req.backend)
    if tp * pp > n and n:
        notes.append(f"tp x pp = {tp * pp} but {n} GPU(s) given")
    return plan


def what_fits(req: PlanRequest, tp: int, pp: int, free: int, batch: int) -> tuple[list[dict], list[dict]]:
    """The largest batch at each sequence length, and the longest sequence at each batch size."""
    m = req.model
    top = m.max_position_embeddings or 0
    seqs = sorted({s for s in TABLE_SEQS if not top or s <= top} | ({top} if top else set()))
    rows = []
    f = _fit(req, tp, pp, seqs[0] if seqs else 4096, batch, free)
    for s in seqs:
        g = _fit(req, tp, pp, s, batch, free) if m.is_hybrid else f
        rows.append({"max_seq_len": s, "max_batch_size": g.max_batch(s)})
    limit = top or max(seqs or [4096]) * 8
    brows = []
    for b in TABLE_BATCHES:
        g = _fit(req, tp, pp, 4096, b, free) if m.is_hybrid else f
        brows.append({"max_batch_size": b, "max_seq_len": g.max_seq(b, limit)})
    return rows, brows


# ---------------------------------------------------------------------------------------
# Commands
# ---------------------------------------------------------------------------------------
def _num_tokens(plan: Plan) -> int:
    req = plan.request
    if req.max_num_tokens:
        return req.max_num_tokens
    return sizing.DEFAULT_MAX_NUM_TOKENS


def llm_api_options(plan: Plan) -> dict[str, Any]:
    """The LLM API options (trtllm-serve --extra_llm_api_options YAML) of the plan, keys as TorchLlmArgs names them."""
    m = plan.request.model
    out: dict[str, Any] = {"tensor_parallel_size": plan.tp}
    if plan.pp > 1:
        out["pipeline_parallel_size"] = plan.pp
    if m.is_moe and plan.ep > 1:
        out["moe_expert_parallel_size"] = plan.ep
    if plan.request.attention_dp:
        out["enable_attention_dp"] = True
    out["max_batch_size"] = plan.batch
    out["max_seq_len"] = plan.seq
    out["max_num_tokens"] = _num_tokens(plan)
    kv: dict[str, Any] = {"free_gpu_memory_fraction": plan.request.fraction}
    kv_dtype = plan.fit.extra["kv_cache_dtype"]
    if kv_dtype in ("fp8", "nvfp4"):
        kv["dtype"] = kv_dtype
    if plan.request.max_tokens:
        kv["max_tokens"] = plan.request.max_tokens
    out["kv_cache_config"] = kv
    if plan.seq > out["max_num_tokens"]:
        out["enable_chunked_prefill"] = True
    return out


def yaml_text(options: dict[str, Any], indent: int = 0) -> str:
    """A tiny YAML writer for the plan's options (scalars and nested mappings only)."""
    lines = []
    for k, v in options.items():
        pad = "  " * indent
        if isinstance(v, dict):
            lines.append(f"{pad}{k}:")
            lines.append(yaml_text(v, indent + 1))
        elif isinstance(v, bool):
            lines.append(f"{pad}{k}: {'true' if v else 'false'}")
        else:
            lines.append(f"{pad}{k}: {v}")
    return "\n".join(lines)


def model_argument(m: sizing.ModelSpec) -> str:
    """What to pass as trtllm-serve's model: the local folder when known, else the hub id."""
    src = m.source or ""
    if src and not src.startswith("rules/") and ";" not in src:
        from pathlib import Path

        p = Path(src)
        return str(p.parent if p.name == "config.json" else p)
    return m.hf_repo or m.name


def serve_commands(plan: Plan, yaml_name: str = "plan.yaml") -> list[str]:
    """trtllm-serve with the written YAML (the PyTorch backend)."""
    req = plan.request
    backend = ""
    if req.release is not None and req.release.default_backend != "pytorch":
        backend = " --backend pytorch"
    return [f"trtllm-serve {model_argument(req.model)}{backend} --extra_llm_api_options {yaml_name}"]


def engine_commands(plan: Plan) -> list[str]:
    """The convert/quantize and trtllm-build lines of the engine flow (releases that have it), numbers filled in."""
    req = plan.request
    m = req.model
    q = req.quant or (m.quant.format if m.quant else sizing.kv_dtype_for(m, "auto"))
    tp, pp = plan.tp, plan.pp
    hf = model_argument(m)
    model = (m.hf_repo or m.name).split("/")[-1]
    ckpt = f"./tllm_{model}_{q}_tp{tp}" + (f"_pp{pp}" if pp > 1 else "")
    par = f" --tp_size {tp}" + (f" --pp_size {pp}" if pp > 1 else "")
    kv = req.kv_cache_dtype
    dtype = "float16" if m.dtype == "fp16" else "bfloat16"
    family = _example_family(m)
    if q in ("bf16", "fp16"):
        convert = f"python examples/{family}/convert_checkpoint.py --model_dir {hf} --output_dir {ckpt} --dtype {dtype}{par}"
        if kv in ("int8", "fp8"):
            convert = (f"python examples/quantization/quantize.py --model_dir {hf} --output_dir {ckpt} --dtype {dtype} "
                       f"--qformat full_prec --kv_cache_dtype {kv} --calib_size 512{par}")
    else:
        extra = " --awq_block_size 128" if q == "int4_awq" else ""
        kv_arg = f" --kv_cache_dtype {kv}" if kv in ("int8", "fp8") else ""
        convert = (f"python examples/quantization/quantize.py --model_dir {hf} --output_dir {ckpt} --dtype {dtype} "
                   f"--qformat {q}{extra}{kv_arg} --calib_size 512{par}")
    tokens = _num_tokens(plan)
    build = (f"trtllm-build --checkpoint_dir {ckpt} --output_dir ./engines/{model}-{q}-tp{tp}" + (f"-pp{pp}" if pp > 1 else "")
             + " --gpt_attention_plugin auto --gemm_plugin auto --use_paged_context_fmha enable"
             + (" --use_fp8_context_fmha enable" if q == "fp8" or kv == "fp8" else "")
             + f" --max_input_len {plan.seq} --max_seq_len {plan.seq} --max_batch_size {plan.batch} --max_num_tokens {tokens}")
    return [convert, build]


_FAMILIES = {"llama": "llama", "mistral": "llama", "mixtral": "llama", "qwen2": "qwen", "qwen": "qwen", "qwen3": "qwen",
             "gemma": "gemma", "gemma2": "gemma", "gemma3": "gemma", "phi3": "phi", "gpt2": "gpt", "falcon": "falcon"}


def _example_family(m: sizing.ModelSpec) -> str:
    fam = _FAMILIES.get(m.model_type)
    return f"models/core/{fam}" if fam else "models/core/llama"


def plan_dict(plan: Plan, kb: KB) -> dict[str, Any]:
    """extra.plan: the JSON contract (documented in README 'plan')."""
    req = plan.request
    m, f = req.model, plan.fit
    params = sizing.param_count(m)
    w = sizing.stage_weights(m, req.quant, plan.tp, plan.pp, attention_dp=req.attention_dp,
                             parallel_embedding=req.backend == "pytorch", include_mtp=req.mtp)
    heaviest = max(w, key=lambda s: s.total)
    fmt = sizing.resolve_format(m, req.quant)
    out: dict[str, Any] = {
        "model": m.name, "hf_repo": m.hf_repo or None, "architecture": m.architecture, "model_type": m.model_type,
        "attention": m.attention_kind, "params": params.total, "active_params": params.active,
        "params_breakdown": {"embedding": params.embedding, "lm_head": params.lm_head, "attention": params.attention,
                             "mlp": params.mlp, "mamba": params.mamba, "mtp": params.mtp, "vision": params.vision},
        "dtype": m.dtype, "quant": fmt, "weight_format": sizing.FORMATS[fmt][0],
        "checkpoint_quant": ({"format": m.quant.format, "method": m.quant.method, "source": m.quant.source,
                              "kv_cache": m.quant.kv_cache, "excluded_modules": len(m.quant.exclude)} if m.quant else None),
        "kv_cache_dtype": f.extra["kv_cache_dtype"], "kv_cache_dtype_arg": req.kv_cache_dtype,
        "backend": req.backend, "release": req.release.version if req.release else None,
        "tp": plan.tp, "pp": plan.pp, "ep": plan.ep, "attention_dp": req.attention_dp,
        "gpu": req.gpu_names[0] if req.gpu_names else None, "gpus": len(req.gpu_free),
        "gpu_free_bytes": f.gpu_free_bytes,
        "weights_bytes_per_gpu": int(heaviest.total),
        "weights_breakdown": {"layers": heaviest.layers, "embedding": heaviest.embedding, "lm_head": heaviest.lm_head,
                              "layers_on_rank": heaviest.layers_on_rank},
        "activation_bytes": f.activation_bytes, "overhead_bytes": f.overhead_bytes,
        "mamba_state_bytes": f.mamba_bytes,
        "mamba_state_bytes_per_seq": max((s.mamba_bytes_per_seq for s in f.stages), default=0),
        "kv_cache_bytes_per_token": f.kv_bytes_per_token, "kv_cache_bytes": f.kv_needed_bytes,
        "kv_cache_available_bytes": f.kv_available_bytes, "kv_cache_tokens": f.kv_tokens,
        "free_bytes_after": f.free_after_bytes,
        "kv_cache_free_gpu_mem_fraction": req.fraction, "tokens_per_block": f.tokens_per_block,
        "max_seq_len": plan.seq, "max_seq_len_asked": plan.seq_asked, "max_batch_size": plan.batch,
        "max_num_tokens": f.max_num_tokens,
        "max_batch_size_fit": f.max_batch(plan.seq), "max_seq_len_fit": f.max_seq_len_fit,
        "max_seq_len_fit_limited_by": f.max_seq_len_fit_limited_by,
        "fits": plan.fits, "weights_fit": plan.weights_fit,
        "gpus_needed": plan.gpus_needed, "tp_pp_needed": list(plan.tp_pp_needed) if plan.tp_pp_needed else None,
        "searched": plan.searched,
        "what_fits": plan.table, "what_fits_by_batch": plan.batch_table,
        "gates": [{"format": g.format.id, "status": g.status, "sm": g.sm, "gpu": g.gpu, "what": g.what,
                   "supported_sm": g.supported} for g in plan.gates],
        "host_ram_build_bytes": sizing.build_host_ram_bytes(m) if req.backend == "engine" else None,
        "disk_bytes": sizing.disk_bytes(m, req.quant, plan.tp, plan.pp,
                                       backend="pytorch" if req.backend == "pytorch" else "engine"),
        "checkpoint_bytes": sizing.hf_checkpoint_bytes(m),
        "checkpoint_bytes_exact": bool(m.checkpoint_bytes),
        "notes": plan.notes,
    }
    if m.sliding_window and m.sliding_window_layers:
        out["sliding_window"] = {"window": m.sliding_window, "layers": m.sliding_window_layers,
                                 "per_window_pools": req.backend == "pytorch"}
    blocked = [g for g in plan.gates if g.status in ("refused", "backend")]
    commands: list[str] = []
    yaml = None
    if req.backend == "pytorch":
        options = llm_api_options(plan)
        yaml = yaml_text(options)
        out["llm_api_options"] = options
        commands = serve_commands(plan)
    else:
        commands = engine_commands(plan)
    out["yaml"] = yaml
    out["commands"] = [] if blocked else commands
    out["commands_withheld"] = ("the weight format does not run on this GPU (see the findings)" if blocked else None)
    return out
