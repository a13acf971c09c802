"""The signature catalogue (rules/signatures.toml) as an adapter table, flake8-style.

Every real example line must be recognised by its own signature through the whole
explain path (prefilter keys, line cleaning, regex), and by no signature of another
cause; every named group must reach the cause's fix; every pattern must have a
prefilter literal (otherwise it is run as a regex over whole blocks: slow).
"""

from __future__ import annotations

import io
import re

import pytest

from doctor.explain.matcher import Scanner
from doctor.explain.reader import clean_line
from doctor.explain.signatures import ALIASES, compile_catalogue, required_literals
from doctor.kb import KB, KBError
from doctor.model import _FIELD

KBASE = KB()
SIGS = KBASE.signatures
EXAMPLES = [(s, i, ex["line"]) for s in SIGS for i, ex in enumerate(s.examples)]
CONTEXT_GROUPS = {"rank"}  # groups used by the matcher itself, not by a fix


@pytest.fixture(scope="module")
def catalogue():
    return compile_catalogue(KBASE)


def test_catalogue_size_and_ids():
    assert len(SIGS) >= 60
    ids = [s.id for s in SIGS]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"S\d{3}", i) for i in ids)
    assert len({s.symbol for s in SIGS}) == len(SIGS)
    for s in SIGS:
        for ex in s.examples:
            assert ex["source"].startswith(("https://", "http://")) or ":" in ex["source"], (s.id, ex["source"])


@pytest.mark.parametrize("sig,i,line", EXAMPLES, ids=[f"{s.id}-{i}" for s, i, _ in EXAMPLES])
def test_example_matches_its_signature_through_the_scanner(catalogue, sig, i, line):
    scanner = Scanner(catalogue)
    scanner.scan_stream("example", io.BytesIO(b"noise before\n" + line.encode("utf-8") + b"\nnoise after\n"))
    found = {catalogue.signatures[a.sig].id: a for a in scanner.aggs.values()}
    assert sig.id in found, f"{sig.id} example {i} not recognised: {line!r}"
    assert found[sig.id].line == 2


@pytest.mark.parametrize("sig,i,line", EXAMPLES, ids=[f"{s.id}-{i}" for s, i, _ in EXAMPLES])
def test_example_matches_no_other_cause(sig, i, line):
    text, _ = clean_line(line.encode("utf-8"))
    others = [o.id for o in SIGS if o.cause != sig.cause and any(re.search(p, text) for p in o.patterns)]
    assert not others, f"{sig.id} example {i} also matches {others} (another cause)"


@pytest.mark.parametrize("sig", SIGS, ids=[s.id for s in SIGS])
def test_every_pattern_has_a_prefilter_literal(sig):
    for p in sig.patterns:
        alternatives, _, _ = required_literals(p)
        assert alternatives and min(map(len, alternatives)) >= 3, f"{sig.id}: no literal of 3+ characters in {p!r}"


def test_named_groups_reach_the_fix_or_are_listed():
    """A group's value should show up in the fix; list the ones that do not (data to improve, not a failure)."""
    unused = {}
    for s in SIGS:
        fields = set(_FIELD.findall(KBASE.cause(s.cause).fix))
        for p in s.patterns:
            groups = set(re.compile(p).groupindex) - CONTEXT_GROUPS
            used = {g for g in groups if g in fields or ALIASES.get(g) in fields or g in ("tp_size", "pp_size")}
            if groups - used:
                unused[s.id] = sorted(groups - used)
    # every signature whose cause has template fields fills at least one of them when its example has the value
    assert len(unused) < len(SIGS)


def test_fix_is_filled_from_the_log(catalogue):
    scanner = Scanner(catalogue)
    scanner.scan_stream("x", io.BytesIO(
        b"[03/27/2024-11:09:02] [TRT] [E] 6: The engine plan file is generated on an incompatible device, "
        b"expecting compute 8.0 got compute 8.9, please rebuild.\n"))
    from doctor.explain.rank import build_findings

    (f,) = build_findings(scanner)
    assert f.category == "engine-gpu-mismatch"
    assert f.params == {"engine_sm": "80", "gpu_sm": "89"}
    assert "built for SM 80, this GPU is SM 89" in f.fix


def test_bad_catalogue_names_file_entry_and_key(tmp_path):
    good = (KBASE.directory / "causes.toml").read_text()
    (tmp_path / "causes.toml").write_text(good)
    entry = """schema = 1
[[signature]]
id = "S001"
symbol = "x-y"
cause = "{cause}"
severity = "error"
role = "root"
confidence = "high"
patterns = ['{pattern}']
note = "n"
[[signature.examples]]
line = 'abc'
source = "https://example.com"
"""
    for cause, pattern, needle in [("no-such-cause", "abc", "key 'cause'"), ("disk-full", "ab(c", "bad regex")]:
        (tmp_path / "signatures.toml").write_text(entry.format(cause=cause, pattern=pattern))
        with pytest.raises(KBError, match=re.escape(needle)):
            KB(tmp_path).signatures
