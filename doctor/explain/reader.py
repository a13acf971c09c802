"""Streaming input for `explain`: any size, any bytes, in bounded memory.

Input is read as raw bytes in large blocks that end on a line boundary; nothing is
decoded until the matcher has picked a candidate line. Only those lines go through
:func:`clean_line` (NULs dropped, UTF-8 with replacement, ANSI colour codes and
container / MPI prefixes stripped).
"""

from __future__ import annotations

import codecs
import gzip
import io
import os
import re
import stat
import sys
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import BinaryIO

from doctor.errors import UsageError

BLOCK = 4 << 20  # bytes read at a time
MAX_LINE = 8 << 20  # a line longer than this is cut (it is still scanned, in pieces)

_GZIP_MAGIC = b"\x1f\x8b"


@dataclass
class Input:
    """One thing to read: a path or stdin ("-")."""

    name: str

    @property
    def is_stdin(self) -> bool:
        return self.name == "-"


FIFO_WAIT_S = 5.0
_STDIO_NAME = re.compile(r"/dev/(?:stdin|fd/\d+)|/proc/self/fd/\d+")  # how long a named pipe may wait for its writer to appear


def check_inputs(names: list[str]) -> list[Input]:
    """Validate every path before reading any: a directory, a missing or unreadable file is a usage error."""
    if names.count("-") > 1:
        raise UsageError("'-' (stdin) can be given only once")
    out = []
    for name in names:
        if name != "-":
            try:
                st = os.stat(name)
            except OSError as exc:
                raise UsageError(f"cannot read {name}: {exc.strerror or exc}") from None
            except ValueError as exc:  # an embedded NUL in the name
                raise UsageError(f"cannot read {name!r}: {exc}") from None
            if stat.S_ISDIR(st.st_mode):
                raise UsageError(f"{name}: is a directory, expected a log file")
            if stat.S_ISSOCK(st.st_mode):
                raise UsageError(f"{name}: a socket, expected a log file")
            if (stat.S_ISCHR(st.st_mode) or stat.S_ISBLK(st.st_mode)) and not _STDIO_NAME.fullmatch(name):
                raise UsageError(f"{name}: a device, not a log file (for a stream, pipe it: ... | trtllm-doctor explain -)")
            if not os.access(name, os.R_OK):
                raise UsageError(f"cannot read {name}: permission denied")
        elif sys.stdin is None:
            raise UsageError("stdin is closed: nothing to read for '-'")
        out.append(Input(name))
    return out


def _open_fifo(name: str, wait: float = FIFO_WAIT_S) -> BinaryIO:
    """A pipe given by name. ``/dev/fd/N`` (``<(kubectl logs ...)``) is this process's own descriptor and is
    read as is; a named pipe (``mkfifo``) is opened without blocking, and if no process writes to it within
    ``wait`` seconds that is a usage error instead of waiting forever."""
    import re as _re
    import select
    import time

    m = _re.fullmatch(r"/(?:dev|proc/self)/fd/(\d+)", name)
    if m:
        try:
            return io.FileIO(os.dup(int(m.group(1))), "rb", closefd=True)  # type: ignore[return-value]
        except OSError:
            pass
    fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_CLOEXEC", 0))
    deadline = time.monotonic() + wait
    first = b""
    try:
        while True:
            try:
                first = os.read(fd, 1 << 16)
            except BlockingIOError:  # a writer is connected and has not written yet
                break
            if first:  # data already there
                break
            poller = select.poll()
            poller.register(fd, select.POLLIN | select.POLLHUP)
            if any(ev & select.POLLHUP for _, ev in poller.poll(0)):  # a writer came and went: the end of the input
                break
            if time.monotonic() >= deadline:
                raise UsageError(f"{name}: a named pipe that nothing wrote to within {wait:g} s (no writer?)")
            time.sleep(0.05)
        import fcntl

        fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
    except BaseException:
        os.close(fd)
        raise
    return _Prefixed(first, io.FileIO(fd, "rb", closefd=True))  # type: ignore[return-value]


class _Prefixed(io.RawIOBase):
    """Bytes already read from a pipe, then the pipe."""

    def __init__(self, head: bytes, raw: io.FileIO):
        self._head, self._raw = head, raw

    def readable(self) -> bool:
        return True

    def readinto(self, b) -> int:
        if self._head:
            n = min(len(b), len(self._head))
            b[:n] = self._head[:n]
            self._head = self._head[n:]
            return n
        return self._raw.readinto(b)

    def close(self) -> None:
        self._raw.close()
        super().close()


class _Utf16ToUtf8:
    """A binary reader over a UTF-16 stream that yields UTF-8 (Windows tools write UTF-16 logs)."""

    def __init__(self, raw: BinaryIO, encoding: str):
        self._raw = raw
        self._dec = codecs.getincrementaldecoder(encoding)(errors="replace")

    def read(self, n: int) -> bytes:
        data = self._raw.read(n)
        return self._dec.decode(data, final=not data).encode("utf-8", "replace")

    def close(self) -> None:
        self._raw.close()


