"""``trainform console``: expressions from stdin evaluated against the configuration
and its state, printed as ``terraform console`` prints them; errors go to stderr
and the next line is still evaluated; exit 1 if any line failed."""

from __future__ import annotations

import pytest

from engine.testing.harness import Workdir

try:
    from tests.tfconsole import available as tf_available, terraform_console
except ImportError:  # tests/ not importable as a package from this rootdir
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", ".."))
    from tests.tfconsole import available as tf_available, terraform_console

VARS_AND_LOCALS = '''variable "epochs" {
  type    = number
  default = 3
}

variable "name" {
  type    = string
  default = "pets"
}

variable "password" {
  type      = string
  default   = "hunter22-secret"
  sensitive = true
}

locals {
  tags   = { team = "ml", gpus = 2, longer_name = true }
  layers = [64, 32.5, "x", true, null]
  text   = "a\\nb"
  upper  = upper(var.name)
  nested = { a = { b = [1, { c = "d" }] } }
  set    = toset(["b", "a"])
  map    = tomap({ x = 1, y = 2 })
}
'''

EXPRS = [
    "var.epochs",
    "var.name",
    "local.tags",
    "local.layers",
    "local.text",
    "local.upper",
    "local.nested",
    "local.set",
    "local.map",
    "var.epochs * 2 + 0.5",
    'join(", ", [for k, v in local.tags : "${k}=${v}"])',
    "{}",
    "[]",
    "null",
    "var.password",
    'format("%s-%03d", var.name, var.epochs)',
    "length(local.layers) > 3 ? \"long\" : \"short\"",
]


@pytest.fixture
def wd(tmp_path):
    w = Workdir(tmp_path / "w", env={"NO_COLOR": "1"})
    w.write("main.hcl", VARS_AND_LOCALS + '''
value "model" {
  input = { lr = 0.1, layers = local.layers }
}

value "counted" {
  count = 2
  input = "replica-${count.index}"
}
''')
    return w


def _console(wd, lines, *args):
    r = wd.run("console", *args, input="\n".join(lines) + "\n")
    assert "Traceback" not in r.out + r.err, r.err
    return r


@pytest.mark.skipif(not tf_available(), reason="terraform binary not available")
def test_values_print_like_terraform_console(wd):
    tf = terraform_console(EXPRS, files={"main.tf": VARS_AND_LOCALS})
    assert all(ok for ok, _ in tf), tf
    r = _console(wd, EXPRS)
    assert r.code == 0, r.err
    # one value per expression, separated the way they come out (multi-line values included)
    assert r.out == "".join(text + "\n" for _, text in tf)


def test_values_without_terraform(wd):
    r = _console(wd, ["var.epochs", "var.name", "local.tags", "var.password", "local.text"])
    assert r.code == 0, r.err
    assert r.out == '3\n"pets"\n{\n  "gpus" = 2\n  "longer_name" = true\n  "team" = "ml"\n}\n(sensitive value)\n<<EOT\na\nb\nEOT\n'
    assert "hunter22-secret" not in r.out + r.err


def test_resources_from_state(wd):
    wd.apply()
    r = _console(wd, ["value.model.output", "value.counted[1].output", "length(value.counted)", "value.counted[*].input", "value.model.id == value.model.id"])
    assert r.code == 0, r.err
    assert r.out.split("\n") == [
        "{", '  "layers" = [', "    64,", "    32.5,", '    "x",', "    true,", "    null,", "  ]", '  "lr" = 0.1', "}",
        '"replica-1"',
        "2",
        "[", '  "replica-0",', '  "replica-1",', "]",
        "true",
        "",
    ]


def test_errors_go_on_and_exit_1(wd):
    r = _console(wd, ["var.epoch", "var.epochs", "1 +", "upper(1, 2)", "local.tags.nope", "var.name"])
    assert r.code == 1
    assert r.out == '3\n"pets"\n'  # the good lines, in order, after the bad ones
    err = r.err
    assert err.count("╷") == 4
    assert "Error: Reference to undeclared input variable" in err and 'Did you mean "epochs"?' in err
    assert "Error: Invalid expression" in err
    assert "Error: Too many function arguments" in err
    assert 'Error: Unsupported attribute' in err
    # the frame shows the console line and marks the span
    assert "   1: var.epoch\n" in err and "      ^^^^^^^^^\n" in err


@pytest.mark.skipif(not tf_available(), reason="terraform binary not available")
def test_error_messages_match_terraform(wd):
    exprs = ["var.epoch", "upper(1, 2)", "lowr(var.name)", "local.nope"]
    tf = terraform_console(exprs, files={"main.tf": VARS_AND_LOCALS})
    for expr, (ok, tf_text) in zip(exprs, tf):
        assert not ok
        r = _console(wd, [expr])
        assert r.code == 1 and r.out == ""
        summary = tf_text.splitlines()[0]
        assert summary in r.err, (expr, tf_text, r.err)


def test_var_option_and_empty_lines(wd):
    r = _console(wd, ["", "var.epochs", "   ", "local.upper"], "-var", "epochs=7", "-var", "name=cats")
    assert r.code == 0, r.err
    assert r.out == '7\n"CATS"\n'


def test_exit_line_stops(wd):
    r = _console(wd, ["var.epochs", "exit", "var.nope"])
    assert r.code == 0 and r.out == "3\n"


def test_console_without_configuration(tmp_path):
    w = Workdir(tmp_path / "empty", env={"NO_COLOR": "1"})
    r = _console(w, ["1 + 2", 'upper("a")', "var.x"])
    assert r.code == 1
    assert r.out == '3\n"A"\n'
    assert "var.x" in r.err or '"x"' in r.err
