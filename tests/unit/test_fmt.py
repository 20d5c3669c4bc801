"""Tests for ``engine.config.fmt`` and ``trainform fmt``.

Three layers: golden files in tests/cases/fmt (no terraform needed),
differential checks against ``terraform fmt -`` (skipped without the binary),
and properties (idempotence; horizontal whitespace never matters).
"""

from __future__ import annotations

import glob
import os
import random
import shutil
import subprocess
import sys

import pytest
from click.testing import CliRunner

from engine.cli.main import cli
from engine.config.fmt import format_source, is_formatted

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CASES_DIR = os.path.join(ROOT, "tests", "cases", "fmt")
GOLDEN = sorted(os.path.basename(p)[: -len(".input")] for p in glob.glob(os.path.join(CASES_DIR, "*.input")))
TERRAFORM = shutil.which("terraform")


def _read(path: str) -> str:
    with open(path, encoding="utf-8", newline="") as f:
        return f.read()


# Inputs compared with terraform fmt.  They end with a newline and have no
# trailing blanks in comments, where trainform deliberately differs.
CASES = {
    "messy_indent": 'a {\nb {\n      c = 1\n   }\n        }\n',
    "alignment_runs": 'a = 1\nbbb = 2\n\ncccccc = 3\nd = 4\n# c\neeeee = 5\nf {\n  g = 1\n  hhhh = 2\n}\ni = 1\n',
    "alignment_unicode": 'é = 1\nab = 2\n',
    "nested_blocks": 'x "a" {\n  y {\n    z "b" "c" {\n      k = "v"\n      kk = "vv"\n    }\n  }\n}\n',
    "comments_all_kinds": '# one\n// two\n/* three */\n/* multi\n     line */\na = 1 # c1\nbbb = 2 // c2\nx {\n  # inner\n  y = 1 /* c3 */\n}\n',
    "comment_alignment": 'a = 1 # x\nbbbbbb = [1, 2] # y\n}\n'.replace("}\n", "") + 'z { q = 1 } # z\n',
    "heredoc": 'a {\n      b = <<EOT\n  keep   ${ x }   as is\n\tEOT inside\nEOT\n  c = <<-EOF\n        indented\n      EOF\n}\n',
    "heredoc_in_call": 'a = f(<<-EOT\n   x\n   EOT\n)\nb = [<<EOT\none\nEOT\n, "two"]\n',
    "multiline_list": 'a = [\n1,\n    2,\n  [3,\n4],\n]\n',
    "multiline_object": 'a = {\nk = 1\n   kkk = 2\n  nested = {\n x = 1\n}\n}\n',
    "one_line_blocks": 'a { b = 1 }\nc "d" {}\ne   {  f  =  [1,2]  }\n',
    "for_expressions": 'a = [for x in var.l: x if x!=""]\nb = {for k,v in var.m: k=>v...}\nc = [for x in(var.l): x]\n',
    "templates": 'a = "${ var.x }-${var.y}"\nb = "%{ if c }y%{ else }n%{ endif }"\nc = "${~ var.z ~}"\nd = "$${esc} %%{esc}"\n',
    "unwrap": 'a = "${var.x}"\nb = "${var.x}${var.y}"\nc = "${f("${var.y}")}"\nd = "${\nvar.a ?\nvar.b : var.c\n}"\n',
    "operators": 'a = 1+2*3/4%5-6\nb = -1 - -2 * f(-3)\nc = !a&&b||c\nd = a==b ? c : d\ne = a.b[0].c[*].d\nf = "abc"[0]\ng = provider::p::f(1)\n',
    "labels": 'resource aws_instance web {\n  a = 1\n}\nx "b\\u0041" {}\n',
    "variable_types": 'variable "a" {\n  type = "string"\n}\nvariable "b" {\n  type = list\n}\nvariable "c" {\n  type = "map"\n}\n',
    "blank_lines_kept": 'a = 1\n\n\n\nb = 2\n',
    "crlf": 'a=1\r\nbb = {\r\n  c=2 # x\r\n}\r\n',
    "tabs": 'a {\n\tb = 1\n\t\tcc = "\tx"\n}\n',
    "tfvars_style": 'name="x"\nreplicas=3\ntags={env="dev",team="ml"}\n',
}


