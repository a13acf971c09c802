"""`trtllm-doctor check`: facts (live or from a snapshot) + target + KB -> findings."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from doctor.checks import Context, run_checks
from doctor.errors import UsageError
from doctor.facts import Facts, load_snapshot
from doctor.kb import KB, default_kb
from doctor.report import Report
from doctor.target import Target, resolve_release


@dataclass
class CheckOptions:
    snapshot: Path | None = None
    trtllm_version: str | None = None
    python: str | None = None
    workdir: Path | None = None
    engine: Path | None = None
    model: str | None = None
    quant: str | None = None
    kv_cache_dtype: str = "auto"
    tp: int | None = None
    pp: int | None = None
    ep: int | None = None
    backend: str | None = None
    extra_llm_api_options: Path | None = None
    serve: str | None = None  # a whole trtllm-serve command line
    max_seq_len: int | None = None
    max_batch_size: int | None = None
    max_num_tokens: int | None = None
    selftest: bool = False
    timeout: float = 5.0
    config: Path | None = None


def build_target(opts: CheckOptions, facts: Facts, kb: KB) -> Target:
    engine_version = None
    if opts.engine is not None and opts.trtllm_version is None and "tensorrt-llm" not in facts.packages.installed:
        engine_version = _engine_version(opts.engine)
    release, version, source = resolve_release(facts, kb, opts.trtllm_version, engine_version)
    if opts.quant is not None:
        from doctor.target import QUANTS

        if opts.quant not in QUANTS:
            raise UsageError(f"--quant {opts.quant!r}: choose one of {', '.join(QUANTS)}")
    target = Target(
        release=release, release_version=version, release_source=source, quant=opts.quant,
        kv_cache_dtype=opts.kv_cache_dtype, tp=opts.tp or 1, pp=opts.pp or 1, tp_given=opts.tp is not None,
        pp_given=opts.pp is not None, ep=opts.ep, max_seq_len=opts.max_seq_len,
        max_batch_size=opts.max_batch_size, max_num_tokens=opts.max_num_tokens,
        workdir=str(opts.workdir) if opts.workdir else None,
    )
    fraction = getattr(opts, "fraction", None)
    if fraction is not None:
        target.fraction = fraction
    _load_llm_options(opts, target)
    _load_model_and_engine(opts, target, kb)
    _pick_backend(opts, target)
    return target


def _engine_version(path: Path) -> str | None:
    """The TensorRT-LLM version that built an engine (config.json 'version'), when readable."""
    from doctor.engine import EngineConfigError, load_engine

    try:
        return load_engine(path).version
    except (EngineConfigError, UsageError):
        return None


def _pick_backend(opts: CheckOptions, target: Target) -> None:
    """--backend, else the engine's (an --engine target is the TensorRT backend), else the LLM API options'
    ``backend``, else the release's default (rules/releases.toml backends)."""
    from doctor.target import BACKENDS, default_backend

    asked = opts.backend
    if asked is not None:
        asked = {"trt": "tensorrt", "engine": "tensorrt", "torch": "pytorch"}.get(asked, asked)
        if asked not in BACKENDS:
            raise UsageError(f"--backend {opts.backend!r}: choose pytorch or tensorrt")
        target.backend, target.backend_source = asked, "asked"
    elif target.engine is not None:
        target.backend, target.backend_source = "tensorrt", "engine"
    elif target.llm_options and target.llm_options.get("backend") in ("tensorrt", "trt"):
        target.backend, target.backend_source = "tensorrt", "options"
    else:
        b = default_backend(target.release)
        target.backend, target.backend_source = ("tensorrt" if b == "tensorrt" else "pytorch"), "release"


def parse_serve_command(text: str) -> tuple[str | None, dict, str | None]:
    """``trtllm-serve [serve] MODEL --flag value ...`` -> (model, flags, extra options file).

    The program name and the ``serve`` subcommand are optional; ``--flag=value`` and ``--flag value``
    both work; a flag followed by another flag (or nothing) is a switch (True)."""
    import shlex

    try:
        words = shlex.split(text)
    except ValueError as exc:
        raise UsageError(f"--serve: cannot split the command line ({exc})") from None
    if words and words[0].rsplit("/", 1)[-1] in ("trtllm-serve", "trtllm-llmapi-launch"):
        words = words[1:]
    if words and words[0] == "trtllm-serve":
        words = words[1:]
    if words and words[0] == "serve":
        words = words[1:]
    model = None
    flags: dict = {}
    i = 0
    while i < len(words):
        w = words[i]
        if w.startswith("--"):
            name, eq, value = w[2:].partition("=")
            if not name:
                raise UsageError(f"--serve: a bare '--' in {text!r}")
            if not eq:
                if i + 1 < len(words) and not words[i + 1].startswith("--"):
                    value = words[i + 1]
                    i += 1
                else:
                    value = True
            flags[name] = value
        elif model is None:
            model = w
        else:
            raise UsageError(f"--serve: unexpected argument {w!r} (trtllm-serve takes one model)")
        i += 1
    extra = flags.pop("extra_llm_api_options", None) or flags.pop("config", None)
    if extra is True:
        raise UsageError("--serve: --extra_llm_api_options needs a file")
    return model, flags, extra


