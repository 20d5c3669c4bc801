"""Differential test: built-in function calls vs ``terraform console``.

Each expression in _fn_table.EXPRS is evaluated by trainform (parsed with
engine.config.parser; literals and calls evaluated by the small evaluator
below, or by engine.config.expr when it exposes ``evaluate``) and by the real
terraform 1.11 binary (tests/tfconsole.py, cached on disk).  A case agrees
when both print the same text (format_value) or both fail.
"""

from __future__ import annotations

import os
import sys

import pytest

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
sys.path.insert(0, os.path.dirname(__file__))

import tfconsole  # noqa: E402
from _fn_table import EXPRS, FILES  # noqa: E402

from engine.config.format import format_value  # noqa: E402
from engine.config.functions import FUNCTIONS, CallContext, FunctionError  # noqa: E402
from engine.config.types import ConversionError, to_string  # noqa: E402

# Differences we accept, with the reason (kept small and explained).
KNOWN_DIFFS = {
    # Go's deflate chooses other back-references than zlib on longer inputs; both
    # outputs are valid gzip of the same bytes (short inputs match exactly).
    'base64gzip("hello world hello world hello world")': "Go deflate vs zlib bytes",
    # the oracle's pseudo-terminal turns the printed "\r\n" into "\n"; not a trainform difference
    '"cr\\r\\nlf"': "pty line discipline rewrites CR LF",
}


class _EvalFailure(Exception):
    pass


def _mini_eval(node, ctx):
    from engine.config import ast
    if isinstance(node, ast.Literal):
        return node.value
    if isinstance(node, ast.TemplateExpr):
        return "".join(to_string(_mini_eval(p, ctx)) for p in node.parts)
    if isinstance(node, ast.TemplateWrap):
        return _mini_eval(node.wrapped, ctx)
    if isinstance(node, ast.TupleCons):
        return [_mini_eval(i, ctx) for i in node.items]
    if isinstance(node, ast.ObjectCons):
        out = {}
        for k, v in node.items:
            kw = k.wrapped if isinstance(k, ast.ObjectKey) else k
            if isinstance(kw, ast.ScopeTraversal) and not kw.steps:
                key = kw.root
            else:
                key = to_string(_mini_eval(kw, ctx))
            out[key] = _mini_eval(v, ctx)
        return out
    if isinstance(node, ast.UnaryOp) and node.op == "-":
        return -_mini_eval(node.operand, ctx)
    if isinstance(node, ast.ScopeTraversal) and not node.steps and node.root == "null":
        return None
    if isinstance(node, ast.FunctionCall):
        fn = FUNCTIONS.get(node.name)
        if fn is None:
            raise _EvalFailure(f"Call to unknown function {node.name}")
        args = [_mini_eval(a, ctx) for a in node.args]
        return fn.call(args, ctx)
    raise _EvalFailure(f"unsupported node {type(node).__name__}")


def _full_evaluator():
    try:
        from engine.config.expr import EvalContext, evaluate
    except ImportError:
        return None
    return EvalContext, evaluate


def trainform_eval(expr: str, base_dir: str, use_evaluator: bool = True) -> tuple[bool, str]:
    """Evaluate with engine.config.expr when it exists (end to end), else with _mini_eval."""
    from engine.config.parser import parse_expression
    node, diags = parse_expression(expr)
    if node is None or diags.has_errors:
        return False, "; ".join(d.summary for d in diags)
    full = _full_evaluator() if use_evaluator else None
    old = os.getcwd()
    os.chdir(base_dir)
    try:
        if full is not None:
            EvalContext, evaluate = full
            value, diags = evaluate(node, EvalContext(base_dir=base_dir))
            if diags.has_errors:
                return False, "; ".join(f"{d.summary}: {d.detail}" for d in diags)
        else:
            value = _mini_eval(node, CallContext(base_dir))
    except (FunctionError, ConversionError, _EvalFailure) as e:
        return False, str(e)
    finally:
        os.chdir(old)
    return True, format_value(value)


@pytest.fixture(scope="module")
def oracle():
    if not tfconsole.available():
        pytest.skip("terraform binary not available")
    return dict(zip(EXPRS, tfconsole.terraform_console(EXPRS, FILES)))


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("fnfiles")
    for name, content in FILES.items():
        p = d / name
        p.parent.mkdir(parents=True, exist_ok=True)
        p.write_text(content)
    return str(d)


def test_table_is_large_enough():
    assert len(EXPRS) >= 150
    assert len(set(EXPRS)) == len(EXPRS)


def _compare(expr, oracle, workdir, use_evaluator=True):
    want_ok, want = oracle[expr]
    got_ok, got = trainform_eval(expr, workdir, use_evaluator)
    if not got_ok and "templates are not supported" in got:
        return "skip", want, got
    if want_ok != got_ok:
        return "mismatch", want, got
    if want_ok and tfconsole.untype_nulls(want) != got:  # typed nulls print as plain null here
        return "mismatch", want, got
    return "agree", want, got


@pytest.mark.parametrize("expr", EXPRS)
def test_function_matches_terraform(expr, oracle, workdir):
    """End to end through the parser and evaluator (when present)."""
    status, want, got = _compare(expr, oracle, workdir)
    if status == "skip":
        pytest.skip("templatefile needs engine.config.expr")
    if expr in KNOWN_DIFFS:
        pytest.xfail(KNOWN_DIFFS[expr])
    assert status == "agree", f"\nterraform: {want}\ntrainform: {got}"


@pytest.mark.parametrize("expr", EXPRS)
def test_function_matches_terraform_direct(expr, oracle, workdir):
    """The functions alone (literal arguments evaluated by _mini_eval)."""
    status, want, got = _compare(expr, oracle, workdir, use_evaluator=False)
    if status == "skip":
        pytest.skip("templatefile needs engine.config.expr")
    if expr in KNOWN_DIFFS:
        pytest.xfail(KNOWN_DIFFS[expr])
    assert status == "agree", f"\nterraform: {want}\ntrainform: {got}"


if __name__ == "__main__":  # summary: python tests/unit/test_tf_diff_functions.py
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for name, content in FILES.items():
            p = os.path.join(d, name)
            os.makedirs(os.path.dirname(p), exist_ok=True)
            open(p, "w").write(content)
        orc = dict(zip(EXPRS, tfconsole.terraform_console(EXPRS, FILES)))
        for mode in (False, True):
            counts = {"agree": 0, "mismatch": 0, "skip": 0}
            for e in EXPRS:
                st, want, got = _compare(e, orc, d, mode)
                counts[st] += 1
                if st != "agree":
                    print(f"--- {st}: {e}\n  tf: {want!r}\n  tr: {got!r}")
            print("evaluator" if mode else "direct", counts)