def _terraform_fmt(src: str) -> tuple[int, str]:
    env = dict(os.environ, TF_CLI_CONFIG_FILE=os.devnull, CHECKPOINT_DISABLE="1")
    p = subprocess.run([TERRAFORM, "fmt", "-no-color", "-"], input=src.encode("utf-8"),
                       capture_output=True, env=env, timeout=60)
    return p.returncode, p.stdout.decode("utf-8")


def _our_eof_rule(tf_out: str, src: str) -> str:
    """terraform keeps trailing blank lines/spaces at EOF; trainform ends with one newline."""
    nl = "\r\n" if "\r\n" in src else "\n"
    stripped = tf_out.rstrip(" \t\r\n")
    return stripped + nl if stripped else ""


# --------------------------------------------------------------------------- golden files

def test_golden_cases_exist():
    assert len(GOLDEN) >= 5


@pytest.mark.parametrize("name", GOLDEN)
def test_golden(name):
    src = _read(os.path.join(CASES_DIR, name + ".input"))
    want = _read(os.path.join(CASES_DIR, name + ".golden"))
    assert src != want
    assert format_source(src) == want
    assert format_source(want) == want
    assert is_formatted(want) and not is_formatted(src)


# --------------------------------------------------------------------------- terraform as oracle

def _need_terraform():
    if TERRAFORM is None:
        pytest.skip("terraform binary not found on PATH (used as the formatting oracle)")


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_terraform_fmt(name):
    _need_terraform()
    src = CASES[name]
    rc, want = _terraform_fmt(src)
    assert rc == 0, f"terraform rejected case {name}"
    assert format_source(src) == _our_eof_rule(want, src)


@pytest.mark.parametrize("name", GOLDEN)
def test_golden_inputs_match_terraform_fmt(name):
    _need_terraform()
    src = _read(os.path.join(CASES_DIR, name + ".input"))
    rc, want = _terraform_fmt(src)
    assert rc == 0
    assert format_source(src) == _our_eof_rule(want, src)


def test_perturbed_golden_matches_terraform():
    _need_terraform()
    rng = random.Random(7)
    for name in GOLDEN:
        src = _perturb(_read(os.path.join(CASES_DIR, name + ".golden")), rng)
        rc, want = _terraform_fmt(src)
        assert rc == 0, name
        assert format_source(src) == _our_eof_rule(want, src), name


# --------------------------------------------------------------------------- properties

@pytest.mark.parametrize("name", sorted(CASES))
def test_idempotent_on_cases(name):
    once = format_source(CASES[name])
    assert format_source(once) == once


def test_idempotent_on_examples():
    files = sorted(glob.glob(os.path.join(ROOT, "examples", "**", "*.hcl"), recursive=True))
    if not files:
        pytest.skip("no *.hcl files under examples/ yet")
    for path in files:
        once = format_source(_read(path), path)
        assert format_source(once, path) == once, path


def _perturb(text: str, rng: random.Random) -> str:
    """Add random horizontal whitespace where it is not significant (never inside
    strings, heredocs or comments, never joining two tokens)."""
    from engine.config import fmt

    toks = fmt._lex(text)
    out = []
    prev = None
    for t in toks:
        stringy = t.type in (fmt.QLIT, fmt.SLIT, fmt.CQUOTE, fmt.CHEREDOC, fmt.INTERP, fmt.CONTROL) or (
            prev is not None and prev.type in (fmt.OQUOTE, fmt.OHEREDOC, fmt.QLIT, fmt.SLIT, fmt.SEQEND))
        sp = t.sp
        if t.type == fmt.EOF:
            sp = 0
        elif not stringy and t.type != fmt.NL:
            sp += rng.choice((0, 0, 1, 2, 4)) if prev is not None and not fmt._is_newline(prev) else rng.randint(0, 7)
        out.append(" " * sp + t.text)
        prev = t
    return "".join(out)


