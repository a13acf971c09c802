"""Structure in a log: Python tracebacks (with chains and the package of every frame), and who owns a message.

A traceback is read from its ``Traceback (most recent call last):`` line onwards, line by line,
following one rank only when the lines carry rank prefixes (MPI ``[1,0]<stderr>:``, torchrun
``[rank0]:``), until its exception line (``pkg.mod.SomeError: message``). Chains ("During handling
of the above exception...", "The above exception was the direct cause...") mark the later
exceptions as raised on top of an earlier one. The walk is bounded (frames and lines), so a
runaway log costs nothing more.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

MAX_TB_LINES = 600  # a traceback longer than this is cut (its exception line then stays unknown)
MAX_FRAMES = 64

_FRAME = re.compile(r'^\s*File "(?P<path>[^"]+)", line (?P<line>\d+)(?:, in (?P<func>\S+))?')
_EXC = re.compile(r"^(?P<type>[A-Za-z_][\w.]*(?:Error|Exception|Exit|Interrupt|Fault|Warning|Failure|Abort\w*|error|exception|[A-Z]\w*))(?::\s?(?P<msg>.*))?$")
_CHAIN = re.compile(r"^(?:During handling of the above exception, another exception occurred|The above exception was the direct cause of the following exception):?$")
_SITE = re.compile(r"(?:site|dist)-packages/(?P<pkg>[A-Za-z_][\w]*)")
_LIBPY = re.compile(r"/lib/python\d\.\d+/(?P<pkg>[A-Za-z_]\w*)")
_KNOWN_DIRS = ("tensorrt_llm", "torch", "transformers", "huggingface_hub", "tensorrt", "triton", "vllm", "safetensors",
               "mpi4py", "cupy", "numpy", "pip", "pydantic", "modelopt", "accelerate", "tokenizers", "datasets")
TRACEBACK_HEAD = b"Traceback (most recent call last)"


def owner_of_path(path: str) -> str:
    """The package a frame's file belongs to ('torch', 'tensorrt_llm', ...), 'python' for the standard
    library, 'importlib' for the import machinery, '__main__' for the user's own code."""
    if path.startswith("<frozen importlib") or path.startswith("<frozen"):
        return "importlib"
    m = _SITE.search(path)
    if m:
        return m.group("pkg")
    for d in _KNOWN_DIRS:
        if f"/{d}/" in path:
            return d
    if path.endswith((".pyx", ".pxd")):
        return path.split("/", 1)[0].split(".", 1)[0] or "__main__"
    m = _LIBPY.search(path)
    if m:
        return "python"
    return "__main__"


def owner_of_type(exc_type: str) -> str:
    """The package that defines an exception class, from its qualified name ('' for builtins)."""
    if "." not in exc_type:
        return ""
    top = exc_type.split(".", 1)[0]
    return {"cupy_backends": "cupy", "_pydantic_core": "pydantic", "pydantic_core": "pydantic",
            "safetensors_rust": "safetensors"}.get(top, top)


@dataclass
class PyException:
    """One exception a traceback ended in."""

    type: str
    message: str
    file: int
    line: int
    frames: list[str] = field(default_factory=list)  # owning package of each frame, outermost first
    chained: bool = False  # raised while handling (or because of) an earlier exception
    rank: int | None = None

    @property
    def owner(self) -> str:
        """Who raised it: the innermost frame outside the standard library and import machinery, else the type's package."""
        for pkg in reversed(self.frames):
            if pkg not in ("python", "importlib"):
                return pkg
        return owner_of_type(self.type) or (self.frames[-1] if self.frames else "")


class TracebackReader:
    """A little state machine fed one cleaned line at a time (indentation kept), from a Traceback header on."""

    def __init__(self, file: int, line: int, rank: int | None, chained: bool):
        self.file, self.start, self.rank, self.chained = file, line, rank, chained
        self.frames: list[str] = []
        self.count = 0
        self.walked = 0
        self.done = False
        self.result: PyException | None = None

    def tick(self) -> bool:
        """One more line walked past (its own or another rank's); True when the walk must stop."""
        self.walked += 1
        if self.walked > 4 * MAX_TB_LINES:
            self.done = True
        return self.done

    def feed(self, text: str, line: int) -> None:
        if self.done:
            return
        self.count += 1
        if self.count > MAX_TB_LINES:
            self.done = True
            return
        m = _FRAME.match(text)
        if m:
            pkg = owner_of_path(m.group("path"))
            if len(self.frames) < MAX_FRAMES and (not self.frames or self.frames[-1] != pkg or len(self.frames) < 3):
                self.frames.append(pkg)
            return
        if not text.strip() or text[:1].isspace() or text.startswith(("Traceback (most recent call last)", "[Previous line repeated")):
            return
        m = _EXC.match(text.strip())
        if m and (self.frames or self.count <= 3):
            self.result = PyException(m.group("type"), (m.group("msg") or "").strip(), self.file, line, self.frames,
                                      self.chained, self.rank)
            self.done = True
        elif self.count > 6 and not self.frames:
            self.done = True  # not a traceback after all (a quoted header)


def is_chain_marker(text: str) -> bool:
    return bool(_CHAIN.match(text.strip()))
