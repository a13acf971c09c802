"""The GitHub Action's steps run as shell scripts; the GitLab, Kubernetes and Slurm examples are valid and
carry what they promise; the Slurm batch script runs end to end with a stand-in srun."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from junitparser import JUnitXml

from .conftest import ROOT, SNAPSHOTS

ACTION = ROOT / "action.yml"
VENV_BIN = Path(sys.executable).parent
EXPR = re.compile(r"\$\{\{\s*inputs\.([a-zA-Z0-9_-]+)\s*\}\}")


def load_action() -> dict:
    return yaml.safe_load(ACTION.read_text())


def run_action(tmp_path: Path, inputs: dict[str, str]) -> tuple[int, str, dict[str, str], Path]:
    """Run the composite steps in order, as the runner would: inputs through env, GITHUB_OUTPUT, step summary."""
    action = load_action()
    values = {name: str(spec.get("default", "")) for name, spec in action["inputs"].items()}
    values.update(inputs)
    out_file, summary = tmp_path / "github_output", tmp_path / "summary.md"
    out_file.write_text("")
    stdout = ""
    code = 0
    for step in action["runs"]["steps"]:
        assert step["shell"] == "bash"
        assert "${{" not in step["run"], "inputs must reach scripts through env, never spliced into the script"
        env = {k: EXPR.sub(lambda m: values[m.group(1)], str(v)) for k, v in step.get("env", {}).items()}
        env.update(PATH=f"{VENV_BIN}:/usr/bin:/bin", HOME=str(tmp_path), NO_COLOR="1",
                   GITHUB_OUTPUT=str(out_file), GITHUB_STEP_SUMMARY=str(summary))
        res = subprocess.run(["bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", step["run"]], cwd=tmp_path, env=env, capture_output=True, text=True,
                             timeout=120)
        stdout += res.stdout
        code = res.returncode
        if code != 0:
            break
    outputs = dict(line.split("=", 1) for line in out_file.read_text().splitlines() if "=" in line)
    return code, stdout, outputs, summary


def test_action_metadata():
    action = load_action()
    assert action["runs"]["using"] == "composite"
    assert {"config", "format", "output", "args", "package"} <= set(action["inputs"])
    assert action["inputs"]["format"]["default"] == "github"
    assert {"exit-code", "report"} <= set(action["outputs"])


def test_action_installs_and_checks_with_policy_github_format(tmp_path):
    policy = tmp_path / "policy.toml"
    policy.write_text('fail_on = "error"\n[[ignore]]\nid = "PKG001"\nreason = "image installs it later"\n')
    code, stdout, outputs, summary = run_action(tmp_path, {
        "package": "trtllm-doctor",
        "python": str(VENV_BIN / "python"),
        "pip-args": "--no-deps --no-index",  # already installed in this venv: pip must say so without a network
        "config": str(policy),
        "args": f"--snapshot {SNAPSHOTS / 'h200-2gpu-nvlink.json'}",
    })
    assert "trtllm-doctor 0." in stdout  # --version from the install step
    assert outputs["exit-code"] == str(code) and code in (0, 1)
    lines = [line for line in stdout.splitlines() if line.startswith("::")]
    assert lines and all(re.match(r"^::(error|warning|notice|group|endgroup)( |::)", line) for line in lines)
    assert "## trtllm-doctor check" in summary.read_text()


def test_action_junit_output_file_and_failure_exit(tmp_path):
    code, stdout, outputs, _ = run_action(tmp_path, {
        "package": "", "format": "junit", "output": "doctor.xml",
        "args": f"--snapshot {SNAPSHOTS / 'cpu-container.json'}",
    })
    assert code == 1 and outputs["exit-code"] == "1" and outputs["report"] == "doctor.xml"
    xml = JUnitXml.fromfile(str(tmp_path / "doctor.xml"))
    assert next(iter(xml)).failures >= 1
    assert "::error " in stdout  # annotations still printed to the log


def test_action_bad_policy_exits_2(tmp_path):
    (tmp_path / "bad.toml").write_text("nonsense = 1\n")
    code, _, outputs, _ = run_action(tmp_path, {"package": "", "config": "bad.toml",
                                                "args": f"--snapshot {SNAPSHOTS / 'l4.json'}"})
    assert code == 2 and outputs["exit-code"] == "2"


def test_gitlab_example():
    data = yaml.safe_load((ROOT / "examples" / "gitlab-ci.yml").read_text())
    job = data["trtllm-doctor"]
    assert any("trtllm-doctor check" in line and "--format junit" in line for line in job["script"])
    assert job["artifacts"]["reports"]["junit"] == "trtllm-doctor.xml" and job["artifacts"]["when"] == "always"
    assert any("trtllm-doctor fleet" in line for line in data["trtllm-doctor-fleet"]["script"])


def k8s(name: str) -> list[dict]:
    return [d for d in yaml.safe_load_all((ROOT / "deploy" / "k8s" / name).read_text()) if d]


def test_k8s_init_container_blocks_the_rollout():
    docs = {d["kind"]: d for d in k8s("init-container.yaml")}
    assert set(docs) == {"ConfigMap", "Deployment"}
    policy = docs["ConfigMap"]["data"]["trtllm-doctor.toml"]
    from doctor.policy import parse_policy
    from doctor.kb import tomllib

    parse_policy(tomllib.loads(policy), "configmap")  # the shipped policy is valid
    dep = docs["Deployment"]
    assert dep["apiVersion"] == "apps/v1"
    assert dep["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0
    pod = dep["spec"]["template"]["spec"]
    (init,) = pod["initContainers"]
    script = " ".join(init["command"] + init["args"])
    assert "trtllm-doctor check" in script and "--engine /models/engine" in script and "--config" in script
    assert init["resources"]["limits"]["nvidia.com/gpu"] >= 1
    mounts = {m["name"] for m in init["volumeMounts"]}
    assert mounts <= {v["name"] for v in pod["volumes"]}
    assert dep["spec"]["selector"]["matchLabels"] == dep["spec"]["template"]["metadata"]["labels"]


def test_k8s_job_per_gpu_node():
    (job,) = k8s("node-check-job.yaml")
    assert job["kind"] == "Job" and job["apiVersion"] == "batch/v1"
    assert job["spec"]["backoffLimit"] == 0
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never" and pod["nodeName"] == "NODE_NAME" and "NODE_NAME" in job["metadata"]["name"]
    (c,) = pod["containers"]
    script = " ".join(c["command"] + c["args"])
    assert "trtllm-doctor check --engine" in script and "--format json" in script and "exit $code" in script
    assert c["resources"]["limits"]["nvidia.com/gpu"] >= 1
    runner = ROOT / "deploy" / "k8s" / "check-gpu-nodes.sh"
    assert subprocess.run(["bash", "-n", str(runner)]).returncode == 0
    text = runner.read_text()
    assert "node-check-job.yaml" in text and "trtllm-doctor fleet" in text


def test_slurm_examples_syntax():
    for name in ("trtllm-serve.sbatch", "prolog.sh"):
        path = ROOT / "examples" / "slurm" / name
        assert subprocess.run(["bash", "-n", str(path)]).returncode == 0
    text = (ROOT / "examples" / "slurm" / "trtllm-serve.sbatch").read_text()
    assert "srun --ntasks-per-node=1" in text and "trtllm-doctor snapshot" in text and "trtllm-doctor fleet" in text


FAKE_SRUN = """#!/bin/bash
# stand-in for srun on one node: run the command once (per-node step) or just record it (the real job)
echo "srun $*" >> "$SRUN_LOG"
per_node=0
while [ $# -gt 0 ] && [[ "$1" == -* ]]; do [[ "$1" == --ntasks-per-node=1 ]] && per_node=1; shift; done
if [ "$per_node" = 1 ]; then exec "$@"; fi
"""


@pytest.mark.skipif(shutil.which("hostname") is None, reason="needs hostname")
def test_slurm_batch_script_runs_with_a_stand_in_srun(tmp_path):
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    srun = bin_dir / "srun"
    srun.write_text(FAKE_SRUN)
    srun.chmod(0o755)
    host = subprocess.run(["hostname", "-s"], capture_output=True, text=True).stdout.strip()
    env = {"PATH": f"{bin_dir}:{VENV_BIN}:/usr/bin:/bin", "HOME": str(tmp_path), "SLURM_SUBMIT_DIR": str(tmp_path),
           "SLURM_JOB_ID": "42", "SLURM_JOB_NUM_NODES": "1", "SLURM_JOB_NODELIST": host, "SRUN_LOG": str(tmp_path / "srun.log"),
           "NO_COLOR": "1"}
    res = subprocess.run(["bash", str(ROOT / "examples" / "slurm" / "trtllm-serve.sbatch")], cwd=tmp_path, env=env,
                         capture_output=True, text=True, timeout=120)
    reports = tmp_path / "trtllm-doctor" / "42"
    snapshot = reports / f"{host}.json"
    assert snapshot.is_file(), res.stderr
    import json

    assert json.loads(snapshot.read_text())["schema_version"] == 1
    assert (reports / "fleet.md").read_text().startswith("# trtllm-doctor fleet")
    log = (tmp_path / "srun.log").read_text()
    # one node that agrees with itself: the fleet is consistent unless this machine's own report is unusable
    if res.returncode == 0:
        assert "trtllm-serve" in log
    else:
        assert "not consistent" in res.stderr and "trtllm-serve" not in log
