#!/usr/bin/env python3
"""Mine TensorRT-LLM's own error messages from its source and write two vocabularies.

Reads one or more TensorRT-LLM source trees (a git checkout of NVIDIA/TensorRT-LLM at some
release, or a partial tree of saved files), extracts the texts the library prints when it fails,
maps each to a root cause with the curated, ordered rule table below, and writes

    rules/vocab/trtllm-cpp.toml      C++: TLLM_CHECK / TLLM_CHECK_WITH_INFO / TLLM_THROW /
                                     TLLM_LOG_ERROR / NEW_TLLM_EXCEPTION / throw std::runtime_error
                                     in cpp/tensorrt_llm/** and cpp/include/tensorrt_llm/**
    rules/vocab/trtllm-python.toml   Python: raise XError(...), XError(...) objects, logger.error /
                                     logger.critical (and logger.warning where a rule gives it a
                                     real cause), assert cond, "msg", msg = "..." in tensorrt_llm/**

Usage:
    python3 tools/mine_trtllm_messages.py --src ~/TensorRT-LLM=v1.2.1 --src ~/trtllm-0.21=v0.21.0
    python3 tools/mine_trtllm_messages.py --src-root /work/scratch/vocab-trtllm/src
    options: --out-dir DIR (default rules/vocab of this repo), --allow-unreviewed, --dry-run,
             --report (print per-release and per-cause counts)

--src DIR[=label]   a tree whose root holds cpp/ and/or tensorrt_llm/; label (a tag such as
                    v1.2.1, or a commit) is what example_sources cite: NVIDIA/TensorRT-LLM/<path>@label.
--src-root DIR      every sub-directory of DIR is a tree labelled by its name (the layout of the
                    saved partial trees: DIR/<tag-or-commit>/<path>).
Saved partial files start with a header line "trtllm-doctor excerpt: NVIDIA/TensorRT-LLM/<path>@<commit>";
their statements are copied verbatim from that file, so they carry no line numbers; for such files the
commit of the header is cited unless the tree label is a tag (v...).

Every message becomes a template (literal text + placeholders: printf conversions, f-string fields,
%-formatting, str.format, string concatenation with non-literals).  A template is turned into a
regex over its stable part (literals escaped, placeholders -> groups, named where a fix uses them),
and into an example: the format string filled as the program fills it (numbers for numeric
conversions, <name> for string fields); example_sources say "(format string)".
Templates are deduplicated across trees; example_sources record every tree that has it.

Failing loudly: a message that only the final catch-all rule (trtllm-internal-error) maps and that is
not already in the existing output files (the reviewed baseline) stops the run with exit code 2 and a
list; review it (add a rule to RULES, or accept it with --allow-unreviewed) so every release forces a
decision.  Messages too generic to be useful alone ("%s", "Invalid input", very short texts) are
dropped and counted.
Python 3.10+, stdlib only.
"""

from __future__ import annotations

import argparse
import ast
import re
import sys
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    tomllib = None  # type: ignore[assignment]

REPO = "NVIDIA/TensorRT-LLM"
ROOT = Path(__file__).resolve().parent.parent
HEADER_RX = re.compile(r"trtllm-doctor excerpt: NVIDIA/TensorRT-LLM/(?P<path>\S+)@(?P<commit>[0-9a-f]{7,40})")
CPP_EXT = {".cpp", ".h", ".cu", ".cuh", ".hpp", ".inl", ".cc"}
SKIP_DIRS = {"tests", "test", "unittest", "unit_tests", "__pycache__", "examples", "benchmarks"}

