"""Model checks (``check --model``): does the target model, as shipped or in the weight format asked,
run on these GPUs with this release, and does it fit? All arithmetic is in doctor/sizing.py; the
plan (parallelism search, what fits) in doctor/planner.py, shared with ``plan``.

FP8/NVFP4 asked with ``--quant``/``--kv-cache-dtype`` are checked by GPU003/GPU004 and tp x pp
against the visible GPUs by GPU010; these checks do not repeat them.
"""

from __future__ import annotations

from doctor.checks import Context, Fail, Skip, check, lazy_module
from doctor.checks.gpu import sm_of, visible
from doctor.facts import GPUFacts
from doctor.report import Severity

planner = lazy_module("doctor.planner")
sizing = lazy_module("doctor.sizing")

GIB = 2**30
MIB = 2**20


def gib(n: float) -> str:
    return f"{n / GIB:.1f} GiB"


def gpu_free_bytes(g: GPUFacts) -> int | None:
    """Free memory of one GPU (NVML's free, else its total), in bytes."""
    mib = g.memory_free_mib if g.memory_free_mib is not None else g.memory_total_mib
    return None if mib is None else mib * MIB


def rank_gpus(ctx: Context, world: int) -> list[GPUFacts]:
    """The GPUs ranks 0..world-1 would use (the first visible ones)."""
    return visible(ctx)[:world]


def plan_request(ctx: Context) -> planner.PlanRequest | Skip:
    """The planner's question for this target: the visible GPUs are the GPUs available."""
    t, m = ctx.target, ctx.target.model
    if m is None:
        return Skip("no --model given")
    gpus = [g for g in visible(ctx) if gpu_free_bytes(g) is not None]
    if not gpus:
        return Skip("GPU memory unknown")
    return planner.PlanRequest(
        model=m, gpu_free=[gpu_free_bytes(g) or 0 for g in gpus], gpu_names=[g.name or f"GPU {g.index}" for g in gpus],
        gpu_sms=[sm_of(g) for g in gpus], release=t.release,
        backend="pytorch" if t.backend == "pytorch" else "engine", quant=t.quant, kv_cache_dtype=t.kv_cache_dtype,
        tp=t.tp if t.tp_given else None, pp=t.pp if t.pp_given else None, ep=t.ep, max_seq_len=t.max_seq_len,
        max_batch_size=t.max_batch_size, max_num_tokens=t.max_num_tokens, fraction=t.fraction,
        tokens_per_block=t.tokens_per_block, max_tokens=t.max_tokens, max_gpu_total_bytes=t.max_gpu_total_bytes,
        attention_dp=t.attention_dp, mtp=t.mtp)


def model_plan(ctx: Context) -> planner.Plan | Skip:
    """The plan of the target (computed once per report, kept on the target)."""
    cached = ctx.target.extra.get("_plan")
    if cached is not None:
        return cached
    req = plan_request(ctx)
    if isinstance(req, Skip):
        return req
    if req.tp and sizing.tp_problem(req.model, req.tp):
        return Skip("tp does not divide the heads (MDL001)")
    p = planner.make_plan(req, ctx.kb)
    ctx.target.extra["_plan"] = p
    return p


def _label(p: planner.Plan) -> str:
    m = p.request.model
    fmt = sizing.resolve_format(m, p.request.quant)
    return f"{m.name} {sizing.FORMATS[fmt][0]} TP={p.tp}" + (f" PP={p.pp}" if p.pp > 1 else "")


@check("MDL001", "tp-does-not-divide-heads", area="model", cause="tp-does-not-divide-heads",
       title="Tensor parallelism does not divide the model's attention heads")
def tp_divides_heads(ctx: Context):
    """TensorRT-LLM splits attention heads evenly over TP ranks: the TP size must divide the query heads, and
    either divide the KV heads or be a multiple of them (KV heads are then replicated); a hybrid model's
    Mamba heads must divide too."""
    t, m = ctx.target, ctx.target.model
    if m is None:
        return Skip("no --model given")
    if not (t.tp_given or t.pp_given):
        return Skip("no parallelism given: the plan picks one that divides the heads")
    fails = []
    problem = sizing.tp_problem(m, t.tp)
    if problem:
        ok = ", ".join(str(x) for x in sizing.valid_tp_sizes(m, 64))
        fails.append(Fail(f"{m.name}: {problem}", f"tp in {ok}", {"valid_tp": ok, "gpus": len(visible(ctx)) or None}))
    if t.pp > m.num_layers:
        fails.append(Fail(f"{m.name}: pp={t.pp} is more than its {m.num_layers} layers", f"pp <= {m.num_layers}",
                          {"world_size": t.world_size}))
    return fails


