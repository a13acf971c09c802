"""Engine checks (``check --engine DIR``): will this engine load and run here?

Engines are tied to one TensorRT-LLM/TensorRT version and one GPU architecture; their
tp x pp must match the GPUs; FP8/FP4 fields need the matching tensor cores; weights +
activations + KV for max_batch_size x max_seq_len must fit; LoRA and speculative
decoding fields must be consistent (shared/engine-format.md §3-6).
"""

from __future__ import annotations

import re

from packaging.version import InvalidVersion, Version

from doctor.checks import Context, Fail, Skip, check, lazy_module
from doctor.checks.gpu import lacking, precision_sms, sm_of, visible
from doctor.checks.model import gib, gpu_free_bytes, rank_gpus
from doctor.report import Severity

sizing = lazy_module("doctor.sizing")



def _engine(ctx: Context):
    return ctx.target.engine


def _runtime_version(ctx: Context) -> tuple[str | None, str]:
    """The TensorRT-LLM that will load the engine: the installed one, else the one asked with --trtllm-version."""
    installed = ctx.facts.packages.installed.get("tensorrt-llm")
    if installed:
        return installed, "installed"
    if ctx.target.release_source == "asked":
        return ctx.target.release_version, "asked"
    return None, ""


@check("ENG001", "engine-rank-files-missing", area="engine", cause="engine-config-invalid",
       title="The engine directory does not hold one engine file per rank")
def rank_files(ctx: Context):
    """trtllm-build writes rank0.engine ... rank{N-1}.engine with N = tp x pp x cp (old build.py:
    <name>_<precision>_tp<tp>_rank<r>.engine); a missing or extra file means a copy went wrong."""
    e = _engine(ctx)
    if e is None:
        return Skip("no --engine given")
    if e.path == e.config_path:
        return Skip("a config.json was given, not an engine directory")
    n = e.expected_ranks
    found = sorted(int(re.search(r"rank(\d+)\.engine$", name).group(1)) for name, _ in e.rank_files)
    missing = [r for r in range(n) if r not in found]
    extra = [r for r in found if r >= n]
    if not missing and not extra:
        empty = [name for name, size in e.rank_files if size == 0]
        if empty:
            return Fail(f"{', '.join(empty)} empty", "non-empty engine files", {"problem": f"{empty[0]} is empty"})
        return None
    name = "rank{r}.engine" if e.layout == "new" else "*_rank{r}.engine"
    bits = []
    if missing:
        bits.append("missing " + ", ".join(name.format(r=r) for r in missing[:4]) + (" ..." if len(missing) > 4 else ""))
    if extra:
        bits.append("unexpected " + ", ".join(name.format(r=r) for r in extra[:4]))
    return Fail(f"{e.path}: tp={e.tp} x pp={e.pp} x cp={e.cp} = {n} ranks; {'; '.join(bits)}",
                f"{n} engine file(s)", {"problem": "; ".join(bits)})


@check("ENG002", "engine-version-mismatch", area="engine", cause="engine-version-mismatch",
       title="Engine built by another TensorRT-LLM version")
def version(ctx: Context):
    """Engines (and the plugins inside them) load only in the TensorRT-LLM / TensorRT release that built them:
    the engine's config.json 'version' must equal the installed tensorrt_llm.__version__."""
    e = _engine(ctx)
    if e is None:
        return Skip("no --engine given")
    runtime, how = _runtime_version(ctx)
    if runtime is None:
        return Skip("tensorrt-llm is not installed here; pass --trtllm-version to compare")
    params = {"runtime_version": runtime, "engine_version": e.version}
    if e.version is None:
        return Fail(f"{e.path}: built by the old build.py flow (no 'version' in config.json, TensorRT-LLM <= 0.8); "
                    f"runtime is tensorrt-llm {runtime} ({how})", f"an engine built by tensorrt-llm {runtime}", params)
    try:
        same = Version(e.version) == Version(runtime)
    except InvalidVersion:
        same = e.version == runtime
    if same:
        return None
    return Fail(f"engine version {e.version}, tensorrt-llm {runtime} ({how})", f"engine built by {runtime}", params)