# ----------------------------------------------------------------------------------------------
# Curated cause mapping: ordered; the first rule whose text regex matches the template text
# (literals with {} for placeholders) and whose path regex (if any) matches the source path wins.
# (name, text_regex, path_regex, cause, role, severity_override, note)
# ----------------------------------------------------------------------------------------------
RULES: list[tuple[str, str, str | None, str, str, str | None, str]] = [
    # wrappers: the text after the colon (or an earlier error) is the root
    ("wrap-forward", r"^Encountered an error (in forward(Async|Sync)? function|when fetching new request)", None,
     "unknown-failure", "consequence", None,
     "wrapper: the executor caught an exception; the text after the colon (or the first error above) names the root cause"),
    ("wrap-worker-died", r"Executor worker died during initialization", None, "unknown-failure", "consequence", None,
     "a worker process died while the executor was being created; the first error of that worker is the root"),
    ("wrap-build-failed", r"Engine building failed, please check error log", None, "unknown-failure", "consequence",
     None, "trtllm-build summary line; an earlier traceback names the root cause"),
    ("wrap-shutting-down", r"^LLM is shutting down", None, "unknown-failure", "consequence", None,
     "a request reached an LLM whose executor already stopped, usually after an earlier failure"),
    ("wrap-cuda", r"CUDA runtime error in \{\}: \{\}$", None, "unknown-failure", "consequence", None,
     "a CUDA API call failed; the cudaGetErrorString text after the colon names the cause (see the cuda-runtime vocabulary)"),
    ("wrap-weights", r"^Error executing \{\} with args", None, "unknown-failure", "consequence", None,
     "a weight-loading task failed; the text after the colon names the root (often a checkpoint that does not match the model)"),
    ("wrap-child-kill", r"failed to be killed even after", None, "unknown-failure", "consequence", None,
     "a trtllm-serve child process hung on shutdown after an earlier failure"),
    ("client-error", r"^Invalid 'response_id'|^Response with id '\{\}' not found", None, "none", "benign", None,
     "an HTTP 4xx answer of trtllm-serve to a client's request, not a failure of the server"),
    ("bindings", r"is not mirrored in Python class|New options found in underlying ExecutorConfig", None,
     "trtllm-bindings-mismatch", "root", None,
     "the C++ bindings have fields the Python package does not know: the bindings .so comes from another TensorRT-LLM build"),
    ("mpi-abort-timeout", r"MpiSession shutdown timeout after|MpiSession MPI_Abort returned", None, "unknown-failure",
     "consequence", None, "ranks did not exit at shutdown, usually after an earlier failure on one of them"),
    ("nccl-executor", r"Executor creation failed with NCCL error", None, "nccl-failure", "root", None, ""),
    ("mpi-init", r"MPI_Init_thread failed", None, "mpi-failure", "root", None, ""),
    ("no-multi-device", r"Multi device support is disabled", None, "unknown-failure", "root", None,
     "a TensorRT-LLM build without ENABLE_MULTI_DEVICE (no MPI/NCCL) was asked to run on several GPUs; "
     "proposed = \"trtllm-build-single-device: install a TensorRT-LLM build with multi-GPU support\""),
    # memory
    ("oom", r"insufficient GPU memory|out of memory|Total GPU memory \(GiB\)|Failed to allocate memory for weights|The following component could not be created|Free GPU memory before component creation|Previously created components and free GPU memory", None,
     "runtime-oom", "root", None, ""),
    ("kv-fraction-invalid", r"freeMemFraction|free_mem_ratio must be", None, "llm-api-config-invalid", "root", None, ""),
    ("kv-too-small", r"No free blocks left|allottedPrimaryBlocks > 0|kv_cache_config\.max_tokens must be positive|found no usable free memory", None,
     "kv-cache-too-small", "root", None, ""),
    # request limits
    ("max-num-tokens", r"should not exceed max_num_tokens", None, "max-num-tokens-exceeded", "root", None,
     "raised when chunked prefill is off and a prompt is longer than max_num_tokens"),
    ("restart-len", r"potentially greater than max input length", None, "llm-api-config-invalid", "root", None,
     "streaming with an evicting scheduler needs chunked context or GUARANTEED_NO_EVICT"),
    ("input-too-long", r"exceeds maximum input length|Maximum input length \(\{\}\)|should not exceed max_seq_len|exceeds maximum encoder input length|Decoder prefix tokens|has invalid shape \{\}, expected in range", None,
     "input-too-long", "root", None, ""),
    ("request-limits", r"exceeds the engine or specified limit|cannot exceed max_(batch_size|beam_width)|should not exceed max_(batch_size|beam_width)|Draft tokens length|EndId \(\{\}\) is not within|Incorrect sampling config", None,
     "llm-api-config-invalid", "root", None, "a request parameter is outside what the engine/LLM was configured for"),
    # parallelism
    ("no-gpu", r"No GPU devices found", None, "gpu-not-visible", "root", None, ""),
    ("parallelism", r"GPUs are available, but|External MPI session has \{\} workers but|world_size must equal to tp_size|is not consistent with the (engine|checkpoint)'s|mpiSize == tp \* pp|validMpiConfig|tensor parallelism mismatch|pipeline parallelism mismatch|should have the same length as world_size|Rank should be an integer between|layers are not enough for PP|pp size cannot be larger than num_hidden_layers|Number of device IDs", None,
     "parallelism-mismatch", "root", None, ""),
    ("mpi-rank-env", r"Could not determine rank from environment", None, "mpi-launcher-mismatch", "root", None, ""),
    ("ack-timeout", r"timed out waiting for sleep/wakeup ACK", None, "collective-timeout", "root", None, ""),
    # models, checkpoints, tokenizers
    ("arch", r"Unknown architecture|Unknown model architecture|Model architecture is not provided|model architecture \{\} is not supported|Unsupported model architecture", None,
     "model-arch-unsupported", "root", None, ""),
    ("hf-dir", r"Please provide a Hugging Face model as the input", None, "hf-repo-not-found", "root", None,
     "the model path has no config.json: not a Hugging Face checkpoint folder (misspelt path or id)"),
    ("tokenizer", r"[Tt]okenizer", None, "tokenizer-missing", "root", None, ""),
    ("quant-ckpt", r"quant_algo|quantization_config|[Pp]re-quantized checkpoint|hf_quant_config|MXFP8 only supports weight_block_size|NVFP4 only supports group_size", r"llm_utils\.py|model_config\.py|modeling_utils\.py", "checkpoint-config-mismatch", "root", None,
     "the checkpoint's quantization config conflicts with the requested one or is not supported"),
    # engines (TensorRT backend)
    ("engine-deser", r"Failed to deserialize cuda engine", None, "engine-version-mismatch", "consequence", None,
     "TensorRT could not load the engine: most often one built by another TensorRT/TensorRT-LLM version, but also a GPU out of memory at load; the TensorRT error printed just before it says which"),
    ("engine-inputs", r"Input tensor '\{\}' not found", None, "engine-version-mismatch", "root", None,
     "the runtime expects an input the engine does not have: engine built by another release"),
    ("engine-files", r"Error opening engine file|File does not exist: |Model data type '\{\}' not supported", None,
     "engine-config-invalid", "root", None, ""),
    ("engine-flags", r"requires GPT attention/Mamba Conv 1d plugin|need to build engine with gather_context_logits|Disabled KV cache is intended for context phase only|StreamingLLM is only supported|PP reduce scatter is only supported|Gather context logits is not support with draft len|multiple_profiles is enabled, while opt_num_tokens|convert to full model with TP=1&&PP=1|KV cache blocks need to be onboarded if context FMHA|^precision should be one of", None,
     "engine-build-flags", "root", None, ""),
    ("gpu-arch", r"Pre SM 80 GPUs do not support bfloat16|can only be enabled on SM90", None, "gpu-arch-unsupported", "root", None, ""),
    # serving
    ("bind", r"Failed to bind socket to", None, "unknown-failure", "root", None,
     "proposed = \"serve-port-in-use: the trtllm-serve host:port is taken or not bindable\""),
    # configuration of the LLM API / trtllm-serve / executor
    ("kv-manager-options", r"requires|not supported with|do not support|does not support|conflicts|not compatible|Disable", r"_torch/pyexecutor/_util\.py$",
     "llm-api-config-invalid", "root", None, "the KV-cache manager options (kv_cache_config, cache_transceiver_config, TRTLLM_* env) do not fit this model"),
    ("request-config-path", r".", r"executor/(samplingConfig|kvCacheConfig|executorConfig)\.cpp$", "llm-api-config-invalid",
     "root", None, "a sampling / KV-cache / executor parameter outside its valid range"),
    ("llm-args-path", r".", r"llmapi/llm_args\.py$|commands/serve\.py$|tensorrt_llm/mapping\.py$", "llm-api-config-invalid", "root", None,
     "LLM API / trtllm-serve argument validation (LlmArgs pydantic validators, Mapping)"),
    ("config-text", r"is not supported with|requires use_kv_cache_manager_v2|conflicts with|not compatible with|Unsupported guided decoding backend|Unrecognized guided decoding backend|not supported for speculative decoding mode|Failed to set guided decoder|KV connector is|Error instantiating connector|specific to TensorRT backend|Unsupported backend config|backend \{\} is not supported|is not a known backend|GuidedDecoder is not setup|gather_generation_logits must be enabled|requires `gather_(context|generation)_logits=True`|crossKvCacheFraction|cross_kv_cache_fraction should only|KV cache block reuse must be enabled|don't support max utilization scheduler|Stopping criteria is not supported|LoRA weights are unspecified|Cannot parse span in environment variable|TRTLLM_USE_PY_MAMBA|TLLM_MAMBA_MANAGER_PREFERENCE|use_kv_cache_manager_v2|Device IDs are not unique|auto parallel|Invalid (LoadFormat|decoding type|model|build_cache_config|cp_type)|Please don't set both|must be non-negative|MoE load balancer config|Default (checkpoint weight|config) loader|must be provided when enabling kv cache reuse", None,
     "llm-api-config-invalid", "root", None, ""),
    ("llm-parse", r"Failed to parse the arguments for the LLM constructor", None, "llm-api-config-invalid", "root", None,
     "the LlmArgs validation error follows after the colon"),
]
DEFAULT_CAUSE = ("default", "trtllm-internal-error", "root")