@pytest.mark.parametrize("name", GOLDEN)
def test_horizontal_whitespace_never_matters(name):
    golden = _read(os.path.join(CASES_DIR, name + ".golden"))
    rng = random.Random(name)
    for _ in range(5):
        messy = _perturb(golden, rng)
        assert format_source(messy) == golden


# --------------------------------------------------------------------------- specific behaviour

def test_alignment_run_broken_by_blank_comment_and_block():
    src = "a = 1\nbbb = 2\n\ncc = 3\n# note\ndddd = 4\nblk {}\ne = 5\n"
    assert format_source(src) == "a   = 1\nbbb = 2\n\ncc = 3\n# note\ndddd = 4\nblk {}\ne = 5\n"


def test_heredoc_body_untouched():
    src = 'a {\nb = <<EOT\n   spaced    text   \n\tEOT not end\nEOT\n}\n'
    out = format_source(src)
    assert "   spaced    text   \n\tEOT not end\nEOT\n" in out
    assert out.startswith("a {\n  b = <<EOT\n")


def test_strings_untouched():
    src = 'a =   "x   =   y  # not a comment"\n'
    assert format_source(src) == 'a = "x   =   y  # not a comment"\n'


def test_syntax_error_returns_input_unchanged():
    for bad in ['a = [\n', 'a = "unterminated\n', 'a = <<EOT\nno end\n', 'a = 1 }\n', 'b {\n  c = \n}\n', 'x = @\n']:
        assert format_source(bad) == bad


def test_file_ends_with_one_newline_and_no_trailing_blanks():
    assert format_source("a = 1") == "a = 1\n"
    assert format_source("a = 1   \n\n\n") == "a = 1\n"
    assert format_source("a = 1 # note   \n/* x   \n y */\n") == "a = 1 # note\n/* x\n y */\n"
    assert format_source("") == ""
    assert format_source("\n\n  \n") == ""


def test_crlf_and_bom_preserved():
    assert format_source("a=1\r\nbb=2\r\n") == "a  = 1\r\nbb = 2\r\n"
    assert format_source("\ufeffa=1\n") == "\ufeffa = 1\n"


def test_labels_quoted_and_interpolation_unwrapped():
    src = 'variable x { type = "string" }\nvalue foo { input = "${var.x}" }\n'
    assert format_source(src) == 'variable "x" { type = string }\nvalue "foo" { input = var.x }\n'


def test_nested_unwrap_is_idempotent():
    # terraform needs two runs for this; we reach the fixed point at once
    assert format_source('a = "${"${var.a}"}"\n') == "a = var.a\n"


def test_multiline_unwrap_gets_parentheses():
    assert format_source('a = "${var.a ?\nvar.b : var.c}"\n') == "a = (var.a ?\nvar.b : var.c)\n"


# --------------------------------------------------------------------------- CLI

@pytest.fixture
def workdir(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "main.hcl").write_text("a=1\n")
    (tmp_path / "ok.hcl").write_text("b = 2\n")
    (tmp_path / "vars.tfvars").write_text("x=1\n")
    (tmp_path / "notes.txt").write_text("x=1\n")
    sub = tmp_path / "sub"
    sub.mkdir()
    (sub / "inner.hcl").write_text("c=3\n")
    return tmp_path


def _invoke(*args, input=None):
    return CliRunner().invoke(cli, list(args), input=input)


def test_cli_formats_directory_and_lists_changed_files(workdir):
    r = _invoke("fmt")
    assert r.exit_code == 0, r.output
    assert r.stdout.splitlines() == ["main.hcl", "vars.tfvars"]
    assert (workdir / "main.hcl").read_text() == "a = 1\n"
    assert (workdir / "vars.tfvars").read_text() == "x = 1\n"
    assert (workdir / "notes.txt").read_text() == "x=1\n"
    assert (workdir / "sub" / "inner.hcl").read_text() == "c=3\n"
    again = _invoke("fmt")
    assert again.exit_code == 0 and again.stdout == ""


