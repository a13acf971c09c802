#!/usr/bin/env python3
"""Compare TensorRT-LLM release metadata on PyPI with rules/releases.toml (stdlib only).

The pypi.org ``tensorrt-llm`` sdists are wheel stubs; their ``PKG-INFO`` carries the real wheel's
Requires-Dist pins, Python classifiers and (from 1.1.0 on) the README badges. This tool reads that
file for a release and prints what rules/releases.toml would gain or change, as TOML.

    python3 tools/refresh_kb.py 1.4.0rc1                      # fetch from the index, print the diff
    python3 tools/refresh_kb.py 1.2.1 --pkg-info fixtures/kb/pkg-info/1.2.1.PKG-INFO   # offline
    python3 tools/refresh_kb.py --all-new                     # every index release newer than the KB
    python3 tools/refresh_kb.py --all-new --write --save      # append new releases, keep their PKG-INFO

Only new releases are written (``--write`` appends a ``[[release]]`` table); changes to an existing
entry are printed for a person to apply by hand, because existing entries carry notes that a
script cannot rewrite. Exit status: 0 nothing to do, 1 differences found (or written), 2 error.

Caveats the tool knows about:
  * Some stubs (0.9.0, 0.14.0, 0.16.0) carry the Windows wheel's metadata (an unconditional
    ``pywin32`` and ``torch==X+cuNNN`` pins). Their pins are not the Linux wheel's: nothing but the
    Python classifiers is compared for them.
  * Some stubs have no Requires-Dist at all (0.11.0, 0.17.0): only classifiers are compared.
  * A README badge can lag behind the pins (1.3.0rc29 requires torch 2.14 while its badge says
    torch-2.12.0); the tool reports such disagreements as notes.
  * New entries copy fields that PKG-INFO cannot give (sm lists, platforms, container, install lines)
    from the newest older release and say so in ``note``; check them against the release notes.
"""

from __future__ import annotations

import argparse
import email.parser
import hashlib
import io
import json
import re
import sys
import tarfile
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

try:
    import tomllib
except ImportError:  # Python 3.10
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).resolve().parent.parent
RELEASES = ROOT / "rules" / "releases.toml"
CUDA_TOML = ROOT / "rules" / "cuda.toml"
PKG_INFO_DIR = ROOT / "fixtures" / "kb" / "pkg-info"
INDEX_URL = "https://pypi.org/simple/tensorrt-llm/"
JSON_API = "https://pypi.org/pypi/tensorrt-llm/{version}/json"
PROJECT_URL = "https://pypi.org/project/tensorrt-llm/{version}/"

# Key order of a [[release]] table, as in rules/releases.toml.
KEY_ORDER = ["version", "prerelease", "python", "platforms", "cuda", "cuda_major", "tensorrt", "tensorrt_spec",
             "torch_spec", "min_driver", "min_driver_compat", "sm", "pip_unsupported_sm", "fp8_sm", "fp4_sm",
             "int4_awq_min_sm", "int8_sq_min_sm", "pip_extra_index", "install", "container", "sources", "note"]
# Fields a new entry copies from the newest older release (PKG-INFO does not state them).
CARRIED = ["platforms", "min_driver_compat", "sm", "fp8_sm", "fp4_sm", "int4_awq_min_sm", "int8_sq_min_sm",
           "pip_extra_index"]


# --- PEP 440 subset (no third-party packages) ----------------------------------------------------------

_VERSION_RE = re.compile(
    r"^\s*v?(?P<release>\d+(?:\.\d+)*)"
    r"(?:[-_.]?(?P<pre_l>a|b|c|rc|alpha|beta|pre|preview)[-_.]?(?P<pre_n>\d*))?"
    r"(?:[-_.]?(?:post|rev|r)[-_.]?(?P<post_n>\d*))?"
    r"(?:[-_.]?dev[-_.]?(?P<dev_n>\d*))?"
    r"(?:\+(?P<local>[a-z0-9]+(?:[-_.][a-z0-9]+)*))?\s*$",
    re.I,
)
_PRE_ORDER = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_INF = float("inf")


