#!/usr/bin/env python3
"""Fuzz the CLI with mutated real fixtures, special files and planted secrets; print what went wrong.

Not a test: it runs for minutes. Every input is one command line of the real CLI run to its end in a
child process of its own (its own stdin/stdout/stderr files, working directory, TMPDIR and environment,
a 4 GiB address-space cap, a wall-clock limit), and is judged:

  traceback    "Traceback" on stderr, exit 3, or a trtllm-doctor-crash-* file in the case's TMPDIR
  hang         not finished within --case-timeout seconds (killed with its process group)
  wrong exit   an exit code outside 0/1/2 (143 for the SIGTERM cases), 0/1 where the input must be refused (2),
               or an exit 2 whose stderr is not exactly one line of ours
  secret       a planted secret (environment variables, values planted inside the inputs) anywhere in stdout,
               stderr, the -o file or $GITHUB_STEP_SUMMARY
  peak RSS     the largest ru_maxrss of any case (os.wait4)

Inputs are mutated from the repository's own fixtures: fixtures/snapshots, fixtures/logs (and the eval corpora),
fixtures/engines, fixtures/hf-configs, fixtures/llm-api, policy files built from the README's example; JSON gets
structural mutations (a key deleted, a value set to null/NaN/1e308/10**30/-2**63/a 5,000-digit number/a lone
surrogate/a 100 kB string/1,000-deep nesting/another type, keys renamed with U+200B, unknown keys) and byte
mutations (truncation, flipped bytes, BOM, UTF-16, invalid UTF-8, NULs, CRLF, trailing documents); logs get
shuffled, spliced, coloured, NUL-ridden, gzipped; policies and YAML get type changes and deep nesting. Special
files: a FIFO with no writer, /dev/zero, a directory, a dangling symlink, a 2 GB sparse file. Host lists for
fleet --nodes are random Slurm expressions. The "proc" cases run the installed console script for what a
forked child cannot show: fake nvidia-smi/ldconfig/nvcc/python on PATH (hung, endless, crashing), SIGTERM and
SIGINT during selftest and explain, stdout on /dev/full, closed stdin/stdout, non-UTF-8 stdout.

Most cases run in a child forked from a parent that imported the doctor once (about 10x faster than a fresh
interpreter); --proc-only runs every case as a fresh process.

  python tools/fuzz.py --n 10000 --jobs 2 --seed 1 --out /tmp/fuzz-run
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import os
import random
import re
import resource
import shutil
import signal
import string
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures"
AS_LIMIT = 4 << 30

PLANTED_ENV = {
    "HF_TOKEN": "hf_FuzzPlantedHfTok3nZq9Xw7Vb5Nm1Lk2Jh4",
    "HUGGING_FACE_HUB_TOKEN": "hf_FuzzPlantedHubTok3nAa1Bb2Cc3Dd4Ee5",
    "NGC_API_KEY": "nvapi-FuzzPlantedNgcKeyQw3Er5Ty7Ui9Op1As",
    "AWS_SECRET_ACCESS_KEY": "FuzzPlantedAwsSecretKzQ9w8E7r6T5y4U3i2",
    "AWS_ACCESS_KEY_ID": "AKIAFUZZPLANTED12345",
    "OPENAI_API_KEY": "sk-FuzzPlantedOpenAiKeyMn8Bv7Cx6Za5Sd4",
    "GITHUB_TOKEN": "ghp_FuzzPlantedGithubTokenAb12Cd34Ef56Gh78",
    "MY_DB_PASSWORD": "FuzzPlantedDbPassw0rdXyzzy",
    "HTTPS_PROXY": "http://proxyuser:FuzzPlantedProxyPw0rdQ@proxy.invalid:3128",
    "PIP_INDEX_URL": "https://pipuser:FuzzPlantedPipIdxPw0rdW@pypi.invalid/simple",
    "PIP_EXTRA_INDEX_URL": "https://xuser:FuzzPlantedPipXtraPw0rdE@extra.invalid/simple",
}
ENV_SECRETS = ["FuzzPlantedHfTok3n", "FuzzPlantedHubTok3n", "FuzzPlantedNgcKey", "FuzzPlantedAwsSecret",
               "AKIAFUZZPLANTED12345", "FuzzPlantedOpenAiKey", "FuzzPlantedGithubToken", "FuzzPlantedDbPassw0rd",
               "FuzzPlantedProxyPw0rd", "FuzzPlantedPipIdxPw0rd", "FuzzPlantedPipXtraPw0rd"]
# secret shapes planted inside inputs (log lines, snapshot env, config strings); {s} is a unique marker
SECRET_SHAPES = [
    "token={s}", "HF_TOKEN={s}", "hf_{s}", "Authorization: Bearer {s}", "Authorization: Basic {s}==",
    "https://user:{s}@host.invalid/x", "https://u:p@{s}@host.invalid/x", "db_password={s}", '"password": "{s}"',
    '{{"api_key": "{s}"}}', "aws_secret_access_key = {s}", "authToken={s}", "pwd={s}", "Cookie: session={s}",
    "mysql -uroot -p{s}", "X-Amz-Signature={s}&x=1", "https://api.telegram.org/bot{s}/sendMessage",
    "client_secret: {s}", "X-Api-Key: {s}", "PRIVATE-TOKEN: {s}", "export OPENAI_API_KEY = {s}", "nvapi-{s}",
    "--hf_token {s}", "PASSWORD {s}", "secret:{s}", "{{'password': '{s}'}}", "AccountKey={s};",
]
OOM_LINE = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB "
FORMATS = ("human", "json", "junit", "github", "markdown")


@dataclass
class Case:
    kind: str  # snapshot, engine, model, policy, fleet, explain, llmapi, nodes, special, proc
    argv: list[str]
    files: dict[str, bytes] = field(default_factory=dict)  # relative path -> content (written into the case dir)
    specials: dict[str, str] = field(default_factory=dict)  # relative path -> fifo | zero | dir | dangling | sparse
    stdin: bytes | None = b""  # None: stdin closed
    ok_codes: tuple[int, ...] = (0, 1, 2)
    secrets: list[str] = field(default_factory=list)
    env: dict[str, str] = field(default_factory=dict)
    encoding: str = "utf-8"  # stdout's encoding in the child
    proc: bool = False  # run the console script in a fresh process
    signal_after: float | None = None  # proc: send this signal after so many seconds
    signal_kind: int = signal.SIGTERM
    stdout_to: str | None = None  # proc: "full" (/dev/full), "closed"
    fake_tools: dict[str, str] = field(default_factory=dict)  # proc: name -> shell body of a fake tool on PATH
    leftover: str | None = None  # proc: a marker that must not be running after the case
    note: str = ""


@dataclass
class Outcome:
    case: Case
    rc: int | None
    wall: float
    rss_kib: int
    stdout: bytes
    stderr: bytes
    verdicts: list[str]


# --- mutations -------------------------------------------------------------------------------------------------


def walk(data, path=(), out=None, limit=4000):
    out = [] if out is None else out
    if len(out) > limit:
        return out
    if isinstance(data, dict):
        for k, v in data.items():
            out.append((path, k))
            walk(v, path + (k,), out, limit)
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out.append((path, i))
            walk(v, path + (i,), out, limit)
    return out


def get(data, path):
    for p in path:
        data = data[p]
    return data


BIG_INT = "9" * 5000
JSON_VALUES = [None, float("nan"), float("inf"), 1e308, 10**30, -(2**63), "\ud800", "x" * 100_000, [], {}, "", 0, -1,
               True, "\r\n\r\n", "1.2.3.4.5.6.7.8", "abc", "٣", "\u200b", [[[[]]]], {"a": {"b": {}}}, 2**64, 0.5]


def mutate_json(rng: random.Random, data) -> tuple[object, str | None]:
    """One structural mutation; returns the new data and, for a raw splice, the replacement text marker."""
    data = json.loads(json.dumps(data))
    spots = walk(data)
    op = rng.choice(["delete", "set", "set", "set", "type", "rename", "unknown", "deep", "bigint", "secret"])
    if not spots:
        return data, None
    path, key = rng.choice(spots)
    parent = get(data, path)
    if op == "delete":
        del parent[key]
    elif op == "set":
        parent[key] = rng.choice(JSON_VALUES)
    elif op == "type":
        v = parent[key]
        parent[key] = str(v) if not isinstance(v, str) else ([v] if rng.random() < 0.5 else len(v))
    elif op == "rename" and isinstance(parent, dict):
        parent[str(key) + "\u200b"] = parent.pop(key)
    elif op == "unknown" and isinstance(parent, dict):
        parent["fuzz_unknown_" + str(rng.randrange(1000))] = rng.choice(JSON_VALUES)
    elif op == "deep":
        parent[key] = "@@DEEP@@"
    elif op == "bigint":
        parent[key] = "@@BIGINT@@"
    elif op == "secret":
        parent[key] = "@@SECRET@@"
    return data, op


def dump_json(rng: random.Random, data, secret: str) -> bytes:
    try:
        text = json.dumps(data, indent=rng.choice([None, 2]), allow_nan=True)
    except (ValueError, RecursionError):
        text = "{}"
    depth = rng.choice([1000, 5000, 100_000])
    deep = "[" * depth + ("]" * depth if rng.random() < 0.8 else "")  # balanced, or left open
    text = text.replace('"@@DEEP@@"', deep)
    text = text.replace('"@@BIGINT@@"', BIG_INT if rng.random() < 0.7 else "-" + BIG_INT + ".5e99999")
    text = text.replace('"@@SECRET@@"', json.dumps(rng.choice(SECRET_SHAPES).format(s=secret)))
    return text.encode("utf-8", "surrogatepass")


def mutate_bytes(rng: random.Random, raw: bytes) -> bytes:
    op = rng.choice(["truncate", "flip", "bom", "utf16", "badutf8", "nul", "dupkey", "crlf", "trailing", "nan", "toplevel", "empty"])
    if op == "truncate" and raw:
        return raw[: rng.randrange(len(raw))]
    if op == "flip" and raw:
        b = bytearray(raw)
        for _ in range(rng.randint(1, 20)):
            b[rng.randrange(len(b))] = rng.randrange(256)
        return bytes(b)
    if op == "bom":
        return b"\xef\xbb\xbf" + raw
    if op == "utf16":
        return raw.decode("utf-8", "replace").encode("utf-16")
    if op == "badutf8":
        i = rng.randrange(len(raw) + 1)
        return raw[:i] + b"\xff\xfe\xc3\x28" + raw[i:]
    if op == "nul":
        return raw + b"\x00" * rng.choice([1, 70000])
    if op == "dupkey":
        return raw.replace(b"{", b'{"schema_version": 99, ', 1)
    if op == "crlf":
        return raw.replace(b"\n", b"\r\n")
    if op == "trailing":
        return raw + b"\n" + raw
    if op == "nan":
        return raw.replace(b": 0", b": NaN", 3).replace(b": 1", b": Infinity", 3)
    if op == "toplevel":
        return rng.choice([b"[]", b"42", b'"x"', b"null", b"true"])
    return b""


def mutate_text_lines(rng: random.Random, text: str, secret: str) -> bytes:
    lines = text.splitlines()
    if not lines:
        lines = [""]
    for _ in range(rng.randint(1, 4)):
        if not lines:
            lines = [""]
        op = rng.choice(["shuffle", "splice", "ansi", "nul", "long", "cr", "secret", "secret", "mpi", "truncate", "bad"])
        if op == "shuffle":
            rng.shuffle(lines)
        elif op == "splice":
            i = rng.randrange(len(lines))
            lines[i:i] = lines[: rng.randint(1, min(50, len(lines)))]
        elif op == "ansi":
            i = rng.randrange(len(lines))
            lines[i] = "\x1b[31m" + lines[i] + "\x1b[0m"
        elif op == "nul":
            i = rng.randrange(len(lines))
            lines[i] = lines[i].replace(" ", "\x00", 3)
        elif op == "long":
            lines.append("x" * rng.choice([10_000, 1_000_000]))
        elif op == "cr":
            lines.append("\r".join(f"progress {n}%" for n in range(100)))
        elif op == "secret":
            shape = rng.choice(SECRET_SHAPES).format(s=secret)
            i = rng.randrange(len(lines) + 1)
            lines.insert(i, rng.choice([OOM_LINE + shape, shape, f"[1,0]<stderr>: {OOM_LINE}{shape}",
                                        f"Traceback (most recent call last):\n  File \"x.py\", line 1\nOSError: {shape}"]))
        elif op == "mpi":
            lines = [f"[1,{rng.randrange(8)}]<stderr>: {x}" for x in lines]
        elif op == "truncate":
            lines = lines[: rng.randrange(len(lines) + 1)]
        elif op == "bad":
            lines.append("\udcff\udcfe bad bytes")
    raw = "\n".join(lines).encode("utf-8", "surrogateescape")
    if rng.random() < 0.1:
        raw = gzip.compress(raw)
        if rng.random() < 0.3:
            raw = raw[: len(raw) // 2]
    return raw


# --- the corpus ------------------------------------------------------------------------------------------------


def load_corpus() -> dict[str, list]:
    snaps = [json.loads(p.read_text()) for p in sorted((FIX / "snapshots").glob("*.json"))]
    logs = [p.read_text(encoding="utf-8", errors="replace") for p in sorted((FIX / "logs").glob("*.log"))]
    for folder in sorted((FIX / "logs" / "eval").glob("*")):
        logs += [p.read_text(encoding="utf-8", errors="replace") for p in sorted(folder.rglob("*.log"))[:40]]
    engines = []
    for p in sorted((FIX / "engines").glob("*")):
        if p.suffix in (".json", ".txt"):
            engines.append(p.read_text(encoding="utf-8", errors="replace"))
    hf = [p.read_text() for p in sorted((FIX / "hf-configs").glob("*.json"))]
    yamls = [p.read_text() for p in sorted((FIX / "llm-api").glob("*.yaml"))]
    return {"snapshots": snaps, "logs": logs, "engines": engines, "hf": hf, "yaml": yamls}


POLICY = """fail_on = "warning"
[target]
model = "llama-3.1-8b"
quant = "fp8"
tp = 2
[minimum]
driver = "550.54"
tensorrt-llm = "0.17.0"
packages = { torch = "2.5" }
[severity]
HOST004 = "info"
[[ignore]]
id = "mixed-gpus"
reason = "gpu17 being replaced (OPS-123)"
until = 2026-12-31
"""


def mutate_policy(rng: random.Random, secret: str) -> bytes:
    text = POLICY
    op = rng.choice(["list", "int", "deep-array", "deep-table", "unknown", "bad-date", "secret", "bytes", "bigint", "empty-id",
                     "float", "bool"])
    if op == "list":
        text = re.sub(r'^(\w+) = "([^"]*)"$', r'\1 = ["\2"]', text, count=rng.randint(1, 5), flags=re.M)
    elif op == "int":
        text = text.replace('"warning"', "3").replace('"info"', "0")
    elif op == "deep-array":
        text += "[severity.x]\na = " + "[" * 5000 + "]" * 5000 + "\n"
    elif op == "deep-table":
        text = "a = " + "{x = " * 3000 + "1" + "}" * 3000 + "\n" + text
    elif op == "unknown":
        text += "\nfuzz_key = 1\n"
    elif op == "bad-date":
        text = text.replace("2026-12-31", rng.choice(["9999-99-99", '"tomorrow"', "2026-12-31T10:00:00Z", "0001-01-01"]))
    elif op == "secret":
        text = text.replace("gpu17 being replaced", rng.choice(SECRET_SHAPES).format(s=secret).replace('"', "'"))
    elif op == "bytes":
        return mutate_bytes(rng, text.encode())
    elif op == "bigint":
        text = text.replace("tp = 2", f"tp = {BIG_INT}")
    elif op == "empty-id":
        text = text.replace('id = "mixed-gpus"', 'id = ""')
    elif op == "float":
        text = text.replace('"550.54"', "1e400")
    elif op == "bool":
        text = text.replace("tp = 2", "tp = true")
    return text.encode()


def hostlist(rng: random.Random) -> str:
    parts = []
    for _ in range(rng.randint(1, 3)):
        kind = rng.random()
        if kind < 0.4:
            lo = rng.randint(0, 50)
            parts.append(f"gpu[{lo:03d}-{lo + rng.randint(0, 60):03d}]")
        elif kind < 0.6:
            parts.append(f"n[0-{rng.choice([9, 999, 99999999, 999999999])}]x[0-{rng.choice([9, 999])}]")
        elif kind < 0.7:
            parts.append(rng.choice(["gpu[a-b]", "gpu[5-1]", "gpu[[1-2]]", "gpu[1-", "gpu]", "[", ",,,", "gpu[" + "9" * 40 + "]"]))
        else:
            parts.append(rng.choice(["login1", "gpu001", "node-α", "x" * 300]))
    return ",".join(parts)


# --- case generators ------------------------------------------------------------------------------------------


def snapshot_case(rng, corpus, secret) -> Case:
    base = rng.choice(corpus["snapshots"])
    if rng.random() < 0.75:
        data = base
        for _ in range(rng.randint(1, 3)):
            data, _ = mutate_json(rng, data)
        if rng.random() < 0.3:
            data = json.loads(json.dumps(data))
            data.setdefault("env", {})
            if isinstance(data["env"], dict):
                data["env"]["HF_TOKEN"] = f"hf_{secret}"
                data["env"]["TMPDIR"] = f"http://u:{secret}@proxy.invalid:1"
        raw = dump_json(rng, data, secret)
    else:
        raw = mutate_bytes(rng, json.dumps(base).encode())
    fmt = rng.choice(FORMATS)
    argv = ["check", "--snapshot", "snap.json", "-f", fmt] + (["-v"] if rng.random() < 0.5 else [])
    if rng.random() < 0.3:
        argv += ["-o", "out.txt"]
    return Case("snapshot", argv, {"snap.json": raw}, secrets=[secret])


def engine_case(rng, corpus, secret) -> Case:
    text = rng.choice(corpus["engines"])
    try:
        data = json.loads(text)
        for _ in range(rng.randint(1, 3)):
            data, _ = mutate_json(rng, data)
        if rng.random() < 0.3:
            section = data.get("builder_config") if isinstance(data, dict) and isinstance(data.get("builder_config"), dict) else None
            if section is not None:
                section["tensor_parallel"] = rng.choice([10**19, 2**31, 4096, 0, -1, 1e19])
        raw = dump_json(rng, data, secret)
    except (ValueError, RecursionError):
        raw = mutate_bytes(rng, text.encode())
    files = {"eng/config.json": raw, "snap.json": json.dumps(rng.choice(corpus["snapshots"])).encode()}
    for r in range(rng.choice([0, 1, 2])):
        files[f"eng/rank{r}.engine"] = b"\0" * 64
    return Case("engine", ["check", "--engine", "eng", "--snapshot", "snap.json", "-f", rng.choice(FORMATS)], files,
                secrets=[secret])


def model_case(rng, corpus, secret) -> Case:
    text = rng.choice(corpus["hf"])
    data = json.loads(text)
    for _ in range(rng.randint(1, 3)):
        data, _ = mutate_json(rng, data)
    raw = dump_json(rng, data, secret) if rng.random() < 0.8 else mutate_bytes(rng, text.encode())
    cmd = rng.choice(["plan", "check"])
    argv = [cmd, "--model", "m/config.json", "--snapshot", "snap.json", "-f", rng.choice(FORMATS)]
    if rng.random() < 0.4:
        argv += [rng.choice(["--max-seq-len", "--tp", "--max-batch-size"]), rng.choice(["0", "-1", "3", "16", BIG_INT, "8192", "x"])]
    return Case("model", argv, {"m/config.json": raw, "snap.json": json.dumps(rng.choice(corpus["snapshots"])).encode()},
                secrets=[secret])


def policy_case(rng, corpus, secret) -> Case:
    raw = mutate_policy(rng, secret)
    where = rng.choice(["config", "found", "pyproject"])
    files = {"snap.json": json.dumps(rng.choice(corpus["snapshots"])).encode()}
    argv = rng.choice([["check", "--snapshot", "snap.json"], ["plan", "--model", "llama-3.1-8b", "--snapshot", "snap.json"],
                       ["fleet", "snap.json", "--max-age", "100000d"]]) + ["-f", rng.choice(FORMATS)]
    if where == "config":
        files["p.toml"] = raw
        argv += ["--config", "p.toml"]
    elif where == "found":
        files["trtllm-doctor.toml"] = raw
    else:
        files["pyproject.toml"] = b'[project]\nname = "x"\n\n' + re.sub(rb"^\[(\[?)", rb"[\1tool.trtllm-doctor.", raw, flags=re.M) \
            .replace(b"fail_on", b"[tool.trtllm-doctor]\nfail_on", 1)
    return Case("policy", argv, files, secrets=[secret])


def fleet_case(rng, corpus, secret) -> Case:
    files = {}
    n = rng.randint(1, 12)
    for i in range(n):
        data = json.loads(json.dumps(rng.choice(corpus["snapshots"])))
        data["platform"]["hostname"] = f"gpu{i:03d}"
        if rng.random() < 0.3:
            data, _ = mutate_json(rng, data)
        files[f"r/gpu{i:03d}.json"] = dump_json(rng, data, secret) if rng.random() < 0.9 else mutate_bytes(rng, json.dumps(data).encode())
    argv = ["fleet", "r", "--max-age", rng.choice(["24h", "100000d", "1s", "soon"]), "-f", rng.choice(FORMATS)]
    if rng.random() < 0.4:
        argv += ["--nodes", hostlist(rng)]
    if rng.random() < 0.2:
        argv.append("--check")
    stdin = b""
    if rng.random() < 0.2:
        argv[1] = "-"
        stdin = b"\n".join(files.values()) if rng.random() < 0.7 else os.urandom(2000)
    return Case("fleet", argv, files, stdin=stdin, secrets=[secret])


def explain_case(rng, corpus, secret) -> Case:
    raw = mutate_text_lines(rng, rng.choice(corpus["logs"]), secret)
    argv = ["explain", "a.log", "-f", rng.choice(FORMATS)] + (["-v"] if rng.random() < 0.4 else [])
    if rng.random() < 0.15:
        argv += ["--snapshot", "snap.json"]
    stdin = b""
    if rng.random() < 0.15:
        argv[1] = "-"
        stdin = raw
    return Case("explain", argv, {"a.log": raw, "snap.json": json.dumps(rng.choice(corpus["snapshots"])).encode()},
                stdin=stdin, secrets=[secret])


def llmapi_case(rng, corpus, secret) -> Case:
    text = rng.choice(corpus["yaml"])
    op = rng.choice(["type", "deep", "bytes", "secret", "anchor", "big"])
    if op == "type":
        text = re.sub(r": (\d+)$", ": [\\1]", text, count=3, flags=re.M)
    elif op == "deep":
        text += "\nx: " + "[" * 3000 + "]" * 3000 + "\n"
    elif op == "secret":
        text += f"\nhf_token: {secret}\n"
    elif op == "anchor":  # a billion laughs
        text = "a: &a [x,x,x,x,x,x,x,x,x]\n" + "".join(f"{c}: &{c} [*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p},*{p}]\n"
                                                       for p, c in zip("abcdefgh", "bcdefghi"))
    elif op == "big":
        text += f"\nmax_seq_len: {BIG_INT}\n"
    raw = mutate_bytes(rng, text.encode()) if op == "bytes" else text.encode()
    return Case("llmapi", ["check", "--extra-llm-api-options", "o.yaml", "--snapshot", "snap.json", "-f", rng.choice(FORMATS)],
                {"o.yaml": raw, "snap.json": json.dumps(rng.choice(corpus["snapshots"])).encode()}, secrets=[secret])


SPECIAL_TARGETS = [
    (["check", "--snapshot", "X"], "snapshot"), (["check", "--engine", "D", "--snapshot", "snap.json"], "engine-config"),
    (["plan", "--model", "X", "--snapshot", "snap.json"], "model"), (["check", "--snapshot", "snap.json", "--config", "X"], "policy"),
    (["fleet", "X"], "fleet"), (["fleet", "snap.json", "--nodes", "@X"], "nodes"), (["explain", "X"], "explain"),
    (["check", "--extra-llm-api-options", "X", "--snapshot", "snap.json"], "llmapi"),
    (["plan", "--model", "llama-3.1-8b", "--from-log", "X", "--gpu", "H200"], "from-log"),
]


def special_case(rng, corpus, secret) -> Case:
    """A special file where a file is expected: each is a one-line usage error (exit 2), explain's big
    sparse file aside (a regular file it streams) and fleet's oversized report (a corrupt node, exit 1)."""
    argv, what = rng.choice(SPECIAL_TARGETS)
    kind = rng.choice(["fifo", "zero", "urandom", "dir", "dangling", "sparse", "missing"])
    files = {"snap.json": json.dumps(rng.choice(corpus["snapshots"])).encode()}
    name = "D/config.json" if what == "engine-config" else "X"
    specials = {} if kind == "missing" else {name: kind}
    if kind == "sparse" and what in ("explain", "from-log"):
        specials = {name: "sparse-200m"}
    argv = [a.replace("X", name) if a in ("X", "@X") else a for a in argv]
    ok = (0, 1, 2) if kind == "sparse" and what in ("explain", "from-log") else (2,)
    if kind == "sparse" and what == "fleet":  # a fleet merges many reports: an oversized one is a
        ok = (1, 2)                                       # finding about its node (exit 1), as for a corrupt one
    if what == "engine-config" and kind == "missing":
        files["D/rank0.engine"] = b"\0"
    return Case("special", argv, files, specials=specials, ok_codes=ok, note=f"{what}:{kind}")


