"""GPU checks: visibility, architecture, precision support, memory, MIG, mixed models, busy GPUs."""

from __future__ import annotations

from doctor.checks import Context, Fail, Skip, check
from doctor.facts import GPUFacts
from doctor.report import Severity

MIN_VRAM_GIB = 12  # the guide: "VRAM 12 GB (8B BF16)" minimum
BUSY_FRACTION = 0.05  # memory in use above this share of the card, with no process listed, is worth a word


def sm_of(g: GPUFacts) -> int | None:
    if not g.cc:
        return None
    major, _, minor = g.cc.partition(".")
    try:
        return int(major) * 10 + int(minor or 0)
    except ValueError:
        return None


def visible(ctx: Context) -> list[GPUFacts]:
    """The GPUs CUDA will use: NVML lists all of them, CUDA_VISIBLE_DEVICES filters by index or UUID."""
    gpus = ctx.facts.gpus.gpus
    cvd = ctx.facts.gpus.cuda_visible_devices
    if cvd is None:
        return gpus
    picked = []
    for item in (x.strip() for x in cvd.split(",")):
        if not item:
            continue
        if item.isdigit():
            if int(item) >= len(gpus):
                break  # CUDA stops at the first invalid entry
            picked.append(gpus[int(item)])
        else:
            match = [g for g in gpus if g.uuid and g.uuid.startswith(item)]
            if not match:
                break
            picked.append(match[0])
    return picked


@check("GPU001", "no-gpu-visible", area="gpu", cause="gpu-not-visible", title="No NVIDIA GPU visible")
def gpu_visible(ctx: Context):
    """TensorRT-LLM needs at least one CUDA GPU visible to the process: not hidden by CUDA_VISIBLE_DEVICES,
    and passed into the container (--gpus all)."""
    f = ctx.facts
    if f.platform.system not in (None, "Linux"):
        return Skip("not Linux")
    cvd = f.gpus.cuda_visible_devices
    params = {"cuda_visible_devices": cvd}
    if f.gpus.gpus:
        if not visible(ctx):
            return Fail(f"{len(f.gpus.gpus)} GPU(s) present but CUDA_VISIBLE_DEVICES={cvd!r} hides all of them",
                        "CUDA_VISIBLE_DEVICES unset or naming existing GPUs", params)
        return None
    where = f"in a {f.platform.container} container" if f.platform.container else "on this host"
    reason = f.gpus.error or "NVML lists no GPU"
    return Fail(f"{reason} ({where})", "at least one GPU listed by nvidia-smi -L", params)


@check("GPU002", "gpu-arch-unsupported", area="gpu", cause="gpu-sm-not-in-release",
       title="GPU architecture not supported by the target release")
def gpu_arch(ctx: Context):
    """Each release builds kernels for a set of compute capabilities (rules/releases.toml sm: Volta SM70 up to
    0.14, Turing SM75 up to 0.13, Blackwell from 0.17); the finding names the last release that has this SM."""
    rel = ctx.target.release
    gpus = visible(ctx)
    if not gpus:
        return Skip("no GPU visible")
    if rel is None:
        return Skip("target release not in the knowledge base")
    fails = []
    for g in gpus:
        sm = sm_of(g)
        if sm is None:
            continue
        if sm not in rel.sm:
            last = [r for r in ctx.kb.releases if sm in r.sm and not r.prerelease]
            params = {"release": rel.version, "gpu_sm": sm, "supported": ", ".join(map(str, rel.sm)), "gpu": g.name,
                      "last_release": last[-1].version if last else None,
                      "last_install": (last[-1].install[-1] if last and last[-1].install else
                                       f"pip3 install tensorrt_llm=={last[-1].version}" if last else None)}
            fails.append(Fail(f"GPU {g.index} {g.name}: compute capability {g.cc} (SM {sm})",
                              f"SM in {', '.join(map(str, rel.sm))} for TensorRT-LLM {rel.version}"
                              + (f"; the last release with SM {sm} is {last[-1].version}" if last else
                                 f"; no release in the knowledge base supports SM {sm}"), params))
    return fails


# Used when the target release does not list its FP8/FP4 architectures.
FP8_SMS = [89, 90, 100, 103, 120, 121]
FP4_SMS = [100, 103, 120, 121]


def precision_sms(ctx: Context, kind: str) -> list[int]:
    """The SMs with FP8 ("fp8") or NVFP4 ("fp4") tensor cores for the target release."""
    listed = getattr(ctx.target.release, f"{kind}_sm", None) if ctx.target.release else None
    return list(listed) if listed else (FP8_SMS if kind == "fp8" else FP4_SMS)


def lacking(gpus: list[GPUFacts], sms: list[int], label: str, cause: str, why: str = "") -> list[Fail]:
    """One failure per GPU whose SM is not among ``sms`` (shared by the target and the engine checks)."""
    fails = []
    for g in gpus:
        sm = sm_of(g)
        if sm is not None and sm not in sms:
            fails.append(Fail(f"{why}GPU {g.index} {g.name}: SM {sm}", f"{label} tensor cores (SM {', '.join(map(str, sms))})",
                              {"gpu": g.name, "gpu_sm": sm}, cause=cause))
    return fails