@dataclass(frozen=True, order=False)
class Ver:
    """A parsed version; ``key`` orders like PEP 440 for the forms TensorRT-LLM and torch use."""

    text: str
    release: tuple[int, ...]
    pre: tuple[int, int] | None
    post: int | None
    dev: int | None
    local: str | None

    @classmethod
    def parse(cls, text: str) -> "Ver":
        m = _VERSION_RE.match(text)
        if not m:
            raise ValueError(f"not a version: {text!r}")
        pre = None
        if m.group("pre_l"):
            pre = (_PRE_ORDER[m.group("pre_l").lower()], int(m.group("pre_n") or 0))
        post = int(m.group("post_n") or 0) if m.group("post_n") is not None else None
        dev = int(m.group("dev_n") or 0) if m.group("dev_n") is not None else None
        return cls(text.strip(), tuple(int(p) for p in m.group("release").split(".")), pre, post, dev, m.group("local"))

    @property
    def key(self) -> tuple:
        rel = list(self.release)
        while len(rel) > 1 and rel[-1] == 0:
            rel.pop()
        if self.pre is None and self.post is None and self.dev is not None:
            pre: tuple = (-_INF, 0)
        elif self.pre is None:
            pre = (_INF, 0)
        else:
            pre = self.pre
        post = -_INF if self.post is None else self.post
        dev = _INF if self.dev is None else self.dev
        return (tuple(rel), pre, post, dev)

    @property
    def is_prerelease(self) -> bool:
        return self.pre is not None or self.dev is not None

    @property
    def public(self) -> "Ver":
        return Ver.parse(self.text.split("+", 1)[0])

    def __lt__(self, other: "Ver") -> bool:
        return self.key < other.key

    def __le__(self, other: "Ver") -> bool:
        return self.key <= other.key

    def __gt__(self, other: "Ver") -> bool:
        return self.key > other.key

    def __ge__(self, other: "Ver") -> bool:
        return self.key >= other.key

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Ver) and self.key == other.key

    def __hash__(self) -> int:
        return hash(self.key)


def vkey(text: str) -> tuple:
    return Ver.parse(text).key


_SPEC_RE = re.compile(r"^\s*(===|~=|==|!=|<=|>=|<|>)\s*([^\s,;]+)\s*$")


def parse_spec(spec: str) -> list[tuple[str, str]]:
    """'<=2.10.0a0, >=2.9.1' -> [('>=', '2.9.1'), ('<=', '2.10.0a0')] (lower bounds first, as the KB writes them)."""
    out = []
    for part in (p for p in spec.replace("(", "").replace(")", "").split(",") if p.strip()):
        m = _SPEC_RE.match(part)
        if not m:
            raise ValueError(f"not a version specifier: {part!r}")
        out.append((m.group(1), m.group(2)))
    order = {">=": 0, ">": 1, "<=": 2, "<": 3, "~=": 4, "==": 5, "===": 6, "!=": 7}
    return sorted(out, key=lambda p: (order[p[0]], p[1]))


def format_spec(spec: str) -> str:
    return ",".join(op + v for op, v in parse_spec(spec))


def same_spec(a: str, b: str) -> bool:
    try:
        return set(parse_spec(a)) == set(parse_spec(b))
    except ValueError:
        return a.replace(" ", "") == b.replace(" ", "")


def spec_contains(spec: str, version: str) -> bool:
    """Whether ``version`` satisfies ``spec`` (pre-releases allowed; enough for torch/tensorrt pins)."""
    v = Ver.parse(version).public
    for op, target in parse_spec(spec):
        if target.endswith(".*"):
            prefix = tuple(int(p) for p in target[:-2].split("."))
            hit = v.release[: len(prefix)] == prefix
            if (op == "==" and not hit) or (op == "!=" and hit):
                return False
            continue
        t = Ver.parse(target)
        if op in ("==", "==="):
            ok = v == t
        elif op == "!=":
            ok = v != t
        elif op == ">=":
            ok = v >= t
        elif op == "<=":
            ok = v <= t
        elif op == ">":
            ok = v > t
        elif op == "<":
            ok = v < t
        else:  # ~=X.Y.Z: >= X.Y.Z and == X.Y.*
            prefix = t.release[:-1] if len(t.release) > 1 else t.release
            ok = v >= t and v.release[: len(prefix)] == prefix
        if not ok:
            return False
    return True


