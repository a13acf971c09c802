"""Probes: the only code that touches the machine.

Each probe fills one section of :class:`~doctor.facts.Facts`. They run concurrently,
each under a time bound; a probe that raises or overruns leaves its section with
``error`` set ("timed out after 5 s", "libnvidia-ml.so.1 not found"), never a
traceback and never a hang (an overrunning probe's thread is abandoned; it is a
daemon thread and cannot keep the process alive).
"""

from __future__ import annotations

import datetime as _dt
import threading
import time
from collections.abc import Callable
from typing import Any

from doctor import __version__
from doctor.facts import Facts


def run_bounded(func: Callable[[], Any], timeout: float) -> tuple[Any, str | None, float]:
    """Run ``func`` in a daemon thread; return (result, error, elapsed_ms)."""
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["result"] = func()
        except BaseException as exc:  # noqa: BLE001 - a probe must never raise past here
            box["error"] = f"{type(exc).__name__}: {exc}".strip()

    start = time.perf_counter()
    thread = threading.Thread(target=target, daemon=True, name=f"probe-{getattr(func, '__name__', 'x')}")
    thread.start()
    thread.join(timeout)
    elapsed = (time.perf_counter() - start) * 1000
    if thread.is_alive():
        return None, f"timed out after {timeout:g} s", elapsed
    return box.get("result"), box.get("error"), elapsed


def collect(python: str | None = None, workdir: str | None = None, timeout: float = 5.0) -> Facts:
    """Probe this machine and return its facts."""
    from doctor.probes import cuda, gpus, packages, system

    if python:
        # a bad --python is a usage error, raised here rather than buried in a section; it answers within the
        # probe timeout (--timeout, 5 s), or it is killed with its process group
        packages.run_in(python, timeout=timeout)
    facts = Facts(tool_version=__version__, created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"))
    jobs: dict[str, Callable[[], Any]] = {
        "platform": system.probe_platform,
        "python": lambda: system.probe_python(python, timeout=timeout),
        "gpus": lambda: gpus.probe(timeout=timeout),
        "cuda": cuda.probe,
        "packages": lambda: packages.probe(python, timeout=timeout),
        "host": lambda: system.probe_host(workdir),
    }
    results: dict[str, tuple[Any, str | None, float]] = {}
    threads = []
    for name, job in jobs.items():
        t = threading.Thread(target=lambda n=name, j=job: results.__setitem__(n, run_bounded(j, timeout)), daemon=True)
        t.start()
        threads.append(t)
    deadline = time.monotonic() + timeout + 1
    for t in threads:
        t.join(max(0.0, deadline - time.monotonic()))
    # A probe that overran is abandoned; the tools it started (a hung nvidia-smi) are killed with their process
    # groups now rather than left behind.
    from doctor.probes.proc import kill_all

    kill_all()

    for name in jobs:
        result, error, ms = results.get(name, (None, f"timed out after {timeout:g} s", timeout * 1000))
        facts.timings_ms[name] = round(ms, 1)
        if name == "gpus":
            if result is not None:
                facts.driver, facts.gpus = result
            else:
                facts.driver.error = facts.gpus.error = error
            continue
        section = getattr(facts, name)
        if result is not None:
            setattr(facts, name, result)
        else:
            section.error = error
    facts.env = system.allowed_env()
    # The CUDA section needs the package list (wheel runtimes come from package names); cuda-python is the one of
    # the interpreter checked (--python's, not the doctor's own copy that it imports for cuDriverGetVersion).
    if facts.packages.error is None and facts.packages.python:
        installed = facts.packages.installed
        facts.cuda.wheel_runtimes.update(cuda.wheel_runtimes(installed))
        # (driver_api_version stays: it is the driver answering cuDriverGetVersion, whoever's bindings asked)
        facts.cuda.cuda_python = next((installed[n] for n in ("cuda-bindings", "cuda-python") if n in installed), None)
    return facts


class Prefetch:
    """``collect`` started in the background while the rest of the command imports and parses: the probes spend
    most of their time in driver calls (NVML, cuInit) that release the GIL, so they overlap with the imports.
    ``facts(...)`` returns them if the final options ask for the same probe; else None (the caller collects)."""

    def __init__(self, python: str | None, workdir: str | None, timeout: float):
        import atexit

        from doctor.probes.proc import kill_all

        self.args = (python, workdir, timeout)
        self._box: dict[str, Any] = {}
        atexit.register(kill_all)  # a usage error found meanwhile ends the run: no probe's tool outlives it

        def run() -> None:
            try:
                self._box["facts"] = collect(python=python, workdir=workdir, timeout=timeout)
            except BaseException as exc:  # noqa: BLE001 - handed to the caller, raised there
                self._box["error"] = exc

        self._thread = threading.Thread(target=run, name="trtllm-doctor-probes", daemon=True)
        self._thread.start()

    def facts(self, python: str | None, workdir: str | None, timeout: float) -> Facts | None:
        if (python, workdir, timeout) != self.args:
            return None
        self._thread.join()
        if "error" in self._box:
            raise self._box["error"]
        return self._box["facts"]
