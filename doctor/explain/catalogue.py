"""Everything explain matches against, compiled once into rules with literal anchors.

Three layers feed one list of :class:`Rule`, strictest first (the rule's ``tier``):

0. exact signatures (rules/signatures.toml): real example lines of TensorRT-LLM failures;
1. upstream vocabularies (rules/vocab/*.toml): message patterns and enumerated names;
2. an enumeration's own strings, valid only in the vocabulary's context (a CUDA line for
   "out of memory"), and table look-ups (module -> pip package, soname -> provider);
3. structure: exception classes, terminate, signals (rules/vocab/python-exceptions.toml, ...).

Each rule's regex is reduced to a literal it cannot match without (from the regex's parse
tree), so one multi-literal pass over the raw bytes (doctor.explain.engine) finds the few
lines worth a regex. Regexes are compiled on first use only: most rules never see a
candidate line. The compiled catalogue is cached on disk, keyed by the rules' files.
"""

from __future__ import annotations

import hashlib
import os
import pickle
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

try:  # the regex parser: public in spirit, private in name (stable since Python 3.0)
    from re import _constants as sre_c  # type: ignore[attr-defined]  # Python >= 3.11
    from re import _parser as sre_parse  # type: ignore[attr-defined]
except ImportError:  # pragma: no cover - Python 3.10
    import sre_constants as sre_c  # type: ignore[no-redef]
    import sre_parse  # type: ignore[no-redef]

from doctor.explain.vocab import Vocabulary

CACHE_FORMAT = 3  # bump when Rule/Catalogue change shape
MIN_LITERAL = 3
TIER_SIGNATURE, TIER_MESSAGE, TIER_CONTEXT, TIER_STRUCTURE = 0, 1, 2, 3
STRUCTURAL = ("python", "process")  # table vocabularies that classify by shape (exception class, exit code), not by message

# Text that is everywhere in healthy logs: a literal made of it is a poor anchor (many candidate lines).
COMMON = (
    "[TensorRT-LLM][INFO] [TensorRT-LLM][WARNING] [TRT] [I] [W] [E] NCCL INFO NCCL WARN INFO WARNING "
    "] [TRT] [ TRT] [ peer access Device  success Loading Loaded model rank Rank  GPU  the  is  in  of  to "
    "File \" line  in <module> Traceback (most recent call last) .py\", line  site-packages/ /usr/lib/python "
)

# Lines that look like an error when no rule knows them: kept for the report, and what makes a
# log "failing" for unknown-failure. Their anchors are the few substrings error lines contain.
ERRORISH_LITERALS = ("rror", "RROR", "ailed", "xception", "FATAL", "atal error")
ERRORISH = re.compile(
    r"(?i)\b(?:\w*error|errno|fail(?:ed|ure|s)?|fatal|\w*exception|traceback|killed|abort(?:ed|ing)?|panic|segmentation fault)\b"
    r"|\[E\]|^[EF]\d{4} "
)


@dataclass
class Rule:
    """One matchable thing: a regex over a cleaned log line and what a match means."""

    id: str  # S001, cuda-runtime:cudaErrorIllegalAddress, python-modules:key, ...
    origin: str  # "signature" | "vocab" | "structure"
    mode: str  # "line" (the regex), "text" (an enum string; needs a context), "key" (table look-up), "code" (enum by number)
    pattern: str
    cause: str
    role: str = "root"
    severity: str = "error"
    confidence: str = "high"
    tier: int = TIER_MESSAGE
    vocab: str = ""
    entry: str = ""  # the vocabulary entry's name (enum name, message id)
    component: str = ""
    params: dict[str, str] = field(default_factory=dict)
    note: str = ""
    contexts: tuple[str, ...] = ()
    icase: bool = False
    literals: tuple[str, ...] = ()  # any one must be in the line for the regex to have a chance


