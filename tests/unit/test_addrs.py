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
