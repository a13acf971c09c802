"""The command line: parse arguments, call one function per command, map the outcome to an exit code.

Kept thin and cheap to import: each command imports what it needs when it runs.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import List, Optional

import typer

from doctor import __version__, errors

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Checks a machine for NVIDIA TensorRT-LLM before the engine build, and explains its error logs after.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

FormatOpt = typer.Option("human", "--format", "-f", help="human, json, junit, github or markdown.")
OutputOpt = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout.")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Show evidence, expectations and every check.")
StrictOpt = typer.Option(False, "--strict", help="Exit 1 on warnings too.")
ConfigOpt = typer.Option(None, "--config", help="Policy file (default: trtllm-doctor.toml or [tool.trtllm-doctor] found upward).")
# The target flags, shared by `check` and `plan`.
SnapshotOpt = typer.Option(None, "--snapshot", help="Evaluate a saved snapshot instead of this machine.")
ReleaseOpt = typer.Option(None, "--trtllm-version", help="Check for this TensorRT-LLM release (default: installed, else newest known).")
QuantOpt = typer.Option(None, "--quant", help="Re-quantise to bf16, fp16, fp8, int4_awq, int8_sq or nvfp4 (default: the checkpoint's own format).")
KvDtypeOpt = typer.Option("auto", "--kv-cache-dtype", help="auto (the checkpoint's), fp8, nvfp4, int8, bf16 or fp16.")
TpOpt = typer.Option(None, "--tp", min=1, max=4096, help="Tensor-parallel size (default: the smallest that fits).")
PpOpt = typer.Option(None, "--pp", min=1, max=4096, help="Pipeline-parallel size (default: the smallest that fits).")
EpOpt = typer.Option(None, "--ep", min=1, max=4096, help="MoE expert-parallel size (default: tp when the experts split evenly).")
BackendOpt = typer.Option(None, "--backend", help="pytorch (Hugging Face checkpoints, the 1.x default) or tensorrt (engines); default: the release's.")
ModelOpt = typer.Option(None, "--model", help="A Hugging Face model folder or config.json, a hub id in the local HF cache, or a preset (`trtllm-doctor rules models`... see README).")
LlmOptionsOpt = typer.Option(None, "--extra-llm-api-options", help="An LLM API options YAML (trtllm-serve --extra_llm_api_options): validated against the release, its settings planned with.")
ServeOpt = typer.Option(None, "--serve", help="A whole trtllm-serve command line, quoted: its model, flags and options file are the target.")
MaxSeqLenOpt = typer.Option(None, "--max-seq-len", min=1, max=2**31)
MaxBatchOpt = typer.Option(None, "--max-batch-size", min=1, max=2**20)
MaxTokensOpt = typer.Option(None, "--max-num-tokens", min=1, max=2**31)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"trtllm-doctor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """trtllm-doctor."""


def _finish(report, fmt: str, verbose: bool, output: Optional[str], strict: bool, config: Optional[Path]) -> None:
    """Apply the policy, render, and exit with the report's code."""
    from doctor.report import Severity
    from doctor.policy import apply_policy
    from doctor.render import emit

    fail_on = apply_policy(report, config)
    if strict:
        fail_on = Severity.WARNING
    report.extra.setdefault("policy", {})["fail_on"] = fail_on.value
    emit(report, fmt, verbose=verbose, output=output)
    raise typer.Exit(report.exit_code(fail_on))


