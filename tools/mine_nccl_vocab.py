#!/usr/bin/env python3
"""Regenerate rules/vocab/nccl.toml and rules/vocab/nccl-messages.toml from NCCL sources.

    # from a git directory of NVIDIA/nccl (bare or not), one or more tags (newest first is not required):
    python3 tools/mine_nccl_vocab.py --git /path/to/nccl/.git --tag v2.30.7-1 --tag v2.21.5-1 --tag v2.18.6-1
    # from checkouts (their makefiles/version.mk names the version):
    python3 tools/mine_nccl_vocab.py --nccl ~/src/nccl-2.30 --nccl ~/src/nccl-2.21
    # mine and report only:  add --check ;  write elsewhere:  --out DIR

nccl.toml (kind enum): every value of ncclResult_t in src/nccl.h.in of the NEWEST source (the ncclNumResults
sentinel left out) with the exact string ncclGetErrorString() returns; ENUM_MAP gives each a cause and role.

nccl-messages.toml (kind messages): every WARN("...") format string under src/ of ALL the sources (Windows-only
files left out), merged across tags, printf conversions turned into regex groups (named where a fix can use
them: rank, device, interface, host, size, path, symbol, code). A message whose literal text is distinctive
matches anywhere (so torch's "Last error:" echo is caught too); a short one only after "NCCL WARN ". Each entry's
example is the format string filled with placeholder values behind NCCL's own log prefix. RULES (regexes on the
format string, first match wins) map every message to a cause and role; EXTRA adds entries for common values of
generic messages ("Cuda failure 'out of memory'", "Call to bind failed", ibv_* ENOMEM).

Exit status 2, with the list, when a WARN matches no rule (or a ncclResult_t value is not in ENUM_MAP): a new
NCCL release must get a decision in the tables below before the files are rewritten. Python 3.10+, stdlib only;
the git reader shells out to `git`.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

# ----------------------------------------------------------------------------------------------
# Reading an NCCL source tree (a checkout, or a git dir at a tag)
# ----------------------------------------------------------------------------------------------

SRC_EXTS = (".cc", ".cu", ".h", ".cuh", ".c", ".cpp", ".hpp", ".in")
# Windows-only sources: a Linux deployment never prints these.
SKIP_FILE_RX = re.compile(r"(^|/)(windows[^/]*|win_[^/]*)\.(cc|h)$|(^|/)os/windows")


class DirSource:
    def __init__(self, root: str):
        self.root = Path(root)
        if not (self.root / "src" / "nccl.h.in").exists():
            sys.exit(f"error: {root} is not an NCCL checkout (no src/nccl.h.in)")
        self.label = self._version() or self.root.name

    def _version(self) -> str | None:
        mk = self.root / "makefiles" / "version.mk"
        return version_from_mk(mk.read_text()) if mk.exists() else None

    def files(self) -> list[str]:
        return sorted(str(p.relative_to(self.root)) for p in (self.root / "src").rglob("*")
                      if p.is_file() and p.suffix in SRC_EXTS)

    def read(self, path: str) -> str:
        return (self.root / path).read_text(encoding="utf-8", errors="replace")


class GitSource:
    def __init__(self, gitdir: str, tag: str):
        self.gitdir, self.tag = gitdir, tag
        self.label = tag
        self._cache: dict[str, str] = {}

    def _git(self, *args: str) -> str:
        return subprocess.run(["git", "-C", self.gitdir, *args], check=True, capture_output=True,
                              text=True, errors="replace").stdout

    def files(self) -> list[str]:
        out = self._git("ls-tree", "-r", "--name-only", self.tag, "src")
        return sorted(p for p in out.splitlines() if p.endswith(SRC_EXTS))

    def read(self, path: str) -> str:
        if path not in self._cache:
            self._cache[path] = self._git("show", f"{self.tag}:{path}")
        return self._cache[path]


def version_from_mk(text: str) -> str | None:
    v = dict(re.findall(r"^NCCL_(MAJOR|MINOR|PATCH)\s*:=\s*(\d+)", text, re.M))
    return f"v{v['MAJOR']}.{v['MINOR']}.{v['PATCH']}" if len(v) == 3 else None


# ----------------------------------------------------------------------------------------------
# C scanning helpers
# ----------------------------------------------------------------------------------------------

def strip_comments(code: str) -> str:
    """Blank out // and /* */ comments (keeping newlines and string literals intact)."""
    out, i, n = [], 0, len(code)
    while i < n:
        c = code[i]
        if c in "\"'":
            j = i + 1
            while j < n and code[j] != c:
                j += 2 if code[j] == "\\" else 1
            out.append(code[i:j + 1])
            i = j + 1
        elif code.startswith("//", i):
            j = code.find("\n", i)
            j = n if j < 0 else j
            i = j
        elif code.startswith("/*", i):
            j = code.find("*/", i + 2)
            j = n if j < 0 else j + 2
            out.append("\n" * code.count("\n", i, j))
            i = j
        else:
            out.append(c)
            i += 1
    return "".join(out)


def split_call_args(code: str, start: int) -> tuple[list[str], int] | None:
    """code[start] is '('. Return the top-level arguments and the index after ')'."""
    depth, i, n, args, cur = 0, start, len(code), [], []
    while i < n:
        c = code[i]
        if c in "\"'":
            j = i + 1
            while j < n and code[j] != c:
                j += 2 if code[j] == "\\" else 1
            cur.append(code[i:j + 1])
            i = j + 1
            continue
        if c in "([{":
            depth += 1
            if depth > 1:
                cur.append(c)
        elif c in ")]}":
            depth -= 1
            if depth == 0:
                args.append("".join(cur).strip())
                return args, i + 1
            cur.append(c)
        elif c == "," and depth == 1:
            args.append("".join(cur).strip())
            cur = []
        else:
            cur.append(c)
        i += 1
    return None


PRI_MACROS = {"PRId64": "ld", "PRIi64": "ld", "PRIu64": "lu", "PRIx64": "lx", "PRIX64": "lX",
              "PRId32": "d", "PRIu32": "u", "PRIx32": "x", "PRIuPTR": "lu", "PRIxPTR": "lx",
              "PRIu16": "u", "PRIu8": "u", "PRIx16": "x", "PRIx8": "x", "PRIi32": "i"}
UNKNOWN = "\x00"  # marks a macro argument pasted into the format (e.g. "Call to " name " failed")
C_ESCAPES = {"n": "\n", "t": "\t", "\\": "\\", '"': '"', "'": "'", "0": "\0", "r": "\r"}


def c_string_concat(expr: str) -> str | None:
    """Evaluate a format argument made of string literals, PRI macros and pasted macro args."""
    expr = expr.replace("\\\n", "")  # line splices inside a literal
    toks = re.findall(r'"(?:[^"\\]|\\.)*"|#?\s*[A-Za-z_]\w*|\S', expr)
    if not toks or not any(t.startswith('"') for t in toks):
        return None
    out = []
    for t in toks:
        if t.startswith('"'):
            out.append(re.sub(r"\\(.)", lambda m: C_ESCAPES.get(m.group(1), m.group(1)), t[1:-1]))
        elif t in PRI_MACROS:
            out.append("%" + PRI_MACROS[t])
        elif re.fullmatch(r"#?\s*[A-Za-z_]\w*", t):
            out.append(UNKNOWN)
        else:
            return None  # an expression (ternary, function call): not a constant format
    return "".join(out)


FUNC_DEF_RX = re.compile(r"^(?!(?:if|for|while|switch|return|else|do|case|typedef|struct|class|namespace|template)\b)"
                         r"[A-Za-z_][\w:<>,\*&\s]*?\b(~?[A-Za-z_]\w*)\s*\(")


def enclosing_function(lines: list[str], idx: int) -> str | None:
    for j in range(idx, -1, -1):
        ln = lines[j]
        if ln[:1].isspace() or not ln.strip() or ln.startswith(("#", "}", "{")):
            continue
        m = FUNC_DEF_RX.match(ln)
        if m and not m.group(1).isupper() and "=" not in ln.split("(")[0] and not ln.rstrip().endswith(";"):
            return m.group(1)
    return None


@dataclass
class Warn:
    path: str          # relative to the repo root, e.g. src/misc/socket.cc
    line: int
    fmt: str           # the format string (UNKNOWN marks pasted macro text)
    args: list[str]    # the C expressions of the arguments
    func: str | None   # the enclosing function (what __func__ prints), when it can be told
    in_macro: bool


WARN_RX = re.compile(r"(?<![\w#])WARN\s*\(")


def extract_warns(src) -> list[Warn]:
    found: list[Warn] = []
    for path in src.files():
        if SKIP_FILE_RX.search(path):
            continue
        raw = src.read(path)
        if "WARN" not in raw:
            continue
        code = strip_comments(raw)
        lines = code.split("\n")
        for m in WARN_RX.finditer(code):
            line_start = code.rfind("\n", 0, m.start()) + 1
            if re.match(r"\s*#\s*define\s+WARN\b", code[line_start:m.end()]):
                continue
            got = split_call_args(code, m.end() - 1)
            if not got or not got[0] or got[0] == [""]:
                continue
            args = got[0]
            fmt = c_string_concat(args[0])
            if fmt is None:
                continue
            lineno = code.count("\n", 0, m.start()) + 1
            in_macro = lines[lineno - 1].rstrip().endswith("\\")
            func = None if in_macro else enclosing_function(lines, lineno - 1)
            found.append(Warn(path, lineno, fmt, args[1:], func, in_macro))
    return found


