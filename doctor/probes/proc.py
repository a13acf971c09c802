"""Running the machine's tools (nvidia-smi, ldconfig, nvcc, another Python) without trusting them.

:func:`run` starts a command in its own session (so its whole process group can be killed),
with stdin closed, reads at most ``limit`` bytes of each of stdout and stderr (a tool that
prints without end is killed once it passes that), and kills the group when ``timeout``
runs out. Every child still running is recorded, so :func:`kill_all` can end what an
abandoned probe thread left behind (``check --timeout 1`` while nvidia-smi hangs), and does
so at exit at the latest.
"""

from __future__ import annotations

import atexit
import os
import selectors
import signal
import subprocess
import threading
import time
from dataclasses import dataclass

DEFAULT_LIMIT = 4 << 20
_live: set[subprocess.Popen] = set()
_lock = threading.Lock()


@dataclass
class Result:
    returncode: int | None  # None: killed (timeout or too much output)
    stdout: str
    stderr: str
    timed_out: bool = False
    truncated: bool = False  # more output than the limit: the rest was not read and the tool was killed
    elapsed_s: float = 0.0


class ToolTimeout(TimeoutError):
    """The tool did not finish within its time; it was killed with its process group."""


def _killpg(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError, OSError):
        try:
            proc.kill()
        except OSError:
            pass


def kill_all() -> None:
    """Kill every tool still running (and its process group): nothing a probe started outlives the doctor."""
    with _lock:
        procs = list(_live)
    for proc in procs:
        _killpg(proc)
        try:
            proc.wait(timeout=1)
        except (subprocess.TimeoutExpired, OSError):
            pass
        with _lock:
            _live.discard(proc)


atexit.register(kill_all)


def _wait_leader(proc: subprocess.Popen, deadline: float) -> bool:
    """Wait (without reaping) until the leader exits or the deadline passes; True if it exited."""
    waitid = getattr(os, "waitid", None)
    while True:
        try:
            if waitid is not None:
                if waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None:
                    return True
            elif proc.poll() is not None:
                return True
        except ChildProcessError:
            return True
        if time.monotonic() >= deadline:
            return False
        time.sleep(0.01)


def run(argv: list[str], *, timeout: float, limit: int = DEFAULT_LIMIT, env: dict[str, str] | None = None,
        raise_on_timeout: bool = False) -> Result:
    """Run ``argv`` to its end, its ``timeout`` or its ``limit`` bytes of output, whichever comes first.

    Raises OSError when it cannot start (not found, not executable), :class:`ToolTimeout` on timeout
    when ``raise_on_timeout``; otherwise the Result says what happened."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            start_new_session=True, env=env, close_fds=True)
    with _lock:
        _live.add(proc)
    out, err = bytearray(), bytearray()
    timed_out = truncated = False
    try:
        sel = selectors.DefaultSelector()
        for stream, buf in ((proc.stdout, out), (proc.stderr, err)):
            os.set_blocking(stream.fileno(), False)
            sel.register(stream, selectors.EVENT_READ, buf)
        open_streams = 2
        deadline = start + timeout
        while open_streams:
            left = deadline - time.monotonic()
            if left <= 0:
                timed_out = True
                break
            for key, _ in sel.select(min(left, 0.5)):
                try:
                    chunk = os.read(key.fileobj.fileno(), 1 << 16)
                except BlockingIOError:
                    continue
                except OSError:
                    chunk = b""
                if not chunk:
                    sel.unregister(key.fileobj)
                    open_streams -= 1
                    continue
                buf = key.data
                room = limit - len(buf)
                buf += chunk[:max(room, 0)]
                if len(chunk) > room:
                    truncated = True
            if truncated:
                break
        sel.close()
        if timed_out or truncated:
            _killpg(proc)
        elif not _wait_leader(proc, deadline):  # the pipes closed but the leader lives on
            timed_out = True
        # the leader has exited but is not reaped yet, so its pid (the group id) cannot have been reused:
        # whatever of its group is left (a grandchild) is killed before the leader is reaped
        _killpg(proc)
        try:
            rc = proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            rc = None
        if timed_out or truncated:
            rc = None
    except BaseException:
        _killpg(proc)
        raise
    finally:
        for stream in (proc.stdout, proc.stderr):
            try:
                stream.close()
            except OSError:
                pass
        if proc.poll() is not None:
            with _lock:
                _live.discard(proc)
    result = Result(rc, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"), timed_out, truncated,
                    time.monotonic() - start)
    if timed_out and raise_on_timeout:
        raise ToolTimeout(f"{os.path.basename(argv[0])} did not answer within {timeout:g} s")
    return result
