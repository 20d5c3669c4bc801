"""A sensitive value used as an object/map key marks the whole value (issue 11, item 1).

HCL marks an object constructor or a ``for`` expression sensitive as a whole
when any key is sensitive (a key cannot carry a mark of its own), so the key
never reaches plan output, state or an instance address.  Each expression is
checked here directly and, where the binary exists, against ``terraform
console`` (Terraform 1.11) with the same sensitive variable.
"""

from __future__ import annotations

import pytest

from engine.config.expr import EvalContext, evaluate
from engine.config.format import format_value
from engine.config.parser import parse_expression
from engine.values import Sensitive, contains_sensitive
from tests import tfconsole

SECRET = "s3cr3t-abc"
VARS_TF = f'''
variable "pw" {{
  type      = string
  sensitive = true
  default   = "{SECRET}"
}}
'''


def _eval(text: str):
    expr, d = parse_expression(text)
    assert not d, d
    return evaluate(expr, EvalContext({"var": {"pw": Sensitive(SECRET)}}))


WHOLLY_SENSITIVE = [
    "{ for k, v in { a = var.pw } : v => k }",
    "{ for x in [var.pw] : x => 1 }",
    "{ for x in [var.pw, var.pw] : x => 1... }",
    "{ (var.pw) = 1 }",
    "{ (var.pw) = 1, b = 2 }",
    "keys({ (var.pw) = 1 })",
    "values({ (var.pw) = 1 })",
    "tomap({ (var.pw) = 1 })",
    "{ for k, v in { a = 1 } : \"${k}-${var.pw}\" => v }",
    "[for k, v in { (var.pw) = 1 } : k]",
]


@pytest.mark.parametrize("text", WHOLLY_SENSITIVE)
def test_sensitive_key_marks_whole_value(text):
    v, d = _eval(text)
    assert not d, d
    assert isinstance(v, Sensitive), v
    assert format_value(v) == "(sensitive value)"


def test_sensitive_value_under_plain_key_marks_only_the_element():
    v, d = _eval("{ for k, v in { a = var.pw } : k => v }")
    assert not d
    assert isinstance(v, dict) and isinstance(v["a"], Sensitive)


def test_sensitive_set_element_marks_the_set():
    from engine.config import types as T

    v = T.convert(["a", Sensitive(SECRET), "z"], T.Set(T.STRING))
    assert isinstance(v, Sensitive) and list(v.value) == ["a", SECRET, "z"]
    assert not contains_sensitive(v.value)


def test_plain_keys_stay_unmarked():
    v, d = _eval("{ for x in [\"a\"] : x => 1 }")
    assert not d and v == {"a": 1} and not contains_sensitive(v)


def test_against_terraform_console(tmp_path):
    if not tfconsole.available():
        pytest.skip("terraform binary not available")
    exprs = WHOLLY_SENSITIVE + ["{ for k, v in { a = var.pw } : k => v }"]
    theirs = tfconsole.terraform_console(exprs, files={"vars.tf": VARS_TF})
    for text, (ok, out) in zip(exprs, theirs):
        v, d = _eval(text)
        assert ok and not d, (text, out, d)
        assert " ".join(out.split()) == " ".join(format_value(v).split()), (text, out, format_value(v))
