"""The catalogue as an adapter table (flake8's habit): every upstream entry mapped, every real example
recognised by its own rule through the whole engine, every fix filled without a placeholder.

The vocabularies (rules/vocab/*.toml) are upstream enumerations and message families; for an
enumeration the file must hold every value the source has (``source_count``), each mapped to a cause.
"""

from __future__ import annotations

import io
import re

import pytest

from doctor.explain.catalogue import load_catalogue, required_literals
from doctor.explain.graph import ALIASES
from doctor.explain.matcher import Scanner
from doctor.explain.reader import clean_line
from doctor.kb import KB, KBError

KBASE = KB()
SIGS = KBASE.signatures
VOCABS = KBASE.vocabularies
EXAMPLES = [(s, i, ex["line"]) for s in SIGS for i, ex in enumerate(s.examples)]
VOCAB_EXAMPLES = [(v, e, i, ex) for v in VOCABS for e in v.entries for i, ex in enumerate(e.examples)]
PLACEHOLDER = re.compile(r"<[A-Za-z_][\w .-]*>|\{[A-Za-z_]\w*\}|\[\?|\?\]")
ENUMS_REQUIRED = {"cuda-runtime", "cuda-driver", "nvrtc", "cublas", "cudnn", "xid", "nccl", "tensorrt"}


@pytest.fixture(scope="module")
def catalogue():
    return load_catalogue(KBASE)


def scan_line(catalogue, line: str) -> Scanner:
    scanner = Scanner(catalogue)
    scanner.scan_stream("example", io.BytesIO(b"noise before\n" + line.encode("utf-8") + b"\nnoise after\n"))
    return scanner


# --- signatures (layer 1) -------------------------------------------------------------------------


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
def test_signature_example_matches_its_signature_through_the_scanner(catalogue, sig, i, line):
    scanner = scan_line(catalogue, line)
    found = {catalogue.rules[a.rule].id.split("#")[0]: a for a in scanner.aggs.values()}
    assert sig.id in found, f"{sig.id} example {i} not recognised: {line!r}"
    assert found[sig.id].line == 2


@pytest.mark.parametrize("sig,i,line", EXAMPLES, ids=[f"{s.id}-{i}" for s, i, _ in EXAMPLES])
def test_signature_example_matches_no_other_signature_cause(sig, i, line):
    text, _ = clean_line(line.encode("utf-8"))
    others = [o.id for o in SIGS if o.cause != sig.cause and any(re.search(p, text) for p in o.patterns)]
    assert not others, f"{sig.id} example {i} also matches {others} (another cause)"


def test_every_rule_has_an_anchor_literal(catalogue):
    for r in catalogue.rules:
        assert r.literals and min(map(len, r.literals)) >= 3, f"{r.id}: no literal of 3+ characters in {r.pattern!r}"


def test_retired_ids_are_not_reused():
    data = KBASE._load("signatures.toml")
    assert "S064" in data["retired"] and not any(s.id in data["retired"] for s in SIGS)


# --- vocabularies (layer 2) -------------------------------------------------------------------------


def test_vocabulary_sizes_and_mapped_share(capsys):
    """Prints each vocabulary's size and the share mapped to a specific cause (the enumerations: 100% mapped)."""
    generic = {c.id for c in KBASE.causes.values() if c.generic}
    rows = []
    for v in VOCABS:
        n = len(v.entries)
        mapped = sum(1 for e in v.entries if e.cause in KBASE.causes or (e.cause == "none" and e.role == "benign"))
        specific = sum(1 for e in v.entries if e.cause in KBASE.causes and e.cause not in generic)
        rows.append((v.id, v.kind, n, mapped, specific))
        assert mapped == n, f"{v.id}: {n - mapped} entries without a cause"
        if v.kind == "enum" and v.source_count is not None:
            assert n == v.source_count, f"{v.id}: {n} entries, the upstream enumeration has {v.source_count}"
    with capsys.disabled():
        print("\nvocabulary            kind      entries  mapped  specific")
        for vid, kind, n, mapped, specific in rows:
            print(f"{vid:21} {kind:9} {n:7}  {mapped / n:6.0%}  {specific / n:7.0%}")
    assert {v.id for v in VOCABS} >= ENUMS_REQUIRED
    assert sum(r[2] for r in rows) >= 2000


