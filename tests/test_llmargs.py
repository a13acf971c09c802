"""doctor.llmargs: LLM API options files checked against rules/llmargs/<release>.json.

Real YAMLs come from fixtures/llm-api/ (sources.md names the release of each); the broken
variants are made from them here.
"""

from __future__ import annotations

import copy
from pathlib import Path

import pytest

yaml = pytest.importorskip("yaml")

from doctor import llmargs as L  # noqa: E402
from doctor.errors import UsageError  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "fixtures" / "llm-api"
SCHEMAS = ROOT / "rules" / "llmargs"

# fixture file -> the release it is tied to (fixtures/llm-api/sources.md)
VALID = {
    "0.19-era-deepseek-r1-b200-min-latency.yaml": "0.19",
    "1.0-dev-b6261862-deepseek-r1-b200-min-latency.yaml": "1.0",
    "1.0-dev-b6261862-deepseek-r1-h200-max-throughput.yaml": "1.0",
    "1.0.0rc6-deepseek-r1-fp8.yaml": "1.0.0rc6",
    "1.0.0rc6-deepseek-r1-nvfp4.yaml": "1.0.0rc6",
    "1.0.0rc6-deepseek-r1-wide-ep-fragment.yaml": "1.0.0rc6",
    "1.0.0rc6-gpt-oss-120b-low-latency.yaml": "1.0.0rc6",
    "1.0.0rc6-gpt-oss-120b-max-throughput.yaml": "1.0.0rc6",
    "1.3.0rc11-deepseek-r1-reasoning-parser.yaml": "1.3.0rc11",
    "main-deepseek-r1-throughput.yaml": "main-2026",
    "main-gpt-oss-120b-throughput.yaml": "main-2026",
    "main-llama-3.3-70b.yaml": "main-2026",
    "main-qwen3.yaml": "main-2026",
}


def load(name: str) -> dict:
    return L.load_yaml(FIX / name)


def schema(release: str | None) -> dict:
    return L.schema_for(release, SCHEMAS)[0]


def check(options: dict, release: str | None, context: L.LlmArgsContext | None = None) -> list[L.Problem]:
    problems = L.validate(options, schema(release), context=context)
    for p in problems:  # every problem: a known kind, a severity, one sentence
        assert p.kind in L.KINDS and p.severity in ("error", "warning")
        assert "\n" not in p.message and p.message.endswith(".")
    return problems


def only(problems: list[L.Problem], key: str, kind: str | None = None) -> L.Problem:
    hits = [p for p in problems if p.key == key and (kind is None or p.kind == kind)]
    assert len(hits) == 1, problems
    return hits[0]


def write(tmp_path: Path, data: dict | str, name: str = "config.yaml") -> Path:
    path = tmp_path / name
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


# --- real files against their own release ----------------------------------------------------

@pytest.mark.parametrize("name,release", sorted(VALID.items()))
def test_fixture_has_no_error_against_its_release(name, release):
    problems = check(load(name), release)
    assert L.errors(problems) == []


def test_fixtures_cover_several_releases():
    labels = {L.schema_for(r, SCHEMAS)[1] for r in VALID.values()}
    assert labels == {"0.19", "1.0", "1.3.0rc", "main-2026"}


def test_main_curated_config_warnings_are_specific():
    problems = check(load("main-deepseek-r1-throughput.yaml"), "main-2026")
    serve = only(problems, "kv_cache_free_gpu_memory_fraction")
    assert (serve.kind, serve.severity) == ("unknown-key", "warning")
    assert serve.replacement == "kv_cache_config.free_gpu_memory_fraction"
    assert "trtllm-serve command-line flag" in serve.message
    mtp = only(problems, "speculative_config.num_nextn_predict_layers")
    assert (mtp.kind, mtp.severity, mtp.replacement) == ("renamed", "warning", "speculative_config.max_draft_len")


def test_key_that_moved_mid_cycle_is_a_renamed_error_on_1_0():
    # the B200 FP8-KV blog config mixes cuda_graph_config (1.0) with top-level kv_cache_dtype (0.21)
    problems = check(load("1.0-dev-b6261862-deepseek-r1-b200-max-throughput-fp8kv.yaml"), "1.0")
    assert len(L.errors(problems)) == 1
    p = only(problems, "kv_cache_dtype")
    assert (p.kind, p.severity, p.replacement) == ("renamed", "error", "kv_cache_config.dtype")
    assert p.message == ("kv_cache_dtype was renamed to kv_cache_config.dtype in release 1.0; "
                         "release 1.0 rejects unknown keys at the top level.")


