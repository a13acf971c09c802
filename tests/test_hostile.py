"""Hostile input and secrets (issue 12): every reproducer of the 2026-12 fuzz run, as a test.

Each case builds its input on the fly (FIFOs with os.mkfifo, /dev/zero, 1,000-deep nesting, 5,000-digit
numbers, lone surrogates, list values where scalars belong, a fake nvidia-smi or interpreter on PATH), runs
the real command in its own session under a time limit and checks the promise: a one-line error on stderr
and exit 2 for bad input (or a finding), never a traceback, never a crash file, never a hang, never
unbounded memory, never a planted secret in any output.
"""

from __future__ import annotations

import json
import os
import resource
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, SNAPSHOTS, explain_bytes

SNAP = SNAPSHOTS / "h200-1gpu.json"
CAPSH = shutil.which("capsh")


class Run:
    def __init__(self, rc: int | None, out: bytes, err: bytes, wall: float, maxrss_kib: int, tmp: Path):
        self.rc, self.out, self.err, self.wall, self.maxrss_kib, self.tmp = rc, out, err, wall, maxrss_kib, tmp

    @property
    def stdout(self) -> str:
        return self.out.decode("utf-8", "replace")

    @property
    def stderr(self) -> str:
        return self.err.decode("utf-8", "replace")

    def crash_files(self) -> list[Path]:
        return sorted(self.tmp.glob("trtllm-doctor-crash-*"))


