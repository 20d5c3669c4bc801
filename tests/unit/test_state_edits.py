"""engine.state_edits: state rm / state mv as operations on a State (no CLI)."""

from __future__ import annotations

import pytest

from engine.operations import OperationError
from engine.state import ResourceInstance, State
from engine.state_edits import matches, move_instances, remove_instances


def _state(*addresses):
    st = State.new()
    for a in addresses:
        name = a.split("value.", 1)[1].split("[", 1)[0]
        module = a.split(".value.", 1)[0] if ".value." in a else ""
        st.set_instance(ResourceInstance(address=a, type="value", name=name, module=module, attributes={"id": a}))
    return st


def test_matches_instances_module_contents_and_globs():
    assert matches('value.a["k"]', "value.a") and matches("module.m.value.b", "module.m")
    assert matches("value.abc", "value.a*") and not matches("value.ab", "value.a")


def test_remove_and_dry_run():
    st = _state("value.a[0]", "value.a[1]", "value.b")
    assert remove_instances(st, ["value.a"], dry_run=True) == ["value.a[0]", "value.a[1]"]
    assert sorted(st.resources) == ["value.a[0]", "value.a[1]", "value.b"]
    assert remove_instances(st, ["value.a"]) == ["value.a[0]", "value.a[1]"]
    assert list(st.resources) == ["value.b"]
    with pytest.raises(OperationError) as e:
        remove_instances(st, ["value.zz"])
    assert e.value.diagnostics[0].summary == "Invalid target address"


def test_move_resource_and_refusals():
    st = _state("value.a", "value.c")
    assert [tuple(m) for m in move_instances(st, "value.a", "value.b")] == [("value.a", "value.b")]
    assert sorted(st.resources) == ["value.b", "value.c"] and st.resources["value.b"].attributes == {"id": "value.a"}
    for src, dst, summary in [("value.b", "value.c", "Invalid state move request"),  # destination taken
                              ("value.nope", "value.d", "Invalid source address"),
                              ("value.b", "module.m", "Invalid state move request"),
                              ("value..b", "value.d", "Invalid address")]:
        with pytest.raises(OperationError) as e:
            move_instances(st, src, dst)
        assert e.value.diagnostics[0].summary == summary, (src, dst)
    assert sorted(st.resources) == ["value.b", "value.c"]  # a refused move changes nothing