# --- PKG-INFO -------------------------------------------------------------------------------------------


_REQ_RE = re.compile(r"^\s*(?P<name>[A-Za-z0-9][A-Za-z0-9._-]*)\s*(?P<extras>\[[^\]]*\])?\s*(?P<spec>[^;]*?)\s*(?:;(?P<marker>.*))?$")
_BADGE_RE = re.compile(r"img\.shields\.io/badge/(?P<label>[A-Za-z]+)-(?P<value>[0-9][0-9A-Za-z.]*)-")


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass
class Requirement:
    name: str
    spec: str
    marker: str
    extras: str = ""


@dataclass
class Metadata:
    """What one release's PKG-INFO says."""

    version: str
    python: list[str]
    requirements: list[Requirement]
    badges: dict[str, list[str]]
    requires_python: str = ""
    stub_only: bool = False
    windows: bool = False
    warnings: list[str] = field(default_factory=list)

    def requirement(self, name: str) -> Requirement | None:
        return next((r for r in self.requirements if r.name == name), None)

    @property
    def tensorrt_spec(self) -> str:
        r = self.requirement("tensorrt")
        return format_spec(r.spec) if r and r.spec else ""

    @property
    def tensorrt(self) -> str:
        """The TensorRT x.y.z the pin names (~=10.14.1 -> 10.14.1, ==9.3.0.post12.dev1 -> 9.3.0)."""
        spec = self.tensorrt_spec
        for op, v in parse_spec(spec) if spec else []:
            if op in ("~=", "==", ">="):
                rel = Ver.parse(v).release
                return ".".join(str(p) for p in (rel + (0, 0))[:3])
        return ""

    @property
    def torch_spec(self) -> str:
        r = self.requirement("torch")
        return format_spec(r.spec) if r and r.spec else ""

    @property
    def cuda_major(self) -> int | None:
        """CUDA major from cuda-python's pin and from nvidia-*-cuNN package names; None when neither says."""
        majors: set[int] = set()
        r = self.requirement("cuda-python")
        if r and r.spec:
            for op, v in parse_spec(r.spec):
                major = Ver.parse(v).release[0]
                if op in (">=", "==", "~=", ">"):
                    majors.add(major)
        for req in self.requirements:
            m = re.fullmatch(r"nvidia-[a-z0-9-]+-cu(\d+)", req.name)
            if m:
                majors.add(int(m.group(1)))
        if len(majors) > 1:
            self.warnings.append(f"CUDA majors disagree across requirements: {sorted(majors)}")
            return None
        return majors.pop() if majors else None

    @property
    def cuda_badge(self) -> str:
        return (self.badges.get("cuda") or [""])[0]

    @property
    def torch_badge(self) -> str:
        return (self.badges.get("torch") or [""])[0]

    @property
    def trt_badge(self) -> str:
        return (self.badges.get("TRT") or self.badges.get("trt") or [""])[0]


def parse_pkg_info(text: str) -> Metadata:
    msg = email.parser.Parser().parsestr(text)
    version = (msg.get("Version") or "").strip()
    python = sorted({m.group(1) for c in msg.get_all("Classifier") or []
                     if (m := re.fullmatch(r"Programming Language :: Python :: (3\.\d+)", c.strip()))}, key=vkey)
    reqs = []
    for raw in msg.get_all("Requires-Dist") or []:
        m = _REQ_RE.match(raw)
        if not m:
            continue
        marker = (m.group("marker") or "").strip()
        if re.search(r"\bextra\s*==", marker):
            continue  # optional extras ([devel], [benchmarking]) are not the wheel's runtime pins
        reqs.append(Requirement(canonical(m.group("name")), m.group("spec").strip(), marker, m.group("extras") or ""))
    body = msg.get_payload() if not msg.is_multipart() else ""
    badges: dict[str, list[str]] = {}
    for b in _BADGE_RE.finditer(body or ""):
        vals = badges.setdefault(b.group("label"), [])
        if b.group("value") not in vals:
            vals.append(b.group("value"))
    meta = Metadata(version, python, reqs, badges, (msg.get("Requires-Python") or "").strip(),
                    stub_only=(msg.get("Stub-Only") or "").strip().lower() == "true")
    torch = meta.requirement("torch")
    if any(r.name == "pywin32" and not r.marker for r in reqs) or (torch and "+cu" in torch.spec):
        meta.windows = True
        meta.warnings.append("metadata is the Windows wheel's (unconditional pywin32 / torch==X+cuNNN): its pins are "
                             "not the Linux wheel's; use the tag's requirements.txt for tensorrt/torch")
    if not reqs:
        meta.warnings.append("no Requires-Dist in this PKG-INFO (stub-only metadata): only the Python classifiers "
                             "can be compared")
    return meta


