"""Differential test: trainform's evaluator vs ``terraform console`` (the oracle).

Each expression is evaluated by engine.config.expr and printed with
engine.config.format.format_value, then by Terraform 1.11; printed forms must
match, and an expression that fails in one must fail in the other.  Heredocs
and strip markers live in a locals file that both sides load (our parser reads
the same ``.tf`` text).  Skips when terraform is absent.
"""

from __future__ import annotations

import pytest

from tests import tfconsole

from engine.config.expr import EvalContext, evaluate
from engine.config.format import format_value
from engine.config.parser import parse_expression, parse_file

LOCALS_TF = '''
locals {
  plain = <<EOT
hello
  world ${1 + 1}
EOT
  flush = <<-EOT
    alpha
      beta
    ${"gamma"}
    EOT
  strip = <<-EOT
    %{ for x in [1, 2, 3] ~}
    item-${x}
    %{ endfor ~}
    done
    EOT
  escapes = "tab\\tquote\\" dollar $${x} percent %%{y} \\u00e9"
  m       = { b = 1, a = 2, c = 3 }
  l       = [{ id = "x", tags = ["a", "b"] }, { id = "y", tags = [] }]
  nested  = { a = { b = [10, 20, { c = "deep" }] } }
  n       = null
  blanks  = <<-EOT
      one

        two
      ${"three"}
    EOT
}
'''

EXPRESSIONS = [
    # literals and arithmetic
    "1", "1.5", "-3", "1e3", "1.23456789e2", "0.000001", "123456789012345678901234567890",
    "1 + 2 * 3", "(1 + 2) * 3", "10 - 2 - 3", "2 * 3 % 4", "-7 % 3", "7 % -3", "5.5 % 2",
    "0.1 + 0.2", "0.1 * 3", "3 - 0.1", "10 / 4", "9 / 3", "2 / 3 * 3", "1 / 0", "-1 / 0", "0 / 0",
    "-(1 + 2)", "!true", "!false || false", "true && false || true", "!(1 < 2)",
    # comparison, equality, conversions
    "1 < 2", "2 <= 2", "\"10\" > \"9\"", "1 == 1.0", "1 == \"1\"", "\"a\" == \"a\"", "[1, 2] == [1, 2]",
    "{a = 1} == {a = 1}", "{a = 1} != {a = 2}", "null == null", "tolist([1]) == [1]", "\"1\" + 1",
    "\"true\" && true", "\"a\" + 1", "true + 1", "true && 1", "1 + null", "null + 1", "!\"x\"",
    # strings and templates
    "\"a${1 + 1}b\"", "\"${1}\"", "\"${true}\"", "\"a${true}\"", "\"x${null}\"", "\"x${[1]}\"",
    "\"%{if true}yes%{else}no%{endif}\"", "\"%{if false}yes%{endif}!\"", "\"x%{for v in [1, 2]}${v},%{endfor}\"",
    "\"%{for k, v in {b = 1, a = 2}}${k}=${v};%{endfor}\"", "\"  ${~ 1 ~}  \"", "\"$${x}\"", "\"%%{x}\"",
    "\"\\u00e9\\t\"", "local.plain", "local.flush", "local.strip", "local.escapes",
    # collections, indexing, attributes
    "[1, \"a\", true]", "{a = 1, b = \"x\"}", "{\"k\" = 1}", "{(\"a\") = 1}", "[1, 2][1]", "[1, 2].0",
    "{a = {b = 1}}.a.b", "{a = 1}[\"a\"]", "local.nested.a.b[2].c", "local.nested[\"a\"][\"b\"][0]",
    "{a = 1}.b", "[1][3]", "[1][\"x\"]", "\"abc\"[0]", "local.n.a", "local.n[0]", "local.m.z",
    # conditionals
    "true ? 1 : 2", "false ? \"a\" : \"b\"", "true ? 1 : \"a\"", "false ? 1 : true", "true ? [1, 2] : []",
    "true ? {a = 1} : {b = 2}", "true ? 1 : null", "null ? 1 : 2", "1 < 2 ? \"lt\" : \"ge\"",
    "true ? local.m : {}",
    # for expressions
    "[for x in [1, 2, 3] : x * 2]", "[for i, x in [\"a\", \"b\"] : \"${i}${x}\"]",
    "[for k, v in local.m : k]", "[for k, v in local.m : v if v > 1]", "{for k, v in local.m : v => k}",
    "{for x in [\"a\", \"b\"] : x => upper(x)}", "{for x in [\"a\", \"a\"] : x => 1}",
    "{for x in [\"a\", \"a\", \"b\"] : x => 1...}", "[for x in null : x]", "[for x in \"s\" : x]",
    "[for x in toset([\"b\", \"a\"]) : x]", "[for x in [1, 2] : x if x]",
    # splats
    "local.l[*].id", "local.l.*.id", "local.l[*].tags[0]", "null[*]", "\"a\"[*]", "{a = 1}[*]",
    "[{a = 1}, {a = 2}][*].a", "local.l[*].missing",
    # functions, try, can
    "length(\"abc\")", "max([1, 2]...)", "upper(\"a\")", "upperr(\"a\")", "max()", "length(\"a\", \"b\")",
    "try({}.a, 2)", "try({}.a, {}.b)", "can({}.a)", "can(1)", "can(1 / 0)", "try(local.n.x, \"dflt\")",
    "format(\"%d-%s\", 1, \"a\")", "join(\",\", [for x in [1, 2] : tostring(x)])",
    # unknown names, nested splats, numeric corner cases
    "nope", "local.missing", "[{a = [{b = 1}, {b = 2}]}][*].a[*].b", "local.blanks",
    "1 / 3", "-0", "1.5e300 * 1e300",
]