# Messages that are too generic to be useful alone.
GENERIC = re.compile(r"^(\{\}|%s|Invalid input|Invalid input shape|Internal Error|Not implemented|not supported"
                     r"|\[TensorRT-LLM\]\[ERROR\] Assertion failed: \{\})$", re.I)

# Named groups: placeholder names -> the fix parameter they fill.
PARAM_NAMES = {
    "model_arch": "arch", "hf_arch": "arch", "architecture": "arch", "arch": "arch", "architectures": "arch",
    "world_size": "world_size", "mpiSize": "world_size", "mpi_size": "world_size",
    "tp_size": "tp_size", "tensorParallelism": "tp_size", "pp_size": "pp_size", "pipelineParallelism": "pp_size",
    "maxInputLen": "limit", "max_input_len": "limit", "max_seq_len": "limit", "maxSequenceLen": "limit",
    "max_num_tokens": "limit", "mPromptLen": "requested", "prompt_len": "requested", "max_length": "requested",
    "model_dir": "path", "engine_dir": "path", "config_file": "path",
    "host": "host", "port": "port",
}
NUMERIC_NAME = re.compile(r"(?:^|_)(?:len|length|size|num|count|tokens|blocks|width|rank|fraction|bytes|ratio|tp|pp|cp|"
                          r"beams?|heads|layers|idx|index|id|sm|pid)$|[a-z0-9](?:Len|Length|Size|Num|Count|Tokens|Blocks|"
                          r"Width|Rank|Fraction|Bytes|Ratio|Idx|Index|Id)$")
PRI_MACROS = {"PRIu64": "%lu", "PRId64": "%ld", "PRIx64": "%lx", "PRIu32": "%u", "PRId32": "%d"}
PRINTF_RX = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\d+|\*)?(?:\.(?P<prec>\d+|\*))?(?P<len>hh|h|ll|l|z|j|t|L)?(?P<conv>[diouxXeEfgGcspn%])")


@dataclass
class Var:
    name: str
    kind: str  # "num" | "str"


@dataclass
class Message:
    lang: str          # "cpp" | "py"
    macro: str         # TLLM_CHECK_WITH_INFO, raise ValueError, logger.error, ...
    pieces: list       # str | Var
    path: str          # path inside the repository
    label: str         # tag or commit cited
    line: int | None   # None for saved excerpts
    exc: str = ""      # Python exception class (for the example prefix)
    severity: str = "error"

    @property
    def text(self) -> str:
        return "".join(p if isinstance(p, str) else "{}" for p in self.pieces)


@dataclass
class Entry:
    key: str
    first: Message
    sources: list = field(default_factory=list)  # (label, path, line)


# ----------------------------------------------------------------------------------------------
# C++ extraction
# ----------------------------------------------------------------------------------------------
TOKEN_RX = re.compile(r"""
    (?P<ws>\s+) | (?P<lc>//[^\n]*) | (?P<bc>/\*.*?\*/) |
    (?P<str>(?:u8|u|U|L)?"(?:[^"\\\n]|\\.)*") | (?P<chr>'(?:[^'\\\n]|\\.)*') |
    (?P<id>[A-Za-z_]\w*) | (?P<num>\d[\w.]*) | (?P<op>::|->|<<|>>|&&|\|\||==|!=|<=|>=|\+=|-=|\+\+|--|[-+*/%<>=!&|^~?:;,.(){}\[\]#])
""", re.X | re.S)
CPP_MACROS = {"TLLM_CHECK_WITH_INFO": 1, "TLLM_CHECK_DEBUG_WITH_INFO": 1, "TLLM_THROW": 0, "TLLM_LOG_ERROR": 0,
              "NEW_TLLM_EXCEPTION": 0, "TLLM_CHECK": -1, "TLLM_CHECK_DEBUG": -1}