@dataclass
class Catalogue:
    rules: list[Rule]
    vocabularies: dict[str, Vocabulary]
    literals: list[tuple[bytes, bool]]  # unique anchors (text, caseless)
    literal_rules: list[list[int]]  # anchor -> rules it stands for
    errorish: set[int]  # anchors that stand for error-looking lines
    fingerprint: str = ""
    _compiled: dict[int, re.Pattern[str]] = field(default_factory=dict, repr=False)
    _contexts: dict[str, re.Pattern[str]] = field(default_factory=dict, repr=False)

    def regex(self, i: int) -> re.Pattern[str]:
        rx = self._compiled.get(i)
        if rx is None:
            rx = self._compiled[i] = re.compile(self.rules[i].pattern)
        return rx

    def context(self, pattern: str) -> re.Pattern[str]:
        rx = self._contexts.get(pattern)
        if rx is None:
            rx = self._contexts[pattern] = re.compile(pattern)
        return rx

    def __getstate__(self) -> dict[str, Any]:
        state = dict(self.__dict__)
        state["_compiled"] = {}
        state["_contexts"] = {}
        return state


# --- required literals from the parse tree -------------------------------------------------------


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
        elif op is sre_c.ASSERT or op is sre_c.ASSERT_NOT:
            continue  # look-arounds add no required text (and a negative one must not)
        else:
            flush()
    flush()
    return clauses


def literal_clauses(pattern: str) -> tuple[list[list[str]], bool]:
    """Every required clause of a pattern with alternatives of 3+ characters, and whether it ignores case."""
    parsed = sre_parse.parse(pattern)
    flags = parsed.state.flags
    clauses = [c for c in _literal_clauses(list(parsed), flags) if c and min(map(len, c)) >= MIN_LITERAL]
    return clauses, bool(flags & re.IGNORECASE)


def required_literals(pattern: str, counts: dict[str, int] | None = None) -> tuple[list[str], list[str], bool]:
    """(the chosen clause's alternatives, every required single run, ignorecase) for one pattern.

    The chosen clause is the rarest in healthy logs (``counts``: occurrences in rules/noise/healthy.log),
    then the one with the longest shortest alternative; without counts, a built-in list of common text.
    """
    clauses, icase = literal_clauses(pattern)
    singles = [c[0] for c in clauses if len(c) == 1]
    if not clauses:
        return [], [], icase

    def cost(clause: list[str]) -> tuple:
        if counts is not None:
            seen = sum(counts.get(a.lower() if icase else a, 0) for a in clause)
        else:
            seen = sum(COMMON.count(a.strip()) if a.strip() else 99 for a in clause)
        return (seen, len(clause), -min(map(len, clause)))

    return min(clauses, key=cost), singles, icase


# --- building ------------------------------------------------------------------------------------


def _word(name: str) -> str:
    return rf"(?<![\w]){re.escape(name)}(?![\w])"


def _rules_from_signatures(kb) -> list[Rule]:
    out = []
    for s in kb.signatures:
        for i, pat in enumerate(s.patterns):
            out.append(Rule(f"{s.id}" + (f"#{i}" if i else ""), "signature", "line", pat, s.cause, s.role, s.severity,
                            s.confidence, TIER_SIGNATURE, entry=s.symbol, note=s.note))
    return out


def _rules_from_vocab(v: Vocabulary) -> list[Rule]:
    out: list[Rule] = []
    struct = v.component in STRUCTURAL and v.kind == "table"
    for e in v.entries:
        base = dict(cause=e.cause, role=e.role, severity=e.severity, vocab=v.id, entry=e.name, component=v.component,
                    params=dict(e.params), note=e.note)
        rid = f"{v.id}:{e.name}"
        if v.kind == "table":
            continue  # matched through the vocabulary's key_patterns below
        for i, pat in enumerate(e.patterns):
            out.append(Rule(rid + (f"#{i}" if i else ""), "vocab", "line", pat, tier=TIER_MESSAGE, **base))
        if v.kind == "enum":
            out.append(Rule(rid + "#name", "vocab", "line", _word(e.name), tier=TIER_MESSAGE, **base))
            if e.text and len(e.text) >= MIN_LITERAL and e.role != "benign":  # a benign value needs no text form
                out.append(Rule(rid + "#text", "vocab", "text", re.escape(e.text), tier=TIER_CONTEXT, confidence="medium",
                                contexts=v.contexts, **base))
    if v.kind == "enum":
        for i, pat in enumerate(v.code_patterns):
            out.append(Rule(f"{v.id}:code#{i}", "vocab", "code", pat, "", tier=TIER_CONTEXT, confidence="medium",
                            vocab=v.id, component=v.component))
    if v.kind == "table":
        tier = TIER_STRUCTURE if struct else TIER_MESSAGE
        for i, pat in enumerate(v.key_patterns):
            out.append(Rule(f"{v.id}:key#{i}", "structure" if struct else "vocab", "key", pat, v.default_cause,
                            v.default_role, tier=tier, confidence="low" if struct else "high", vocab=v.id,
                            component=v.component, params=dict(v.default_params)))
    return out


