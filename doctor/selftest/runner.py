"""Run self-test tiers: one subprocess each, in its own process group, under a timeout.

Whatever a tier does is turned into a :class:`TierResult`, never an exception of ours:
its result line; or, with no result, its signal (SIGSEGV, SIGABRT), its exit code, or
the timeout it ran past, with the tail of its stderr classified into a cause. A hung
tier's whole process group is killed (SIGTERM, then SIGKILL). Ctrl-C kills the running
tier's group, removes the run's temporary directory and re-raises KeyboardInterrupt.

Every child gets NVLink multicast switched off (NCCL_NVLS_ENABLE=0,
TORCH_SYMM_MEM_DISABLE_MULTICAST=1, NVSHMEM_DISABLE_NVLS=1), CUDA_VISIBLE_DEVICES from
--gpus, TMPDIR pointing into a directory the runner removes afterwards, and this doctor
package (alone) on PYTHONPATH, so the tiers can run under another interpreter (--python).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable

from doctor.selftest import TIERS, TierSpec
from doctor.selftest._child import MARKER
from doctor.selftest.diagnose import classify_text, describe_exit, signal_name, tail

CHILD_ENV = {
    "NCCL_NVLS_ENABLE": "0",
    "TORCH_SYMM_MEM_DISABLE_MULTICAST": "1",
    "NVSHMEM_DISABLE_NVLS": "1",
    "PYTHONUNBUFFERED": "1",
    "PYTHONDONTWRITEBYTECODE": "1",
}
KILL_GRACE_S = 2.0  # between SIGTERM and SIGKILL
TICK_S = 0.1
STATUSES = ("pass", "fail", "skip")


@dataclass
class TierResult:
    id: str
    number: int
    symbol: str
    title: str
    status: str  # pass | fail | skip
    reason: str = ""  # why it failed or was skipped
    figure: str = ""  # the measured figure (pass)
    elapsed_s: float = 0.0
    cause: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    evidence: str = ""
    expected: str = ""
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[dict[str, Any]] = field(default_factory=list)
    exit: str | None = None  # "exit code 1", "killed by SIGSEGV (segmentation fault)", "timed out after 60 s"
    returncode: int | None = None
    signal: str | None = None
    timed_out: bool = False
    stderr_tail: str = ""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def package_path(tmpdir: str) -> str:
    """A directory holding only this ``doctor`` package (a symlink), for the children's PYTHONPATH.

    With --python the tiers run under another interpreter (the one with TensorRT-LLM and
    torch); putting the doctor's whole site-packages on its path would mix two
    environments, so only the package itself is exposed. Falls back to the package's
    parent directory where symlinks cannot be made.
    """
    pkg = Path(__file__).resolve().parent.parent
    link_dir = Path(tmpdir, "pkg")
    try:
        link_dir.mkdir(exist_ok=True)
        link = link_dir / "doctor"
        if not link.exists():
            link.symlink_to(pkg, target_is_directory=True)
        return str(link_dir)
    except OSError:
        return str(pkg.parent)


def child_env(gpus: str | None, tmpdir: str, base: dict[str, str] | None = None) -> dict[str, str]:
    env = dict(os.environ if base is None else base)
    env.update(CHILD_ENV)
    env["TMPDIR"] = tmpdir
    env.setdefault("CUDA_DEVICE_ORDER", "PCI_BUS_ID")  # CUDA's indices = nvidia-smi's = NVML's
    if gpus is not None:
        env["CUDA_VISIBLE_DEVICES"] = gpus
    root = package_path(tmpdir)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    env["PYTHONPATH"] = os.pathsep.join([root, *[p for p in parts if p != root]])
    return env


def _kill_group(proc: subprocess.Popen, grace: float = KILL_GRACE_S) -> None:
    """SIGTERM the child's process group, then SIGKILL what is left after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            pass
        try:
            proc.wait(timeout=wait)
            if sig is signal.SIGTERM:
                # The leader is gone; make sure nothing of its group outlives it.
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except (ProcessLookupError, PermissionError):
                    pass
            return
        except subprocess.TimeoutExpired:
            continue


def parse_result(stdout: str) -> dict[str, Any] | None:
    """The last result line a tier printed, validated; None if there is none or it is malformed."""
    for line in reversed(stdout.splitlines()):
        if not line.startswith(MARKER):
            continue
        try:
            data = json.loads(line[len(MARKER):])
        except ValueError:
            return None
        if not isinstance(data, dict) or data.get("status") not in STATUSES:
            return None
        return data
    return None