def test_cli_recursive(workdir):
    r = _invoke("fmt", "--recursive")
    assert r.exit_code == 0
    assert os.path.join("sub", "inner.hcl") in r.stdout.splitlines()
    assert (workdir / "sub" / "inner.hcl").read_text() == "c = 3\n"


def test_cli_check_exits_3_and_writes_nothing(workdir):
    r = _invoke("fmt", "-check")
    assert r.exit_code == 3
    assert "main.hcl" in r.stdout
    assert (workdir / "main.hcl").read_text() == "a=1\n"
    (workdir / "main.hcl").write_text("a = 1\n")
    (workdir / "vars.tfvars").write_text("x = 1\n")
    assert _invoke("fmt", "--check").exit_code == 0


def test_cli_diff_and_write_false(workdir):
    r = _invoke("fmt", "-diff", "-write=false", "main.hcl")
    assert r.exit_code == 0
    assert "--- old/main.hcl\n+++ new/main.hcl\n" in r.stdout
    assert "-a=1\n+a = 1\n" in r.stdout
    assert (workdir / "main.hcl").read_text() == "a=1\n"


def test_cli_list_false_still_writes(workdir):
    r = _invoke("fmt", "--list=false", "main.hcl")
    assert r.exit_code == 0 and r.stdout == ""
    assert (workdir / "main.hcl").read_text() == "a = 1\n"


def test_cli_write_false_list_false_prints_result(workdir):
    r = _invoke("fmt", "-write=false", "-list=false", "main.hcl")
    assert r.exit_code == 0 and r.stdout == "a = 1\n"


def test_cli_stdin():
    r = _invoke("fmt", "-", input="a=1\nbb=2\n")
    assert r.exit_code == 0 and r.stdout == "a  = 1\nbb = 2\n"
    r = _invoke("fmt", "-check", "-", input="a=1\n")
    assert r.exit_code == 3 and r.stdout == ""


def test_cli_syntax_error_reports_location_and_exits_2(workdir):
    (workdir / "bad.hcl").write_text("a = 1\nb = [\n")
    r = _invoke("fmt")
    assert r.exit_code == 2
    assert "bad.hcl:" in r.stderr and "Error:" in r.stderr
    assert (workdir / "bad.hcl").read_text() == "a = 1\nb = [\n"
    assert (workdir / "main.hcl").read_text() == "a = 1\n"  # other files still formatted


def test_cli_rejects_unknown_extension_and_missing_file(workdir):
    r = _invoke("fmt", "notes.txt")
    assert r.exit_code == 2 and "Only .hcl and .tfvars" in r.stderr
    r = _invoke("fmt", "missing.hcl")
    assert r.exit_code == 2 and "No file or directory at missing.hcl" in r.stderr


def test_cli_keeps_file_mode(workdir):
    os.chmod(workdir / "main.hcl", 0o640)
    assert _invoke("fmt", "main.hcl").exit_code == 0
    assert os.stat(workdir / "main.hcl").st_mode & 0o777 == 0o640


def test_cli_subprocess(workdir):
    exe = shutil.which("trainform")
    cmd = [exe] if exe else [sys.executable, "-m", "engine.cli.main"]
    env = dict(os.environ, PYTHONPATH=ROOT)
    p = subprocess.run(cmd + ["fmt", "-check", "-no-color"], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 3, p.stderr
    assert "main.hcl" in p.stdout
    p = subprocess.run(cmd + ["-chdir=sub", "fmt"], capture_output=True, text=True, env=env, timeout=120)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "inner.hcl"
    assert (workdir / "sub" / "inner.hcl").read_text() == "c = 3\n"