# ----------------------------------------------------------------------------------------------
# ncclResult_t and ncclGetErrorString()
# ----------------------------------------------------------------------------------------------

# name -> (cause, role, note). ncclNumResults is the array-size sentinel, not a result: left out.
ENUM_MAP: dict[str, tuple[str, str, str]] = {
    "ncclSuccess": ("none", "benign", "Not an error."),
    "ncclUnhandledCudaError": ("nccl-failure", "root",
        "Generic: a CUDA call inside NCCL failed. The NCCL WARN line just before it (e.g. \"Cuda failure 'out of "
        "memory'\") names the real cause and should outrank this entry; low confidence on its own."),
    "ncclSystemError": ("nccl-failure", "root",
        "Generic: a system call (socket, shm, malloc) or an external library (verbs, NVML) failed. The NCCL WARN / "
        "'Last error:' line names the real cause and should outrank this entry; low confidence on its own."),
    "ncclInternalError": ("nccl-failure", "root",
        "Generic: an internal NCCL check failed (often after a remote peer vanished). Look for the WARN line before "
        "it; low confidence on its own."),
    "ncclInvalidArgument": ("nccl-failure", "root",
        "The caller (torch, TensorRT-LLM) passed an invalid argument; the WARN line says which."),
    "ncclInvalidUsage": ("nccl-failure", "root",
        "NCCL API used in an invalid way (bad rank/config, mismatched groups); the WARN line says which."),
    "ncclRemoteError": ("nccl-failure", "consequence",
        "A peer process exited or the network between ranks failed: the first error is usually in the log of "
        "another rank or node."),
    "ncclInProgress": ("none", "benign", "Non-blocking communicator still initialising or running: not an error."),
    "ncclTimeout": ("collective-timeout", "root",
        "Returned by NCCL device-side barriers that exceed their time budget. Its string, \"timeout\", is too "
        "generic to match alone, so only the patterns below are used."),
}
ENUM_TEXT_TOO_GENERIC = {"ncclTimeout"}


def parse_result_enum(src) -> list[tuple[str, int]]:
    hdr = src.read("src/nccl.h.in")
    m = re.search(r"typedef\s+enum\s*\{(.*?)\}\s*ncclResult_t\s*;", hdr, re.S)
    if not m:
        sys.exit("error: typedef enum ... ncclResult_t not found in src/nccl.h.in")
    vals = [(n, int(v)) for n, v in re.findall(r"(nccl\w+)\s*=\s*(\d+)", m.group(1))]
    return [(n, v) for n, v in vals if n != "ncclNumResults"]


def parse_error_strings(src) -> tuple[dict[str, str], str]:
    for path in src.files():
        if not path.endswith((".cc", ".cu", ".cpp")):
            continue
        code = src.read(path)
        m = re.search(r"const\s+char\s*\*\s*ncclGetErrorString\s*\(\s*ncclResult_t\s+\w+\s*\)\s*\{(.*?)\n\}", code, re.S)
        if m:
            return dict(re.findall(r"case\s+(nccl\w+)\s*:\s*return\s+\"((?:[^\"\\]|\\.)*)\"", m.group(1))), path
    sys.exit("error: ncclGetErrorString() not found under src/")


# ----------------------------------------------------------------------------------------------
# The curated WARN -> cause table. First matching rule wins; a WARN that no rule matches stops
# the script (exit 2) so that a new NCCL release forces a decision.
# ----------------------------------------------------------------------------------------------

@dataclass
class Rule:
    rx: str                      # searched in the format string (a pasted macro argument shows as <name>)
    cause: str
    role: str = "root"
    files: str | None = None     # regex on the source path
    note: str | None = None
    skip: bool = False           # keep out of the vocabulary (no literal text to match on)
    bare: bool | None = None     # force (True) / forbid (False) a pattern without the "NCCL WARN " prefix
    exclude: tuple[str, ...] = ()  # surface values handled by a more specific extra entry (negative look-ahead)
    exclude_at: str = ""         # which variable the exclusion applies to: "paste", "s" (default: the first)
    severity: str | None = None
    last_word: bool = False      # the final %s is one word and ends the line (keeps it off longer messages)
    hits: int = 0

    def __post_init__(self):
        self.crx = re.compile(self.rx)
        self.cfiles = re.compile(self.files) if self.files else None


def R(rx, cause, role="root", **kw):
    return Rule(rx, cause, role, **kw)


def BENIGN(rx, **kw):
    return Rule(rx, "none", "benign", severity="warning", **kw)


def CONSEQ(rx, cause="nccl-failure", **kw):
    return Rule(rx, cause, "consequence", **kw)


NET_SYSCALLS = ("socket", "bind", "listen", "accept", "connect", "setsockopt", "getsockopt", "getsockname",
                "getifaddrs", "shutdown")
CUDA_SPECIFIC = ("out of memory", "peer access is not supported between these two devices", "invalid device ordinal",
                 "CUDA driver version is insufficient for CUDA runtime version",
                 "an illegal memory access was encountered", "system not yet initialized")

N_NET = "Sockets between ranks: check NCCL_SOCKET_IFNAME (the interface every node can reach), firewalls, and that all ranks started."
N_PEER = "A peer closed or reset the connection: usually that rank/node died first (look at its log), else the network dropped."
N_IB = "InfiniBand/RoCE (verbs) problem: check NCCL_IB_HCA, link state (ibstat), GID index (NCCL_IB_GID_INDEX) or try NCCL_IB_DISABLE=1 to isolate."
N_SHM = "The /dev/shm segment NCCL uses between local ranks could not be created/extended: /dev/shm too small (docker --shm-size / --ipc=host)."
N_CFG = "An NCCL_* setting, config struct or API argument is invalid: a caller bug or a bad environment variable."
N_INT = "Internal NCCL bookkeeping; usually follows an earlier error."
N_TOPO = "Topology detection/search failed: bad NCCL_TOPO_FILE/NCCL_GRAPH_FILE, or unusual PCI/NUMA layout (VMs)."