@pytest.mark.parametrize("vid", sorted(ENUMS_REQUIRED))
def test_enumerations_are_complete(vid):
    v = next(v for v in VOCABS if v.id == vid)
    assert v.kind == "enum" and v.source_count == len(v.entries) and v.source
    by_code: dict[int, set[str]] = {}
    for e in v.entries:
        if e.code is not None:
            by_code.setdefault(e.code, set()).add(e.cause)
    clash = {c: causes for c, causes in by_code.items() if len(causes) > 1}
    assert not clash, f"{vid}: one code, several causes (aliases must agree): {clash}"


@pytest.mark.parametrize("v,e,i,line", VOCAB_EXAMPLES, ids=[f"{v.id}:{e.name}-{i}" for v, e, i, _ in VOCAB_EXAMPLES])
def test_vocabulary_example_is_recognised_through_the_engine(catalogue, v, e, i, line):
    """Every real example reaches its own entry: the engine finds an anchor of one of the entry's rules in the raw
    line, and that rule (regex, context, table look-up) matches the cleaned line with the entry's cause."""
    scanner = Scanner(catalogue)
    raw = line.encode("utf-8")
    anchors = {a for _, a in scanner.engine.scan(raw)}
    rules = {ri for a in anchors if a < len(catalogue.literal_rules) for ri in catalogue.literal_rules[a]}
    text, _ = clean_line(raw)
    hits = []
    for ri in rules:
        r = catalogue.rules[ri]
        if r.vocab != v.id or (v.kind != "table" and r.mode != "code" and r.entry != e.name):
            continue
        m = scanner._try(ri, r, text)
        if m is not None:
            hits.append((m.label, m.cause))
    assert (e.name, e.cause) in hits, f"{v.id}:{e.name} example not recognised: {line!r} (got {hits})"


def test_table_lookups():
    by = {v.id: v for v in VOCABS}
    assert by["python-modules"].lookup("tensorrt_llm.bindings").cause in ("trtllm-not-installed", "examples-version-mismatch")
    assert by["shared-libs"].lookup("libmpi.so.40").params["provider"].startswith("Open MPI")
    assert by["python-exceptions"].lookup("cupy.cuda.memory.OutOfMemoryError").cause == "runtime-oom"
    assert by["exit-codes"].lookup("137").cause == "host-oom-killed"


def test_cxx_symbols_are_demangled_and_owned():
    from doctor.explain.demangle import demangle

    assert demangle("_ZN3c104cuda29warn_or_error_on_sync_removedEi") == "c10::cuda::warn_or_error_on_sync_removed(int)"
    assert demangle("_ZTIN3c105ErrorE") == "c10::Error"
    assert demangle("ncclCommInitRankConfig") == "ncclCommInitRankConfig"
    assert demangle("_Zgarbage") == "_Zgarbage"
    cxx = next(v for v in VOCABS if v.id == "cxx-namespaces")
    assert cxx.lookup(demangle("_ZN12tensorrt_llm7runtime19setPeerAccessLegacyEi")).cause == "trtllm-bindings-mismatch"
    assert cxx.lookup(demangle("_ZNK8nvinfer17IPlugin3getEv")).cause == "tensorrt-abi-mismatch"


# --- fixes (one text per cause, no placeholder ever shown) ----------------------------------------


@pytest.mark.parametrize("cause", sorted(KBASE.causes), ids=str)
def test_every_fix_renders_without_placeholders(cause):
    c = KBASE.causes[cause]
    assert not PLACEHOLDER.search(c.fix_for({})), c.fix_for({})
    fields = set(re.findall(r"\{([a-zA-Z_]\w*)\}", c.fix))
    full = c.fix_for({f: f"VALUE_{f}" for f in fields})
    assert not PLACEHOLDER.search(full), full
    for f in fields:
        assert f"VALUE_{f}" in full, f"{cause}: field {f} never shown"