# --- broken variants --------------------------------------------------------------------------

def test_typo_at_top_level_gets_did_you_mean(tmp_path):
    data = load("1.0.0rc6-deepseek-r1-fp8.yaml")
    data["kv_cache_confg"] = data.pop("kv_cache_config")
    p = only(check(L.load_yaml(write(tmp_path, data)), "1.0.0rc6"), "kv_cache_confg")
    assert (p.kind, p.severity) == ("unknown-key", "error")
    assert p.suggestion == "did you mean kv_cache_config?"
    assert p.replacement == "kv_cache_config"


def test_typo_in_nested_section_gets_did_you_mean():
    data = load("1.0.0rc6-deepseek-r1-fp8.yaml")
    data["moe_config"]["backnd"] = data["moe_config"].pop("backend")
    p = only(check(data, "1.0"), "moe_config.backnd")
    assert p.kind == "unknown-key" and p.severity == "error"
    assert p.suggestion == "did you mean moe_config.backend?"
    assert "MoeConfig" in p.message


def test_unknown_key_is_a_warning_where_the_release_accepts_extra_keys():
    data = load("0.19-era-deepseek-r1-b200-min-latency.yaml")
    data["max_batch_sise"] = 64
    p = only(check(data, "0.19"), "max_batch_sise")
    assert (p.kind, p.severity, p.replacement) == ("unknown-key", "warning", "max_batch_size")
    assert "without checking them" in p.message


def test_renamed_key_from_an_older_release():
    data = load("main-llama-3.3-70b.yaml")
    sizes = data.pop("cuda_graph_config")
    data["cuda_graph_max_batch_size"] = sizes["max_batch_size"]
    p = only(check(data, "1.3.0rc11"), "cuda_graph_max_batch_size")
    assert (p.kind, p.severity, p.replacement) == ("renamed", "error", "cuda_graph_config.max_batch_size")
    assert "renamed to cuda_graph_config.max_batch_size in release 1.0" in p.message


def test_dissolved_pytorch_backend_config_lists_where_each_option_went():
    p = only(check(load("0.19-era-deepseek-r1-b200-min-latency.yaml"), "1.0"), "pytorch_backend_config")
    assert (p.kind, p.severity) == ("renamed", "error")
    assert "dissolved in release 0.21" in p.message
    assert "use_cuda_graph -> cuda_graph_config" in p.suggestion
    assert "moe_backend -> moe_config.backend" in p.suggestion
    assert "enable_overlap_scheduler" in p.suggestion


def test_new_name_on_an_older_release_names_the_old_keys():
    problems = check(load("1.0.0rc6-gpt-oss-120b-low-latency.yaml"), "0.21")
    p = only(problems, "cuda_graph_config")
    assert (p.kind, p.severity, p.replacement) == ("unknown-key", "error", "use_cuda_graph")
    assert "name used from release 1.0 on" in p.message and "cuda_graph_batch_sizes" in p.message
    nested = only(check(load("1.0.0rc6-deepseek-r1-nvfp4.yaml"), "0.21"), "kv_cache_config.dtype")
    assert (nested.severity, nested.replacement) == ("warning", "kv_cache_dtype")
    assert "silently ignores unknown keys in kv_cache_config" in nested.message


def test_removed_key_is_reported_with_its_release():
    data = load("1.0.0rc6-gpt-oss-120b-low-latency.yaml")
    data["enable_mixed_sampler"] = True
    p = only(check(data, "1.2"), "enable_mixed_sampler")
    assert (p.kind, p.severity) == ("removed", "error")
    assert p.message.startswith("enable_mixed_sampler was removed in release 1.2")


def test_wrong_type(tmp_path):
    data = load("1.0.0rc6-deepseek-r1-fp8.yaml")
    data["stream_interval"] = "ten"
    data["enable_attention_dp"] = "maybe"
    problems = check(L.load_yaml(write(tmp_path, data)), "1.0")
    p = only(problems, "stream_interval")
    assert p.kind == "type" and p.severity == "error"
    assert p.message == "stream_interval is 'ten' (a string); release 1.0 expects an integer."
    assert only(problems, "enable_attention_dp").message == (
        "enable_attention_dp is 'maybe' (a string); release 1.0 expects true or false.")