# Terraform computes with 512-bit binary floats; we use exact decimals.  They
# print identically except for non-terminating results like these.
KNOWN_DIFFERENCES = {
    "1 / 3": "last digit of a 156-digit expansion (binary rounding)",
    "-0": "Terraform keeps a negative zero",
    "1.5e300 * 1e300": "Terraform rounds a 600-digit product to 512 bits",
}


def _our_eval(exprs: list[str], tmp_path) -> list[tuple[bool, str]]:
    tf = tmp_path / "locals.tf"
    tf.write_text(LOCALS_TF)
    body, diags = parse_file(str(tf))
    assert not diags, diags
    block = body.blocks[0]
    base = EvalContext({})
    local_values = {}
    for name, attr in block.body.attributes.items():
        v, d = evaluate(attr.expr, base)
        assert not d, (name, d)
        local_values[name] = v
    ctx = EvalContext({"local": local_values})
    out = []
    for text in exprs:
        expr, d = parse_expression(text)
        if d:
            out.append((False, d[0].summary))
            continue
        v, d = evaluate(expr, ctx)
        out.append((False, f"{d[0].summary}: {d[0].detail}") if d else (True, format_value(v)))
    return out


def test_against_terraform_console(tmp_path):
    if not tfconsole.available():
        pytest.skip("terraform binary not available")
    theirs = tfconsole.terraform_console(EXPRESSIONS, files={"locals.tf": LOCALS_TF})
    ours = _our_eval(EXPRESSIONS, tmp_path)
    mismatches = []
    agree = 0
    for text, (tok, tout), (ook, oout) in zip(EXPRESSIONS, theirs, ours):
        if text in KNOWN_DIFFERENCES:
            continue
        if tok != ook or (tok and tfconsole.untype_nulls(tout) != oout):
            mismatches.append(f"{text!r}:\n  terraform: {tok} {tout!r}\n  trainform: {ook} {oout!r}")
        else:
            agree += 1
    print(f"agreement: {agree}/{len(EXPRESSIONS) - len(KNOWN_DIFFERENCES)}")
    assert not mismatches, f"{len(mismatches)} mismatches ({agree} agree):\n" + "\n".join(mismatches)
