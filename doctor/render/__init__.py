"""Renderers lay a Report out; they never decide severity or wording.

Each format is one module with ``render(report, *, verbose) -> str``. The registry
maps a ``--format`` name to its module, imported only when used.

Two things happen here, once for every format, so that no renderer can forget them:

* **redaction**: the renderer is handed a copy of the report whose every string went
  through :func:`doctor.redact.redact_data` (explain's quotes of log lines, facts from a
  hand-edited snapshot, fleet rows, self-test stderr), and the text formats are redacted
  once more as a whole;
* **writing**: the text is encoded for where it goes. A stdout that cannot take UTF-8
  (``PYTHONIOENCODING=ascii``, ``LANG=C``, latin-1) gets ASCII symbols (``[OK]``, ``[!!]``,
  ``[XX]``, ``#`` bars) instead of a crash; JSON is then written with ``\\u`` escapes (lossless),
  JUnit with XML character references; a lone surrogate from a snapshot never crashes the
  encoder. A full disk or a closed stdout is a one-line error (:class:`~doctor.errors.OutputError`).
"""

from __future__ import annotations

import codecs
import importlib
import os
import stat
import sys
from pathlib import Path

from doctor.errors import OutputError, PipeClosed, UsageError
from doctor.report import CheckResult, Finding, Report

FORMATS = {
    "human": "doctor.render.console",
    "json": "doctor.render.json",
    "junit": "doctor.render.junit",
    "github": "doctor.render.github",
    "markdown": "doctor.render.markdown",
}
TEXT_FORMATS = ("human", "markdown", "github")  # redacted once more as a whole (JSON and JUnit encode the data)

# Symbols the renderers use, and what an ASCII-only stream gets instead.
ASCII = [
    ("[✓]", "[OK]"), ("[✗]", "[XX]"), ("[!]", "[!!]"),
    ("✓", "OK"), ("✗", "XX"), ("❌", "[XX]"), ("⚠️", "[!!]"), ("⚠", "[!!]"), ("ℹ️", "[i]"), ("ℹ", "[i]"),
    ("█", "#"), ("▓", "="), ("▒", "+"), ("░", "."), ("·", "-"), ("—", "-"), ("–", "-"), ("…", "..."),
    ("→", "->"), ("←", "<-"), ("×", "x"), ("≥", ">="), ("≤", "<="), ("≈", "~"), ("±", "+/-"), ("µ", "u"),
    ("\u00a0", " "), ("“", '"'), ("”", '"'), ("‘", "'"), ("’", "'"),
]


def asciify(text: str) -> str:
    """The renderers' symbols spelt in ASCII; anything else non-ASCII is left for the encoder to replace."""
    for fancy, plain in ASCII:
        if fancy in text:
            text = text.replace(fancy, plain)
    return text


def can_encode(sample: str, encoding: str) -> bool:
    try:
        sample.encode(encoding)
        return True
    except (UnicodeEncodeError, LookupError):
        return False


def safe_report(report: Report) -> Report:
    """A copy of the report with every string redacted (the renderers only ever see this)."""
    from doctor.redact import redactor

    redact, redact_data = redactor()  # the environment's secrets, collected once for the whole report

    def finding(f: Finding) -> Finding:
        return Finding(
            id=f.id, symbol=f.symbol, category=f.category, severity=f.severity, title=redact(f.title),
            evidence=redact(f.evidence), expected=redact(f.expected), fix=redact(f.fix), docs=redact(f.docs),
            area=f.area, line=f.line, params=redact_data(f.params), extra=redact_data(f.extra),
        )

    return Report(
        command=report.command,
        findings=[finding(f) for f in report.findings],
        facts=redact_data(report.facts) if report.facts is not None else None,
        checks=[CheckResult(c.id, c.symbol, c.area, redact(c.title), c.status, redact(c.reason)) for c in report.checks],
        target=redact_data(report.target),
        extra=redact_data(report.extra),
    )


def render(report: Report, fmt: str = "human", *, verbose: bool = False, ascii: bool = False,
           terminal: bool | None = None) -> str:
    """The report in ``fmt``, secrets redacted. ``ascii``: for a stream that cannot take UTF-8.
    ``terminal``: the human report goes to a terminal (colour and wrapping); None: stdout's."""
    try:
        module = importlib.import_module(FORMATS[fmt])
    except KeyError:
        raise UsageError(f"unknown format {fmt!r}; choose one of: {', '.join(FORMATS)}") from None
    safe = safe_report(report)
    if fmt == "human":
        text = module.render(safe, verbose=verbose, terminal=terminal, color=False if terminal is False else None)
    elif fmt == "json":
        text = module.render(safe, verbose=verbose, ascii=ascii)
    else:
        text = module.render(safe, verbose=verbose)
    if fmt in TEXT_FORMATS:
        from doctor.redact import redact

        text = redact(text)
    if ascii and fmt != "json":
        text = asciify(text)
    return text if text.endswith("\n") else text + "\n"


