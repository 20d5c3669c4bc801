"""Moves applied to a state (engine.plan.refactor), without the CLI: chains,
modules, instance keys, conflicts, deposed objects, and the address forms
`trainform state mv` accepts."""

from __future__ import annotations

import pytest

from engine.addrs import AddressError
from engine.config.refactoring import NO_KEY, Endpoint, Moved, endpoint_from_text
from engine.plan.refactor import move_state
from engine.state.model import ResourceInstance, State


def state(*addresses: str, deposed: tuple = ()) -> State:
    from engine.addrs import module_string, parse_instance

    st = State.new()
    for a in addresses + deposed:
        i = parse_instance(a)
        addr = a + (" (deposed)" if a in deposed else "")
        st.resources[addr] = ResourceInstance(address=addr, type=i.resource.type, name=i.resource.name,
                                              module=module_string(i.resource.module), index_key=i.key,
                                              attributes={"id": a}, status="deposed" if a in deposed else "ready")
    return st


def mv(src: str, dst: str) -> Moved:
    return Moved(endpoint_from_text(src), endpoint_from_text(dst), None)


def ids(st: State) -> dict:
    return {a: i.attributes["id"] for a, i in st.resources.items()}


def test_endpoint_forms():
    assert endpoint_from_text("module.a.module.b") == Endpoint(("a", "b"))
    assert endpoint_from_text("value.x").key is NO_KEY
    assert endpoint_from_text("value.x[0]").key == 0
    e = endpoint_from_text('module.m.value.x["k"]')
    assert (e.module, e.type, e.name, e.key, str(e)) == (("m",), "value", "x", "k", 'module.m.value.x["k"]')
    for bad in ("", "value", "module.a.value", "value.x.y.z"):
        with pytest.raises(AddressError):
            endpoint_from_text(bad)


def test_chain_is_followed_whatever_the_statement_order():
    st = state("value.a")
    moved, problems = move_state(st, [mv("value.b", "value.c"), mv("value.a", "value.b")])
    assert moved == [["value.a", "value.c"]] and not problems
    assert ids(st) == {"value.c": "value.a"}


def test_whole_resource_keeps_keys_and_instance_moves_change_them():
    st = state("value.k[0]", "value.k[1]", "value.one")
    move_state(st, [mv("value.k", "value.j"), mv("value.one", 'value.many["first"]')])
    assert ids(st) == {"value.j[0]": "value.k[0]", "value.j[1]": "value.k[1]", 'value.many["first"]': "value.one"}
    assert st.resources["value.j[1]"].name == "j" and st.resources['value.many["first"]'].index_key == "first"


def test_module_moves_carry_nested_modules_and_deposed_objects():
    st = state("module.old.value.x", "module.old.module.inner.value.y", "module.other.value.z", deposed=("module.old.value.d",))
    moved, _ = move_state(st, [mv("module.old", "module.new")])
    assert sorted(b for _, b in moved) == ["module.new.module.inner.value.y", "module.new.value.d (deposed)", "module.new.value.x"]
    assert st.resources["module.new.module.inner.value.y"].module == "module.new.module.inner"
    assert st.resources["module.new.value.d (deposed)"].status == "deposed"
    assert "module.other.value.z" in st.resources


def test_destination_taken_leaves_the_object_and_says_so():
    st = state("value.a", "value.b")
    moved, problems = move_state(st, [mv("value.a", "value.b")])
    assert moved == [] and problems == ["value.a could not move to value.b"]
    assert ids(st) == {"value.a": "value.a", "value.b": "value.b"}


def test_two_objects_onto_one_address_move_only_the_first():
    st = state("value.a", "value.b")
    moved, problems = move_state(st, [mv("value.a", "value.c"), mv("value.b", "value.c")])
    assert moved == [["value.a", "value.c"]] and problems == ["value.b could not move to value.c"]
