"""Parser: structure, exact ranges, HCL-style syntax errors, templates, cache."""

from __future__ import annotations

import os

import pytest

from engine.config import ast
from engine.config import parser
from engine.config.parser import parse_expression, parse_file, parse_template

SRC = '''# leading comment
variable "x" {
  type    = string // trailing comment
  default = "a${1 + 2}b"
}

/* block
   comment */
value "a" {
  input = {
    list = [for k, v in var.m : "${k}=${v}" if v != null]
    "q"  = value.b[0].output
  }
  nested {
    deep = true
  }
}
locals { one = 1 }
'''


def parse(src=SRC, name="main.hcl"):
    body, diags = parse_file(name, src)
    return body, diags


def test_structure_and_labels():
    body, diags = parse()
    assert not diags
    assert [(b.type, b.labels) for b in body.blocks] == [("variable", ["x"]), ("value", ["a"]), ("locals", [])]
    assert list(body.blocks[0].body.attributes) == ["type", "default"]
    value = body.blocks[1]
    assert value.body.blocks[0].type == "nested"
    assert "deep" in value.body.blocks[0].body.attributes
    assert body.blocks[2].body.attributes["one"].expr.value == 1


def test_exact_ranges():
    body, _ = parse()
    var = body.blocks[0]
    assert (var.range.start.line, var.range.start.column) == (2, 1)
    assert (var.range.end.line, var.range.end.column) == (5, 2)
    assert (var.label_ranges[0].start.column, var.label_ranges[0].end.column) == (10, 13)
    default = var.body.attributes["default"]
    assert (default.name_range.start.line, default.name_range.start.column) == (4, 3)
    tmpl = default.expr
    assert isinstance(tmpl, ast.TemplateExpr)
    binop = tmpl.parts[1]
    assert isinstance(binop, ast.BinaryOp)
    assert (binop.range.start.line, binop.range.start.column, binop.range.end.column) == (4, 17, 22)
    assert SRC[binop.range.start.byte:binop.range.end.byte] == "1 + 2"
    q = body.blocks[1].body.attributes["input"].expr.items[1][1]
    assert isinstance(q, ast.ScopeTraversal)
    assert SRC[q.range.start.byte:q.range.end.byte] == "value.b[0].output"
    assert q.steps == (("attr", "b"), ("index", 0), ("attr", "output"))


def test_references_exclude_for_symbols():
    body, _ = parse()
    refs = body.blocks[1].body.attributes["input"].expr.references()
    assert [str(r) for r in refs] == ["var.m", "value.b[0].output"]


@pytest.mark.parametrize("src,summary,line,col", [
    ("a = 1 b = 2\n", "Missing newline after argument", 1, 7),
    ("block {\n  a = 1\n", "Unclosed configuration block", 1, 7),
    ("x = \"abc\n", "Invalid multi-line string", 1, 9),
    ("x = \"abc", "Unterminated template string", 1, 5),
    ("= 1\n", "Argument or block definition required", 1, 1),
    ("a = $\n", "Invalid character", 1, 5),
    ("a = \n", "Invalid expression", 1, 5),
    ("a = 1\nb = (1 + \n", "Invalid expression", 3, 1),
    ("a = [1 2]\n", "Missing item separator", 1, 8),
    ("a = {x = 1 y = 2}\n", "Missing attribute separator", 1, 12),
    ("b \"x\" y\n", "Invalid block definition", 1, 8),
    ("b {\n  a = 1 }\n", "Missing newline after argument", 2, 9),
    ("a = \"\\q\"\n", "Invalid escape sequence", 1, 6),
    ("a = \"%{if true}x\"\n", "Unterminated template if directive", 1, 6),
    ("a = \"${1\"\n", "Extra characters after interpolation expression", 1, 9),
    ("a = 1\na = 2\n", "Attribute redefined", 2, 1),
])
def test_syntax_errors_are_diagnostics(src, summary, line, col):
    body, diags = parse_file("bad.hcl", src)
    assert diags and diags[0].severity == "error"
    d = diags[0]
    assert d.summary == summary
    assert (d.range.filename, d.range.start.line, d.range.start.column) == ("bad.hcl", line, col)


def test_file_errors(tmp_path):
    bad = tmp_path / "latin1.hcl"
    bad.write_bytes(b'a = "caf\xe9"\n')
    body, diags = parse_file(str(bad))
    assert body is None and diags[0].summary == "Invalid file encoding" and str(bad) in diags[0].detail
    body, diags = parse_file(str(tmp_path / "missing.hcl"))
    assert body is None and diags[0].summary == "Failed to read file"


def test_single_line_blocks():
    body, diags = parse_file("a.hcl", 'python { user_managed_dependencies = true }\nempty {}\n')
    assert not diags
    assert body.blocks[0].body.attributes["user_managed_dependencies"].expr.value is True
    _, diags = parse_file("a.hcl", "b { x = 1, y = 2 }\n")
    assert diags[0].summary == "Invalid single-argument block definition"


