"""`explain` end to end: the fixture logs, ranking, awkward input, the command line."""

from __future__ import annotations

import gzip
import json
import os
import subprocess
import sys

import pytest

from doctor.explain.graph import ranges
from doctor.explain.reader import clean_line, iter_blocks
from tests.conftest import FIXTURES, ROOT, explain_bytes, first_cause, load_index

LOGS = FIXTURES / "logs"
INDEX = load_index(LOGS)
ERRORS = [e for e in INDEX if e["expected_cause"] != "none"]
CLEAN = [e for e in INDEX if e["expected_cause"] == "none"]
OOM = (b"[11/10/2023-06:30:40] [TRT] [E] 2: [virtualMemoryBuffer.cpp::resizePhysical::140] "
       b"Error Code 2: OutOfMemory (no further information)\n")
ENGINE_SM = (b"[TRT] [E] 6: The engine plan file is generated on an incompatible device, "
             b"expecting compute 9.0 got compute 8.9, please rebuild.\n")


def run_cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "doctor", "explain", *args], input=stdin, capture_output=True,
                          cwd=ROOT, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": os.environ.get("HOME", "/tmp")})


# --- the fixture logs -------------------------------------------------------------------------------


def test_fixture_counts():
    assert len(ERRORS) >= 40 and len(CLEAN) >= 8
    for e in INDEX:
        assert (LOGS / e["file"]).is_file(), e["file"]


@pytest.mark.parametrize("entry", ERRORS, ids=[e["file"] for e in ERRORS])
def test_expected_cause_is_the_first_finding(entry):
    report = explain_bytes((LOGS / entry["file"]).read_bytes())
    assert report.findings, f"nothing found in {entry['file']}"
    assert first_cause(report) in {entry["expected_cause"], *entry.get("also_acceptable", [])}, \
        [(f.id, f.category, f.line) for f in report.findings]
    first = report.findings[0]
    assert first.line is not None and first.evidence and first.fix and first.docs
    errors = [f for f in report.findings if f.severity.value == "error"]
    assert len(errors) <= 2, f"one root cause is one error: {[(f.category, f.evidence[:60]) for f in errors]}"


@pytest.mark.parametrize("entry", CLEAN, ids=[e["file"] for e in CLEAN])
def test_clean_logs_report_no_error(entry):
    report = explain_bytes((LOGS / entry["file"]).read_bytes())
    assert [f.id for f in report.findings if f.severity.value == "error"] == []
    assert report.exit_code() == 0


# --- ranking and de-duplication ---------------------------------------------------------------------


def test_chain_reports_root_cause_first():
    log = (b"[TRT] [I] building\n" + OOM
           + b"[11/10/2023-06:30:40] [TRT-LLM] [E] Engine building failed, please check the error log.\n"
           + b"Traceback (most recent call last):\n  File \"build.py\", line 9, in <module>\n    main()\n"
           + b"RuntimeError: Engine building failed\n"
           + b"--------------------------------------------------------------------------\n"
           + b"Primary job  terminated normally, but 1 process returned\n")
    report = explain_bytes(log)
    errors = [f for f in report.findings if f.severity.value == "error"]
    assert [f.category for f in errors] == ["build-oom"], "the OOM explains the failed build and the MPI abort"
    consequences = [c["category"] for c in errors[0].extra["consequences"]]
    assert "mpi-failure" in consequences
    assert report.findings[0].line == 2


def test_same_error_from_eight_ranks_is_one_finding():
    line = b"Failed, NCCL error /src/cpp/tensorrt_llm/plugins/ncclPlugin/allreducePlugin.cpp:295 'unhandled system error'\n"
    log = b"".join(b"[1,%d]<stderr>:" % r + line for r in (3, 0, 7, 1, 2, 6, 4, 5))
    report = explain_bytes(log)
    nccl = [f for f in report.findings if f.category == "nccl-failure"]
    assert len(nccl) == 1
    assert nccl[0].extra["seen"] == "seen 8 times, on ranks 0-7"
    assert nccl[0].evidence.startswith("Failed, NCCL error")  # the MPI tag is stripped
    assert "unhandled system error" in nccl[0].fix


def test_ranges():
    assert ranges({0, 1, 2, 3, 5, 7, 8}) == "0-3, 5, 7-8"


def test_an_error_no_rule_knows_is_an_unknown_failure_with_its_component():
    log = (b"INFO step 1\n" * 50 + b"Traceback (most recent call last):\n"
           b'  File "/venv/lib/python3.12/site-packages/tensorrt_llm/llmapi/llm.py", line 88, in generate\n'
           b"    raise ValueError(msg)\n"
           b"ValueError: something nobody has seen\nbye\n")
    report = explain_bytes(log)
    (f,) = report.findings
    assert f.category == "unknown-failure" and f.severity.value == "error"
    assert f.evidence == "ValueError: something nobody has seen" and f.line == 54
    assert f.extra["component"] == "tensorrt_llm"
    assert "https://github.com/NVIDIA/TensorRT-LLM/issues" in f.fix and "ValueError" in f.fix


