#!/usr/bin/env python3
"""Benchmark `trtllm-doctor explain` on a large log, against `grep -c -E -f` with 22 patterns.

Builds a log of --size MiB (default 256) from real lines: every clean fixture log (healthy runs:
TensorRT-LLM, Triton, NCCL INFO, nvidia-smi, collect_env, pip) repeated as noise, with real
failures (from fixtures/logs) placed near the end. Runs explain in a child process (wall, CPU,
peak RSS from getrusage of the child), then `grep -c -E -f PATTERNS` over the same file with the
22 error patterns below (what a user would grep a log for), and prints throughput and the ratio.

Goals (issue 9): >= 150 MB/s for a 256 MB log, within 3x of grep, peak RSS <= 150 MB;
`--size 2048` shows that a 2 GB log stays in bounded memory.

    python benchmarks/bench_explain.py [--size 256] [--runs 3] [--dir /tmp] [--keep] [--engine hyperscan|find]
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "fixtures" / "logs"

# What a user greps a failure log for: 22 extended regexes.
GREP_PATTERNS = [
    "out of memory", "CUDA error", "NCCL WARN", r"Traceback \(most recent call last\)", "[A-Za-z]+Error:",
    "Segmentation fault", "Killed", "No space left on device", "cannot open shared object file", "undefined symbol",
    "No module named", "MPI_ABORT", "Assertion failed", r"\[TensorRT-LLM\]\[ERROR\]", "illegal memory access",
    "device-side assert", "No matching distribution", "Connection refused", "timed out", "GLIBC_[0-9.]+' not found",
    "terminate called after throwing", "ERROR",
]
# Failures placed near the end: (fixture, the cause explain must report first).
PLANTED = [("build-oom-llama2-13b-trtllm-346.log", "build-oom"), ("eval/h200-faultlab/nccl-duplicate-gpu.log", "gpu-shared-by-ranks")]


def noise() -> bytes:
    parts = [p.read_bytes() for p in sorted(LOGS.glob("clean-*.log"))]
    parts += [p.read_bytes() for p in sorted((LOGS / "eval" / "h200-faultlab").glob("clean-*.log"))]
    return b"".join(p if p.endswith(b"\n") else p + b"\n" for p in parts)


def build_log(path: Path, size: int) -> None:
    block = noise()
    block = block * max(1, (8 << 20) // len(block))
    errors = b"".join((LOGS / f).read_bytes().rstrip(b"\n") + b"\n" for f, _ in PLANTED)
    target = int(size * 0.98)
    with path.open("wb") as fh:
        written = 0
        while written < target:
            written += fh.write(block[: target - written])
        fh.write(errors)
        written += len(errors)
        while written < size:
            written += fh.write(block[: size - written])


def run_child(cmd: list[str], env=None) -> tuple[float, float, float, subprocess.CompletedProcess]:
    """Each measurement in its own child of a fresh `python -c` so RUSAGE_CHILDREN is that run's alone."""
    probe = ("import json,os,resource,subprocess,sys,time;"
             "t=time.perf_counter();p=subprocess.run(sys.argv[1:],capture_output=True);w=time.perf_counter()-t;"
             "u=resource.getrusage(resource.RUSAGE_CHILDREN);"
             "sys.stdout.write(json.dumps({'wall':w,'cpu':u.ru_utime+u.ru_stime,'rss':u.ru_maxrss/1024,'rc':p.returncode,"
             "'out':p.stdout.decode(errors='replace')[:200000],'err':p.stderr.decode(errors='replace')[-2000:]}))")
    res = subprocess.run([sys.executable, "-c", probe, *cmd], capture_output=True, env=env, cwd=ROOT)
    d = json.loads(res.stdout)
    return d["wall"], d["cpu"], d["rss"], subprocess.CompletedProcess(cmd, d["rc"], d["out"], d["err"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=float, default=256, help="log size in MiB (default 256)")
    ap.add_argument("--runs", type=int, default=3)
    ap.add_argument("--dir", default=None)
    ap.add_argument("--keep", action="store_true")
    ap.add_argument("--engine", choices=["hyperscan", "find"], default=None, help="force an engine (default: the best installed)")
    args = ap.parse_args()
    if shutil.which("grep") is None:
        print("grep not found", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-explain-", dir=args.dir))
    log = tmp / "big.log"
    size = int(args.size * (1 << 20))
    env = dict(os.environ)
    if args.engine == "find":
        env["TRTLLM_DOCTOR_ENGINE"] = "find"
    try:
        t = time.perf_counter()
        build_log(log, size)
        mb = log.stat().st_size / 1e6
        print(f"log: {log} ({log.stat().st_size / 2**20:.0f} MiB = {mb:.0f} MB, built in {time.perf_counter() - t:.1f} s)")
        subprocess.run(["cat", str(log)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache for both
        pfile = tmp / "PATTERNS"
        pfile.write_text("\n".join(GREP_PATTERNS) + "\n")
        ex, gr = [], []
        for _ in range(args.runs):
            wall, cpu, rss, proc = run_child([sys.executable, "-m", "doctor", "explain", str(log), "--format", "json"], env)
            if proc.returncode not in (0, 1):
                print(proc.stderr, file=sys.stderr)
                return 1
            ex.append((wall, cpu, rss))
            report = json.loads(proc.stdout)
            gwall, gcpu, _, gproc = run_child(["grep", "-c", "-E", "-f", str(pfile), str(log)])
            gr.append((gwall, gcpu))
        first = [(f["category"], f["line"]) for f in report["findings"][:3]]
        want = {c for _, c in PLANTED}
        got = {f["category"] for f in report["findings"] if f["severity"] == "error"}
        wall = statistics.median(w for w, _, _ in ex)
        gwall = statistics.median(w for w, _ in gr)
        rss = max(r for _, _, r in ex)
        print(f"explain ({report['extra'].get('engine')}): wall min/median/max {min(w for w,_,_ in ex):.2f}/{wall:.2f}/"
              f"{max(w for w,_,_ in ex):.2f} s, cpu {statistics.median(c for _, c, _ in ex):.2f} s, peak RSS {rss:.0f} MiB; "
              f"errors found: {sorted(got)} (planted: {sorted(want)}); first findings {first}")
        print(f"grep -c -E -f PATTERNS ({len(GREP_PATTERNS)} patterns): wall min/median/max {min(w for w,_ in gr):.2f}/{gwall:.2f}/"
              f"{max(w for w,_ in gr):.2f} s, {gproc.stdout.strip()} matching lines")
        print(f"throughput {mb / wall:.0f} MB/s (goal >= 150); ratio explain/grep {wall / gwall:.2f} (goal <= 3); "
              f"peak RSS {rss:.0f} MiB (goal <= 150); planted causes found: {want <= got}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
