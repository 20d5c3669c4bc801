"""Format upgrades: version 0 documents load as version 1 (golden files)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from engine.state import State, StateError
from engine.state.errors import StateCorruptError
from engine.state.secrets import matches
from engine.state.upgrade import upgrade

CASES = Path(__file__).resolve().parent.parent / "cases" / "state"
V0_FILES = sorted(p for p in CASES.glob("v0_*.json") if not p.name.endswith(".expected.json"))


@pytest.mark.parametrize("src", V0_FILES, ids=lambda p: p.stem)
def test_v0_upgrade_matches_golden(src):
    """Set UPDATE_GOLDEN=1 to rewrite the expected files after an intended change."""
    got = State.from_json(json.loads(src.read_text())).to_json()
    expected_path = src.with_name(src.stem + ".expected.json")
    if os.environ.get("UPDATE_GOLDEN"):
        expected_path.write_text(json.dumps(got, indent=2) + "\n")
    assert got == json.loads(expected_path.read_text())
    assert got["format_version"] == 1
    # an upgraded document is current: loading it again changes nothing
    assert State.from_json(got).to_json() == got


def test_v0_secrets_become_digests():
    st = State.from_json(json.loads((CASES / "v0_basic.json").read_text()))
    text = json.dumps(st.to_json())
    assert "hunter2" not in text and "tok-xyz" not in text
    ws = st.resources["workspace.ml"]
    assert ws.sensitive_paths == [["registry", 0, "password"]]
    assert matches(ws.attributes["registry"][0]["password"], "hunter2")
    assert matches(st.outputs["registry_password"]["value"], "hunter2")
    assert st.resources['module.train.value.cfg["b"]'].status == "tainted"
    assert st.resources["run.pets[0]"].index_key == 0
    assert list(st.resources) == sorted(st.resources)


def test_newer_format_is_refused():
    with pytest.raises(StateError, match="format version 2, newer"):
        upgrade({"format_version": 2, "serial": 1, "lineage": "x"})


@pytest.mark.parametrize("doc, msg", [
    ([], "JSON object"),
    ({"serial": 1}, "format_version"),
    ({"format_version": "1"}, "invalid format_version"),
    ({"format_version": 1, "serial": -1, "lineage": "l"}, "serial"),
    ({"format_version": 1, "serial": 1, "lineage": ""}, "lineage"),
    ({"format_version": 1, "serial": 1, "lineage": "l", "resources": [{"address": "a"}]}, "type"),
    ({"format_version": 1, "serial": 1, "lineage": "l", "resources": [
        {"address": "value.a", "type": "value", "name": "a"}, {"address": "value.a", "type": "value", "name": "a"}]},
     "twice"),
    ({"format_version": 1, "serial": 1, "lineage": "l", "resources": [
        {"address": "value.a", "type": "value", "name": "a", "status": "weird"}]}, "status"),
])
def test_invalid_documents_are_corrupt(doc, msg):
    with pytest.raises(StateCorruptError, match=msg):
        State.from_json(doc)
