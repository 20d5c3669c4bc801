"""Evaluator: Terraform semantics, unknown/sensitive propagation, diagnostics with ranges."""

from __future__ import annotations

from decimal import Decimal

import pytest

from engine.config.expr import EvalContext, evaluate
from engine.config.parser import parse_expression
from engine.values import UNKNOWN, Sensitive, TList, TMap, TSet, Unknown


def ctx(**variables):
    return EvalContext(variables)


DEFAULT_VARS = {
    "var": {"m": {"b": 1, "a": 2}, "l": [{"id": "x", "n": 1}, {"id": "y", "n": 2}], "s": "str", "n": None,
            "set": TSet(["a", "b"]), "tl": TList([1, 2]), "tm": TMap({"k": "v"})},
    "local": {"zero": 0},
}


def ev(text, variables=None, **kw):
    expr, d = parse_expression(text)
    assert not d, d
    c = EvalContext(DEFAULT_VARS if variables is None else variables, base_dir=kw.get("base_dir", "."))
    return evaluate(expr, c)


def val(text, variables=None):
    v, d = ev(text, variables)
    assert not d, [(x.summary, x.detail) for x in d]
    return v


def err(text, variables=None):
    v, d = ev(text, variables)
    assert d, f"expected an error for {text!r}, got {v!r}"
    assert v is UNKNOWN
    return d[0]


@pytest.mark.parametrize("text,expected", [
    ("1 + 2 * 3", 7), ("(1 + 2) * 3", 9), ("10 - 2 - 3", 5), ("2 * 3 % 4", 2), ("-7 % 3", -1), ("7 % -3", 1),
    ("5.5 % 2", Decimal("1.5")), ("0.1 + 0.2", Decimal("0.3")), ("10 / 4", Decimal("2.5")), ("9 / 3", 3),
    ("2 / 3 * 3", 2), ("5 % 0", 5), ("1e3", 1000), ("\"1\" + 1", 2), ("-(1 + 2)", -3),
    ("1 < 2", True), ("\"10\" > \"9\"", True), ("2 >= 3", False),
    ("true && false || true", True), ("\"true\" && true", True), ("!true", False),
    ("1 == 1.0", True), ("1 == \"1\"", False), ("[1, 2] == [1, 2]", True), ("{a = 1} != {a = 2}", True),
    ("null == null", True), ("1 == null", False), ("var.tl == [1, 2]", False),
])
def test_operators(text, expected):
    assert val(text) == expected


def test_number_types_are_normalised():
    assert type(val("1.0")) is int and type(val("4 / 2")) is int
    assert val("1 / 0") == Decimal("Infinity") and val("-1 / 0") == Decimal("-Infinity")
    assert err("0 / 0").summary == "Operation failed"


@pytest.mark.parametrize("text,summary,detail_part,col", [
    ("\"a\" + 1", "Invalid operand", "left operand: a number is required", 1),
    ("1 + \"a\"", "Invalid operand", "right operand: a number is required", 5),
    ("true && 1", "Invalid operand", "right operand: bool required", 9),
    ("1 + null", "Operation failed", "must not be null", 1),
    ("{a = 1}.b", "Unsupported attribute", 'attribute named "b"', 8),
    ("[1][3]", "Invalid index", "does not identify an element", 4),
    ("var.s[0]", "Invalid index", "does not have any indices", 6),
    ("var.s.x", "Unsupported attribute", "primitive-typed value (string)", 6),
    ("var.n.x", "Attempt to get attribute from null value", "null", 6),
    ("var.tm.z", "Missing map element", '"z"', 7),
    ("var.set[0]", "Invalid index", "set", 8),
    ("nope", "Unknown variable", 'no variable named "nope"', 1),
    ("upperr(\"a\")", "Call to unknown function", 'Did you mean "upper"?', 1),
    ("upper()", "Not enough function arguments", "Missing value for", 1),
    ("length(\"a\", \"b\")", "Too many function arguments", "", 13),
    ("false ? 1 : true", "Inconsistent conditional result types", "'true' value is number", 9),
    ("null ? 1 : 2", "Null condition", "", 1),
    ("[for x in null : x]", "Iteration over null value", "null value", 11),
    ("[for x in \"s\" : x]", "Iteration over non-iterable value", "string", 11),
    ("{for x in [\"a\", \"a\"] : x => 1}", "Duplicate object key", 'key "a"', 24),
    ("\"x${null}\"", "Invalid template interpolation value", "null", 5),
    ("\"x${[1]}\"", "Invalid template interpolation value", "string required", 5),
    ("try({}.a, {}.b)", "Error in function call", "no expression succeeded", 1),
    ("max(var.l...)", "Invalid function argument", "", 5),
    ("max(var.s...)", "Invalid expanding argument value", "tuple, list, or set", 5),
])
def test_errors(text, summary, detail_part, col):
    d = err(text)
    assert d.summary == summary
    assert detail_part in d.detail
    assert d.range.start.column == col and d.range.filename == "<console>"


def test_templates():
    assert val('"a${1 + 1}b"') == "a2b"
    assert val('"${1}"') == 1  # a lone interpolation keeps its type
    assert val('"%{if 1 < 2}yes%{else}no%{endif}"') == "yes"
    assert val('"%{for k, v in var.m}${k}=${v};%{endfor}"') == "a=2;b=1;"
    assert val('"  ${~ "x" ~}  "') == "x"
    assert val('"$${x} %%{y}"') == "${x} %{y}"