# --- PyPI -----------------------------------------------------------------------------------------------


def _get(url: str, accept: str | None = None, timeout: float = 60) -> bytes:
    req = urllib.request.Request(url, headers={"User-Agent": "trtllm-doctor-refresh-kb/1"} | ({"Accept": accept} if accept else {}))
    with urllib.request.urlopen(req, timeout=timeout) as resp:  # noqa: S310 - fixed https URLs
        return resp.read()


def index_files(index_url: str = INDEX_URL) -> tuple[list[str], list[dict]]:
    """(versions, files) from the PEP 691 JSON simple index."""
    data = json.loads(_get(index_url, "application/vnd.pypi.simple.v1+json"))
    return data.get("versions") or [], data.get("files") or []


def sdist_entry(version: str, files: list[dict]) -> dict | None:
    names = {f"tensorrt_llm-{version}.tar.gz", f"tensorrt-llm-{version}.tar.gz"}
    return next((f for f in files if f.get("filename") in names), None)


def fetch_pkg_info(version: str, files: list[dict] | None = None) -> tuple[str, dict]:
    """Download the release's sdist (checking its sha256) and return (PKG-INFO text, file entry)."""
    if files is None:
        _, files = index_files()
    entry = sdist_entry(version, files)
    if entry is None:  # fall back to the per-release JSON API
        data = json.loads(_get(JSON_API.format(version=version)))
        entry = next(({"filename": u["filename"], "url": u["url"], "hashes": u.get("digests", {})}
                      for u in data.get("urls", []) if u.get("packagetype") == "sdist"), None)
    if entry is None:
        raise LookupError(f"no sdist for tensorrt-llm {version} on the index")
    blob = _get(entry["url"].split("#", 1)[0])
    want = (entry.get("hashes") or {}).get("sha256")
    if want and hashlib.sha256(blob).hexdigest() != want:
        raise ValueError(f"{entry['filename']}: sha256 mismatch")
    return pkg_info_from_sdist(blob), entry


def pkg_info_from_sdist(blob: bytes) -> str:
    with tarfile.open(fileobj=io.BytesIO(blob), mode="r:*") as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.split("/")[-1] == "PKG-INFO"]
        members.sort(key=lambda m: m.name.count("/"))  # PKG-INFO at the top or one folder down
        if not members or members[0].name.count("/") > 1:
            raise LookupError("sdist has no top-level PKG-INFO")
        fh = tar.extractfile(members[0])
        assert fh is not None
        return fh.read().decode("utf-8", "replace")


# --- the knowledge base ---------------------------------------------------------------------------------


def load_releases(path: Path = RELEASES) -> list[dict]:
    with path.open("rb") as fh:
        return tomllib.load(fh).get("release", [])


def load_cuda(path: Path = CUDA_TOML) -> list[dict]:
    with path.open("rb") as fh:
        return tomllib.load(fh).get("cuda", [])


def min_driver_for(cuda: str, rows: list[dict]) -> tuple[str, str]:
    """(min_driver, how) for a full CUDA version from rules/cuda.toml: its own row, else the GA row."""
    for r in rows:
        if r.get("full") == cuda:
            return r["min_driver"], f"rules/cuda.toml row CUDA {r['version']} {r.get('update', 'GA')}"
    mm = ".".join(cuda.split(".")[:2])
    ga = [r for r in rows if r.get("version") == mm and r.get("update", "GA") == "GA"]
    if ga:
        return ga[0]["min_driver"], f"rules/cuda.toml GA row of CUDA {mm} (no row for {cuda})"
    return "", f"CUDA {cuda} is not in rules/cuda.toml"