@check("MDL003", "model-does-not-fit", area="model", cause="model-needs-more-gpus",
       title="The model does not fit on these GPUs",
       severity_when="a warning when the weights fit and only the planned default length (not one asked for) does not")
def weights_fit(ctx: Context):
    """Weights per GPU (sizing.stage_weights, in the checkpoint's own format or --quant) + activations for
    max_num_tokens + runtime overhead (+ Mamba state for the batch) must leave room for one sequence's KV
    cache on every rank. The plan tries every TP x PP the visible GPUs allow; when none fits, the finding
    says how many GPUs of this kind the model needs."""
    res = model_plan(ctx)
    if isinstance(res, Skip):
        return res
    p = res
    f = p.fit
    if p.weights_fit and f.max_batch(p.seq) >= 1:
        return None
    g = p.request.gpu_names[0]
    n = len(p.request.gpu_free)
    evidence = (f"{_label(p)}: weights {gib(f.weights_bytes)} + activations {gib(f.activation_bytes)} "
                f"+ runtime {gib(f.overhead_bytes)}" + (f" + Mamba state {gib(f.mamba_bytes)}" if f.mamba_bytes else "")
                + " per GPU")
    if p.weights_fit:
        evidence += f", leaving no room for one {p.seq}-token sequence's KV cache"
    evidence += f"; {g} has {gib(f.gpu_free_bytes)} free" + (f" ({n} visible)" if n > 1 else "")
    if p.tp_pp_needed:
        tp, pp = p.tp_pp_needed
        expected = f"{tp * pp} x {g} (tp={tp}, pp={pp})"
        params = {"gpus_needed": tp * pp, "gpu": g, "tp": tp, "pp": pp if pp > 1 else None}
    else:
        expected = f"more than 64 x {g}, or a smaller weight format"
        params = {"gpus_needed": "more than 64", "gpu": g, "tp": 8}
    params["smaller"] = _smaller_formats(p)
    longest = f.max_seq(1, p.seq) if p.weights_fit else 0
    if longest >= 1024:  # the weights fit: a shorter max_seq_len or a smaller KV cache is the cheaper way out
        params["fits_at"] = longest
        kv = f.extra.get("kv_cache_dtype")
        sms = [s for s in p.request.gpu_sms if s is not None]
        if kv not in ("fp8", "nvfp4") and sms and min(sms) >= 89:
            params["kv_fp8"] = " (--kv-cache-dtype fp8, kv_cache_config.dtype: fp8)"
    if longest >= 1024 and not p.seq_asked:  # the length was the plan's default, not the user's
        return Fail(evidence + f"; it fits up to {longest} tokens", expected, params, severity=Severity.WARNING)
    return Fail(evidence, expected, params)


def _smaller_formats(p: planner.Plan) -> str | None:
    """Weight formats smaller than the planned one that the (slowest) GPU runs natively, per rules/quant-formats.toml."""
    sms = [s for s in p.request.gpu_sms if s is not None]
    if not sms:
        return None
    sm = min(sms)
    now = sizing.FORMATS[sizing.resolve_format(p.request.model, p.request.quant)][1]
    from doctor.kb import default_kb

    kb = default_kb()
    picks = []
    for fmt, fid, label in (("fp8", "fp8", "FP8 (--quant fp8, or an FP8 checkpoint)"), ("nvfp4", "nvfp4", "NVFP4"),
                            ("int4_awq", "w4a16-awq", "INT4 AWQ (--quant int4_awq)")):
        qf = kb.quant_format(fid)
        if qf and sm in qf.sm_native and sizing.FORMATS[fmt][1] < now:
            picks.append(label)
    return ", ".join(picks) or None


@check("MDL004", "kv-cache-does-not-fit", area="model", cause="kv-cache-too-small",
       title="The KV cache for max_batch_size x max_seq_len does not fit", severity=Severity.WARNING)