def _tokens(name: str) -> set[str]:
    t = re.sub(r"[^a-z0-9]+", " ", name.lower()).split()
    generic = {"nvidia", "geforce", "tesla", "sxm", "sxm2", "sxm4", "sxm5", "sxm6", "pcie", "nvl", "hbm3", "hbm3e",
               "generation", "edition", "gb"}
    return {x for x in t if x not in generic and not re.fullmatch(r"\d+gb", x)}


@check("ENG003", "engine-gpu-mismatch", area="engine", cause="engine-gpu-mismatch",
       title="Engine built on another GPU model")
def gpu_model(ctx: Context):
    """An engine plan is compiled for one GPU (SM). trtllm-build records the build GPU as
    build_config.auto_parallel_config.cluster_key (e.g. "L4", "A100-SXM-80GB", "NVIDIA-RTX-A6000"), the only
    trace in config.json; it is compared with the GPUs here by model name."""
    e = _engine(ctx)
    if e is None:
        return Skip("no --engine given")
    if not e.cluster_key:
        return Skip("the engine's config.json does not record its build GPU (no auto_parallel_config.cluster_key)")
    gpus = rank_gpus(ctx, e.expected_ranks)
    if not gpus:
        return Skip("no GPU visible")
    want = _tokens(e.cluster_key)
    fails = []
    for g in gpus:
        if want and not want <= _tokens(g.name):
            built = ctx.kb.gpu(e.cluster_key.replace("-", " ")) if ctx.kb else None
            fails.append(Fail(f"engine built on {e.cluster_key!r}; GPU {g.index} is {g.name} (SM {sm_of(g)})",
                              f"a {e.cluster_key} GPU, or an engine rebuilt on {g.name}",
                              {"engine_sm": built.sm if built else None, "gpu_sm": sm_of(g)}))
    return fails[:1]


@check("ENG004", "engine-world-size-mismatch", area="engine", cause="parallelism-mismatch",
       title="The engine needs more GPUs than are visible")
def world(ctx: Context):
    """The runtime needs one GPU and one MPI rank per engine rank: tp x pp x cp of the engine."""
    e = _engine(ctx)
    if e is None:
        return Skip("no --engine given")
    n = len(visible(ctx))
    if n == 0:
        return Skip("no GPU visible")
    if e.expected_ranks > n:
        return Fail(f"engine tp={e.tp} x pp={e.pp}" + (f" x cp={e.cp}" if e.cp > 1 else "") +
                    f" = {e.expected_ranks} ranks; {n} GPU(s) visible", f"{e.expected_ranks} GPUs",
                    {"world_size": e.expected_ranks, "gpus": n})
    return None


def _precision(ctx: Context, kind: str, label: str):
    """The engine's FP8/FP4 features ("fp8"/"fp4") against the GPUs its ranks would run on."""
    e = _engine(ctx)
    if e is None:
        return Skip("no --engine given")
    reasons = getattr(e, f"{kind}_reasons")()
    if not reasons:
        return None
    return lacking(rank_gpus(ctx, e.expected_ranks), precision_sms(ctx, kind), label, f"{kind}-unsupported",
                   why=f"engine uses {', '.join(reasons)}; ")


@check("ENG005", "engine-fp8-unsupported", area="engine", cause="fp8-unsupported",
       title="Engine uses FP8 on a GPU without FP8")
def fp8(ctx: Context):
    """FP8 weights (quant_algo FP8*), an FP8 KV cache, use_fp8_context_fmha or an fp8 gemm_plugin need SM 8.9+."""
    return _precision(ctx, "fp8", "FP8")


@check("ENG006", "engine-fp4-unsupported", area="engine", cause="fp4-unsupported",
       title="Engine uses NVFP4 on a GPU without FP4")
def fp4(ctx: Context):
    """NVFP4 / MXFP4 weights or an NVFP4 KV cache need Blackwell tensor cores."""
    return _precision(ctx, "fp4", "FP4")


