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
