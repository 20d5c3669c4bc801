"""An internal bug (here: a provider broken on purpose) prints a short message
naming a crash log, never a traceback; the log holds the traceback with every
secret redacted."""

from __future__ import annotations

import os
import re

import pytest

from engine.testing.harness import Workdir

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
PROVIDERS = "crashy=tests.helpers_crashy:CrashyProvider,crashy_plan=tests.helpers_crashy:CrashyPlanProvider"
SECRET = "TopSecret-4f9a1c"


@pytest.fixture
def wd(tmp_path):
    pythonpath = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    return Workdir(tmp_path / "w", env={"NO_COLOR": "1", "TRAINFORM_EXTRA_PROVIDERS": PROVIDERS, "PYTHONPATH": pythonpath})


def _crash_log_path(err: str) -> str:
    m = re.search(r"details in (\S+)", err)
    assert m, err
    return m.group(1)


def _assert_short_crash_report(r) -> str:
    assert r.code not in (0, 1), (r.code, r.err)  # a bug is not a user error
    assert "Traceback" not in r.out + r.err
    lines = [line for line in r.err.splitlines() if line.strip()]
    assert len(lines) == 1, r.err
    assert all(len(line) < 300 for line in lines), r.err
    assert "crashed" in lines[0]
    path = _crash_log_path(r.err)
    assert os.path.isfile(path)
    with open(path, encoding="utf-8") as f:
        return f.read()


def test_schema_crash_during_validate(wd):
    wd.write("main.hcl", 'crashy "a" {\n}\n')
    r = wd.run("validate", "-no-color")
    log = _assert_short_crash_report(r)
    assert "Traceback (most recent call last)" in log
    assert "schema is broken on purpose" in log
    assert "schema is broken on purpose" in r.err  # the one line says what broke


def test_plan_crash_redacts_secrets_in_crash_log(wd):
    wd.write("main.hcl", 'variable "pw" {\n  type      = string\n  sensitive = true\n}\n\ncrashy_plan "a" {\n  input = var.pw\n}\n')
    r = wd.run("plan", "-no-color", "-var", f"pw={SECRET}")
    log = _assert_short_crash_report(r)
    assert "Traceback (most recent call last)" in log
    assert "cannot plan" in log
    assert SECRET not in log
    assert "(sensitive value)" in log


def test_plan_crash_line_does_not_leak_secret(wd):
    wd.write("main.hcl", 'variable "pw" {\n  type      = string\n  sensitive = true\n}\n\ncrashy_plan "a" {\n  input = var.pw\n}\n')
    r = wd.run("plan", "-no-color", "-var", f"pw={SECRET}")
    assert SECRET not in r.out + r.err


def test_user_error_is_not_a_crash(wd):
    wd.write("main.hcl", 'value "a" {\n  input = var.nope\n}\n')
    r = wd.run("validate", "-no-color")
    assert r.code == 1
    assert "crashed" not in r.err and "Traceback" not in r.err
    assert not os.path.exists(os.path.join(wd.path, "crash.log"))