ERR_VARS = {"err", "errMsg", "msg", "message", "errorMsg", "error"}


def cpp_tokens(src: str):
    toks = []
    for m in TOKEN_RX.finditer(src):
        kind = m.lastgroup
        if kind in ("ws", "lc", "bc"):
            continue
        toks.append((kind, m.group(), src.count("\n", 0, m.start()) + 1, m.start(), m.end()))
    return toks


def split_args(toks, i):
    """toks[i] is '('; return (list of arg token lists, index after ')')."""
    depth, args, cur = 0, [], []
    j = i
    while j < len(toks):
        kind, val = toks[j][0], toks[j][1]
        if val in "([{" and kind == "op":
            depth += 1
            if depth > 1:
                cur.append(toks[j])
        elif val in ")]}" and kind == "op":
            depth -= 1
            if depth == 0:
                args.append(cur)
                return args, j + 1
            cur.append(toks[j])
        elif val == "," and kind == "op" and depth == 1:
            args.append(cur)
            cur = []
        else:
            cur.append(toks[j])
        j += 1
    return args, j


def c_unescape(lit: str) -> str:
    body = re.sub(r'^(?:u8|u|U|L)?"', "", lit)[:-1]
    out, i = [], 0
    simple = {"n": "\n", "t": "\t", '"': '"', "'": "'", "\\": "\\", "0": ""}
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            out.append(simple.get(body[i + 1], body[i + 1]))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def arg_name(toks) -> str:
    stop = {"std", "static_cast", "reinterpret_cast", "c_str", "value", "tc", "common", "tensorrt_llm", "size_t",
            "int", "int32_t", "int64_t", "uint64_t", "SizeType32", "string", "get", "data", "to_string", "str"}
    ids = [t[1] for t in toks if t[0] == "id" and t[1] not in stop]
    return ids[0] if ids else "value"


def printf_pieces(fmt: str, names: list[str]) -> list:
    pieces, pos, n = [], 0, 0
    for m in PRINTF_RX.finditer(fmt):
        pieces.append(fmt[pos:m.start()])
        pos = m.end()
        if m.group("conv") == "%":
            pieces.append("%")
            continue
        name = names[n] if n < len(names) else f"arg{n}"
        n += 1
        kind = "num" if m.group("conv") in "diouxXeEfgG" else "str"
        pieces.append(Var(name, kind))
    pieces.append(fmt[pos:])
    return merge(pieces)


def merge(pieces):
    out = []
    for p in pieces:
        if isinstance(p, str):
            if not p:
                continue
            if out and isinstance(out[-1], str):
                out[-1] += p
                continue
        elif out and isinstance(out[-1], Var) and out[-1].name == "*" and p.name == "*":
            continue
        out.append(p)
    return out


def cpp_expr_pieces(toks, fmt_args=None):
    """Turn the tokens of a message argument into pieces; fmt_args: the printf arguments after it."""
    toks = [t for t in toks]
    # fmtstr(...) wrapper
    for idx, t in enumerate(toks):
        k, v = t[0], t[1]
        if k == "id" and v == "fmtstr" and idx + 1 < len(toks) and toks[idx + 1][1] == "(":
            inner, _ = split_args(toks, idx + 1)
            if inner:
                return cpp_expr_pieces(inner[0], inner[1:])
    lits, pieces, pending = [], [], False
    skip_ids = {"std", "string", "c_str", "tc", "common", "tensorrt_llm"}

    def flush():
        nonlocal lits
        if lits:
            pieces.append("".join(lits))
            lits = []

    for t in toks:
        k, v = t[0], t[1]
        if k == "str":
            if pending:
                flush()
                pieces.append(Var("*", "str"))
                pending = False
            lits.append(c_unescape(v))
        elif k == "id" and v in PRI_MACROS and lits:
            lits.append(PRI_MACROS[v])
        elif (k == "op" and v in {"+", "(", ")", "::", "."}) or (k == "id" and v in skip_ids):
            continue
        else:
            pending = True
    flush()
    if pending and pieces:
        pieces.append(Var("*", "str"))
    if not any(isinstance(p, str) for p in pieces):
        return None
    if fmt_args is not None or any("%" in p for p in pieces if isinstance(p, str)):
        names = [arg_name(a) for a in (fmt_args or [])]
        out, n = [], 0
        for p in pieces:
            if isinstance(p, str):
                sub = printf_pieces(p, names[n:])
                n += sum(isinstance(s, Var) for s in sub)
                out.extend(sub)
            else:
                out.append(p)
        pieces = merge(out)
    return merge(pieces)