def _noise_counts(directory: Path, rules: list[Rule]) -> dict[str, int]:
    """How often each candidate anchor occurs in the healthy-log sample (rules/noise/healthy.log)."""
    try:
        sample = (directory / "noise" / "healthy.log").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    lower = sample.lower()
    counts: dict[str, int] = {}
    for r in rules:
        clauses, icase = literal_clauses(r.pattern)
        for clause in clauses:
            for a in clause:
                key = a.lower() if icase else a
                if key not in counts:
                    counts[key] = (lower if icase else sample).count(key)
    return counts


def _attach_literals(rules: list[Rule], counts: dict[str, int] | None) -> None:
    for r in rules:
        alts, _singles, icase = required_literals(r.pattern, counts)
        r.literals = tuple(alts) or ERRORISH_LITERALS  # no literal of its own: it is tried on error-looking lines
        r.icase = icase and bool(alts)


def _fingerprint(directory: Path) -> str:
    from doctor import __version__

    h = hashlib.sha256(f"{CACHE_FORMAT}:{__version__}:{directory}".encode())
    for p in sorted(directory.rglob("*.toml")):
        st = p.stat()
        h.update(f"{p.relative_to(directory)}:{st.st_size}:{st.st_mtime_ns}".encode())
    return h.hexdigest()[:24]


def _cache_path(fingerprint: str) -> Path | None:
    base = os.environ.get("TRTLLM_DOCTOR_CACHE") or os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    if not base or base == "0":
        return None
    return Path(base) / "trtllm-doctor" / f"catalogue-{fingerprint}.pickle"


def build_catalogue(kb) -> Catalogue:
    """Compile signatures + vocabularies into rules and anchors (no regex is compiled here)."""
    rules = _rules_from_signatures(kb)
    vocabularies = {v.id: v for v in kb.vocabularies}
    for v in vocabularies.values():
        rules.extend(_rules_from_vocab(v))
    _attach_literals(rules, _noise_counts(kb.directory, rules) or None)
    literals: list[tuple[bytes, bool]] = []
    index: dict[tuple[bytes, bool], int] = {}
    literal_rules: list[list[int]] = []

    def anchor(text: str, icase: bool) -> int:
        key = (text.lower().encode("utf-8") if icase else text.encode("utf-8"), icase)
        i = index.get(key)
        if i is None:
            i = index[key] = len(literals)
            literals.append(key)
            literal_rules.append([])
        return i

    for ri, r in enumerate(rules):
        for lit in r.literals:
            literal_rules[anchor(lit, r.icase)].append(ri)
    errorish = {anchor(lit, False) for lit in ERRORISH_LITERALS}
    return Catalogue(rules, vocabularies, literals, literal_rules, errorish)


def load_catalogue(kb) -> Catalogue:
    """The compiled catalogue for ``kb``, from the on-disk cache when the rules are unchanged."""
    fp = _fingerprint(kb.directory)
    path = _cache_path(fp)
    if path is not None:
        try:
            with path.open("rb") as fh:
                cat = pickle.load(fh)
            if isinstance(cat, Catalogue) and cat.fingerprint == fp:
                return cat
        except (OSError, EOFError, pickle.UnpicklingError, AttributeError, ImportError, TypeError, ValueError):
            pass
    cat = build_catalogue(kb)
    cat.fingerprint = fp
    if path is not None:
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            tmp = path.with_suffix(f".{os.getpid()}.tmp")
            with tmp.open("wb") as fh:
                pickle.dump(cat, fh, protocol=pickle.HIGHEST_PROTOCOL)
            os.replace(tmp, path)
        except OSError:
            pass  # a read-only home is fine: the catalogue is rebuilt next time
    return cat
