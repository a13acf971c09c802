"""Tier 6 (ST6): build a tiny TensorRT-LLM engine from a random 2-layer Llama and generate a few tokens.

No downloads: a Llama-style config with random weights is written to a temporary
directory (torch + transformers, both TensorRT-LLM dependencies), the engine is built
through the LLM API's TensorRT backend (``tensorrt_llm._tensorrt_engine.LLM`` in 1.x;
``tensorrt_llm.LLM`` before it), a few tokens are generated from token ids (no
tokenizer), and the directory is removed. Reports build time and tokens/s.

Written against the documented LLM API of the newest release (examples/llm-api/
_tensorrt_engine/ in NVIDIA/TensorRT-LLM); it has not yet been run on a machine with
TensorRT-LLM installed.

Run alone: ``python -m doctor.selftest.tier_trtllm`` prints one result line.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import tempfile
import time
from typing import Any

from doctor.selftest._child import Fail, Pass, Skip, run

EXPECTED = "TensorRT-LLM builds a tiny engine and generates tokens with it"
VOCAB = 512
TINY_LLAMA = dict(vocab_size=VOCAB, hidden_size=256, intermediate_size=512, num_hidden_layers=2, num_attention_heads=4,
                  num_key_value_heads=4, max_position_embeddings=256, rms_norm_eps=1e-5, tie_word_embeddings=False)
NEW_TOKENS = 16


def installed() -> bool:
    try:
        return importlib.util.find_spec("tensorrt_llm") is not None
    except (ImportError, ValueError):
        return False


def write_checkpoint(path: str) -> None:
    import torch  # noqa: PLC0415
    from transformers import LlamaConfig, LlamaForCausalLM  # noqa: PLC0415

    torch.manual_seed(0)
    config = LlamaConfig(**TINY_LLAMA, torch_dtype="float16")
    config.architectures = ["LlamaForCausalLM"]
    model = LlamaForCausalLM(config).to(torch.float16)
    model.save_pretrained(path, safe_serialization=True)


def _llm_classes() -> tuple[Any, Any, Any, Any]:
    try:
        from tensorrt_llm._tensorrt_engine import LLM  # noqa: PLC0415 - 1.x: the TensorRT-engine LLM
    except ImportError:
        from tensorrt_llm import LLM  # noqa: PLC0415 - 0.x: LLM builds TensorRT engines
    try:
        from tensorrt_llm.llmapi import BuildConfig, KvCacheConfig, SamplingParams  # noqa: PLC0415
    except ImportError:
        from tensorrt_llm import BuildConfig, SamplingParams  # noqa: PLC0415
        from tensorrt_llm.hlapi import KvCacheConfig  # noqa: PLC0415
    return LLM, BuildConfig, KvCacheConfig, SamplingParams


def _sampling(SamplingParams: Any) -> Any:
    base = dict(max_tokens=NEW_TOKENS, end_id=VOCAB - 1, pad_id=0)
    for extra in ({"ignore_eos": True}, {}):
        try:
            return SamplingParams(**base, **extra)
        except TypeError:
            continue
    return SamplingParams(max_tokens=NEW_TOKENS)


def body() -> Pass:
    if not installed():
        raise Skip("TensorRT-LLM is not installed in this Python", cause="trtllm-not-installed",
                   params={"install": "pip3 install --extra-index-url https://pypi.nvidia.com/ tensorrt-llm"})
    if hasattr(os, "geteuid") and os.geteuid() == 0:  # the LLM API may start MPI workers; Open MPI refuses root otherwise
        os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
        os.environ.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    import tensorrt_llm  # noqa: PLC0415 - this child only

    version = getattr(tensorrt_llm, "__version__", "?")
    LLM, BuildConfig, KvCacheConfig, SamplingParams = _llm_classes()
    tmp = tempfile.mkdtemp(prefix="trtllm-doctor-st6-")
    llm = None
    try:
        ckpt = f"{tmp}/tiny-llama"
        write_checkpoint(ckpt)
        build = BuildConfig()
        for key, value in (("max_batch_size", 1), ("max_input_len", 32), ("max_seq_len", 64), ("max_num_tokens", 64)):
            if hasattr(build, key):
                setattr(build, key, value)
        t = time.perf_counter()
        llm = LLM(model=ckpt, build_config=build, skip_tokenizer_init=True,
                  kv_cache_config=KvCacheConfig(free_gpu_memory_fraction=0.05))
        build_s = time.perf_counter() - t
        prompt = [[1, 17, 42, 99, 7, 3, 250, 11]]
        params = _sampling(SamplingParams)
        llm.generate(prompt, params)  # warm-up
        t = time.perf_counter()
        outputs = llm.generate(prompt, params)
        gen_s = time.perf_counter() - t
        tokens = list(outputs[0].outputs[0].token_ids)
        if not tokens:
            raise Fail("unknown-failure", f"TensorRT-LLM {version} built the engine but generated no tokens", EXPECTED)
        if any(not (0 <= int(x) < VOCAB) for x in tokens):
            raise Fail("unknown-failure", f"TensorRT-LLM {version} generated token ids outside the vocabulary: {tokens[:8]}", EXPECTED)
        tps = len(tokens) / gen_s if gen_s > 0 else 0.0
        figure = f"TensorRT-LLM {version}: tiny 2-layer Llama engine built in {build_s:.1f} s; {len(tokens)} tokens at {tps:.0f} tokens/s"
        return Pass(figure, {"trtllm": version, "build_s": round(build_s, 2), "tokens": len(tokens), "tokens_per_s": round(tps, 1)})
    finally:
        if llm is not None:
            shutdown = getattr(llm, "shutdown", None)
            if callable(shutdown):
                try:
                    shutdown()
                except Exception:  # noqa: BLE001
                    pass
        shutil.rmtree(tmp, ignore_errors=True)


def main() -> None:
    run("ST6", body, expected=EXPECTED)


if __name__ == "__main__":
    main()
