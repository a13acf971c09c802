"""Shared fixtures: the repo's fixture folders, the KB, and the `gpu` marker's skip rule."""

from __future__ import annotations

from pathlib import Path

import pytest

from doctor.kb import KB

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"
SNAPSHOTS = FIXTURES / "snapshots"


def has_gpu() -> bool:
    try:
        import pynvml

        pynvml.nvmlInit()
        try:
            return pynvml.nvmlDeviceGetCount() > 0
        finally:
            pynvml.nvmlShutdown()
    except Exception:  # noqa: BLE001 - no driver, no library: no GPU
        return False


def pytest_collection_modifyitems(config, items):
    if has_gpu():
        return
    skip = pytest.mark.skip(reason="needs an NVIDIA GPU (none visible)")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def kb() -> KB:
    return KB()


@pytest.fixture
def snapshot_path():
    def get(name: str) -> Path:
        return SNAPSHOTS / f"{name}.json"

    return get


def explain_bytes(data: bytes, kb_: KB | None = None, block: int | None = None, name: str = "log"):
    """Explain in-memory bytes as a log file would be explained (the whole engine, no CLI)."""
    import io

    from doctor.explain.graph import build_report
    from doctor.explain.run import new_scanner

    k = kb_ or KB()
    scanner = new_scanner(k)
    if block:
        scanner.block = block
    scanner.scan_stream(name, io.BytesIO(data))
    return build_report(scanner, k)


def load_index(folder: Path) -> list[dict]:
    from doctor.kb import tomllib

    return tomllib.loads((folder / "INDEX.toml").read_text(encoding="utf-8"))["log"]


def first_cause(report) -> str:
    """The category of the first error (else first warning) of an explain report: what a user reads first."""
    from doctor.report import Severity

    for sev in (Severity.ERROR, Severity.WARNING):
        for f in report.findings:
            if f.severity == sev:
                return f.category
    return "none"
