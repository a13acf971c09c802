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
    add_completion=True,  # --install-completion / --show-completion (bash, zsh, fish, PowerShell)
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
    help="Checks a machine for NVIDIA TensorRT-LLM before the engine build, and explains its error logs after.",
    context_settings={"help_option_names": ["-h", "--help"]},
)

FormatOpt = typer.Option("human", "--format", "-f", help="human, json, junit, github or markdown.")
OutputOpt = typer.Option(None, "--output", "-o", help="Write the report to this file instead of stdout (- is stdout).")
VerboseOpt = typer.Option(False, "--verbose", "-v", help="Show evidence, expectations and every check.")
StrictOpt = typer.Option(False, "--strict", help="Exit 1 on warnings too.")
ConfigOpt = typer.Option(None, "--config", help="Policy file (default: trtllm-doctor.toml or [tool.trtllm-doctor] found upward).")
# The target flags, shared by `check` and `plan`.
SnapshotOpt = typer.Option(None, "--snapshot", help="Evaluate a saved snapshot instead of this machine.")
ReleaseOpt = typer.Option(None, "--trtllm-version", metavar="VERSION",
                          help="The TensorRT-LLM release to check or plan for (default: installed, else newest known).")
QuantOpt = typer.Option(None, "--quant", show_default="the checkpoint's own format",
                        help="Re-quantise to bf16, fp16, fp8, int4_awq, int8_sq or nvfp4.")
KvDtypeOpt = typer.Option("auto", "--kv-cache-dtype", help="auto (the checkpoint's), fp8, nvfp4, int8, bf16 or fp16.")
TpOpt = typer.Option(None, "--tp", min=1, max=4096, help="Tensor-parallel size (default: the smallest that fits).")
PpOpt = typer.Option(None, "--pp", min=1, max=4096, help="Pipeline-parallel size (default: the smallest that fits).")
EpOpt = typer.Option(None, "--ep", min=1, max=4096, help="MoE expert-parallel size (default: tp when the experts split evenly).")
BackendOpt = typer.Option(None, "--backend", help="pytorch (Hugging Face checkpoints, the 1.x default) or tensorrt (engines); default: the release's.")
ModelOpt = typer.Option(None, "--model", help="A Hugging Face model folder or config.json, a hub id in the local HF cache, or a preset (`trtllm-doctor rules models`... see README).")
LlmOptionsOpt = typer.Option(None, "--extra-llm-api-options", help="An LLM API options YAML (trtllm-serve --extra_llm_api_options): validated against the release, its settings planned with.")
ServeOpt = typer.Option(None, "--serve", help="A whole trtllm-serve command line, quoted: its model, flags and options file are the target.")
MaxSeqLenOpt = typer.Option(None, "--max-seq-len", min=1, max=2**31,
                            help="Longest sequence (prompt + output) in tokens (default: the options file's, else planned).")
MaxBatchOpt = typer.Option(None, "--max-batch-size", min=1, max=2**20,
                           help="Requests in flight at once (default: the options file's, else the largest that fits).")
MaxTokensOpt = typer.Option(None, "--max-num-tokens", min=1, max=2**31,
                            help="Tokens batched into one forward pass (default: the options file's, else the runtime's).")
PythonOpt = typer.Option(None, "--python",
                         help="Read the packages of another interpreter: its path, a command on PATH, or a venv folder.")
TimeoutOpt = typer.Option(5.0, "--timeout", min=0.1, help="Seconds each probe (and a --python interpreter) may take.")


def _examples(*lines: str) -> str:
    """An epilog of examples, kept as written (click's \\b: no rewrapping)."""
    return "\b\nExamples:\n" + "\n".join(f"  {x}" for x in lines)



def _version(value: bool) -> None:
    if value:
        typer.echo(f"trtllm-doctor {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Print the version and exit."),
) -> None:
    """trtllm-doctor."""


def _out(output: Optional[Path]) -> Optional[str]:
    return None if output is None or str(output) == "-" else str(output)


def _finish(report, fmt: str, verbose: bool, output: Optional[Path], strict: bool, config: Optional[Path]) -> None:
    """Apply the policy, render, and exit with the report's code."""
    from doctor.report import Severity
    from doctor.policy import apply_policy
    from doctor.render import emit

    fail_on = apply_policy(report, config)
    if strict:
        fail_on = Severity.WARNING
    report.extra.setdefault("policy", {})["fail_on"] = fail_on.value
    emit(report, fmt, verbose=verbose, output=_out(output))
    raise typer.Exit(report.exit_code(fail_on))