def proc_cases(rng: random.Random) -> list[Case]:
    """Fresh processes: fake tools, signals, stdout and stdin oddities, encodings."""
    out = []
    snap = FIX / "snapshots" / "h200-1gpu.json"
    tools = {
        "hung": "exec sleep {m}", "endless": 'exec yes "NVIDIA H100 80GB HBM3, 00000000:00:00.0, 9.0, 81559, 1, 550.54.15"',
        "segv": "kill -SEGV $$", "garbage": "head -c 100000 /dev/urandom", "child-holds-pipe": "sleep {m} & echo x",
        "exit1": "echo 'NVIDIA-SMI has failed' >&2; exit 1", "term-ignoring": "trap '' TERM; exec sleep {m}",
    }
    for tool in ("nvidia-smi", "ldconfig", "nvcc"):
        for name, body in tools.items():
            for cmd in (["check", "-f", "json"], ["snapshot"], ["check", "--timeout", "1"]):
                m = f"{rng.randrange(10**6)}.{len(out)}"
                out.append(Case("proc", cmd, proc=True, fake_tools={tool: body.format(m=m)},
                                leftover=f"sleep {m}" if "{m}" in body else None, note=f"{tool}:{name}",
                                env={"CUDA_HOME": "/nonexistent-cuda"} if tool == "nvcc" else {}))
    for name, body in {"py-hung": "exec sleep {m}", "py-endless": 'exec yes "{{\\"a\\": 1}}"', "py-segv": "kill -SEGV $$",
                       "py-garbage": "echo notjson", "py-stderr": "echo line1 >&2; echo line2 >&2; exit 1"}.items():
        for cmd in (["check", "--python", "FAKEPY"], ["snapshot", "--python", "FAKEPY"]):
            m = f"{rng.randrange(10**6)}.{len(out)}"
            out.append(Case("proc", cmd, proc=True, fake_tools={"FAKEPY": body.format(m=m)}, ok_codes=(2,),
                            leftover=f"sleep {m}" if "{m}" in body else None, note=name))
    for sig in (signal.SIGTERM, signal.SIGINT):
        code = 143 if sig == signal.SIGTERM else 130
        for delay in (0.5, 1.0, 2.0):
            m = f"{rng.randrange(10**6)}.{len(out)}"
            out.append(Case("proc", ["selftest", "--python", "FAKEPY", "--timeout", "60"], proc=True,
                            fake_tools={"FAKEPY": f"exec sleep {m}"}, signal_after=delay, signal_kind=sig,
                            ok_codes=(code,), leftover=f"sleep {m}", note=f"selftest-signal-{sig}"))
            out.append(Case("proc", ["explain", "-"], proc=True, stdin=b"slow", signal_after=delay, signal_kind=sig,
                            ok_codes=(code, 0, 1), note=f"explain-signal-{sig}"))
            out.append(Case("proc", ["check", "--snapshot", str(snap)], proc=True, signal_after=0.3 + delay / 10,
                            signal_kind=sig, ok_codes=(code, 0, 1), note=f"check-signal-{sig}"))
    for cmd in (["check", "--snapshot", str(snap)], ["explain", str(FIX / "logs" / "build-oom-llama2-13b-trtllm-346.log")], ["rules"],
                ["plan", "--model", "llama-3.1-8b", "--gpu", "L4"], ["fleet", str(snap), "--max-age", "100000d"]):
        out.append(Case("proc", cmd, proc=True, stdout_to="full", ok_codes=(2,), note="stdout-full"))
        out.append(Case("proc", cmd, proc=True, stdout_to="closed", ok_codes=(2,), note="stdout-closed"))
        for enc in ("ascii", "latin-1"):
            out.append(Case("proc", cmd, proc=True, env={"PYTHONIOENCODING": enc}, ok_codes=(0, 1), note=f"stdout-{enc}"))
        out.append(Case("proc", cmd, proc=True, env={"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0"}, ok_codes=(0, 1), note="LANG=C"))
    for cmd in (["explain", "-"], ["fleet", "-"]):
        out.append(Case("proc", cmd, proc=True, stdin=None, ok_codes=(2,), note="stdin-closed"))
    return out