RULES: list[Rule] = [
    # --- no literal text to match on --------------------------------------------------------
    R(r"^%s$", "nccl-failure", skip=True),
    # --- advisory WARNs of healthy runs (NCCL goes on) -----------------------------------------
    BENIGN(r"^NCCL_NET_MERGE_POLICY: unknown value"),
    BENIGN(r"NCCL_SOCKET_NTHREADS is greater than the maximum allowed"),
    BENIGN(r"total number of sockets is greater than the maximum allowed"),
    BENIGN(r"^User asked for a (maximum|minimum) of %d channels"),
    BENIGN(r"^NCCL_WORK_FIFO_(DEPTH|BYTES)=%d is being ignored"),
    BENIGN(r"^NCCL_CGA_CLUSTER_SIZE value %d is too big"),
    BENIGN(r"^(max|min)CTAs %d is larger than"),
    BENIGN(r"^splitShare %d is not a valid value 0/1"),
    BENIGN(r"^Both NCCL_CTA_POLICY_ZERO and NCCL_CTA_POLICY_EFFICIENCY"),
    BENIGN(r"^graphStreamOrdering=0 with graphUsageMode=2"),
    BENIGN(r"^CollNet currently only supports up to %d GPUs per node, disabling"),
    BENIGN(r"^Cannot initialize CollNet, using point-to-point network instead"),
    BENIGN(r"^Could not find a path for pattern %d, falling back"),
    BENIGN(r"^No NVML device handle\. Skipping nvlink detection"),
    BENIGN(r"^Unable to open %s, not dumping topology"),
    BENIGN(r"^Could not open XML topology file %s : %s", note="NCCL_TOPO_FILE unreadable: NCCL detects the topology itself."),
    BENIGN(r"^Unable to create thread context due to old driver, disabling"),
    BENIGN(r"^Failed to create CUDA context on device %d$", files=r"proxy\.cc"),
    BENIGN(r"^NET/IB: Ip address( mask)? '%[sd]' is invalid for family %s, ignoring"),
    BENIGN(r"^Warning: remote FLID configured as zero"),
    BENIGN(r"^Ignoring SHM locality"),
    BENIGN(r"^PARAM: Duplicate (registration|option name)"),
    BENIGN(r"^NCCL_DEVICE_UNPACK plugin has incompatible version %d.*not using it"),
    BENIGN(r"^Invalid %s %d \((maximum|minimum) %d\)\.$|^Invalid %s %d \(must be a multiple of %d\)$",
           note="A tuning variable (NCCL_NTHREADS and the like) was clamped."),
    BENIGN(r"^NET/IB : %s:%d GID table changed$"),
    BENIGN(r"^NET/IB : %s:%d Got non-fatal async event"),
    BENIGN(r"^NET/IB: Unrecognized request\. It might be a CTS message"),
    BENIGN(r"^NET/IB: Resiliency (is enabled on a %s communicator|context is NULL)"),
    BENIGN(r"^NET/IB: Encountered a stale CQE with error for slot"),
    BENIGN(r"^MemManager: Cannot re-import peer buffer .* skipping$"),
    BENIGN(r"^Could not find real path of %s \(%s\)$", files=r"net_ib"),
    BENIGN(r"^CollNet is not supported or fails to initialize, ignoring NCCL_ALGO=COLLNET"),
    # --- two ranks on one GPU ----------------------------------------------------------------
    R(r"^Duplicate GPU detected", "gpu-shared-by-ranks", bare=True),
    R(r"^Multiple Ranks are using the same GPU", "gpu-shared-by-ranks", bare=True),
    R(r"communicator has multiple ranks using the same NVML device", "gpu-shared-by-ranks"),
    # --- NCCL of different versions ------------------------------------------------------------
    R(r"^Mismatched NCCL version detected|^NCCL version mismatch with remote peer", "package-conflict", bare=True,
      note="Ranks/nodes load different NCCL versions: install the same nvidia-nccl-cu* (or libnccl2) everywhere."),
    R(r"^NCCL library is (too old|not backwards compatible)|compiled with too old version of NCCL", "package-conflict",
      bare=True, note="The libnccl.so that was loaded is not the one the application was built for (LD_LIBRARY_PATH, "
                      "a system libnccl2 shadowing the pip nvidia-nccl wheel)."),
    # --- /dev/shm ------------------------------------------------------------------------------
    R(r"^Error while %s shared memory segment", "shm-too-small", bare=True, note=N_SHM),
    R(r"^Error: failed to extend %s to %ld bytes", "shm-too-small", bare=True, note=N_SHM),
    R(r"^(Error: )?Could not map %s size", "shm-too-small", note=N_SHM),
    R(r"^Error: failed to create shared memory file", "shm-too-small", bare=True, note=N_SHM),
    CONSEQ(r"^(unlink|munmap of) shared memory", note=N_INT),
    CONSEQ(r"^\[Service thread\] (proxy ops shm unlink|shm close) failed", note=N_INT),
    CONSEQ(r"^Invalid argument (comm|desc) %p", files=r"shm\.cc", note=N_INT),
    # --- P2P between GPUs ---------------------------------------------------------------------
    R(r"^failed to peer with device", "no-p2p-access", bare=True),
    R(r"^P2P is disabled between NVLINK connected GPUs", "no-p2p-access", bare=True,
      note="NVLink GPUs report P2P disabled: a hardware/driver problem (check nvidia-smi topo -p2p r); "
           "NCCL_IGNORE_DISABLED_P2P=1 goes on without it."),
    R(r"^cudaIpcGetMemHandle failed", "no-p2p-access",
      note="CUDA IPC between local ranks failed (containers need --ipc=host; some VMs block it)."),
    CONSEQ(r"^rank %d invalid IPC peer", note=N_INT),
    # --- memory --------------------------------------------------------------------------------
    R(r"^Failed to CUDA (malloc|calloc)( async)? %ld bytes", "runtime-oom", bare=True),
    R(r"^Failed to CUDA host alloc %ld bytes", "host-memory-exhausted", bare=True),
    R(r"^Failed to malloc %ld bytes", "host-memory-exhausted", bare=True),
    R(r"^Allocation failed$", "host-memory-exhausted"),
    R(r"Unrecoverable error detected: malloc\(size=", "host-memory-exhausted"),
    R(r"^Intrusive address map (initialization|resize) failed: (calloc|malloc)", "host-memory-exhausted"),
    R(r"^Failed to allocate memory for adapter addresses", "host-memory-exhausted"),
    R(r"^MemManager: Failed to allocate", "host-memory-exhausted"),
    CONSEQ(r"^NET/(IB|Socket) : unable to allocate (requests|subtasks)", note=N_INT),
    CONSEQ(r"^Allocation failed\. No suitable space found|^No allocation found at offset|^Given size=0x%lx extends"
           r"|^Device object does not exist in shadow pool", note=N_INT),
    # --- CUDA / driver as NCCL sees it ---------------------------------------------------------
    CONSEQ(r"^Cuda failure (%d )?'%s'$", exclude=CUDA_SPECIFIC,
           note="A CUDA call inside NCCL failed; the quoted CUDA error string (matched by the CUDA vocabulary) "
                "names the cause."),
    R(r"^Failed to bind NVLink SHARP \(NVLS\) Multicast memory", "fabric-manager-not-running", bare=True,
      note="NVLS multicast needs a healthy nvidia-fabricmanager/NVSwitch; NCCL_NVLS_ENABLE=0 avoids it."),
    R(r"^MNNVL \(cliqueSize %d\) is available but not working", "fabric-manager-not-running", bare=True,
      note="Multi-node NVLink needs the IMEX service/channels configured (closest cause; see notes: imex proposal)."),
    R(r"^MNNVL is not supported on this system", "nccl-failure", note="NCCL_MNNVL_ENABLE=1 forced on a system without MNNVL."),
    R(r"^CUMEM( Host)? (is )?not supported prior to CUDA", "driver-too-old"),
    R(r"NCCL cannot be captured in a graph if", "driver-too-old"),
    R(r"^One-sided RMA requires CUDA driver", "driver-too-old"),
    R(r"^CUDA some PFN functions not found|^Failed to load CUDA missing symbol cu", "driver-too-old"),
    R(r"^Failed to find CUDA library %s \(NCCL_CUDA_PATH=", "missing-shared-library",
      note="libcuda.so (from the driver) could not be loaded."),
    R(r"^cuDriverGetVersion failed with %d", "nccl-failure"),
    R(r"^Retrieve %s (version %d )?failed with %d", "driver-too-old",
      note="cuGetProcAddress could not find a driver entry point: the driver is older than NCCL needs (low confidence)."),
    R(r"^cudaArch %d dynamic smem %d exceeds", "nccl-failure"),
    CONSEQ(r"^\[Proxy (Progress|Service[^\]]*)\] Failed to set CUDA device|^Failed to set CUDA context on device",
           note=N_INT),
    R(r"^FP8 reduction support begins with sm90", "fp8-unsupported", bare=True),
    CONSEQ(r"^hostStreamPlanCallback\(\) failed", note=N_INT),
    # --- NVML ----------------------------------------------------------------------------------
    R(r"^nvmlInit%s\(\) failed: %s", "driver-library-mismatch",
      note="NVML could not start: most often the kernel driver and user-space libraries differ after a driver "
           "update (reboot), else no driver is loaded (low confidence: read the NVML error text)."),
    R(r"^Failed to open libnvidia-ml\.so\.1", "missing-shared-library",
      note="libnvidia-ml.so.1 ships with the driver: the container/host lacks the driver libraries."),
    R(r"^<name>\(\) failed: %s$|^nvml[\w%]+\(.*\) failed: %s$", "nccl-failure", files=r"nvmlwrap",
      exclude=("nvmlInit",), exclude_at="paste", bare=True,
      note="An NVML query failed (e.g. the GPU of a peer rank is hidden by cgroups, or the GPU is in a bad state)."),
    R(r"^nvmlDeviceGetCount\(\) reported more devices", "nccl-failure"),
    # --- GDRCopy -------------------------------------------------------------------------------
    R(r"^Failed to open %s( - %s)?$", "missing-shared-library", files=r"gdrwrap",
      note="NCCL_GDRCOPY_ENABLE=1 but libgdrapi.so (GDRCopy) is not installed."),
    R(r"^gdr_pin_buffer_v2 not available; GDRCopy >= 2.5 required|^(ncclOsDlsym|dlsym) failed on %s - %s$",
      "package-conflict", files=r"gdrwrap", note="The installed GDRCopy is too old for this NCCL."),
    R(r"^GDRCOPY |^gdr_\w+\(|^GDRCOPY lib wrapper not initialized", "nccl-failure",
      note="GDRCopy (gdrdrv kernel module) failed; NCCL_GDRCOPY_ENABLE=0 avoids it."),
    # --- InfiniBand / RoCE / verbs ---------------------------------------------------------------
    R(r"^dlvsym failed on %s - %s version %s", "nccl-ib-error", note="libibverbs (rdma-core) is too old or broken."),
    CONSEQ(r"^NET/IB: (Invalid request index|Unknown completion|No format specified|sendReq\(|%s comm could not retreive"
           r"|ncclIb(Isend|Irecv)\(\) called|Attempting to|Unrecognized request type|Unsupported type of request"
           r"|could not find mr|Invalid wr_id|Requested alive message|Unexpected GoToPrevState|There are still %d"
           r"|Failed to initialize a resiliency|Failed to allocate failure queue|wc->opcode ==|Receiver expected"
           r"|Sender expected|Unsupported completion status)", "nccl-ib-error", note=N_INT),
    CONSEQ(r"^Error: trying to connect already connected sendComm|^Listencomm in unknown state"
           r"|^Cannot store sizes of %d requests in a 32-bits field", "nccl-ib-error",
           note=N_INT),
    CONSEQ(r"^communicator encountered a fatal error \(detected in %s\)", "nccl-ib-error",
           note="Follows a fatal IB async event on this communicator."),
    CONSEQ(r"^lib wrapper not initialized\.$|^NET/MLX5: lib wrapper not initialized", "nccl-ib-error", note=N_INT,
           bare=False),
    R(r"^Call to ibv_modify_qp failed", "nccl-ib-error", note=N_IB),
    R(r"^Call to <name> failed with error %s", "nccl-ib-error", files=r"ibvwrap", exclude=("Cannot allocate memory",),
      exclude_at="s", note=N_IB),
    R(r"^Call to <name> failed|^Call to ibv_poll_cq\(\) returned|^ibv_post_(recv|send)\(\) failed", "nccl-ib-error",
      files=r"ibvwrap|ibvwrap\.h", note=N_IB),
    R(r"^NET/MLX5: Call to <name> failed", "nccl-ib-error", note=N_IB),
    R(r"^NET/IB ?: ?Got completion from peer|^NET/IB/GIN: Got completion from peer", "nccl-ib-error", bare=True,
      note="A work request completed with an error (status 12 = transport retry exceeded: a link or the remote "
           "node went away; NCCL_IB_TIMEOUT, cabling, or the peer crashed)."),
    R(r"^NET/IB|^NCCL cannot use (a plane ID|more than %d plane IDs)", "nccl-ib-error", note=N_IB),
    R(r"^Detected mixed local (Coll)?Net device counts across ranks", "nccl-ib-error", bare=True,
      note="Nodes see different numbers of NICs (a NIC down, or NCCL_IB_HCA differs)."),
    R(r"^DOCA (Error|failure) %d", "nccl-ib-error", note=N_IB),
    CONSEQ(r"^Not enough space to get elements", "nccl-ib-error", note=N_INT),
    R(r"^Unable to use GIN: Peermem is not supported", "nccl-ib-error", bare=True,
      note="GPU-initiated networking needs nvidia-peermem or DMA-BUF support."),
    R(r"^(No GIN-capable devices found|GIN not supported|GIN is disabled|No RMA-capable devices found|RMA not supported)\.$"
      r"|^GIN (VA|strong) signals are required|^GIN plugin does not support|^Rma connect : min local net count is zero"
      r"|requires DMABUF support with GIN", "nccl-ib-error", note=N_IB),
    CONSEQ(r"^(Invalid GIN (gdaki|proxy) backend version|Cannot get backend version for invalid GIN type|Error on GFD test"
           r"|GIN Proxy: RMA backend not found|GIN plugin %s returned invalid context|Dev comm not found|GIN Error detected"
           r"|rank %d - (GIN|RMA) Symmetric register failed)", note=N_INT),
    R(r"^User requested GIN|^Cannot create worldGinBarrier|^RMA v13 \(%s\) requires GIN PROXY", "nccl-failure", note=N_CFG),
    CONSEQ(r"^(RMA proxy|RMA CE|RMA: trying to send|Rma Proxy create context|ncclRmaProxy|ncclRmaIbProxy)", note=N_INT),
    # --- networking plugins ------------------------------------------------------------------
    R(r"^Failed to initialize any NET plugin", "nccl-network-config", bare=True,
      note="Neither IB nor sockets could start (NCCL_NET / NCCL_SOCKET_IFNAME / NCCL_IB_HCA exclude everything)."),
    R(r"^Error: network %s not found", "nccl-network-config", note="NCCL_NET names a network that is not available."),
    R(r"^Comm config netName \(%s\) does not match the parent|^Split shares resources, but parent comm netName",
      "nccl-failure", note=N_CFG),
    CONSEQ(r"^(Unknown device code index|trying to access the number of devices of an uninitialized|failed to set the "
           r"number of devices for netPlugin)", note=N_INT),
    R(r"^(send|recv)ProxySetup: (coll)?net plugin returned invalid value|^(send|recv)ProxyConnect: (req|resp)Size is"
      r"|^Child comms \(nRanks %d\) fails to share parent|^CollNet sizes: want", "nccl-failure",
      note="An external NCCL net/CollNet (SHARP) plugin does not fit this NCCL version."),
    R(r"^NET: GDR Flush only supported on x86_64", "nccl-failure"),
    CONSEQ(r"^PXN should not use host buffers for data", note=N_INT),
    # --- bootstrap, sockets, interfaces -------------------------------------------------------
    R(r"^Bootstrap : no socket interface found|^NET/Socket : No usable listening interface found"
      r"|^NET/Socket : no interface found", "nccl-network-config", bare=True,
      note="No usable network interface: NCCL_SOCKET_IFNAME matches nothing (or only lo/docker)."),
    R(r"^Invalid NCCL_COMM_ID|^ncclCommGetUniqueId should not be called when NCCL_COMM_ID is set", "nccl-network-config",
      bare=True),
    R(r"verify NCCL_OOB_NET_IFNAME", "nccl-network-config", bare=True),
    R(r"^Net : ", "nccl-network-config", note=N_NET),
    R(r"^ncclSocketInit: (Socket creation failed|connecting to address)", "nccl-network-config", note=N_NET),
    R(r"^socketStartConnect: Connect to %s failed : %s", "nccl-network-config", bare=True, note=N_NET),
    R(r"^%s: connect to %s failed : %s|connect to %s returned %s, exceeded error retry count", "nccl-network-config",
      bare=False, note=N_NET),
    R(r"^socketPollConnect|^socketStartConnect: exceeded|^ncclOsSocketPollConnect to %s failed", "nccl-network-config",
      note=N_NET),
    R(r"^(socketTryAccept|ncclOsSocketTryAccept): (Accept failed|exceeded error retry count)", "nccl-network-config",
      note=N_NET),
    CONSEQ(r"^socketProgressOpt: Call to recv from %s failed|^ncclOsSocketProgressOpt: Call to %s %s failed",
           "nccl-network-config", bare=True, note=N_PEER),
    CONSEQ(r"^socketProgress: Connection closed by remote peer", "nccl-network-config", bare=True, note=N_PEER),
    CONSEQ(r"^NET/Socket : socket progress error|^NET/Socket : test called with NULL request"
           r"|^NET/Socket : ncclNetSocketListen dev=", "nccl-network-config", note=N_PEER),
    R(r"^NET/Socket : peer %s message truncated", "nccl-failure", bare=True,
      note="Ranks disagree on a message size: different collective sizes or NCCL_PROTO/NCCL_ALGO settings between ranks."),
    R(r"^Message truncated : received", "nccl-failure",
      note="Bootstrap messages of unexpected size: ranks of different NCCL versions or of two jobs mixed up."),
    R(r"^socketFinalizeAccept: wrong (magic|type)", "nccl-network-config",
      note="Something that is not this job's NCCL connected to the bootstrap port (another job, a scanner)."),
    R(r"^Bootstrap Root : ", "parallelism-mismatch", bare=True,
      note="Processes joining one NCCL communicator disagree on the rank count or claim the same rank "
           "(launcher/world-size mismatch, or two jobs sharing one unique id)."),
    CONSEQ(r"^ncclSocket\w+: |^ncclOsSocketSetFlags: invalid socket|^ncclIpcSocketGetFd: pass NULL socket"
           r"|^close failed: %s", note=N_INT),
    R(r"^UDS: ", "nccl-failure", note="Unix-domain socket between local ranks failed (cuMem handle exchange)."),
    CONSEQ(r"^(bcastGrowHandle|bootstrapInit): |^Unexpected connections are not empty", note=N_INT),
    # --- proxy thread --------------------------------------------------------------------------
    R(r"^\[Proxy service\] Too many connections", "nccl-failure"),
    CONSEQ(r"^\[(Proxy Service|Proxy Service UDS|Proxy Service %d|Service thread|Proxy Progress)\]", note=N_INT),
    CONSEQ(r"^ncclProxy(CallBlockingUDS|ClientGetFd|ClientQueryFdBlocking|ClientConvertFd|Connect: )", note=N_INT),
    R(r"^Rank %d has no transport for %s peer %d on channel|^No transport found for rank", "nccl-failure",
      note="No transport connects these two ranks (P2P/SHM/NET all disabled or unavailable: NCCL_P2P_DISABLE, "
           "NCCL_SHM_DISABLE, no network)."),
    CONSEQ(r"^(Couldn't find opId|Proxy response for opId|Attempting to dequeue|Comm %p is in abort state|Could not find "
           r"pool of op|Inactive op has next set|List loop at element|Mismatched response size|Proxy append|Socket recv "
           r"failed while polling|Storing response for already completed|Unable to post incomplete proxy op chain"
           r"|P2p operation is neither send or recv)", note=N_INT),
    # --- ranks, devices, communicator set-up ---------------------------------------------------
    R(r"^Invalid rank requested : %d/%d|^rank %d exceeds ndev=%d", "parallelism-mismatch", bare=True),
    R(r"^Invalid device %d \(totalnDev=%d\)|^Invalid device count requested|^invalid device count \(%d\) requested",
      "cuda-invalid-device"),
    R(r"^%s : %s allocated on device %d mismatchs with NCCL device %d", "nccl-failure", bare=True,
      note="A tensor lives on another GPU than this rank's communicator (set the CUDA device per rank before "
           "allocating)."),
    R(r"^%s : (%s %p is not a valid pointer|%s argument is NULL|invalid reduction operation|invalid root|invalid type"
      r"|reduction operation %d unknown)|^Coll %s size %ld symmetric registration check failed", "nccl-failure",
      note=N_CFG),
    CONSEQ(r"^Error: corrupted comm object detected", note=N_INT),
    R(r"^Invali[dg] config |^ncclConfig_t argument not initialized|^ncclSimInfo_t argument not initialized"
      r"|must be initialized via NCCL_|^improper usage of ncclCommInitRank|^nLocals = %d should be a diviser"
      r"|^ncclCommGrow: |^Group creation failed", "nccl-failure", note=N_CFG),
    R(r"^Failed to determine (local|intra proc) ranks", "nccl-failure"),
    R(r"^Blocking and nonblocking communicators|^Either none or all communicators in a ncclGroup|^ncclGroupEnd: not in a "
      r"group call|^Streams given to a communicator within a NCCL group", "nccl-failure", note=N_CFG),
    CONSEQ(r"^asyncJobLaunch: failed to join thread|^ncclAsyncJobComplete: job %p failed", note=N_INT),
    CONSEQ(r"^Attempt to use communicator before the previous operation returned ncclSuccess",
           note="An earlier NCCL call on this communicator failed: that error is the cause."),
    R(r"^comm %p has already been destroyed", "nccl-failure", note=N_CFG),
    CONSEQ(r"^ncclCommSetAsyncError: |^commDestroySync: |^commReclaim: |^ncclProxyStop: |^Legacy IPC cleanup callback"
           r"|^P2p schedule creation has bugs|^%s: communicator was revoked", note=N_INT),
    # --- enqueue / collectives -----------------------------------------------------------------
    R(r"^No algorithm/protocol available|^Error : no algorithm/protocol available", "nccl-failure", bare=True,
      note="No algorithm/protocol fits: usually NCCL_ALGO/NCCL_PROTO restrict the choice too much."),
    R(r"^Trying to (send|recv) to self without a matching|^Data type supplied to user-created ncclRedOp_t"
      r"|^ncclRedOpDestroy|^ncclPutSignal|^ncclSignal: |^ncclWaitSignal|^One sided RMA|^Context %d is invalid"
      r"|^Flags %u is invalid|^Signal index %d is invalid|^Hierarchical CE collective not supported"
      r"|^'NCCL_WORK_FIFO_DEPTH=%d' is too small", "nccl-failure", note=N_CFG),
    CONSEQ(r"^Unknown (collnet )?pattern|^Sendrecv plan not aligned|^Invalid regBufType|^Net registration invalid "
           r"algorithm", note=N_INT),
    # --- symmetric memory / windows / device API / memory manager (2.2x+) ------------------------
    R(r"^(Multicast support requested|Multimem pointer requested|Communicator does not support symmetric memory"
      r"|Window address must be suitably aligned|invalid pointer %p / size|window has a NULL user pointer"
      r"|The provided lsaRank|peer %d is not within valid range|MCBasePtr %p needs to be valid"
      r"|Elastic GIN: |Segment %d has unsupported location type|VA represented by )", "nccl-failure", note=N_CFG),
    CONSEQ(r"^(Could not find communicator matching window|ncclDevrWorldToLsaRank: )", note=N_INT),
    R(r"^Memory (suspend|resume) not supported with split_share", "nccl-failure", note=N_CFG),
    CONSEQ(r"^MemManager: ", note=N_INT),
    CONSEQ(r"^(Deregister: Could not find handle|rank %d deregister )", note=N_INT),
    CONSEQ(r"^(RAS received unknown|Invalid client status)", note=N_INT),
    CONSEQ(r"^ncclSymmetricTaskScheduler ran out of channel space|^ncclSymkGetKernelIndex", note=N_INT),
    R(r"^Expected graph id=%llu was not at head|^Stream is not being captured by the expected graph", "nccl-failure",
      note="CUDA graph capture of NCCL calls used in an unsupported way."),
    # --- threads, host ---------------------------------------------------------------------------
    R(r"^Thread creation failed: %s", "nccl-failure",
      note="pthread_create failed: process/thread limits (ulimit -u, pids cgroup) or host memory."),
    CONSEQ(r"^Thread join failed: %s|^Error waiting for pthread_join", note=N_INT),
    R(r"^getRandomData: ", "nccl-failure"),
    CONSEQ(r"^(Object pointer is NULL|Output object pointer is NULL|Intrusive address map pointer is NULL|Invalid key size)",
           note=N_INT),
    R(r"^sched_(get|set)affinity failed with error", "nccl-failure", note="CPU affinity refused (container cpuset)."),
    R(r"^Could not find real path of %s$", "nccl-failure", note=N_TOPO, last_word=True),
    R(r"^Call to <name> failed ?: %s$", "nccl-failure", files=r"checks\.h", exclude=NET_SYSCALLS,
      note="A system call NCCL needs failed; the errno text says why (file/socket/rlimit)."),
    # --- topology / XML / graph ------------------------------------------------------------------
    R(r"^Could not open XML graph file %s : %s", "nccl-failure", note="NCCL_GRAPH_FILE cannot be read."),
    R(r"^XML |^Error : XML parser|^Error : (name|value) %s too long|^Attribute %s of node %s not found"
      r"|^Error : too many XML", "nccl-failure", note=N_TOPO),
    R(r"^Unrecognized (element|prefix) token|^All entries except the first must have a prefix", "nccl-failure",
      note="An NCCL_ALGO / NCCL_PROTO value cannot be parsed."),
    R(r"^Could not find any local path from gpu %d to net|^Error : could not find CPU close to GPU|^Set CPU affinity : "
      r"|^(getXmlFromCpu|GetXmlFromCpu|TopoFuseXmls)[: ]|^Fusing NET devices from different NUMA domains"
      r"|^Specified fused NIC|^Invalid number of network devices = %d for policy|^Unknown netDevs policy"
      r"|^TOPO/NET : (Could not force merge|Only matched|Tried to merge)|^Rank %d requires NIC %d but that NIC is not "
      r"available", "nccl-failure", note=N_TOPO),
    CONSEQ(r"^(Could not find (id|node of type|intermediate GPU|gpu rank|net id|rev link|NIC for rank|NET with id)"
           r"|Failed to find reverse path|Error : ring|No path computed|XML (Export|Import) Channel|Add (C2c|NVLink|PCI Link) "
           r"error|BusId 0x%lx has non-zero bits|Error : ran out of room|Error : too many Topo links|Error : tried to create"
           r"|MLOPart index|ncclTopo\w+[ :]|Internal error : tree already has|KV Convert to str|TOPO/NET : "
           r"|Could not find local GPU with rank"
           r"|localHostHash = )", note=N_INT),
]