def _text(value: Any) -> str:
    return value if isinstance(value, str) else "" if value is None else str(value)


def from_result(spec: TierSpec, data: dict[str, Any]) -> TierResult:
    def d(key: str) -> dict[str, Any]:
        v = data.get(key)
        return v if isinstance(v, dict) else {}

    warnings = [w for w in data.get("warnings") or [] if isinstance(w, dict) and isinstance(w.get("cause"), str)]
    return TierResult(
        spec.id, spec.number, spec.symbol, spec.title, data["status"], reason=_text(data.get("reason")),
        figure=_text(data.get("figure")), cause=data.get("cause") if isinstance(data.get("cause"), str) else None,
        params=d("params"), evidence=_text(data.get("evidence")), expected=_text(data.get("expected")),
        metrics=d("metrics"), warnings=warnings,
    )


class _Capped:
    """A tier's output kept bounded: the first ``head`` bytes and the last ``tail`` bytes (a tier that prints
    without end cannot fill the doctor's memory; the result line and the error are at the end)."""

    def __init__(self, head: int = 64 << 10, tail: int = 2 << 20):
        self.head_limit, self.tail_limit = head, tail
        self.head = bytearray()
        self.tail = bytearray()
        self.dropped = 0

    def add(self, chunk: bytes) -> None:
        room = self.head_limit - len(self.head)
        if room > 0:
            self.head += chunk[:room]
            chunk = chunk[room:]
        if chunk:
            self.tail += chunk
            extra = len(self.tail) - self.tail_limit
            if extra > 0:
                del self.tail[:extra]
                self.dropped += extra

    def text(self) -> str:
        gap = f"\n[... {self.dropped} bytes not kept ...]\n".encode() if self.dropped else b""
        return (bytes(self.head) + gap + bytes(self.tail)).decode("utf-8", "replace")


def _read_available(sel, bufs: dict[int, _Capped], wait: float) -> int:
    """Read what the tier has written within ``wait`` seconds; return how many of its pipes are still open."""
    import selectors  # noqa: F401 - the selector comes in

    for key, _ in sel.select(wait):
        try:
            chunk = os.read(key.fd, 1 << 16)
        except BlockingIOError:
            continue
        except OSError:
            chunk = b""
        if chunk:
            bufs[key.fd].add(chunk)
        else:
            sel.unregister(key.fileobj)
    return len(sel.get_map())