GENERATORS = [(snapshot_case, 30), (explain_case, 22), (engine_case, 10), (model_case, 10), (policy_case, 10),
              (fleet_case, 8), (llmapi_case, 5), (special_case, 5)]


# --- running ---------------------------------------------------------------------------------------------------


def prepare(case: Case, workdir: Path) -> Path:
    d = Path(tempfile.mkdtemp(prefix="case-", dir=workdir))
    (d / "tmp").mkdir()
    for rel, content in case.files.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_bytes(content)
    for rel, kind in case.specials.items():
        p = d / rel
        p.parent.mkdir(parents=True, exist_ok=True)
        if kind == "fifo":
            os.mkfifo(p)
        elif kind == "zero":
            p.symlink_to("/dev/zero")
        elif kind == "urandom":
            p.symlink_to("/dev/urandom")
        elif kind == "dir":
            p.mkdir(exist_ok=True)
        elif kind == "dangling":
            p.symlink_to(d / "nowhere")
        elif kind in ("sparse", "sparse-200m"):
            with open(p, "wb") as fh:
                fh.truncate(2 << 30 if kind == "sparse" else 200 << 20)
    if case.fake_tools:
        fb = d / "fakebin"
        fb.mkdir()
        for name, body in case.fake_tools.items():
            f = fb / name
            f.write_text("#!/bin/sh\n" + body + "\n")
            f.chmod(0o755)
    (d / "stdin").write_bytes(case.stdin or b"")
    return d


