"""Benchmark `trtllm-doctor fleet` on N generated node reports (default 1,000) with corrupt and stale ones.

The reports are made from the fixture machines in fixtures/snapshots/*.json (the GPU
nodes among them), each with its own hostname, creation time and free disk; a few
nodes get another driver or GPU model, some files are truncated or not JSON, some
are days old, and a share are full check reports instead of snapshots.

    .venv/bin/python benchmarks/bench_fleet.py [N] [--keep DIR]

Prints the time to merge in-process (read + parse + cross-node checks), the same
through the CLI (process start included), and the ratio to the 2 s budget.
"""

from __future__ import annotations

import datetime as dt
import json
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

BUDGET_S = 2.0


def make_fleet(dest: Path, n: int = 1000, *, corrupt: int = 10, stale: int = 15, seed: int = 6,
               now: dt.datetime | None = None, check_reports: int = 100) -> dict[str, list[str]]:
    """Write n node reports into dest; return which nodes were made corrupt, stale, or different."""
    from doctor.commands.check import CheckOptions, run_check

    rng = random.Random(seed)
    now = now or dt.datetime.now(dt.timezone.utc)
    snaps = sorted((ROOT / "fixtures" / "snapshots").glob("*.json"))
    base = None
    for p in snaps:  # the fleet's machine: the multi-GPU H200 fixture, else any GPU machine
        data = json.loads(p.read_text())
        if data["gpus"]["gpus"] and (base is None or p.stem == "h200-2gpu-nvlink"):
            base, base_path = data, p
    other = next(json.loads(p.read_text()) for p in snaps if p.stem == "h100-pcie") if (ROOT / "fixtures/snapshots/h100-pcie.json").exists() else None
    check_doc = json.loads(json.dumps(run_check(CheckOptions(snapshot=base_path)).to_dict(), default=str))
    dest.mkdir(parents=True, exist_ok=True)
    picks = rng.sample(range(n), corrupt + stale + 4)
    bad, old = set(picks[:corrupt]), set(picks[corrupt:corrupt + stale])
    odd_driver, odd_gpu = picks[-4:-2], picks[-2:]
    made = {"corrupt": [], "stale": [], "odd_driver": [], "odd_gpu": []}
    for i in range(n):
        name = f"gpu{i:04d}"
        path = dest / f"{name}.json"
        if i in bad:
            path.write_text(rng.choice(['{"schema_version": 1, "platform": {"host', "not json at all\n", "[1, 2, 3]", ""]))
            made["corrupt"].append(name)
            continue
        facts = json.loads(json.dumps(other if (i in odd_gpu and other) else base))
        facts["platform"]["hostname"] = name
        age = dt.timedelta(days=rng.uniform(2, 30)) if i in old else dt.timedelta(minutes=rng.uniform(0, 120))
        facts["created"] = (now - age).isoformat(timespec="seconds")
        for d in facts["host"]["disks"]:
            d["free_bytes"] = rng.randrange(100, 4000) * 2**30
        for g in facts["gpus"]["gpus"]:
            g["uuid"] = f"GPU-{rng.getrandbits(64):016x}"
        if i in odd_driver:
            facts["driver"]["version"] = "535.183.01"
            made["odd_driver"].append(name)
        if i in odd_gpu and other:
            made["odd_gpu"].append(name)
        if i in old:
            made["stale"].append(name)
        doc = facts
        if i < check_reports:
            doc = dict(check_doc, facts=facts)
        path.write_text(json.dumps(doc, indent=2))
    return made


def main(argv: list[str]) -> int:
    n = int(argv[0]) if argv and argv[0].isdigit() else 1000
    keep = argv[argv.index("--keep") + 1] if "--keep" in argv else None
    folder = Path(keep) if keep else Path(tempfile.mkdtemp(prefix="fleet-bench-"))
    t0 = time.perf_counter()
    made = make_fleet(folder, n)
    gen_s = time.perf_counter() - t0
    size = sum(p.stat().st_size for p in folder.glob("*.json"))
    print(f"generated {n} reports ({size / 2**20:.1f} MiB; {len(made['corrupt'])} corrupt, {len(made['stale'])} stale, "
          f"{len(made['odd_driver'])} odd driver, {len(made['odd_gpu'])} odd GPU) in {gen_s:.2f} s at {folder}")

    from doctor.commands.fleet import FleetOptions, run_fleet
    from doctor.render import render

    runs = []
    for _ in range(5):
        t0 = time.perf_counter()
        report = run_fleet(FleetOptions(reports=[str(folder)]))
        render(report, "json")
        runs.append(time.perf_counter() - t0)
    best, median = min(runs), sorted(runs)[len(runs) // 2]
    counts = report.extra["fleet"]["counts"]
    print(f"in-process merge + JSON render: best {best:.3f} s, median {median:.3f} s "
          f"({median / n * 1e3:.2f} ms/node); counts {counts}; {len(report.findings)} findings")

    cli = []
    for _ in range(3):
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, "-m", "doctor", "fleet", str(folder), "--format", "json", "-o", "/dev/null"],
                             cwd=ROOT, capture_output=True, text=True)
        cli.append(time.perf_counter() - t0)
    cli_median = sorted(cli)[1]
    print(f"CLI `trtllm-doctor fleet DIR --format json` (process start included): median {cli_median:.3f} s, exit {res.returncode}")
    print(f"ratio to the {BUDGET_S:.0f} s budget: in-process {median / BUDGET_S:.2f}, CLI {cli_median / BUDGET_S:.2f} "
          f"({'within' if cli_median < BUDGET_S else 'OVER'} budget)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