def kv_fits(ctx: Context):
    """After weights and activations, free_gpu_memory_fraction (0.9) of the rest holds the paged KV cache;
    a full batch of max-length sequences needs batch x seq x bytes-per-token (per-window on sliding-window
    layers). When it does not fit the runtime queues requests (or shrinks max_seq_len if not even one fits)."""
    res = model_plan(ctx)
    if isinstance(res, Skip):
        return res
    p, f = res, res.fit
    if not p.weights_fit or f.max_batch(p.seq) < 1:
        return Skip("the weights do not fit (MDL003)")
    want = ctx.target.max_batch_size
    if not want or f.max_batch(p.seq) >= want:
        return None
    g = p.request.gpu_names[0]
    return Fail(f"{_label(p)}: KV cache for batch {want} x {p.seq} tokens ({f.extra['kv_cache_dtype']}) "
                f"= {gib(want * f.stages[0].seq_bytes(p.seq))}; {gib(f.kv_available_bytes)} available on {g}",
                f"max_batch_size <= {f.max_batch(p.seq)} at max_seq_len {p.seq}, "
                f"or max_seq_len <= {f.max_seq(want, max(p.seq, ctx.target.model.max_position_embeddings or 0))} "
                f"at batch {want}",
                {"needed": gib(want * f.stages[0].seq_bytes(p.seq)), "available": gib(f.kv_available_bytes)})


@check("MDL005", "build-ram-too-small", area="model", cause="ram-too-small",
       title="Host RAM below what building this model needs", severity=Severity.WARNING)
def build_ram(ctx: Context):
    """Converting and building an engine load the checkpoint in host RAM: about 2x the Hugging Face
    checkpoint. (The PyTorch backend loads the checkpoint straight to the GPUs: not checked there.)"""
    m = ctx.target.model
    if m is None:
        return Skip("no --model given")
    if ctx.target.backend != "tensorrt":
        return Skip("the PyTorch backend builds no engine")
    h = ctx.facts.host
    avail = h.ram_available_bytes or h.ram_total_bytes
    if avail is None:
        return Skip("RAM unknown")
    limit = h.cgroup_memory_limit_bytes
    usable = min(avail, limit) if limit else avail
    need = sizing.build_host_ram_bytes(m)
    if usable >= need:
        return None
    return Fail(f"{m.name}: checkpoint {gib(sizing.hf_checkpoint_bytes(m))}, build needs ~{gib(need)}; "
                f"{gib(usable)} available" + (" (cgroup limit)" if limit and limit <= avail else ""),
                f">= {gib(need)} of host RAM",
                {"ram_gib": round(usable / GIB, 1), "limit_gib": round(limit / GIB, 1) if limit else None,
                 "need_gib": round(need / GIB, 1)})


@check("MDL006", "build-disk-too-small", area="model", cause="disk-too-small",
       title="Not enough disk for the checkpoint (and the engine flow's converted checkpoint and engine)",
       severity=Severity.WARNING)
def build_disk(ctx: Context):
    """Engine flow: HF checkpoint + converted TRT-LLM checkpoint + engine (sizing.disk_bytes) must fit on the
    work disk. PyTorch backend: a checkpoint not yet on this machine (a preset or hub id) must fit."""
    t, m = ctx.target, ctx.target.model
    if m is None:
        return Skip("no --model given")
    disks = [d for d in ctx.facts.host.disks if d.free_bytes is not None]
    if not disks:
        return Skip("free disk unknown")
    local = bool(m.source) and not m.source.startswith("rules/") and ";" not in m.source
    if t.backend == "pytorch" and local:
        return Skip("the checkpoint is already on this machine and the PyTorch backend writes nothing more")
    d = next((d for d in disks if d.purpose == "workdir"), disks[0])
    need = sizing.disk_bytes(m, t.quant, t.tp, t.pp, backend="pytorch" if t.backend == "pytorch" else "engine")
    if d.free_bytes >= need["total"]:
        return None
    if t.backend == "pytorch":
        evidence = f"{m.name}: checkpoint {gib(need['hf_checkpoint'])}; {gib(d.free_bytes)} free at {d.path}"
    else:
        evidence = (f"{m.name}: HF checkpoint {gib(need['hf_checkpoint'])} + converted {gib(need['converted_checkpoint'])} "
                    f"+ engine {gib(need['engine'])} = {gib(need['total'])}; {gib(d.free_bytes)} free at {d.path}")
    return Fail(evidence, f">= {gib(need['total'])} free", {"path": d.path, "free_gib": round(d.free_bytes / GIB, 1),
                                                           "need_gib": round(need["total"] / GIB, 1)})