def child_env(case: Case, d: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k in ("PATH", "HOME", "LANG", "LC_ALL", "TERM", "XDG_CACHE_HOME",
                                                        "TRTLLM_DOCTOR_CACHE", "PYTHONPATH")}
    env.update(PLANTED_ENV)
    env.update({"TMPDIR": str(d / "tmp"), "NO_COLOR": "1", "GITHUB_STEP_SUMMARY": str(d / "summary.md")})
    env.update(case.env)
    if case.fake_tools:
        env["PATH"] = f"{d / 'fakebin'}:{env.get('PATH', '')}"
    return env


def _limit_child() -> None:
    resource.setrlimit(resource.RLIMIT_AS, (AS_LIMIT, AS_LIMIT))
    for s in (signal.SIGINT, signal.SIGTERM, signal.SIGPIPE, signal.SIGCHLD):
        signal.signal(s, signal.SIG_DFL)


def start_fork(case: Case, d: Path) -> int:
    pid = os.fork()
    if pid:
        return pid
    try:  # the child: become the case
        os.setsid()
        _limit_child()
        os.chdir(d)
        env = child_env(case, d)
        os.environ.clear()
        os.environ.update(env)
        import tempfile as _t

        _t.tempdir = None
        fd = os.open(d / "stdin", os.O_RDONLY)
        os.dup2(fd, 0)
        os.close(fd)
        for n, name in ((1, "stdout"), (2, "stderr")):
            fd = os.open(d / name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            os.dup2(fd, n)
            os.close(fd)
        if case.stdin is None:
            os.close(0)
            sys.stdin = None
        else:
            sys.stdin = io.TextIOWrapper(io.BufferedReader(io.FileIO(0, "rb", closefd=False)), encoding="utf-8")
        sys.stdout = io.TextIOWrapper(io.BufferedWriter(io.FileIO(1, "wb", closefd=False)), encoding=case.encoding)
        sys.stderr = io.TextIOWrapper(io.BufferedWriter(io.FileIO(2, "wb", closefd=False)), encoding="utf-8",
                                      errors="backslashreplace", line_buffering=True)
        sys.argv = ["trtllm-doctor", *case.argv]
        from doctor import cli

        code = 0
        try:
            cli.main()
        except SystemExit as exc:
            code = exc.code if isinstance(exc.code, int) else 0
        except BaseException:  # noqa: BLE001 - a raw traceback is a verdict
            import traceback

            traceback.print_exc()
            code = 99
        try:
            sys.stdout.flush()
            sys.stderr.flush()
        except BaseException:  # noqa: BLE001
            pass
        os._exit(code)
    except BaseException:  # noqa: BLE001
        os._exit(98)


def start_proc(case: Case, d: Path, doctor: str) -> subprocess.Popen:
    argv = [doctor, *[a.replace("FAKEPY", str(d / "fakebin" / "FAKEPY")) for a in case.argv]]
    env = child_env(case, d)
    stdin = subprocess.DEVNULL if case.stdin is None else open(d / "stdin", "rb")
    if case.stdin == b"slow":
        stdin = subprocess.PIPE
    if case.stdout_to == "full":
        argv = ["sh", "-c", 'exec "$@" > /dev/full', "sh", *argv]
    elif case.stdout_to == "closed":
        argv = ["sh", "-c", 'exec "$@" >&-', "sh", *argv]
    if case.stdin is None:
        argv = ["sh", "-c", 'exec "$@" <&-', "sh", *argv]
    out, err = open(d / "stdout", "wb"), open(d / "stderr", "wb")
    proc = subprocess.Popen(argv, cwd=d, env=env, stdin=stdin, stdout=out, stderr=err, start_new_session=True,
                            preexec_fn=_limit_child)
    if case.stdin == b"slow":
        proc.stdin.write(b"INFO starting\n")
        proc.stdin.flush()
    return proc


def judge(case: Case, d: Path, rc: int | None, timed_out: bool) -> list[str]:
    out = (d / "stdout").read_bytes() if (d / "stdout").exists() else b""
    err = (d / "stderr").read_bytes() if (d / "stderr").exists() else b""
    verdicts = []
    if timed_out:
        verdicts.append("hang")
    if b"Traceback (most recent call last)" in err or rc in (3, 98, 99) or list((d / "tmp").glob("trtllm-doctor-crash-*")):
        verdicts.append("traceback")
    if not timed_out and rc not in case.ok_codes:
        verdicts.append("wrong-exit")
    if rc == 2:
        lines = err.decode("utf-8", "replace").strip().splitlines()
        if len(lines) != 1 or not lines[0].startswith("trtllm-doctor: "):
            verdicts.append("wrong-exit")  # a usage error that is not one line of ours
    texts = [out, err]
    for extra in ("out.txt", "summary.md"):
        if (d / extra).exists():
            texts.append((d / extra).read_bytes())
    blob = b"\n".join(texts)
    for s in ENV_SECRETS + case.secrets:
        if s.encode() in blob:
            verdicts.append(f"secret:{s}")
            break
    if case.leftover:
        time.sleep(0.2)
        if running_with(case.leftover):
            verdicts.append("orphan")
    return verdicts


def running_with(text: str) -> list[int]:
    found = []
    for p in Path("/proc").iterdir():
        if p.name.isdigit():
            try:
                cmd = (p / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
                state = (p / "stat").read_text().split(")")[-1].split()[0]
            except OSError:
                continue
            if text in cmd and state != "Z":
                found.append(int(p.name))
    return found


def warm_parent() -> None:
    """Import and cache in the parent what every child needs (the KB, the explain catalogue)."""
    import contextlib

    from doctor import cli  # noqa: F401
    from doctor.commands.check import CheckOptions, run_check
    from doctor.commands.explain import run_explain
    from doctor.render import render

    report = run_check(CheckOptions(snapshot=FIX / "snapshots" / "h200-1gpu.json"))
    for fmt in FORMATS:
        render(report, fmt)
    with contextlib.suppress(Exception):
        run_explain([str(FIX / "logs" / "build-oom-llama2-13b-trtllm-346.log")])
    import doctor.commands.fleet  # noqa: F401
    import doctor.commands.plan  # noqa: F401
    import doctor.llmargs  # noqa: F401


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n", type=int, default=10000, help="inputs to run (the proc cases included)")
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 2, help="cases run at once")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget-s", type=float, default=3600, help="stop starting new cases after this many seconds")
    ap.add_argument("--case-timeout", type=float, default=30.0)
    ap.add_argument("--out", type=Path, default=None, help="keep failing cases here (default: a temporary folder)")
    ap.add_argument("--proc-only", action="store_true", help="every case in a fresh process (slow, exact)")
    ap.add_argument("--no-proc", action="store_true", help="skip the fake-tool, signal and stdout cases")
    ap.add_argument("--doctor", default=shutil.which("trtllm-doctor") or "", help="console script for the proc cases")
    args = ap.parse_args()

    rng = random.Random(args.seed)
    corpus = load_corpus()
    work = Path(tempfile.mkdtemp(prefix="trtllm-doctor-fuzz-"))
    keep = args.out
    if keep:
        keep.mkdir(parents=True, exist_ok=True)
    proc_list = [] if args.no_proc else proc_cases(rng)
    if proc_list and not args.doctor:
        print("no trtllm-doctor console script found: give --doctor, or --no-proc", file=sys.stderr)
        return 2
    total = max(args.n, len(proc_list))
    weights = [w for _, w in GENERATORS]

    def cases():
        i = 0
        for c in proc_list:
            yield c
            i += 1
        while i < total:
            gen = rng.choices([g for g, _ in GENERATORS], weights)[0]
            secret = "FuzzSecret" + "".join(rng.choice(string.ascii_letters + string.digits) for _ in range(12)) + str(i)
            c = gen(rng, corpus, secret)
            if args.proc_only:
                c.proc = True
            yield c
            i += 1

    if not args.proc_only:
        warm_parent()
    counts = {"inputs": 0, "traceback": 0, "hang": 0, "wrong-exit": 0, "secret": 0, "orphan": 0}
    by_kind: dict[str, int] = {}
    peak = (0, "")
    running: dict[int, tuple] = {}  # pid -> (case, dir, start, popen or None)
    start_all = time.monotonic()
    failures = []
    gen = cases()
    exhausted = False

    def finish(pid: int, status: int, usage, timed_out: bool) -> None:
        nonlocal peak
        case, d, _, popen = running.pop(pid)
        rc = None if timed_out else os.waitstatus_to_exitcode(status)
        if rc is not None and rc < 0:
            rc = 128 - rc  # died of a signal: as a shell reports it
        verdicts = judge(case, d, rc, timed_out)
        counts["inputs"] += 1
        by_kind[case.kind] = by_kind.get(case.kind, 0) + 1
        if usage is not None and usage.ru_maxrss > peak[0]:
            peak = (usage.ru_maxrss, f"{case.kind} {' '.join(case.argv)[:80]}")
        for v in verdicts:
            counts[v.split(":")[0]] += 1
        if verdicts:
            failures.append((verdicts, case, rc))
            if keep:
                dest = keep / f"{len(failures):04d}-{case.kind}-{'-'.join(v.split(':')[0] for v in verdicts)}"
                shutil.rmtree(dest, ignore_errors=True)
                shutil.copytree(d, dest, symlinks=True, ignore=shutil.ignore_patterns("tmp"), ignore_dangling_symlinks=True)
                (dest / "case.json").write_text(json.dumps({"argv": case.argv, "verdicts": verdicts, "rc": rc, "note": case.note,
                                                            "ok_codes": case.ok_codes, "env": case.env}, indent=2))
        if popen is not None:
            for fh in (popen.stdin,):
                try:
                    fh and fh.close()
                except OSError:
                    pass
        shutil.rmtree(d, ignore_errors=True)
        if counts["inputs"] % 500 == 0:
            print(f"  {counts['inputs']} inputs, {time.monotonic() - start_all:.0f} s, problems so far: "
                  f"{sum(v for k, v in counts.items() if k != 'inputs')}", file=sys.stderr, flush=True)

    while True:
        while not exhausted and len(running) < args.jobs and time.monotonic() - start_all < args.budget_s:
            try:
                case = next(gen)
            except StopIteration:
                exhausted = True
                break
            d = prepare(case, work)
            if case.proc:
                popen = start_proc(case, d, args.doctor)
                running[popen.pid] = (case, d, time.monotonic(), popen)
            else:
                running[start_fork(case, d)] = (case, d, time.monotonic(), None)
        if not running:
            break
        reaped = False
        for pid, (case, d, t0, popen) in list(running.items()):
            if popen is not None and case.signal_after is not None and time.monotonic() - t0 >= case.signal_after \
                    and not getattr(popen, "_signalled", False):
                popen._signalled = True  # type: ignore[attr-defined]
                try:
                    os.killpg(pid, case.signal_kind)
                except ProcessLookupError:
                    pass
            got, status, usage = os.wait4(pid, os.WNOHANG)
            if got:
                if popen is not None:
                    popen.returncode = os.waitstatus_to_exitcode(status)
                finish(pid, status, usage, False)
                reaped = True
            elif time.monotonic() - t0 > args.case_timeout:
                try:
                    os.killpg(pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                _, status, usage = os.wait4(pid, 0)
                if popen is not None:
                    popen.returncode = -9
                finish(pid, status, usage, True)
                reaped = True
        if not reaped:
            time.sleep(0.005)
    wall = time.monotonic() - start_all
    shutil.rmtree(work, ignore_errors=True)

    print(f"trtllm-doctor fuzz: seed {args.seed}, {args.jobs} jobs, {wall:.0f} s")
    print(f"  inputs run        {counts['inputs']}  ({', '.join(f'{k} {v}' for k, v in sorted(by_kind.items()))})")
    print(f"  tracebacks        {counts['traceback']}")
    print(f"  hangs (timeouts)  {counts['hang']}")
    print(f"  wrong exit codes  {counts['wrong-exit']}")
    print(f"  planted secrets   {counts['secret']}")
    print(f"  orphaned children {counts['orphan']}")
    print(f"  peak RSS          {peak[0] / 1024:.0f} MiB  ({peak[1]})")
    for verdicts, case, rc in failures[:40]:
        print(f"  FAIL {','.join(verdicts)} rc={rc} {case.kind} {case.note}: {' '.join(case.argv)[:150]}")
    if keep and failures:
        print(f"  failing cases kept in {keep}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