def test_quoted_number_and_yes_are_accepted_like_pydantic_lax_mode():
    data = load("1.0.0rc6-deepseek-r1-fp8.yaml")
    data["stream_interval"] = "10"
    data["enable_attention_dp"] = "yes"
    assert check(data, "1.0") == []


def test_wrong_item_type_in_a_list():
    data = load("main-qwen3.yaml")
    data["cuda_graph_config"]["batch_sizes"][2] = "four"
    p = only(check(data, "main-2026"), "cuda_graph_config.batch_sizes[2]")
    assert p.kind == "type" and "'four' (a string)" in p.message and "an integer" in p.message


def test_choice_with_case_hint_and_value_history():
    data = load("1.0.0rc6-gpt-oss-120b-low-latency.yaml")
    data["moe_config"]["backend"] = "trtllm"
    p = only(check(data, "1.0"), "moe_config.backend")
    assert (p.kind, p.suggestion, p.replacement) == ("choice", "did you mean 'TRTLLM'?", "TRTLLM")
    wide = only(check(load("1.0.0rc6-deepseek-r1-wide-ep-fragment.yaml"), "main-2026"), "moe_config.backend")
    assert wide.kind == "choice" and wide.severity == "error"
    assert "'WIDEEP' was accepted up to release 1.3.0rc" in wide.message


@pytest.mark.parametrize("fraction,release", [(1.5, "1.3.0rc11"), (1.5, "1.0"), (0, "main-2026"), (-0.2, "1.0")])
def test_out_of_range_free_gpu_memory_fraction(tmp_path, fraction, release):
    data = load("1.3.0rc11-deepseek-r1-reasoning-parser.yaml")
    data["kv_cache_config"]["free_gpu_memory_fraction"] = fraction
    problems = check(L.load_yaml(write(tmp_path, data)), release)
    p = only(problems, "kv_cache_config.free_gpu_memory_fraction")
    assert (p.kind, p.severity) == ("range", "error")
    assert str(fraction) in p.message


def test_fraction_of_one_is_a_warning():
    data = load("main-llama-3.3-70b.yaml")
    data["kv_cache_config"]["free_gpu_memory_fraction"] = 1.0
    p = only(check(data, "main-2026"), "kv_cache_config.free_gpu_memory_fraction")
    assert (p.kind, p.severity) == ("range", "warning")


def test_max_num_tokens_below_max_seq_len_without_chunked_prefill():
    data = load("main-llama-3.3-70b.yaml")  # max_num_tokens: 2048
    data["max_seq_len"] = 8192
    p = only(check(data, "main-2026"), "max_num_tokens")
    assert (p.kind, p.severity) == ("inconsistent", "error")
    assert "max_num_tokens is 2048, below max_seq_len 8192" in p.message
    data["enable_chunked_prefill"] = True
    assert [q for q in check(data, "main-2026") if q.key == "max_num_tokens"] == []


def test_release_default_max_num_tokens_is_used_when_unset():
    data = {"max_seq_len": 32768}
    p = only(check(data, "1.2"), "max_num_tokens")
    assert "8192 (the release's default)" in p.message


def test_tp_must_divide_heads_and_fit_the_gpus():
    data = load("main-llama-3.3-70b.yaml")
    data["tensor_parallel_size"] = 3
    ctx = L.LlmArgsContext(gpus=8, num_attention_heads=64, num_kv_heads=8)
    problems = check(data, "main-2026", ctx)
    heads = [p for p in problems if "attention heads" in p.message]
    assert len(heads) == 1 and heads[0].severity == "error" and heads[0].key == "tensor_parallel_size"
    assert heads[0].message == "tensor_parallel_size 3 does not divide the model's 64 attention heads."
    data["tensor_parallel_size"] = 8
    gpus = only(check(data, "main-2026", L.LlmArgsContext(gpus=4, num_attention_heads=64)), "tensor_parallel_size")
    assert gpus.kind == "inconsistent" and "= 8 GPUs, but 4 are visible" in gpus.message