def test_conditionals_unify_types():
    assert val('true ? 1 : "a"') == "1"
    r = val("true ? [1, 2] : []")
    assert isinstance(r, TList) and list(r) == [1, 2]
    r = val("true ? {a = 1} : {b = 2}")
    assert isinstance(r, TMap) and dict(r) == {"a": 1}
    # errors in the branch not taken are ignored
    assert val("var.n != null ? var.n.x : \"d\"") == "d"


def test_for_expressions():
    assert val("[for k, v in var.m : k]") == ["a", "b"]  # object keys in sorted order
    assert val("[for i, x in [\"a\", \"b\"] : \"${i}${x}\"]") == ["0a", "1b"]
    assert val("{for k, v in var.m : v => k}") == {"1": "b", "2": "a"}
    assert val("{for x in [\"a\", \"a\", \"b\"] : x => 1...}") == {"a": [1, 1], "b": [1]}
    assert val("[for x in [1, 2, 3] : x * 2 if x != 2]") == [2, 6]
    assert val("[for k, v in var.set : \"${k}${v}\"]") == ["aa", "bb"]


def test_splats_and_indexing():
    assert val("var.l[*].id") == ["x", "y"]
    assert val("var.l.*.id") == ["x", "y"]
    assert val("var.l[1][\"id\"]") == "y"
    assert val("var.l.0.n") == 1
    assert val("null[*]") == []
    assert val("\"a\"[*]") == ["a"]
    assert val("[{a = [{b = 1}, {b = 2}]}][*].a[*].b") == [[1, 2]]
    assert isinstance(val("var.tl[*]"), TList)
    assert val("var.l[local.zero].id") == "x"
    assert val("{a = {b = [10]}}[\"a\"].b[0]") == 10


def test_object_keys():
    assert val('{a = 1, "b c" = 2, (var.s) = 3}') == {"a": 1, "b c": 2, "str": 3}
    assert val("{1 = true}") == {"1": True}


def test_try_and_can():
    assert val("try({}.a, 2)") == 2
    assert val("try(var.l[5].id, var.l[0].id)") == "x"
    assert val("can({}.a)") is False and val("can(1)") is True
    assert val("try(u.x, 1)", {"u": UNKNOWN}) is UNKNOWN
    assert val("can(u.x)", {"u": UNKNOWN}) is UNKNOWN


def test_function_calls_and_expansion():
    assert val('upper("a")') == "A"
    assert val("max([1, 5, 2]...)") == 5
    assert val('join(",", [for x in [1, 2] : tostring(x)])') == "1,2"


@pytest.mark.parametrize("text", [
    "u + 1", "-u", "!u", "u == 1", "u ? 1 : 2", "u.a", "u[0]", "[1][u]", "\"a${u}\"", "[for x in u : x]",
    "u[*].a", "upper(u)", "{(u) = 1}", "u && true",
])
def test_unknowns_propagate(text):
    assert isinstance(val(text, {"u": UNKNOWN}), Unknown)


def test_unknown_inside_collections_stays_local():
    assert val("[u, 1]", {"u": UNKNOWN})[1] == 1
    assert val("false && u", {"u": UNKNOWN}) is False
    assert val("true || u", {"u": UNKNOWN}) is True


@pytest.mark.parametrize("text,plain", [
    ("s + 1", 3), ("\"x${s}\"", "x2"), ("s == 2", True), ("-s", -2), ("o.k", "v"), ("l[0]", 1),
    ("[for x in l : x]", [1]), ("l[*]", [1]), ("upper(t)", "T"), ("c ? 1 : 2", 1), ("{for k, v in o : k => v}", {"k": "v"}),
])
def test_sensitive_propagates(text, plain):
    variables = {"s": Sensitive(2), "o": Sensitive({"k": "v"}), "l": Sensitive([1]), "t": Sensitive("t"),
                 "c": Sensitive(True)}
    r = val(text, variables)
    assert isinstance(r, Sensitive) and r.value == plain


def test_sensitive_element_does_not_mark_the_tuple():
    r = val("[s, 1]", {"s": Sensitive("x")})
    assert isinstance(r, list) and isinstance(r[0], Sensitive) and r[1] == 1


def test_references():
    e, _ = parse_expression(
        "[for k, v in var.m : v.x + local.y[k]] == value.a[count.index].output ? module.m.o : upper(each.key)")
    assert sorted(str(t) for t in e.references()) == sorted(
        ["var.m", "local.y", "value.a", "count.index", "module.m.o", "each.key"])
    e, _ = parse_expression('"${var.a}%{for x in var.b}${x.y}${z}%{endfor}"')
    assert sorted(str(t) for t in e.references()) == ["var.a", "var.b", "z"]
    e, _ = parse_expression('value.a[*].id')
    assert [str(t) for t in e.references()] == ["value.a"]
    e, _ = parse_expression('{ a = 1, (local.k) = 2 }')
    assert [str(t) for t in e.references()] == ["local.k"]


def test_context_child_and_functions_default():
    c = EvalContext({"a": 1}, base_dir="/tmp")
    child = c.child(b=2)
    assert child.variables == {"a": 1, "b": 2} and c.variables == {"a": 1}
    assert child.base_dir == "/tmp"
    assert "upper" in c.functions


def test_file_function_uses_base_dir(tmp_path):
    (tmp_path / "hello.txt").write_text("hi")
    assert ev('file("hello.txt")', {}, base_dir=str(tmp_path))[0] == "hi"
