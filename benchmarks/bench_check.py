"""Benchmark `trtllm-doctor check`: wall time of a live check and of `check --snapshot`,
each against a bare `python -c pass` on the same machine. Prints the ratios.

    python benchmarks/bench_check.py [--runs 7] [--snapshot fixtures/snapshots/h200-1gpu.json]

Goals (issue 11): live check <= 0.3 s on the H200; check --snapshot <= 10x a bare interpreter start. Byte-compile
first (pip does at install; an image built with PYTHONDONTWRITEBYTECODE=1 and no .pyc pays the compile on every run).
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wall(cmd: list[str], runs: int) -> float:
    """Median wall seconds of `cmd` over `runs` runs (after one warm-up run)."""
    subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
    times = []
    for _ in range(runs):
        start = time.perf_counter()
        subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=ROOT)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--snapshot", default=str(ROOT / "fixtures/snapshots/h200-1gpu.json"))
    args = ap.parse_args()
    py = sys.executable
    bare = wall([py, "-c", "pass"], args.runs)
    offline = wall([py, "-m", "doctor", "check", "--snapshot", args.snapshot], args.runs)
    offline_json = wall([py, "-m", "doctor", "check", "--snapshot", args.snapshot, "--format", "json"], args.runs)
    live = wall([py, "-m", "doctor", "check"], args.runs)
    print(f"python -c pass                 {bare * 1000:7.1f} ms")
    print(f"check --snapshot (human)       {offline * 1000:7.1f} ms   ratio {offline / bare:5.1f}x  (goal <= 10x)")
    print(f"check --snapshot --format json {offline_json * 1000:7.1f} ms   ratio {offline_json / bare:5.1f}x")
    print(f"check (live, this machine)     {live * 1000:7.1f} ms   (goal <= 300 ms on the H200)")


if __name__ == "__main__":
    main()