def _mm(v: str) -> str:
    return ".".join(v.split(".")[:2])


@dataclass
class Diff:
    version: str
    new: bool
    changes: dict[str, object]  # field -> proposed value (for a new release: the whole entry)
    was: dict[str, object]
    notes: list[str]

    @property
    def empty(self) -> bool:
        return not self.new and not self.changes


def proposed_fields(meta: Metadata) -> dict[str, object]:
    """The release fields PKG-INFO states (empty strings / None are left out)."""
    out: dict[str, object] = {}
    if meta.python:
        out["python"] = meta.python
    if meta.windows or not meta.requirements:
        return out
    if meta.tensorrt_spec:
        out["tensorrt_spec"] = meta.tensorrt_spec
        out["tensorrt"] = meta.tensorrt
    if meta.torch_spec:
        out["torch_spec"] = meta.torch_spec
    if meta.cuda_major is not None:
        out["cuda_major"] = meta.cuda_major
    if meta.cuda_badge:
        out["cuda"] = meta.cuda_badge
    return out


def badge_notes(meta: Metadata) -> list[str]:
    notes = list(meta.warnings)
    if meta.torch_badge and meta.torch_spec:
        try:
            if not spec_contains(meta.torch_spec, meta.torch_badge):
                notes.append(f"README badge torch-{meta.torch_badge} does not satisfy the pin torch{meta.torch_spec} "
                             f"(the badge lags; the pin is what pip enforces)")
        except ValueError:
            pass
    if meta.trt_badge and meta.tensorrt and meta.trt_badge != meta.tensorrt:
        notes.append(f"README badge TRT-{meta.trt_badge} differs from the pin tensorrt{meta.tensorrt_spec}")
    if meta.badges.get("python") and meta.python and sorted(meta.badges["python"], key=vkey) != meta.python:
        notes.append(f"README python badges {meta.badges['python']} differ from the classifiers {meta.python}")
    if not meta.tensorrt_spec and meta.requirements and not meta.windows:
        notes.append("no tensorrt Requires-Dist: this wheel does not pin TensorRT")
    return notes


def diff_existing(entry: dict, meta: Metadata) -> Diff:
    prop = proposed_fields(meta)
    changes: dict[str, object] = {}
    was: dict[str, object] = {}
    notes = badge_notes(meta)
    for key, value in prop.items():
        have = entry.get(key, "" if key != "cuda_major" else None)
        if key in ("tensorrt_spec", "torch_spec"):
            same = bool(have) and same_spec(str(have), str(value))
        elif key == "python":
            same = sorted(have or [], key=vkey) == value
        elif key == "cuda":
            same = _mm(str(have)) == _mm(str(value))
            if same and have != value:
                notes.append(f"CUDA patch level: the KB says {have}, the README badge says {value} (kept; the KB may "
                             f"carry the container's CUDA)")
        elif key == "tensorrt":
            same = not value or have == value
        else:
            same = have == value
        if not same:
            changes[key] = value
            was[key] = have
    return Diff(entry["version"], False, changes, was, notes)


