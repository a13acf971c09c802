"""Compile rules/signatures.toml for the scan: regexes, plus a literal prefilter.

Scanning every line with ~100 regexes would be far too slow for a 2 GB log, so each
pattern is reduced to the literal text it cannot match without (from the regex's own
parse tree), and a small set of *keys* (short substrings) is chosen that covers every
pattern: a greedy set cover over the patterns' required literals. The matcher runs one
fast ``bytes.find`` per key over each raw block; only lines holding a key are decoded
and tried against the patterns that key stands for, each first checked for its whole
literal with a ``bytes in`` test.
"""

from __future__ import annotations

import heapq
import re
from collections import defaultdict
from dataclasses import dataclass, field

try:  # the regex parser: public in spirit, private in name (stable since Python 3.0)
    from re import _parser as sre_parse  # type: ignore[attr-defined]  # Python >= 3.11
    from re import _constants as sre_c  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as sre_c  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

from doctor.kb import KB, Signature
from doctor.model import Cause, Severity

KEY_LENGTHS = (4, 5, 6, 7, 8)  # candidate key sizes: short keys cover more patterns, long keys are rarer in noise
MIN_LITERAL = 3
PASS_HITS = 400  # candidate lines per MB that cost about as much as one more find() pass (measured: ~0.4 ms/MB a pass, ~1 us a line)  # a pattern whose longest required literal is shorter has no prefilter (scanned by regex)

# Lines that look like an error even when no signature knows them (kept for the "nothing matched" report).
# Their keys cost a pass each, so only the few that error lines nearly always contain (and signatures share).
ERRORISH_KEYS = ("rror", "RROR", "ailed", "xception")
ERRORISH = re.compile(
    r"(?i)\b(?:\w*error|errno|fail(?:ed|ure|s)?|fatal|\w*exception|traceback|killed|abort(?:ed|ing)?|panic|segmentation fault)\b"
    r"|\[E\]|^[EF]\d{4} "
)


# Named groups in rules/signatures.toml that carry a cause's fix-template field under another name.
ALIASES = {"model_type": "arch", "symbol_version": "symbol", "engine_world_size": "world_size"}
_PRODUCT = re.compile(r"^\s*\d+(?:\s*\*\s*\d+)*\s*$")


def fix_params(params: dict[str, str]) -> dict[str, str]:
    """A match's parameters plus the template fields they imply (aliases; world_size = tp * pp)."""
    out = dict(params)
    for group, name in ALIASES.items():
        if out.get(group) and not out.get(name):
            out[name] = out[group]
    if not out.get("world_size") and out.get("tp_size", "").isdigit():
        out["world_size"] = str(int(out["tp_size"]) * int(out.get("pp_size", "1") or 1))
    ws = out.get("world_size", "")
    if "*" in ws and _PRODUCT.match(ws):  # "Engine world size (2 * 1)" (tp * pp)
        n = 1
        for part in ws.split("*"):
            n *= int(part)
        out["world_size"] = str(n)
    return out


@dataclass
class Pattern:
    """One compiled pattern of one signature."""

    sig: int  # index into Catalogue.signatures
    regex: re.Pattern[str]
    literals: list[bytes]  # any one must be in the raw line (empty: no prefilter possible)
    ignorecase: bool


@dataclass
class Catalogue:
    """Everything the matcher needs, built once per run."""

    signatures: list[Signature]
    causes: list[Cause]  # parallel to signatures
    patterns: list[Pattern]
    unfiltered: list[int]  # patterns without a literal: regex over whole blocks (slow; the tests flag them)
    units: list[tuple[set[str], object]]  # what the keys must cover: (acceptable keys, (pattern, literal) or None)
    common: str  # ordinary English (the KB's prose): keys frequent in it are penalised
    keys: list[bytes] = field(default_factory=list)  # the literal prefilter: one find() pass per key per block
    key_patterns: list[list[tuple[int, bytes]]] = field(default_factory=list)  # per key: (pattern, literal for `in`)
    errorish_keys: set[int] = field(default_factory=set)  # indexes of keys that stand for error-looking lines

    def severity(self, sig: int) -> Severity:
        return Severity(self.signatures[sig].severity)

    def select_keys(self, sample: bytes = b"") -> None:
        """Choose the prefilter keys, pricing each by how often it occurs in ``sample`` (the start of the log).

        A pass over the input costs about as much as ~PASS_HITS candidate lines per MB, so a key
        seen n times in a sample of s bytes costs 1 + n * (2**20 / s) / PASS_HITS passes: the
        keys adapt to each log's own vocabulary rather than to a guess about it.
        """
        scale = (1 << 20) / len(sample) / PASS_HITS if sample else 0.0

        def cost(key: str) -> float:
            c = 1.0 + 0.02 * self.common.count(key)
            if key[:1].isspace() or key[-1:].isspace():
                c += 0.5
            if scale:
                c += sample.count(key.encode("utf-8")) * scale
            return c

        chosen = _cover(self.units, cost)
        self.keys = [k.encode("utf-8") for k in chosen]
        self.key_patterns = [[u for u in us if u is not None] for us in chosen.values()]  # type: ignore[misc]
        self.errorish_keys = {i for i, us in enumerate(chosen.values()) if any(u is None for u in us)}


# --- required literals from the parse tree ----------------------------------------------------