# Extra entries for common surface values of generic WARNs (the generic rule excludes them). Each names the base
# WARN format (which must still exist), the values filled in for the example (by variable kind: "s" = the first %s,
# "paste" = the pasted macro argument) and where those values come from.
EXTRA = [
    dict(base="Cuda failure '%s'", name="nccl-cuda-failure-out-of-memory", fill={"s": "out of memory"},
         why="cudaGetErrorString(cudaErrorMemoryAllocation)",
         pattern=r"Cuda failure (?:\d+ )?'out of memory'", cause="runtime-oom",
         note="A CUDA allocation inside NCCL ran out of GPU memory (NCCL buffers are allocated at communicator "
              "init and per-peer connections)."),
    dict(base="Cuda failure '%s'", name="nccl-cuda-failure-peer-access-unsupported",
         fill={"s": "peer access is not supported between these two devices"},
         why="cudaGetErrorString(cudaErrorPeerAccessUnsupported)",
         pattern=r"Cuda failure (?:\d+ )?'peer access is not supported between these two devices'", cause="no-p2p-access"),
    dict(base="Cuda failure '%s'", name="nccl-cuda-failure-invalid-device-ordinal", fill={"s": "invalid device ordinal"},
         why="cudaGetErrorString(cudaErrorInvalidDevice)",
         pattern=r"Cuda failure (?:\d+ )?'invalid device ordinal'", cause="cuda-invalid-device"),
    dict(base="Cuda failure '%s'", name="nccl-cuda-failure-driver-insufficient",
         fill={"s": "CUDA driver version is insufficient for CUDA runtime version"},
         why="cudaGetErrorString(cudaErrorInsufficientDriver)",
         pattern=r"Cuda failure (?:\d+ )?'CUDA driver version is insufficient for CUDA runtime version'",
         cause="driver-too-old"),
    dict(base="Cuda failure '%s'", name="nccl-cuda-failure-illegal-address",
         fill={"s": "an illegal memory access was encountered"}, why="cudaGetErrorString(cudaErrorIllegalAddress)",
         pattern=r"Cuda failure (?:\d+ )?'an illegal memory access was encountered'", cause="cuda-kernel-fault",
         note="A kernel faulted earlier; NCCL only noticed it."),
    dict(base="Cuda failure '%s'", name="nccl-cuda-failure-system-not-initialized",
         fill={"s": "system not yet initialized"}, why="cudaGetErrorString(cudaErrorSystemNotReady)",
         pattern=r"Cuda failure (?:\d+ )?'system not yet initialized'", cause="fabric-manager-not-running"),
    dict(base="Call to <name> failed: %s", alt="Call to <name> failed : %s", file="checks.h",
         name="nccl-syscall-network-failed", fill={"paste": "bind", "s": "Address already in use"},
         why="syscall name as passed by src/misc/socket.cc, strerror(EADDRINUSE)",
         pattern=r"Call to (?P<symbol>" + "|".join(NET_SYSCALLS) + r") failed ?: ", cause="nccl-network-config",
         note="A socket system call failed (address in use, no such interface, permission): " + N_NET),
    dict(base="Call to <name> failed with error %s", file="ibvwrap", name="nccl-ibv-call-cannot-allocate-memory",
         fill={"paste": "ibv_reg_mr", "s": "Cannot allocate memory"},
         why="verb name as passed by src/misc/ibvwrap.cc, strerror(ENOMEM)",
         pattern=r"Call to (?P<symbol>ibv_\w+) failed with error Cannot allocate memory", cause="memlock-too-low",
         note="Registering or creating verbs resources failed with ENOMEM: the locked-memory limit (ulimit -l) is "
              "too low for RDMA buffers (docker --ulimit memlock=-1)."),
]