def _load_llm_options(opts: CheckOptions, target: Target) -> None:
    """--extra-llm-api-options YAML and --serve flags -> Target.llm_options and the memory settings.

    trtllm-serve applies the YAML over its flags (``update_llm_args_with_extra_dict``), so the YAML
    wins; the doctor's own flags (--tp, --max-seq-len...) win over both."""
    path = opts.extra_llm_api_options
    if not opts.serve and path is None:
        return
    from doctor import llmargs

    options: dict = {}
    if opts.serve:
        model, flags, extra = parse_serve_command(opts.serve)
        if model and not opts.model:
            opts.model = model
        options.update(llmargs.options_from_serve_flags(flags))
        if extra and path is None:
            path = Path(extra)
    if path is not None:
        data = llmargs.load_yaml(path)
        for k, v in data.items():
            if isinstance(v, dict) and isinstance(options.get(k), dict):
                options[k] = {**options[k], **v}
            else:
                options[k] = v
        target.llm_options_path = str(path)
    if not options and path is None:
        return
    target.llm_options = options
    mem = llmargs.memory_settings(options)
    if opts.tp is None and mem.get("tp"):
        target.tp, target.tp_given = mem["tp"], True
    if opts.pp is None and mem.get("pp"):
        target.pp, target.pp_given = mem["pp"], True
    if opts.ep is None and mem.get("ep"):
        target.ep = mem["ep"]
    for name in ("max_seq_len", "max_batch_size", "max_num_tokens"):
        if getattr(opts, name) is None and mem.get(name):
            setattr(target, name, mem[name])
    if mem.get("free_gpu_memory_fraction") is not None and getattr(opts, "fraction", None) is None:
        f = mem["free_gpu_memory_fraction"]
        if 0 < f < 1:
            target.fraction = f
    dtype = mem.get("kv_cache_dtype")
    if opts.kv_cache_dtype == "auto" and isinstance(dtype, str) and dtype.lower() in ("fp8", "nvfp4", "bf16", "fp16"):
        target.kv_cache_dtype = dtype.lower()
    for name in ("tokens_per_block", "max_tokens", "max_gpu_total_bytes"):
        if mem.get(name):
            setattr(target, name, mem[name])
    target.attention_dp = bool(mem.get("enable_attention_dp"))
    spec = options.get("speculative_config")
    if isinstance(spec, dict) and str(spec.get("decoding_type", "")).upper() == "MTP":
        target.mtp = True


def _load_model_and_engine(opts: CheckOptions, target: Target, kb: KB) -> None:
    """--model / --engine -> Target.model (sizing.ModelSpec) / Target.engine (engine.EngineInfo).

    A bad config is a usage error naming the file and the field."""
    from doctor.target import KV_DTYPES

    if target.kv_cache_dtype not in KV_DTYPES:
        raise UsageError(f"--kv-cache-dtype {target.kv_cache_dtype!r}: choose one of {', '.join(KV_DTYPES)}")
    if opts.model:
        from doctor.models import ModelConfigError, resolve_model

        try:
            target.model = resolve_model(opts.model, kb)
        except ModelConfigError as exc:
            raise UsageError(str(exc)) from None
    if opts.engine is not None:
        from doctor.engine import EngineConfigError, load_engine

        try:
            target.engine = load_engine(opts.engine)
        except EngineConfigError as exc:
            raise UsageError(str(exc)) from None


def gather_facts(opts: CheckOptions) -> Facts:
    if opts.snapshot is not None:
        return load_snapshot(opts.snapshot)
    from doctor.probes import collect

    workdir = str(opts.workdir) if opts.workdir else None
    prefetch = getattr(opts, "prefetch", None)  # started by the CLI before the imports (doctor.probes.Prefetch)
    facts = prefetch.facts(opts.python, workdir, opts.timeout) if prefetch is not None else None
    return facts if facts is not None else collect(python=opts.python, workdir=workdir, timeout=opts.timeout)


def run_check(opts: CheckOptions, kb: KB | None = None) -> Report:
    kb = kb or default_kb()
    if opts.selftest and opts.snapshot is not None:
        raise UsageError("--selftest runs the GPUs of this machine; it cannot be combined with --snapshot")
    facts = gather_facts(opts)
    target = build_target(opts, facts, kb)
    findings, results = run_checks(Context(facts, target, kb))
    report = Report("check", findings, facts.to_dict(), results, target.to_dict())
    if opts.selftest:
        from doctor.commands.selftest import SelftestOptions, fold_into

        fold_into(report, kb, SelftestOptions(python=opts.python))
    return report