def test_attention_dp_skips_the_head_split_check():
    data = load("main-deepseek-r1-throughput.yaml")  # enable_attention_dp: true, tp 8
    ctx = L.LlmArgsContext(gpus=8, num_attention_heads=12, num_experts=256)
    assert [p for p in check(data, "main-2026", ctx) if "attention heads" in p.message] == []


def test_ep_must_divide_experts_and_tp():
    data = load("main-gpt-oss-120b-throughput.yaml")  # tp 2, ep 2
    ctx = L.LlmArgsContext(gpus=8, num_attention_heads=64, num_experts=128)
    assert L.errors(check(data, "main-2026", ctx)) == []
    data["tensor_parallel_size"], data["moe_expert_parallel_size"] = 6, 3
    problems = check(data, "main-2026", ctx)
    p = [q for q in problems if "experts" in q.message]
    assert len(p) == 1 and p[0].key == "moe_expert_parallel_size" and p[0].severity == "error"
    assert p[0].message == "moe_expert_parallel_size 3 does not divide the model's 128 experts."
    data["tensor_parallel_size"], data["moe_expert_parallel_size"] = 4, 8
    q = [x for x in check(data, "main-2026", ctx) if "does not divide tensor_parallel_size" in x.message]
    assert len(q) == 1 and q[0].key == "moe_expert_parallel_size"


def test_moe_tp_times_ep_must_equal_tp():
    data = load("main-deepseek-r1-throughput.yaml")  # tp 8, ep 8
    data["moe_tensor_parallel_size"] = 2
    p = only(check(data, "main-2026"), "moe_tensor_parallel_size")
    assert p.kind == "inconsistent" and "= 16, but tensor_parallel_size is 8" in p.message


def test_mtp_needs_a_checkpoint_with_mtp_layers():
    data = load("1.0.0rc6-deepseek-r1-nvfp4.yaml")
    assert L.errors(check(data, "1.0", L.LlmArgsContext(num_nextn_predict_layers=1))) == []
    ctx = L.LlmArgsContext(num_nextn_predict_layers=0, model="Llama-3.3-70B")
    p = only(check(data, "1.0", ctx), "speculative_config.decoding_type")
    assert p.kind == "inconsistent" and "Llama-3.3-70B has no MTP layers" in p.message
    data["speculative_config"]["max_draft_len"] = 0
    d = only(check(data, "1.0"), "speculative_config.max_draft_len")
    assert d.kind == "range" and d.message.startswith("speculative_config.max_draft_len is 0")


def test_speculative_config_needs_a_known_decoding_type():
    data = load("1.0.0rc6-deepseek-r1-fp8.yaml")
    del data["speculative_config"]["decoding_type"]
    p = only(check(data, "1.0"), "speculative_config.decoding_type")
    assert p.kind == "choice" and "has no decoding_type" in p.message and "'MTP'" in p.message
    data["speculative_config"]["decoding_type"] = "Medusa"
    data["speculative_config"].pop("num_nextn_predict_layers")
    gone = only(check(data, "main-2026"), "speculative_config.decoding_type")
    assert "'Medusa' was accepted up to release 1.3.0rc" in gone.message


def test_cuda_graph_sizes_above_max_batch_size():
    p = only(check(load("main-qwen3.yaml"), "main-2026"), "cuda_graph_config.batch_sizes")
    assert (p.kind, p.severity) == ("inconsistent", "warning")
    assert "has 256, 384, above max_batch_size 161" in p.message
    data = load("main-llama-3.3-70b.yaml")
    data["cuda_graph_config"]["max_batch_size"] = 2048
    q = only(check(data, "main-2026"), "cuda_graph_config.max_batch_size")
    assert q.severity == "warning" and "above max_batch_size 1024" in q.message


def test_cuda_graph_max_batch_size_must_match_batch_sizes_from_1_3():
    data = load("main-qwen3.yaml")
    data["max_batch_size"] = 512
    data["cuda_graph_config"]["max_batch_size"] = 512
    p = only(check(data, "1.3.0rc11"), "cuda_graph_config.max_batch_size")
    assert (p.kind, p.severity) == ("inconsistent", "error")
    assert "max(cuda_graph_config.batch_sizes) is 384" in p.message
    old = only(check(data, "1.0"), "cuda_graph_config.max_batch_size")
    assert old.severity == "warning" and "both" in old.message


