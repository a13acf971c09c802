"""`trtllm-doctor plan`: the memory budget per GPU for a model target, what fits, and the build command.

Facts come from this machine, a snapshot, or ``--gpu NAME`` (repeated once per GPU) for a
machine you do not have yet, from rules/gpus.toml. All numbers come from doctor/sizing.py;
the Report carries them in ``extra["plan"]`` (the JSON contract) and the model-area
findings (MDL checks) as usual.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from doctor import sizing
from doctor.checks import Context, run_checks
from doctor.commands.check import CheckOptions, build_target, gather_facts
from doctor.errors import UsageError
from doctor.facts import Facts, GPUFacts, GPUsFacts
from doctor.kb import GPU, KB, default_kb
from doctor.report import Report

GIB = sizing.GIB
MIB = 2**20
BAR = 48


@dataclass
class PlanOptions(CheckOptions):
    """The check options (target flags, snapshot) plus what only planning takes."""

    gpu: list[str] = field(default_factory=list)  # plan for these GPUs of rules/gpus.toml instead of a machine
    fraction: float = sizing.DEFAULT_KV_FRACTION


def _tokens(text: str) -> set[str]:
    return {t for t in re.split(r"[^a-z0-9]+", text.lower()) if t and t != "nvidia"}


def find_gpu(kb: KB, name: str) -> GPU:
    """A GPU of rules/gpus.toml by NVML name, key, or words of its name ("H100 80GB", "h200-sxm", "RTX 4090")."""
    exact = kb.gpu(name)
    if exact:
        return exact
    lowered = name.strip().lower()
    by_key = [g for g in kb.gpus if g.key == lowered]
    if by_key:
        return by_key[0]
    want = _tokens(name)
    if not want:
        raise UsageError(f"--gpu {name!r}: empty GPU name")
    matches = [g for g in kb.gpus if any(want <= _tokens(n) for n in g.names) or want <= _tokens(g.key)]
    same = [g for g in matches if any(_tokens(n) == want for n in g.names)]
    if len(same) == 1:
        return same[0]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UsageError(f"--gpu {name!r} is ambiguous: {', '.join(g.names[0] for g in matches[:6])}")
    raise UsageError(f"--gpu {name!r}: not in the GPU table (rules/gpus.toml); known: "
                     f"{', '.join(g.key for g in kb.gpus)}")


def facts_for_gpus(kb: KB, names: list[str]) -> Facts:
    """Facts of a hypothetical machine: one idle GPU per ``--gpu`` (memory_mib observed, else memory_gib)."""
    gpus = []
    for i, n in enumerate(names):
        g = find_gpu(kb, n)
        mib = g.memory_mib or int(g.memory_gib * 1024)
        gpus.append(GPUFacts(index=i, name=g.names[0], cc=g.cc, memory_total_mib=mib, memory_used_mib=0,
                             memory_free_mib=mib, mig_enabled=False))
    facts = Facts()
    facts.gpus = GPUsFacts(gpus=gpus, source="--gpu (rules/gpus.toml)")
    facts.platform.system = "Linux"
    return facts


def build_commands(plan: dict) -> list[str]:
    """The convert/quantize and trtllm-build lines of the setup guide's recipes, numbers filled in."""
    q, tp, pp, model = plan["quant"], plan["tp"], plan["pp"], plan["model"]
    hf = plan.get("hf_repo") or "<hf_model_dir>"
    ckpt = f"./tllm_{model}_{q}_tp{tp}" + (f"_pp{pp}" if pp > 1 else "")
    par = f" --tp_size {tp}" + (f" --pp_size {pp}" if pp > 1 else "")
    kv = plan["kv_cache_dtype_arg"]
    dtype = "float16" if plan["dtype"] == "fp16" else "bfloat16"
    if q in ("bf16", "fp16"):
        convert = f"python examples/<family>/convert_checkpoint.py --model_dir {hf} --output_dir {ckpt} --dtype {dtype}{par}"
        if kv in ("int8", "fp8"):
            convert = (f"python examples/quantization/quantize.py --model_dir {hf} --output_dir {ckpt} --dtype {dtype} "
                       f"--qformat full_prec --kv_cache_dtype {kv} --calib_size 512{par}")
    else:
        extra = " --awq_block_size 128" if q == "int4_awq" else ""
        kv_arg = f" --kv_cache_dtype {kv}" if kv in ("int8", "fp8") else ""
        convert = (f"python examples/quantization/quantize.py --model_dir {hf} --output_dir {ckpt} --dtype {dtype} "
                   f"--qformat {q}{extra}{kv_arg} --calib_size 512{par}")
    seq, batch, tokens = plan["max_seq_len"], plan["max_batch_size_build"], plan["max_num_tokens"]
    build = (f"trtllm-build --checkpoint_dir {ckpt} --output_dir ./engines/{model}-{q}-tp{tp}" + (f"-pp{pp}" if pp > 1 else "")
             + " --gpt_attention_plugin auto --gemm_plugin auto --use_paged_context_fmha enable"
             + (" --use_fp8_context_fmha enable" if q == "fp8" or kv == "fp8" else "")
             + f" --max_input_len {seq} --max_seq_len {seq} --max_batch_size {batch} --max_num_tokens {tokens}")
    return [convert, build]


