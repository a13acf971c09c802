#!/usr/bin/env python3
"""Benchmark `trtllm-doctor explain` on a large log against `grep -E -f PATTERNS`.

Builds a log of --size GiB (default 1) from real lines: the clean fixture logs repeated
as noise, with a few real failures (from fixtures/logs, per INDEX.toml) placed near the
end. Runs explain in a child process and prints its wall time, CPU time and peak RSS
(resource.getrusage of the child), then the same for grep over the same file with the
catalogue's regexes converted to ERE (named groups dropped, \\d -> [0-9], ...; patterns
grep cannot take are skipped), and the ratio. Goal: ratio <= 3, peak RSS <= 150 MB.

    python benchmarks/bench_explain.py [--size 1] [--dir /tmp] [--keep]
"""

from __future__ import annotations

import argparse
import json
import re
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOGS = ROOT / "fixtures" / "logs"
sys.path.insert(0, str(ROOT))

# Failures placed near the end (fixture file -> the cause explain must report first).
ERRORS = ["build-oom-llama2-13b-trtllm-346.log", "nccl-internal-error-4rank-trtllm-213.log"]
_CLASSES = {"d": "0-9", "w": "[:alnum:]_", "s": "[:space:]"}


def to_ere(pattern: str) -> str | None:
    """A Python regex as POSIX ERE for grep, or None when it has syntax grep lacks."""
    if re.search(r"\(\?[=!<]|\(\?[aiLmsux]+\)|\(\?[aiLmsux-]+:|\\[AZzbB]|[*+?}]\?|\\[1-9]", pattern):
        return None
    out: list[str] = []
    i, in_class = 0, False
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            n = pattern[i + 1]
            if n in _CLASSES:
                out.append(_CLASSES[n] if in_class else f"[{_CLASSES[n]}]")
            elif n in "DWS":
                if in_class:
                    return None
                out.append(f"[^{_CLASSES[n.lower()]}]")
            elif n.isalnum():
                return None  # \t, \n, \x.., \u..: not worth translating
            else:
                if in_class and n in "]\\^-":
                    return None  # an escaped class metacharacter: POSIX classes have no escapes
                out.append(n if in_class else "\\" + n)
            i += 2
            continue
        if in_class:
            in_class = c != "]"
            out.append(c)
            i += 1
            continue
        if c == "[":
            in_class = True
            j = i + 1
            if pattern[j : j + 1] == "^":
                j += 1
            if pattern[j : j + 1] == "]":
                j += 1
            out.append(pattern[i:j])
            i = j
            continue
        if pattern.startswith("(?P<", i):
            out.append("(")
            i = pattern.index(">", i) + 1
            continue
        if pattern.startswith("(?:", i):
            out.append("(")
            i += 3
            continue
        out.append(c)
        i += 1
    return "".join(out)


def grep_patterns() -> tuple[list[str], int]:
    from doctor.kb import KB

    pats = [p for s in KB().signatures for p in s.patterns]
    ok = []
    for p in pats:
        e = to_ere(p)
        if e is not None and subprocess.run(["grep", "-E", "-e", e, "/dev/null"], capture_output=True).returncode != 2:
            ok.append(e)
    return ok, len(pats) - len(ok)


def build_log(path: Path, size: int) -> None:
    noise = b"".join(p.read_bytes() for p in sorted(LOGS.glob("clean-*.log")))
    noise = noise if noise.endswith(b"\n") else noise + b"\n"
    errors = b"".join(((LOGS / f).read_bytes().rstrip(b"\n") + b"\n") for f in ERRORS)
    block = noise * max(1, (8 << 20) // len(noise))
    with path.open("wb") as fh:
        written = 0
        placed = False
        while written < size:
            if not placed and written >= size * 0.98:
                fh.write(errors)
                placed = True
            n = fh.write(block[: size - written])
            written += n
        if not placed:
            fh.write(errors)


def timed(cmd: list[str], **kw) -> tuple[float, float, float, subprocess.CompletedProcess]:
    """(wall s, child CPU s, child peak RSS MiB) of one child; peak RSS is the max over children so far."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    proc = subprocess.run(cmd, **kw)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu, after.ru_maxrss / 1024, proc


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=float, default=1.0, help="log size in GiB (default 1)")
    ap.add_argument("--dir", default=None, help="where to build the log (default: a temp dir)")
    ap.add_argument("--keep", action="store_true", help="keep the log")
    args = ap.parse_args()
    if shutil.which("grep") is None:
        print("grep not found", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="bench-explain-", dir=args.dir))
    log = tmp / "big.log"
    size = int(args.size * (1 << 30))
    try:
        t = time.perf_counter()
        build_log(log, size)
        print(f"log: {log} ({log.stat().st_size / 2**20:.0f} MiB, built in {time.perf_counter() - t:.1f} s)")
        subprocess.run(["cat", str(log)], stdout=subprocess.DEVNULL, check=True)  # warm the page cache for both

        wall, cpu, rss, proc = timed([sys.executable, "-m", "doctor", "explain", str(log), "--format", "json"],
                                     capture_output=True, cwd=ROOT)
        if proc.returncode not in (0, 1):
            print(proc.stderr.decode(errors="replace"), file=sys.stderr)
            return 1
        report = json.loads(proc.stdout)
        first = [f"{f['id']} {f['category']} line {f['line']}" for f in report["findings"][:3]]
        print(f"explain: wall {wall:.2f} s, cpu {cpu:.2f} s, peak RSS {rss:.0f} MiB, exit {proc.returncode}; first findings: {first}")

        pats, skipped = grep_patterns()
        pfile = tmp / "PATTERNS"
        pfile.write_text("\n".join(pats) + "\n")
        gwall, gcpu, _, gproc = timed(["grep", "-c", "-E", "-f", str(pfile), str(log)], capture_output=True)
        print(f"grep -E -f PATTERNS ({len(pats)} patterns, {skipped} skipped): wall {gwall:.2f} s, cpu {gcpu:.2f} s, "
              f"{gproc.stdout.decode().strip()} matching lines")
        print(f"ratio explain/grep: wall {wall / gwall:.2f}, cpu {cpu / max(gcpu, 1e-9):.2f}  (goal <= 3); "
              f"peak RSS {rss:.0f} MiB (goal <= 150)")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
