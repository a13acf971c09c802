"""tools/refresh_kb.py on the saved PyPI PKG-INFO files (offline): extracted pins, empty diffs, --write."""

from __future__ import annotations

import importlib.util
import re
import sys
from pathlib import Path

import pytest

from doctor.kb import KB

ROOT = Path(__file__).resolve().parent.parent
PKG_INFO = ROOT / "fixtures" / "kb" / "pkg-info"
RELEASES = ROOT / "rules" / "releases.toml"

_spec = importlib.util.spec_from_file_location("refresh_kb", ROOT / "tools" / "refresh_kb.py")
refresh_kb = importlib.util.module_from_spec(_spec)
sys.modules["refresh_kb"] = refresh_kb
_spec.loader.exec_module(refresh_kb)


def meta(version: str):
    return refresh_kb.parse_pkg_info((PKG_INFO / f"{version}.PKG-INFO").read_text(encoding="utf-8"))


def test_pins_of_1_2_1():
    m = meta("1.2.1")
    assert m.version == "1.2.1" and not m.windows and not m.stub_only
    assert m.python == ["3.10", "3.12"]
    assert m.tensorrt_spec == "~=10.14.1" and m.tensorrt == "10.14.1"
    assert m.torch_spec == ">=2.9.1,<=2.10.0a0"
    assert m.cuda_major == 13  # cuda-python>=13, nvidia-nccl-cu13
    assert m.cuda_badge == "13.1.0" and m.torch_badge == "2.9.1"


def test_pins_of_1_3_0rc29_and_the_lagging_torch_badge():
    m = meta("1.3.0rc29")
    assert m.torch_spec == ">=2.14.0a0,<=2.14.0"
    assert m.tensorrt_spec == "" and m.tensorrt == ""  # the wheel pins no TensorRT
    assert m.cuda_major == 13 and m.cuda_badge == "13.2.1"
    assert m.torch_badge == "2.12.0"
    notes = " ".join(refresh_kb.badge_notes(m))
    assert "torch-2.12.0 does not satisfy" in notes


def test_pins_of_1_4_0rc1():
    m = meta("1.4.0rc1")
    assert m.python == ["3.10", "3.12"]
    assert m.torch_spec == ">=2.14.0a0,<=2.14.0" and m.torch_badge == "2.14.0"
    assert m.cuda_badge == "13.4.1" and m.cuda_major == 13
    assert refresh_kb.spec_contains(m.torch_spec, m.torch_badge)


def test_cuda_major_12_and_old_spec_forms():
    assert meta("1.0.0").cuda_major == 12  # cuda-python<13,>=12
    assert meta("0.18.0").cuda_major == 12  # nvidia-nccl-cu12, bare cuda-python
    m = meta("0.10.0")
    assert m.torch_spec == ">=2.2.0a,<=2.3.0a" and m.tensorrt_spec == "==10.0.1" and m.cuda_major is None


def test_windows_and_stub_only_metadata_propose_only_classifiers():
    for v in ("0.9.0", "0.14.0", "0.16.0"):
        m = meta(v)
        assert m.windows, v
        assert set(refresh_kb.proposed_fields(m)) == {"python"}, v
    for v in ("0.11.0", "0.17.0"):
        m = meta(v)
        assert not m.requirements and set(refresh_kb.proposed_fields(m)) == {"python"}, v


@pytest.mark.parametrize("path", sorted(PKG_INFO.glob("*.PKG-INFO")), ids=lambda p: p.name.split(".PKG")[0])
def test_known_release_diff_is_empty(path):
    m = refresh_kb.parse_pkg_info(path.read_text(encoding="utf-8"))
    known = {r["version"]: r for r in refresh_kb.load_releases(RELEASES)}
    assert m.version in known, f"{m.version} has a saved PKG-INFO but no release entry"
    d = refresh_kb.diff_existing(known[m.version], m)
    assert d.empty, refresh_kb.render(d)


def test_cli_prints_no_changes_for_a_known_release(capsys):
    rc = refresh_kb.main(["1.2.1", "--pkg-info", str(PKG_INFO / "1.2.1.PKG-INFO")])
    assert rc == 0
    assert "# 1.2.1: no changes" in capsys.readouterr().out


def test_cli_shows_a_changed_pin_as_toml(tmp_path, capsys):
    text = RELEASES.read_text(encoding="utf-8")
    block = re.search(r'\[\[release\]\]\nversion = "1\.2\.0"\n.*?(?=\n\[\[release\]\])', text, re.S).group(0)
    stale = text.replace(block, block.replace('torch_spec = ">=2.9.1,<=2.10.0a0"', 'torch_spec = ""'))
    assert stale != text
    (tmp_path / "releases.toml").write_text(stale, encoding="utf-8")
    rc = refresh_kb.main(["1.2.0", "--pkg-info", str(PKG_INFO / "1.2.0.PKG-INFO"), "--releases", str(tmp_path / "releases.toml")])
    out = capsys.readouterr().out
    assert rc == 1
    assert 'torch_spec = ">=2.9.1,<=2.10.0a0"  # was ""' in out


def test_write_adds_a_new_release_the_loader_accepts(tmp_path, capsys):
    text = RELEASES.read_text(encoding="utf-8")
    without = re.sub(r'\n\[\[release\]\]\nversion = "1\.4\.0rc1"\n.*?(?=\n\[\[release\]\]|\Z)', "", text, flags=re.S)
    assert 'version = "1.4.0rc1"' not in without
    rules = tmp_path / "rules"
    rules.mkdir()
    (rules / "releases.toml").write_text(without, encoding="utf-8")
    rc = refresh_kb.main(["1.4.0rc1", "--pkg-info", str(PKG_INFO / "1.4.0rc1.PKG-INFO"),
                          "--releases", str(rules / "releases.toml"), "--write"])
    assert rc == 1 and "new release" in capsys.readouterr().out
    rel = KB(rules).release("1.4.0rc1")
    assert rel is not None and rel.prerelease
    assert rel.cuda == "13.4.1" and rel.cuda_major == 13 and rel.min_driver == "615.61"  # cuda.toml 13.4 Update 1
    assert rel.torch_spec == ">=2.14.0a0,<=2.14.0" and rel.tensorrt_spec == ""
    assert rel.sm == KB(rules).release("1.4.0rc0").sm  # carried over from the newest older release
    assert any("torch==2.14.0" in line for line in rel.install)
    # A second run finds nothing left to add.
    assert refresh_kb.main(["1.4.0rc1", "--pkg-info", str(PKG_INFO / "1.4.0rc1.PKG-INFO"),
                            "--releases", str(rules / "releases.toml")]) == 0


def test_version_and_specifier_helpers():
    V = refresh_kb.Ver.parse
    assert V("1.3.0rc29") < V("1.4.0rc0") < V("1.4.0rc1") < V("1.4.0")
    assert V("2.14.0a0") < V("2.14.0") and V("0.17.0.post1") > V("0.17.0")
    assert refresh_kb.spec_contains("~=10.14.1", "10.14.1.48") and not refresh_kb.spec_contains("~=10.14.1", "10.15.0")
    assert not refresh_kb.spec_contains(">=2.13.0,<=2.14.0a0", "2.12.0")
    assert refresh_kb.format_spec("torch<=2.10.0a0,>=2.9.1".removeprefix("torch")) == ">=2.9.1,<=2.10.0a0"
    assert refresh_kb.new_versions(["1.2.1", "1.4.0rc1", "1.4.0rc2", "1.4.0.dev2026", "1.4.0rc1.post1"],
                                   ["1.2.1", "1.4.0rc1"]) == ["1.4.0rc2"]