def run_plan(opts: PlanOptions, kb: KB | None = None) -> Report:
    kb = kb or default_kb()
    if not 0 < opts.fraction < 1:
        raise UsageError(f"--kv-cache-free-gpu-mem-fraction {opts.fraction}: must be between 0 and 1 (exclusive)")
    if opts.gpu:
        if opts.snapshot:
            raise UsageError("--gpu and --snapshot exclude each other: --gpu describes a machine, --snapshot is one")
        facts = facts_for_gpus(kb, opts.gpu)
    else:
        facts = gather_facts(opts)
    target = build_target(opts, facts, kb)
    m = target.model
    quant = target.quant or sizing.kv_dtype_for(m, "auto")
    ctx = Context(facts, target, kb)
    findings, results = run_checks(ctx, areas=["model"])

    from doctor.checks.gpu import visible
    from doctor.checks.model import gpu_free_bytes

    gpus = visible(ctx)
    used = [g for g in gpus[: target.world_size] if gpu_free_bytes(g) is not None]
    if not used:
        raise UsageError("no GPU with known memory: run on a GPU machine, or pass --snapshot FILE or --gpu NAME")
    tight = min(used, key=lambda g: gpu_free_bytes(g) or 0)
    free = gpu_free_bytes(tight) or 0
    f = sizing.fit(m, free, quant=quant, kv_cache_dtype=target.kv_cache_dtype, tp=target.tp, pp=target.pp,
                   max_seq_len=target.max_seq_len, max_batch_size=target.max_batch_size,
                   max_num_tokens=target.max_num_tokens, fraction=opts.fraction)
    w = sizing.weights_per_gpu(m, quant, target.tp, target.pp)
    need = sizing.gpus_needed(m, free, quant=quant, kv_cache_dtype=target.kv_cache_dtype, max_seq_len=f.max_seq_len,
                              max_batch_size=1, max_num_tokens=target.max_num_tokens, fraction=opts.fraction)
    params = sizing.param_count(m)
    kv_dtype = f.extra["kv_cache_dtype"]
    plan = {
        "model": m.name, "hf_repo": m.hf_repo or None, "architecture": m.architecture, "attention": m.attention_kind,
        "params": params.total, "active_params": params.active, "dtype": m.dtype,
        "quant": quant, "kv_cache_dtype": kv_dtype,
        "kv_cache_dtype_arg": target.kv_cache_dtype, "tp": target.tp, "pp": target.pp,
        "gpu": tight.name, "gpus": len(gpus), "gpu_free_bytes": f.gpu_free_bytes,
        "weights_bytes_per_gpu": f.weights_bytes,
        "weights_breakdown": {"layers": w.layers, "embedding": w.embedding, "lm_head": w.lm_head,
                              "layers_on_rank": w.layers_on_rank},
        "activation_bytes": f.activation_bytes, "overhead_bytes": f.overhead_bytes,
        "kv_cache_bytes_per_token": f.kv_bytes_per_token, "kv_cache_bytes": f.kv_needed_bytes,
        "kv_cache_available_bytes": f.kv_available_bytes, "free_bytes_after": f.free_after_bytes,
        "kv_cache_free_gpu_mem_fraction": opts.fraction, "tokens_per_block": f.tokens_per_block,
        "max_seq_len": f.max_seq_len, "max_batch_size": f.max_batch_size, "max_num_tokens": f.max_num_tokens,
        "max_batch_size_fit": f.max_batch_size_fit, "max_seq_len_fit": f.max_seq_len_fit,
        "max_seq_len_fit_limited_by": f.max_seq_len_fit_limited_by,
        "fits": f.kv_fits, "weights_fit": f.weights_fit and f.max_batch_size_fit >= 1,
        "gpus_needed": (need[0] * need[1]) if need else None,
        "tp_pp_needed": list(need) if need else None,
        "host_ram_build_bytes": sizing.build_host_ram_bytes(m),
        "disk_bytes": sizing.disk_bytes(m, quant, target.tp, target.pp),
    }
    if m.sliding_window and m.sliding_window_layers:
        plan["kv_cache_bytes_sliding_window"] = sizing.kv_cache_bytes(
            m, kv_dtype, f.max_seq_len, f.max_batch_size, target.tp, target.pp, sliding_window=True,
            tokens_per_block=f.tokens_per_block)
    plan["max_batch_size_build"] = max(1, min(f.max_batch_size_fit, 256)) if plan["weights_fit"] else f.max_batch_size
    cmd = plan
    if not plan["weights_fit"] and need:  # suggest the build for the parallelism that fits
        f2 = sizing.fit(m, free, quant=quant, kv_cache_dtype=target.kv_cache_dtype, tp=need[0], pp=need[1],
                        max_seq_len=f.max_seq_len, max_batch_size=target.max_batch_size,
                        max_num_tokens=target.max_num_tokens, fraction=opts.fraction)
        cmd = dict(plan, tp=need[0], pp=need[1], max_batch_size_build=max(1, min(f2.max_batch_size_fit, 256)))
    plan["commands"] = build_commands(cmd)
    report = Report("plan", findings, facts.to_dict(), results, target.to_dict(), extra={"plan": plan})
    return report


