"""``trainform validate -json``: machine-readable diagnostics with ranges, shaped
like ``terraform validate -json`` (checked against the real terraform when present)."""

from __future__ import annotations

import json
import os
import subprocess

import pytest

from engine.testing.harness import Workdir

TERRAFORM = os.environ.get("TRAINFORM_TERRAFORM", "/usr/local/bin/terraform")

BAD = '''variable "epochs" {
  type    = number
  default = 3
}

locals {
  name = lowr("Pets")
}

value "a" {
  input = var.epoch
}

output "o" {
  value = value.a.outptu
}
'''


@pytest.fixture
def wd(tmp_path):
    return Workdir(tmp_path / "w", env={"NO_COLOR": "1"})


def _validate_json(wd):
    r = wd.run("validate", "-json")
    assert "Traceback" not in r.out + r.err
    return r, json.loads(r.out)


def test_valid_configuration(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    r, doc = _validate_json(wd)
    assert r.code == 0
    assert doc == {"format_version": "1.0", "valid": True, "error_count": 0, "warning_count": 0, "diagnostics": []}


def test_errors_with_ranges_and_snippets(wd):
    wd.write("main.hcl", BAD)
    r, doc = _validate_json(wd)
    assert r.code == 1
    assert r.err == ""  # all of it is in the JSON document
    assert doc["valid"] is False
    assert doc["error_count"] == 3 == len(doc["diagnostics"])
    by_summary = {d["summary"]: d for d in doc["diagnostics"]}
    assert set(by_summary) == {"Call to unknown function", "Reference to undeclared input variable", "Unsupported attribute"}
    lines = BAD.splitlines()
    expected_text = {
        "Call to unknown function": "lowr",
        "Reference to undeclared input variable": "var.epoch",
        "Unsupported attribute": "value.a.outptu",
    }
    for summary, d in by_summary.items():
        assert d["severity"] == "error"
        rng = d["range"]
        assert rng["filename"] == "main.hcl"
        start, end = rng["start"], rng["end"]
        line = lines[start["line"] - 1]
        assert line[start["column"] - 1:end["column"] - 1] == expected_text[summary]
        assert BAD[start["byte"]:end["byte"]] == expected_text[summary]
        sn = d["snippet"]
        assert sn["code"] == line and sn["start_line"] == start["line"]
        assert sn["code"][sn["highlight_start_offset"]:sn["highlight_end_offset"]] == expected_text[summary]
    assert by_summary["Reference to undeclared input variable"]["snippet"]["context"] == 'value "a"'
    assert by_summary["Call to unknown function"]["snippet"]["context"] == "locals"
    assert 'Did you mean "epochs"?' in by_summary["Reference to undeclared input variable"]["detail"]
    assert 'Did you mean "lower"?' in by_summary["Call to unknown function"]["detail"]
    assert 'Did you mean "output"?' in by_summary["Unsupported attribute"]["detail"]
    # source order
    assert [d["range"]["start"]["line"] for d in doc["diagnostics"]] == [7, 11, 15]


def test_syntax_error_is_json_too(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1 +\n}\n')
    r, doc = _validate_json(wd)
    assert r.code == 1
    assert doc["valid"] is False and doc["error_count"] >= 1
    d = doc["diagnostics"][0]
    assert d["range"]["filename"] == "main.hcl" and d["range"]["start"]["line"] == 2


def test_diagnostic_without_range(wd):
    wd.write("notes.txt", "no configuration here\n")
    r, doc = _validate_json(wd)
    assert r.code == 1
    (d,) = doc["diagnostics"]
    assert d["summary"] == "No configuration files"
    assert "range" not in d and "snippet" not in d


def test_cycle_points_at_a_reference(wd):
    wd.write("main.hcl", 'locals {\n  a = local.b\n  b = local.a\n}\n')
    r, doc = _validate_json(wd)
    assert r.code == 1
    (d,) = doc["diagnostics"]
    assert d["summary"].startswith("Cycle: ") and "local.a" in d["summary"] and "local.b" in d["summary"]
    assert d["range"]["start"]["line"] in (2, 3) and d["snippet"]["code"] in ("  a = local.b", "  b = local.a")
    assert "local.b refers to local.a at main.hcl:3:7" in d["detail"] and "local.a refers to local.b at main.hcl:2:7" in d["detail"]


@pytest.mark.skipif(not (os.path.exists(TERRAFORM) and os.access(TERRAFORM, os.X_OK)), reason="terraform binary not available")
def test_same_shape_as_terraform(wd, tmp_path):
    """The document and each diagnostic carry the keys terraform validate -json writes."""
    tf = tmp_path / "tf"
    tf.mkdir()
    (tf / "main.tf").write_text('variable "epochs" {\n  default = 3\n}\n\nresource "terraform_data" "a" {\n  input = var.epoch\n}\n')
    env = dict(os.environ, TF_CLI_CONFIG_FILE="/dev/null", CHECKPOINT_DISABLE="1", TF_IN_AUTOMATION="1")
    p = subprocess.run([TERRAFORM, "validate", "-json", "-no-color"], cwd=tf, capture_output=True, text=True, env=env, timeout=120)
    tf_doc = json.loads(p.stdout)
    wd.write("main.hcl", 'variable "epochs" {\n  default = 3\n}\n\nvalue "a" {\n  input = var.epoch\n}\n')
    r, doc = _validate_json(wd)
    assert set(tf_doc) <= set(doc)
    assert (tf_doc["valid"], tf_doc["error_count"]) == (doc["valid"], doc["error_count"])
    tfd, d = tf_doc["diagnostics"][0], doc["diagnostics"][0]
    assert tfd["summary"] == d["summary"]
    assert tfd["detail"] == d["detail"]
    assert set(tfd["range"]) == set(d["range"])
    assert set(tfd["range"]["start"]) == set(d["range"]["start"])
    for end in ("start", "end"):  # bytes differ: the resource header is spelled differently
        assert (tfd["range"][end]["line"], tfd["range"][end]["column"]) == (d["range"][end]["line"], d["range"][end]["column"])
    assert set(tfd["snippet"]) <= set(d["snippet"])
    for k in ("code", "start_line", "highlight_start_offset", "highlight_end_offset"):
        assert tfd["snippet"][k] == d["snippet"][k], k