def _literal_clauses(items, flags: int) -> list[list[str]]:
    """Required literals of a parsed (sub)pattern as clauses: each clause is a list of alternatives,
    one of which must occur in any match (a plain run of literal characters is a one-item clause)."""
    clauses: list[list[str]] = []
    cur: list[str] = []

    def flush() -> None:
        if cur:
            clauses.append(["".join(cur)])
            cur.clear()

    for op, av in items:
        if op is sre_c.LITERAL:
            cur.append(chr(av))
        elif op is sre_c.AT:
            continue  # zero-width anchors keep a run contiguous
        elif op is sre_c.SUBPATTERN:
            _group, add_flags, _del_flags, sub = av
            if add_flags & re.IGNORECASE and not flags & re.IGNORECASE:
                flush()
                continue
            sub_items = list(sub)
            if sub_items and all(o is sre_c.LITERAL for o, _ in sub_items):
                cur.extend(chr(a) for _, a in sub_items)
            else:
                flush()
                clauses.extend(_literal_clauses(sub_items, flags))
        elif op in (sre_c.MAX_REPEAT, sre_c.MIN_REPEAT) or getattr(sre_c, "POSSESSIVE_REPEAT", None) is op:
            flush()
            lo, _hi, sub = av
            if lo >= 1:
                clauses.extend(_literal_clauses(list(sub), flags))
        elif op is sre_c.BRANCH:
            flush()
            best = []
            for branch in av[1]:
                options = [c for c in _literal_clauses(list(branch), flags) if len(c) == 1]
                if not options:
                    best = []
                    break
                best.append(max((c[0] for c in options), key=len))
            if best:
                clauses.append(best)
        else:
            flush()
    flush()
    return clauses


def required_literals(pattern: str) -> tuple[list[str], list[str], bool]:
    """(the chosen clause's alternatives, every required single run, ignorecase) for one pattern."""
    parsed = sre_parse.parse(pattern)
    flags = parsed.state.flags
    clauses = _literal_clauses(list(parsed), flags)
    singles = [c[0] for c in clauses if len(c) == 1 and len(c[0]) >= MIN_LITERAL]
    multi = [c for c in clauses if len(c) > 1 and min(map(len, c)) >= MIN_LITERAL]
    if singles and (not multi or max(map(len, singles)) >= 6):
        return [max(singles, key=len)], singles, bool(flags & re.IGNORECASE)
    if multi:
        return max(multi, key=lambda c: min(map(len, c))), [], bool(flags & re.IGNORECASE)
    return [], [], bool(flags & re.IGNORECASE)


def _case_variants(text: str) -> list[str]:
    first_up, first_low = text[:1].upper() + text[1:], text[:1].lower() + text[1:]
    return list(dict.fromkeys((text, first_up, first_low, text.lower(), text.upper(), text[:1].upper() + text[1:].lower())))


def _candidate_keys(run: str) -> set[str]:
    if len(run) <= min(KEY_LENGTHS):
        return {run}
    return {run[i : i + n] for n in KEY_LENGTHS for i in range(len(run) - n + 1)}


def _cover(units: list[tuple[set[str], object]], cost) -> dict[str, list[object]]:
    """Weighted greedy set cover: pick keys until every unit (a set of acceptable keys) has one.

    ``cost(key) >= 1`` is the price of a key: one pass over the input plus the candidate
    lines it drags in. It is evaluated lazily (a key's score can only drop as units get
    covered, so the best upper bound is re-scored until it stays on top).
    """
    masks: dict[str, int] = defaultdict(int)
    for i, (keys, _) in enumerate(units):
        for k in keys:
            masks[k] |= 1 << i
    heap = [(-m.bit_count(), -len(k), k) for k, m in masks.items()]  # bound: coverage / 1
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


def _common_text(kb: KB) -> str:
    """Ordinary English from the KB (cause titles and fixes, signature notes): what a rare key must avoid."""
    parts = [f"{c.title} {c.fix} {c.note}" for c in kb.causes.values()]
    parts += [s.note for s in kb.signatures]
    return "\n".join(parts)


def compile_catalogue(kb: KB) -> Catalogue:
    sigs = list(kb.signatures)
    causes = [kb.cause(s.cause) for s in sigs]
    patterns: list[Pattern] = []
    units: list[tuple[set[str], object]] = []
    unfiltered: list[int] = []
    for si, sig in enumerate(sigs):
        for text in sig.patterns:
            regex = re.compile(text)
            alternatives, singles, icase = required_literals(text)
            pi = len(patterns)
            lits: list[bytes] = []
            if not alternatives:
                unfiltered.append(pi)
            for alt in alternatives:
                # a unit per alternative (and per case variant): any required run of the pattern may be its key
                runs = singles if len(alternatives) == 1 else [alt]
                for variant_i, variant in enumerate(_case_variants(alt) if icase else [alt]):
                    keys = set()
                    for run in runs:
                        r = run if not icase else _case_variants(run)[min(variant_i, len(_case_variants(run)) - 1)]
                        keys |= _candidate_keys(r)
                    units.append((keys, (pi, variant.encode("utf-8"))))
                    lits.append(variant.encode("utf-8"))
            patterns.append(Pattern(si, regex, lits, icase))
    for k in ERRORISH_KEYS:
        units.append(({k}, None))
    return Catalogue(sigs, causes, patterns, unfiltered, units, _common_text(kb))