@app.command()
def check(
    ctx: typer.Context,
    snapshot: Optional[Path] = SnapshotOpt,
    trtllm_version: Optional[str] = ReleaseOpt,
    python: Optional[str] = typer.Option(None, "--python", help="Read the packages of another interpreter (a venv's or a container's python)."),
    workdir: Optional[Path] = typer.Option(None, "--workdir", help="Where engines and checkpoints will be written (disk check)."),
    engine: Optional[Path] = typer.Option(None, "--engine", help="Check an engine directory against this machine."),
    model: Optional[str] = ModelOpt,
    extra_llm_api_options: Optional[Path] = LlmOptionsOpt,
    serve: Optional[str] = ServeOpt,
    backend: Optional[str] = BackendOpt,
    quant: Optional[str] = QuantOpt,
    kv_cache_dtype: str = KvDtypeOpt,
    tp: Optional[int] = TpOpt,
    pp: Optional[int] = PpOpt,
    ep: Optional[int] = EpOpt,
    max_seq_len: Optional[int] = MaxSeqLenOpt,
    max_batch_size: Optional[int] = MaxBatchOpt,
    max_num_tokens: Optional[int] = MaxTokensOpt,
    selftest: bool = typer.Option(False, "--selftest", help="Also run the GPU self-test and fold its results in."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, help="Seconds each probe may take."),
    fmt: str = FormatOpt,
    output: Optional[str] = OutputOpt,
    verbose: bool = VerboseOpt,
    strict: bool = StrictOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Check this machine (or a snapshot) for TensorRT-LLM; every problem comes with its fix."""
    from doctor.commands.check import CheckOptions, run_check

    opts = CheckOptions(
        snapshot=snapshot, trtllm_version=trtllm_version, python=python, workdir=workdir, engine=engine,
        model=model, quant=quant, kv_cache_dtype=kv_cache_dtype, tp=tp, pp=pp, ep=ep, backend=backend,
        extra_llm_api_options=extra_llm_api_options, serve=serve, max_seq_len=max_seq_len,
        max_batch_size=max_batch_size, max_num_tokens=max_num_tokens, selftest=selftest, timeout=timeout,
        config=config,
    )
    from doctor.policy import fill_check_options, resolve, set_on_command_line

    fill_check_options(opts, resolve(config), set_on_command_line(ctx))
    _finish(run_check(opts), fmt, verbose, output, strict, config)


@app.command()
def plan(
    model: Optional[str] = ModelOpt,
    gpu: Optional[List[str]] = typer.Option(None, "--gpu", help="Plan for these GPUs (from the GPU table) instead of this machine: repeat it, or '8xH200'. They are the GPUs available."),
    snapshot: Optional[Path] = SnapshotOpt,
    trtllm_version: Optional[str] = ReleaseOpt,
    extra_llm_api_options: Optional[Path] = LlmOptionsOpt,
    serve: Optional[str] = ServeOpt,
    backend: Optional[str] = BackendOpt,
    quant: Optional[str] = QuantOpt,
    kv_cache_dtype: str = KvDtypeOpt,
    tp: Optional[int] = TpOpt,
    pp: Optional[int] = PpOpt,
    ep: Optional[int] = EpOpt,
    max_seq_len: Optional[int] = MaxSeqLenOpt,
    max_batch_size: Optional[int] = MaxBatchOpt,
    max_num_tokens: Optional[int] = MaxTokensOpt,
    fraction: Optional[float] = typer.Option(None, "--kv-cache-free-gpu-mem-fraction", help="Share of free memory for the KV cache (default: the options file's, else 0.9)."),
    from_log: Optional[Path] = typer.Option(None, "--from-log", help="A TensorRT-LLM start-up log: its KV-cache and memory lines beside the prediction."),
    fmt: str = FormatOpt,
    output: Optional[str] = OutputOpt,
    verbose: bool = VerboseOpt,
    strict: bool = StrictOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """On the GPUs given: the parallelism that fits, memory per GPU, what fits at each length, and the trtllm-serve YAML."""
    from doctor.commands.plan import PlanOptions, plan_text, run_plan

    report = run_plan(PlanOptions(
        model=model, gpu=list(gpu or []), snapshot=snapshot, trtllm_version=trtllm_version, quant=quant,
        kv_cache_dtype=kv_cache_dtype, tp=tp, pp=pp, ep=ep, backend=backend,
        extra_llm_api_options=extra_llm_api_options, serve=serve, max_seq_len=max_seq_len,
        max_batch_size=max_batch_size, max_num_tokens=max_num_tokens, fraction=fraction, from_log=from_log,
    ))
    if fmt == "human" and not output:
        sys.stdout.write(plan_text(report))
    _finish(report, fmt, verbose, output, strict, config)


@app.command()
def explain(
    paths: Optional[List[str]] = typer.Argument(None, metavar="PATH...", help="Log files (.gz too), or - for stdin."),
    fmt: str = FormatOpt,
    output: Optional[str] = OutputOpt,
    verbose: bool = VerboseOpt,
    strict: bool = StrictOpt,
    config: Optional[Path] = ConfigOpt,
    snapshot: Optional[Path] = typer.Option(None, "--snapshot", help="Read the findings against this machine snapshot (GPU memory, SM, GPUs visible...)."),
    here: bool = typer.Option(False, "--here", help="Read the findings against this machine's facts (as `check` collects them)."),
) -> None:
    """Explain failure logs (TensorRT-LLM, PyTorch, NCCL, MPI, pip, Hugging Face, Triton...): the root cause first, its fix."""
    from doctor.commands.explain import run_explain

    facts = None
    if snapshot is not None and here:
        raise errors.UsageError("--snapshot and --here both name a machine: give one")
    if snapshot is not None:
        from doctor.facts import load_snapshot

        facts = load_snapshot(snapshot)
    elif here:
        from doctor.probes import collect

        facts = collect()
    _finish(run_explain(list(paths or []), facts=facts), fmt, verbose, output, strict, config)


@app.command()
def selftest(
    tier: Optional[List[str]] = typer.Option(None, "--tier", "-t", help="Run only these tiers (1-6, ST3, fp8, 1-4); repeatable."),
    gpus: Optional[str] = typer.Option(None, "--gpus", help="GPUs to test: indices or UUIDs like 0,1 (sets CUDA_VISIBLE_DEVICES), or all."),
    timeout: Optional[float] = typer.Option(None, "--timeout", min=0.1, help="Seconds each tier may take (default: per tier, 20-900)."),
    python: Optional[str] = typer.Option(None, "--python", help="Run the tiers under this interpreter (the one with TensorRT-LLM / torch)."),
    fmt: str = FormatOpt,
    output: Optional[str] = OutputOpt,
    verbose: bool = VerboseOpt,
    strict: bool = StrictOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Prove the GPUs with real CUDA work: NVML, contexts, an NVRTC kernel, FP8, NCCL, a tiny TensorRT-LLM engine."""
    from doctor.commands.selftest import SelftestOptions, run_selftest

    opts = SelftestOptions(tiers=list(tier or []), gpus=gpus, timeout=timeout, python=python)
    _finish(run_selftest(opts), fmt, verbose, output, strict, config)


@app.command()
def snapshot(
    output: Optional[str] = typer.Option(None, "--output", "-o", help="Write the snapshot here (default: stdout)."),
    python: Optional[str] = typer.Option(None, "--python", help="Read the packages of another interpreter."),
    workdir: Optional[Path] = typer.Option(None, "--workdir", help="Also measure free disk here."),
    timeout: float = typer.Option(5.0, "--timeout", min=0.1, help="Seconds each probe may take."),
) -> None:
    """Write this machine's facts as JSON (no secrets), for `check --snapshot` elsewhere."""
    from doctor.probes import collect

    facts = collect(python=python, workdir=str(workdir) if workdir else None, timeout=timeout)
    text = facts.to_json() + "\n"
    if output and output != "-":
        try:
            Path(output).write_text(text, encoding="utf-8")
        except OSError as exc:
            raise errors.UsageError(f"cannot write {output}: {exc.strerror}") from None
    else:
        sys.stdout.write(text)


@app.command()
def rules(
    rule_id: Optional[str] = typer.Argument(None, metavar="[ID]", help="A check id/symbol, signature id or cause id to explain."),
    fmt: str = typer.Option("human", "--format", "-f", help="human or json."),
) -> None:
    """List every check, or explain one (like `rustc --explain`)."""
    from doctor.commands.rules import run_rules

    sys.stdout.write(run_rules(rule_id, fmt))


@app.command()
def fleet(
    reports: List[str] = typer.Argument(..., metavar="REPORTS...", help="Snapshot/check JSON files, folders, quoted globs, or - (stdin)."),
    max_age: str = typer.Option("24h", "--max-age", help="Reports older than this are stale (30m, 24h, 7d)."),
    nodes: Optional[str] = typer.Option(None, "--nodes", help="Nodes that must report: a host list like gpu[001-064] or @FILE."),
    run_checks: bool = typer.Option(False, "--check", help="Also run the checks on each snapshot and merge their findings."),
    trtllm_version: Optional[str] = typer.Option(None, "--trtllm-version", help="With --check: the TensorRT-LLM release to check for."),
    fmt: str = FormatOpt,
    output: Optional[str] = OutputOpt,
    verbose: bool = VerboseOpt,
    strict: bool = StrictOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Merge many nodes' reports: a table of nodes, and what differs between them (exit 1 if inconsistent)."""
    from doctor.commands.fleet import FleetOptions, finish, run_fleet

    opts = FleetOptions(reports=reports, max_age=max_age, nodes=nodes, check=run_checks, trtllm_version=trtllm_version)
    raise typer.Exit(finish(run_fleet(opts), fmt, verbose, output, strict, config))


def main() -> None:
    """Console entry point: maps every outcome to the documented exit codes."""
    try:
        code = app(standalone_mode=False)
    except typer.Exit as exc:
        code = exc.exit_code
    except errors.UsageError as exc:
        print(f"trtllm-doctor: error: {exc}", file=sys.stderr)
        sys.exit(errors.USAGE)
    except KeyboardInterrupt:
        print("trtllm-doctor: interrupted", file=sys.stderr)
        sys.exit(errors.INTERRUPTED)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        sys.exit(errors.OK)
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a raw traceback
        if hasattr(exc, "show") and isinstance(getattr(exc, "exit_code", None), int):  # click's usage errors
            exc.show()
            sys.exit(errors.USAGE)
        if isinstance(exc, typer.Abort):
            sys.exit(errors.INTERRUPTED)
        from doctor.kb import KBError

        if isinstance(exc, KBError):
            print(f"trtllm-doctor: broken knowledge base: {exc}", file=sys.stderr)
            sys.exit(errors.INTERNAL)
        _crash(exc)
    sys.exit(code if isinstance(code, int) else errors.OK)


def _crash(exc: BaseException) -> None:
    import tempfile
    import traceback

    fd, path = tempfile.mkstemp(prefix="trtllm-doctor-crash-", suffix=".log")
    with os.fdopen(fd, "w") as fh:
        fh.write(f"trtllm-doctor {__version__}\nargv: {sys.argv}\npython: {sys.version}\n\n")
        fh.write("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    print(
        f"trtllm-doctor: internal error ({type(exc).__name__}: {exc}). This is a bug in trtllm-doctor {__version__}; "
        f"please report it at {errors.ISSUES_URL} with {path}",
        file=sys.stderr,
    )
    sys.exit(errors.INTERNAL)
