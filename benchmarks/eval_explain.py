#!/usr/bin/env python3
"""Evaluate `trtllm-doctor explain` on a labelled corpus of logs.

    python benchmarks/eval_explain.py DIR [DIR...] [--json] [--quiet] [--doctor CHECKOUT]

Each DIR holds log files and an INDEX.toml of ``[[log]]`` tables with ``file`` and
``expected_cause`` (a cause id, or "none" for a clean log), optionally ``also_acceptable``
(other causes the labeller accepted) and ``evidence`` (the line that proves the root cause).
Sub-folders with their own INDEX.toml are separate corpora only when given on the command line.

Printed per corpus:
- root-cause-first accuracy on failing logs: the first error finding (or, when there is no error,
  the first warning) names the expected cause;
- false alarms on clean logs: clean logs with any error finding;
- evidence agreement, where the index gives the proving line: the first finding's evidence is
  that line (or the line is a substring of it, or it of the line);
- the misses (file, expected, got, the evidence quoted), unless --quiet.

``--doctor CHECKOUT`` evaluates another checkout of the project (e.g. an older commit in a git
worktree), for before/after figures on the same corpus.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent.parent


def _load_index(folder: Path) -> list[dict]:
    try:
        import tomllib
    except ImportError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]
    data = tomllib.loads((folder / "INDEX.toml").read_text(encoding="utf-8"))
    return data.get("log", [])


def _norm(s: str) -> str:
    return " ".join(s.split()).strip()


def evaluate(folder: Path, run_explain, severity_error, severity_warning) -> dict:
    rows = []
    t0 = time.perf_counter()
    for entry in _load_index(folder):
        path = folder / entry["file"]
        expected = entry["expected_cause"]
        accept = {expected, *entry.get("also_acceptable", [])}
        try:
            report = run_explain([str(path)])
        except Exception as exc:  # a crash is a miss, and is shown
            rows.append({"file": entry["file"], "expected": expected, "got": f"CRASH {type(exc).__name__}: {exc}",
                         "ok": False, "clean": expected == "none", "errors": 1, "evidence": ""})
            continue
        errors = [f for f in report.findings if f.severity == severity_error]
        warnings = [f for f in report.findings if f.severity == severity_warning]
        first = errors[0] if errors else (warnings[0] if warnings else None)
        got = first.category if first else "none"
        clean = expected == "none"
        ok = (not errors) if clean else (got in accept)
        row = {"file": entry["file"], "expected": expected, "got": got, "ok": ok, "clean": clean,
               "errors": len(errors), "evidence": (first.evidence if first else "")[:200]}
        want = entry.get("evidence", "")
        if want and first and not clean:
            a, b = _norm(want), _norm(first.evidence)
            row["evidence_ok"] = bool(a and b and (a in b or b in a or a[:60] == b[:60]))
        rows.append(row)
    failing = [r for r in rows if not r["clean"]]
    clean = [r for r in rows if r["clean"]]
    ev = [r for r in failing if "evidence_ok" in r]
    return {
        "corpus": str(folder),
        "logs": len(rows),
        "failing": len(failing),
        "right_first": sum(r["ok"] for r in failing),
        "accuracy": round(sum(r["ok"] for r in failing) / len(failing), 4) if failing else None,
        "clean": len(clean),
        "false_alarms": sum(not r["ok"] for r in clean),
        "evidence_checked": len(ev),
        "evidence_right": sum(r["evidence_ok"] for r in ev),
        "seconds": round(time.perf_counter() - t0, 2),
        "misses": [r for r in rows if not r["ok"]],
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("dirs", nargs="+", type=Path)
    ap.add_argument("--json", action="store_true", help="print the results as JSON")
    ap.add_argument("--quiet", action="store_true", help="figures only, no list of misses (for sealed corpora)")
    ap.add_argument("--doctor", type=Path, default=HERE, help="the checkout whose explain to evaluate (default: this one)")
    args = ap.parse_args()
    sys.path.insert(0, str(args.doctor.resolve()))
    from doctor.commands.explain import run_explain  # noqa: E402

    try:
        from doctor.report import Severity  # noqa: E402
    except ImportError:  # checkouts before the rename (doctor/model.py)
        from doctor.model import Severity  # type: ignore[no-redef]  # noqa: E402

    results = [evaluate(d, run_explain, Severity.ERROR, Severity.WARNING) for d in args.dirs]
    if args.json:
        if args.quiet:
            for r in results:
                r.pop("misses")
        print(json.dumps(results, indent=1))
        return 0
    for r in results:
        acc = f"{r['accuracy']:.1%}" if r["accuracy"] is not None else "n/a"
        print(f"{r['corpus']}: {r['right_first']}/{r['failing']} failing logs right first ({acc}); "
              f"false alarms {r['false_alarms']}/{r['clean']} clean logs; "
              f"evidence {r['evidence_right']}/{r['evidence_checked']}; {r['seconds']} s")
        if not args.quiet:
            for m in r["misses"]:
                print(f"  MISS {m['file']}: expected {m['expected']}, got {m['got']} (errors: {m['errors']})")
                if m["evidence"]:
                    print(f"       quoted: {m['evidence'][:160]}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
