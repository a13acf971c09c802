"""Structure in logs: tracebacks (frames, chains, ranks), C++ terminate, exit codes, and the machine join."""

from __future__ import annotations

from doctor.explain.structure import owner_of_path, owner_of_type
from doctor.facts import load_snapshot
from tests.conftest import SNAPSHOTS, explain_bytes

TB = b"Traceback (most recent call last):\n"


def frame(path: str) -> bytes:
    return f'  File "{path}", line 10, in f\n    x = g()\n'.encode()


def test_frame_owners():
    assert owner_of_path("/usr/local/lib/python3.12/dist-packages/tensorrt_llm/_torch/pyexecutor/py_executor.py") == "tensorrt_llm"
    assert owner_of_path("/opt/venv/lib/python3.10/site-packages/torch/cuda/__init__.py") == "torch"
    assert owner_of_path("/usr/lib/python3.12/concurrent/futures/process.py") == "python"
    assert owner_of_path("<frozen importlib._bootstrap>") == "importlib"
    assert owner_of_path("/home/me/serve.py") == "__main__"
    assert owner_of_type("huggingface_hub.errors.LocalEntryNotFoundError") == "huggingface_hub"
    assert owner_of_type("ValueError") == ""


def test_unknown_exception_is_owned_by_its_innermost_package_frame():
    log = TB + frame("/app/serve.py") + frame("/v/lib/python3.12/site-packages/transformers/modeling_utils.py") \
        + frame("/usr/lib/python3.12/json/decoder.py") + b"KeyError: 'rope_scaling_v9'\n"
    (f,) = explain_bytes(log).findings
    assert f.category == "unknown-failure" and f.extra["component"] == "transformers"
    assert f.extra["exception"]["frames"][-2:] == ["transformers", "python"]
    assert "huggingface/transformers/issues" in f.fix


def test_a_chain_is_explained_by_its_first_exception():
    log = (TB + frame("/v/site-packages/tensorrt_llm/llmapi/llm.py") + b"ValueError: first thing nobody knows\n\n"
           b"During handling of the above exception, another exception occurred:\n\n"
           + TB + frame("/v/site-packages/tensorrt_llm/llmapi/llm.py") + b"RuntimeError: cleanup failed too\n")
    (f,) = explain_bytes(log).findings
    assert f.evidence == "ValueError: first thing nobody knows"
    assert any(a["evidence"] == "RuntimeError: cleanup failed too" for a in f.extra["also"])


def test_known_message_inside_a_chain_wins_over_the_wrapper():
    log = (TB + frame("/v/site-packages/torch/serialization.py") + b"RuntimeError: basic_ios::clear: iostream error\n\n"
           b"During handling of the above exception, another exception occurred:\n\n"
           + TB + frame("/v/site-packages/torch/serialization.py")
           + b"RuntimeError: [enforce fail at inline_container.cc:672] . unexpected pos 704 vs 598\n")
    report = explain_bytes(log)
    assert [f.category for f in report.findings if f.severity.value == "error"] == ["disk-full"]


def test_interleaved_ranks_keep_their_own_traceback():
    lines = [b"[1,0]<stderr>:Traceback (most recent call last):\n", b"[1,1]<stderr>:Traceback (most recent call last):\n",
             b'[1,0]<stderr>:  File "/v/site-packages/torch/cuda/__init__.py", line 1, in f\n',
             b'[1,1]<stderr>:  File "/v/site-packages/tensorrt_llm/mapping.py", line 1, in g\n',
             b"[1,1]<stderr>:ValueError: rank one problem\n", b"[1,0]<stderr>:ValueError: rank zero problem\n"]
    report = explain_bytes(b"".join(lines))
    (f,) = report.findings
    owners = {f.extra["exception"]["owner"]}
    assert f.category == "unknown-failure" and owners <= {"torch", "tensorrt_llm"}


def test_cpp_terminate_is_classified_by_its_exception_type():
    log = b"terminate called after throwing an instance of 'std::bad_alloc'\n  what():  std::bad_alloc\nAborted (core dumped)\n"
    report = explain_bytes(log)
    assert report.findings[0].category == "host-memory-exhausted"
    assert [f.category for f in report.findings if f.severity.value == "error"] == ["host-memory-exhausted"]


def test_exit_code_137_is_the_oom_killer():
    report = explain_bytes(b"converting checkpoint\nbash: line 1:   984 Killed   python convert.py\nexit code 137\n")
    assert report.findings[0].category == "host-oom-killed"


def test_never_silent_on_an_error_level_line():
    report = explain_bytes(b"INFO ok\n[TensorRT-LLM][ERROR] Something no rule has ever seen\nINFO bye\n")
    (f,) = report.findings
    assert f.category == "unknown-failure" and f.severity.value == "error" and f.line == 2


def test_join_with_a_snapshot_uses_the_logs_numbers():
    from doctor.explain.join import join_facts

    report = explain_bytes(b"torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 30.00 GiB. GPU 0 has a total capacity "
                           b"of 79.19 GiB of which 12.00 GiB is free.\n")
    join_facts(report, load_snapshot(SNAPSHOTS / "l4.json"))
    (line,) = report.findings[0].extra["machine"]
    assert "NVIDIA L4" in line and "asked for 30.0 GiB" in line and "more than this GPU has in all" in line
    sm = explain_bytes(b"[TRT] [E] 6: The engine plan file is generated on an incompatible device, expecting compute 8.0 got compute 9.0, please rebuild.\n")
    join_facts(sm, load_snapshot(SNAPSHOTS / "h200-1gpu.json"))
    assert sm.findings[0].extra["machine"] == ["The GPUs here are SM 90; the engine was built for SM 80: it must be rebuilt here too."]
    ranks = explain_bytes(b"torch.AcceleratorError: CUDA error: invalid device ordinal\n")
    join_facts(ranks, load_snapshot(SNAPSHOTS / "h200-1gpu.json"))
    assert "This machine sees 1 GPU(s)" in ranks.findings[0].extra["machine"][0]


def test_explain_snapshot_cli(tmp_path):
    import subprocess
    import sys

    from tests.conftest import FIXTURES, ROOT

    log = FIXTURES / "logs" / "eval" / "h200-faultlab" / "torch-oom-weights.log"
    proc = subprocess.run([sys.executable, "-m", "doctor", "explain", str(log), "--snapshot", str(SNAPSHOTS / "l4.json")],
                          capture_output=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(tmp_path)})
    out = proc.stdout.decode()
    assert proc.returncode == 1 and "on this machine: GPU 0 here (NVIDIA L4)" in out
    bad = subprocess.run([sys.executable, "-m", "doctor", "explain", str(log), "--snapshot", str(tmp_path)],
                         capture_output=True, cwd=ROOT, env={"PATH": "/usr/bin:/bin", "HOME": str(tmp_path)})
    assert bad.returncode == 2 and bad.stderr.decode().count("\n") == 1
