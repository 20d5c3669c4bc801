"""Crash-report redaction covers every value that carried a sensitive mark (issue 11, item 7).

Marks are recorded as they are created (``engine.values``), so values derived
from a secret are redacted as well as the secret itself, in each form a
traceback or message may print them.
"""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from urllib.parse import quote, quote_plus

import pytest

from engine.cli import crash
from engine.config.expr import EvalContext, evaluate
from engine.config.parser import parse_expression
from engine.values import Sensitive, TMap, sensitive_values_seen


def _eval(text: str, **variables):
    expr, d = parse_expression(text)
    assert not d, d
    v, d = evaluate(expr, EvalContext({"var": variables}))
    assert not d, d
    return v


def test_derived_values_are_recorded():
    _eval("upper(var.pw)", pw=Sensitive("derived-secret-q1"))
    _eval("base64encode(var.pw)", pw=Sensitive("derived-secret-q2"))
    _eval('sensitive("literal-secret-q3")')
    _eval("var.n * 3", n=Sensitive(1234567))
    seen = sensitive_values_seen()
    assert {"DERIVED-SECRET-Q1", base64.b64encode(b"derived-secret-q2").decode(), "literal-secret-q3", 3703701} <= seen


def test_map_keys_and_nested_values_are_recorded():
    Sensitive(TMap({"key-secret-q4": ["nested-secret-q5", {"attr_name_q6": Decimal("3.14159")}]}))
    seen = sensitive_values_seen()
    assert {"key-secret-q4", "nested-secret-q5", Decimal("3.14159")} <= seen
    assert "attr_name_q6" not in seen  # object attribute names are not data


def test_secret_keys_of_objects_are_recorded_where_computed():
    _eval("{ (upper(var.pw)) = 1 }", pw=Sensitive("computed-key-q7"))
    assert "COMPUTED-KEY-Q7" in sensitive_values_seen()


SECRET = 'q"uo\'te\\back-é-s3cr'


@pytest.mark.parametrize("form", [
    SECRET, repr(SECRET), json.dumps(SECRET), json.dumps(SECRET, ensure_ascii=False), repr(SECRET.encode()),
    base64.b64encode(SECRET.encode()).decode(), base64.urlsafe_b64encode(SECRET.encode()).decode().rstrip("="),
    quote(SECRET, safe=""), quote_plus(SECRET), repr(repr(SECRET)), json.dumps(json.dumps(SECRET)),
    repr({"k": SECRET}), json.dumps({"k": SECRET}),
])
def test_every_printed_form_is_redacted(form):
    Sensitive(SECRET)
    text = crash.redact(f"before {form} after")
    assert "q\"uo" not in text and "back-" not in text and "s3cr" not in text.replace("(sensitive value)", ""), text
    assert text.startswith("before ") and text.endswith(" after")


@pytest.mark.parametrize("prefix", ["", "u:", "us:", "use:"])
def test_secret_inside_a_longer_base64_text_is_redacted(prefix):
    secret = "embedded-b64-secret-q8"
    Sensitive(secret)
    blob = base64.b64encode(f"{prefix}{secret}".encode()).decode()
    text = crash.redact(f"Authorization: Basic {blob}")
    assert "(sensitive value)" in text
    # at most two bytes of the secret survive at each edge of the redaction
    left, right = text.split("(sensitive value)", 1)
    assert len(left) - len("Authorization: Basic ") <= 8 and len(right) <= 4, text


def test_numbers_are_redacted_in_str_and_repr():
    Sensitive(Decimal("271828.5"))
    Sensitive(8675309)
    assert crash.redact("a=271828.5 b=Decimal('271828.5') c=8675309") == \
        "a=(sensitive value) b=(sensitive value) c=(sensitive value)"


def test_frame_line_numbers_are_kept():
    Sensitive(5432)
    text = crash.redact('  File "/x/engine/core.py", line 5432, in plan\n    port = 5432\n')
    assert text == '  File "/x/engine/core.py", line 5432, in plan\n    port = (sensitive value)\n'


def test_short_values_are_left_alone():
    Sensitive("ab")
    Sensitive(7)
    assert crash.redact("line 7: ab cd") == "line 7: ab cd"