def test_engine_backend_selects_trtllmargs_and_is_gone_on_main():
    data = {"backend": "tensorrt", "build_config": {"max_batch_size": 8}}
    assert check(data, "1.2") == []
    torch = only(check({"build_config": {"max_batch_size": 8}}, "1.2"), "build_config")
    assert (torch.kind, torch.severity) == ("removed", "error")
    main = check(data, "main-2026")
    p = only(main, "backend")
    assert (p.kind, p.severity) == ("choice", "error") and "no TensorRT engine backend" in p.message


def test_deprecated_but_accepted_keys_are_warnings():
    data = load("1.3.0rc11-deepseek-r1-reasoning-parser.yaml")
    data["hf_revision"] = "main"
    p = only(check(data, "main-2026"), "hf_revision")
    assert (p.kind, p.severity, p.replacement) == ("renamed", "warning", "revision")
    data = {"sampler_type": "TRTLLMSampler"}
    s = only(check(data, "main-2026"), "sampler_type")
    assert (s.kind, s.severity) == ("removed", "error") and "'TRTLLMSampler' is rejected" in s.message
    assert only(check({"sampler_type": "auto"}, "main-2026"), "sampler_type").severity == "warning"


# --- reading files ----------------------------------------------------------------------------

@pytest.mark.parametrize("text,needle", [
    ("- enable_attention_dp: true\n- stream_interval: 10\n", "the document is a list at line 1 column 1"),
    ("just a string\n", "the document is a single value"),
    ("", "empty document"),
    ("stream_interval: 10\ncuda_graph_config: [1, 2\n", "not valid YAML"),
    ("stream_interval: 10\nstream_interval: 20\n", "duplicate key 'stream_interval' at line 2 column 1 (first at line 1)"),
    ("a: 1\n---\nb: 2\n", "expected a single document"),
    ("a: &a [*a]\n", "recursive YAML alias"),
    ("x: " + "[" * 70 + "]" * 70 + "\n", "nested deeper than 64 levels"),
])
def test_bad_files_are_one_line_usage_errors(tmp_path, text, needle):
    path = write(tmp_path, text)
    with pytest.raises(UsageError) as exc:
        L.load_yaml(path)
    msg = str(exc.value)
    assert needle in msg and str(path) in msg and "\n" not in msg


def test_syntax_error_names_line_and_column(tmp_path):
    path = write(tmp_path, "kv_cache_config:\n  dtype: fp8\n\tfree_gpu_memory_fraction: 0.8\n")
    with pytest.raises(UsageError, match=r"not valid YAML \(.*at line 3 column 1\)$"):
        L.load_yaml(path)


def test_alias_bomb_is_rejected_quickly(tmp_path):
    lines = ["a: &a [" + ", ".join(["x"] * 10) + "]"]
    for i in range(1, 9):
        prev = "a" if i == 1 else f"l{i - 1}"
        lines.append(f"l{i}: &l{i} [" + ", ".join([f"*{prev}"] * 10) + "]")
    with pytest.raises(UsageError, match="expands to more than 100,000 values"):
        L.load_yaml(write(tmp_path, "\n".join(lines) + "\n"))


def test_directory_and_missing_file_are_usage_errors(tmp_path):
    with pytest.raises(UsageError, match="is a directory"):
        L.load_yaml(tmp_path)
    with pytest.raises(UsageError, match="cannot read"):
        L.load_yaml(tmp_path / "nope.yaml")


# --- schemas ----------------------------------------------------------------------------------

@pytest.mark.parametrize("wanted,label,has_note", [
    ("1.2.1", "1.2", False), ("1.0.0rc6", "1.0", False), ("1.3.0rc11", "1.3.0rc", False),
    ("0.21.0", "0.21", False), ("1.3.1", "1.3.0rc", True), ("1.4.0rc1", "main-2026", True),
    ("1.1.0rc5", "1.0", True), ("0.18.2", "0.19", True), ("2.0.0", "main-2026", True),
    (None, "main-2026", True), ("not-a-version", "main-2026", True), ("main-2026", "main-2026", False),
])
def test_schema_for_picks_the_nearest_release(wanted, label, has_note):
    sch, got, note = L.schema_for(wanted, SCHEMAS)
    assert got == label and sch["_label"] == label
    assert (note is not None) == has_note
    if has_note and wanted and wanted[0].isdigit():
        assert wanted in note and "not known" in note and label in note