def test_nothing_wrong_says_so():
    report = explain_bytes(b"".join(b"INFO step %d\n" % i for i in range(100)))
    assert report.findings == [] and report.extra["summary"] == "No known problem found."


def test_traceback_frame_is_context():
    log = (b"Traceback (most recent call last):\n"
           b'  File "/usr/lib/python3/dist-packages/tensorrt_llm/runtime/model_runner.py", line 81, in read_config\n'
           b"    assert world_size == tensorrt_llm.mpi_world_size(), \\\n"
           b"AssertionError: Engine world size (2) != Runtime world size (1)\n")
    report = explain_bytes(log)
    f = report.findings[0]
    assert f.category == "parallelism-mismatch" and f.line == 4
    assert f.extra["context"][0].startswith('File "/usr/lib/python3/dist-packages/tensorrt_llm/runtime/model_runner.py"')
    assert "mpirun -n 2" in f.fix


# --- awkward input ----------------------------------------------------------------------------------


def test_line_numbers_across_small_blocks():
    log = b"".join(b"line %d\n" % i for i in range(1, 500)) + ENGINE_SM + b"tail\n"
    for block in (7, 64, 1000, 1 << 20):
        report = explain_bytes(log, block=block)
        assert report.findings[0].line == 500, block
        assert report.extra["inputs"][0]["lines"] == 501


def test_traceback_split_across_blocks_keeps_its_exception():
    log = (b"x\n" * 100 + b"Traceback (most recent call last):\n" + b'  File "/a/site-packages/torch/cuda/__init__.py", line 1, in f\n' * 20
           + b"RuntimeError: a message nobody knows\n")
    report = explain_bytes(log, block=256)
    (f,) = report.findings
    assert f.extra["exception"]["type"] == "RuntimeError" and f.extra["component"] == "torch"


def test_binary_garbage_nul_ansi_and_cr():
    log = (bytes(b for b in range(256) if b != 10) * 50 + b"\n"
           + b"\xff\xfe\x00garbage\x00\n"
           + b"Loading 10%\rLoading 50%\r\x1b[31m" + ENGINE_SM.rstrip(b"\n") + b"\x1b[0m\r\n"
           + b"\x00" * 10000 + b"\n")
    report = explain_bytes(log)
    f = report.findings[0]
    assert f.category == "engine-gpu-mismatch" and f.line == 3
    assert "\x1b" not in f.evidence and "Loading" not in f.evidence
    assert f.params["engine_sm"] == "90" and f.params["gpu_sm"] == "89"


def test_one_megabyte_lines_and_an_error_at_the_end_of_one():
    long_line = b"x" * (1 << 20) + b" " + OOM
    report = explain_bytes(b"a" * (3 << 20) + b"\n" + long_line)
    f = report.findings[0]
    assert f.category == "build-oom" and f.line == 2
    assert len(f.evidence) <= 410


def test_line_longer_than_any_block_is_cut_not_buffered():
    import io

    data = b"y" * (10 << 20)
    blocks = list(iter_blocks(io.BytesIO(data), "x", block=1 << 20, max_line=2 << 20))
    assert max(map(len, blocks)) <= 3 << 20
    assert sum(map(len, blocks)) == len(data)


@pytest.mark.parametrize("raw,text,rank", [
    (b"2024-05-01T12:00:00.123456789Z stdout F [TRT] [E] boom", "[TRT] [E] boom", None),
    (b"2024-05-01T12:00:00.123Z [1,3]<stderr>:RuntimeError: x", "RuntimeError: x", 3),
    (b"triton-server-1  | E0101 00:00:00 x.cc:1] boom", "E0101 00:00:00 x.cc:1] boom", None),
    (b"[pod/trt-0/server] Killed", "Killed", None),
    (b"Error:  2024-10-26 17:30:28 PyProcess - W-17921-test-stderr: [1,1]<stderr>:E1026 boom", "E1026 boom", 1),
    (b"\x1b[1;31m[E]\x1b[0m red", "[E] red", None),
    (b"[rank3]: torch.distributed.DistBackendError: NCCL error", "torch.distributed.DistBackendError: NCCL error", 3),
    (b"(RayWorkerWrapper pid=1148) NCCL WARN x", "NCCL WARN x", None),
])
def test_clean_line_prefixes(raw, text, rank):
    assert clean_line(raw) == (text, rank)


def test_clean_line_keeps_indentation_for_tracebacks():
    assert clean_line(b'[rank0]:   File "x.py", line 3, in f', keep_indent=True) == ('  File "x.py", line 3, in f', 0)


def test_gzip_stdin_utf16_and_several_files(tmp_path):
    gz = tmp_path / "a.log.gz"
    gz.write_bytes(gzip.compress(b"hello\n" + ENGINE_SM))
    u16 = tmp_path / "b.log"
    u16.write_bytes(("x\n" + OOM.decode()).encode("utf-16"))
    proc = run_cli(str(gz), str(u16), "-", "--format", "json", stdin=b"OSError: [Errno 28] No space left on device\n")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    cats = {f["category"]: f for f in report["findings"]}
    assert {"engine-gpu-mismatch", "build-oom", "disk-full"} <= set(cats)
    assert cats["engine-gpu-mismatch"]["line"] == 2 and cats["engine-gpu-mismatch"]["extra"]["file"] == str(gz)
    assert cats["disk-full"]["extra"]["file"] == "<stdin>"
    for f in report["findings"]:
        assert {"id", "category", "severity", "title", "evidence", "line", "fix", "docs"} <= set(f)