# ----------------------------------------------------------------------------------------------
# printf format -> regex, and -> an example line
# ----------------------------------------------------------------------------------------------

CONV_RX = re.compile(r"%(?P<flags>[-+ #0]*)(?P<width>\*|\d+)?(?:\.(?P<prec>\*|\d+))?(?P<len>hh|h|ll|l|z|j|t|L|q)?"
                     r"(?P<conv>[diouxXeEfgGcspm%])")
RX_META = set(".^$*+?{}[]\\|()")
GROUP_NAMES = ("rank", "device", "interface", "host", "port", "size", "version", "path", "symbol", "code")


@dataclass
class Tok:
    kind: str            # "lit", "conv", "paste"
    text: str            # literal text / conversion letter
    flags: str = ""
    arg: str = ""        # the C argument expression
    group: str | None = None


def tokenize(fmt: str, args: list[str]) -> list[Tok]:
    toks: list[Tok] = []
    ai = 0
    pos = 0
    fmt = fmt.split("\n")[0] if fmt.strip("\n").count("\n") else fmt.strip("\n")
    for piece in re.split(f"({UNKNOWN})", fmt):
        if piece == UNKNOWN:
            toks.append(Tok("paste", ""))
            continue
        pos = 0
        for m in CONV_RX.finditer(piece):
            if m.start() > pos:
                toks.append(Tok("lit", piece[pos:m.start()]))
            pos = m.end()
            if m.group("conv") == "%":
                toks.append(Tok("lit", "%"))
                continue
            for star in (m.group("width"), m.group("prec")):
                if star == "*":
                    ai += 1
            arg = ""
            if m.group("conv") != "m":
                arg = args[ai] if ai < len(args) else ""
                ai += 1
            toks.append(Tok("conv", m.group("conv"), m.group("flags") or "", arg))
        if pos < len(piece):
            toks.append(Tok("lit", piece[pos:]))
    return toks