def engine_fit(ctx: Context) -> tuple[sizing.Fit, str] | Skip:
    e = _engine(ctx)
    spec = e.model_spec()
    if spec is None:
        return Skip("the engine config does not give the model shape")
    gpus = [g for g in rank_gpus(ctx, e.expected_ranks) if gpu_free_bytes(g) is not None]
    if not gpus:
        return Skip("GPU memory unknown")
    g = min(gpus, key=lambda x: gpu_free_bytes(x) or 0)
    weights = e.engine_bytes_per_rank
    source = "rank engine file"
    fmt = e.weight_format
    if not weights:
        if fmt is None:
            return Skip(f"quant_algo {e.quant_algo} has no size rule and no engine file is present")
        weights = sizing.weights_per_gpu(spec, fmt, e.tp, e.pp, e.group_size).total
        source = f"estimated ({fmt})"
    kv = e.kv_dtype
    f = sizing.fit(spec, gpu_free_bytes(g) or 0, quant=fmt, kv_cache_dtype=kv, tp=e.tp, pp=e.pp,
                   max_seq_len=e.max_seq_len or spec.max_position_embeddings or 2048,
                   max_batch_size=e.max_batch_size or 1, max_num_tokens=e.max_num_tokens,
                   weights_bytes=weights,
                   tokens_per_block=int(e.plugin.get("tokens_per_block") or sizing.DEFAULT_TOKENS_PER_BLOCK))
    return f, f"{g.name} ({source} weights)"


@check("ENG007", "engine-does-not-fit", area="engine", cause="runtime-oom",
       title="The engine's weights and activations do not fit in GPU memory")
def memory(ctx: Context):
    """Weights (the size of the largest rank*.engine, else estimated from the shape), activations for
    max_num_tokens and the runtime's own memory must fit in free GPU memory, with room for at least one
    max_seq_len sequence of KV cache."""
    e = _engine(ctx)
    if e is None:
        return Skip("no --engine given")
    res = engine_fit(ctx)
    if isinstance(res, Skip):
        return res
    f, where = res
    if f.weights_fit and f.max_batch_size_fit >= 1:
        return None
    return Fail(f"weights {gib(f.weights_bytes)} + activations {gib(f.activation_bytes)} + runtime "
                f"{gib(f.overhead_bytes)} per GPU, plus one {f.max_seq_len}-token sequence of KV; "
                f"{gib(f.gpu_free_bytes)} free on {where}", "all of it within free GPU memory")


@check("ENG008", "engine-kv-cache-too-small", area="engine", cause="kv-cache-too-small",
       title="The KV cache holds fewer full-length sequences than max_batch_size", severity=Severity.INFO)
def kv(ctx: Context):
    """kv_cache_free_gpu_mem_fraction (0.9) of what is left after weights and activations holds the paged KV cache.
    max_batch_size x max_seq_len is an upper bound: with paged KV and in-flight batching most requests are shorter,
    so this is information (how many full-length sequences and tokens fit), not a failure."""
    e = _engine(ctx)
    if e is None:
        return Skip("no --engine given")
    res = engine_fit(ctx)
    if isinstance(res, Skip):
        return res
    f, where = res
    if not f.weights_fit or f.max_batch_size_fit < 1:
        return Skip("the engine does not fit (ENG007)")
    if f.kv_fits:
        return None
    tokens = f.kv_available_bytes // f.kv_bytes_per_token if f.kv_bytes_per_token else 0
    return Fail(f"the KV cache holds {f.max_batch_size_fit} full-length sequence(s) ({tokens} tokens, "
                f"{gib(f.kv_available_bytes)} on {where}); max_batch_size {f.max_batch_size} x max_seq_len {f.max_seq_len} "
                f"would need {gib(f.kv_needed_bytes)} of {f.extra['kv_cache_dtype']} KV cache",
                f"<= {f.max_batch_size_fit} full-length sequences at once",
                {"needed": gib(f.kv_needed_bytes), "available": gib(f.kv_available_bytes)})


@check("ENG009", "engine-build-flags", area="engine", cause="engine-build-flags",
       title="Engine build flags contradict each other or switch runtime features off", severity=Severity.WARNING,
       severity_when="an error when remove_input_padding is set without max_num_tokens")
