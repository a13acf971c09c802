"""Root-cause rate of `explain` on the evaluation corpora (real logs it was not written from).

- fixtures/logs/holdout, holdout/fresh: public logs collected after the first catalogue;
- fixtures/logs/eval/h200-faultlab: real failures produced on an H200 by fault injection (tools/faultlab.py);
- fixtures/logs/eval/public-p1: public logs collected before the vocabularies were built;
- fixtures/logs/eval/public-p2: public logs sealed until the engine was finished (79% before tuning on it);
- fixtures/logs/eval/public-p3: non-GitHub pages (Hugging Face, pastebin, blogs), sealed until the end (75.5% before tuning);
- fixtures/logs/eval/public-p4: public GitHub threads not cited before (27 of the 68 from TensorRT-LLM deployments), sealed
  until measured (73.3% before tuning);
- fixtures/logs/eval/public-p5: public threads not cited before, collected 2026-12-02 and sealed until measured
  (34/41, 82.9% before tuning; 41/41 after: lower-case ENOSPC, opal_init, device asserts in operator(), a wrapped watchdog line, pre-21 pip wording, a ModelOpt export vocabulary, the stub sdist as context).

Each was measured before it was used for tuning (the figures are in the issue notes and
benchmarks/eval_explain.py prints them); here they guard against regressions: the right root cause
first on at least 90% of the failing logs, and no error on any clean log.
"""

from __future__ import annotations

import pytest

from tests.conftest import FIXTURES, explain_bytes, first_cause, load_index

SETS = [FIXTURES / "logs" / "holdout", FIXTURES / "logs" / "holdout" / "fresh",
        FIXTURES / "logs" / "eval" / "h200-faultlab", FIXTURES / "logs" / "eval" / "public-p1",
        FIXTURES / "logs" / "eval" / "public-p2", FIXTURES / "logs" / "eval" / "public-p3",
        FIXTURES / "logs" / "eval" / "public-p4", FIXTURES / "logs" / "eval" / "public-p5"]


@pytest.mark.parametrize("folder", SETS, ids=lambda p: p.name)
def test_root_cause_rate(folder):
    index = load_index(folder)
    results = []
    for e in index:
        report = explain_bytes((folder / e["file"]).read_bytes())
        errors = [f for f in report.findings if f.severity.value == "error"]
        results.append((e["file"], {e["expected_cause"], *e.get("also_acceptable", [])}, first_cause(report), len(errors)))
    clean = [r for r in results if r[1] == {"none"}]
    failing = [r for r in results if r[1] != {"none"}]
    assert not [r for r in clean if r[3]], f"errors reported on clean logs: {[r for r in clean if r[3]]}"
    misses = [r for r in failing if r[2] not in r[1]]
    rate = 1 - len(misses) / len(failing)
    assert len(failing) >= 16
    assert rate >= 0.9, f"{rate:.0%} right; misses: {misses}"
    silent = [r for r in failing if r[2] == "none"]
    assert not silent, f"failing logs explained as nothing: {silent}"