def mine_cpp(src: str, path: str, label: str, excerpt: bool) -> list[Message]:
    toks = cpp_tokens(src)
    out: list[Message] = []
    i = 0
    while i < len(toks):
        kind, val, line = toks[i][0], toks[i][1], toks[i][2]
        ln = None if excerpt else line
        nxt = toks[i + 1][1] if i + 1 < len(toks) else ""
        if kind == "id" and val in CPP_MACROS and nxt == "(":
            prev = toks[i - 1][1] if i else ""
            if prev == "define":
                i += 1
                continue
            args, j = split_args(toks, i + 1)
            idx = CPP_MACROS[val]
            if idx == -1:  # TLLM_CHECK(cond): prints the condition text
                cond = cpp_source_text(src, args[0]) if args and args[0] else ""
                if cond:
                    out.append(Message("cpp", val, [cond], path, label, ln))
            elif len(args) > idx:
                pieces = cpp_expr_pieces(args[idx], args[idx + 1:] if len(args) > idx + 1 else [])
                if pieces:
                    out.append(Message("cpp", val, pieces, path, label, ln))
            i = j
            continue
        # throw std::runtime_error("...") / std::invalid_argument / TllmException(file, line, msg)
        if kind == "id" and val == "throw":
            k2 = i + 1
            names = []
            while k2 < len(toks) and toks[k2][1] != "(" and toks[k2][1] != ";" and k2 - i < 6:
                names.append(toks[k2][1])
                k2 += 1
            if k2 < len(toks) and toks[k2][1] == "(":
                cls = names[-1] if names else ""
                args, j = split_args(toks, k2)
                if cls in ("runtime_error", "invalid_argument", "logic_error", "out_of_range") and args:
                    pieces = cpp_expr_pieces(args[0])
                    if pieces:
                        out.append(Message("cpp", f"throw std::{cls}", pieces, path, label, ln))
                elif cls == "TllmException" and len(args) >= 3:
                    pieces = cpp_expr_pieces(args[2])
                    if pieces:
                        out.append(Message("cpp", "throw TllmException", pieces, path, label, ln))
                i = j
                continue
        # std::string err = std::string("...") + e.what();  /  auto err = ...
        if kind == "id" and val in ERR_VARS and nxt == "=" and i and toks[i - 1][1] in ("string", "auto", "const"):
            j = i + 2
            expr = []
            while j < len(toks) and toks[j][1] != ";":
                expr.append(toks[j])
                j += 1
            if any(t[0] == "str" for t in expr):
                pieces = cpp_expr_pieces(expr)
                if pieces:
                    out.append(Message("cpp", "error string", pieces, path, label, ln))
            i = j
            continue
        i += 1
    return out


def cpp_source_text(src: str, toks) -> str:
    """The condition as the preprocessor stringifies it (#val): the source text of the argument with
    comments removed and every run of white space turned into one space."""
    raw = src[toks[0][3]:toks[-1][4]]
    raw = re.sub(r"//[^\n]*|/\*.*?\*/", " ", raw, flags=re.S)
    return re.sub(r"\s+", " ", raw).strip()


# ----------------------------------------------------------------------------------------------
# Python extraction
# ----------------------------------------------------------------------------------------------
PY_LOG = {"error": "error", "critical": "error", "fatal": "error", "exception": "error", "warning": "warning"}
PY_MSG_VARS = {"msg", "err_msg", "error_msg", "message", "err", "errmsg", "error_message"}


def py_name(node) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Subscript):
        return py_name(node.value)
    if isinstance(node, ast.Call):
        if isinstance(node.func, ast.Name) and node.func.id in ("str", "repr", "len", "int", "float", "type") and node.args:
            return py_name(node.args[0])
        return py_name(node.func)
    if isinstance(node, ast.BinOp):
        return py_name(node.left)
    return "value"


def py_pieces(node):
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [node.value]
    if isinstance(node, ast.JoinedStr):
        out = []
        for v in node.values:
            if isinstance(v, ast.Constant):
                out.append(v.value)
            elif isinstance(v, ast.FormattedValue):
                name = py_name(v.value)
                spec = ast.unparse(v.format_spec) if v.format_spec is not None else ""
                kind = "num" if re.search(r"[dfeg%]'?\)?$", spec) else "str"
                out.append(Var(name, kind))
        return merge(out)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        left, right = py_pieces(node.left), py_pieces(node.right)
        left = left if left is not None else [Var("*", "str")]
        right = right if right is not None else [Var("*", "str")]
        res = merge(left + right)
        return res if any(isinstance(p, str) for p in res) else None
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(node.left, ast.Constant) \
            and isinstance(node.left.value, str):
        rhs = node.right.elts if isinstance(node.right, ast.Tuple) else [node.right]
        return printf_pieces(node.left.value, [py_name(e) for e in rhs])
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
            and isinstance(node.func.value, ast.Constant) and isinstance(node.func.value.value, str):
        fmt = node.func.value.value
        out, pos = [], 0
        for m in re.finditer(r"\{([^{}]*)\}", fmt):
            out.append(fmt[pos:m.start()])
            out.append(Var(m.group(1).split(":")[0] or "arg", "str"))
            pos = m.end()
        out.append(fmt[pos:])
        return merge(out)
    return None


def mine_py(src: str, path: str, label: str, excerpt: bool) -> list[Message]:
    try:
        tree = ast.parse(src)
    except SyntaxError as exc:
        raise SystemExit(f"cannot parse {path} ({label}): {exc}")
    out: list[Message] = []

    def add(node, macro, pieces, exc="", severity="error"):
        if pieces and any(isinstance(p, str) and p.strip() for p in pieces):
            out.append(Message("py", macro, pieces, path, label, None if excerpt else node.lineno, exc, severity))

    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            fname = node.func.id if isinstance(node.func, ast.Name) else \
                node.func.attr if isinstance(node.func, ast.Attribute) else ""
            msg_node = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "message"), None)
            if msg_node is None:
                continue
            is_logger = isinstance(node.func, ast.Attribute) and fname in PY_LOG and \
                "logger" in ast.unparse(node.func.value).lower()
            if is_logger:
                add(node, f"logger.{fname}", py_pieces(msg_node), severity=PY_LOG[fname])
            elif fname.endswith(("Error", "Exception")) or fname in ("BadParameter", "UsageError"):
                add(node, f"raise {fname}", py_pieces(msg_node), exc=fname)
            elif fname == "join" and isinstance(node.func, ast.Attribute) and isinstance(msg_node, ast.List):
                for elt in msg_node.elts:
                    add(node, "message line", py_pieces(elt))
        elif isinstance(node, ast.Assert) and node.msg is not None:
            add(node, "assert", py_pieces(node.msg), exc="AssertionError")
        elif isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in PY_MSG_VARS:
            if not (isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Attribute)
                    and node.value.func.attr == "join"):
                pieces = py_pieces(node.value)
                if pieces and not (len(pieces) >= 1 and isinstance(pieces[0], str) and pieces[0].startswith("[TRT-LLM]")):
                    add(node, "message", pieces)
    return out


