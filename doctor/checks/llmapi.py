"""LLM API options (``check --extra-llm-api-options FILE`` / ``--serve "trtllm-serve ..."``) against the
target release's LlmArgs schema (rules/llmargs, doctor/llmargs.py): unknown keys with "did you mean",
keys renamed or removed by a release, types, choices and ranges, and settings that contradict each
other or the model and the machine. One finding per problem, grouped by kind.
"""

from __future__ import annotations

from doctor.checks import Context, Fail, Skip, check
from doctor.report import Severity

_GROUPS = {
    "LLM001": ("unknown-key",),
    "LLM002": ("renamed", "removed"),
    "LLM003": ("type", "range", "choice"),
    "LLM004": ("inconsistent",),
}


def _problems(ctx: Context):
    """(problems, schema label, note), computed once per target."""
    t = ctx.target
    if t.llm_options is None:
        return Skip("no LLM API options given (--extra-llm-api-options / --serve)")
    cached = t.extra.get("_llm_problems")
    if cached is not None:
        return cached
    from doctor import llmargs

    schema, label, note = llmargs.schema_for(t.release.version if t.release else t.release_version)
    # tp x pp against the visible GPUs is GPU010's finding (one root cause, one error): not passed here
    context = None
    if t.model is not None:
        context = llmargs.LlmArgsContext.from_model_spec(t.model, num_nextn_predict_layers=len(t.model.mtp_layers))
    got = (llmargs.validate(t.llm_options, schema, context=context), label, note)
    t.extra["_llm_problems"] = got
    t.extra["llm_api_schema"] = {"schema": label, "note": note}
    return got


def _fails(ctx: Context, check_id: str):
    got = _problems(ctx)
    if isinstance(got, Skip):
        return got
    problems, label, note = got
    where = ctx.target.llm_options_path or "the trtllm-serve flags"
    out = []
    for p in problems:
        if p.kind not in _GROUPS[check_id]:
            continue
        evidence = f"{where}: {p.key or '(top level)'}: {p.message}" + (f" [{note}]" if note else f" [LlmArgs of {label}]")
        expected = p.suggestion or (f"`{p.replacement}`" if p.replacement else "a value the release accepts")
        out.append(Fail(evidence, expected, {"key": p.key or None, "file": ctx.target.llm_options_path,
                                             "suggestion": p.suggestion},
                        severity=Severity.WARNING if p.severity == "warning" else Severity.ERROR))
    return out


@check("LLM001", "llm-api-unknown-key", area="llm-api", cause="llm-api-config-invalid",
       title="An LLM API option the release does not know",
       severity_when="a warning where the release's LlmArgs ignores extra keys instead of refusing them")
def unknown_key(ctx: Context):
    """Every key of the options file (and every trtllm-serve flag) must be a field of the release's LlmArgs
    at its level (TorchLlmArgs, KvCacheConfig, CudaGraphConfig...); a release whose models forbid extra keys
    refuses the file, older ones ignore the key silently (a warning)."""
    return _fails(ctx, "LLM001")


@check("LLM002", "llm-api-renamed-or-removed", area="llm-api", cause="llm-api-config-invalid",
       title="An LLM API option renamed or removed in the target release",
       severity_when="a warning where the release still accepts the old key")
def renamed(ctx: Context):
    """Options renamed between releases (e.g. use_cuda_graph -> cuda_graph_config, kv_cache_dtype ->
    kv_cache_config.dtype) or removed, per the release schemas and their deprecation notes."""
    return _fails(ctx, "LLM002")


@check("LLM003", "llm-api-bad-value", area="llm-api", cause="llm-api-config-invalid",
       title="An LLM API option with a value of the wrong type, out of range or not a choice",
       severity_when="a warning where the release would coerce the value or it only leaves no headroom")
def bad_value(ctx: Context):
    """Types, ranges and choices of the release's LlmArgs (free_gpu_memory_fraction in (0, 1),
    positive sizes, Literal choices), with pydantic's coercions."""
    return _fails(ctx, "LLM003")


@check("LLM004", "llm-api-inconsistent", area="llm-api", cause="llm-api-config-invalid",
       title="LLM API options that contradict each other, the model or the GPUs",
       severity_when="a warning where the runtime still starts but the setting is wasted or clamped")
def inconsistent(ctx: Context):
    """max_num_tokens vs max_seq_len without chunked prefill, tensor x pipeline parallel vs the visible
    GPUs and the attention heads, moe_expert_parallel_size vs the experts, CUDA-graph batch sizes vs
    max_batch_size, an MTP speculative config on a model without MTP layers."""
    return _fails(ctx, "LLM004")
