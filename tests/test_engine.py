"""--engine: real engine configs from fixtures/engines (sources.md) in every layout, errors naming what is missing,
and the ENG checks on fixture snapshots."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from doctor.checks import Context, run_checks
from doctor.commands.check import CheckOptions, build_target
from doctor.facts import load_snapshot
from doctor.engine import EngineConfigError, load_engine, parse_engine_config
from doctor.errors import UsageError
from doctor.report import Severity

ROOT = Path(__file__).resolve().parent.parent
ENG = ROOT / "fixtures" / "engines"
SNAP = ROOT / "fixtures" / "snapshots"
DITTO = ENG / "llama2-7b-0.13.0-ditto-constants-rtxa6000.json"


def test_new_layout_0_13_complete():
    e = parse_engine_config(DITTO.read_text(), "config.json")
    assert (e.layout, e.version, e.architecture, e.dtype) == ("new", "0.13.0", "LlamaForCausalLM", "float16")
    assert (e.tp, e.pp, e.cp, e.num_layers, e.num_kv_heads, e.head_size) == (1, 1, 1, 32, 32, 128)
    assert (e.max_batch_size, e.max_seq_len, e.max_num_tokens, e.kv_cache_type) == (256, 4096, 8192, "PAGED")
    assert e.cluster_key == "NVIDIA-RTX-A6000" and e.cluster_info["math_throughput"]["fp8"] == 0
    assert e.weight_format == "fp16" and e.kv_dtype == "fp16" and e.fp8_reasons() == []
    assert e.plugin["tokens_per_block"] == 64 and e.speculative_mode_name == "none"


@pytest.mark.parametrize("name", ["bert-large-0.5.0-nvidia-examples.json", "bert-large-attn-plugin-0.5.0-nvidia-examples.json"])
def test_old_layout_0_5(name):
    e = parse_engine_config((ENG / name).read_text(), name)
    assert e.layout == "old" and e.version is None and e.architecture == "bert" and e.tp == 1
    assert e.max_batch_size == 256 and e.model_spec() is None  # BERT examples carry no decoder shape


@pytest.mark.parametrize("name, needles", [
    ("deepseek-6.7b-fp8-tp2-0.13.0-trtllm-issue2332.truncated.txt",
     ["truncated", "pretrained_config.quantization", "'build_config' is missing"]),
    ("llama3.1-8b-instruct-0.12.0.dev2024080600-triton-server-issue7661.truncated.txt",
     ["truncated", "inside pretrained_config", "'build_config' is missing"]),
    ("llama2-7b-0.9.0-era-trtllm-issue1532.fragment.txt", ["fragment", "'kv_dtype'"]),
    ("mistral-7b-w8a16-0.9.0.dev2024020600-tensorrtllm_backend-issue330.user-elided.txt",
     ["line 8", "pretrained_config", "elided"]),
    ("opt-125m-checkpoint-docs-example-trtllm-checkpoint-md.txt", ["trailing comma", "checkpoint config"]),
])
def test_broken_real_configs_name_what_is_missing(name, needles):
    with pytest.raises(EngineConfigError) as err:
        load_engine(ENG / name)
    msg = str(err.value)
    assert name in msg and "\n" not in msg
    for n in needles:
        assert n in msg, (n, msg)


def _ditto(**changes) -> dict:
    data = json.loads(DITTO.read_text())
    for dotted, value in changes.items():
        node = data
        *parents, last = dotted.split("__")
        for p in parents:
            node = node[p]
        if value is KeyError:
            del node[last]
        else:
            node[last] = value
    return data


@pytest.mark.parametrize("changes, field", [
    ({"pretrained_config__num_hidden_layers": KeyError}, "pretrained_config.num_hidden_layers"),
    ({"build_config__plugin_config": KeyError}, "build_config.plugin_config"),
    ({"pretrained_config__mapping__tp_size": "2"}, "pretrained_config.mapping.tp_size"),
    ({"pretrained_config__dtype": "int8"}, "pretrained_config.dtype"),
    ({"version": KeyError}, "'version'"),
    ({"pretrained_config__quantization": KeyError}, "pretrained_config.quantization"),
])
def test_unseen_configs_errors_name_the_field(changes, field):
    with pytest.raises(EngineConfigError, match=field.replace(".", r"\.")):
        parse_engine_config(json.dumps(_ditto(**changes)), "config.json")


def test_hf_and_checkpoint_configs_are_told_apart():
    hf = (ROOT / "fixtures" / "hf-configs" / "meta-llama--Llama-3.1-8B.config.json").read_text()
    with pytest.raises(EngineConfigError, match="Hugging Face config.json"):
        parse_engine_config(hf)
    ckpt = (ENG / "opt-125m-checkpoint-docs-example-trtllm-checkpoint-md.txt").read_text().replace(",\n}", "\n}")
    with pytest.raises(EngineConfigError, match="checkpoint config"):
        parse_engine_config(ckpt)
    with pytest.raises(EngineConfigError, match="unknown layout"):
        parse_engine_config('{"foo": 1}')
    with pytest.raises(EngineConfigError, match="empty"):
        parse_engine_config("")


def _engine_dir(tmp_path: Path, data: dict, ranks: int = 1, size: int = 13_476_835_328) -> Path:
    d = tmp_path / "engine"
    d.mkdir(exist_ok=True)
    (d / "config.json").write_text(json.dumps(data))
    for r in range(ranks):
        with open(d / f"rank{r}.engine", "wb") as fh:
            fh.truncate(size)  # sparse: the size of a Llama-2-7B FP16 engine, no disk used
    return d


def _run(snapshot: str, engine: Path, version: str | None = None, kb=None):
    facts = load_snapshot(SNAP / f"{snapshot}.json")
    opts = CheckOptions(engine=engine, trtllm_version=version)
    from doctor.kb import KB

    kb = kb or KB()
    target = build_target(opts, facts, kb)
    findings, results = run_checks(Context(facts, target, kb), areas=["engine"])
    from types import SimpleNamespace

    out = {f.id: f for f in findings}
    for f in findings:  # consequences folded under a finding of the same cause keep their id, evidence and severity
        for c in f.extra.get("consequences", []):
            out.setdefault(c["id"], SimpleNamespace(id=c["id"], evidence=c["evidence"], category=c["category"],
                                                    severity=Severity(c["severity"]), params=c.get("params", {}), extra={}))
    return out, {r.id: r for r in results}


def test_ditto_engine_on_h200(tmp_path):
    d = _engine_dir(tmp_path, _ditto())
    found, results = _run("h200-1gpu", d, "0.13.0")
    assert "ENG003" in found and "RTX-A6000" in found["ENG003"].evidence and "SM 90" in found["ENG003"].evidence
    assert found["ENG003"].params["engine_sm"] == 86
    assert "ENG008" in found  # 256 x 4096 tokens x 512 KiB does not fit; the runtime queues
    assert results["ENG001"].status == results["ENG002"].status == results["ENG007"].status == "pass"


def test_version_mismatch_and_old_layout(tmp_path):
    d = _engine_dir(tmp_path, _ditto())
    found, _ = _run("h200-1gpu", d, "0.17.0")
    assert found["ENG002"].params == {"runtime_version": "0.17.0", "engine_version": "0.13.0"}
    _, results = _run("h200-1gpu", d)  # nothing installed, nothing asked: cannot compare
    assert results["ENG002"].status == "skip"
    old = tmp_path / "old"
    old.mkdir()
    shutil.copy(ENG / "bert-large-0.5.0-nvidia-examples.json", old / "config.json")
    (old / "bert_float16_tp1_rank0.engine").write_bytes(b"x" * 1024)
    found, results = _run("h200-1gpu", old, "0.17.0")
    assert "old build.py flow" in found["ENG002"].evidence and results["ENG001"].status == "pass"


def test_fp8_engine_on_a100_and_rank_files(tmp_path):
    data = _ditto(pretrained_config__quantization__quant_algo="FP8", pretrained_config__mapping__tp_size=2,
                  build_config__plugin_config__use_fp8_context_fmha=True)
    d = _engine_dir(tmp_path, data, ranks=1, size=7 * 2**30)
    found, _ = _run("a100-80gb", d)
    assert "quant_algo FP8" in found["ENG005"].evidence and found["ENG005"].params["gpu_sm"] == 80
    assert "rank1.engine" in found["ENG001"].evidence
    assert found["ENG004"].params == {"world_size": 2, "gpus": 1}
    found, _ = _run("h200-1gpu", d)
    assert "ENG005" not in found  # SM 90 has FP8


def test_flags_lora_speculative(tmp_path):
    data = _ditto(build_config__plugin_config__use_fp8_context_fmha=True, build_config__max_num_tokens=None,
                  build_config__plugin_config__lora_plugin="auto", build_config__speculative_decoding_mode=4)
    d = _engine_dir(tmp_path, data)
    found, _ = _run("h200-1gpu", d)
    eng9 = found["ENG009"]  # two flag problems of one engine, one cause: one finding, the other under it
    assert "use_fp8_context_fmha" in eng9.evidence + " ".join(c["evidence"] for c in eng9.extra.get("consequences", []))
    assert "max_lora_rank" not in found["ENG010"].evidence or "lora_target_modules=[]" in found["ENG010"].evidence
    assert "medusa" in found["ENG011"].evidence and found["ENG011"].severity.value == "error"


def test_engine_too_big_for_gpu(tmp_path):
    d = _engine_dir(tmp_path, _ditto(), size=30 * 2**30)
    found, _ = _run("rtx4090", d)
    assert "ENG007" in found and found["ENG007"].category == "runtime-oom"


def test_cli_engine_errors_exit_2(tmp_path):
    env = {**os.environ, "NO_COLOR": "1"}
    for path in (ENG / "llama2-7b-0.9.0-era-trtllm-issue1532.fragment.txt", tmp_path / "nope", tmp_path):
        r = subprocess.run([sys.executable, "-m", "doctor", "check", "--snapshot", str(SNAP / "h200-1gpu.json"),
                            "--engine", str(path)], capture_output=True, text=True, env=env, timeout=60)
        assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1, r.stderr


def test_build_target_wraps_errors(kb):
    facts = load_snapshot(SNAP / "h200-1gpu.json")
    with pytest.raises(UsageError, match="truncated"):
        build_target(CheckOptions(engine=ENG / "deepseek-6.7b-fp8-tp2-0.13.0-trtllm-issue2332.truncated.txt"), facts, kb)
    with pytest.raises(UsageError, match="--kv-cache-dtype"):
        build_target(CheckOptions(model="llama-3.1-8b", kv_cache_dtype="fp4"), facts, kb)
