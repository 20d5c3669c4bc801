"""Type constraints, conversion and unification (engine.config.types)."""

from __future__ import annotations

import os
import sys
from decimal import Decimal

import pytest

from engine.config.format import format_value
from engine.config.types import (
    BOOL, DYNAMIC, NUMBER, STRING, ConversionError, List, Map, Object, Set, Tuple, TypeSyntaxError,
    convert, format_number, friendly_name, parse_type_string, to_bool, to_number, to_string, type_of, unify,
)
from engine.values import UNKNOWN, Sensitive, TList, TMap, TSet, Unknown

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
import tfconsole  # noqa: E402


# --------------------------------------------------------------------------- parsing type strings


@pytest.mark.parametrize("text, want", [
    ("string", STRING), ("number", NUMBER), ("bool", BOOL), ("any", DYNAMIC),
    ("list(string)", List(STRING)), ("set(number)", Set(NUMBER)), ("map(any)", Map(DYNAMIC)),
    ("list(map(string))", List(Map(STRING))),
    ("tuple([string, number])", Tuple([STRING, NUMBER])),
    ("object({a = string, b = list(number)})", Object({"a": STRING, "b": List(NUMBER)})),
])
def test_parse_type_string(text, want):
    assert parse_type_string(text) == want


def test_parse_optional_attributes_with_defaults():
    t = parse_type_string('object({a = string, b = optional(number, 5), c = optional(list(string), ["x"])})')
    assert t.optional == {"b", "c"}
    assert t.defaults["b"] == 5
    assert t.defaults["c"] == TList(["x"])
    assert str(t) == "object({a=string,b=optional(number),c=optional(list(string))})"


@pytest.mark.parametrize("text", [
    "strin", "list", "list(string", "optional(string)", "object({a = })", "string(1)", "map(string) x",
    'object({a = optional(number, "x")})',
])
def test_parse_type_string_errors(text):
    with pytest.raises(TypeSyntaxError):
        parse_type_string(text)


def test_type_str_and_friendly_name():
    assert str(List(Map(STRING))) == "list(map(string))"
    assert friendly_name(List(STRING)) == "list of string"
    assert friendly_name(Map(DYNAMIC)) == "map of any single type"
    assert friendly_name(Object({})) == "object"
    assert hash(Object({"a": STRING})) == hash(Object({"a": STRING}))


# --------------------------------------------------------------------------- conversion


def test_primitive_conversions():
    assert convert(5, STRING) == "5"
    assert convert(Decimal("1.50"), STRING) == "1.5"
    assert convert(True, STRING) == "true"
    assert convert("12", NUMBER) == 12
    assert convert("0.25", NUMBER) == Decimal("0.25")
    assert convert("false", BOOL) is False
    assert convert(1.5, NUMBER) == Decimal("1.5")


@pytest.mark.parametrize("value, t, msg", [
    ("abc", NUMBER, "a number is required"),
    ("yes", BOOL, "a bool is required"),
    ([1], STRING, "string required"),
    (True, NUMBER, "number required"),
    (1, BOOL, "bool required"),
    ({"b": 1}, Object({"a": STRING}), 'attribute "a" is required'),
    ([1, [2]], List(DYNAMIC), "all list elements must have the same type"),
    ("x", List(STRING), "list of string required"),
    ([1, 2], Tuple([NUMBER]), "tuple required"),
])
def test_conversion_errors(value, t, msg):
    with pytest.raises(ConversionError) as e:
        convert(value, t)
    assert e.value.message == msg


def test_conversion_error_paths():
    with pytest.raises(ConversionError) as e:
        convert(["a", [1]], List(STRING))
    assert str(e.value) == "element 1: string required"
    with pytest.raises(ConversionError) as e:
        convert({"a": {"b": [1]}}, Object({"a": Object({"b": NUMBER})}))
    assert str(e.value) == 'attribute "a": attribute "b": number required'


def test_collections_convert_to_typed_values():
    v = convert([1, "a"], List(DYNAMIC))
    assert isinstance(v, TList) and v == ["1", "a"] and v.elem_type == STRING
    s = convert(["b", "a", "b", "10", "9"], Set(STRING))
    assert isinstance(s, TSet) and s == ["10", "9", "a", "b"]
    n = convert([10, 9, 100, 9], Set(NUMBER))
    assert n == [9, 10, 100]
    m = convert({"a": 1, "b": True}, Map(STRING))
    assert isinstance(m, TMap) and m == {"a": "1", "b": "true"}
    assert convert(TSet(["x"]), List(STRING)) == ["x"]
    assert convert(TMap({"a": 1}), Object({"a": NUMBER})) == {"a": 1}


def test_object_optional_defaults_and_extra_attributes():
    t = parse_type_string('object({a = string, b = optional(number, 5), c = optional(bool)})')
    assert convert({"a": 1, "zzz": 2}, t) == {"a": "1", "b": 5, "c": None}
    assert convert({"a": "x", "b": None}, t)["b"] == 5


