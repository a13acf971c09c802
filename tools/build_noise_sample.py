#!/usr/bin/env python3
"""Rebuild rules/noise/healthy.log: lines of healthy runs, for choosing rare anchor literals.

explain anchors every rule on one literal the rule cannot match without; among the candidates it
takes the one that is rarest in healthy logs, so the one pass over a log stops at few lines. This
script concatenates the clean logs of the fixture corpora (each labelled "none" in its INDEX.toml:
successful TensorRT-LLM, Triton, NCCL, MPI, pip, collect_env and nvidia-smi output from public
threads and from the H200 fault lab) into that sample, with a header naming each source.

    python3 tools/build_noise_sample.py
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doctor.kb import tomllib  # noqa: E402

CORPORA = ["fixtures/logs", "fixtures/logs/holdout", "fixtures/logs/holdout/fresh",
           "fixtures/logs/eval/h200-faultlab", "fixtures/logs/eval/public-p1", "fixtures/logs/eval/public-p2", "fixtures/logs/eval/public-p3",
           "fixtures/logs/eval/public-p4"]
MAX_LINE = 2000


def main() -> int:
    out = [b"# Healthy log lines (explain's anchor-rarity sample), rebuilt by tools/build_noise_sample.py from:\n"]
    body = []
    for c in CORPORA:
        index = tomllib.loads((ROOT / c / "INDEX.toml").read_text(encoding="utf-8"))["log"]
        for e in index:
            if e["expected_cause"] != "none":
                continue
            out.append(f"#   {c}/{e['file']} ({e.get('source', '')})\n".encode())
            for line in (ROOT / c / e["file"]).read_bytes().splitlines(keepends=True):
                body.append(line[:MAX_LINE] if len(line) > MAX_LINE else line)
    path = ROOT / "rules" / "noise" / "healthy.log"
    path.write_bytes(b"".join(out) + b"".join(body))
    print(f"wrote {path}: {len(body)} lines, {path.stat().st_size} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main())