def guess_group(tok: Tok, prev: str, path: str) -> str | None:
    a, p = tok.arg.lower(), prev.lower()
    if tok.kind == "paste":
        return "symbol"
    if tok.text and tok.text in "xX":
        return None  # hex ids and offsets: nothing a fix can use
    if tok.text and tok.text in "diu":
        if re.search(r"(^|\W)(rank|peerrank|myrank|remoterank)$|->rank$|\.rank$", a) or p.endswith("rank "):
            return "rank"
        if "port" in a and "report" not in a and "net_ib" not in path:
            return "port"
        if "net_ib" in path and re.search(r"status$|->status$", a):
            return "code"
        if re.search(r"cudadev|(^|\W)dev$|->dev$|device$", a):
            return "device"
        if re.search(r"size|bytes", a) and "ncclsizeof" not in a:
            return "size"
        if "version" in a:
            return "version"
        return None
    if tok.text in "sm":
        if "ifname" in a or "if_name" in a:
            return "interface"
        if "sockettostring" in a or p.endswith(("connect to ", "peer ", "from ")):
            return "host"
        if "version" in a:
            return "version"
        if ("shm" in path or "linux.cc" in path) and re.search(r"path|name", a):
            return "path"
        if "devname" in a or p.endswith("device "):
            return "device"
    return None


PASTE_RX = {"ibvwrap": r"ibv_\w+", "mlx5dvwrap": r"mlx5dv_\w+", "nvmlwrap": r"nvml\w+"}
PASTE_FILL = {"ibvwrap": "ibv_alloc_pd", "mlx5dvwrap": "mlx5dv_create_qp", "nvmlwrap": "nvmlDeviceGetHandleByPciBusId",
              "checks.h": "fcntl"}  # names the source itself passes to these macros


def _file_key(path: str, table: dict[str, str], default: str) -> str:
    for k, v in table.items():
        if k in path:
            return v
    return default


def rx_escape(s: str) -> str:
    s = re.sub(r"\s{2,}|[\t\n]", "\x01", s)
    out = "".join("\\" + c if c in RX_META else c for c in s)
    return out.replace("\x01", r"\s+")


def conv_rx(tok: Tok, last: bool, path: str) -> str:
    c, f = tok.text, tok.flags
    if tok.kind == "paste":
        return _file_key(path, PASTE_RX, r"\w+")
    if c in "di":
        return r"-?\d+"
    if c in "ou":
        return r"\d+"
    if c in "xX":
        return r"(?:0x)?[0-9a-fA-F]+" if "#" in f else r"[0-9a-fA-F]+"
    if c == "p":
        return r"(?:0x[0-9a-fA-F]+|\(nil\))"
    if c in "eEfgG":
        return r"-?[0-9.]+(?:e[-+]?\d+)?"
    if c == "c":
        return r"."
    return r".*" if last else r".*?"


def build_regex(toks: list[Tok], path: str, bare: bool, exclude: tuple[str, ...], exclude_at: str = "",
                anchor: bool | str = False) -> str:
    """exclude: values of one variable that a more specific entry handles (a negative look-ahead is put where
    that variable starts); exclude_at: "paste" or "s" picks the variable (default: the first of either).
    anchor: match to the end of the line, so that the pattern does not also fire on a longer message that
    starts the same way; "word": also a final %s, which then matches one word."""
    toks = list(toks)
    target = None
    if exclude:
        for i, t in enumerate(toks):
            if (t.kind == "paste" and exclude_at in ("", "paste")) or (t.kind == "conv" and t.text in "sm"
                                                                        and exclude_at in ("", "s")):
                target = t
                break
    look = ("(?!(?:" + "|".join(rx_escape(x) for x in exclude) + ")") if exclude else ""
    tail = ""
    # drop trailing unnamed variables and white space
    while toks and (toks[-1].kind != "lit" and toks[-1].group is None and toks[-1].text in "sm" and anchor != "word"
                    or toks[-1].kind == "lit" and not toks[-1].text.strip()):
        if toks[-1] is target:
            tail = look + ")"
        toks.pop()
    if toks and toks[-1].kind == "lit":
        toks[-1] = Tok("lit", toks[-1].text.rstrip() if not tail else toks[-1].text)
    if bare:
        while toks and toks[0].kind == "conv" and toks[0].group is None and toks[0].text in "sm" \
                and toks[0] is not target:
            toks.pop(0)
            if toks and toks[0].kind == "lit":
                toks[0] = Tok("lit", toks[0].text.lstrip())
    parts: list[str] = []
    for i, t in enumerate(toks):
        if t.kind == "lit":
            # NCCL writes "NET/IB : x"; the network plugins built from it (e.g. the IB SHARP/aws-ofi plugins) "NET/IB: x"
            parts.append(re.sub(r"NET/IB ?: ", r"NET/IB\\w* ?: ?", rx_escape(t.text)).replace(" : ", " ?: "))
            continue
        if t is target:
            nxt = toks[i + 1].text[:1] if i + 1 < len(toks) and toks[i + 1].kind == "lit" and t.kind != "paste" else ""
            parts.append(look + rx_escape(nxt) + ")")
        body = conv_rx(t, i == len(toks) - 1, path)
        if anchor == "word" and i == len(toks) - 1 and t.kind == "conv" and t.text in "sm":
            body = r"\S+"
        parts.append(f"(?P<{t.group}>{body})" if t.group else f"(?:{body})" if "|" in body and not body.startswith("(?:") else body)
    rx = re.sub(r"(?:\.\*\?){2,}", ".*?", "".join(parts)) + tail + (r"\s*$" if anchor else "")
    if bare:
        return rx
    # torch repeats the WARN text under "Last error:" and network plugins print it bare: a format with enough
    # literal text of its own is recognised without the "NCCL WARN " prefix
    lit = "".join(t.text for t in toks if t.kind == "lit")
    return rx if len(lit.strip()) >= 28 else "NCCL WARN " + rx


def literal_text(toks: list[Tok]) -> str:
    return "".join(t.text for t in toks if t.kind == "lit")


ERRNO_FILL = {"shm": "No space left on device", "linux.cc": "No space left on device", "socket": "Connection refused",
              "ipcsocket": "Connection refused", "proxy": "Connection refused"}


def fill(toks: list[Tok], path: str, overrides: dict[int, str] | None = None) -> str:
    out = []
    for i, t in enumerate(toks):
        if overrides and i in overrides:
            out.append(overrides[i])
        elif t.kind == "lit":
            out.append(t.text)
        elif t.kind == "paste":
            out.append(_file_key(path, PASTE_FILL, "x"))
        else:
            out.append(fill_value(t, path))
    return "".join(out).rstrip()


def fill_value(t: Tok, path: str) -> str:
    c, a, g = t.text, t.arg, t.group
    if c in "diouxX":
        if c in "xX":
            return "0x1f" if "#" in t.flags else "1f"
        return {"rank": "1", "device": "0", "size": "1048576", "port": "43215", "version": "22105"}.get(g or "", "1")
    if c == "p":
        return "0x7f3a2c000000"
    if c in "eEfgG":
        return "1.5"
    if c == "c":
        return "x"
    # strings
    if c == "m" or "strerror" in a:
        return _file_key(path, ERRNO_FILL, "Invalid argument")
    if "ncclGetErrorString" in a:
        return "unhandled system error (run with NCCL_DEBUG=INFO for details)"
    if "cudaGetErrorString" in a or "cuGetErrorString" in a or "errStr" in a:
        return "unspecified launch failure"  # a cudaGetErrorString() text; EXTRA covers the common ones
    if "nvmlErrorString" in a:
        return "Not Found"
    if g == "interface":
        return "eth0"
    if g == "host":
        return "10.0.0.2<43215>"
    if g == "path":
        return "/dev/shm/nccl-Xy1AbC"
    if g == "version":
        return "2.21.5"
    if g == "device" or "devname" in a.lower():
        return "mlx5_0"
    return "x"