def test_null_unknown_and_sensitive():
    assert convert(None, List(STRING)) is None
    u = convert(UNKNOWN, List(STRING))
    assert isinstance(u, Unknown) and u.type == List(STRING)
    s = convert(Sensitive(5), STRING)
    assert isinstance(s, Sensitive) and s.value == "5"
    # unknown nested inside a collection stays where it was
    v = convert([UNKNOWN, "a"], List(STRING))
    assert isinstance(v[0], Unknown)


def test_type_of_and_unify():
    assert type_of([1, "a"]) == Tuple([NUMBER, STRING])
    assert type_of({"a": 1}) == Object({"a": NUMBER})
    assert type_of(TList([1])) == List(NUMBER)
    assert type_of(Sensitive(True)) == BOOL
    assert unify([NUMBER, STRING]) == STRING
    assert unify([NUMBER, BOOL]) is None
    assert unify([Object({"a": NUMBER}), Object({"b": NUMBER})]) == Map(NUMBER)
    assert unify([Tuple([NUMBER]), Tuple([NUMBER, NUMBER])]) == List(NUMBER)
    assert unify([DYNAMIC, NUMBER]) == NUMBER


def test_scalar_helpers():
    assert to_number("1.5") == Decimal("1.5")
    assert to_string(Decimal("10.0")) == "10"
    assert to_bool("true") is True
    with pytest.raises(ConversionError):
        to_number("1.5x")
    with pytest.raises(ConversionError):
        to_bool(1)
    assert format_number(Decimal("1E+20")) == "100000000000000000000"
    assert format_number(10 ** 30) == "1" + "0" * 30
    assert format_number(0.1) == "0.1"


# --------------------------------------------------------------------------- against terraform

# (type constraint, default value as HCL, the same default as a Python value)
CASES = [
    ("list(string)", '[1, "a", true]', [1, "a", True]),
    ("set(string)", '["b", "a", "b", "10"]', ["b", "a", "b", "10"]),
    ("set(number)", "[10, 9, 100, 9]", [10, 9, 100, 9]),
    ("map(number)", '{a = "1", b = 2}', {"a": "1", "b": 2}),
    ("list(any)", '[1, "a"]', [1, "a"]),
    ("map(any)", '{a = 1, b = "x"}', {"a": 1, "b": "x"}),
    ("object({a = string, b = optional(number, 5)})", "{a = 1}", {"a": 1}),
    ("object({a = string, b = optional(list(string))})", '{a = "x", c = 1}', {"a": "x", "c": 1}),
    ("tuple([string, number])", '["a", "2"]', ["a", "2"]),
    ("number", '"12.50"', "12.50"),
    ("bool", '"true"', "true"),
    ("string", "true", True),
    ("list(object({n = number}))", '[{n = "3"}]', [{"n": "3"}]),
    ("any", "[1, {a = 2}]", [1, {"a": 2}]),
    # failures
    ("number", '"abc"', "abc"),
    ("list(string)", '["a", [1]]', ["a", [1]]),
    ("object({a = string})", "{b = 1}", {"b": 1}),
    ("list(any)", '[1, [2]]', [1, [2]]),
    ("bool", "1", 1),
    ("tuple([string])", '["a", "b"]', ["a", "b"]),
]


@pytest.mark.terraform
@pytest.mark.parametrize("type_text, hcl, value", CASES)
def test_conversion_matches_terraform_variables(type_text, hcl, value):
    if not tfconsole.available():
        pytest.skip("terraform binary not available")
    files = {"main.tf": f'variable "v" {{\n  type = {type_text}\n  default = {hcl}\n}}\n'}
    [(ok, text)] = tfconsole.terraform_console(["var.v"], files)
    try:
        got = format_value(convert(value, parse_type_string(type_text)))
        got_ok = True
    except ConversionError as e:
        got_ok, got = False, str(e)
    assert got_ok == ok, f"terraform: {text}\ntrainform: {got}"
    if ok:
        assert got == tfconsole.untype_nulls(text)
    else:
        assert got in text.replace("\n", " ")


def test_cty_json_type_is_terraforms_json_form():
    from engine.config.types import BOOL, DYNAMIC, NUMBER, STRING, List, Map, Object, Set, Tuple, cty_json_type

    assert cty_json_type(STRING) == "string" and cty_json_type(DYNAMIC) == "dynamic"
    assert cty_json_type(List(STRING)) == ["list", "string"] and cty_json_type(Set(NUMBER)) == ["set", "number"]
    assert cty_json_type(Map(BOOL)) == ["map", "bool"]
    assert cty_json_type(Object({"a": Tuple([STRING, NUMBER])})) == ["object", {"a": ["tuple", ["string", "number"]]}]
