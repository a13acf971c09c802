"""`trtllm-doctor plan`: on the GPUs given, the parallelism that fits, the memory budget per GPU, what fits, and the commands.

Facts come from this machine, a snapshot, or ``--gpu NAME`` (repeated once per GPU) for a
machine you do not have yet, from rules/gpus.toml. The GPUs given are the GPUs available: the
planner (doctor/planner.py) searches the smallest TP x PP (x EP for MoE) that fits unless
``--tp/--pp`` (or the LLM API options) fix it. All numbers come from doctor/sizing.py; the
Report carries them in ``extra["plan"]`` (the JSON contract, README "plan") and the model
findings (MDL checks, the same plan) as usual. ``--from-log LOG`` reads the KV-cache and memory
lines TensorRT-LLM printed at start-up and sets them beside the prediction.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from doctor import planner, sizing
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
    fraction: float | None = None  # None: the LLM API options', else 0.9
    from_log: Path | None = None


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
    aliased = [g for g in kb.gpus if any(_tokens(a) == want for a in g.aliases)]
    if len(aliased) == 1:  # what people mean by the short name (rules/gpus.toml `aliases`)
        return aliased[0]
    matches = [g for g in kb.gpus if any(want <= _tokens(n) for n in g.names) or want <= _tokens(g.key)]
    if not matches:  # written without spaces: "RTX4090", "H100SXM"
        compact = "".join(sorted(want))
        squash = lambda text: re.sub(r"[^a-z0-9]+", "", text.lower().replace("nvidia", ""))  # noqa: E731
        matches = [g for g in kb.gpus if any(squash(x) == squash(name) for x in (*g.names, g.key, *g.aliases))] \
            or [g for g in kb.gpus if compact and any(squash(x).startswith(squash(name)) for x in (*g.names, g.key))]
    same = [g for g in matches if any(_tokens(n) == want for n in g.names)]
    if len(same) == 1:
        return same[0]
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise UsageError(f"--gpu {name!r} is ambiguous: {', '.join(g.names[0] for g in matches[:6])}")
    raise UsageError(f"--gpu {name!r}: not in the GPU table (rules/gpus.toml); known: "
                     f"{', '.join(g.key for g in kb.gpus)}")


MAX_GPUS = 4096


def _expand_gpu_args(names: list[str]) -> list[str]:
    """``--gpu H200 --gpu H200`` or ``--gpu 8xH200`` / ``--gpu "H200 x8"``."""
    out = []
    for n in names:
        m = re.fullmatch(r"\s*(\d+)\s*[x×*]\s*(.+?)\s*", n) or re.fullmatch(r"\s*(.+?)(?:\s+[x×*]|\s*[×*])\s*(\d+)\s*", n)
        if m:
            count, name = (m.group(1), m.group(2)) if m.group(1).isdigit() else (m.group(2), m.group(1))
            k = int(count)
            if not 1 <= k <= MAX_GPUS:
                raise UsageError(f"--gpu {n!r}: between 1 and {MAX_GPUS} GPUs")
            out += [name] * k
        else:
            out.append(n)
        if len(out) > MAX_GPUS:
            raise UsageError(f"--gpu: at most {MAX_GPUS} GPUs")
    return out


def facts_for_gpus(kb: KB, names: list[str]) -> Facts:
    """Facts of a hypothetical machine: one idle GPU per ``--gpu`` (memory_mib observed, else memory_gib)."""
    gpus = []
    for i, n in enumerate(_expand_gpu_args(names)):
        g = find_gpu(kb, n)
        mib = g.memory_mib or int(g.memory_gib * 1024)
        gpus.append(GPUFacts(index=i, name=g.names[0], cc=g.cc, memory_total_mib=mib, memory_used_mib=0,
                             memory_free_mib=mib, mig_enabled=False))
    facts = Facts()
    facts.gpus = GPUsFacts(gpus=gpus, source="--gpu (rules/gpus.toml)")
    facts.platform.system = "Linux"
    return facts


def run_plan(opts: PlanOptions, kb: KB | None = None) -> Report:
    kb = kb or default_kb()
    if opts.fraction is not None and not 0 < opts.fraction < 1:
        raise UsageError(f"--kv-cache-free-gpu-mem-fraction {opts.fraction}: must be between 0 and 1 (exclusive)")
    if opts.gpu:
        if opts.snapshot:
            raise UsageError("--gpu and --snapshot exclude each other: --gpu describes a machine, --snapshot is one")
        facts = facts_for_gpus(kb, opts.gpu)
    else:
        facts = gather_facts(opts)
    target = build_target(opts, facts, kb)
    if target.model is None:
        raise UsageError("plan needs a model: --model NAME|DIR|ORG/NAME, or a --serve command naming one")
    if target.backend == "tensorrt" and target.release is not None and not target.release.has_engine_flow \
            and target.backend_source == "asked":
        newest = [r.version for r in kb.releases if r.has_engine_flow]
        raise UsageError(f"--backend tensorrt: TensorRT-LLM {target.release.version} has no engine flow "
                         f"(backends: {', '.join(target.release.backends)}); the last release with it is "
                         f"{newest[-1] if newest else 'unknown'}")
    ctx = Context(facts, target, kb)
    from doctor.checks.model import model_plan

    p = model_plan(ctx)
    from doctor.checks import Skip

    if isinstance(p, Skip) and "MDL001" in p.reason:  # a parallelism the model cannot split: its finding, no plan
        findings, results = run_checks(ctx, areas=["model", "gpu", "llm-api"])
        findings = [f for f in findings if f.area in ("model", "llm-api") or f.id in ("GPU002", "GPU003", "GPU004", "GPU010")]
        return Report("plan", findings, facts.to_dict(), results, target.to_dict(),
                      extra={"plan_refused": f"no plan: {p.reason}"})
    if isinstance(p, Skip):
        raise UsageError("no GPU with known memory: run on a GPU machine, or pass --snapshot FILE or --gpu NAME")
    findings, results = run_checks(ctx, areas=["model", "gpu", "llm-api"])
    findings = [f for f in findings if f.area in ("model", "llm-api") or f.id in ("GPU002", "GPU003", "GPU004", "GPU010")]
    extra = {"plan": planner.plan_dict(p, kb)}
    if opts.from_log is not None:
        extra["calibration"] = calibrate(opts.from_log, p)
    report = Report("plan", findings, facts.to_dict(), results, target.to_dict(), extra=extra)
    return report


# ---------------------------------------------------------------------------------------
# plan --from-log: what the runtime printed at start-up, beside the prediction
# ---------------------------------------------------------------------------------------
_NUM = r"([0-9]+(?:\.[0-9]+)?)"
_LOG_LINES = {
    # PyTorch backend, KvCacheCreator (tensorrt_llm/_torch/pyexecutor/_util.py)
    "weights_inside_torch_gib": re.compile(r"Memory used after loading model weights \(inside torch\)[^:]*:\s*" + _NUM + r"\s*GiB"),
    "activations_gib": re.compile(r"Memory dynamically allocated during inference \(inside torch\)[^:]*:\s*" + _NUM + r"\s*GiB"),
    "outside_torch_gib": re.compile(r"Memory used outside torch \(e\.g\., NCCL and CUDA graphs\)[^:]*:\s*" + _NUM + r"\s*GiB"),
    "peak_gib": re.compile(r"Peak memory during memory usage profiling \(torch \+ non-torch\):\s*" + _NUM + r"\s*GiB"),
    "kv_available_gib": re.compile(r"available KV cache memory when calculating max tokens:\s*" + _NUM + r"\s*GiB"),
    "fraction": re.compile(r"fraction is set (?:to )?" + _NUM),
    "kv_bytes_per_token": re.compile(r"kv size (?:per token )?is\s*([0-9]+)"),
    "device_total_gib": re.compile(r"device total memory\s*" + _NUM + r"\s*GiB"),
    "kv_estimated_gib": re.compile(r"Estimated max memory in KV cache\s*:\s*" + _NUM + r"\s*GiB"),
    # both backends (C++ KV-cache manager)
    "kv_allocated": re.compile(r"Allocated\s*" + _NUM + r"\s*GiB for max tokens in paged KV cache \(([0-9]+)\)"),
    "cpp_total_available": re.compile(r"Memory usage when calculating max tokens in paged kv cache: total:\s*" + _NUM
                                      + r"\s*GiB, available:\s*" + _NUM + r"\s*GiB"),
    "blocks_primary": re.compile(r"Number of blocks in KV cache primary pool:\s*([0-9]+)"),
    "tokens_in_pool": re.compile(r"Using\s*([0-9]+)\s*tokens in paged KV cache"),
    "runtime_shape": re.compile(r"max_seq_len=([0-9]+), max_num_requests=([0-9]+), max_num_tokens=([0-9]+), max_batch_size=([0-9]+)"),
    "mamba": re.compile(r"Mamba Cache (?:\([a-z]+\) )?is allocated\. max_mamba_cache_size: ([0-9]+), conv_state size: "
                        + _NUM + r"GB, ssm_state size: " + _NUM + r"GB"),
}
MAX_LOG_BYTES = 256 * 2**20


def read_startup_log(path: Path) -> dict:
    """The memory lines of a start-up log; the last occurrence of each wins (the final pass, not the estimation)."""
    from doctor.explain.reader import check_inputs, iter_blocks, open_input

    got: dict = {}
    seen = 0
    (inp,) = check_inputs([str(path)])
    fh = open_input(inp)
    try:
        for block in iter_blocks(fh, str(path)):
            seen += len(block)
            if seen > MAX_LOG_BYTES:
                break
            for raw in block.split(b"\n"):
                _startup_line(raw.decode("utf-8", "replace"), got)
    finally:
        fh.close()
    return got


def _startup_line(line: str, got: dict) -> None:
    if True:
        if "GiB" not in line and "tokens" not in line and "kv size" not in line and "max_seq_len=" not in line \
                and "Mamba Cache" not in line and "blocks" not in line and "fraction" not in line:
            return
        for key, rx in _LOG_LINES.items():
            m = rx.search(line)
            if m:
                got[key] = m.groups() if len(m.groups()) > 1 else m.group(1)


def calibrate(path: Path, p: planner.Plan) -> dict:
    """Predicted (the plan) against actual (the log) for the figures both have."""
    got = read_startup_log(path)
    if not got:
        raise UsageError(f"{path}: no TensorRT-LLM memory or KV-cache lines found (a start-up log of trtllm-serve, "
                         "trtllm-bench or the LLM API is expected)")
    f = p.fit
    rows: list[dict] = []

    def row(name: str, predicted: float | None, actual: float | None, unit: str) -> None:
        if actual is None:
            return
        r = {"figure": name, "predicted": predicted, "actual": actual, "unit": unit}
        if predicted:
            r["ratio"] = round(actual / predicted, 3) if predicted else None
        rows.append(r)

    def gib(key: str) -> float | None:
        v = got.get(key)
        return float(v) if isinstance(v, str) else None

    row("weights per GPU", round(f.weights_bytes / GIB, 2), gib("weights_inside_torch_gib"), "GiB")
    row("activations (dry-run peak)", round(f.activation_bytes / GIB, 2), gib("activations_gib"), "GiB")
    kvbpt = got.get("kv_bytes_per_token")
    row("KV bytes per token", f.kv_bytes_per_token, int(kvbpt) if isinstance(kvbpt, str) else None, "B")
    row("KV cache memory", round(f.kv_available_bytes / GIB, 2),
        gib("kv_estimated_gib") or gib("kv_available_gib"), "GiB")
    alloc = got.get("kv_allocated")
    if isinstance(alloc, tuple):
        row("KV pool tokens", f.kv_tokens, int(alloc[1]), "tokens")
        if int(alloc[1]):
            per = float(alloc[0]) * GIB / int(alloc[1])
            rows.append({"figure": "KV bytes per token (from the pool line)", "predicted": f.kv_bytes_per_token,
                         "actual": round(per), "unit": "B",
                         "ratio": round(per / f.kv_bytes_per_token, 3) if f.kv_bytes_per_token else None})
    elif isinstance(got.get("tokens_in_pool"), str):
        row("KV pool tokens", f.kv_tokens, int(got["tokens_in_pool"]), "tokens")
    total = gib("device_total_gib")
    cpp = got.get("cpp_total_available")
    if isinstance(cpp, tuple):
        total = total or float(cpp[0])
        rows.append({"figure": "free memory when sizing the KV cache", "predicted": round(
            (f.gpu_free_bytes - f.weights_bytes - f.activation_bytes - f.overhead_bytes) / GIB, 2),
            "actual": float(cpp[1]), "unit": "GiB"})
    outside = gib("outside_torch_gib")
    if outside is not None:
        rows.append({"figure": "memory outside torch (NCCL, CUDA graphs, other processes)",
                     "predicted": round(f.overhead_bytes / GIB, 2), "actual": outside, "unit": "GiB"})
    mamba = got.get("mamba")
    if isinstance(mamba, tuple):
        rows.append({"figure": "Mamba state", "predicted": round(f.mamba_bytes / 1e9, 2),
                     "actual": round(float(mamba[1]) + float(mamba[2]), 2), "unit": "GB"})
    out = {"log": str(path), "lines": {k: list(v) if isinstance(v, tuple) else v for k, v in got.items()}, "rows": rows}
    if total:
        out["device_total_gib"] = total
        plan_total = f.gpu_free_bytes / GIB
        if abs(plan_total - total) / total > 0.05:
            out["note"] = (f"the plan assumed {plan_total:.1f} GiB free per GPU, the log's device has {total:.1f} GiB: "
                           "pass --gpu or --snapshot of the machine that wrote the log")
    return out


# ---------------------------------------------------------------------------------------
# Human rendering: a table and a bar per GPU
# ---------------------------------------------------------------------------------------
def _g(n: float) -> str:
    return f"{n / GIB:7.1f} GiB"


def _short(n: int) -> str:
    if n >= 1024 and n % 1024 == 0:
        return f"{n // 1024}K"
    return str(n)


def plan_lines(p: dict) -> list[str]:
    """The plan as text lines (shared by the human and markdown renderers)."""
    free = p["gpu_free_bytes"]
    parts = [("weights", p["weights_bytes_per_gpu"], "█"),
             ("activations+runtime", p["activation_bytes"] + p["overhead_bytes"] + p.get("mamba_state_bytes", 0), "▓"),
             (f"KV cache ({p['kv_cache_dtype']})", p["kv_cache_bytes"], "▒")]
    used = sum(x for _, x, _ in parts)
    scale = max(free, used) or 1
    bar = "".join(ch * round(BAR * x / scale) for _, x, ch in parts)
    bar = (bar + "░" * BAR)[:round(BAR * free / scale)] if used <= free else bar[:BAR]
    over = used > free
    par = f"TP={p['tp']} PP={p['pp']}" + (f" EP={p['ep']}" if p.get("ep", 1) > 1 else "")
    backend = "PyTorch backend" if p["backend"] == "pytorch" else "TensorRT engine"
    rel = f"TensorRT-LLM {p['release']}, " if p.get("release") else ""
    lines = [
        f"Plan: {p['model']} ({p['params'] / 1e9:.2f}B params, {p['attention']}), {p['weight_format']} weights, "
        f"{p['kv_cache_dtype']} KV cache, {par} on {p['gpu']}" + (f" ({p['gpus']} given)" if p["gpus"] > 1 else "")
        + f"; {rel}{backend}",
    ]
    cq = p.get("checkpoint_quant")
    if cq:
        lines.append(f"Checkpoint quantisation: {cq['method']} ({cq['source']})"
                     + (f", KV cache {cq['kv_cache']}" if cq.get("kv_cache") else "")
                     + (f", {cq['excluded_modules']} module patterns kept 16-bit" if cq.get("excluded_modules") else ""))
    lines += [
        f"Target: max_seq_len {p['max_seq_len']}" + ("" if p["max_seq_len_asked"] else " (not asked: planned at "
                                                        f"{p['max_seq_len']}, see what fits)")
        + f", max_batch_size {p['max_batch_size']}, max_num_tokens {p['max_num_tokens']}",
        "",
        "Memory per GPU",
        f"  weights                  {_g(p['weights_bytes_per_gpu'])}",
        f"  activations (estimate)   {_g(p['activation_bytes'])}",
        f"  runtime overhead         {_g(p['overhead_bytes'])}",
    ]
    if p.get("mamba_state_bytes"):
        lines.append(f"  Mamba state              {_g(p['mamba_state_bytes'])}   ({p['mamba_state_bytes_per_seq']} B/sequence"
                     f" x {p['max_batch_size']} slots)")
    lines += [
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
        lines.append(f"KV cache pool: {p['kv_cache_tokens']} tokens ({p['kv_cache_available_bytes'] / GIB:.1f} GiB at "
                     f"free_gpu_memory_fraction {p['kv_cache_free_gpu_mem_fraction']})")
        lines.append("What fits (largest batch at each max_seq_len; longest sequence at each batch):")
        seq_cells = "  ".join(f"{_short(r['max_seq_len'])}: {r['max_batch_size']}" for r in p["what_fits"])
        batch_cells = "  ".join(f"{r['max_batch_size']}: {_short(r['max_seq_len']) if r['max_seq_len'] else '-'}"
                                for r in p["what_fits_by_batch"])
        lines += [f"  max_seq_len -> batch   {seq_cells}", f"  batch -> max_seq_len   {batch_cells}"]
    if not p["fits"]:
        need = p["tp_pp_needed"]
        lines.append("Does not fit on the GPUs given." + (
            f" Needs {p['gpus_needed']} x {p['gpu']} (tp={need[0]}, pp={need[1]})." if need else
            " Not on 64 GPUs of this kind either: use a smaller weight format or larger GPUs."))
    for g in p.get("gates", []):
        if g["status"] == "weight-only":
            lines.append(f"Note: {g['what']} run weight-only (dequantised to 16 bits) on SM {g['sm']}.")
    for n in p.get("notes", []):
        lines.append(f"Note: {n}")
    if p.get("sliding_window"):
        sw = p["sliding_window"]
        lines.append(f"Sliding window {sw['window']} on {sw['layers']} layers: "
                     + ("per-window KV pools (VSWA) counted." if sw["per_window_pools"] else
                        "engines allocate every layer for the full length (counted so)."))
    d = p["disk_bytes"]
    if p["backend"] == "pytorch":
        lines.append(f"Checkpoint {p['checkpoint_bytes'] / GIB:.1f} GiB on disk"
                     + ("" if p.get("checkpoint_bytes_exact") else " (computed from the config)")
                     + "; the PyTorch backend loads it as is (no conversion, no engine).")
    else:
        lines.append(f"Build host RAM ~{(p['host_ram_build_bytes'] or 0) / GIB:.0f} GiB (2x the checkpoint); disk "
                     f"~{d['total'] / GIB:.0f} GiB (HF {d['hf_checkpoint'] / GIB:.0f} + converted "
                     f"{d['converted_checkpoint'] / GIB:.0f} + engine {d['engine'] / GIB:.0f})")
    lines.append("")
    if p.get("commands_withheld"):
        lines.append(f"No commands: {p['commands_withheld']}.")
    else:
        if p.get("yaml"):
            lines.append("plan.yaml (--extra_llm_api_options):")
            lines += [f"  {x}" for x in p["yaml"].splitlines()]
        lines.append("Suggested commands:")
        lines += [f"  {c}" for c in p["commands"]]
    return lines


def calibration_lines(c: dict) -> list[str]:
    lines = ["", f"Calibration against {c['log']} (predicted -> actual):"]
    for r in c["rows"]:
        ratio = f"  (x{r['ratio']})" if r.get("ratio") else ""
        lines.append(f"  {r['figure']:<52} {r['predicted']!s:>12} -> {r['actual']!s:<12} {r['unit']}{ratio}")
    if c.get("note"):
        lines.append(f"  Note: {c['note']}")
    return lines


def plan_text(report: Report) -> str:
    lines = plan_lines(report.extra["plan"])
    if "calibration" in report.extra:
        lines += calibration_lines(report.extra["calibration"])
    return "\n".join(lines) + "\n\n"