def flags(ctx: Context):
    """use_fp8_context_fmha without FP8; remove_input_padding without max_num_tokens ("Padding removal requires
    max_num_tokens to be set."); no gpt_attention_plugin or paged KV cache (no in-flight batching)."""
    e = _engine(ctx)
    if e is None:
        return Skip("no --engine given")
    if e.layout == "old":
        return Skip("old build.py layout (plugin flags differ)")
    p, out = e.plugin, []
    if p.get("use_fp8_context_fmha") is True and e.weight_format != "fp8" and e.kv_dtype != "fp8":
        out.append(Fail("use_fp8_context_fmha is on, but neither the weights nor the KV cache are FP8",
                        "an FP8 checkpoint or FP8 KV cache", {"flags": "--use_fp8_context_fmha"}))
    if p.get("remove_input_padding") is True and e.max_num_tokens is None:
        out.append(Fail("remove_input_padding is on but build_config.max_num_tokens is null", "max_num_tokens set",
                        {"flags": "--max_num_tokens"}, severity=Severity.ERROR))
    if not p.get("gpt_attention_plugin") or p.get("paged_kv_cache") is False:
        out.append(Fail(f"gpt_attention_plugin={p.get('gpt_attention_plugin')!r}, paged_kv_cache={p.get('paged_kv_cache')!r}",
                        "gpt_attention_plugin set and paged_kv_cache on (in-flight batching)",
                        {"flags": "--gpt_attention_plugin auto --paged_kv_cache enable"}))
    return out


@check("ENG010", "engine-lora-inconsistent", area="engine", cause="engine-build-flags",
       title="LoRA settings are incomplete", severity=Severity.WARNING)
def lora(ctx: Context):
    """Serving LoRA adapters needs lora_plugin plus lora_config.lora_target_modules and max_lora_rank > 0; target
    modules without the plugin are ignored (the runtime turns LoRA off with a warning)."""
    e = _engine(ctx)
    if e is None:
        return Skip("no --engine given")
    plugin = e.plugin.get("lora_plugin")
    modules = e.lora.get("lora_target_modules") or []
    rank = e.lora.get("max_lora_rank") or 0
    if plugin and (not modules or not rank):
        return Fail(f"lora_plugin={plugin!r} but lora_target_modules={modules!r}, max_lora_rank={rank}",
                    "target modules and max_lora_rank > 0", {"flags": "--lora_target_modules ... --max_lora_rank N"})
    if modules and not plugin:
        return Fail(f"lora_target_modules={modules!r} but lora_plugin is not set", "lora_plugin set",
                    {"flags": "--lora_plugin auto"})
    return None


@check("ENG011", "engine-speculative-inconsistent", area="engine", cause="engine-build-flags",
       title="Speculative-decoding settings are inconsistent",
       severity_when="a warning when max_draft_len is set without speculative decoding")
def speculative(ctx: Context):
    """A speculative_decoding_mode other than NONE needs max_draft_len > 0 (and Medusa num_medusa_heads, EAGLE
    num_eagle_layers); a draft length without a mode is unused."""
    e = _engine(ctx)
    if e is None:
        return Skip("no --engine given")
    mode = e.speculative_mode
    out = []
    if mode != 1:
        if e.max_draft_len <= 0:
            out.append(Fail(f"speculative_decoding_mode {e.speculative_mode_name} with max_draft_len {e.max_draft_len}",
                            "max_draft_len > 0", {"flags": "--max_draft_len N"}))
        if mode & 4 and not e.num_medusa_heads:
            out.append(Fail("Medusa mode without pretrained_config.num_medusa_heads", "num_medusa_heads > 0",
                            {"flags": "--num_medusa_heads N"}))
        if mode & 32 and not e.num_eagle_layers:
            out.append(Fail("EAGLE mode without pretrained_config.num_eagle_layers", "num_eagle_layers > 0",
                            {"flags": "an EAGLE checkpoint"}))
    elif e.max_draft_len > 0:
        out.append(Fail(f"max_draft_len {e.max_draft_len} without a speculative_decoding_mode",
                        "a speculative mode, or max_draft_len 0", {"flags": "--speculative_decoding_mode"},
                        severity=Severity.WARNING))
    return out
