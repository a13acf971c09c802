"""The self-test runner against real small subprocesses: timeouts, signals, exit codes, results, Ctrl-C.

Each test writes a tiny child program, runs it as a tier through the real runner
(its own process group, its own timeout) and checks what the runner made of it.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from doctor.selftest import TierSpec
from doctor.selftest._child import MARKER
from doctor.selftest.runner import child_env, judge, parse_result, run_tier, run_tiers


def make_spec(tmp_path: Path, code: str, *, number: int = 9, timeout: float = 10.0, hang_cause: str = "gpu-hung",
              needs_cuda: bool = False, name: str = "child") -> TierSpec:
    script = tmp_path / f"{name}_{number}.py"
    script.write_text(textwrap.dedent(code))
    return TierSpec(number, f"ST{number}", f"selftest-{name}-{number}", f"{name}{number}", f"Test tier {name}",
                    "unused", timeout, hang_cause, needs_cuda=needs_cuda, argv=(sys.executable, str(script)))


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # A zombie still answers kill(0); treat it as dead.
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


def wait_dead(pid: int, seconds: float = 5.0) -> bool:
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.05)
    return not alive(pid)


def test_a_child_that_sleeps_past_its_timeout_is_killed_with_its_process_group(tmp_path):
    pidfile = tmp_path / "grandchild.pid"
    spec = make_spec(tmp_path, f"""
        import subprocess, sys, time
        p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        open({str(pidfile)!r}, "w").write(str(p.pid))
        print("waiting for a GPU that never answers", file=sys.stderr, flush=True)
        time.sleep(60)
    """, timeout=1.5)
    start = time.perf_counter()
    res = run_tier(spec, env=child_env(None, str(tmp_path)))
    took = time.perf_counter() - start
    assert res.status == "fail"
    assert res.timed_out is True
    assert res.cause == "gpu-hung"
    assert "no result within 1.5 s" in res.reason
    assert "waiting for a GPU that never answers" in res.stderr_tail
    assert took < 1.5 + 5, took  # SIGTERM ends it; no waiting for the 60 s sleep
    assert wait_dead(int(pidfile.read_text())), "the tier's grandchild survived the timeout"


def test_a_child_that_ignores_sigterm_gets_sigkill(tmp_path):
    spec = make_spec(tmp_path, """
        import signal, time
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        time.sleep(60)
    """, timeout=0.5)
    start = time.perf_counter()
    res = run_tier(spec)
    assert res.timed_out and res.status == "fail"
    assert time.perf_counter() - start < 0.5 + 2.0 + 3.0


@pytest.mark.parametrize("sig, text", [(signal.SIGSEGV, "segmentation fault"), (signal.SIGABRT, "aborted")])
def test_a_child_killed_by_a_signal_is_a_crash_with_the_signal_named(tmp_path, sig, text):
    spec = make_spec(tmp_path, f"""
        import os, signal, sys
        print("about to crash", file=sys.stderr, flush=True)
        os.kill(os.getpid(), {int(sig)})
    """)
    res = run_tier(spec)
    assert res.status == "fail"
    assert res.signal == sig.name
    assert res.returncode == -int(sig)
    assert f"killed by {sig.name} ({text})" in res.reason
    assert res.cause == "unknown-failure"  # nothing in stderr names a cause
    assert "about to crash" in res.stderr_tail


def test_an_abort_after_a_cuda_error_takes_its_cause_from_stderr(tmp_path):
    spec = make_spec(tmp_path, """
        import os, signal, sys
        sys.stderr.write("terminate called after throwing an instance of 'std::runtime_error'\\n")
        sys.stderr.write("  what():  CUDA error: an illegal memory access was encountered\\n")
        sys.stderr.flush()
        os.abort()
    """)
    res = run_tier(spec)
    assert res.signal == "SIGABRT"
    assert res.cause == "gpu-hardware-error"
    assert "illegal memory access" in res.evidence


def test_exit_1_with_a_cuda_error_text_is_classified(tmp_path):
    spec = make_spec(tmp_path, """
        import sys
        sys.stderr.write("Traceback (most recent call last):\\n  File \\"x.py\\", line 3\\n")
        sys.stderr.write("RuntimeError: CUDA error: no kernel image is available for execution on the device\\n")
        sys.exit(1)
    """)
    res = run_tier(spec)
    assert res.status == "fail"
    assert res.returncode == 1 and res.signal is None
    assert res.exit == "exit code 1"
    assert res.cause == "gpu-arch-unsupported"
    assert "no kernel image" in res.evidence


def test_sigkill_from_outside_points_at_the_oom_killer(tmp_path):
    spec = make_spec(tmp_path, """
        import os, signal
        os.kill(os.getpid(), signal.SIGKILL)
    """)
    res = run_tier(spec)
    assert res.signal == "SIGKILL" and not res.timed_out
    assert res.cause == "host-oom-killed"


def test_a_result_line_is_read_amid_other_output(tmp_path):
    spec = make_spec(tmp_path, f"""
        import json, sys
        print("library chatter on stdout")
        print({MARKER!r} + json.dumps({{"tier": "ST9", "status": "pass", "figure": "42 GB/s", "metrics": {{"x": 1}}}}))
        print("more chatter", file=sys.stderr)
    """)
    res = run_tier(spec)
    assert res.status == "pass", res.reason
    assert res.figure == "42 GB/s"
    assert res.metrics == {"x": 1}
    assert res.stderr_tail == ""  # kept only for failures


def test_a_result_followed_by_a_crash_at_exit_is_a_failure(tmp_path):
    spec = make_spec(tmp_path, f"""
        import json, os, signal
        print({MARKER!r} + json.dumps({{"tier": "ST9", "status": "pass", "figure": "fine"}}), flush=True)
        os.kill(os.getpid(), signal.SIGSEGV)
    """)
    res = run_tier(spec)
    assert res.status == "fail"
    assert "reported 'pass' but then killed by SIGSEGV" in res.reason


def test_exit_0_without_a_result_and_a_malformed_result_are_failures(tmp_path):
    res = run_tier(make_spec(tmp_path, "print('hello')"))
    assert res.status == "fail" and "without a result" in res.reason and res.cause == "unknown-failure"
    res = run_tier(make_spec(tmp_path, f"print({MARKER!r} + '{{not json')", number=8))
    assert res.status == "fail"


def test_a_program_that_cannot_start_is_a_failure_not_an_exception(tmp_path):
    spec = TierSpec(9, "ST9", "x", "x", "x", "x", 5.0, "gpu-hung", argv=(str(tmp_path / "missing-program"),))
    res = run_tier(spec)
    assert res.status == "fail" and res.exit == "not started"


def test_run_tiers_skips_gpu_tiers_after_the_cuda_tier_fails_and_cleans_its_temp_dir(tmp_path):
    seen = tmp_path / "seen.json"
    st2 = make_spec(tmp_path, """
        import sys
        sys.stderr.write("cuInit: CUDA_ERROR_NO_DEVICE\\n"); sys.exit(1)
    """, number=2)
    st3 = make_spec(tmp_path, "raise SystemExit('must not run')", number=3, needs_cuda=True)
    st6 = make_spec(tmp_path, f"""
        import json, os
        keys = ("TMPDIR", "CUDA_VISIBLE_DEVICES", "NCCL_NVLS_ENABLE", "TORCH_SYMM_MEM_DISABLE_MULTICAST", "NVSHMEM_DISABLE_NVLS")
        open(os.path.join(os.environ["TMPDIR"], "scratch"), "w").write("x")
        json.dump({{k: os.environ.get(k) for k in keys}}, open({str(seen)!r}, "w"))
        print({MARKER!r} + json.dumps({{"tier": "ST6", "status": "skip", "reason": "nothing to do"}}))
    """, number=6)
    done = []
    results = run_tiers([st2, st3, st6], gpus="1,0", on_done=done.append)
    assert [r.status for r in results] == ["fail", "skip", "skip"]
    assert results[0].cause == "gpu-not-visible"
    assert "ST2 failed" in results[1].reason
    assert [r.id for r in done] == ["ST2", "ST3", "ST6"]
    env = json.loads(seen.read_text())
    assert env["CUDA_VISIBLE_DEVICES"] == "1,0"
    assert env["NCCL_NVLS_ENABLE"] == "0"
    assert env["TORCH_SYMM_MEM_DISABLE_MULTICAST"] == "1"
    assert env["NVSHMEM_DISABLE_NVLS"] == "1"
    assert not os.path.exists(env["TMPDIR"]), "the run's temporary directory was left behind"


def test_ctrl_c_kills_the_running_tier_and_removes_temporary_files(tmp_path):
    pidfile = tmp_path / "tier.pid"
    tmpfile = tmp_path / "tier.tmp"
    tier_script = tmp_path / "sleeper.py"
    tier_script.write_text(textwrap.dedent(f"""
        import os, time
        open({str(tmpfile)!r}, "w").write(os.environ["TMPDIR"])
        open({str(pidfile)!r}, "w").write(str(os.getpid()))
        time.sleep(60)
    """))
    driver = tmp_path / "driver.py"
    driver.write_text(textwrap.dedent(f"""
        import sys
        from doctor.selftest import TierSpec
        from doctor.selftest.runner import run_tiers
        spec = TierSpec(9, "ST9", "s", "s", "s", "s", 60.0, "gpu-hung", argv=(sys.executable, {str(tier_script)!r}))
        try:
            run_tiers([spec])
        except KeyboardInterrupt:
            sys.exit(130)
    """))
    proc = subprocess.Popen([sys.executable, str(driver)], env=child_env(None, str(tmp_path)))
    end = time.monotonic() + 20
    while not (pidfile.exists() and pidfile.read_text()) and time.monotonic() < end:
        time.sleep(0.05)
    assert pidfile.exists(), "the tier never started"
    proc.send_signal(signal.SIGINT)
    assert proc.wait(timeout=30) == 130  # generous: a loaded CI machine
    assert wait_dead(int(pidfile.read_text()))
    assert not os.path.exists(tmpfile.read_text())


def test_cli_ctrl_c_exits_130(tmp_path):
    """The real command, interrupted while a real tier runs: exit 130, no traceback. The console script, as users
    run it (under ``python -m`` an interrupt in the first 0.1 s sometimes ends the interpreter by SIGINT itself)."""
    script = Path(sys.executable).with_name("trtllm-doctor")
    argv = [str(script)] if script.exists() else [sys.executable, "-m", "doctor"]
    proc = subprocess.Popen([*argv, "selftest", "--tier", "nvml,cuda"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=child_env(None, str(tmp_path)))
    time.sleep(0.3)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=15)
    if proc.returncode in (0, 1):
        pytest.skip("the tiers finished before the interrupt arrived")
    assert proc.returncode == 130, err
    assert "Traceback" not in err


def test_parse_result_takes_the_last_valid_line():
    text = f"{MARKER}{{\"status\": \"fail\"}}\nnoise\n{MARKER}{{\"status\": \"pass\", \"figure\": \"x\"}}\n"
    assert parse_result(text)["status"] == "pass"
    assert parse_result("nothing here") is None
    assert parse_result(f"{MARKER}{{\"status\": \"maybe\"}}") is None


def test_judge_timeout_prefers_a_cause_found_in_stderr():
    spec = TierSpec(5, "ST5", "s", "s", "s", "s", 1.0, "nccl-failure")
    res = judge(spec, "", "NCCL WARN NET/IB : Got completion with error 12\n", -15, True, 1.0, 1.2)
    assert res.timed_out and res.cause == "nccl-failure" and "hung" in res.reason
    res = judge(spec, "", "", -15, True, 1.0, 1.2)
    assert res.cause == "nccl-failure" and res.signal is None


def test_a_cuda_error_inside_a_tier_keeps_the_visible_devices_for_the_fix(tmp_path):
    spec = make_spec(tmp_path, """
        from doctor.selftest._child import CudaError, run
        def body():
            raise CudaError("cuInit", 100, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected")
        run("ST9", body)
    """)
    (res,) = run_tiers([spec], gpus="7")
    assert res.status == "fail" and res.cause == "gpu-not-visible"
    assert res.params == {"cuda_error": "CUDA_ERROR_NO_DEVICE", "cuda_visible_devices": "7"}