def encode(text: str, encoding: str, fmt: str, rerender_ascii=None) -> bytes:
    """``text`` as bytes in ``encoding``; what the encoding cannot hold falls back as the module doc says."""
    try:
        return text.encode(encoding)
    except LookupError:
        encoding = "utf-8"
        return encode(text, encoding, fmt, rerender_ascii)
    except UnicodeEncodeError:
        pass
    unicode_ok = can_encode("✓█", encoding)
    if fmt == "json":
        fallback = rerender_ascii() if rerender_ascii else text
        return fallback.encode(encoding, "backslashreplace")
    if fmt == "junit":
        return text.encode(encoding, "xmlcharrefreplace")
    if not unicode_ok:
        text = rerender_ascii() if rerender_ascii else asciify(text)
    return text.encode(encoding, "replace")


def stdout_encoding() -> str:
    stream = sys.stdout
    enc = getattr(stream, "encoding", None) or "utf-8"
    try:
        return codecs.lookup(enc).name
    except LookupError:
        return "utf-8"


def stdout_is_terminal() -> bool:
    try:
        return sys.stdout is not None and sys.stdout.isatty()
    except (ValueError, OSError, AttributeError):
        return False


def write_bytes(data: bytes, output: str | None = None) -> None:
    """Write to ``output`` (a file; never blocks on a FIFO without a reader) or stdout; one-line errors."""
    if output and output != "-":
        _write_file(data, output)
        return
    stream = sys.stdout
    if stream is None:
        raise OutputError("cannot write the report: stdout is closed")
    try:
        buf = getattr(stream, "buffer", None)
        if buf is not None:
            stream.flush()
            buf.write(data)
            buf.flush()
        else:  # a StringIO in tests, or an embedding application's stream
            stream.write(data.decode(getattr(stream, "encoding", None) or "utf-8", "replace"))
            stream.flush()
    except BrokenPipeError:
        raise PipeClosed() from None
    except (OSError, ValueError) as exc:
        raise OutputError(f"cannot write the report to stdout: {getattr(exc, 'strerror', None) or exc}") from None


def _write_file(data: bytes, output: str) -> None:
    path = Path(output)
    try:
        st = os.stat(path)
        is_fifo = stat.S_ISFIFO(st.st_mode)
        if stat.S_ISDIR(st.st_mode):
            raise UsageError(f"cannot write {output}: is a directory")
    except FileNotFoundError:
        is_fifo = False
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    flags = os.O_WRONLY | os.O_CREAT | getattr(os, "O_CLOEXEC", 0) | (getattr(os, "O_NONBLOCK", 0) if is_fifo else os.O_TRUNC)
    try:
        fd = os.open(path, flags, 0o644)
    except OSError as exc:
        if is_fifo and exc.errno is not None and exc.errno == getattr(__import__("errno"), "ENXIO", -1):
            raise UsageError(f"cannot write {output}: a FIFO that nobody reads") from None
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    try:
        if is_fifo:
            import fcntl

            fcntl.fcntl(fd, fcntl.F_SETFL, fcntl.fcntl(fd, fcntl.F_GETFL) & ~os.O_NONBLOCK)
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
    except OSError as exc:
        raise UsageError(f"cannot write {output}: {exc.strerror or exc}") from None
    finally:
        os.close(fd)


def write_text(text: str, output: str | None = None, *, fmt: str = "human", rerender_ascii=None) -> None:
    """Encode ``text`` for its destination (a file: UTF-8; stdout: its encoding) and write it."""
    encoding = "utf-8" if output and output != "-" else stdout_encoding()
    write_bytes(encode(text, encoding, fmt, rerender_ascii), output)


def emit(report: Report, fmt: str = "human", *, verbose: bool = False, output: str | None = None) -> None:
    """Render and write to ``output`` (a file) or stdout."""
    to_file = bool(output and output != "-")
    terminal = False if to_file else None
    text = render(report, fmt, verbose=verbose, terminal=terminal)
    write_text(text, output, fmt=fmt,
               rerender_ascii=lambda: render(report, fmt, verbose=verbose, ascii=True, terminal=terminal))
