"""Crash reports redact every value that carried a sensitive mark (issue 11, item 7).

The crashing provider of tests/helpers_crashy.py puts its whole configuration
(repr) in the exception; each case gives it a different derived secret.  The
crash log and the one-line message must hold none of the secret's forms.
"""

from __future__ import annotations

import base64
import json
import os
import re
from urllib.parse import quote, quote_plus

import pytest

from engine.testing.harness import Workdir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROVIDERS = "crashy_plan=tests.helpers_crashy:CrashyPlanProvider"
SECRET = "Cr4sh-s3cret-91b"
QUOTED_SECRET = 'q"uo\'te\\back-Cr4sh'
VARIABLES = '''
variable "pw" {
  type      = string
  sensitive = true
}

variable "pin" {
  type      = number
  sensitive = true
}
'''

# input expression -> the texts that must not appear
CASES = {
    "upper": ("upper(var.pw)", [SECRET.upper(), SECRET]),
    "base64": ("base64encode(var.pw)", [base64.b64encode(SECRET.encode()).decode(), SECRET]),
    "literal": ('sensitive("literal-Cr4sh-42")', ["literal-Cr4sh-42"]),
    "number": ("sensitive(48611)", ["48611"]),
    "number_derived": ("var.pin * 7", ["517405"]),
    "url": ('"https://u:${urlencode(var.quoted)}@host/"', [quote_plus(QUOTED_SECRET), quote(QUOTED_SECRET, safe="")]),
    "json": ("jsonencode({ token = var.quoted })", [json.dumps(QUOTED_SECRET)[1:-1], "te\\\\back"]),
    "nested": ("{ a = [lower(var.pw)], b = { (upper(var.pw)) = 1 } }", [SECRET.lower(), SECRET.upper()]),
    "quoted": ("var.quoted", [QUOTED_SECRET, repr(QUOTED_SECRET)[1:-1], json.dumps(QUOTED_SECRET)[1:-1],
                              'q"uo', "te\\back", "te\\\\back"]),
}


@pytest.fixture
def wd(tmp_path):
    pythonpath = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    return Workdir(tmp_path / "w", env={"NO_COLOR": "1", "TRAINFORM_EXTRA_PROVIDERS": PROVIDERS,
                                        "PYTHONPATH": pythonpath, "TRAINFORM_VAR_pw": SECRET,
                                        "TRAINFORM_VAR_pin": "73915", "TRAINFORM_VAR_quoted": QUOTED_SECRET})


@pytest.mark.parametrize("case", list(CASES))
def test_crash_report_redacts_derived_secrets(wd, case):
    expr, forbidden = CASES[case]
    extra = 'variable "quoted" {\n  type      = string\n  sensitive = true\n}\n'
    wd.write("main.hcl", VARIABLES + extra + f'\ncrashy_plan "a" {{\n  input = {expr}\n}}\n')
    r = wd.run("plan", "-no-color")
    assert r.code == 2 and "crashed" in r.err, (r.code, r.err)
    m = re.search(r"details in (\S+)", r.err)
    assert m, r.err
    with open(m.group(1), encoding="utf-8") as f:
        log = f.read()
    assert "cannot plan" in log and "Traceback (most recent call last)" in log
    assert "(sensitive value)" in log
    for text in forbidden:
        assert text not in log, f"{text!r} in crash.log"
        assert text not in r.out + r.err, f"{text!r} in the crash message"