def open_input(inp: Input) -> BinaryIO:
    """Open for binary reading; gzip (by content, not by name) and UTF-16 (BOM) are unwrapped."""
    if inp.is_stdin:
        if sys.stdin is None:
            raise UsageError("stdin is closed: nothing to read for '-'")
        raw: BinaryIO = getattr(sys.stdin, "buffer", None) or sys.stdin  # type: ignore[assignment]
    else:
        try:
            if stat.S_ISFIFO(os.stat(inp.name).st_mode):
                raw = io.BufferedReader(_open_fifo(inp.name), BLOCK)  # type: ignore[arg-type]
            else:
                raw = open(inp.name, "rb")  # noqa: SIM115 - closed by the caller
        except OSError as exc:
            raise UsageError(f"cannot read {inp.name}: {exc.strerror or exc}") from None
    if not hasattr(raw, "peek"):
        raw = io.BufferedReader(raw)  # type: ignore[arg-type]
    try:
        head = raw.peek(4)[:4]  # type: ignore[attr-defined]
    except OSError as exc:
        raise UsageError(f"cannot read {inp.name}: {exc.strerror or exc}") from None
    if head[:2] == _GZIP_MAGIC:
        return gzip.GzipFile(fileobj=raw, mode="rb")  # type: ignore[return-value]
    if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
        return _Utf16ToUtf8(raw, "utf-16")  # type: ignore[return-value]
    return raw


def iter_blocks(fh: BinaryIO, name: str, block: int = BLOCK, max_line: int = MAX_LINE) -> Iterator[bytes]:
    """Yield blocks of whole lines (each ends with b"\\n", except perhaps the very last).

    A line longer than ``max_line`` is yielded in pieces: memory stays bounded by about
    ``block + max_line`` whatever the input looks like.
    """
    carry = b""
    while True:
        try:
            data = fh.read(block)
        except (OSError, EOFError, zlib.error, gzip.BadGzipFile) as exc:
            msg = getattr(exc, "strerror", None) or str(exc) or type(exc).__name__
            raise UsageError(f"cannot read {name}: {msg} (corrupt or truncated input?)") from None
        if not data:
            if carry:
                yield carry
            return
        buf = carry + data if carry else data
        cut = buf.rfind(b"\n")
        if cut == -1:
            if len(buf) >= max_line:
                yield buf
                carry = b""
            else:
                carry = buf
            continue
        if cut == len(buf) - 1:
            yield buf
            carry = b""
        else:
            yield buf[: cut + 1]
            carry = buf[cut + 1 :]


# --- cleaning one candidate line -------------------------------------------------------------

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]|\x1b\][^\x07\x1b]*(?:\x07|\x1b\\)?|\x1b[@-Z\\-_]")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
# One prefix at a time, from the outside in; applied until none matches.
_PREFIXES = re.compile(
    r"^(?:"
    r"\d{4}-\d\d-\d\d[T ]\d\d:\d\d:\d\d(?:[.,]\d+)?(?:Z|[+-]\d\d:?\d\d)?\s+(?:(?:stdout|stderr)\s+[FP]\s+)?"  # docker -t, CRI
    r"|\[pod/[^\]\s]+\]\s+"  # kubectl logs --prefix
    r"|[\w.-]+[-_]\d+\s+\|\s?"  # docker compose: "triton-1  | "
    r"|>\s?"  # a quoted log (issue trackers, mail)
    r"|\((?:[A-Za-z_][\w:-]*) pid=\d+(?:, ip=[\d.]+)?\)\s+"  # Ray / vLLM workers: "(RayWorkerWrapper pid=1148) "
    r")"
)
# mpirun --tag-output / --output-filename: "[1,3]<stderr>:" (jobid, rank); torchrun / torch.distributed:
# "[rank3]:" or "[default3]:". Anything before it is a wrapper's prefix.
_MPI_TAG = re.compile(r"\[\d+,(\d+)\]<(?:stdout|stderr|stddiag)>:\s?|\[(?:rank|default)(\d+)\]:\s?")


def clean_line(raw: bytes, keep_indent: bool = False) -> tuple[str, int | None]:
    """Decode one raw line for matching and display: (text, rank or None).

    ``keep_indent`` keeps the leading whitespace after the prefixes (tracebacks are read by indentation).
    """
    text = raw.decode("utf-8", "replace")
    if "\x1b" in text:
        text = _ANSI.sub("", text)
    text = _CONTROL.sub("", text).rstrip()
    if not keep_indent:
        text = text.lstrip()
    rank = None
    for _ in range(4):
        m = _MPI_TAG.search(text, 0, 512)
        if m:
            rank = int(m.group(1) or m.group(2))
            text = text[m.end():]
            continue
        m = _PREFIXES.match(text.lstrip() if keep_indent else text)
        if m and m.end():
            text = (text.lstrip() if keep_indent else text)[m.end():]
            continue
        break
    return (text.rstrip() if keep_indent else text.strip()), rank
