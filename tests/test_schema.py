"""Every JSON output validates against the shipped schema; the shipped schema matches the code."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import jsonschema
import pytest

from doctor.commands.check import CheckOptions, run_check
from doctor.facts import Facts
from doctor.report import Report
from doctor.policy import Ignore, Policy, apply
from doctor.render import render
from doctor.schema import REPORT_SCHEMA, SNAPSHOT_SCHEMA, generate, load

from .conftest import FIXTURES, SNAPSHOTS

SNAPS = sorted(SNAPSHOTS.glob("*.json"))
LOGS = sorted((FIXTURES / "logs").glob("*.log"))


@pytest.fixture(scope="module")
def report_validator():
    schema = load("report")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


@pytest.fixture(scope="module")
def snapshot_validator():
    schema = load("snapshot")
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(schema)


def as_json(report: Report) -> dict:
    return json.loads(render(report, "json"))


def test_shipped_schemas_are_up_to_date():
    assert REPORT_SCHEMA.read_text() == generate.dumps(generate.report_schema()), "run: python -m doctor.schema.generate"
    assert SNAPSHOT_SCHEMA.read_text() == generate.dumps(generate.snapshot_schema()), "run: python -m doctor.schema.generate"


def test_schemas_are_inside_the_package_the_wheel_ships():
    import doctor

    pkg = Path(doctor.__file__).parent
    assert REPORT_SCHEMA.parent == pkg / "schema" and REPORT_SCHEMA.is_file() and SNAPSHOT_SCHEMA.is_file()


@pytest.mark.parametrize("path", SNAPS, ids=lambda p: p.stem)
def test_fixture_snapshots_and_their_check_reports_validate(path, report_validator, snapshot_validator):
    snapshot_validator.validate(json.loads(path.read_text()))
    snapshot_validator.validate(Facts.from_json(path.read_text()).to_dict())  # the round trip writes every field
    report_validator.validate(as_json(run_check(CheckOptions(snapshot=path))))
    report_validator.validate(as_json(run_check(CheckOptions(snapshot=path, quant="fp8", tp=2, max_seq_len=8192))))


def test_check_report_with_policy_extras_validates(report_validator):
    report = run_check(CheckOptions(snapshot=SNAPSHOTS / "cpu-container.json"))
    ignore_id = report.findings[0].id
    apply(report, Policy(path=Path("/p/trtllm-doctor.toml"), minimum={"driver": "999.0", "python": "9.0"},
                         ignore=[Ignore(ignore_id, "known"), Ignore("XYZ", "old", dt.date(2000, 1, 1))]), dt.date(2026, 1, 1))
    report.extra["policy"]["fail_on"] = "warning"
    data = as_json(report)
    assert data["extra"]["ignored"] and any(f["id"] == "POL001" for f in data["findings"])
    report_validator.validate(data)


def test_live_snapshot_validates(snapshot_validator, report_validator):
    from doctor.probes import collect

    facts = collect(timeout=5.0)
    snapshot_validator.validate(json.loads(facts.to_json()))


@pytest.mark.parametrize("path", LOGS[:4], ids=lambda p: p.stem)
def test_explain_reports_validate(path, report_validator):
    from doctor.commands.explain import run_explain

    report_validator.validate(as_json(run_explain([str(path)])))


def test_fleet_report_validates(report_validator, tmp_path):
    from doctor.commands.fleet import FleetOptions, run_fleet

    for i, path in enumerate(SNAPS):
        data = json.loads(path.read_text())
        data["platform"]["hostname"] = f"n{i}"
        (tmp_path / f"n{i}.json").write_text(json.dumps(data))
    (tmp_path / "broken.json").write_text("{")
    data = as_json(run_fleet(FleetOptions(reports=[str(tmp_path)], max_age="100000d", nodes="n[0-3],ghost")))
    assert data["extra"]["fleet"]["counts"]["missing"] == 1 and data["extra"]["fleet"]["counts"]["corrupt"] == 1
    report_validator.validate(data)


def test_schema_rejects_what_is_not_a_report(report_validator):
    good = as_json(run_check(CheckOptions(snapshot=SNAPS[0])))
    for breakage in (
        lambda d: d.pop("findings"),
        lambda d: d.__setitem__("schema_version", 99),
        lambda d: d["summary"].__setitem__("error", -1),
        lambda d: d["findings"].append({"id": "X", "severity": "fatal"}),
        lambda d: d["facts"]["gpus"].__setitem__("gpus", [{"index": "zero"}]),
    ):
        bad = json.loads(json.dumps(good))
        breakage(bad)
        assert list(report_validator.iter_errors(bad)), breakage
