"""Reading the files users point the doctor at: bounded, regular files only, one-line errors.

A snapshot, an engine or model config, a policy file, a fleet report or an LLM API YAML is read
here: never before checking that it is a regular file (a FIFO with no writer would block
``open`` forever; /dev/zero would never end), never more than its size cap (read in chunks, so
a file that grows while it is read is still bounded), and every problem is a
:class:`~doctor.errors.UsageError` with one line that names the file.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

from doctor.errors import UsageError

CHUNK = 1 << 20


def _mib(n: int) -> str:
    return f"{n / 2**20:.0f} MiB" if n >= 2**20 else f"{n} bytes"


def read_bytes(path: Path | str, what: str, limit: int) -> bytes:
    """The bytes of a regular file of at most ``limit`` bytes; anything else is a one-line UsageError."""
    path = Path(path)
    try:
        st = os.stat(path)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    except ValueError as exc:  # an embedded NUL in the name
        raise UsageError(f"cannot read {what} {path!r}: {exc}") from None
    if stat.S_ISDIR(st.st_mode):
        raise UsageError(f"{path}: is a directory, expected {what} file")
    if not stat.S_ISREG(st.st_mode):
        raise UsageError(f"{path}: not a regular file (a pipe, socket or device), expected {what} file")
    if st.st_size > limit:
        raise UsageError(f"{path}: {_mib(st.st_size)} is too large for {what} (at most {_mib(limit)})")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    parts, total = [], 0
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):  # swapped between stat and open
            raise UsageError(f"{path}: not a regular file, expected {what} file")
        while True:
            chunk = os.read(fd, CHUNK)
            if not chunk:
                break
            total += len(chunk)
            if total > limit:
                raise UsageError(f"{path}: more than {_mib(limit)}, too large for {what}")
            parts.append(chunk)
    except OSError as exc:
        raise UsageError(f"cannot read {what} {path}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)
    return b"".join(parts)


def read_text(path: Path | str, what: str, limit: int) -> str:
    """A regular UTF-8 text file (BOM allowed) of at most ``limit`` bytes; binary data is a usage error."""
    raw = read_bytes(path, what, limit)
    if b"\x00" in raw[:65536]:
        raise UsageError(f"{path}: binary data, not {what} (UTF-8 text expected)")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise UsageError(f"{path}: not UTF-8 text (byte {exc.start}), expected {what}") from None


def parse_json(text: str, what: str, path: Path | str):
    """json.loads with every way hostile JSON fails mapped to one line: syntax, a 4,300+ digit number
    (CPython's int limit), nesting deep enough to exhaust the recursion limit."""
    import json

    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise UsageError(f"{path}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); truncated or corrupt {what}?") from None
    except RecursionError:
        raise UsageError(f"{path}: JSON nested too deeply to be {what}") from None
    except ValueError as exc:  # e.g. "Exceeds the limit (4300 digits) for integer string conversion"
        raise UsageError(f"{path}: not usable as {what} ({exc})") from None


def parse_toml(text: str, what: str, path: Path | str):
    """tomllib.loads with syntax errors, runaway nesting and huge numbers mapped to one line."""
    from doctor.kb import tomllib

    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise UsageError(f"{path}: not valid TOML ({exc})") from None
    except RecursionError:
        raise UsageError(f"{path}: TOML nested too deeply to be {what}") from None
    except (ValueError, OverflowError) as exc:  # a 4,300+ digit integer, a date out of range
        raise UsageError(f"{path}: not usable as {what} ({exc})") from None