def run_tier(spec: TierSpec, *, timeout: float | None = None, env: dict[str, str] | None = None,
             on_tick: Callable[[float], None] | None = None, python: str | None = None) -> TierResult:
    """Run one tier to its end, its crash or its timeout; never raises (but re-raises Ctrl-C and SIGTERM,
    after killing the tier's process group)."""
    import selectors

    limit = spec.timeout if timeout is None else timeout
    argv = list(spec.argv) if spec.argv else [python or sys.executable, "-m", spec.module]
    start = time.perf_counter()
    try:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=env, start_new_session=True)
    except OSError as exc:
        return TierResult(spec.id, spec.number, spec.symbol, spec.title, "fail", reason=f"could not start the tier: {exc}",
                          cause="unknown-failure", evidence=f"{' '.join(argv)}: {exc.strerror or exc}", exit="not started")
    out, err = _Capped(head=16 << 10), _Capped()
    bufs = {proc.stdout.fileno(): out, proc.stderr.fileno(): err}
    sel = selectors.DefaultSelector()
    for stream in (proc.stdout, proc.stderr):
        os.set_blocking(stream.fileno(), False)
        sel.register(stream, selectors.EVENT_READ)
    timed_out = False
    exited_at: float | None = None
    try:
        while True:
            open_pipes = _read_available(sel, bufs, TICK_S)
            now = time.perf_counter()
            if open_pipes == 0 and proc.poll() is not None:
                break
            if on_tick is not None:
                on_tick(now - start)
            if proc.poll() is not None:  # leader gone, a descendant still holds the pipes
                exited_at = exited_at or now
                if now - exited_at > KILL_GRACE_S:
                    _kill_group(proc, grace=0.5)
                    _drain(sel, bufs)
                    break
            if now - start > limit:
                timed_out = True
                _kill_group(proc)
                _drain(sel, bufs)
                break
    except KeyboardInterrupt:  # Ctrl-C, and SIGTERM (errors.Terminated): the tier goes with us
        _kill_group(proc, grace=1.0)
        raise
    finally:
        if proc.poll() is None:
            _kill_group(proc, grace=0.5)
        try:  # a tier leaves nothing running behind it
            os.killpg(proc.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        sel.close()
        for stream in (proc.stdout, proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
    elapsed = time.perf_counter() - start
    rc = proc.returncode
    return judge(spec, out.text(), err.text(), rc, timed_out, limit, elapsed)


def _drain(sel, bufs: dict[int, _Capped], seconds: float = 2.0) -> None:
    """What the killed group had written before it died."""
    end = time.perf_counter() + seconds
    while sel.get_map() and time.perf_counter() < end:
        _read_available(sel, bufs, 0.1)


def judge(spec: TierSpec, stdout: str, stderr: str, rc: int | None, timed_out: bool, limit: float, elapsed: float) -> TierResult:
    """Turn what a tier process left (stdout, stderr, exit status, timeout) into its result."""
    data = parse_result(stdout)
    err_tail = tail(stderr)
    sig = signal_name(rc) if rc is not None and not timed_out else None
    if timed_out:
        how = f"timed out after {limit:g} s (killed)"
    elif rc is None:
        how = "did not finish"
    else:
        how = describe_exit(rc)
    if data is not None and not timed_out and rc == 0:
        res = from_result(spec, data)
    else:
        hit = classify_text(stderr)
        last = err_tail.splitlines()[-1] if err_tail.strip() else ""
        if timed_out:
            cause = hit[0] if hit else spec.hang_cause
            reason = f"no result within {limit:g} s: hung, killed" + (f" (stderr: {last})" if last else "")
        elif data is not None:
            cause = hit[0] if hit else spec.crash_cause
            reason = f"reported '{data.get('status')}' but then {how}" + (f" (stderr: {last})" if last else "")
        elif sig == "SIGKILL":
            cause = hit[0] if hit else "host-oom-killed"
            reason = f"{how}: killed from outside (the out-of-memory killer?)"
        elif sig:
            cause = hit[0] if hit else spec.crash_cause
            reason = f"crashed: {how}" + (f" ({last})" if last else "")
        else:
            cause = hit[0] if hit else spec.crash_cause
            reason = f"{how} without a result" + (f": {last}" if last else "")
        evidence = reason if not hit else f"{reason}; matched: {hit[2]}"
        res = TierResult(spec.id, spec.number, spec.symbol, spec.title, "fail", reason=reason, cause=cause,
                         params=dict(hit[1]) if hit else {}, evidence=evidence,
                         expected="the tier runs to its end and reports a result")
    res.elapsed_s = round(elapsed, 3)
    res.returncode = rc
    res.signal = sig
    res.timed_out = timed_out
    res.exit = how
    if res.status == "fail" or rc != 0 or timed_out:
        res.stderr_tail = err_tail
    return res


def select(keys: Iterable[str] | None) -> list[TierSpec]:
    from doctor.selftest import tier

    if not keys:
        return list(TIERS)
    chosen: dict[int, TierSpec] = {}
    for key in keys:
        t = tier(key)
        if t is None:
            raise KeyError(key)
        chosen[t.number] = t
    return [chosen[n] for n in sorted(chosen)]


def run_tiers(specs: list[TierSpec], *, timeout: float | None = None, gpus: str | None = None,
              python: str | None = None,
              on_start: Callable[[TierSpec], None] | None = None,
              on_tick: Callable[[TierSpec, float], None] | None = None,
              on_done: Callable[[TierResult], None] | None = None) -> list[TierResult]:
    """Run the tiers in order; ST3-ST5 are skipped when ST2 (the CUDA context) ran and failed."""
    tmp = tempfile.mkdtemp(prefix="trtllm-doctor-selftest-")
    results: list[TierResult] = []
    try:
        env = child_env(gpus, tmp)
        cuda_failed: TierResult | None = None
        for spec in specs:
            if spec.needs_cuda and cuda_failed is not None:
                res = TierResult(spec.id, spec.number, spec.symbol, spec.title, "skip",
                                 reason=f"needs a CUDA context, and {cuda_failed.id} failed ({cuda_failed.reason})")
            else:
                if on_start:
                    on_start(spec)
                res = run_tier(spec, timeout=timeout, env=env, python=python,
                               on_tick=(lambda s, spec=spec: on_tick(spec, s)) if on_tick else None)
            if spec.number == 2 and res.status == "fail":
                cuda_failed = res
            results.append(res)
            if on_done:
                on_done(res)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return results
