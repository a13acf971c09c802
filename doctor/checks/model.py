"""Model-fit checks (``check --model``): does the target model, in its weight format and
parallelism, fit the GPUs, host RAM and disk here? All arithmetic is in doctor/sizing.py.

FP8/NVFP4 support for ``--quant``/``--kv-cache-dtype`` is checked by GPU003/GPU004 and tp x pp
against the visible GPUs by GPU010; these checks do not repeat them.
"""

from __future__ import annotations

from doctor import sizing
from doctor.checks import Context, Fail, Skip, check
from doctor.checks.gpu import sm_of, visible
from doctor.facts import GPUFacts
from doctor.report import Severity

GIB = sizing.GIB
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


def model_fit(ctx: Context) -> tuple[sizing.Fit, GPUFacts] | Skip:
    """The sizing fit of the target model on the tightest of the GPUs it would use (Skip when there is none)."""
    t, m = ctx.target, ctx.target.model
    if m is None:
        return Skip("no --model given")
    if sizing.tp_problem(m, t.tp):
        return Skip("tp does not divide the heads (MDL001)")
    gpus = [g for g in rank_gpus(ctx, t.world_size) if gpu_free_bytes(g) is not None]
    if not gpus:
        return Skip("GPU memory unknown")
    tight = min(gpus, key=lambda g: gpu_free_bytes(g) or 0)
    f = sizing.fit(m, gpu_free_bytes(tight) or 0, quant=t.quant, kv_cache_dtype=t.kv_cache_dtype, tp=t.tp, pp=t.pp,
                   max_seq_len=t.max_seq_len, max_batch_size=t.max_batch_size, max_num_tokens=t.max_num_tokens)
    return f, tight


def _target_label(ctx: Context) -> str:
    t, m = ctx.target, ctx.target.model
    return f"{m.name} {(t.quant or m.dtype).upper()} TP={t.tp}" + (f" PP={t.pp}" if t.pp > 1 else "")


@check("MDL001", "tp-does-not-divide-heads", area="model", cause="parallelism-mismatch",
       title="Tensor parallelism does not divide the model's attention heads")
def tp_divides_heads(ctx: Context):
    """TRT-LLM splits attention heads evenly over TP ranks: --tp_size must divide the query heads, and
    either divide the KV heads or be a multiple of them (KV heads are then replicated)."""
    t, m = ctx.target, ctx.target.model
    if m is None:
        return Skip("no --model given")
    fails = []
    problem = sizing.tp_problem(m, t.tp)
    if problem:
        ok = ", ".join(str(x) for x in sizing.valid_tp_sizes(m, 64))
        fails.append(Fail(f"{m.name}: {problem}", f"tp in {ok}", {"world_size": t.world_size,
                                                                    "gpus": len(visible(ctx)) or None}))
    if t.pp > m.num_layers:
        fails.append(Fail(f"{m.name}: pp={t.pp} is more than its {m.num_layers} layers", f"pp <= {m.num_layers}",
                          {"world_size": t.world_size}))
    return fails


@check("MDL003", "model-does-not-fit", area="model", cause="model-needs-more-gpus",
       title="The model's weights do not fit in GPU memory")