def test_identifiers_with_dashes_and_subtraction():
    e, d = parse_expression("compute.gpu-cluster.id")
    assert not d and e.steps == (("attr", "gpu-cluster"), ("attr", "id"))
    e, d = parse_expression("a - b")
    assert isinstance(e, ast.BinaryOp) and e.op == "-"


def test_precedence_shape():
    e, _ = parse_expression("!a || b && c == d + e * -f ? 1 : 2")
    assert isinstance(e, ast.Conditional)
    c = e.condition
    assert c.op == "||" and isinstance(c.left, ast.UnaryOp)
    assert c.right.op == "&&" and c.right.right.op == "=="
    add = c.right.right.right
    assert add.op == "+" and add.right.op == "*" and isinstance(add.right.right, ast.UnaryOp)


def test_newlines_inside_brackets_but_not_attribute_values():
    body, d = parse_file("a.hcl", "a = [\n  1,\n  2,\n]\nb = f(\n 1,\n 2)\nc = {\n x = 1\n y = 2\n}\n")
    assert not d and len(body.attributes["a"].expr.items) == 2 and len(body.attributes["c"].expr.items) == 2
    _, d = parse_file("a.hcl", "a = 1 +\n 2\n")
    assert d and d[0].summary == "Invalid expression"


def test_heredocs_and_escapes():
    src = 'a = <<EOT\n  x ${y}\n$${lit} %%{lit}\nEOT\nb = <<-EOT\n    one\n      two\n    EOT\nc = "\\t\\"\\u00e9$${z}"\n'
    body, d = parse_file("h.hcl", src)
    assert not d
    a = body.attributes["a"].expr
    assert a.parts[0].value == "  x " and a.parts[2].value == "\n${lit} %{lit}\n"
    assert body.attributes["b"].expr.parts[0].value == "one\n  two\n"
    assert body.attributes["c"].expr.parts[0].value == '\t"\u00e9${z}'


def test_template_directives_and_strip_markers():
    e, d = parse_expression('"a ${~ x ~} b %{ if c }yes%{ else }no%{ endif }%{for k, v in m}${k}%{endfor}"')
    assert not d
    lit, interp, lit2, tif, tfor = e.parts
    assert lit.value == "a" and lit2.value == "b "
    assert isinstance(tif, ast.TemplateIf) and tif.false_part.parts[0].value == "no"
    assert isinstance(tfor, ast.TemplateFor) and (tfor.key_var, tfor.value_var) == ("k", "v")
    assert sorted(str(r) for r in e.references()) == ["c", "m", "x"]
    e, d = parse_expression('"${x}"')
    assert isinstance(e, ast.TemplateWrap)


def test_parse_template_whole_text():
    e, d = parse_template('Hello ${name}!\n%{ for x in xs ~}\n- ${x}\n%{ endfor ~}\n\\n stays\n', "t.tpl")
    assert not d
    assert e.parts[0].value == "Hello " and isinstance(e.parts[3], ast.TemplateFor)
    assert e.parts[-1].value == "\\n stays\n"
    _, d = parse_template("oops ${", "t.tpl")
    assert d and d[0].range.filename == "t.tpl"


def test_splats_and_legacy_index():
    e, _ = parse_expression("a[*].b[0].c")
    assert isinstance(e, ast.Splat) and e.full and isinstance(e.each, ast.RelativeTraversal)
    e, _ = parse_expression("a.*.b[0]")
    assert isinstance(e, ast.RelativeTraversal) and isinstance(e.source, ast.Splat) and not e.source.full
    e, _ = parse_expression("a.0.1")
    assert e.steps == (("index", 0), ("index", 1))
    e, _ = parse_expression("x[*].a[*].b")
    assert isinstance(e.each, ast.Splat)


def test_parse_expression_extra_tokens():
    e, d = parse_expression("1 2")
    assert e is None and d[0].summary == "Extra characters after expression"


def test_cache_hit_skips_parsing(tmp_path, monkeypatch):
    f = tmp_path / "main.hcl"
    f.write_text(SRC)
    cache = tmp_path / "cache"
    body1, d = parse_file(str(f), cache_dir=str(cache))
    assert not d and len(os.listdir(cache)) == 1

    def boom(*a, **k):
        raise AssertionError("parsed despite a cache hit")

    monkeypatch.setattr(parser, "parse_text", boom)
    body2, d = parse_file(str(f), cache_dir=str(cache))
    assert not d and body2 == body1
    # changed content misses the cache
    f.write_text(SRC + "x = 1\n")
    with pytest.raises(AssertionError):
        parse_file(str(f), cache_dir=str(cache))


def test_errors_are_not_cached(tmp_path):
    cache = tmp_path / "cache"
    body, d = parse_file("bad.hcl", "a = \n", cache_dir=str(cache))
    assert body is None and d
    assert not cache.exists() or not os.listdir(cache)
