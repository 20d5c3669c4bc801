"""Error messages never echo a sensitive value (issue 11, item 6).

One mechanism covers every function: when a call had a sensitive argument,
each printed form of each sensitive value is removed from its error message
(``engine.config.functions._base.redact_message``).  Each listed function is
called with a secret that makes it fail; the diagnostic must not contain the
secret, and where Terraform 1.11 redacts (tonumber, tobool, file,
templatefile, base64decode) our text must equal Terraform's.
"""

from __future__ import annotations

import pytest

from engine.config import types as T
from engine.config.expr import EvalContext, evaluate
from engine.config.functions._base import redact_message
from engine.config.parser import parse_expression
from engine.values import Sensitive
from tests import tfconsole

SECRET = "s3cr3t-abc"
NUMBER = 99999999
PATTERN = "(s3cr3t"
VARS_TF = f'''
variable "pw" {{
  type      = string
  sensitive = true
  default   = "{SECRET}"
}}
variable "n" {{
  type      = number
  sensitive = true
  default   = {NUMBER}
}}
'''

# expression -> what the redacted detail must say instead
CASES = {
    "tonumber(var.pw)": 'Invalid value for "v" parameter: cannot convert this sensitive string to number.',
    "tobool(var.pw)": 'Invalid value for "v" parameter: cannot convert this sensitive string to bool.',
    "file(var.pw)": "no file exists at (sensitive value);",
    "templatefile(var.pw, {})": "no file exists at (sensitive value);",
    "base64decode(var.pw)": 'Call to function "base64decode" failed: failed to decode base64 data (sensitive value).',
    "regex(var.pat, \"x\")": "invalid regexp pattern",
    "cidrhost(\"10.0.0.0/8\", var.n)": "does not accommodate a host numbered (sensitive value).",
    "cidrhost(var.pw, 1)": "invalid CIDR address: (sensitive value).",
    "parseint(var.pw, 10)": "cannot parse (sensitive value) as a base 10 integer.",
    "lookup({ a = 1 }, var.pw)": "lookup failed to find key (sensitive value).",
    "{ for x in [var.pw, var.pw] : x => 1 }": "Two different items produced the key (sensitive value) in this 'for' expression.",
    "tonumber(sensitive(\"abc\"))": "cannot convert this sensitive string to number.",
    "parseint(sensitive(\"zz9\"), 10)": "cannot parse (sensitive value) as a base 10 integer.",
    "tomap({ a = var.pw, b = [1] })": "all map elements must have the same type",
}
# Terraform 1.11 echoes the secret for these (we redact where it does not)
TERRAFORM_REDACTS = ["tonumber(var.pw)", "tobool(var.pw)", "file(var.pw)", "templatefile(var.pw, {})",
                     "base64decode(var.pw)", "tonumber(sensitive(\"abc\"))"]


def _ctx():
    return EvalContext({"var": {"pw": Sensitive(SECRET), "n": Sensitive(NUMBER), "pat": Sensitive(PATTERN)}})


def _error(text: str):
    expr, d = parse_expression(text)
    assert not d, d
    v, d = evaluate(expr, _ctx())
    assert d.has_errors, (text, v)
    return d[0]


@pytest.mark.parametrize("text", list(CASES))
def test_function_error_does_not_echo_secret(text):
    diag = _error(text)
    shown = f"{diag.summary}\n{diag.detail}"
    for secret in (SECRET, str(NUMBER), PATTERN, "abc", "zz9"):
        assert secret not in shown, (text, shown)
    assert CASES[text] in diag.detail, diag.detail


def test_plain_arguments_still_echoed():
    """Redaction only applies to sensitive arguments: the message stays useful otherwise."""
    assert '"nope"' in _error('parseint("nope", 10)').detail
    assert 'key "zz"' in _error('lookup({ a = 1 }, "zz")').detail


def test_conversion_error_path_stops_at_the_mark():
    # a sensitive map's keys must not appear in a conversion error's path
    with pytest.raises(T.ConversionError) as e:
        T.convert(Sensitive({SECRET: "x"}), T.Map(T.NUMBER))
    assert SECRET not in str(e.value)
    assert str(e.value) == "a number is required"


@pytest.mark.parametrize("msg,secrets,want", [
    ('cannot parse "s3cr3t-abc" as int', ["s3cr3t-abc"], "cannot parse (sensitive value) as int"),
    ('no file exists at "/dir/s3cr3t-abc"; hint', ["s3cr3t-abc"], "no file exists at (sensitive value); hint"),
    ('bad "a\\"b\\\\c"', ['a"b\\c'], "bad (sensitive value)"),
    ("prefix of 28 does not fit host 8", [8], "prefix of 28 does not fit host (sensitive value)"),
    ("value 1.5 too big", [1.5], "value (sensitive value) too big"),
    ("plain text", ["zzz"], "plain text"),
])
def test_redact_message(msg, secrets, want):
    assert redact_message(msg, secrets) == want


def test_terraform_wording(tmp_path):
    if not tfconsole.available():
        pytest.skip("terraform binary not available")
    theirs = tfconsole.terraform_console(TERRAFORM_REDACTS, files={"vars.tf": VARS_TF})
    for text, (ok, out) in zip(TERRAFORM_REDACTS, theirs):
        assert not ok, (text, out)
        diag = _error(text)
        assert " ".join(out.split()) == " ".join(f"Error: {diag.summary} {diag.detail}".split()), (text, out, diag.detail)