def weights_fit(ctx: Context):
    """Weights per GPU (sizing.weights_per_gpu) + activations for max_num_tokens + runtime overhead must fit in
    the GPU's free memory; when they do not, the finding says how many GPUs of this kind it needs."""
    t, m = ctx.target, ctx.target.model
    res = model_fit(ctx)
    if isinstance(res, Skip):
        return res
    f, g = res
    if f.weights_fit and f.max_batch_size_fit >= 1:
        return None
    need = sizing.gpus_needed(m, f.gpu_free_bytes, quant=t.quant, kv_cache_dtype=t.kv_cache_dtype,
                              max_seq_len=t.max_seq_len, max_batch_size=1, max_num_tokens=t.max_num_tokens)
    evidence = (f"{_target_label(ctx)}: weights {gib(f.weights_bytes)} + activations {gib(f.activation_bytes)} "
                f"+ runtime {gib(f.overhead_bytes)} per GPU")
    if f.weights_fit:
        evidence += f", leaving no room for one {f.max_seq_len}-token sequence's KV cache"
    evidence += f"; {g.name} has {gib(f.gpu_free_bytes)} free"
    if need:
        tp, pp = need
        expected = f"{tp * pp} x {g.name} (tp={tp}, pp={pp})"
        params = {"gpus_needed": tp * pp, "gpu": g.name, "tp": tp, "pp": pp if pp > 1 else None}
    else:
        expected = f"more than 64 x {g.name}, or a smaller weight format"
        params = {"gpus_needed": "more than 64", "gpu": g.name, "tp": 8}
    return Fail(evidence, expected, params)


@check("MDL004", "kv-cache-does-not-fit", area="model", cause="kv-cache-too-small",
       title="The KV cache for max_batch_size x max_seq_len does not fit", severity=Severity.WARNING)
def kv_fits(ctx: Context):
    """After weights and activations, kv_cache_free_gpu_mem_fraction (0.9) of the rest holds the paged KV cache;
    a full batch of max-length sequences needs batch x seq x bytes-per-token. When it does not fit the runtime
    queues requests (or shrinks max_seq_len if not even one fits)."""
    res = model_fit(ctx)
    if isinstance(res, Skip):
        return res
    f, g = res
    if not f.weights_fit or f.max_batch_size_fit < 1:
        return Skip("the weights do not fit (MDL003)")
    if f.kv_fits:
        return None
    return Fail(f"{_target_label(ctx)}: KV cache for batch {f.max_batch_size} x {f.max_seq_len} tokens "
                f"({f.extra['kv_cache_dtype']}) = {gib(f.kv_needed_bytes)}; {gib(f.kv_available_bytes)} available on {g.name}",
                f"max_batch_size <= {f.max_batch_size_fit} at max_seq_len {f.max_seq_len}, "
                f"or max_seq_len <= {f.max_seq_len_fit} at batch {f.max_batch_size}",
                {"needed": gib(f.kv_needed_bytes), "available": gib(f.kv_available_bytes)})


@check("MDL005", "build-ram-too-small", area="model", cause="ram-too-small",
       title="Host RAM below what building this model needs", severity=Severity.WARNING)
def build_ram(ctx: Context):
    """Converting and building load the checkpoint in host RAM: about 2x the Hugging Face checkpoint."""
    m = ctx.target.model
    if m is None:
        return Skip("no --model given")
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
                {"ram_gib": round(usable / GIB, 1), "limit_gib": round(limit / GIB, 1) if limit else None})


@check("MDL006", "build-disk-too-small", area="model", cause="disk-too-small",
       title="Not enough disk for checkpoint, converted checkpoint and engine", severity=Severity.WARNING)
def build_disk(ctx: Context):
    """HF checkpoint + converted TRT-LLM checkpoint + engine (sizing.disk_bytes) must fit on the work disk."""
    t, m = ctx.target, ctx.target.model
    if m is None:
        return Skip("no --model given")
    disks = [d for d in ctx.facts.host.disks if d.free_bytes is not None]
    if not disks:
        return Skip("free disk unknown")
    d = next((d for d in disks if d.purpose == "workdir"), disks[0])
    need = sizing.disk_bytes(m, t.quant, t.tp, t.pp)
    if d.free_bytes >= need["total"]:
        return None
    return Fail(f"{m.name}: HF checkpoint {gib(need['hf_checkpoint'])} + converted {gib(need['converted_checkpoint'])} "
                f"+ engine {gib(need['engine'])} = {gib(need['total'])}; {gib(d.free_bytes)} free at {d.path}",
                f">= {gib(need['total'])} free", {"path": d.path, "free_gib": round(d.free_bytes / GIB, 1)})


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