def test_schema_files_are_cached():
    a = L.schema_for("1.2.1", SCHEMAS)[0]
    b = L.schema_for("1.2.0", SCHEMAS)[0]
    assert a is not b and a["models"] is b["models"]


# --- trtllm-serve flags and the planner's view ------------------------------------------------

def test_serve_flags_map_onto_llmargs_options():
    opts = L.options_from_serve_flags({
        "--tp_size": "8", "--ep_size": "4", "--kv_cache_free_gpu_memory_fraction": "0.8",
        "--trust_remote_code": None, "--backend": "pytorch", "--host": "0.0.0.0", "--max_batch_size": "161",
        "--enable_chunked_prefill": True, "--max_num_tokens": "4096", "--max_seq_len": "16384",
    })
    assert opts == {"tensor_parallel_size": 8, "moe_expert_parallel_size": 4,
                    "kv_cache_config": {"free_gpu_memory_fraction": 0.8}, "trust_remote_code": True,
                    "max_batch_size": 161, "enable_chunked_prefill": True, "max_num_tokens": 4096,
                    "max_seq_len": 16384}
    assert check(opts, "1.2.1") == []


def test_serve_flags_go_through_the_same_checks():
    opts = L.options_from_serve_flags({"--tp_size": "3", "--kv_cache_free_gpu_memory_fraction": "1.2",
                                       "--tp_sise": "2"})
    problems = check(opts, "1.2.1", L.LlmArgsContext(num_attention_heads=64))
    assert only(problems, "kv_cache_config.free_gpu_memory_fraction").kind == "range"
    assert [p.message for p in problems if p.key == "tensor_parallel_size"] == [
        "tensor_parallel_size 3 does not divide the model's 64 attention heads."]
    assert only(problems, "tp_sise").kind == "unknown-key"
    assert L.options_from_serve_flags({"--backend": "trt"}) == {"backend": "tensorrt"}
    assert L.options_from_serve_flags({"disable_kv_cache_reuse": True}) == {
        "kv_cache_config": {"enable_block_reuse": False}}


def test_memory_settings_of_real_configs():
    m = L.memory_settings(load("main-deepseek-r1-throughput.yaml"))
    assert m["free_gpu_memory_fraction"] == 0.8 and m["kv_cache_dtype"] == "fp8"
    assert (m["max_batch_size"], m["max_num_tokens"], m["tp"], m["ep"]) == (1024, 3200, 8, 8)
    assert m["enable_attention_dp"] is True and m["max_seq_len"] is None and m["pp"] is None
    q = L.memory_settings(load("main-qwen3.yaml"))
    assert q["cuda_graph_batch_sizes"][-1] == 384 and q["max_tokens"] is None
    old = L.memory_settings(load("1.0-dev-b6261862-deepseek-r1-b200-max-throughput-fp8kv.yaml"))
    assert old["kv_cache_dtype"] == "fp8" and old["cuda_graph_batch_sizes"][0] == 1
    main = L.memory_settings({"kv_cache_config": {"tokens_per_block": 64, "max_tokens": 100000,
                                                  "max_gpu_total_bytes": 1 << 30}})
    assert (main["tokens_per_block"], main["max_tokens"], main["max_gpu_total_bytes"]) == (64, 100000, 1 << 30)


def test_validate_does_not_change_its_input():
    data = load("main-qwen3.yaml")
    before = copy.deepcopy(data)
    check(data, "main-2026", L.LlmArgsContext(gpus=1, num_attention_heads=40))
    assert data == before


def test_context_from_model_spec():
    class Spec:
        name, num_heads, num_kv_heads, num_experts, max_position_embeddings = "m", 64, 8, 0, 131072

    ctx = L.LlmArgsContext.from_model_spec(Spec(), gpus=4)
    assert (ctx.gpus, ctx.num_attention_heads, ctx.num_kv_heads, ctx.num_experts) == (4, 64, 8, None)
    assert ctx.max_position_embeddings == 131072