# --- the command line -------------------------------------------------------------------------------


def test_cli_exit_codes(tmp_path):
    clean = LOGS / CLEAN[0]["file"]
    assert run_cli(str(clean)).returncode == 0
    proc = run_cli(str(LOGS / ERRORS[0]["file"]))
    assert proc.returncode == 1 and "fix:" in proc.stdout.decode()
    for bad in (str(tmp_path), str(tmp_path / "missing.log")):
        proc = run_cli(bad)
        assert proc.returncode == 2
        err = proc.stderr.decode()
        assert err.count("\n") == 1 and "Traceback" not in err
    corrupt = tmp_path / "c.gz"
    corrupt.write_bytes(gzip.compress(os.urandom(100000))[:5000])
    proc = run_cli(str(corrupt))
    assert proc.returncode == 2 and proc.stderr.decode().count("\n") == 1


def test_cli_markdown_and_output_file(tmp_path):
    out = tmp_path / "r.md"
    proc = run_cli(str(LOGS / ERRORS[0]["file"]), "--format", "markdown", "-o", str(out))
    assert proc.returncode == 1
    text = out.read_text()
    assert ERRORS[0]["expected_cause"] in text or "|" in text


def test_cli_warnings_only_strict():
    warn = b"[TensorRT-LLM][WARNING] Device 3 peer access Device 0 is not available.\n"
    assert run_cli("-", stdin=warn).returncode == 0
    report = json.loads(run_cli("-", "-f", "json", stdin=warn).stdout)
    assert report["findings"] and all(f["severity"] != "error" for f in report["findings"])


def test_rules_explains_a_signature():
    proc = subprocess.run([sys.executable, "-m", "doctor", "rules", "S003"], capture_output=True, cwd=ROOT)
    out = proc.stdout.decode()
    assert proc.returncode == 0
    assert "trt-engine-incompatible-device" in out and "cause: engine-gpu-mismatch" in out
    assert "expecting compute 8.0 got compute 8.9" in out and "source: https://" in out
    rows = json.loads(subprocess.run([sys.executable, "-m", "doctor", "rules", "S003", "-f", "json"],
                                     capture_output=True, cwd=ROOT).stdout)
    assert rows["cause"] == "engine-gpu-mismatch" and rows["examples"]


def test_rules_explains_vocabulary_entries_and_suggests():
    def rules(*a):
        return subprocess.run([sys.executable, "-m", "doctor", "rules", *a], capture_output=True, cwd=ROOT)

    out = rules("cudaErrorIllegalAddress").stdout.decode()
    assert "cuda-runtime:cudaErrorIllegalAddress (code 700) - cause cuda-kernel-fault" in out and "Fix: A kernel" in out
    assert "[?" not in rules("driver-too-old").stdout.decode()
    assert rules("cuda-runtime").stdout.decode().startswith("cuda-runtime - CUDA runtime API errors")
    bad = rules("oom")
    assert bad.returncode == 2 and "did you mean host-oom-killed, build-oom, runtime-oom" in bad.stderr.decode()
    assert rules("drv002").returncode == 0
    assert rules("S003", "-f", "markdown").returncode == 2

def test_the_root_fix_quotes_the_numbers_of_its_consequence_lines():
    """The build OOM's own line has no size; the TensorRT warning under it does: the fix quotes it (review D12)."""
    from doctor.explain.run import explain_text
    from doctor.kb import default_kb

    text = (ROOT / "fixtures/logs/build-oom-llama2-13b-trtllm-346.log").read_text(encoding="utf-8", errors="replace")
    root = explain_text(text, default_kb())[0]
    assert root.category == "build-oom"
    assert "24793579520 bytes" in root.fix and "23.1 GiB" in root.fix


def test_a_context_line_is_a_root_only_when_it_explains_a_failure():
    """pip fetching the tensorrt-llm stub sdist means no wheel matched; it is the root of a failed build after
    it (review D12's wheel-stub log), and nothing at all in a healthy install that prints the same line."""
    from doctor.explain.run import explain_text
    from doctor.kb import default_kb

    kb = default_kb()
    failed = (ROOT / "fixtures/logs/holdout/python-no-wheel-py312-wheel-stub-0.15-trtllm-2181.log").read_text()
    roots = explain_text(failed, kb)
    assert roots[0].category == "python-no-wheel" and roots[0].severity.value == "error"
    assert any(c["category"] == "pip-build-failed" for c in roots[0].extra["consequences"])
    healthy = (ROOT / "fixtures/logs/clean-pip-install-wheel-stub-download-trtllm-4275.log").read_text()
    assert __import__("re").search(r"tensorrt[-_]llm-[0-9.]+\.tar\.gz", healthy)  # the same context line is in it
    assert [f for f in explain_text(healthy, kb) if f.category == "python-no-wheel"] == []
