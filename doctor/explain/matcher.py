"""The scan: one multi-literal pass per block, regexes on candidate lines only, bounded state.

Per block (a few MB of whole lines): the engine reports every anchor occurrence; the lines
holding one are decoded, cleaned and tried against the rules their anchors stand for (a line
seen before is answered from a small cache: logs repeat themselves). A Python traceback
header starts a :class:`~doctor.explain.structure.TracebackReader` that walks the following
lines of the same rank to the exception line (and on into the next block when needed).

What is kept is bounded whatever the input: one :class:`Agg` per (cause, rule, parameters) with
a cap per cause, capped rank/line/file sets, the first and last exceptions, a small ring of
unexplained error lines.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field

from doctor.explain.catalogue import ERRORISH, TIER_STRUCTURE, Catalogue, Rule
from doctor.explain.engine import make_engine
from doctor.explain.reader import BLOCK, Input, clean_line, iter_blocks, open_input
from doctor.explain.structure import TRACEBACK_HEAD, PyException, TracebackReader, is_chain_marker

WINDOW = 4096  # a candidate line is cut to this many bytes either side of its anchor
EVIDENCE = 400  # characters of evidence kept per finding
MAX_KEYS_PER_CAUSE = 16  # distinct parameter sets kept per cause; more fold into the first
MAX_LINES = 10
MAX_RANKS = 4096
MAX_FILES = 16
RING = 12
CACHE = 4096
MAX_EXCEPTIONS = 32  # the first ones kept whole; after that only the last ones
CHAIN_HEADS = (b"During handling of the above exception", b"The above exception was the direct cause")

_ROLE = {"root": 0, "consequence": 1, "context": 1, "benign": 2}
# A line logged below error level: a library's own error string (an enumeration's text, "out of memory") in it is
# prose, a hint or a retry, not the failure ("CUDA graphs can take additional memory... if you are running out of memory").
_QUIET_LEVEL = re.compile(
    r"^(?:INFO|DEBUG|TRACE|WARNING|WARN)\b|^\[(?:[IDW]|INFO|DEBUG|WARNING|WARN)\]|^\[TensorRT-LLM\]\[(?:INFO|DEBUG|VERBOSE|WARNING)\]"
    r"|^[IDW]\d{4} \d\d:\d\d:\d\d|^\S+ \S+ (?:INFO|DEBUG|WARNING) | - (?:INFO|DEBUG|WARNING) - |\[TRT\] \[[IVW]\]")
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
class Match:
    rule: int
    cause: str
    role: str
    severity: str
    tier: int
    params: dict[str, str]
    span: tuple[int, int]
    label: str  # what matched, for the report: "cudaErrorIllegalAddress", "S012", "python-modules: modelopt"


@dataclass
class Agg:
    """Everything kept about one match family: a cause seen through one rule with one set of parameters."""

    cause: str
    rule: int
    role: str
    severity: str
    tier: int
    label: str
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
    varied: bool = False
    order: int = 0  # global order of first sight (file, line) for ranking


@dataclass
class InputStats:
    name: str
    bytes: int = 0
    lines: int = 0


class Scanner:
    """Feed it inputs; it keeps the aggregated matches and the exceptions."""

    def __init__(self, cat: Catalogue, block: int = BLOCK):
        self.cat = cat
        self.block = block
        anchors = list(cat.literals) + [(TRACEBACK_HEAD, False)] + [(h, False) for h in CHAIN_HEADS]
        self.tb_anchor = len(cat.literals)
        self.chain_anchors = {self.tb_anchor + 1, self.tb_anchor + 2}
        self.engine = make_engine(anchors)
        self.aggs: dict[tuple, Agg] = {}
        self.per_cause: dict[str, list[tuple]] = {}
        self.unexplained: deque[tuple[int, int, str]] = deque(maxlen=RING)
        self.exceptions: list[PyException] = []
        self.late_exceptions: deque[PyException] = deque(maxlen=MAX_EXCEPTIONS)
        self.inputs: list[InputStats] = []
        self._cache: dict[bytes, tuple[list[Match], int | None, str]] = {}
        self._readers: dict[int | None, TracebackReader] = {}
        self._chain_line: dict[int | None, int] = {}
        self._seq = 0

    # --- input -------------------------------------------------------------------------------

    def scan(self, inp: Input) -> InputStats:
        fh = open_input(inp)
        try:
            return self.scan_stream(inp.name, fh)
        finally:
            if not inp.is_stdin:
                fh.close()

    def scan_stream(self, name: str, fh) -> InputStats:
        stats = InputStats(name)
        self.inputs.append(stats)
        fi = len(self.inputs) - 1
        self._readers.clear()
        last = b"\n"
        for buf in iter_blocks(fh, name, self.block):
            stats.lines += self._block(buf, fi, stats.lines)
            stats.bytes += len(buf)
            last = buf[-1:]
        if last != b"\n":
            stats.lines += 1
        self._finish_readers()
        return stats

    # --- one block -----------------------------------------------------------------------------

    def _block(self, buf: bytes, fi: int, base: int) -> int:
        """Scan one block of whole lines; returns its number of newlines."""
        if self._readers:
            self._walk(buf, 0, fi, base + 1, None)
        hits = self.engine.scan(buf)
        if not hits:
            return buf.count(b"\n")
        rfind, find, size = buf.rfind, buf.find, len(buf)
        lines: dict[int, list] = {}
        cur_s, cur_e, seg = -1, -1, None
        for end, anchor in hits:  # the engine reports hits in order of their end: most share the last hit's line
            if cur_s <= end <= cur_e and seg is not None:
                seg[1].add(anchor)
                if end > seg[0]:
                    seg[0] = end
                continue
            s = rfind(b"\n", 0, max(end - 1, 0)) + 1
            seg = lines.get(s)
            if seg is None:
                seg = lines[s] = [end, {anchor}]
            else:
                seg[1].add(anchor)
                if end > seg[0]:
                    seg[0] = end
            cur_s = s
            cur_e = find(b"\n", end)
            if cur_e == -1:
                cur_e = size
        line, prev = base + 1, 0
        for s in sorted(lines):
            line += buf.count(b"\n", prev, s)
            prev = s
            end, anchors = lines[s]
            e = find(b"\n", end)
            if e == -1:
                e = size
            lo = s if end - s <= WINDOW else end - WINDOW
            hi = e if e - end <= WINDOW else end + WINDOW
            self._line(buf, s, lo, hi, e, anchors, fi, line)
        return line - base - 1 + buf.count(b"\n", prev)

    def _line(self, buf: bytes, s: int, lo: int, hi: int, e: int, anchors: set[int], fi: int, line: int) -> None:
        raw = buf[lo:hi]
        if b"\r" in raw:  # progress bars: the last rewrite of the line is what was shown
            raw = raw[raw.rfind(b"\r", 0, max(len(raw) - 1, 0)) + 1 :] if raw.rstrip(b"\r") else raw
        if self.tb_anchor in anchors or anchors & self.chain_anchors:
            text, rank = clean_line(raw)
            if anchors & self.chain_anchors and is_chain_marker(text):
                self._chain_line[rank] = line
            if self.tb_anchor in anchors and text.startswith("Traceback (most recent call last)"):
                chained = self._chain_line.get(rank, -99) >= line - 3
                old = self._readers.get(rank)
                if old is not None:
                    self._keep_exception(old)
                self._readers[rank] = TracebackReader(fi, line, rank, chained)
                self._walk(buf, e + 1, fi, line + 1, rank)
            anchors = anchors - {self.tb_anchor} - self.chain_anchors
            if not anchors:
                return
        cached = self._cache.get(raw)
        if cached is None:
            cached = self._match(raw, anchors)
            if len(self._cache) >= CACHE:
                self._cache.clear()
            self._cache[raw] = cached
        matches, rank, text = cached
        if not matches:
            if anchors & self.cat.errorish and ERRORISH.search(text):
                self.unexplained.append((fi, line, text[:EVIDENCE]))
            return
        for m in matches:
            self._record(buf, s, m, rank, text, fi, line)

    def _walk(self, buf: bytes, pos: int, fi: int, line: int, only: int | None) -> None:
        """Feed the lines from ``pos`` to the open traceback readers (one rank's, or all of them) until they finish."""
        size = len(buf)
        readers = self._readers
        while pos < size and readers and (only is None or only in readers):
            e = buf.find(b"\n", pos)
            if e == -1:
                e = size
            text, rank = clean_line(buf[pos : min(e, pos + WINDOW)], keep_indent=True)
            r = readers.get(rank)
            if r is not None and (only is None or rank == only):
                r.feed(text, line)
                if r.done:
                    self._keep_exception(r)
                    del readers[rank]
            # every open reader pays for every line walked (another rank's included): a walk is bounded
            for k in [k for k, x in readers.items() if x.tick()]:
                self._keep_exception(readers.pop(k))
            pos, line = e + 1, line + 1

    def _keep_exception(self, reader: TracebackReader) -> None:
        if reader.result is None:
            return
        if len(self.exceptions) < MAX_EXCEPTIONS:
            self.exceptions.append(reader.result)
        else:
            self.late_exceptions.append(reader.result)

    def _finish_readers(self) -> None:
        for r in self._readers.values():
            self._keep_exception(r)
        self._readers.clear()

    # --- one candidate line ----------------------------------------------------------------------

    def _match(self, raw: bytes, anchors: set[int]) -> tuple[list[Match], int | None, str]:
        cat = self.cat
        if b"\x00" in raw:
            raw = raw.replace(b"\x00", b"")
        text, rank = clean_line(raw)
        todo: set[int] = set()
        for a in anchors:
            if a < len(cat.literal_rules):
                todo.update(cat.literal_rules[a])
        found: list[Match] = []
        quiet = _QUIET_LEVEL.search(text) is not None
        for ri in sorted(todo):
            r = cat.rules[ri]
            if quiet and r.mode == "text":
                continue
            m = self._try(ri, r, text)
            if m is not None:
                found.append(m)
        if not found:
            return [], rank, text
        # one match per cause (the strictest; the others lend it their parameters). Different causes on one
        # line are all kept (a wrapper and the error it wraps): the cause graph decides which is the root.
        # A line that a stricter layer calls harmless (benign) is harmless.
        by_cause: dict[str, list[Match]] = {}
        for m in found:
            by_cause.setdefault(m.cause, []).append(m)
        merged = []
        for ms in by_cause.values():
            ms.sort(key=lambda m: (m.tier, _ROLE[m.role], m.span[0]))
            win = ms[0]
            for other in ms[1:]:
                for k, v in other.params.items():
                    win.params.setdefault(k, v)
            merged.append(win)
        benign = [m for m in merged if m.role == "benign"]
        failing = [m for m in merged if m.role != "benign"]
        if benign and (not failing or min(m.tier for m in benign) < min(m.tier for m in failing)):
            found = benign
        else:
            found = failing
        rank_param = next((m.params.pop("rank") for m in found if m.params.get("rank", "").isdigit()), None)
        if rank is None and rank_param is not None:
            rank = int(rank_param)
        return found, rank, text

    def _try(self, ri: int, r: Rule, text: str) -> Match | None:
        cat = self.cat
        m = cat.regex(ri).search(text)
        if m is None:
            return None
        groups = {k: v for k, v in m.groupdict().items() if v is not None}
        cause, role, severity, label = r.cause, r.role, r.severity, r.entry or r.id
        params = dict(r.params)
        if r.mode == "text":
            if r.contexts and not any(cat.context(c).search(text) for c in r.contexts):
                return None
        elif r.mode in ("key", "code"):
            vocab = cat.vocabularies[r.vocab]
            if r.mode == "key":
                key = groups.get("key", "")
                entry = vocab.lookup(_demangle(key) if r.vocab == "cxx-namespaces" else key)
            else:
                try:
                    code = int(groups.get("code", ""))
                except ValueError:
                    return None
                entry = next((e for e in vocab.entries if e.code == code), None)
            if entry is not None:
                cause, role, severity, label = entry.cause, entry.role, entry.severity, entry.name
                params.update(entry.params)
                if r.mode == "code":
                    params.setdefault("error_name", entry.name)
                    if entry.text:
                        params.setdefault("error_text", entry.text)
            elif not cause:
                return None
            else:
                label = f"{vocab.id}: {groups.get('key', '')}"
            key = groups.get("key", "")
            params = {k: v.replace("{key}", key) for k, v in params.items()}
        elif r.origin == "vocab" and r.vocab in cat.vocabularies and cat.vocabularies[r.vocab].kind == "enum":
            entry_obj = next((e for e in cat.vocabularies[r.vocab].entries if e.name == r.entry), None)
            params.setdefault("error_name", r.entry)
            if entry_obj is not None and entry_obj.text:
                params.setdefault("error_text", entry_obj.text)
        if not cause:
            return None
        params.update(groups)
        if r.component:
            params.setdefault("component", r.component)
        return Match(ri, cause, role, severity, r.tier, normalize_params(params), m.span(), label)

    def _record(self, buf: bytes, s: int, m: Match, rank: int | None, text: str, fi: int, line: int) -> None:
        key = (m.cause, m.label, tuple(sorted(m.params.items())))
        agg = self.aggs.get(key)
        if agg is None:
            keys = self.per_cause.setdefault(m.cause, [])
            if len(keys) >= MAX_KEYS_PER_CAUSE:
                agg = self.aggs[keys[0]]
                agg.varied = True
            else:
                evidence, span = _excerpt(text, m.span)
                self._seq += 1
                agg = Agg(m.cause, m.rule, m.role, m.severity, m.tier, m.label, m.params, fi, line, evidence, span,
                          _context(buf, s), order=self._seq)
                self.aggs[key] = agg
                keys.append(key)
        agg.count += 1
        if len(agg.lines) < MAX_LINES:
            agg.lines.append((fi, line))
        if rank is not None and len(agg.ranks) < MAX_RANKS:
            agg.ranks.add(rank)
        if len(agg.files) < MAX_FILES:
            agg.files.add(fi)

    def all_exceptions(self) -> list[PyException]:
        return self.exceptions + list(self.late_exceptions)


def _demangle(symbol: str) -> str:
    """A C++ symbol as written in source (c10::Error::Error(...)); plain C symbols are returned as they are."""
    if not symbol.startswith("_Z"):
        return symbol
    from doctor.explain.demangle import demangle

    return demangle(symbol)


def _excerpt(text: str, span: tuple[int, int]) -> tuple[str, tuple[int, int]]:
    if len(text) <= EVIDENCE:
        return text, span
    a, b = span
    start = max(0, min(a - 80, len(text) - EVIDENCE))
    cut = text[start : start + EVIDENCE]
    lead = "..." if start else ""
    return lead + cut, (a - start + len(lead), min(b - start, EVIDENCE) + len(lead))


_FRAME = re.compile(r'^\s*File "[^"]+", line \d+, in \S+')


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


__all__ = ["Agg", "InputStats", "Match", "Scanner", "TIER_STRUCTURE", "normalize_params"]
