"""What every tier process shares: the one-line result protocol and the error types.

A tier module's ``main()`` calls :func:`run` with a function returning a :class:`Pass`
(or raising :class:`Skip` / :class:`Fail`). ``run`` prints exactly one result line,
``MARKER`` followed by JSON, on stdout and exits 0: the tier ran to its end and said
how it went. Anything else (a signal, an exit code, no line, a hang) is the runner's
to judge from the outside.
"""

from __future__ import annotations

import json
import os
import sys
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from doctor.selftest.diagnose import cause_for_cuda_error, classify_text

MARKER = "@@trtllm-doctor-selftest@@ "


@dataclass
class Warn:
    """A problem found by a tier that otherwise passed (slow links, pending row remaps)."""

    cause: str
    title: str
    evidence: str
    expected: str = ""
    params: dict[str, Any] = field(default_factory=dict)


@dataclass
class Pass:
    figure: str  # the measured figure, one short line: "H2D 52.3 GB/s, D2H 49.8 GB/s"
    metrics: dict[str, Any] = field(default_factory=dict)
    warnings: list[Warn] = field(default_factory=list)


class Skip(Exception):
    def __init__(self, reason: str, cause: str | None = None, params: dict[str, Any] | None = None, metrics: dict[str, Any] | None = None):
        super().__init__(reason)
        self.reason, self.cause, self.params, self.metrics = reason, cause, params or {}, metrics or {}


class Fail(Exception):
    def __init__(self, cause: str, evidence: str, expected: str = "", params: dict[str, Any] | None = None,
                 metrics: dict[str, Any] | None = None, reason: str | None = None):
        super().__init__(evidence)
        self.cause, self.evidence, self.expected = cause, evidence, expected
        self.params, self.metrics, self.reason = params or {}, metrics or {}, reason or evidence


class CudaError(Exception):
    """A CUDA driver / NVRTC call returned an error."""

    def __init__(self, call: str, code: int, name: str, text: str = ""):
        super().__init__(f"{call} failed: {name} ({code}){': ' + text if text else ''}")
        self.call, self.code, self.name, self.text = call, code, name, text


def _emit(result: dict[str, Any]) -> None:
    sys.stdout.write(MARKER + json.dumps(result, default=str) + "\n")
    sys.stdout.flush()


def run(tier: str, body: Callable[[], Pass], *, expected: str = "") -> None:
    """Run a tier body and print its one result line; never raises."""
    start = time.perf_counter()
    out: dict[str, Any] = {"tier": tier}
    try:
        res = body()
        out.update(status="pass", figure=res.figure, metrics=res.metrics,
                   warnings=[w.__dict__ for w in res.warnings])
    except Skip as s:
        out.update(status="skip", reason=s.reason, cause=s.cause, params=s.params, metrics=s.metrics)
    except Fail as f:
        out.update(status="fail", reason=f.reason, cause=f.cause, evidence=f.evidence, expected=f.expected or expected,
                   params=f.params, metrics=f.metrics)
    except CudaError as e:
        params: dict[str, Any] = {"cuda_error": e.name}
        if os.environ.get("CUDA_VISIBLE_DEVICES") is not None:
            params["cuda_visible_devices"] = os.environ["CUDA_VISIBLE_DEVICES"]
        out.update(status="fail", reason=str(e), cause=cause_for_cuda_error(e.name), evidence=str(e), expected=expected,
                   params=params)
    except KeyboardInterrupt:
        raise
    except BaseException as exc:  # noqa: BLE001 - a tier reports, it does not crash with a traceback
        text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        sys.stderr.write(text)
        hit = classify_text(f"{type(exc).__name__}: {exc}\n{text}")
        cause, params = (hit[0], hit[1]) if hit else ("unknown-failure", {})
        out.update(status="fail", reason=f"{type(exc).__name__}: {exc}", cause=cause,
                   evidence=f"{type(exc).__name__}: {exc}", expected=expected, params=params)
    out["elapsed_s"] = round(time.perf_counter() - start, 3)
    _emit(out)


def env_int(name: str, default: int) -> int:
    try:
        return int(os.environ.get(name, default))
    except ValueError:
        return default