@check("MDL007", "quant-needs-newer-gpu", area="model", cause="gpu-arch-unsupported",
       title="The weight format needs a newer GPU architecture")
def quant_arch(ctx: Context):
    """INT4-AWQ needs SM75+ and INT8 SmoothQuant SM80+ (per the release's support matrix in rules/releases.toml)."""
    t = ctx.target
    if t.quant not in ("int4_awq", "int8_sq"):
        return Skip("not an INT4-AWQ / INT8-SQ target")
    minimum = (t.release.int4_awq_min_sm if t.quant == "int4_awq" else t.release.int8_sq_min_sm) if t.release else \
        (75 if t.quant == "int4_awq" else 80)
    fails = []
    for g in rank_gpus(ctx, t.world_size):
        sm = sm_of(g)
        if sm is not None and sm < minimum:
            fails.append(Fail(f"GPU {g.index} {g.name}: SM {sm}; {t.quant} needs SM {minimum}+",
                              f"SM {minimum} or newer", {"gpu_sm": sm, "supported": f"{minimum}+",
                                                         "release": t.release_version}))
    return fails


@check("MDL008", "checkpoint-quant-unsupported", area="model", cause="checkpoint-quant-unsupported",
       title="The checkpoint's quantisation does not run on this GPU",
       severity_when="a warning when the format runs weight-only or the GPU is not listed for it")
def checkpoint_quant(ctx: Context):
    """A checkpoint quantised by its publisher (FP8 per tensor or in 128x128 blocks, NVFP4, MXFP4, AWQ/GPTQ,
    INT8) is loaded as shipped: its kernels need the SMs of rules/quant-formats.toml (e.g. FP8 blocks:
    SM90/100/103; NVFP4: Blackwell; MXFP4: Blackwell, weight-only on Hopper; W4A16: Ampere to Hopper). A
    format the PyTorch backend has no path for (INT8 SmoothQuant), and methods TensorRT-LLM cannot load at
    all (bitsandbytes...), fail as well. A GPU the format's list does not name is a warning."""
    t, m = ctx.target, ctx.target.model
    if m is None:
        return Skip("no --model given")
    q = m.quant
    if q is None:
        return Skip("the checkpoint is not quantised")
    if t.quant:
        return Skip("--quant asks for another format (GPU003/GPU004/MDL007 check it)")
    if q.method in planner.UNLOADABLE_METHODS:
        return Fail(f"{m.name}: {q.source} says quant_method {q.method}", "a format TensorRT-LLM loads (ModelOpt FP8/NVFP4, "
                    "FP8 blocks, MXFP4, AWQ/GPTQ)", {"format": planner.UNLOADABLE_METHODS[q.method],
                                                     "supported": "none: TensorRT-LLM has no loader for them",
                                                     "why": "no code path in either backend"})
    gpus = [g for g in rank_gpus(ctx, max(t.world_size, 1)) if sm_of(g) is not None]
    if not gpus:
        return Skip("GPU architecture unknown")
    backend = "pytorch" if t.backend == "pytorch" else "engine"
    fails = []
    seen: set[int] = set()
    for g in gpus:
        sm = sm_of(g)
        if sm in seen:
            continue
        seen.add(sm)
        for gate in planner.weight_gates(ctx.kb, m, None, sizing.kv_dtype_for(m, t.kv_cache_dtype), [(sm, g.name)], backend):
            if gate.status == "weight-only":
                continue
            why = {"refused": gate.format.refusal.split(" (")[0] if gate.format.refusal else "",
                   "backend": f"the {'PyTorch' if backend == 'pytorch' else 'TensorRT engine'} backend has no path for it",
                   "unlisted": f"SM {sm} is not in TensorRT-LLM's list for this format"}[gate.status]
            fails.append(Fail(
                f"{m.name}: {gate.what}; GPU {g.index} {g.name} is SM {sm}",
                f"SM {gate.supported}",
                {"format": m.quant.label, "supported": gate.supported, "gpu": g.name, "gpu_sm": sm, "why": why},
                severity=Severity.WARNING if gate.status == "unlisted" else None))
    return fails


@check("MDL009", "model-arch-unsupported", area="model", cause="model-arch-unsupported",
       title="The model's architecture is not in the release's supported-models list",
       severity_when="a warning when the architecture runs only through AutoDeploy or the list is incomplete")