def test_every_vocabulary_entry_fills_its_fix_without_placeholders():
    for v in VOCABS:
        sets = [(e.name, e.cause, e.params) for e in v.entries if e.cause != "none"]
        if v.default_cause:
            sets.append(("(default)", v.default_cause, v.default_params))
        for name, cause, params in sets:
            text = KBASE.causes[cause].fix_for({k: x.replace("{key}", "KEY") for k, x in params.items()})
            assert not PLACEHOLDER.search(text), f"{v.id}:{name}: {text}"


def test_missing_libmpi_fix_talks_about_mpi_only():
    from tests.conftest import explain_bytes

    report = explain_bytes(b"ImportError: libmpi.so.40: cannot open shared object file: No such file or directory\n")
    (f,) = report.findings
    assert f.category == "missing-shared-library" and "Open MPI" in f.fix
    for other in ("libcuda", "libnvinfer", "libcudart", "libpython", "driver"):
        assert other not in f.fix, other


def test_fix_is_filled_from_the_log():
    from tests.conftest import explain_bytes

    report = explain_bytes(b"[03/27/2024-11:09:02] [TRT] [E] 6: The engine plan file is generated on an incompatible device, "
                           b"expecting compute 8.0 got compute 8.9, please rebuild.\n")
    (f,) = report.findings
    assert f.category == "engine-gpu-mismatch" and f.params["engine_sm"] == "80" and f.params["gpu_sm"] == "89"
    assert "built for SM 80, this GPU is SM 89" in f.fix
    oom = explain_bytes(b"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 24.00 GiB. GPU 3 has a total capacity of "
                        b"79.19 GiB of which 1.02 GiB is free. Including non-PyTorch memory, this process has 78.16 GiB memory in use.\n")
    assert "It asked for 24.00 GiB on GPU 3, which has 79.19 GiB in all and 1.02 GiB free" in oom.findings[0].fix


def test_aliases_name_fix_fields():
    fields = {f for c in KBASE.causes.values() for f in re.findall(r"\{([a-zA-Z_]\w*)\}", c.fix + " ".join(c.defaults.values()))}
    assert set(ALIASES.values()) <= fields


# --- validation of the data itself ------------------------------------------------------------------


def test_bad_vocabulary_names_file_entry_and_key(tmp_path):
    import shutil

    for f in ("causes.toml", "signatures.toml", "cause-graph.toml", "components.toml"):
        shutil.copy(KBASE.directory / f, tmp_path / f)
    (tmp_path / "vocab").mkdir()
    (tmp_path / "vocab" / "odd.toml").write_text("""schema = 1
[vocab]
id = "odd"
title = "t"
component = "x"
kind = "messages"
source = "s"
[[entry]]
name = "one"
cause = "no-such-cause"
patterns = ['abc(']
examples = ['abc']
example_sources = ['s']
""")
    with pytest.raises(KBError) as exc:
        KB(tmp_path).vocabularies
    msg = str(exc.value)
    assert "odd.toml: entry[0] (one): key 'cause'" in msg and "regex does not compile" in msg


def test_bad_cause_fix_with_an_unfillable_field_is_refused(tmp_path):
    (tmp_path / "causes.toml").write_text('schema = 1\n[[cause]]\nid = "x"\ntitle = "t"\nfix = "Run {cmd} now."\ndocs = "https://d"\n')
    with pytest.raises(KBError, match="cmd must be in an optional"):
        KB(tmp_path).causes


def test_cause_graph_is_valid_and_acyclic_where_it_matters():
    graph = KBASE.cause_graph
    for cause, explains in graph.items():
        assert cause in KBASE.causes and explains <= set(KBASE.causes)
        for e in explains:
            assert cause not in graph.get(e, set()), f"{cause} and {e} explain each other"


def test_required_literals_of_a_pattern():
    alts, singles, icase = required_literals(r"CUDA out of memory\. Tried to allocate (?P<size>\S+)")
    assert alts == ["CUDA out of memory. Tried to allocate "] and not icase
