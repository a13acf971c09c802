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
    tp: int = 1
    pp: int = 1
    max_seq_len: int | None = None
    max_batch_size: int | None = None
    max_num_tokens: int | None = None
    selftest: bool = False
    timeout: float = 5.0
    config: Path | None = None


def build_target(opts: CheckOptions, facts: Facts, kb: KB) -> Target:
    release, version, source = resolve_release(facts, kb, opts.trtllm_version)
    if opts.quant is not None:
        from doctor.target import QUANTS

        if opts.quant not in QUANTS:
            raise UsageError(f"--quant {opts.quant!r}: choose one of {', '.join(QUANTS)}")
    target = Target(
        release=release, release_version=version, release_source=source, quant=opts.quant,
        kv_cache_dtype=opts.kv_cache_dtype, tp=opts.tp, pp=opts.pp, max_seq_len=opts.max_seq_len,
        max_batch_size=opts.max_batch_size, max_num_tokens=opts.max_num_tokens,
        workdir=str(opts.workdir) if opts.workdir else None,
    )
    _load_model_and_engine(opts, target, kb)
    return target


def _load_model_and_engine(opts: CheckOptions, target: Target, kb: KB) -> None:
    """--model / --engine -> Target.model (sizing.ModelSpec) / Target.engine (engine.EngineInfo).

    A bad config is a usage error naming the file and the field."""
    from doctor.target import KV_DTYPES

    if opts.kv_cache_dtype not in KV_DTYPES:
        raise UsageError(f"--kv-cache-dtype {opts.kv_cache_dtype!r}: choose one of {', '.join(KV_DTYPES)}")
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

    return collect(python=opts.python, workdir=str(opts.workdir) if opts.workdir else None, timeout=opts.timeout)


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
