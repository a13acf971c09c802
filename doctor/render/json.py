"""The machine-readable report: the stable contract, described by doctor/schema/report.schema.json."""

from __future__ import annotations

import json

from doctor.report import Report


def render(report: Report, *, verbose: bool = False) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False, default=str)
