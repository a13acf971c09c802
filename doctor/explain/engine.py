"""One pass over raw bytes for every anchor literal at once.

``scan(block)`` returns ``(offset, anchor)`` for every occurrence of every anchor in a block
of whole lines. Two interchangeable engines:

- :class:`HyperscanEngine` (Intel Hyperscan / Vectorscan through the ``hyperscan`` package):
  all anchors compiled into one literal database (~50 ms for ~4,000 anchors), scanned in one
  SIMD pass (several hundred MB/s with the Python callback per hit, measured in
  benchmarks/bench_explain.py).
- :class:`FindEngine` (no compiled dependency): a few short substrings chosen by a weighted
  greedy set cover stand for all anchors, one ``bytes.find`` loop each; an occurrence is
  confirmed by ``in`` on its line. Slower, used only where hyperscan is not installed.

``TRTLLM_DOCTOR_ENGINE=find`` forces the fallback (the tests run both).
"""

from __future__ import annotations

import heapq
import os
from collections import defaultdict
from typing import Protocol

KEY_LENGTHS = (4, 5, 6, 7, 8)  # candidate key sizes for the fallback's cover


class Engine(Protocol):
    name: str

    def scan(self, block: bytes) -> list[tuple[int, int]]: ...


class HyperscanEngine:
    name = "hyperscan"

    def __init__(self, literals: list[tuple[bytes, bool]]):
        import hyperscan

        self._hs = hyperscan
        self.db = hyperscan.Database()
        flags = [hyperscan.HS_FLAG_CASELESS if icase else 0 for _, icase in literals]
        self.db.compile(expressions=[lit for lit, _ in literals], ids=list(range(len(literals))), flags=flags, literal=True)
        self.scratch = hyperscan.Scratch(self.db)
        self.db.scratch = self.scratch

    def scan(self, block: bytes) -> list[tuple[int, int]]:
        hits: list[tuple[int, int]] = []
        add = hits.append
        self.db.scan(block, match_event_handler=lambda ident, start, end, flags, ctx: add((end, ident)))
        return hits


class FindEngine:
    name = "find"

    def __init__(self, literals: list[tuple[bytes, bool]]):
        self.literals = literals
        units = []
        for i, (lit, icase) in enumerate(literals):
            text = lit.decode("utf-8", "replace")
            variants = _case_variants(text) if icase else [text]
            for v in variants:
                units.append((_candidate_keys(v), (i, v.encode("utf-8"))))
        chosen = _cover(units, lambda key: 1.0 + (0.5 if key[:1].isspace() or key[-1:].isspace() else 0.0))
        self.keys = [k.encode("utf-8") for k in chosen]
        self.key_literals = [[u for u in us] for us in chosen.values()]  # per key: (anchor, exact text variant)

    def scan(self, block: bytes) -> list[tuple[int, int]]:
        hits: list[tuple[int, int]] = []
        seen: set[tuple[int, int]] = set()
        find, rfind = block.find, block.rfind
        for ki, key in enumerate(self.keys):
            pos = find(key)
            while pos != -1:
                s = rfind(b"\n", 0, pos) + 1
                e = find(b"\n", pos)
                if e == -1:
                    e = len(block)
                line = block[s:e]
                for anchor, text in self.key_literals[ki]:
                    j = line.find(text)
                    if j != -1 and (s, anchor) not in seen:
                        seen.add((s, anchor))
                        hits.append((s + j + len(text), anchor))
                pos = find(key, e)
        return hits


def _case_variants(text: str) -> list[str]:
    return list(dict.fromkeys((text, text[:1].upper() + text[1:], text.lower(), text.upper(), text[:1].upper() + text[1:].lower())))


def _candidate_keys(run: str) -> set[str]:
    if len(run) <= min(KEY_LENGTHS):
        return {run}
    return {run[i : i + n] for n in KEY_LENGTHS for i in range(len(run) - n + 1)}


def _cover(units, cost) -> dict[str, list[object]]:
    """Weighted greedy set cover: pick keys until every unit (a set of acceptable keys) has one.

    ``cost(key) >= 1`` is the price of a key (one pass over the input). It is evaluated lazily: a
    key's score can only drop as units get covered, so the best bound is re-scored until it stays on top.
    """
    masks: dict[str, int] = defaultdict(int)
    for i, (keys, _) in enumerate(units):
        for k in keys:
            masks[k] |= 1 << i
    heap = [(-m.bit_count(), -len(k), k) for k, m in masks.items()]
    heapq.heapify(heap)
    exact: dict[str, float] = {}
    chosen: dict[str, list[object]] = {}
    left = (1 << len(units)) - 1
    while left and heap:
        _, neg_len, key = heapq.heappop(heap)
        got = masks[key] & left
        if not got:
            continue
        if key not in exact:
            exact[key] = cost(key)
        score = got.bit_count() / exact[key]
        if heap and score < -heap[0][0]:
            heapq.heappush(heap, (-score, neg_len, key))
            continue
        chosen[key] = [units[i][1] for i in range(len(units)) if got >> i & 1]
        left &= ~got
    return chosen


def make_engine(literals: list[tuple[bytes, bool]]) -> Engine:
    """Hyperscan where it is installed and works, else the pure-Python fallback."""
    if os.environ.get("TRTLLM_DOCTOR_ENGINE", "").lower() != "find":
        try:
            return HyperscanEngine(literals)
        except Exception:  # not installed, no SIMD support, or a build without literal mode
            pass
    return FindEngine(literals)