def run(args: list[str], tmp: Path, *, cwd: Path | None = None, env: dict | None = None, stdin=subprocess.DEVNULL,
        timeout: float = 60, prefix: list[str] | None = None, shell_redirect: str | None = None) -> Run:
    """The real CLI in its own session, TMPDIR in ``tmp`` (where a crash file would land), its peak RSS from wait4."""
    tmp.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "TMPDIR": str(tmp), "NO_COLOR": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    argv = [*(prefix or []), sys.executable, "-m", "doctor", *args]
    if shell_redirect is not None:  # e.g. '> /dev/full', '>&-', '<&-'
        argv = ["sh", "-c", 'exec "$@" ' + shell_redirect, "sh", *argv]
    start = time.monotonic()
    proc = subprocess.Popen(argv, cwd=cwd or tmp, env=full_env, stdin=stdin, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        pytest.fail(f"hang: {' '.join(args)} still running after {timeout} s")
    return Run(proc.returncode, out, err, time.monotonic() - start, 0, tmp)


def run_rss(args: list[str], tmp: Path, *, env: dict | None = None, timeout: float = 60) -> Run:
    """Like run, but waits with os.wait4 to read this one child's peak RSS (KiB on Linux)."""
    tmp.mkdir(parents=True, exist_ok=True)
    full_env = {**os.environ, "TMPDIR": str(tmp), "NO_COLOR": "1", "PYTHONPATH": str(ROOT), **(env or {})}
    start = time.monotonic()
    out_path, err_path = tmp / "stdout", tmp / "stderr"
    with open(out_path, "wb") as out, open(err_path, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-m", "doctor", *args], cwd=tmp, env=full_env, stdin=subprocess.DEVNULL,
                                stdout=out, stderr=err, start_new_session=True)
        deadline = start + timeout
        while True:
            pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() > deadline:
                os.killpg(proc.pid, signal.SIGKILL)
                os.wait4(proc.pid, 0)
                pytest.fail(f"hang: {' '.join(args)} still running after {timeout} s")
            time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    return Run(proc.returncode, out_path.read_bytes(), err_path.read_bytes(), time.monotonic() - start, usage.ru_maxrss, tmp)


_BASELINE: list[int] = []


def rss_budget(extra_mib: int) -> int:
    """KiB a run may peak at: this interpreter's own start-up peak (``--version``; site hooks of a big image can
    take 300 MiB before the doctor runs a line) plus ``extra_mib`` for the work itself."""
    if not _BASELINE:
        import tempfile

        with tempfile.TemporaryDirectory() as d:
            _BASELINE.append(run_rss(["--version"], Path(d)).maxrss_kib)
    return _BASELINE[0] + extra_mib * 1024


def one_line_error(r: Run, *words: str) -> None:
    """Exit 2, exactly one line on stderr, ours, naming what it should; no traceback, no crash file."""
    lines = r.stderr.strip().splitlines()
    assert r.rc == 2, f"exit {r.rc}: {r.stderr[-2000:]}"
    assert len(lines) == 1, r.stderr[-2000:]
    assert lines[0].startswith("trtllm-doctor: error: "), lines[0]
    for w in words:
        assert w in lines[0], lines[0]
    assert "Traceback" not in r.stderr and not r.crash_files()


def no_crash(r: Run, codes=(0, 1)) -> None:
    assert r.rc in codes, f"exit {r.rc}: {r.stderr[-2000:]}"
    assert "Traceback" not in r.stderr and not r.crash_files(), r.stderr[-2000:]


def snapshot_text(**edits) -> str:
    data = json.loads(SNAP.read_text())
    for path, value in edits.items():
        node = data
        *head, last = path.split("__")
        for key in head:
            node = node[int(key)] if isinstance(node, list) else node[key]
        node[last] = value
    return json.dumps(data)


DEEP_JSON = "[" * 100_000 + "]" * 100_000
BIG_INT = "9" * 5000


def _fifo(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    return path


def _zero(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to("/dev/zero")
    return path


# --- snapshots (check --snapshot) ------------------------------------------------------------------------------


@pytest.mark.parametrize("case,words", [
    ("fifo", ["not a regular file"]),  # snapshot_hang_fifo-no-writer
    ("dev-zero", ["not a regular file"]),  # snapshot_traceback_MemoryError
    ("deep", ["nested too deeply"]),  # snapshot_traceback_RecursionError
    ("big-int", ["4300 digits"]),  # snapshot_traceback_ValueError_decoder
    ("wheel-runtime", ["cuda.wheel_runtimes", "CUDA version"]),  # snapshot_traceback_ValueError_driver.py_113
    ("huge-mib", ["memory_total_mib", "out of range"]),
    ("nan", ["power_limit_w", "finite"]),
])
def test_bad_snapshot_is_a_one_line_error(tmp_path, case, words):
    snap = tmp_path / "in" / "snap.json"
    if case == "fifo":
        _fifo(snap)
    elif case == "dev-zero":
        _zero(snap)
    else:
        snap.parent.mkdir()
        text = {
            "deep": '{"schema_version": 1, "platform": ' + DEEP_JSON + "}",
            "big-int": snapshot_text().replace('"memory_total_mib": 143771', f'"memory_total_mib": {BIG_INT}'),
            "wheel-runtime": snapshot_text(cuda__wheel_runtimes={"cuda-python": "\r\n\r\n"}),
            "huge-mib": snapshot_text().replace('"memory_total_mib": 143771', f'"memory_total_mib": {"9" * 400}'),
            "nan": snapshot_text().replace('"power_limit_w": 700.0', '"power_limit_w": NaN'),
        }[case]
        snap.write_text(text)
    r = run(["check", "--snapshot", str(snap), "-f", "json"], tmp_path / "t", timeout=30)
    one_line_error(r, *words)
    assert r.wall < 15


def test_lone_surrogate_in_a_snapshot_is_printed_not_a_crash(tmp_path):
    """snapshot_traceback_UnicodeEncodeError___init__.py_42_emit: valid JSON, a string the UTF-8 encoder refuses."""
    data = json.loads(SNAP.read_text())
    data["host"]["disks"][0]["path"] = "\ud800"
    snap = tmp_path / "snap.json"
    snap.write_text(json.dumps(data))  # json.dumps writes it as the escape \ud800
    for fmt in ("json", "human", "markdown", "github", "junit"):
        r = run(["check", "--snapshot", str(snap), "-f", fmt, "-v"], tmp_path / fmt)
        no_crash(r)
        if fmt == "json":
            assert json.loads(r.out)["facts"]["host"]["disks"][0]["path"] == "\ud800"  # lossless, as an escape


@pytest.mark.skipif(os.geteuid() == 0 and not CAPSH, reason="as root a chmod 000 file stays readable without capsh")
@pytest.mark.parametrize("flag", ["--snapshot", "--engine", "--config"])
def test_unreadable_path_is_one_line_from_click_too(tmp_path, flag):
    """*_rc2-not-one-line_click_usage_error: click's own usage errors (Path(readable=True)) are one line."""
    target = tmp_path / ("eng" if flag == "--engine" else "x.json")
    if flag == "--engine":
        target.mkdir()
    else:
        target.write_text(SNAP.read_text() if flag == "--snapshot" else "fail_on = 'error'\n")
    os.chmod(target, 0)
    prefix = [CAPSH, "--drop=cap_dac_override,cap_dac_read_search", "--", "-c", 'exec "$0" "$@"'] if os.geteuid() == 0 else []
    args = ["check", flag, str(target)] + ([] if flag == "--snapshot" else ["--snapshot", str(SNAP)])
    try:
        r = run(args, tmp_path / "t", prefix=prefix)
    finally:
        os.chmod(target, 0o755)
    one_line_error(r, "not readable")


@pytest.mark.parametrize("args,words", [
    (["plan", "--model", "llama-3.1-8b", "--gpu", "L4", "--max-seq-len", "0"], ["--max-seq-len"]),
    (["check", "--tp", BIG_INT], ["--tp"]),
    (["check", "--no-such-flag"], ["--no-such-flag"]),
    (["nonsense"], ["nonsense"]),
    (["plan", "--model", "llama-3.1-8b", "--gpu", "L4", "--kv-cache-free-gpu-mem-fraction", "x"], ["fraction"]),
])
def test_click_usage_errors_are_one_line(tmp_path, args, words):
    """model_rc2-not-one-line_click_usage_error: 'Usage:' / 'Try ...' / 'Error: ...' was three lines."""
    one_line_error(run(args, tmp_path), *words)


# --- engines (check --engine) ---------------------------------------------------------------------------------


ENGINE_OLD = {"builder_config": {"max_batch_size": 256, "max_input_len": 512, "name": "bert", "precision": "float16",
                                 "tensor_parallel": 1}, "plugin_config": {"gpt_attention_plugin": False}}


@pytest.mark.parametrize("case,words", [
    ("fifo", ["not a regular file"]),  # engine_hang_config-fifo
    ("dev-zero", ["not a regular file"]),  # engine_traceback_MemoryError
    ("deep", ["nested too deeply"]),  # engine_traceback_RecursionError
    ("big-int", ["4300 digits"]),  # engine_traceback_ValueError
    ("tp-1e19", ["tensor_parallel", "at most 4,096"]),  # engine_hang_ops_tree_builder_config_tensor_parallel_huge
    ("ranks", ["ranks", "at most 4,096"]),
])
def test_bad_engine_config_is_a_one_line_error(tmp_path, case, words):
    eng = tmp_path / "eng"
    cfg = eng / "config.json"
    if case == "fifo":
        _fifo(cfg)
    elif case == "dev-zero":
        _zero(cfg)
    else:
        eng.mkdir()
        data = json.loads(json.dumps(ENGINE_OLD))
        if case == "deep":
            text = '{"version": "0.13.0", "pretrained_config": ' + DEEP_JSON + "}"
        elif case == "big-int":
            text = json.dumps(data).replace('"max_batch_size": 256', f'"max_batch_size": {BIG_INT}')
        elif case == "tp-1e19":
            data["builder_config"]["tensor_parallel"] = 10**19
            text = json.dumps(data)
        else:
            data["builder_config"]["tensor_parallel"] = 4096
            data["builder_config"]["pipeline_parallel"] = 4096
            text = json.dumps(data)
        cfg.write_text(text)
        (eng / "rank0.engine").write_bytes(b"\0" * 16)
    r = run_rss(["check", "--engine", str(eng), "--snapshot", str(SNAP), "-f", "human"], tmp_path / "t", timeout=30)
    one_line_error(r, *words)
    assert r.wall < 15 and r.maxrss_kib < rss_budget(350)


# --- models (plan/check --model) ------------------------------------------------------------------------------


@pytest.mark.parametrize("case,words", [
    ("fifo", ["not a regular file"]),  # model_hang_model-fifo
    ("dev-zero", ["not a regular file"]),  # model_traceback_MemoryError
    ("deep", ["nested too deeply"]),  # model_traceback_RecursionError
    ("big-int", ["4300 digits"]),  # model_traceback_ValueError
])
def test_bad_model_config_is_a_one_line_error(tmp_path, case, words):
    cfg = tmp_path / "m" / "config.json"
    if case == "fifo":
        _fifo(cfg)
    elif case == "dev-zero":
        _zero(cfg)
    else:
        cfg.parent.mkdir()
        real = (FIXTURES / "hf-configs" / "meta-llama--Llama-3.1-8B.config.json").read_text()
        cfg.write_text('{"architectures": ' + DEEP_JSON + "}" if case == "deep"
                       else real.replace('"vocab_size": 128256', f'"vocab_size": {BIG_INT}'))
    r = run(["plan", "--model", str(cfg), "--snapshot", str(SNAP)], tmp_path / "t", timeout=30)
    one_line_error(r, *words)


# --- policy files ---------------------------------------------------------------------------------------------

NESTED_TABLES = "a = " + "{x = " * 3000 + "1" + "}" * 3000 + "\n"
NESTED_DOTTED = "a = " + "{x.y = " * 3000 + "1" + "}" * 3000 + "\n"
NESTED_ARRAYS = "a = " + "[" * 5000 + "]" * 5000 + "\n"


@pytest.mark.parametrize("case,body,words", [
    ("parse_key", NESTED_TABLES, ["nested too deeply"]),  # policy_traceback_RecursionError__parser.py_374_parse_key
    ("parse_key_part", NESTED_DOTTED, ["nested too deeply"]),  # ..._398_parse_key_part
    ("parse_array", "[tool.trtllm-doctor.severity]\n" + NESTED_ARRAYS, ["nested too deeply"]),  # ..._416_parse_array
    ("fail_on-list", 'fail_on = ["error"]\n', ["fail_on", "['error']"]),  # policy_traceback_TypeError_policy.py_184
    ("severity-list", "[tool.trtllm-doctor.severity]\nignore = []\n", ["severity.ignore"]),  # ..._236_parse_policy
    ("big-int", f"[tool.trtllm-doctor.target]\ntp = {BIG_INT}\n", ["4300 digits"]),
    ("target-list", "[tool.trtllm-doctor.target]\nmodel = ['a']\n", ["target.model"]),
])
def test_bad_policy_is_a_one_line_error(tmp_path, case, body, words):
    """Found upward from the working directory, as pyproject.toml [tool.trtllm-doctor]."""
    (tmp_path / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.trtllm-doctor]\n' + body)
    for args in (["check", "--snapshot", str(SNAP), "-f", "github"], ["fleet", str(SNAP), "--max-age", "100000d"]):
        r = run(args, tmp_path / "t", cwd=tmp_path)
        one_line_error(r, *words)


@pytest.mark.parametrize("case", ["fifo", "dev-zero"])
def test_policy_fifo_and_device_are_refused(tmp_path, case):
    """policy_hang_config-fifo, policy_traceback_MemoryError: --config naming a FIFO or /dev/zero."""
    cfg = _fifo(tmp_path / "f.toml") if case == "fifo" else Path("/dev/zero")
    r = run(["check", "--snapshot", str(SNAP), "--config", str(cfg)], tmp_path / "t", timeout=30)
    one_line_error(r, "not a regular file")
    assert r.wall < 15


# --- fleet ----------------------------------------------------------------------------------------------------


def _reports(tmp_path: Path) -> Path:
    r = tmp_path / "r"
    r.mkdir()
    for i in range(2):
        data = json.loads(SNAP.read_text())
        data["platform"]["hostname"] = f"gpu{i}"
        (r / f"gpu{i}.json").write_text(json.dumps(data))
    return r


@pytest.mark.parametrize("nodes", ["gpu[0-999999999]", "n[0-999]x[0-999]y[0-99]", "gpu[0-99999999]"])
def test_fleet_huge_host_lists_are_refused_before_expanding(tmp_path, nodes):
    """fleet_hang_nodes-huge-range, fleet_hang_nodes-nested-ranges, fleet_hang_fleet_r_-f_markdown_--nodes_gpu_0-99999999."""
    r = run_rss(["fleet", str(_reports(tmp_path)), "-f", "markdown", "--nodes", nodes], tmp_path / "t", timeout=30)
    one_line_error(r, "more than 65,536 nodes")
    assert r.wall < 10 and r.maxrss_kib < rss_budget(250)


@pytest.mark.parametrize("case", ["fifo", "dev-zero"])
def test_fleet_nodes_file_fifo_and_device(tmp_path, case):
    """fleet_hang_nodes-file-fifo, fleet_traceback_MemoryError_pathlib.py_1059_read_text (--nodes @/dev/zero)."""
    nodes = _fifo(tmp_path / "n.txt") if case == "fifo" else Path("/dev/zero")
    r = run(["fleet", str(_reports(tmp_path)), "--nodes", f"@{nodes}"], tmp_path / "t", timeout=30)
    one_line_error(r, "not a regular file")


def test_fleet_dev_zero_as_a_report(tmp_path):
    """fleet_traceback_MemoryError_pathlib.py_1051_read_bytes: `fleet /dev/zero`."""
    one_line_error(run(["fleet", "/dev/zero"], tmp_path, timeout=30), "not a regular file")


def test_fleet_report_with_a_huge_number_is_a_corrupt_report_not_a_crash(tmp_path):
    """fleet_traceback_ValueError_decoder.py_353_raw_decode: one report of the folder holds a 5,000-digit number."""
    reports = _reports(tmp_path)
    (reports / "gpu1.json").write_text(snapshot_text().replace('"memory_total_mib": 143771', f'"memory_total_mib": {BIG_INT}'))
    r = run(["fleet", str(reports), "-f", "json"], tmp_path / "t")
    no_crash(r, codes=(1,))
    rows = {n["node"]: n for n in json.loads(r.out)["extra"]["fleet"]["nodes"]}
    assert rows["gpu1"]["status"] == "corrupt" and "4300 digits" in rows["gpu1"]["problem"]
    # the same number on stdin
    with open(reports / "gpu1.json", "rb") as stdin:
        r = run(["fleet", "-"], tmp_path / "t2", stdin=stdin)
    no_crash(r, codes=(1,))


@pytest.mark.parametrize("command", [["fleet", "-"], ["explain", "-"]])
def test_closed_stdin_is_a_one_line_error(tmp_path, command):
    """explain_traceback_AttributeError_reader.py_79_open_input, fleet_traceback_AttributeError_fleet.py_167."""
    one_line_error(run(command, tmp_path, stdin=None, shell_redirect="<&-"), "stdin is closed")


def test_fleet_missing_path_is_exit_2(tmp_path):
    """D13: a typo'd report path is a usage error (exit 2), not a node called 'nonexist'."""
    one_line_error(run(["fleet", str(_reports(tmp_path)), str(tmp_path / "nonexist.json")], tmp_path / "t"), "nonexist.json")


# --- explain --------------------------------------------------------------------------------------------------


def test_explain_fifo_without_writer_ends(tmp_path):
    """explain_hang_fifo-no-writer: blocked forever in open()."""
    fifo = _fifo(tmp_path / "f.log")
    r = run(["explain", str(fifo)], tmp_path / "t", timeout=30)
    one_line_error(r, "named pipe")
    assert r.wall < 15


def test_explain_fifo_with_a_writer_is_read(tmp_path):
    fifo = _fifo(tmp_path / "f.log")
    writer = subprocess.Popen(["sh", "-c", f"sleep 1; echo 'RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB' > {fifo}"])
    r = run(["explain", str(fifo), "-f", "json"], tmp_path / "t", timeout=30)
    writer.wait(timeout=10)
    assert r.rc == 1 and json.loads(r.out)["findings"][0]["category"] == "runtime-oom"


@pytest.mark.parametrize("command", [
    ["explain", str(FIXTURES / "logs" / "build-oom-llama2-13b-trtllm-346.log")],
    ["check", "--snapshot", str(SNAP)],
    ["rules"],
])
def test_stdout_on_a_full_disk_is_a_one_line_error(tmp_path, command):
    """explain_wrong-exit_rc_N_expected_N_N_N_bad: `> /dev/full` gave exit 120 or an internal error."""
    if not os.path.exists("/dev/full"):
        pytest.skip("no /dev/full")
    one_line_error(run(command, tmp_path, shell_redirect="> /dev/full"), "No space left on device")


def test_closed_stdout_is_a_one_line_error(tmp_path):
    one_line_error(run(["check", "--snapshot", str(SNAP)], tmp_path, shell_redirect=">&-"), "stdout is closed")


# --- stdout that is not UTF-8 (D14) ---------------------------------------------------------------------------


@pytest.mark.parametrize("env", [{"PYTHONIOENCODING": "ascii"}, {"PYTHONIOENCODING": "latin-1"},
                                 {"LC_ALL": "C", "LANG": "C", "PYTHONUTF8": "0", "PYTHONIOENCODING": ""}])
def test_a_stdout_that_is_not_utf8_gets_ascii_symbols(tmp_path, env):
    check = run(["check", "--snapshot", str(SNAP)], tmp_path / "c", env=env)
    no_crash(check)
    assert "[OK] Operating system" in check.stdout and "[XX] Packages" in check.stdout
    check.out.decode("ascii")  # pure ASCII
    plan = run(["plan", "--model", "llama-3.1-8b", "--gpu", "L4"], tmp_path / "p", env=env)
    no_crash(plan)
    assert "[####" in plan.stdout
    plan.out.decode("ascii")
    js = run(["check", "--snapshot", str(SNAP), "-f", "json"], tmp_path / "j", env=env)
    no_crash(js)
    json.loads(js.out.decode("ascii"))
    md = run(["explain", str(FIXTURES / "logs" / "build-oom-llama2-13b-trtllm-346.log"), "-f", "markdown"], tmp_path / "m", env=env)
    no_crash(md)
    assert "### [XX]" in md.stdout


# --- signals: SIGTERM like Ctrl-C -----------------------------------------------------------------------------


def _hanging_interpreter(tmp_path: Path, marker: str) -> Path:
    py = tmp_path / "py"
    py.write_text(f"#!/bin/sh\nexec sleep {marker}\n")
    py.chmod(0o755)
    return py


def _processes_with(text: str) -> list[int]:
    found = []
    for d in Path("/proc").iterdir():
        if d.name.isdigit():
            try:
                cmd = (d / "cmdline").read_bytes().replace(b"\0", b" ").decode("utf-8", "replace")
                state = (d / "stat").read_text().split(")")[-1].split()[0]
            except OSError:
                continue
            if text in cmd and state != "Z":
                found.append(int(d.name))
    return found


@pytest.mark.parametrize("sig,code", [(signal.SIGTERM, 143), (signal.SIGINT, 130)])
def test_signal_during_selftest_ends_the_tier_and_removes_the_temp_dir(tmp_path, sig, code):
    """signals-sigterm-selftest-orphans-tier-and-leaves-tempdir: SIGTERM left the tier running and its temp dir."""
    marker = f"{887 + sig}.{os.getpid()}"
    py = _hanging_interpreter(tmp_path, marker)
    tmp = tmp_path / "t"
    tmp.mkdir()
    env = {**os.environ, "TMPDIR": str(tmp), "PYTHONPATH": str(ROOT)}
    proc = subprocess.Popen([sys.executable, "-m", "doctor", "selftest", "--python", str(py), "--timeout", "60"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, start_new_session=True)
    end = time.monotonic() + 20
    while not _processes_with(f"sleep {marker}") and time.monotonic() < end:
        time.sleep(0.05)
    assert _processes_with(f"sleep {marker}"), "the tier never started"
    os.killpg(proc.pid, sig)
    out, err = proc.communicate(timeout=20)
    assert proc.returncode == code, err
    assert err.decode().strip().splitlines() == ["trtllm-doctor: " + ("terminated" if code == 143 else "interrupted")]
    end = time.monotonic() + 5
    while _processes_with(f"sleep {marker}") and time.monotonic() < end:
        time.sleep(0.05)
    assert not _processes_with(f"sleep {marker}"), "the tier outlived the doctor"
    assert not list(tmp.glob("trtllm-doctor-selftest-*"))


def test_sigterm_during_explain_exits_143(tmp_path):
    fifo = _fifo(tmp_path / "slow.log")
    writer = subprocess.Popen(["sh", "-c", f"exec 3>{fifo}; while true; do echo 'progress 1%' >&3; sleep 0.2; done"],
                              start_new_session=True)
    try:
        proc = subprocess.Popen([sys.executable, "-m", "doctor", "explain", str(fifo)], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, env={**os.environ, "PYTHONPATH": str(ROOT)}, start_new_session=True)
        time.sleep(2)
        os.kill(proc.pid, signal.SIGTERM)
        out, err = proc.communicate(timeout=20)
    finally:
        os.killpg(writer.pid, signal.SIGKILL)
        writer.wait()
    assert proc.returncode == 143 and b"Traceback" not in err, err


# --- fake tools on PATH: hung, endless, orphaned --------------------------------------------------------------


def _fakebin(tmp_path: Path, name: str, body: str) -> Path:
    d = tmp_path / "fakebin"
    d.mkdir(exist_ok=True)
    f = d / name
    f.write_text("#!/bin/sh\n" + body + "\n")
    f.chmod(0o755)
    return d


def test_hung_nvidia_smi_is_killed_with_its_process_group(tmp_path):
    """hangs-orphaned-nvidia-smi-after-timeout: with --timeout 1 the hung nvidia-smi stayed behind (ppid 1)."""
    marker = f"777.{os.getpid()}"
    fake = _fakebin(tmp_path, "nvidia-smi", f"sleep {marker} & exec sleep {marker}")
    r = run(["check", "--timeout", "1", "-f", "json"], tmp_path / "t", env={"PATH": f"{fake}:{os.environ['PATH']}"})
    no_crash(r)
    assert r.wall < 10
    end = time.monotonic() + 3
    while _processes_with(f"sleep {marker}") and time.monotonic() < end:
        time.sleep(0.05)
    assert not _processes_with(f"sleep {marker}"), "a hung nvidia-smi (or its child) outlived check"


@pytest.mark.parametrize("tool", ["nvidia-smi", "ldconfig", "nvcc"])
def test_endless_tool_output_is_read_bounded(tmp_path, tool):
    """hangs-unbounded-memory-fake-tool-output: capture_output buffered 1.6-1.8 GB of `yes`."""
    fake = _fakebin(tmp_path, tool, 'exec yes "NVIDIA H100 80GB HBM3, 00000000:00:00.0, 9.0, 81559, 1, 550.54.15"')
    env = {"PATH": f"{fake}:{os.environ['PATH']}"}
    if tool == "nvcc":
        env["CUDA_HOME"] = str(tmp_path / "no-cuda")
    r = run_rss(["check", "-f", "json"], tmp_path / "t", env=env)
    no_crash(r)
    assert r.maxrss_kib < rss_budget(250), f"peak RSS {r.maxrss_kib} KiB"


def test_endless_python_is_bounded_in_memory_and_time(tmp_path):
    """hangs_traceback_MemoryError_..._get_data: --python printing without end grew to 4 GB, then the crash handler
    itself failed."""
    py = _fakebin(tmp_path, "py", 'exec yes "{\\"a\\": 1}"') / "py"
    r = run_rss(["check", "--python", str(py)], tmp_path / "t")
    one_line_error(r, "--python")
    assert r.maxrss_kib < rss_budget(250) and r.wall < 15


def test_hung_python_answers_within_the_probe_timeout(tmp_path):
    """H7: a hung --python took 20 s, not the documented 5 s."""
    py = _fakebin(tmp_path, "py", "exec sleep 60") / "py"
    r = run(["check", "--python", str(py), "--timeout", "2"], tmp_path / "t", timeout=30)
    one_line_error(r, "did not answer within 2 s")
    assert r.wall < 8


# --- secrets --------------------------------------------------------------------------------------------------

PLANTED_ENV = {
    "HF_TOKEN": "hf_PlantedHfTok3nZq9Xw7Vb5Nm1Lk2Jh4Gf6Ds8", "NGC_API_KEY": "nvapi-PlantedNgcKeyQw3Er5Ty7Ui9Op1As",
    "AWS_SECRET_ACCESS_KEY": "PlantedAwsSecretKzQ9w8E7r6T5y4U3i2O1pAs", "AWS_ACCESS_KEY_ID": "AKIAPLANTEDAKID12345",
    "OPENAI_API_KEY": "sk-PlantedOpenAiKeyMn8Bv7Cx6Za5Sd4", "GITHUB_TOKEN": "ghp_PlantedGithubTokenAb12Cd34Ef56Gh78Ij90",
    "MY_DB_PASSWORD": "PlantedDbPassw0rdXyzzy", "HUGGING_FACE_HUB_TOKEN": "hf_PlantedHubTok3nAa1Bb2Cc3Dd4Ee5Ff6Gg",
    "HTTPS_PROXY": "http://proxyuser:PlantedProxyPw0rdQ@proxy.invalid:3128",
    "PIP_INDEX_URL": "https://pipuser:PlantedPipIdxPw0rdW@pypi.invalid/simple",
    "PIP_EXTRA_INDEX_URL": "https://xuser:PlantedPipXtraPw0rdE@extra.invalid/simple",
}
# secret_value, line: every shape of the fuzz run's redaction misses, each on a line explain quotes (a CUDA OOM)
OOM = "RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB "
SHAPES = {
    "lower_db_password": ("RdxLowerDbPw11", "db_password=RdxLowerDbPw11"),
    "json_password": ("RdxJsonPw22", '"password": "RdxJsonPw22"'),
    "json_api_key": ("RdxJsonApiKey33", '{"api_key": "RdxJsonApiKey33"}'),
    "aws_ini": ("RdxAwsIni44", "aws_secret_access_key = RdxAwsIni44"),
    "url_pw_with_at": ("WithAt55", "https://user:RdxPw@WithAt55@host.invalid/x"),
    "hf_short": ("RdxShort66", "hf_RdxShort66"),
    "private_token_header": ("RdxGitlabPriv88", "PRIVATE-TOKEN: RdxGitlabPriv88"),
    "x_api_key_header": ("RdxXApiKey77", "X-Api-Key: RdxXApiKey77"),
    "passwd_flag_p": ("RdxMysqlFlag99", "mysql -uroot -pRdxMysqlFlag99"),
    "basic_auth_b64": ("UmR4QmFzaWNCNjRfMTAwOnNlY3JldA", "Authorization: Basic UmR4QmFzaWNCNjRfMTAwOnNlY3JldA=="),
    "cookie": ("RdxCookieSess101", "Cookie: session=RdxCookieSess101"),
    "sig_param": ("RdxAmzSig102", "https://bucket.s3.amazonaws.com/x?X-Amz-Signature=RdxAmzSig102&X-Amz-Credential=AKIAQQQQQQQQQQQQQQQQ"),
    "token_in_path": ("RdxTelegram103", "https://api.telegram.org/botRdxTelegram103:AAE/sendMessage"),
    "quoted_env": ("RdxQuotedHf104", "HF_TOKEN='RdxQuotedHf104'"),
    "export_space": ("RdxSpaceOpenai105", "export OPENAI_API_KEY = RdxSpaceOpenai105"),
    "ngc_key_plain": ("RdxNgcShort106", "nvapi-RdxNgcShort106"),
    "secret_word_colon_space": ("RdxClientSecret107", "client_secret: RdxClientSecret107"),
    "pwd_word": ("RdxPwd108", "pwd=RdxPwd108"),
    "auth_token_camel": ("RdxAuthTokenCamel109", "authToken=RdxAuthTokenCamel109"),
    "bearer_short": ("Rdx110", "Bearer Rdx110"),
    "unicode_sep": ("RdxNbspPw111", "password\u00a0=\u00a0RdxNbspPw111"),
    "ansi_inside": ("RdxAnsiPw112", "PASS\x1b[0mWORD=RdxAnsiPw112"),
    "hf_in_ansi": ("RdxAnsiHfAbCdEfGhIjKlMnOpQr113", "hf_\x1b[1mRdxAnsiHfAbCdEfGhIjKlMnOpQr113"),
    "hf_token_as_url_user": ("RdxUrlUserTokAbCdEfGhIjKlMn", "https://hf_RdxUrlUserTokAbCdEfGhIjKlMn@huggingface.co"),
    "gcp_key": ("AIzaSyRdxGoogleKey0123456789abcdefgh", "key=AIzaSyRdxGoogleKey0123456789abcdefgh"),
    "azure_conn": ("RdxAzureAccountKey114==", "DefaultEndpointsProtocol=https;AccountName=x;AccountKey=RdxAzureAccountKey114==;"),
    "pem": ("MIIEvRdxPrivateKeyBody115", "-----BEGIN PRIVATE KEY----- MIIEvRdxPrivateKeyBody115 -----END PRIVATE KEY-----"),
    "python_dict": ("RdxDictPw116", "{'password': 'RdxDictPw116'}"),
    "escaped_json": ("RdxEscJson117", '{\\"api_key\\": \\"RdxEscJson117\\"}'),
}


@pytest.mark.parametrize("fmt", ["human", "json", "junit", "markdown", "github"])
def test_every_secret_shape_is_redacted_in_every_format(kb, fmt):
    """secrets-markdown-redaction-misses (markdown/github) and X1 (json/junit/human quoted log lines verbatim)."""
    from doctor.render import render

    for name, (secret, shape) in SHAPES.items():
        report = explain_bytes((OOM + shape + "\n").encode(), kb)
        assert any(secret in json.dumps(f.to_dict()) for f in report.findings), name  # the line is quoted as evidence
        text = render(report, fmt, verbose=True)
        assert secret not in text, f"{name} leaks in {fmt}"


def test_redaction_keeps_what_is_not_a_secret():
    from doctor.redact import redact

    for text in ("max_num_tokens: 8192", "tokens_per_block=32", "pip install hf_transfer", "google-auth==2.41.1",
                 "http://localhost:8000/v1", "export HF_TOKEN=<your token>", "HF_TOKEN=${HF_TOKEN}",
                 "Token indices sequence length is longer than the specified maximum", "gcc -pthread -O2",
                 "eos_token: </s>", "kv_cache_free_gpu_mem_fraction=0.9", "(131072 B/token x 1 x 32768)",
                 "ssh -p 2222 host", "cluster_key: H100-PCIe", "--max_num_tokens 8192"):
        assert redact(text) == text


@pytest.mark.parametrize("command,fmt", [(c, f) for c in ("explain", "check") for f in ("json", "junit", "human", "markdown", "github")])
def test_planted_secrets_never_reach_any_output(tmp_path, command, fmt):
    """secrets_secret-leak_Log*_in_stdout (explain -f json quoted log lines verbatim) and
    secrets_secret-leak_hf_Planted*/PlantedProxyPw* (check -f json echoed a snapshot's own env)."""
    log = tmp_path / "s.log"
    log.write_text("\n".join([
        "[TRT-LLM] [I] Loading model from hf_LogOnlyHfTok3nAbCdEfGhIjKlMnOpQrStUv",
        "[1,0]<stderr>: RuntimeError: CUDA out of memory. Tried to allocate 2.00 GiB; token=LogOomLineTok3nIi8",
        "torch.OutOfMemoryError: CUDA out of memory. Tried to allocate 20.00 MiB (GPU 0; HF_TOKEN=LogOomHfTokOo9)",
        "OSError: You are trying to access a gated repo. Authorization: Bearer LogGatedBearerPp0 huggingface_hub.errors.GatedRepoError",
        "Error Code 2: OutOfMemory (no further information) https://u:LogOomUrlPwAa1@host.invalid/x",
        *[f"{k}={v}" for k, v in PLANTED_ENV.items()],
    ]) + "\n")
    data = json.loads(SNAP.read_text())
    data["env"] = {"HF_TOKEN": PLANTED_ENV["HF_TOKEN"], "TMPDIR": PLANTED_ENV["HTTPS_PROXY"], "LD_LIBRARY_PATH": "/x"}
    data["python"]["executable"] = f"/home/u/{PLANTED_ENV['MY_DB_PASSWORD']}/bin/python"
    snap = tmp_path / "s2.json"
    snap.write_text(json.dumps(data))
    out_file = tmp_path / "out.txt"
    args = (["explain", str(log)] if command == "explain" else ["check", "--snapshot", str(snap)]) + ["-f", fmt, "-v", "-o", str(out_file)]
    summary = tmp_path / "summary.md"
    r = run(args, tmp_path / "t", env={**PLANTED_ENV, "GITHUB_STEP_SUMMARY": str(summary)})
    no_crash(r)
    r2 = run(args[:-2], tmp_path / "t2", env=PLANTED_ENV)
    everything = r.stdout + r.stderr + out_file.read_text() + r2.stdout + r2.stderr
    if summary.exists():
        everything += summary.read_text()
    import re

    secrets = [re.search(r"://[^:]+:([^@]+)@", v).group(1) if "://" in v else v for v in PLANTED_ENV.values()]
    secrets += ["LogOnlyHfTok3n", "LogOomLineTok3nIi8", "LogOomHfTokOo9", "LogGatedBearerPp0", "LogOomUrlPwAa1"]
    for s in secrets:
        assert s not in everything, f"{s} leaks from {command} -f {fmt}"


def test_snapshot_output_is_redacted(tmp_path):
    r = run(["snapshot"], tmp_path, env={**PLANTED_ENV, "TMPDIR": PLANTED_ENV["HTTPS_PROXY"]})
    assert r.rc == 0, r.stderr
    assert "PlantedHfTok3n" not in r.stdout and "PlantedProxyPw0rdQ" not in r.stdout
    assert json.loads(r.out)["env"]["HF_TOKEN"] == "<set, redacted>"


def test_crash_file_keeps_argv_redacted(tmp_path, monkeypatch, capsys):
    """secrets-crash-file-keeps-argv-unredacted: argv went verbatim into the crash file users attach to issues."""
    from doctor import cli

    def boom(*a, **k):
        raise RuntimeError("boom with token=hf_SecretInExcAbCdEfGhIjKlMnOpQrSt")

    monkeypatch.setattr("doctor.commands.check.run_check", boom)
    monkeypatch.setattr(sys, "argv", ["trtllm-doctor", "check", "--snapshot", str(SNAP), "--trtllm-version",
                                      "hf_SecretInArgvAbCdEfGhIjKlMnOpQrSt"])
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    import tempfile

    monkeypatch.setattr(tempfile, "tempdir", None)
    with pytest.raises(SystemExit) as exc:
        cli.main()
    assert exc.value.code == 3
    (crash,) = tmp_path.glob("trtllm-doctor-crash-*.log")
    text = crash.read_text()
    assert "RuntimeError" in text and "argv:" in text
    assert "SecretInArgv" not in text and "SecretInExc" not in text
    err = capsys.readouterr().err
    assert "SecretInExc" not in err and str(crash) in err and len(err.strip().splitlines()) == 1


def test_fleet_names_from_stdin_are_printed_without_control_characters(tmp_path):
    """N3: binary garbage on `fleet -` was echoed raw (terminal escape injection)."""
    with open(_write(tmp_path / "g", b"\x1b]0;pwn\x07/x\x1b[2J\n"), "rb") as stdin:
        r = run(["fleet", "-"], tmp_path / "t", stdin=stdin)
    one_line_error(r)
    assert "\x1b" not in r.stderr


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def test_the_knowledge_base_prose_survives_redaction():
    """The doctor's own words (titles, fixes, notes) are not secrets: redaction must leave them as written,
    or a report quotes its own KB with holes in it ("valid credentials: <redacted>")."""
    import tomllib

    from doctor.kb import rules_dir
    from doctor.redact import redact

    changed = []

    def walk(value, path, name):
        if isinstance(value, str):
            if not any(w in path for w in ("example", "pattern", "lines", "regex", "anchor")) and redact(value) != value:
                changed.append(f"{name}{path}: {value[:80]}")
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}", name)
        elif isinstance(value, list):
            for v in value:
                walk(v, path, name)

    for f in sorted(rules_dir().rglob("*.toml")):
        walk(tomllib.loads(f.read_text(encoding="utf-8")), "", f.name)
    assert not changed, changed[:10]


# --- found by tools/fuzz.py (10,000 inputs, seed 20261202) ------------------------------------------------------


@pytest.mark.parametrize("field,value,words", [
    ("num_hidden_layers", 10**30, ["num_hidden_layers", "a 31-digit number", "corrupt"]),  # MemoryError in plan
    ("max_position_embeddings", 1e308, ["max_position_embeddings", "309-digit", "corrupt"]),
    ("num_local_experts", 10**9, ["num_local_experts", "at most 65,536"]),
])
def test_a_config_with_absurd_sizes_is_refused_not_planned(tmp_path, field, value, words):
    cfg = json.loads((FIXTURES / "hf-configs" / "meta-llama--Llama-3.1-8B.config.json").read_text())
    cfg[field] = value
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    r = run(["plan", "--model", "m/config.json", "--gpu", "H200", "-f", "markdown"], tmp_path, cwd=tmp_path)
    one_line_error(r, *words)


def test_a_secret_inside_a_quoted_value_of_a_usage_error_is_redacted(tmp_path):
    """The error quotes the bad value: "found '--hf_token SECRET'" must not print the token (stderr is pasted too)."""
    cfg = json.loads((FIXTURES / "hf-configs" / "meta-llama--Llama-3.1-8B.config.json").read_text())
    cfg["vocab_size"] = "--hf_token FuzzSecretoWfTcucI2HcG2467"
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    r = run(["check", "--model", "m/config.json", "--snapshot", str(FIXTURES / "snapshots" / "h200-1gpu.json")],
            tmp_path, cwd=tmp_path)
    one_line_error(r, "vocab_size", "<redacted>")
    assert "FuzzSecret" not in r.stderr + r.stdout


def test_a_lone_surrogate_reaches_the_github_step_summary_without_a_crash(tmp_path):
    snap = json.loads((FIXTURES / "snapshots" / "h200-1gpu.json").read_text())
    snap["platform"]["hostname"] = "node\ud800x"
    reports = tmp_path / "r"
    reports.mkdir()
    (reports / "a.json").write_text(json.dumps(snap), encoding="utf-8", errors="surrogatepass")
    summary = tmp_path / "summary.md"
    r = run(["fleet", "r", "--max-age", "100000d", "-f", "github"], tmp_path, cwd=tmp_path,
            env={"GITHUB_STEP_SUMMARY": str(summary)})
    assert r.rc in (0, 1) and "Traceback" not in r.stderr and not r.crash_files(), r.stderr
    assert summary.read_text(encoding="utf-8")


def test_a_100_kb_string_where_a_number_belongs_is_refused_at_once(tmp_path):
    """Found by the second fuzz run: the error line quoting a 100,000-character value took minutes to redact."""
    cfg = json.loads((FIXTURES / "hf-configs" / "meta-llama--Llama-3.1-8B.config.json").read_text())
    cfg["num_key_value_heads"] = "x" * 100_000
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    r = run(["check", "--model", "m/config.json", "--snapshot", str(FIXTURES / "snapshots" / "h200-1gpu.json"),
             "-f", "markdown"], tmp_path, cwd=tmp_path, timeout=20)
    one_line_error(r, "num_key_value_heads", "should be an integer")
    assert r.wall < 10


@pytest.mark.parametrize("text,secret", [
    ("""found "{'password': 'FuzzSecretZw2pyCNWBjJJ1664\"""", "FuzzSecretZw2pyCNWBjJJ1664"),  # a repr cut short
    ("token='abc123XYZsecret", "abc123XYZsecret"),
    ("found 'https://user:FuzzSecretP6HMr5DS3hZh2921@'", "FuzzSecretP6HMr5DS3hZh2921"),  # fuzz run 4: a URL cut at '@'
    ("found 'https://user:FuzzSecret8UWR1rUyccaC11292'", "FuzzSecret8UWR1rUyccaC11292"),  # fuzz run 5: cut before '@'
])
def test_a_quoted_secret_whose_quote_never_closes_is_redacted(text, secret):
    from doctor.redact import redact

    assert secret not in redact(text)


def test_redaction_is_linear_on_long_runs():
    import time as _time

    from doctor.redact import redact

    for text in ("x" * 100_000, "A_" * 50_000, "-" * 100_000, "'" * 100_000, "key='" * 20_000, "a=" * 50_000):
        start = _time.perf_counter()
        redact(f"found '{text}'")
        assert _time.perf_counter() - start < 5, text[:10]


def test_an_moe_layer_pattern_without_experts_is_refused(tmp_path):
    """Fuzz run 5: a Nemotron-H pattern with MoE layers ('E') and n_routed_experts 0 divided by zero in sizing."""
    cfg = json.loads((FIXTURES / "hf-configs" / "nvidia--NVIDIA-Nemotron-3-Nano-30B-A3B-BF16.config.json").read_text())
    cfg["n_routed_experts"] = 0
    (tmp_path / "m").mkdir()
    (tmp_path / "m" / "config.json").write_text(json.dumps(cfg))
    r = run(["plan", "--model", "m/config.json", "--gpu", "H200", "-f", "json"], tmp_path, cwd=tmp_path)
    one_line_error(r, "hybrid_override_pattern", "no experts")


def test_ports_and_hosts_are_not_taken_for_passwords():
    from doctor.redact import redact

    for text in ("http://proxy:3128", "http://localhost:8000/v1", "http://[::1]:8080", "https://docs.nvidia.com:443/x"):
        assert redact(text) == text


@pytest.mark.parametrize("value", ["Infinity", "NaN", "1e400"])
def test_a_non_finite_number_in_an_engine_config_is_refused(tmp_path, value):
    """Fuzz run 6: plugin_config.tokens_per_block = Infinity crashed the KV sizing (int(inf))."""
    eng = tmp_path / "eng"
    eng.mkdir()
    src = FIXTURES / "engines" / "llama2-7b-0.13.0-ditto-constants-rtxa6000.json"
    text = src.read_text()
    import re as _re

    if '"tokens_per_block"' in text:
        text = _re.sub(r'"tokens_per_block":\s*[0-9]+', f'"tokens_per_block": {value}', text)
    else:
        text = text.replace('"plugin_config": {', f'"plugin_config": {{"tokens_per_block": {value}, ', 1)
    (eng / "config.json").write_text(text)
    (eng / "rank0.engine").write_bytes(b"\0")
    r = run(["check", "--engine", "eng", "--snapshot", str(FIXTURES / "snapshots" / "h200-1gpu.json")], tmp_path,
            cwd=tmp_path)
    one_line_error(r, "config")