# ----------------------------------------------------------------------------------------------
# Templates -> regex, example, cause
# ----------------------------------------------------------------------------------------------
def first_line(pieces):
    out = []
    for p in pieces:
        if isinstance(p, str) and "\n" in p:
            head = p.split("\n")[0]
            if head:
                out.append(head)
            break
        out.append(p)
    return merge(out)


def literal_len(pieces) -> int:
    return sum(len(re.sub(r"[^A-Za-z0-9]", "", p)) for p in pieces if isinstance(p, str))


def lit_rx(s: str) -> str:
    return re.escape(s).replace("\\ ", " ")


def var_rx(v: Var, nxt: str | None) -> str:
    if v.kind == "num":
        return r"-?\d+(?:\.\d+)?"
    if NUMERIC_NAME.search(v.name) and v.name != "*":
        return r"[^\s,)\]]+"
    if nxt and nxt[0] in ")]'\",;":
        return "[^" + re.escape(nxt[0]) + r"\n]*"
    return r".{0,200}?"


def build_pattern(msg: Message) -> str | None:
    pieces = first_line(msg.pieces)
    lead = bool(pieces) and isinstance(pieces[0], Var)
    while pieces and isinstance(pieces[0], Var):
        pieces = pieces[1:]
    if pieces and isinstance(pieces[0], str):
        head = pieces[0]
        if head.startswith("[TensorRT-LLM][ERROR] "):
            head = head[len("[TensorRT-LLM][ERROR] "):]
        if lead:
            head = head.lstrip(" :,;")
        pieces = ([head] if head else []) + pieces[1:]
    if msg.lang == "cpp" and msg.macro.startswith("TLLM_CHECK") and not lead:
        pieces = ["Assertion failed: "] + pieces if not (pieces and isinstance(pieces[0], str)) \
            else ["Assertion failed: " + pieces[0]] + pieces[1:]
    elif msg.lang == "py" and msg.exc and not lead and pieces and isinstance(pieces[0], str) and literal_len(pieces) < 24:
        pieces = [f"{msg.exc}: " + pieces[0]] + pieces[1:]
    rx, used, lazy = [], set(), 0
    for i, p in enumerate(pieces):
        if isinstance(p, str):
            rx.append(lit_rx(p))
            continue
        nxt = pieces[i + 1] if i + 1 < len(pieces) and isinstance(pieces[i + 1], str) else None
        param = PARAM_NAMES.get(p.name)
        if nxt is None:  # trailing placeholder: keep only when a fix uses it
            if param and param not in used:
                rx.append(f"(?P<{param}>\\S+)")
            break
        inner = var_rx(p, nxt)
        if inner.startswith(".{"):
            lazy += 1
            if lazy > 2:
                break
        if param and param not in used:
            used.add(param)
            rx.append(f"(?P<{param}>{inner})")
        else:
            rx.append(f"(?:{inner})")
    pat = "".join(rx).rstrip()
    return pat or None


def fill(v: Var) -> str:
    n = v.name
    if v.kind == "num" or (NUMERIC_NAME.search(n) and n != "*"):
        low = n.lower()
        if PARAM_NAMES.get(n) == "requested":
            return "8192"
        if PARAM_NAMES.get(n) == "limit":
            return "4096"
        if "fraction" in low or "ratio" in low:
            return "0.95"
        if re.search(r"(tp|pp|cp|world|mpi|moe).*size|^(tp|pp|cp)$|parallel", low):
            return "2"
        if "rank" in low:
            return "1"
        if re.search(r"len|length|token|seq", low):
            return "4096"
        if "beam" in low or "width" in low:
            return "4"
        return "8"
    return f"<{n if n != '*' else 'value'}>"


def build_example(msg: Message) -> str:
    body = "".join(p if isinstance(p, str) else fill(p) for p in first_line(msg.pieces))
    if msg.lang == "cpp":
        if msg.macro.startswith("TLLM_CHECK"):
            return "[TensorRT-LLM][ERROR] Assertion failed: " + body
        if msg.macro == "TLLM_LOG_ERROR":
            return "[TensorRT-LLM][ERROR] " + body
        return body
    if msg.macro.startswith("logger."):
        tag = {"error": "[E]", "critical": "[F]", "fatal": "[F]", "exception": "[E]", "warning": "[W]"}[msg.macro[7:]]
        return f"[TRT-LLM] {tag} " + body
    if msg.exc:
        return f"{msg.exc}: " + body
    return body


def classify(msg: Message):
    text = msg.text
    for name, trx, prx, cause, role, sev, note in RULES:
        if re.search(trx, text) and (prx is None or re.search(prx, msg.path)):
            return name, cause, role, note
    return DEFAULT_CAUSE[0], DEFAULT_CAUSE[1], DEFAULT_CAUSE[2], ""


def slug(msg: Message) -> str:
    words = re.findall(r"[A-Za-z0-9]+", " ".join(p for p in msg.pieces if isinstance(p, str)))
    stem = re.sub(r"[^a-z0-9]+", "-", Path(msg.path).stem.lower()).strip("-")
    return (stem + "-" + "-".join(w.lower() for w in words[:7])).strip("-")[:80].rstrip("-")


# ----------------------------------------------------------------------------------------------
# Derived entries: the CUDA check wrapper filled with cudaGetErrorString texts (libcudart.so.13)
# ----------------------------------------------------------------------------------------------
CUDA_DERIVED = [
    ("out of memory", "runtime-oom"),
    ("an illegal memory access was encountered", "cuda-kernel-fault"),
    ("unspecified launch failure", "cuda-kernel-fault"),
    ("no kernel image is available for execution on the device", "gpu-arch-unsupported"),
    ("device-side assert triggered", "cuda-device-assert"),
    ("peer access is not supported between these two devices", "no-p2p-access"),
]


