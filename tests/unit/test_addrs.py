"""Typed addresses: parse and print round-trip, module paths, target containment."""

import pytest

from engine.addrs import AddressError, Instance, Resource, module_prefix, module_string, parse_instance, parse_module


@pytest.mark.parametrize("text", [
    "value.a", "value.a[0]", 'value.a["k"]', "module.m.run.train", 'module.m.module.n.value.x["a b"]',
    'value.a["q\\"uote"]', "compute.gpu-cluster",
])
def test_instance_round_trip(text):
    assert str(parse_instance(text)) == text


def test_parts():
    i = parse_instance('module.m.module.n.value.x["k"]')
    assert i.resource == Resource(("m", "n"), "value", "x") and i.key == "k"
    assert i.resource.key == "value.x"
    assert parse_instance("value.x[3]").key == 3
    assert module_prefix(("m", "n")) == "module.m.module.n." and module_string(("m", "n")) == "module.m.module.n"
    assert parse_module("module.m.module.n") == ("m", "n") and parse_module("") == ()


@pytest.mark.parametrize("bad", ["value", "value.", "value.a.b.c", "[0]", "module.m", "value.a[", "module.value.a"])
def test_invalid(bad):
    with pytest.raises(AddressError):
        parse_instance(bad)


def test_containment():
    i = Instance(Resource(("m",), "value", "x"), 2)
    assert i.contained_in("module.m") and i.contained_in("module.m.value.x") and i.contained_in("module.m.value.x[2]")
    assert not i.contained_in("module.m.value.xy") and not i.contained_in("value.x")


@pytest.mark.parametrize("text", [
    'module.m["k"].value.x', "module.m[0].run.train", 'module.m["a.b"].module.n[2].value.x["k"]',
    'module.m["q\\"uote"].value.x',
])
def test_module_instance_keys_round_trip(text):
    assert str(parse_instance(text)) == text


def test_module_instance_parts():
    from engine.addrs import module_step, split_step, static_path, strip_module_keys

    i = parse_instance('module.m["a.b"].module.n[2].value.x["k"]')
    assert i.resource.module == ('m["a.b"]', "n[2]") and i.key == "k"
    assert module_string(i.resource.module) == 'module.m["a.b"].module.n[2]'
    assert parse_module('module.m["a.b"].module.n[2]') == ('m["a.b"]', "n[2]")
    assert static_path(i.resource.module) == ("m", "n")
    assert split_step('m["a.b"]') == ("m", "a.b") and split_step("n[2]") == ("n", 2) and split_step("n") == ("n", None)
    assert module_step("m", "k") == 'm["k"]' and module_step("m", 0) == "m[0]" and module_step("m") == "m"
    assert strip_module_keys('module.m["k"].value.x[0]') == "module.m.value.x[0]"
    # a path without keys is its own static path (configurations without module expansion)
    assert static_path(("a", "b")) == ("a", "b")


@pytest.mark.parametrize("bad", ['module.m["k"]', 'module["k"].value.x', "module.m[0]value.x", 'value.x["k"].y'])
def test_invalid_module_instances(bad):
    with pytest.raises(AddressError):
        parse_instance(bad)


def test_plan_and_show_orders_are_terraforms():
    """Checked against terraform 1.11.4 (plan text, state list, show) with the same
    addresses: plan/state list go root first, then by module depth, keys by number;
    show goes by module address text. String order put modules before the root and
    value.a[10] before value.a[2]."""
    from engine.addrs import instance_sort_key, show_sort_key

    plan_order = [
        "value.a[0]", "value.a[2]", "value.a[10]", 'value.k["10"]', 'value.k["9"]', 'value.k["B"]', 'value.k["a"]',
        "value.z", "value.z (deposed)", "module.a[0].value.r", "module.a[2].value.r", "module.a[10].value.r", "module.aa.value.r",
        'module.b["x"].value.r', "module.a[0].module.inner.value.q", "module.a[10].module.inner.value.q",
    ]
    assert sorted(reversed(plan_order), key=instance_sort_key) == plan_order
    show_order = [
        "value.a[2]", "value.a[10]", "value.z", "module.a[0].value.r", "module.a[0].module.inner.value.q",
        "module.a[10].value.r", "module.a[10].module.inner.value.q", "module.a[2].value.r", "module.aa.value.r",
    ]
    assert sorted(reversed(show_order), key=show_sort_key) == show_order