@check("GPU003", "fp8-unsupported", area="gpu", cause="fp8-unsupported", title="FP8 asked for on a GPU without FP8")
def fp8(ctx: Context):
    """FP8 (E4M3) GEMMs and FP8 KV cache need Ada (SM89), Hopper (SM90) or Blackwell."""
    t = ctx.target
    if t.quant != "fp8" and t.kv_cache_dtype != "fp8":
        return Skip("FP8 not asked for (--quant / --kv-cache-dtype)")
    if not visible(ctx):
        return Skip("no GPU visible")
    return lacking(visible(ctx), precision_sms(ctx, "fp8"), "FP8", "fp8-unsupported")


@check("GPU004", "fp4-unsupported", area="gpu", cause="fp4-unsupported", title="NVFP4 asked for on a GPU without FP4")
def fp4(ctx: Context):
    """NVFP4 needs Blackwell tensor cores (SM100, SM103, SM120, SM121)."""
    if ctx.target.quant != "nvfp4":
        return Skip("NVFP4 not asked for (--quant)")
    if not visible(ctx):
        return Skip("no GPU visible")
    return lacking(visible(ctx), precision_sms(ctx, "fp4"), "NVFP4", "fp4-unsupported")


@check("GPU005", "vram-too-small", area="gpu", cause="vram-too-small", title="GPU memory below the minimum")
def vram(ctx: Context):
    """The guide's minimum is 12 GB of GPU memory (an 8B model in BF16); 24 GB+ is recommended."""
    if not visible(ctx):
        return Skip("no GPU visible")
    fails = []
    for g in visible(ctx):
        if g.memory_total_mib is not None and g.memory_total_mib < MIN_VRAM_GIB * 1000:  # "12 GB" cards report ~11.5-12 GiB
            gib = round(g.memory_total_mib / 1024, 1)
            fails.append(Fail(f"GPU {g.index} {g.name}: {gib} GiB", f">= {MIN_VRAM_GIB} GB", {"memory_gib": gib}))
    return fails


@check("GPU006", "mixed-gpus", area="gpu", cause="mixed-gpus", title="Different GPU models in one host",
       severity=Severity.WARNING)
def mixed(ctx: Context):
    """Engines are built for one GPU model; tensor parallelism over mixed GPUs runs at the slowest one's pace."""
    if not visible(ctx):
        return Skip("no GPU visible")
    gpus = visible(ctx)
    names = sorted({g.name for g in gpus})
    if len(names) < 2:
        return None
    by_name: dict[str, list[int]] = {}
    for g in gpus:
        by_name.setdefault(g.name, []).append(g.index)
    largest = max(by_name.values(), key=len)
    summary = "; ".join(f"{n}: GPU {','.join(map(str, idx))}" for n, idx in by_name.items())
    return Fail(summary, "one GPU model per job", {"same_model_indices": ",".join(map(str, largest))})


@check("GPU007", "mig-enabled", area="gpu", cause="mig-enabled", title="MIG is enabled", severity=Severity.WARNING)
def mig(ctx: Context):
    """With MIG on, TensorRT-LLM sees a slice: its memory and SMs, and no NCCL across slices."""
    if not visible(ctx):
        return Skip("no GPU visible")
    return [Fail(f"GPU {g.index} {g.name}: MIG mode enabled", "MIG disabled, or an engine sized for the slice", {"index": g.index})
            for g in visible(ctx) if g.mig_enabled]


@check("GPU008", "gpu-memory-in-use", area="gpu", cause="gpu-memory-in-use", title="GPU memory already in use",
       severity=Severity.WARNING)
def busy(ctx: Context):
    """Another process holding GPU memory shrinks what the KV cache gets (0.9 of the *free* memory)."""
    if not visible(ctx):
        return Skip("no GPU visible")
    fails = []
    for g in visible(ctx):
        if g.memory_used_mib is None or not g.memory_total_mib:
            continue
        share = g.memory_used_mib / g.memory_total_mib
        if (g.processes or 0) > 0 or share > BUSY_FRACTION:
            who = f"{g.processes} process(es)" if g.processes else "no process listed (another container?)"
            fails.append(Fail(f"GPU {g.index} {g.name}: {g.memory_used_mib} MiB of {g.memory_total_mib} MiB used, {who}",
                              f"a free GPU (under {BUSY_FRACTION:.0%} used)", {"index": g.index}))
    return fails


@check("GPU009", "exclusive-and-busy", area="gpu", cause="gpu-busy-or-unavailable",
       title="GPU in exclusive-process mode and already taken")
def exclusive(ctx: Context):
    """In Exclusive_Process mode a second process cannot create a context on a GPU already in use."""
    if not visible(ctx):
        return Skip("no GPU visible")
    return [Fail(f"GPU {g.index} {g.name}: compute mode {g.compute_mode}, {g.processes} process(es)", "compute mode Default, or a free GPU",
                 {"index": g.index})
            for g in visible(ctx) if g.compute_mode == "Exclusive_Process" and (g.processes or 0) > 0]


@check("GPU010", "tp-exceeds-gpus", area="gpu", cause="parallelism-mismatch", title="tp x pp exceeds the visible GPUs")
def enough_gpus(ctx: Context):
    """An engine with tp_size x pp_size ranks needs that many GPUs on this node (one rank per GPU)."""
    t = ctx.target
    if t.world_size <= 1:
        return Skip("single-GPU target")
    n = len(visible(ctx))
    if n < t.world_size:
        return Fail(f"{n} visible GPU(s)", f"{t.world_size} (tp {t.tp} x pp {t.pp})", {"world_size": t.world_size, "gpus": n})
    return None