def new_entry(meta: Metadata, releases: list[dict], cuda_rows: list[dict], source_url: str,
              pkg_info_path: str) -> Diff:
    version = meta.version
    older = sorted((r for r in releases if Ver.parse(r["version"]) < Ver.parse(version)), key=lambda r: vkey(r["version"]))
    prev = older[-1] if older else {}
    notes = badge_notes(meta)
    prop = proposed_fields(meta)
    entry: dict[str, object] = {"version": version, "prerelease": Ver.parse(version).is_prerelease}
    entry["python"] = prop.get("python", prev.get("python", []))
    entry["platforms"] = prev.get("platforms", ["linux-x86_64"])
    entry["cuda"] = prop.get("cuda", "")
    entry["cuda_major"] = prop.get("cuda_major", prev.get("cuda_major", 0))
    entry["tensorrt"] = prop.get("tensorrt", "")
    entry["tensorrt_spec"] = prop.get("tensorrt_spec", "")
    entry["torch_spec"] = prop.get("torch_spec", "")
    how = "no CUDA badge"
    if entry["cuda"]:
        entry["min_driver"], how = min_driver_for(str(entry["cuda"]), cuda_rows)
    else:
        entry["min_driver"] = ""
    if not entry["min_driver"]:
        notes.append(f"min_driver unknown ({how}): fill it in before committing")
    for key in CARRIED:
        if key in prev:
            entry[key] = prev[key]
    if prev.get("pip_unsupported_sm"):
        entry["pip_unsupported_sm"] = prev["pip_unsupported_sm"]
    entry["install"] = _install_lines(prev, version, meta)
    prev_container = str(prev.get("container", ""))
    entry["container"] = prev_container.replace(prev.get("version", "\0"), version) if prev_container else ""
    entry["sources"] = [source_url, pkg_info_path, "rules/cuda.toml"]
    carried = ", ".join(k for k in CARRIED + ["install", "container"] if k in prev or k in ("install", "container"))
    note = (f"Written by tools/refresh_kb.py from PKG-INFO of the PyPI sdist: python (classifiers), "
            f"{'torch_spec, ' if entry['torch_spec'] else ''}{'tensorrt_spec, ' if entry['tensorrt_spec'] else ''}"
            f"cuda_major (cuda-python / nvidia-*-cuNN), cuda (README badge). min_driver: {how}. "
            f"Carried over from {prev.get('version', '(none)')} and NOT verified for this release: {carried}.")
    if notes:
        note += " Metadata notes: " + " ".join(n if n.endswith(".") else n + "." for n in notes)
    entry["note"] = note
    return Diff(version, True, entry, {}, notes)


def _install_lines(prev: dict, version: str, meta: Metadata) -> list[str]:
    """The previous release's install lines with the new version (and a torch pin that satisfies this release)."""
    lines = []
    torch = ""
    if meta.torch_spec:
        if meta.torch_badge and spec_contains(meta.torch_spec, meta.torch_badge):
            torch = f"torch=={meta.torch_badge}"
        else:
            torch = f"'torch{meta.torch_spec}'"
    for line in prev.get("install", []) or []:
        line = re.sub(r"tensorrt_llm==\S+", f"tensorrt_llm=={version}", line)
        if torch:
            line = re.sub(r"torch==\S+|'torch[^']*'", lambda _m: torch, line)
        lines.append(line)
    return lines or [f"pip3 install tensorrt_llm=={version}"]


# --- TOML output ----------------------------------------------------------------------------------------


def toml_value(value: object, indent: str = "") -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        items = [toml_value(v) for v in value]
        if all(isinstance(v, (int, float)) for v in value) or sum(len(i) for i in items) < 60:
            return "[" + ", ".join(items) + "]"
        return "[\n" + "".join(f"{indent}  {i},\n" for i in items) + f"{indent}]"
    raise TypeError(f"cannot write {type(value).__name__} as TOML")


def release_table(fields_: dict[str, object]) -> str:
    keys = [k for k in KEY_ORDER if k in fields_] + [k for k in fields_ if k not in KEY_ORDER]
    return "[[release]]\n" + "".join(f"{k} = {toml_value(fields_[k])}\n" for k in keys)


def render(d: Diff) -> str:
    out = []
    if d.new:
        out.append(f"# {d.version}: new release (not in rules/releases.toml)")
        out.append(release_table(d.changes).rstrip("\n"))
    elif d.changes:
        out.append(f"# {d.version}: would change {', '.join(d.changes)} (edit by hand; --write only adds releases)")
        body = {"version": d.version} | d.changes
        table = release_table(body).rstrip("\n").splitlines()
        for line in table:
            key = line.split(" = ", 1)[0]
            if key in d.was:
                line += f"  # was {toml_value(d.was[key])}"
            out.append(line)
    else:
        out.append(f"# {d.version}: no changes")
    for n in d.notes if not d.new else []:
        out.append(f"# note: {n}")
    return "\n".join(out) + "\n"


def append_release(path: Path, d: Diff) -> None:
    text = path.read_text(encoding="utf-8")
    if not text.endswith("\n"):
        text += "\n"
    text += "\n" + release_table(d.changes)
    tomllib.loads(text)  # never leave an unparsable file behind
    path.write_text(text, encoding="utf-8")


# --- command line ---------------------------------------------------------------------------------------


