"""The scan: literal keys over raw blocks, regexes on candidate lines only, bounded state.

Per block (a few MB of whole lines) the cost is one ``bytes.find`` pass per key plus
one newline count; Python-level work happens only on lines that hold a key. What is
kept is bounded whatever the input: one :class:`Agg` per (signature, parameters) with a
cap per signature, capped rank/line/file sets, a small ring of unexplained error lines
and a small cache of recently seen candidate lines (logs repeat themselves).
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from doctor.explain.reader import BLOCK, Input, clean_line, iter_blocks, open_input
from doctor.explain.signatures import ERRORISH, Catalogue

WINDOW = 2048  # a candidate line is cut to this many bytes either side of its key (4 KB matched at most)
EVIDENCE = 400  # characters of evidence kept per finding
MAX_KEYS_PER_SIG = 16  # distinct parameter sets kept per signature; more fold into the first
MAX_LINES = 10  # line numbers kept per finding
MAX_RANKS = 4096
MAX_FILES = 16
RING = 12  # unexplained error-looking lines kept (the last ones)
CACHE = 4096  # recently seen candidate lines -> their matches
SAMPLE = 64 << 10  # bytes from the start of the first input that price the prefilter keys

_ROLE = {"root": 0, "consequence": 1}
_CONF = {"high": 0, "medium": 1, "low": 2}
_FRAME = re.compile(r'^\s*File "[^"]+", line \d+, in \S+')
_SM = re.compile(r"^(\d{1,2})\.(\d)$")


def normalize_params(params: dict[str, str]) -> dict[str, str]:
    """Values as the fix templates want them: SM numbers from 'compute 8.9' become 89."""
    out = {}
    for k, v in params.items():
        v = v.strip()
        if k.endswith("_sm"):
            m = _SM.match(v)
            if m:
                v = m.group(1) + m.group(2)
        out[k] = v
    return out


@dataclass
class Agg:
    """Everything kept about one finding-to-be: a signature seen with one set of parameters."""

    sig: int
    params: dict[str, str]
    file: int
    line: int
    evidence: str
    span: tuple[int, int]
    context: list[str] = field(default_factory=list)
    count: int = 0
    lines: list[tuple[int, int]] = field(default_factory=list)
    ranks: set[int] = field(default_factory=set)
    files: set[int] = field(default_factory=set)
    varied: bool = False  # further parameter sets were folded into this one


@dataclass
class InputStats:
    name: str
    bytes: int = 0
    lines: int = 0


class Scanner:
    """Feed it inputs; it keeps the aggregated matches."""

    def __init__(self, cat: Catalogue, block: int = BLOCK):
        self.cat = cat
        self.block = block
        self.aggs: dict[tuple, Agg] = {}
        self.per_sig: dict[int, list[tuple]] = {}
        self.unexplained: deque[tuple[int, int, str]] = deque(maxlen=RING)
        self.inputs: list[InputStats] = []
        self._cache: dict[bytes, list[tuple[int, dict[str, str], int | None, str, tuple[int, int]]] | None] = {}
        self._selected = bool(cat.keys)
        self._bytes_patterns = {pi: re.compile(cat.patterns[pi].regex.pattern.encode("utf-8"), re.M) for pi in cat.unfiltered}

    # --- input -------------------------------------------------------------------------------

    def scan(self, inp: Input) -> InputStats:
        fh = open_input(inp)
        try:
            return self.scan_stream(inp.name, fh)
        finally:
            if not inp.is_stdin:
                fh.close()

    def scan_stream(self, name: str, fh) -> InputStats:
        """Scan one open binary stream to its end."""
        stats = InputStats(name)
        self.inputs.append(stats)
        fi = len(self.inputs) - 1
        last = b"\n"
        for buf in iter_blocks(fh, name, self.block):
            if not self._selected:
                self.cat.select_keys(buf[:SAMPLE])
                self._selected = True
            stats.lines += self._block(buf, fi, stats.lines)
            stats.bytes += len(buf)
            last = buf[-1:]
        if last != b"\n":
            stats.lines += 1
        return stats

    # --- one block -----------------------------------------------------------------------------

    def _block(self, buf: bytes, fi: int, base: int) -> int:
        """Scan one block of whole lines; returns its number of newlines."""
        segs: dict[int, list] = {}
        find, rfind, size = buf.find, buf.rfind, len(buf)

        def add(pos: int, ki: int, pi: int) -> int:
            lo = pos - WINDOW if pos > WINDOW else 0
            s = max(rfind(b"\n", lo, pos), rfind(b"\r", lo, pos)) + 1 or lo
            if s < lo:
                s = lo
            hi = pos + WINDOW if pos + WINDOW < size else size
            e = find(b"\n", pos, hi)
            if e == -1:
                e = hi
            r = find(b"\r", pos, e)
            if r != -1:
                e = r
            seg = segs.get(s)
            if seg is None:
                segs[s] = [e, {ki} if ki >= 0 else set(), {pi} if pi >= 0 else set()]
            else:
                (seg[1] if ki >= 0 else seg[2]).add(ki if ki >= 0 else pi)
            return e

        for ki, key in enumerate(self.cat.keys):
            pos = find(key)
            while pos != -1:
                pos = find(key, add(pos, ki, -1))
        for pi, rx in self._bytes_patterns.items():
            for m in rx.finditer(buf):
                add(m.start(), -1, pi)

        if not segs:
            return buf.count(b"\n")
        line, prev = base + 1, 0
        for s in sorted(segs):
            line += buf.count(b"\n", prev, s)
            prev = s
            e, kis, pis = segs[s]
            self._segment(buf, s, e, kis, pis, fi, line)
        return line - base - 1 + buf.count(b"\n", prev)

    def _segment(self, buf: bytes, s: int, e: int, kis: set[int], pis: set[int], fi: int, line: int) -> None:
        raw = buf[s:e]
        if b"\x00" in raw:
            raw = raw.replace(b"\x00", b"")
        cache_key = raw if not pis else None
        if cache_key is not None and cache_key in self._cache:
            matches = self._cache[cache_key]
        else:
            matches = self._match(raw, kis, pis)
            if cache_key is not None:
                if len(self._cache) >= CACHE:
                    self._cache.clear()
                self._cache[cache_key] = matches
        if matches is None:
            return
        if not matches:
            if kis & self.cat.errorish_keys:
                text, _ = clean_line(raw)
                if ERRORISH.search(text):
                    self.unexplained.append((fi, line, text[:EVIDENCE]))
            return
        for sig, params, rank, text, span in matches:
            self._record(buf, s, sig, params, rank, text, span, fi, line)

    def _match(self, raw: bytes, kis: set[int], pis: set[int]):
        """All signatures matching one candidate line, the most specific kept; None when no key literal is in it."""
        cat = self.cat
        todo = set(pis)
        for ki in kis:
            for pi, lit in cat.key_patterns[ki]:
                if pi not in todo and lit in raw:
                    todo.add(pi)
        if not todo and not (kis & cat.errorish_keys):
            return None
        text, rank = clean_line(raw)
        found: dict[int, tuple] = {}
        for pi in sorted(todo):
            p = cat.patterns[pi]
            if p.sig in found:
                continue
            m = p.regex.search(text)
            if m is None:
                continue
            params = {k: v for k, v in m.groupdict().items() if v is not None}
            r = params.pop("rank", None)
            if rank is None and r is not None and r.isdigit():
                rank = int(r)
            found[p.sig] = (p.sig, normalize_params(params), rank, text, m.span())
        if len(found) > 1:
            best = min(self._priority(sig) for sig in found)
            found = {sig: v for sig, v in found.items() if self._priority(sig) == best}
        return list(found.values())

    def _priority(self, sig: int) -> tuple[int, int]:
        s = self.cat.signatures[sig]
        return (_ROLE[s.role], _CONF[s.confidence])

    def _record(self, buf, s, sig, params, rank, text, span, fi, line) -> None:
        key = (sig, tuple(sorted(params.items())))
        agg = self.aggs.get(key)
        if agg is None:
            keys = self.per_sig.setdefault(sig, [])
            if len(keys) >= MAX_KEYS_PER_SIG:
                agg = self.aggs[keys[0]]
                agg.varied = True
            else:
                evidence, span = _excerpt(text, span)
                agg = Agg(sig, params, fi, line, evidence, span, _context(buf, s))
                self.aggs[key] = agg
                keys.append(key)
        agg.count += 1
        if len(agg.lines) < MAX_LINES:
            agg.lines.append((fi, line))
        if rank is not None and len(agg.ranks) < MAX_RANKS:
            agg.ranks.add(rank)
        if len(agg.files) < MAX_FILES:
            agg.files.add(fi)


def _excerpt(text: str, span: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    if len(text) <= EVIDENCE:
        return text, span
    a, b = span
    start = max(0, min(a - 80, len(text) - EVIDENCE))
    cut = text[start : start + EVIDENCE]
    lead = "..." if start else ""
    return lead + cut, (a - start + len(lead), min(b - start, EVIDENCE) + len(lead))


def _context(buf: bytes, s: int) -> list[str]:
    """The Python frame above an exception line (the frames are context, the exception is the evidence)."""
    out: list[str] = []
    end = s - 1
    for _ in range(2):
        if end <= 0:
            break
        start = buf.rfind(b"\n", max(0, end - 1024), end) + 1
        text, _ = clean_line(buf[start:end])
        out.insert(0, text)
        end = start - 1
    if out and _FRAME.match(out[0]):
        return out
    if out and _FRAME.match(out[-1]):
        return out[-1:]
    return []