def architecture(ctx: Context):
    """config.json's architectures[0] against the target release's documented list for its backend
    (rules/supported-models.toml: the PyTorch backend's table, the engine flow's MODEL_MAP). A list known to
    be complete makes an absent architecture an error; a partial list, or a model served only through the
    AutoDeploy backend, a warning."""
    t, m = ctx.target, ctx.target.model
    if m is None:
        return Skip("no --model given")
    if not m.architecture:
        return Skip("config.json names no architecture")
    backend = "pytorch" if t.backend == "pytorch" else "engine"
    st = planner.arch_status(ctx.kb, m.architecture, t.release, backend)
    rel = t.release_version or "?"
    params = {"arch": m.architecture, "release": rel}
    if st.status in ("listed", "engine-listed", "unknown", "no-engine-flow"):
        return None if st.status != "unknown" else Skip(f"no model list known for TensorRT-LLM {rel}")
    if st.status == "autodeploy":
        return Fail(f"{m.architecture}: in TensorRT-LLM {st.list_release}'s list only through the AutoDeploy backend",
                    "an architecture of the PyTorch backend's table, or serving with the AutoDeploy backend",
                    params, severity=Severity.WARNING)
    listed = [e.version for e in ctx.kb.supported_models
              if m.architecture in (e.pytorch if backend == "pytorch" else e.engine)]
    params["listed_in"] = ", ".join("1.4.0rc (main, 2026)" if v == "main-2026" else v for v in listed) if listed else None
    where = "PyTorch-backend" if backend == "pytorch" else "engine-flow (MODEL_MAP)"
    complete = st.complete if backend == "pytorch" else st.complete
    return Fail(f"{m.architecture} is not in TensorRT-LLM {st.list_release}'s {where} model list"
                + ("" if complete else " (the list known here is partial)"),
                f"one of the release's supported architectures ({st.source.split(' (')[0]})", params,
                severity=None if complete else Severity.WARNING)


def _minor(v: str) -> tuple[int, int] | None:
    from packaging.version import InvalidVersion, Version

    try:
        p = Version(v)
    except InvalidVersion:
        return None
    return (p.major, p.minor)


@check("MDL010", "transformers-older-than-checkpoint", area="model", cause="transformers-too-old",
       title="The installed transformers is older than the one that wrote the checkpoint", severity=Severity.WARNING)
def transformers_version(ctx: Context):
    """TensorRT-LLM reads config.json through transformers (AutoConfig): a checkpoint written by a newer
    transformers (config.json transformers_version) may have a model_type the installed one does not know
    ("does not recognize this architecture"). Compared at major.minor; a checkpoint that ships its own code
    (auto_map) is checked by the trust_remote_code rule instead."""
    m = ctx.target.model
    if m is None:
        return Skip("no --model given")
    if not m.config_transformers_version:
        return Skip("config.json has no transformers_version")
    installed = ctx.facts.packages.installed.get("transformers") if ctx.facts.packages else None
    if not installed:
        return Skip("transformers not installed here (or packages unknown)")
    want, have = _minor(m.config_transformers_version), _minor(installed)
    if want is None or have is None or have >= want:
        return None
    return Fail(f"{m.name}: config.json written by transformers {m.config_transformers_version} "
                f"(model_type {m.model_type}); transformers {installed} installed",
                f"transformers >= {want[0]}.{want[1]} (within the TensorRT-LLM release's pin)",
                {"model_type": m.model_type})


@check("MDL011", "engine-flow-removed", area="model", cause="engine-flow-removed",
       title="The target release has no TensorRT engine backend")
def engine_flow(ctx: Context):
    """Releases from 1.3.0rc26 on ship only the PyTorch backend (rules/releases.toml backends): engines,
    trtllm-build and convert_checkpoint.py are gone; an engine target, --backend tensorrt, or
    ``backend: tensorrt`` in the LLM API options cannot run there."""
    t = ctx.target
    if t.release is None:
        return Skip("release unknown")
    if t.backend != "tensorrt":
        return Skip("not an engine target")
    if t.release.has_engine_flow:
        return None
    why = {"engine": "an --engine target", "asked": "--backend tensorrt", "options": "backend: tensorrt in the options",
           "release": "the release default"}[t.backend_source]
    newest = [r.version for r in ctx.kb.releases if r.has_engine_flow]
    return Fail(f"TensorRT-LLM {t.release.version} (backends: {', '.join(t.release.backends)}); asked by {why}",
                f"a release with the engine flow (up to {newest[-1]})" if newest else "a release with the engine flow",
                {"release": t.release.version})