@app.command(
    short_help="Check this machine (or a snapshot) for TensorRT-LLM, with fixes.",
    epilog=_examples(
        "trtllm-doctor check",
        "trtllm-doctor check --engine ./engines/llama-3.1-8b-fp8",
        "trtllm-doctor check --model llama-3.1-70b --quant fp8 --tp 2 --max-seq-len 32768",
        "trtllm-doctor check --python ~/venvs/trtllm -f json -o report.json",
    ),
)
def check(
    ctx: typer.Context,
    snapshot: Optional[Path] = SnapshotOpt,
    trtllm_version: Optional[str] = ReleaseOpt,
    python: Optional[Path] = PythonOpt,
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
    timeout: float = TimeoutOpt,
    fmt: str = FormatOpt,
    output: Optional[Path] = OutputOpt,
    verbose: bool = VerboseOpt,
    strict: bool = StrictOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Check this machine (or a snapshot) for TensorRT-LLM; every problem comes with its fix."""
    prefetch = None
    if snapshot is None and python is None:  # probe while the checks import (a --python is validated first)
        from doctor.probes import Prefetch

        prefetch = Prefetch(None, str(workdir) if workdir else None, timeout)
    from doctor.commands.check import CheckOptions, run_check

    opts = CheckOptions(
        snapshot=snapshot, trtllm_version=trtllm_version, python=_python(python), workdir=workdir, engine=engine,
        model=model, quant=quant, kv_cache_dtype=kv_cache_dtype, tp=tp, pp=pp, ep=ep, backend=backend,
        extra_llm_api_options=extra_llm_api_options, serve=serve, max_seq_len=max_seq_len,
        max_batch_size=max_batch_size, max_num_tokens=max_num_tokens, selftest=selftest, timeout=timeout,
        config=config,
    )
    from doctor.policy import fill_check_options, resolve, set_on_command_line

    fill_check_options(opts, resolve(config), set_on_command_line(ctx))
    opts.prefetch = prefetch
    report = run_check(opts)
    if getattr(opts, "from_policy", None):
        report.extra.setdefault("policy", {})["target"] = opts.from_policy
    _finish(report, fmt, verbose, output, strict, config)


def _python(value: Optional[Path]) -> Optional[str]:
    return None if value is None else str(value)


@app.command(
    short_help="Plan a model on GPUs: parallelism, memory per GPU, commands.",
    epilog=_examples(
        "trtllm-doctor plan --model llama-3.1-8b --gpu L4",
        "trtllm-doctor plan --model llama-3.1-405b --quant fp8 --gpu 8xH100",
        "trtllm-doctor plan --model ./Mixtral-8x7B/config.json --max-seq-len 8192 --gpu H200 -f json",
    ),
)
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
    output: Optional[Path] = OutputOpt,
    verbose: bool = VerboseOpt,
    strict: bool = StrictOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """On the GPUs given: the parallelism that fits, memory per GPU, what fits at each length, and the trtllm-serve YAML."""
    from doctor.commands.plan import PlanOptions, run_plan

    report = run_plan(PlanOptions(
        model=model, gpu=list(gpu or []), snapshot=snapshot, trtllm_version=trtllm_version, quant=quant,
        kv_cache_dtype=kv_cache_dtype, tp=tp, pp=pp, ep=ep, backend=backend,
        extra_llm_api_options=extra_llm_api_options, serve=serve, max_seq_len=max_seq_len,
        max_batch_size=max_batch_size, max_num_tokens=max_num_tokens, fraction=fraction, from_log=from_log,
    ))
    _finish(report, fmt, verbose, output, strict, config)


@app.command(
    short_help="Explain failure logs: the root cause first, with its fix.",
    epilog=_examples(
        "trtllm-doctor explain build.log",
        "kubectl logs pod/llama-0 | trtllm-doctor explain -",
        "trtllm-doctor explain serve.log.gz -f markdown   (secrets redacted)",
    ),
)
def explain(
    paths: Optional[List[str]] = typer.Argument(None, metavar="PATH...", help="Log files (.gz too), or - for stdin."),
    fmt: str = FormatOpt,
    output: Optional[Path] = OutputOpt,
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show every consequence, context line and other match."),
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


@app.command(
    short_help="Prove the GPUs with real CUDA work, tier by tier.",
    epilog=_examples(
        "trtllm-doctor selftest",
        "trtllm-doctor selftest --tier 1-4 --gpus 0,1",
        "trtllm-doctor selftest --tier trtllm --python ~/venvs/trtllm/bin/python",
    ),
)
def selftest(
    tier: Optional[List[str]] = typer.Option(None, "--tier", "-t", help="Run only these tiers (1-6, ST3, fp8, 1-4); repeatable."),
    gpus: Optional[str] = typer.Option(None, "--gpus", help="GPUs to test: indices or UUIDs like 0,1 (sets CUDA_VISIBLE_DEVICES), or all."),
    timeout: Optional[float] = typer.Option(None, "--timeout", min=0.1, help="Seconds each tier may take (default: per tier, 20-900)."),
    python: Optional[Path] = typer.Option(None, "--python", help="Run the tiers under this interpreter (the one with TensorRT-LLM / torch), or a venv folder."),
    fmt: str = FormatOpt,
    output: Optional[Path] = OutputOpt,
    verbose: bool = VerboseOpt,
    strict: bool = StrictOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Prove the GPUs with real CUDA work: NVML, contexts, an NVRTC kernel, FP8, NCCL, a tiny TensorRT-LLM engine."""
    from doctor.commands.selftest import SelftestOptions, run_selftest

    opts = SelftestOptions(tiers=list(tier or []), gpus=gpus, timeout=timeout, python=_python(python))
    _finish(run_selftest(opts), fmt, verbose, output, strict, config)


@app.command(
    short_help="Write this machine's facts as JSON, for check --snapshot.",
    epilog=_examples(
        "trtllm-doctor snapshot -o node1.json",
        "srun --ntasks-per-node=1 bash -c 'trtllm-doctor snapshot -o reports/$(hostname -s).json'",
    ),
)
def snapshot(
    output: Optional[Path] = typer.Option(None, "--output", "-o", help="Write the snapshot here (default: stdout)."),
    python: Optional[Path] = PythonOpt,
    workdir: Optional[Path] = typer.Option(None, "--workdir", help="Also measure free disk here."),
    timeout: float = TimeoutOpt,
) -> None:
    """Write this machine's facts as JSON (secrets redacted), for `check --snapshot` elsewhere."""
    import json

    from doctor.probes import collect
    from doctor.redact import redact_data
    from doctor.render import write_text

    facts = collect(python=_python(python), workdir=str(workdir) if workdir else None, timeout=timeout)
    data = redact_data(facts.to_dict())
    write_text(json.dumps(data, indent=2) + "\n", _out(output), fmt="json",
               rerender_ascii=lambda: json.dumps(data, indent=2, ensure_ascii=True) + "\n")


@app.command(
    short_help="List every check, or explain one (like rustc --explain).",
    epilog=_examples("trtllm-doctor rules", "trtllm-doctor rules DRV002", "trtllm-doctor rules cuda-runtime -f json"),
)
def rules(
    rule_id: Optional[str] = typer.Argument(None, metavar="[ID]", help="A check id/symbol, signature id or cause id to explain."),
    fmt: str = typer.Option("human", "--format", "-f", help="human or json."),
) -> None:
    """List every check, or explain one (like `rustc --explain`)."""
    from doctor.commands.rules import run_rules
    from doctor.render import write_text

    write_text(run_rules(rule_id, fmt), fmt="json" if fmt == "json" else "human")


@app.command(
    short_help="Merge many nodes' reports; exit 1 if they differ.",
    epilog=_examples(
        "trtllm-doctor fleet reports/ --nodes 'gpu[001-064]' --max-age 1h",
        "cat reports/*.json | trtllm-doctor fleet - --check -f markdown",
    ),
)
def fleet(
    reports: List[str] = typer.Argument(..., metavar="REPORTS...", help="Snapshot/check JSON files, folders, quoted globs, or - (stdin)."),
    max_age: str = typer.Option("24h", "--max-age", help="Reports older than this are stale (30m, 24h, 7d)."),
    nodes: Optional[str] = typer.Option(None, "--nodes", help="Nodes that must report: a host list like gpu[001-064] or @FILE."),
    run_checks: bool = typer.Option(False, "--check", help="Also run the checks on each snapshot and merge their findings."),
    trtllm_version: Optional[str] = typer.Option(None, "--trtllm-version", help="With --check: the TensorRT-LLM release to check for."),
    fmt: str = FormatOpt,
    output: Optional[Path] = OutputOpt,
    verbose: bool = VerboseOpt,
    strict: bool = StrictOpt,
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Merge many nodes' reports: a table of nodes, and what differs between them (exit 1 if inconsistent)."""
    from doctor.commands.fleet import FleetOptions, finish, run_fleet

    opts = FleetOptions(reports=reports, max_age=max_age, nodes=nodes, check=run_checks, trtllm_version=trtllm_version)
    raise typer.Exit(finish(run_fleet(opts), fmt, verbose, _out(output), strict, config))


# --- the entry point: every outcome becomes one of the documented exit codes ------------------------------------

MAX_MESSAGE = 1000


def _say(message: str) -> None:
    """One line on stderr, secrets redacted, control characters spelt out, never more than MAX_MESSAGE characters."""
    try:
        from doctor.redact import redact

        message = redact(message)
    except Exception:  # noqa: BLE001 - an error message must get out even if redaction breaks
        pass
    text = " ".join(message.split())
    text = "".join(ch if ch.isprintable() else f"\\x{ord(ch):02x}" for ch in text)
    if len(text) > MAX_MESSAGE:
        text = text[: MAX_MESSAGE - 3] + "..."
    stream = sys.stderr
    if stream is None:
        return
    try:
        stream.write(text + "\n")
        stream.flush()
    except (OSError, ValueError, UnicodeError):
        pass


_previous_handlers: dict = {}  # signal number -> the handler before main() (restored when it ends)
_signalled: list[str] = []  # "INT" / "TERM": what ended the run (typer turns KeyboardInterrupt into exit 130 silently)


def _on_sigterm(signum, frame) -> None:  # noqa: ARG001
    _signalled.append("TERM")
    raise errors.Terminated()


def _on_sigint(signum, frame) -> None:  # noqa: ARG001
    _signalled.append("INT")
    raise KeyboardInterrupt()


def _install_signals() -> None:
    import signal

    try:
        for signum in (signal.SIGTERM, signal.SIGINT):
            previous = signal.getsignal(signum)
            if previous is not None:
                _previous_handlers.setdefault(signum, previous)
        signal.signal(signal.SIGTERM, _on_sigterm)
        # Ctrl-C, also when an "ignore" was inherited (a harness started with `cmd &`)
        signal.signal(signal.SIGINT, _on_sigint)
    except (ValueError, OSError, AttributeError):  # not the main thread, or no signals on this platform
        pass


def _restore_signals() -> None:
    import signal

    for signum, handler in _previous_handlers.items():
        try:
            signal.signal(signum, handler)
        except (ValueError, OSError, TypeError):
            pass
    _previous_handlers.clear()


def _silence_stdout() -> None:
    """After stdout failed (full disk, closed pipe), point it at /dev/null so the interpreter's final flush is quiet."""
    try:
        fd = os.open(os.devnull, os.O_WRONLY)
        os.dup2(fd, 1)
        os.close(fd)
    except OSError:
        pass


def _usage_message(exc: BaseException) -> str:
    """click's usage error as one line: the message, then where the help is."""
    msg = exc.format_message() if hasattr(exc, "format_message") else str(exc)
    ctx = getattr(exc, "ctx", None)
    where = f" (see '{ctx.command_path} -h')" if ctx is not None and getattr(ctx, "command_path", None) else ""
    return f"{msg}{where}"


def _app_for(argv: list[str]) -> typer.Typer:
    """The app with only the command being run (typer builds every command's options up front: 5 ms of a
    20 ms budget); the whole app for help, completion, --version or an unknown command."""
    if len(argv) < 2 or any(k.endswith("_COMPLETE") for k in os.environ):
        return app
    only = [ci for ci in app.registered_commands
            if (ci.name or getattr(ci.callback, "__name__", "").replace("_", "-")) == argv[1]]
    if len(only) != 1:
        return app
    one = object.__new__(type(app))  # a shallow copy, without importing copy
    one.__dict__.update(app.__dict__)
    one.registered_commands = only
    return one


def main() -> None:
    """Console entry point: maps every outcome to the documented exit codes."""
    _install_signals()
    code: object = errors.OK
    try:
        code = _app_for(sys.argv)(standalone_mode=False)
        if code == errors.INTERRUPTED and _signalled:  # typer's Exit(130) for a KeyboardInterrupt it caught
            terminated = _signalled[-1] == "TERM"
            _say("trtllm-doctor: terminated" if terminated else "trtllm-doctor: interrupted")
            code = errors.TERMINATED if terminated else errors.INTERRUPTED
    except typer.Exit as exc:
        code = exc.exit_code
    except errors.PipeClosed:
        _silence_stdout()
        code = errors.OK
    except errors.OutputError as exc:
        _silence_stdout()
        _say(f"trtllm-doctor: error: {exc}")
        code = errors.USAGE
    except errors.UsageError as exc:
        _say(f"trtllm-doctor: error: {exc}")
        code = errors.USAGE
    except errors.Terminated:
        _say("trtllm-doctor: terminated")
        code = errors.TERMINATED
    except KeyboardInterrupt:
        _say("trtllm-doctor: interrupted")
        code = errors.INTERRUPTED
    except BrokenPipeError:
        _silence_stdout()
        code = errors.OK
    except MemoryError:
        _say("trtllm-doctor: out of memory; an input is far larger than it should be (a device or an endless stream?). "
             f"If it is not, please report it at {errors.ISSUES_URL}")
        code = errors.INTERNAL
    except Exception as exc:  # noqa: BLE001 - the last line of defence: never a raw traceback
        code = _other(exc)
    _restore_signals()  # in-process callers (tests, embedding) get their handlers back
    sys.exit(code if isinstance(code, int) else errors.OK)


def _other(exc: BaseException) -> int:
    name = type(exc).__name__
    if name == "NoArgsIsHelpError" or (hasattr(exc, "show") and name == "NoArgsIsHelp"):
        try:
            exc.show()  # the help text, as for `trtllm-doctor` alone
        except Exception:  # noqa: BLE001
            pass
        return errors.USAGE
    if hasattr(exc, "format_message") and isinstance(getattr(exc, "exit_code", None), int):  # click's usage errors
        _say(f"trtllm-doctor: error: {_usage_message(exc)}")
        return errors.USAGE
    if isinstance(exc, typer.Abort):  # click turns KeyboardInterrupt (and so our SIGTERM) into Abort
        cause = exc.__cause__ or exc.__context__
        if isinstance(cause, errors.Terminated):
            _say("trtllm-doctor: terminated")
            return errors.TERMINATED
        _say("trtllm-doctor: interrupted")
        return errors.INTERRUPTED
    if name == "KBError":
        _say(f"trtllm-doctor: broken knowledge base: {exc}")
        return errors.INTERNAL
    if isinstance(exc, OSError) and exc.errno is not None and getattr(exc, "filename", None) is None:
        import errno as _errno

        if exc.errno in (_errno.ENOSPC, _errno.EIO, _errno.EBADF, _errno.EDQUOT if hasattr(_errno, "EDQUOT") else -1):
            _silence_stdout()
            _say(f"trtllm-doctor: error: cannot write the report: {exc.strerror or exc}")
            return errors.USAGE
    return _crash(exc)


def _crash(exc: BaseException) -> int:
    """Write a crash file to attach to a bug report (argv and traceback redacted) and say where it is."""
    import tempfile
    import traceback

    path = None
    try:
        from doctor.redact import redact

        text = (f"trtllm-doctor {__version__}\nargv: {sys.argv}\npython: {sys.version}\n\n"
                + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        fd, path = tempfile.mkstemp(prefix="trtllm-doctor-crash-", suffix=".log")
        with os.fdopen(fd, "w", encoding="utf-8", errors="backslashreplace") as fh:
            fh.write(redact(text))
    except Exception:  # noqa: BLE001 - the crash handler must not crash
        path = None
    where = f" with {path}" if path else ""
    _say(f"trtllm-doctor: internal error ({type(exc).__name__}: {exc}). This is a bug in trtllm-doctor {__version__}; "
         f"please report it at {errors.ISSUES_URL}{where}")
    return errors.INTERNAL