# ----------------------------------------------------------------------------------------------
# TOML output
# ----------------------------------------------------------------------------------------------
def tq(s: str) -> str:
    if "'" not in s and "\n" not in s and not any(ord(c) < 32 for c in s):
        return "'" + s + "'"
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t") + '"'


def tlist(xs) -> str:
    return "[" + ", ".join(tq(x) for x in xs) + "]"


def load_baseline(path: Path) -> set[str]:
    if tomllib is None or not path.exists():
        return set()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except Exception:
        return set()
    return {e.get("name", "") for e in data.get("entry", [])}


def cite(label: str, path: str, line) -> str:
    return f"{REPO}/{path}@{label}" + (f" line {line}" if line else "") + " (format string)"


# ----------------------------------------------------------------------------------------------
def discover(args) -> list[tuple[Path, str]]:
    trees = []
    for spec in args.src or []:
        d, _, label = spec.partition("=")
        trees.append((Path(d).expanduser(), label or Path(d).name))
    for root in args.src_root or []:
        for d in sorted(Path(root).iterdir()):
            if not d.is_dir():
                continue
            if not re.fullmatch(r"v\d[\w.]*|[0-9a-f]{7,40}", d.name):
                print(f"note: skipping {d} (its name is neither a tag nor a commit, so it cannot be cited)",
                      file=sys.stderr)
                continue
            trees.append((d, d.name))
    if not trees:
        raise SystemExit("give at least one --src or --src-root")
    return trees