# ----------------------------------------------------------------------------------------------
# Building the vocabularies
# ----------------------------------------------------------------------------------------------

def version_key(label: str) -> tuple[int, ...]:
    m = re.search(r"(\d+)\.(\d+)\.(\d+)", label)
    return tuple(int(x) for x in m.groups()) if m else (0, 0, 0)


def warn_has_func(src) -> bool:
    try:
        return "(%s) NCCL WARN" in src.read("src/debug.cc")
    except Exception:
        return False


def match_rule(w: Warn) -> Rule | None:
    shown = w.fmt.replace(UNKNOWN, "<name>").strip()
    for r in RULES:
        if r.cfiles and not r.cfiles.search(w.path):
            continue
        if r.crx.search(shown):
            r.hits += 1
            return r
    return None


PASTE_SLUG = {"ibvwrap": "ibv", "mlx5dvwrap": "mlx5dv", "nvmlwrap": "nvml", "checks.h": "syscall"}


def slug(text: str, n: int = 8, path: str = "") -> str:
    words = re.findall(r"[A-Za-z][A-Za-z0-9]*", text.replace(UNKNOWN, " " + _file_key(path, PASTE_SLUG, "") + " "))
    return "-".join(w.lower() for w in words[:n]) or "message"


def example_line(w: Warn, body: str, with_func: bool) -> str:
    rel = w.path[4:] if w.path.startswith("src/") else w.path
    func = f" ({w.func})" if with_func and w.func else ""
    return f"node1:12345:12345 [0] {rel}:{w.line}{func} NCCL WARN {body}"


def build_messages(sources) -> tuple[list[dict], list[Warn], dict]:
    """sources: newest first. Returns entries, unmapped WARNs and stats."""
    by_rx: dict[str, dict] = {}
    unmapped: list[Warn] = []
    stats = {"warn_calls": 0, "formats": set(), "skipped": 0, "per_tag": {}}
    info_lines = [ln for src in sources for ln in collect_info_lines(src)]
    for src in sources:
        warns = extract_warns(src)
        stats["per_tag"][src.label] = len({w.fmt for w in warns})
        stats["warn_calls"] += len(warns)
        with_func = warn_has_func(src)
        for w in warns:
            stats["formats"].add(w.fmt)
            rule = match_rule(w)
            if rule is None:
                unmapped.append(w)
                continue
            if rule.skip:
                stats["skipped"] += 1
                continue
            toks = tokenize(w.fmt, w.args)
            used: set[str] = set()
            prev = ""
            for t in toks:
                if t.kind == "lit":
                    prev = t.text
                    continue
                g = guess_group(t, prev, w.path)
                if g and g not in used:
                    t.group = g
                    used.add(g)
            lit = literal_text(toks)
            distinctive = len(lit.strip()) >= 24 and len(re.findall(r"[A-Za-z]{2,}", lit)) >= 4
            bare = rule.bare if rule.bare is not None else distinctive
            rx = build_regex(toks, w.path, bare, rule.exclude, rule.exclude_at)
            if bare and any(re.search(rx, ln) for ln in info_lines):
                rx = build_regex(toks, w.path, False, rule.exclude, rule.exclude_at)  # would fire on INFO lines of healthy runs
            body = fill(toks, w.path)
            key = build_regex([Tok(t.kind, t.text, t.flags, t.arg) for t in toks], w.path, True, (), "")
            e = by_rx.get(key)
            if e is None:
                e = by_rx[key] = {"rule": rule, "warn": w, "toks": toks, "pattern": rx, "bare": rx == build_regex(
                                      toks, w.path, True, rule.exclude, rule.exclude_at), "examples": [],
                                 "sources": [], "tags": [], "fmt": w.fmt}
            elif e["rule"] is not rule and e["rule"].cause != rule.cause:
                sys.exit(f"error: one pattern, two causes: {rx!r} ({e['rule'].rx} / {rule.rx})")
            e["sources"].append((src.label, w.path, w.line))
            if src.label not in e["tags"]:
                e["tags"].append(src.label)
            e["last"] = (src, w, body, with_func)
    entries = []
    for rx, e in by_rx.items():
        src, w, body, with_func = e["last"]  # the oldest tag that has it: the prefix most logs show
        ex = example_line(w, body, with_func)
        e["examples"] = [ex]
        e["example_sources"] = [f"NVIDIA/nccl src/{w.path[4:]}@{src.label} (WARN format string, placeholder values)"]
        entries.append(e)
    return entries, unmapped, stats


def collect_info_lines(src) -> list[str]:
    """INFO(...) format strings, filled, to keep bare WARN patterns from matching INFO lines of healthy runs."""
    out = []
    rx = re.compile(r"(?<![\w#])INFO(?:_LOC)?\s*\(")
    for path in src.files():
        if SKIP_FILE_RX.search(path):
            continue
        raw = src.read(path)
        if "INFO" not in raw:
            continue
        code = strip_comments(raw)
        for m in rx.finditer(code):
            got = split_call_args(code, m.end() - 1)
            if not got or len(got[0]) < 2:
                continue
            fmt = c_string_concat(got[0][1])
            if fmt:
                out.append("NCCL INFO " + fill(tokenize(fmt, got[0][2:]), path))
    return out


def name_entries(entries: list[dict]) -> None:
    seen: dict[str, int] = {}
    for e in sorted(entries, key=lambda e: (e["warn"].path, e["warn"].line, e["pattern"])):
        lit = "".join(t.text if t.kind == "lit" else UNKNOWN if t.kind == "paste" else "" for t in e["toks"])
        base = "nccl-" + slug(lit or e["fmt"], path=e["warn"].path)
        base = base[:70].rstrip("-")
        n = seen.get(base, 0) + 1
        seen[base] = n
        e["name"] = base if n == 1 else f"{base}-{n}"


def anchor_overlaps(entries: list[dict], extras: list[dict]) -> None:
    """Where a pattern also matches the example of an entry with another cause/role (a shorter message that is
    the start of a longer one), anchor it at the end of the line."""
    def key(e):
        r = e.get("rule")
        return (r.cause, r.role) if r else (e["cause"], e["role"])
    allx = entries + extras
    for a in entries:
        ca = re.compile(a["pattern"])
        r = a["rule"]
        ends_literal = a["toks"] and a["toks"][-1].kind == "lit" and a["toks"][-1].text.strip()
        if r.last_word:
            a["pattern"] = build_regex(a["toks"], a["warn"].path, a["bare"], r.exclude, r.exclude_at, anchor="word")
        elif ends_literal and any(b is not a and key(b) != key(a) and any(ca.search(ex) for ex in b["examples"])
                                  for b in allx):
            a["pattern"] = build_regex(a["toks"], a["warn"].path, a["bare"], r.exclude, r.exclude_at, anchor=True)
    for a in allx:
        ca = re.compile(a["pattern"])
        for b in allx:
            if b is not a and key(b) != key(a) and any(ca.search(ex) for ex in b["examples"]):
                print(f"warning: {a.get('name')} also matches the example of {b.get('name')}", file=sys.stderr)


def extra_entries(entries: list[dict]) -> list[dict]:
    """The curated specialisations (Cuda failure 'out of memory', Call to bind failed ...)."""
    out = []
    for x in EXTRA:
        fmts = {x["base"], x.get("alt", x["base"])}
        bases = [e for e in entries if e["fmt"].replace(UNKNOWN, "<name>") in fmts and x.get("file", "") in e["warn"].path]
        if not bases:
            sys.exit(f"error: EXTRA entry {x['name']}: base format {x['base']!r} is no longer in the source")
        ent = {"name": x["name"], "pattern": x["pattern"], "cause": x["cause"], "role": "root", "note": x.get("note"),
               "examples": [], "example_sources": []}
        for e in bases:
            src, w, _, with_func = e["last"]
            toks = e["toks"]
            over = {}
            for kind, value in x["fill"].items():
                idx = next((i for i, t in enumerate(toks) if (t.kind == "paste" if kind == "paste" else
                            t.kind == "conv" and t.text == kind)), None)
                if idx is not None:
                    over[idx] = value
            ex = example_line(w, fill(toks, w.path, over), with_func)
            if ex not in ent["examples"]:
                ent["examples"].append(ex)
                ent["example_sources"].append(e["example_sources"][0].replace("placeholder values", x["why"]))
        out.append(ent)
    return out


# ----------------------------------------------------------------------------------------------
# TOML output
# ----------------------------------------------------------------------------------------------

def tq(s: str) -> str:
    if "'" not in s and "\n" not in s and not any(ord(c) < 32 for c in s):
        return f"'{s}'"
    esc = s.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n").replace("\t", "\\t")
    esc = "".join(c if ord(c) >= 32 else f"\\u{ord(c):04x}" for c in esc)
    return f'"{esc}"'


def tlist(xs: list[str]) -> str:
    if not xs:
        return "[]"
    if len(xs) == 1 and len(xs[0]) < 90:
        return f"[{tq(xs[0])}]"
    return "[\n" + "".join(f"  {tq(x)},\n" for x in xs) + "]"


