"""Time the self-test tiers on this machine: each tier module alone (interpreter start included),
twice, then `trtllm-doctor selftest --tier 1-4` end to end. Prints seconds and the tiers' own figures.

    PYTHONPATH=. python3 benchmarks/selftest_timing.py [tiers...]
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from doctor.selftest import tier
from doctor.selftest.runner import child_env, run_tier


def main(keys: list[str]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        env = child_env(None, tmp)
        total = 0.0
        for key in keys:
            spec = tier(key)
            for attempt in (1, 2):
                t = time.perf_counter()
                res = run_tier(spec, env=env)
                wall = time.perf_counter() - t
                if attempt == 2:
                    total += wall
                print(f"{spec.id} run {attempt}: {res.status} in {wall:.2f} s wall ({res.elapsed_s:.2f} s in runner): "
                      f"{res.figure or res.reason}", flush=True)
                if res.status == "fail":
                    print(res.stderr_tail[-1500:], flush=True)
                for k in ("host_alloc_s", "compile_s", "nvrtc"):
                    if k in res.metrics:
                        print(f"    {k} = {res.metrics[k]}")
        print(f"sum of second runs: {total:.2f} s")
    t = time.perf_counter()
    rc = os.spawnv(os.P_WAIT, sys.executable, [sys.executable, "-m", "doctor", "selftest", "--tier", "1-4", "-f", "json", "-o", os.devnull])
    print(f"trtllm-doctor selftest --tier 1-4: exit {rc}, {time.perf_counter() - t:.2f} s wall")


if __name__ == "__main__":
    main(sys.argv[1:] or ["1", "2", "3", "4"])