def iter_files(tree: Path):
    for base in ("cpp/tensorrt_llm", "cpp/include/tensorrt_llm", "tensorrt_llm"):
        top = tree / base
        if not top.exists():
            continue
        for f in sorted(top.rglob("*")):
            if not f.is_file() or any(part in SKIP_DIRS for part in f.relative_to(tree).parts):
                continue
            if f.suffix in CPP_EXT or f.suffix == ".py":
                yield f


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--src", action="append", help="DIR[=label] a TensorRT-LLM source tree")
    ap.add_argument("--src-root", action="append", help="every sub-directory is a tree labelled by its name")
    ap.add_argument("--out-dir", default=str(ROOT / "rules" / "vocab"))
    ap.add_argument("--allow-unreviewed", action="store_true")
    ap.add_argument("--dry-run", action="store_true")
    ap.add_argument("--report", action="store_true")
    args = ap.parse_args(argv)

    messages: list[Message] = []
    per_release = Counter()
    files_seen = Counter()
    for tree, tlabel in discover(args):
        for f in iter_files(tree):
            src = f.read_text(encoding="utf-8", errors="replace")
            rel = str(f.relative_to(tree))
            head = HEADER_RX.search(src.split("\n", 1)[0])
            excerpt = bool(head)
            label = tlabel if (not head or re.match(r"v\d", tlabel)) else head.group("commit")
            path = head.group("path") if head else rel
            mined = mine_cpp(src, path, label, excerpt) if f.suffix in CPP_EXT else mine_py(src, path, label, excerpt)
            messages.extend(mined)
            per_release[label] += len(mined)
            files_seen[label] += 1

    entries: dict[str, Entry] = {}
    for m in messages:
        key = f"{m.lang}:{m.text}"
        e = entries.setdefault(key, Entry(key, m))
        src = (m.label, m.path, m.line)
        if src not in e.sources:
            e.sources.append(src)

    out_dir = Path(args.out_dir)
    files = {"cpp": out_dir / "trtllm-cpp.toml", "py": out_dir / "trtllm-python.toml"}
    baseline = load_baseline(files["cpp"]) | load_baseline(files["py"])
    kept = {"cpp": [], "py": []}
    dropped = Counter()
    unreviewed = []
    names_used: dict[str, set] = {"cpp": set(), "py": set()}
    for e in sorted(entries.values(), key=lambda e: (e.first.path, e.first.text)):
        m = e.first
        rule, cause, role, rnote = classify(m)
        line1 = "".join(p for p in first_line(m.pieces) if isinstance(p, str))
        if GENERIC.match(m.text.strip()) or literal_len(first_line(m.pieces)) < (6 if m.macro.startswith("TLLM_CHECK") else 12):
            dropped["generic"] += 1
            continue
        if m.severity == "warning" and rule == "default":
            dropped["warning-without-cause"] += 1
            continue
        pat = build_pattern(m)
        if not pat or len(re.sub(r"\\.|[^A-Za-z0-9]", "", pat)) < 8:
            dropped["no-stable-part"] += 1
            continue
        example = build_example(m)
        if not re.search(pat, example):
            raise SystemExit(f"internal: example does not match pattern for {m.path}: {pat!r} vs {example!r}")
        name = slug(m)
        base, k = name, 2
        while name in names_used[m.lang]:
            name, k = f"{base}-{k}", k + 1
        names_used[m.lang].add(name)
        if rule == "default" and name not in baseline:
            unreviewed.append((name, m.path, line1[:100]))
        where = f"{m.macro} in {m.path}" + (f":{m.line}" if m.line else "")
        note = where + (f"; {rnote}" if rnote else "")
        kept[m.lang].append(dict(name=name, cause=cause, role=role, severity=m.severity, patterns=[pat],
                                 examples=[example] * len(e.sources),
                                 example_sources=[cite(*s) for s in e.sources], note=note, rule=rule))

    # derived CUDA entries
    cuda = next((e for e in entries.values() if e.first.lang == "cpp" and "CUDA runtime error in" in e.first.text), None)
    if cuda:
        lab, pth, ln = cuda.sources[0]
        for errstr, cause in CUDA_DERIVED:
            kept["cpp"].append(dict(
                name="cudautils-cuda-runtime-error-" + re.sub(r"[^a-z0-9]+", "-", errstr).strip("-"), cause=cause,
                role="root", severity="error",
                patterns=[r"CUDA runtime error in .{0,400}?: " + lit_rx(errstr)],
                examples=[f"[TensorRT-LLM][ERROR] CUDA runtime error in cudaMemGetInfo(&free, &total): {errstr}"],
                example_sources=[f"{REPO}/{pth}@{lab} (format string; %s filled with a check_cuda_error() call of that "
                                 f"header and a cudaGetErrorString() text of libcudart.so.13)"],
                note=f"check_cuda_error() in {pth} wrapping the CUDA error '{errstr}'", rule="cuda-derived"))

    if unreviewed and not args.allow_unreviewed:
        print(f"{len(unreviewed)} message(s) map only to the catch-all ({DEFAULT_CAUSE[1]}) and are not in the reviewed "
              f"baseline; add a rule to RULES or rerun with --allow-unreviewed:", file=sys.stderr)
        for n, p, t in unreviewed:
            print(f"  {n}  [{p}]  {t}", file=sys.stderr)
        return 2

    labels_cpp = sorted({s[0] for e in entries.values() if e.first.lang == "cpp" for s in e.sources})
    labels_py = sorted({s[0] for e in entries.values() if e.first.lang == "py" for s in e.sources})
    notes = {
        "cpp": ("How these print. TLLM_CHECK(cond) / TLLM_CHECK_WITH_INFO(cond, fmt, ...) throw TllmException with "
                "'[TensorRT-LLM][ERROR] Assertion failed: <cond or text>' (cpp/include/tensorrt_llm/common/tllmException.h "
                "throwRuntimeError), to which TllmException appends ' (<__FILE__>:<__LINE__>)' and a stack trace "
                "(cpp/tensorrt_llm/common/tllmException.cpp); in Python it surfaces as 'RuntimeError: [TensorRT-LLM][ERROR] "
                "Assertion failed: ...' (tllmException.h@0c6a62a1, tllmException.cpp@015884d6). TLLM_THROW(fmt, ...) throws the "
                "same exception without the prefix. TLLM_LOG_ERROR prints '[TensorRT-LLM][ERROR] <text>' with the older "
                "logger.h (kPREFIX '[TensorRT-LLM]', getPrefix '%s[%s] ', level name 'ERROR'; seen in a version found through "
                "the code index whose commit the index does not name) and '<timestamp> [TRT-LLM] [E] <text>' with logger.h@00f83d1b "
                "(kPREFIX '[TRT-LLM]', level '[E]', timestamp prefix). check_cuda_error() (cudaUtils.h@05316d33) throws "
                "'[TensorRT-LLM][ERROR] CUDA "
                "runtime error in <call>: <cudaGetErrorString>'. Patterns match the message text only, so they match every "
                "prefix form. Trees mined: " + ", ".join(labels_cpp) + "."),
        "py": ("How these print. raise XError(msg) shows as 'XError: <msg>' at the end of a traceback (inside pydantic "
               "validators as 'Value error, <msg>'); logger.error/warning print '[<MM/DD/YYYY-HH:MM:SS>] [TRT-LLM] [E] <msg>' "
               "(or '[TRT-LLM] [MPI_Rank N] [E] <msg>' with several ranks; tensorrt_llm/logger.py@027cd518). "
               "Warnings are kept only "
               "where a rule gives them a real cause. Trees mined: " + ", ".join(labels_py) + "."),
    }
    titles = {"cpp": "TensorRT-LLM C++ runtime error messages (TLLM_CHECK / TLLM_THROW / TLLM_LOG_ERROR)",
              "py": "TensorRT-LLM Python error messages (PyTorch backend, LLM API, trtllm-serve, executor, builder)"}
    for lang in ("cpp", "py"):
        lines = ["# Generated by tools/mine_trtllm_messages.py: do not edit by hand, rerun the script.", "schema = 1", "",
                 "[vocab]", f"id = {tq(files[lang].stem)}", f"title = {tq(titles[lang])}", 'component = "tensorrt_llm"',
                 'kind = "messages"',
                 f"source = {tq('NVIDIA/TensorRT-LLM source, ' + ('cpp/tensorrt_llm/** and cpp/include/tensorrt_llm/**' if lang == 'cpp' else 'tensorrt_llm/**') + ', mined at the trees listed in note')}",
                 'source_url = "https://github.com/NVIDIA/TensorRT-LLM"',
                 'generated_by = "tools/mine_trtllm_messages.py"', f"note = {tq(notes[lang])}", ""]
        for ent in kept[lang]:
            lines.append("[[entry]]")
            lines.append(f"name = {tq(ent['name'])}")
            lines.append(f"cause = {tq(ent['cause'])}")
            if ent["role"] != "root":
                lines.append(f"role = {tq(ent['role'])}")
            if ent["severity"] != "error":
                lines.append(f"severity = {tq(ent['severity'])}")
            lines.append(f"patterns = {tlist(ent['patterns'])}")
            lines.append(f"examples = {tlist(ent['examples'])}")
            lines.append(f"example_sources = {tlist(ent['example_sources'])}")
            lines.append(f"note = {tq(ent['note'])}")
            lines.append("")
        if not args.dry_run:
            files[lang].write_text("\n".join(lines), encoding="utf-8")

    if args.report or args.dry_run:
        print("files / messages found per tree:")
        for lab in sorted(per_release):
            print(f"  {lab}: {files_seen[lab]} files, {per_release[lab]} messages")
        print(f"distinct templates: {len(entries)}; kept cpp {len(kept['cpp'])}, py {len(kept['py'])}; dropped {dict(dropped)}")
        by_cause = Counter(ent["cause"] + ("/" + ent["role"] if ent["role"] != "root" else "")
                           for lang in kept for ent in kept[lang])
        for c, n in by_cause.most_common():
            print(f"  {c}: {n}")
        if unreviewed:
            print(f"unreviewed (catch-all, accepted with --allow-unreviewed): {len(unreviewed)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
