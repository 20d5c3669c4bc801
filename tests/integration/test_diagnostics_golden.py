"""Golden tests: every kind of user error, through the real CLI.

Each folder under tests/cases/diagnostics/ holds a small configuration and
``expected.txt``, the exact stderr of ``trainform validate -no-color`` (or of
the command line in ``command.txt``, e.g. ``plan -no-color -var x=1``).  The
case runs in a temporary copy so nothing is written into the source tree.
Every case must exit 1 and must never print a Python traceback.

Regenerate after an intended message change with::

    UPDATE_GOLDEN=1 python -m pytest tests/integration/test_diagnostics_golden.py
"""

from __future__ import annotations

import os
import shlex
import shutil

import pytest

from engine.testing.harness import Workdir

CASES_DIR = os.path.join(os.path.dirname(__file__), "..", "cases", "diagnostics")
CASES = sorted(d for d in os.listdir(CASES_DIR) if os.path.isdir(os.path.join(CASES_DIR, d))) if os.path.isdir(CASES_DIR) else []
DEFAULT_COMMAND = "validate -no-color"
_NOT_COPIED = {"expected.txt", "command.txt"}


def _command(case_dir: str) -> list[str]:
    path = os.path.join(case_dir, "command.txt")
    if os.path.exists(path):
        with open(path, encoding="utf-8") as f:
            return shlex.split(f.read().strip())
    return shlex.split(DEFAULT_COMMAND)


def run_case(case: str, tmp_path) -> tuple[int, str, str]:
    src = os.path.join(CASES_DIR, case)
    work = tmp_path / "w"
    shutil.copytree(src, work, ignore=lambda d, names: [n for n in names if d == src and n in _NOT_COPIED])
    wd = Workdir(str(work), env={"NO_COLOR": "1", "TRAINFORM_EXTRA_PROVIDERS": ""})
    r = wd.run(*_command(src), timeout=120)
    return r.code, r.out, r.err


def test_there_are_enough_cases():
    assert len(CASES) >= 25, CASES


@pytest.mark.parametrize("case", CASES)
def test_golden(case, tmp_path):
    code, out, err = run_case(case, tmp_path)
    assert "Traceback" not in out + err, out + err
    assert code == 1, f"exit code {code}\nstdout:\n{out}\nstderr:\n{err}"
    expected_path = os.path.join(CASES_DIR, case, "expected.txt")
    if os.environ.get("UPDATE_GOLDEN") == "1":
        with open(expected_path, "w", encoding="utf-8") as f:
            f.write(err)
        return
    with open(expected_path, encoding="utf-8") as f:
        expected = f.read()
    assert err == expected, f"stderr differs from {expected_path}; rerun with UPDATE_GOLDEN=1 if the change is intended\n--- got:\n{err}"
    # every error names file:line:col of the offending source where one exists
    assert "Error: " in err