def write_entry(lines: list[str], e: dict) -> None:
    lines.append("")
    lines.append("[[entry]]")
    for k in ("name", "code", "text", "cause", "role", "severity"):
        if k in e and e[k] is not None and not (k == "role" and e[k] == "root") and not (k == "severity" and e[k] == "error"):
            v = e[k]
            lines.append(f"{k} = {v}" if isinstance(v, int) else f"{k} = {tq(v)}")
    for k in ("patterns", "examples", "example_sources"):
        if e.get(k):
            lines.append(f"{k} = {tlist(e[k])}")
    if e.get("note"):
        lines.append(f"note = {tq(e['note'])}")


HEADER = "# Generated by tools/mine_nccl_vocab.py; do not edit by hand: change the mapping in the script and rerun.\n"


def render(vocab: dict, entries: list[dict]) -> str:
    lines = [HEADER.rstrip(), "schema = 1", "", "[vocab]"]
    for k in ("id", "title", "component", "kind", "source", "source_url", "source_count", "generated_by"):
        if k in vocab:
            v = vocab[k]
            lines.append(f"{k} = {v}" if isinstance(v, int) else f"{k} = {tq(v)}")
    for k in ("contexts", "code_patterns"):
        if k in vocab:
            lines.append(f"{k} = {tlist(vocab[k])}")
    if "note" in vocab:
        lines.append(f"note = {tq(vocab['note'])}")
    for e in entries:
        write_entry(lines, e)
    return "\n".join(lines) + "\n"


ENUM_EXAMPLE_FORMS = [
    # (format with {text}, source) -- how callers print ncclGetErrorString()
    ("torch.distributed.DistBackendError: NCCL error in: ../torch/csrc/distributed/c10d/ProcessGroupNCCL.cpp:1, "
     "{text}, NCCL version 2.21.5",
     "pytorch/pytorch torch/csrc/distributed/c10d/NCCLUtils.hpp (C10D_NCCL_CHECK format, placeholder file:line)"),
    ("Failed, NCCL error cpp/tensorrt_llm/runtime/ncclCommunicator.cpp:1 '{text}'",
     "NVIDIA/TensorRT-LLM cpp/tensorrt_llm/runtime/utils/multiDeviceUtils.h (TLLM_NCCL_CHECK format, placeholder file:line)"),
]


def build_enum(sources) -> tuple[list[dict], int, str]:
    newest = sources[0]
    values = parse_result_enum(newest)
    strings, strings_path = parse_error_strings(newest)
    unknown = [n for n, _ in values if n not in ENUM_MAP]
    if unknown:
        sys.exit(f"error: ncclResult_t values with no mapping in ENUM_MAP: {unknown} (decide cause/role, then rerun)")
    older = {}
    for src in sources[1:]:
        s, _ = parse_error_strings(src)
        for k, v in s.items():
            if v != strings.get(k):
                older.setdefault(k, []).append(v)
    entries = []
    for name, code in values:
        cause, role, note = ENUM_MAP[name]
        text = strings.get(name)
        if text is None:
            sys.exit(f"error: ncclGetErrorString() has no case for {name}")
        e = {"name": name, "code": code, "cause": cause, "role": role, "note": note, "patterns": [], "examples": [],
             "example_sources": []}
        if role == "benign":
            e["severity"] = "info"
        if name in ENUM_TEXT_TOO_GENERIC:
            t = rx_escape(text)
            e["patterns"] = [rf"NCCL error in: \S+:\d+, {t}, NCCL version", rf"NCCL error \S+:\d+ '{t}'"]
        else:
            e["text"] = text
        for old in older.get(name, []):
            e["patterns"].append(rx_escape(old))
        if role != "benign":
            for form, srcname in ENUM_EXAMPLE_FORMS:
                e["examples"].append(form.format(text=text))
                e["example_sources"].append(srcname)
        entries.append(e)
    return entries, len(values), strings_path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--nccl", action="append", default=[], metavar="DIR", help="an NCCL checkout (repeatable)")
    ap.add_argument("--git", metavar="GITDIR", help="an NCCL git directory (bare or not), read at --tag")
    ap.add_argument("--tag", action="append", default=[], help="a tag of --git (repeatable)")
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "rules" / "vocab"),
                    help="where to write nccl.toml and nccl-messages.toml (default: the repo's rules/vocab)")
    ap.add_argument("--check", action="store_true", help="mine and report, write nothing")
    a = ap.parse_args(argv)
    sources = [DirSource(d) for d in a.nccl]
    if a.tag and not a.git:
        ap.error("--tag needs --git")
    sources += [GitSource(a.git, t) for t in a.tag]
    if not sources:
        ap.error("give --nccl DIR or --git GITDIR --tag TAG")
    sources.sort(key=lambda s: version_key(s.label), reverse=True)
    labels = [s.label for s in sources]

    enum_entries, n_enum, strings_path = build_enum(sources)
    entries, unmapped, stats = build_messages(sources)
    if unmapped:
        print(f"error: {len(unmapped)} WARN format(s) that the mapping table (RULES) does not know; add rules:",
              file=sys.stderr)
        for w in sorted({(w.path, w.fmt.replace(UNKNOWN, '<name>')) for w in unmapped}):
            print(f"  {w[0]}: {w[1]!r}", file=sys.stderr)
        return 2
    name_entries(entries)
    extras = extra_entries(entries)
    anchor_overlaps(entries, extras)
    msg_entries = []
    for e in sorted(entries, key=lambda e: e["name"]):
        r = e["rule"]
        msg_entries.append({"name": e["name"], "cause": r.cause, "role": r.role,
                            "severity": r.severity, "patterns": [e["pattern"]], "examples": e["examples"],
                            "example_sources": e["example_sources"], "note": r.note})
    for x in extras:
        msg_entries.append({"name": x["name"], "cause": x["cause"], "role": x["role"], "patterns": [x["pattern"]],
                            "examples": x["examples"], "example_sources": x["example_sources"], "note": x["note"]})
    # self-check: every example matches its own pattern
    for e in msg_entries:
        for ex in e["examples"]:
            if not any(re.search(p, ex) for p in e["patterns"]):
                sys.exit(f"error: example does not match its pattern: {e['name']}: {ex!r} / {e['patterns']}")
    unused = [r.rx for r in RULES if r.hits == 0]

    tags = " and ".join(labels)
    enum_vocab = {
        "id": "nccl", "title": "NCCL result codes (ncclResult_t) and ncclGetErrorString() texts", "component": "nccl",
        "kind": "enum",
        "source": f"NVIDIA/nccl {labels[0]} src/nccl.h.in (typedef enum ncclResult_t, the ncclNumResults sentinel "
                  f"left out); strings from ncclGetErrorString() in {strings_path}"
                  + (f"; older wording checked against {', '.join(labels[1:])}" if labels[1:] else ""),
        "source_url": "https://github.com/NVIDIA/nccl/blob/master/src/nccl.h.in",
        "source_count": n_enum, "generated_by": "tools/mine_nccl_vocab.py",
        "contexts": [r"(?i)\bnccl\b", r"nccl\w*(?:Error|Result)"],
        "code_patterns": [r"NCCL INFO \S+:\d+(?: \(.*?\))? -> (?P<code>\d+)\b"],
        "note": "Callers print these strings as 'NCCL error in: FILE:LINE, <text>, NCCL version X' (torch), "
                "\"Failed, NCCL error FILE:LINE '<text>'\" (TensorRT-LLM, NCCL examples); NCCL's own trace lines "
                "'FILE:LINE -> <code>' carry the number. The generic codes (1, 2, 3) are consequences of the WARN "
                "line that precedes them (rules/vocab/nccl-messages.toml).",
    }
    mapped = sum(1 for e in msg_entries if e["cause"] not in ("nccl-failure", "none"))
    msg_vocab = {
        "id": "nccl-messages", "title": "NCCL WARN messages (the 'NCCL WARN' and 'Last error:' texts)",
        "component": "nccl", "kind": "messages",
        "source": f"NVIDIA/nccl {tags}: every WARN(...) format string under src/ (Windows-only sources left out), "
                  f"printf conversions turned into groups; cause mapping curated in tools/mine_nccl_vocab.py "
                  f"(RULES, EXTRA)",
        "source_url": "https://github.com/NVIDIA/nccl",
        "generated_by": "tools/mine_nccl_vocab.py",
        "note": "Distinctive messages match anywhere (also torch's 'Last error:' echo); short or generic ones only "
                "after 'NCCL WARN '. Examples are the WARN format strings filled with placeholder values in NCCL's "
                "log prefix (host:pid:tid [dev] file:line NCCL WARN ...).",
    }
    print(f"sources: {tags}; WARN calls {stats['warn_calls']}, distinct formats {len(stats['formats'])} "
          f"(per tag {stats['per_tag']}), skipped {stats['skipped']}; entries: enum {len(enum_entries)}, "
          f"messages {len(msg_entries)} (mapped to a specific cause: {mapped}, nccl-failure: "
          f"{sum(1 for e in msg_entries if e['cause'] == 'nccl-failure')}, benign: "
          f"{sum(1 for e in msg_entries if e['cause'] == 'none')}); rules unused: {len(unused)}")
    for rx in unused:
        print(f"  unused rule: {rx}")
    if a.check:
        return 0
    out = Path(a.out)
    (out / "nccl.toml").write_text(render(enum_vocab, enum_entries), encoding="utf-8")
    (out / "nccl-messages.toml").write_text(render(msg_vocab, msg_entries), encoding="utf-8")
    print(f"wrote {out / 'nccl.toml'} and {out / 'nccl-messages.toml'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