# ---------------------------------------------------------------------------------------
# Human rendering: a table and a bar per GPU
# ---------------------------------------------------------------------------------------
def _g(n: float) -> str:
    return f"{n / GIB:7.1f} GiB"


def plan_text(report: Report) -> str:
    p = report.extra["plan"]
    free = p["gpu_free_bytes"]
    parts = [("weights", p["weights_bytes_per_gpu"], "█"),
             ("activations+runtime", p["activation_bytes"] + p["overhead_bytes"], "▓"),
             (f"KV cache ({p['kv_cache_dtype']})", p["kv_cache_bytes"], "▒")]
    used = sum(x for _, x, _ in parts)
    scale = max(free, used) or 1
    bar = "".join(ch * round(BAR * x / scale) for _, x, ch in parts)
    bar = (bar + "░" * BAR)[:round(BAR * free / scale)] if used <= free else bar[:BAR]
    over = used > free
    lines = [
        f"Plan: {p['model']} ({p['params'] / 1e9:.2f}B params, {p['attention']}), {p['quant'].upper()} weights, "
        f"{p['kv_cache_dtype']} KV cache, TP={p['tp']} PP={p['pp']} on {p['gpu']}"
        + (f" (x{p['gpus']})" if p["gpus"] > 1 else ""),
        f"Target: max_seq_len {p['max_seq_len']}, max_batch_size {p['max_batch_size']}, max_num_tokens {p['max_num_tokens']}",
        "",
        "Memory per GPU",
        f"  weights                  {_g(p['weights_bytes_per_gpu'])}",
        f"  activations (estimate)   {_g(p['activation_bytes'])}",
        f"  runtime overhead         {_g(p['overhead_bytes'])}",
        f"  KV cache                 {_g(p['kv_cache_bytes'])}   ({p['kv_cache_bytes_per_token']} B/token"
        f" x {p['max_batch_size']} x {p['max_seq_len']})",
        f"  free after all of it     {_g(p['free_bytes_after'])}" + ("   <- does not fit" if over else ""),
        f"  GPU free memory          {_g(free)}",
        "",
        f"  [{bar}{'|' if not over else '!'}]" if not over else f"  [{bar}] over by {(used - free) / GIB:.1f} GiB",
        "   █ weights  ▓ activations+runtime  ▒ KV cache  ░ free",
        "",
    ]
    if p["weights_fit"]:
        lim = " (the model's max_position_embeddings)" if p["max_seq_len_fit_limited_by"] == "model" else ""
        lines += [f"Largest max_batch_size at max_seq_len {p['max_seq_len']}: {p['max_batch_size_fit']}",
                  f"Largest max_seq_len at max_batch_size {p['max_batch_size']}: {p['max_seq_len_fit']}{lim}"]
    else:
        need = p["tp_pp_needed"]
        lines.append("Does not fit on this GPU count." + (
            f" Needs {p['gpus_needed']} x {p['gpu']} (tp={need[0]}, pp={need[1]})." if need else ""))
    if p.get("kv_cache_bytes_sliding_window") is not None:
        lines.append(f"With a sliding-window KV cache (runtimes with per-window pools): "
                     f"{p['kv_cache_bytes_sliding_window'] / GIB:.1f} GiB instead of {p['kv_cache_bytes'] / GIB:.1f} GiB")
    d = p["disk_bytes"]
    lines += [f"Build host RAM ~{p['host_ram_build_bytes'] / GIB:.0f} GiB (2x the checkpoint); disk "
              f"~{d['total'] / GIB:.0f} GiB (HF {d['hf_checkpoint'] / GIB:.0f} + converted "
              f"{d['converted_checkpoint'] / GIB:.0f} + engine {d['engine'] / GIB:.0f})", "", "Suggested commands:"]
    lines += [f"  {c}" for c in p["commands"]]
    return "\n".join(lines) + "\n\n"
