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
