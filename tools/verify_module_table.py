#!/usr/bin/env python3
"""Check rules/vocab/python-modules.toml against the wheels themselves: does package P ship module M?

explain maps `No module named 'M'` to the pip package that provides M. That mapping is data, and
this script is how it is kept true for the next releases: for every entry it downloads the
package's wheel (`pip download --no-deps --only-binary=:all:`, into a temporary folder), reads
its top_level.txt and RECORD, and reports entries whose module the wheel does not contain.
Packages with no wheel (sdist only, or an index that is not reachable) are listed as unverified.

    python3 tools/verify_module_table.py [--only tensorrt_llm,torch] [--platform manylinux_2_28_x86_64]

Exit 0 when every checked entry is right, 1 when one is wrong. Needs network access to the index.
"""

from __future__ import annotations

import argparse
import pathlib
import subprocess
import sys
import tempfile
import zipfile

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from doctor.kb import tomllib  # noqa: E402


def wheel_modules(package: str, platform: str | None, workdir: str) -> tuple[set[str] | None, str]:
    """The top-level modules a package's wheel installs, or (None, why) when no wheel could be had."""
    with tempfile.TemporaryDirectory(dir=workdir) as td:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", td, package]
        if platform:
            cmd += ["--platform", platform, "--python-version", "3.12"]
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
        wheels = list(pathlib.Path(td).glob("*.whl"))
        if not wheels:
            lines = (proc.stderr or proc.stdout).strip().splitlines()
            return None, lines[-1] if lines else "no wheel"
        mods: set[str] = set()
        with zipfile.ZipFile(wheels[0]) as z:
            for name in z.namelist():
                top = name.split("/", 1)[0]
                if top.endswith(".dist-info"):
                    if name.endswith("/top_level.txt"):
                        mods |= {x.strip() for x in z.read(name).decode().splitlines() if x.strip()}
                    continue
                if top.endswith(".data"):
                    parts = name.split("/")
                    if len(parts) > 2 and parts[1] in ("purelib", "platlib"):
                        mods.add(parts[2].split(".")[0])
                    continue
                mods.add(top.split(".")[0] if "/" not in name else top)
                if name.count("/") >= 2:  # namespace packages (nvidia/x, cuda/bindings, google/protobuf)
                    mods.add(".".join(name.split("/")[:2]))
        return mods, wheels[0].name


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--only", default="", help="comma-separated module keys to check")
    ap.add_argument("--platform", default=None, help="wheel platform tag (default: this machine's)")
    args = ap.parse_args()
    data = tomllib.loads((ROOT / "rules" / "vocab" / "python-modules.toml").read_text(encoding="utf-8"))
    only = {x for x in args.only.split(",") if x}
    wrong = unverified = ok = 0
    cache: dict[str, tuple[set[str] | None, str]] = {}
    with tempfile.TemporaryDirectory() as work:
        for e in data["entry"]:
            key, package = e["key"], e.get("params", {}).get("package", "")
            if only and key not in only:
                continue
            if not package or package.startswith("("):
                print(f"skip   {key}: {package or 'no package'}")
                continue
            if package not in cache:
                cache[package] = wheel_modules(package, args.platform, work)
            mods, info = cache[package]
            if mods is None:
                unverified += 1
                print(f"?      {key} -> {package}: unverified ({info})")
            elif key.rstrip(".") in mods or key.split(".")[0] in mods:
                ok += 1
                print(f"ok     {key} -> {package} ({info})")
            else:
                wrong += 1
                print(f"WRONG  {key} -> {package}: {info} ships {sorted(mods)[:8]}")
    print(f"{ok} right, {wrong} wrong, {unverified} unverified")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main())