def new_versions(index_versions: list[str], known: list[str]) -> list[str]:
    """Index releases newer than every KB release (dev builds and .postN re-uploads left out)."""
    newest = max((Ver.parse(v) for v in known), default=None)
    out = []
    for v in index_versions:
        try:
            pv = Ver.parse(v)
        except ValueError:
            continue
        if pv.dev is not None or pv.post is not None or pv.local:
            continue
        if newest is None or pv > newest:
            out.append(v)
    return sorted(set(out), key=vkey)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("versions", nargs="*", help="tensorrt-llm versions (e.g. 1.4.0rc1)")
    ap.add_argument("--all-new", action="store_true", help="every index release newer than the newest KB release")
    ap.add_argument("--pkg-info", type=Path, help="read this saved PKG-INFO instead of the index (one version)")
    ap.add_argument("--releases", type=Path, default=RELEASES, help="rules/releases.toml to compare with")
    ap.add_argument("--cuda", type=Path, default=CUDA_TOML, help="rules/cuda.toml for min_driver of new releases")
    ap.add_argument("--write", action="store_true", help="append new releases to --releases")
    ap.add_argument("--save", action="store_true", help=f"save each fetched PKG-INFO to {PKG_INFO_DIR.relative_to(ROOT)}/")
    ap.add_argument("--index-url", default=INDEX_URL)
    args = ap.parse_args(argv)

    try:
        releases = load_releases(args.releases)
        cuda_rows = load_cuda(args.cuda)
    except (OSError, tomllib.TOMLDecodeError) as exc:
        print(f"refresh_kb: {exc}", file=sys.stderr)
        return 2
    known = {r["version"]: r for r in releases}

    versions = list(args.versions)
    files: list[dict] | None = None
    if args.pkg_info:
        if args.all_new or len(versions) > 1:
            print("refresh_kb: --pkg-info reads one release; give at most one version", file=sys.stderr)
            return 2
    elif args.all_new or versions:
        try:
            index_versions, files = index_files(args.index_url)
        except OSError as exc:
            print(f"refresh_kb: cannot read {args.index_url}: {exc}", file=sys.stderr)
            return 2
        if args.all_new:
            versions += [v for v in new_versions(index_versions, list(known)) if v not in versions]
            if not versions:
                print("# no index release is newer than the knowledge base")
                return 0
    else:
        ap.error("give a version, --all-new, or --pkg-info FILE")

    status = 0
    for version in versions or [None]:
        try:
            if args.pkg_info:
                text = args.pkg_info.read_text(encoding="utf-8")
                src_path = str(args.pkg_info)
                meta = parse_pkg_info(text)
                version = version or meta.version
                source_url = PROJECT_URL.format(version=version)
            else:
                text, entry = fetch_pkg_info(version, files)
                meta = parse_pkg_info(text)
                source_url = entry["url"].split("#", 1)[0]
                src_path = f"fixtures/kb/pkg-info/{version}.PKG-INFO"
                if args.save:
                    PKG_INFO_DIR.mkdir(parents=True, exist_ok=True)
                    (PKG_INFO_DIR / f"{version}.PKG-INFO").write_text(text, encoding="utf-8")
        except (OSError, LookupError, ValueError) as exc:
            print(f"refresh_kb: {version}: {exc}", file=sys.stderr)
            status = 2
            continue
        if meta.version and Ver.parse(meta.version) != Ver.parse(version):
            print(f"refresh_kb: PKG-INFO is for {meta.version}, not {version}", file=sys.stderr)
            status = 2
            continue
        if version in known:
            d = diff_existing(known[version], meta)
        else:
            src_rel = src_path
            try:
                src_rel = str(Path(src_path).resolve().relative_to(ROOT))
            except ValueError:
                pass
            d = new_entry(meta, releases, cuda_rows, source_url, src_rel)
        sys.stdout.write(render(d) + "\n")
        if d.new and args.write:
            append_release(args.releases, d)
            releases.append(dict(d.changes))
            known[version] = releases[-1]
            print(f"# wrote {version} to {args.releases}", file=sys.stderr)
        if not d.empty and status == 0:
            status = 1
    return status


if __name__ == "__main__":
    sys.exit(main())
