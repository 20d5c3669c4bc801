"""Evaluation of expression trees (engine.config.ast) with Terraform 1.11 semantics.

``evaluate(expr, ctx)`` returns ``(value, diagnostics)``; on error the value is
:data:`~engine.values.UNKNOWN` and the diagnostic carries the range of the
offending sub-expression.  Internally an error unwinds as :class:`EvalError`,
which is also how ``try()``/``can()`` observe failures of their arguments.

Values are plain Python data (see engine.values); numbers are ``int`` when
integral and ``decimal.Decimal`` otherwise, computed exactly (``0.1 + 0.2`` is
``0.3``) like Terraform's big floats.  Unknowns propagate through every
operation; a result computed from a :class:`~engine.values.Sensitive` value is
itself sensitive.
"""

from __future__ import annotations

import decimal
import difflib
from decimal import Decimal
from typing import Any

from engine.config import ast
from engine.config import types as T
from engine.diagnostics import Diagnostic, Diagnostics, Range, error
from engine.values import (
    UNKNOWN,
    Sensitive,
    TList,
    TMap,
    TSet,
    Unknown,
    contains_unknown,
)

__all__ = ["EvalContext", "EvalError", "can_function", "evaluate", "evaluate_or_raise", "try_function"]

# Terraform's numbers are 512-bit binary floats (about 154 significant digits);
# rounding every result to 156 significant decimal digits prints the same in all
# but contrived cases (2/3*3 is 2, 0.1+0.2 is 0.3) while keeping decimals exact.
_DIV_CONTEXT = decimal.Context(prec=156, Emax=10**9, Emin=-10**9)
_EXACT_CONTEXT = _DIV_CONTEXT


class EvalError(Exception):
    """An evaluation failure carrying its diagnostic (internal unwinding and try/can)."""

    def __init__(self, diag: Diagnostic) -> None:
        super().__init__(diag.summary)
        self.diag = diag


def _fail(summary: str, detail: str, rng: Range | None):
    raise EvalError(error(summary, detail, rng))


class EvalContext:
    """Names, functions and the base directory an expression is evaluated against.

    ``variables`` maps root names ("var", "local", "each", "count", "path",
    "module", resource type names, for-expression symbols) to values.
    """

    __slots__ = ("_functions", "base_dir", "splat_item", "variables")

    def __init__(self, variables: dict[str, Any] | None = None, functions: dict | None = None,
                 base_dir: str = ".") -> None:
        self.variables = variables if variables is not None else {}
        self._functions = functions
        self.base_dir = base_dir
        self.splat_item: Any = None

    @property
    def functions(self) -> dict:
        if self._functions is None:
            from engine.config.functions import FUNCTIONS
            self._functions = FUNCTIONS
        return self._functions

    @functions.setter
    def functions(self, value: dict) -> None:
        self._functions = value

    def child(self, **extra_vars: Any) -> EvalContext:
        """A nested scope (for-expressions) seeing ``extra_vars`` on top of ours."""
        c = EvalContext({**self.variables, **extra_vars}, self._functions, self.base_dir)
        c.splat_item = self.splat_item
        return c


def evaluate(expr: ast.Expression, ctx: EvalContext | None = None) -> tuple[Any, Diagnostics]:
    """Evaluate ``expr``; errors become diagnostics and the value UNKNOWN."""
    diags = Diagnostics()
    try:
        return _eval(expr, ctx if ctx is not None else EvalContext()), diags
    except EvalError as e:
        diags.append(e.diag)
        return UNKNOWN, diags
    except RecursionError:
        diags.error("Expression too complex", "Evaluating this expression exceeded the nesting limit.", expr.range)
        return UNKNOWN, diags


def evaluate_or_raise(expr: ast.Expression, ctx: EvalContext) -> Any:
    """Like :func:`evaluate` but raises :class:`EvalError` (for callers that unwind)."""
    return _eval(expr, ctx)


# --------------------------------------------------------------------------- helpers


def _unmark(v: Any) -> tuple[Any, bool]:
    if isinstance(v, Sensitive):
        return v.value, True
    return v, False


def _mark(v: Any, sensitive: bool) -> Any:
    if sensitive and not isinstance(v, (Sensitive, Unknown)):
        return Sensitive(v)
    return v


def _type_name(v: Any) -> str:
    return T.friendly_name(T.type_of(v))


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def _norm(n: Any) -> Any:
    if isinstance(n, Decimal):
        if not n.is_finite():
            return n
        if n == n.to_integral_value():
            return int(n)
        return n.normalize(_EXACT_CONTEXT) if n.adjusted() > -30 else n
    return T.norm_number(n)


def _dec(n: Any) -> Decimal:
    if isinstance(n, Decimal):
        return n
    if isinstance(n, float):
        return Decimal(repr(n))
    return Decimal(n)


def _range_text(r: Range | None) -> str:
    if r is None:
        return "?"
    if r.start.line == r.end.line:
        return f"{r.filename}:{r.start.line},{r.start.column}-{r.end.column}"
    return f"{r.filename}:{r.start.line},{r.start.column}-{r.end.line},{r.end.column}"


# --------------------------------------------------------------------------- dispatch


def _eval(expr: ast.Expression, ctx: EvalContext) -> Any:
    fn = _DISPATCH.get(type(expr))
    if fn is None:
        raise TypeError(f"cannot evaluate {type(expr).__name__}")
    return fn(expr, ctx)


def _eval_literal(e: ast.Literal, ctx: EvalContext) -> Any:
    return e.value


def _eval_scope_traversal(e: ast.ScopeTraversal, ctx: EvalContext) -> Any:
    variables = ctx.variables
    if e.root not in variables:
        _fail("Unknown variable", f'There is no variable named "{e.root}".', _root_range(e))
    v = variables[e.root]
    return _apply_steps(v, e.steps, e.step_ranges, e.range)


def _root_range(e: ast.ScopeTraversal) -> Range:
    if e.step_ranges:
        return Range(e.range.filename, e.range.start, e.step_ranges[0].start)
    return e.range


def _eval_relative(e: ast.RelativeTraversal, ctx: EvalContext) -> Any:
    return _apply_steps(_eval(e.source, ctx), e.steps, e.step_ranges, e.range)


def _apply_steps(v: Any, steps: tuple, step_ranges: tuple, whole: Range) -> Any:
    sensitive = False
    for i, (kind, key) in enumerate(steps):
        rng = step_ranges[i] if i < len(step_ranges) else whole
        if isinstance(v, Sensitive):
            v, sensitive = v.value, True
        if isinstance(v, Unknown):
            return UNKNOWN
        if kind == "attr":
            v = _get_attr(v, key, rng)
        else:
            v = _index(v, key, rng)
    return _mark(v, sensitive)


def _get_attr(v: Any, name: str, rng: Range) -> Any:
    if v is None:
        _fail("Attempt to get attribute from null value", "This value is null, so it does not have any attributes.", rng)
    if isinstance(v, TMap):
        if name not in v:
            _fail("Missing map element", f'This map does not have an element with the key "{name}".', rng)
        return v[name]
    if isinstance(v, dict):
        if name not in v:
            _fail("Unsupported attribute", f'This object does not have an attribute named "{name}".', rng)
        return v[name]
    if isinstance(v, (list, tuple)):
        _fail("Unsupported attribute",
              "Can't access attributes on a list of objects. Did you mean to access attribute "
              f'"{name}" for a specific element of the list, or across all elements of the list?'
              if v and all(isinstance(_unmark(x)[0], dict) for x in v) else
              f"Can't access attributes on a {'set' if isinstance(v, TSet) else 'list'} value.", rng)
    _fail("Unsupported attribute", f"Can't access attributes on a primitive-typed value ({_type_name(v)}).", rng)


def _index(coll: Any, key: Any, rng: Range) -> Any:
    key, ks = _unmark(key)
    if isinstance(coll, Sensitive):
        coll, cs = coll.value, True
    else:
        cs = False
    if isinstance(coll, Unknown) or isinstance(key, Unknown):
        return UNKNOWN
    if coll is None:
        _fail("Attempt to index null value", "This value is null, so it does not have any indices.", rng)
    if key is None:
        _fail("Invalid index", "Can't use a null value as an indexing key.", rng)
    if isinstance(coll, TSet):
        _fail("Invalid index",
              "Elements of a set are identified only by their value and don't have any separate index or key to "
              "select with, so it's only possible to perform operations across all elements of the set.", rng)
    if isinstance(coll, (list, tuple)):
        try:
            n = T.to_number(key)
        except T.ConversionError:
            _fail("Invalid index", "The given key does not identify an element in this collection value: "
                                   "a number is required.", rng)
        if not isinstance(n, int) or n < 0 or n >= len(coll):
            _fail("Invalid index", "The given key does not identify an element in this collection value.", rng)
        return _mark(coll[n], cs or ks)
    if isinstance(coll, dict):
        if isinstance(key, (dict, list)):
            _fail("Invalid index", "The given key does not identify an element in this collection value: "
                                   "string required.", rng)
        k = T.to_string(key)
        if k not in coll:
            _fail("Invalid index", "The given key does not identify an element in this collection value.", rng)
        return _mark(coll[k], cs or ks)
    _fail("Invalid index", "This value does not have any indices.", rng)


def _eval_index(e: ast.Index, ctx: EvalContext) -> Any:
    coll = _eval(e.collection, ctx)
    key = _eval(e.key, ctx)
    return _index(coll, key, e.bracket_range or e.range)


def _eval_splat_item(e: ast.SplatItem, ctx: EvalContext) -> Any:
    return ctx.splat_item


def _eval_splat(e: ast.Splat, ctx: EvalContext) -> Any:
    src, sensitive = _unmark(_eval(e.source, ctx))
    if isinstance(src, Unknown):
        return UNKNOWN
    if src is None:
        return []
    if isinstance(src, (TList, TSet)):
        items, out_cls = list(src), TList
    elif isinstance(src, (list, tuple)):
        items, out_cls = src, list
    else:
        items, out_cls = [src], list
    sub = EvalContext(ctx.variables, ctx._functions, ctx.base_dir)
    out = []
    for item in items:
        sub.splat_item = item
        out.append(_eval(e.each, sub))
    result = TList(out) if out_cls is TList else out
    return _mark(result, sensitive)


# --------------------------------------------------------------------------- operators


def _to_number(v: Any) -> Any:
    # numbers pass through untouched: types.to_number normalises with only 28 digits
    if _is_num(v):
        return v
    return T.to_number(v)


def _operand(v: Any, conv, what: str, side: str, rng: Range, op_range: Range) -> Any:
    if v is None:
        _fail("Operation failed", "Error during operation: argument must not be null.", op_range)
    try:
        return conv(v)
    except T.ConversionError:
        _fail("Invalid operand", f"Unsuitable value for {side} operand: {what}.", rng)


def _eval_unary(e: ast.UnaryOp, ctx: EvalContext) -> Any:
    v, s = _unmark(_eval(e.operand, ctx))
    if isinstance(v, Unknown):
        return UNKNOWN
    if e.op == "!":
        b = _operand(v, T.to_bool, "bool required", "right", e.operand.range, e.range)
        return _mark(not b, s)
    n = _operand(v, _to_number, "a number is required", "right", e.operand.range, e.range)
    return _mark(_norm(-n) if not isinstance(n, int) else -n, s)


def _arith(op: str, a: Any, b: Any, rng: Range) -> Any:
    if isinstance(a, int) and isinstance(b, int):
        if op == "+":
            return a + b
        if op == "-":
            return a - b
        if op == "*":
            return a * b
        if op == "%":
            if b == 0:
                return a
            r = abs(a) % abs(b)
            return -r if a < 0 else r
    da, db = _dec(a), _dec(b)
    if op == "/":
        if db == 0:
            if da == 0:
                _fail("Operation failed",
                      "Error during operation: can't divide zero by zero or infinity by infinity.", rng)
            return Decimal("Infinity") if da > 0 else Decimal("-Infinity")
        if da.is_infinite() and db.is_infinite():
            _fail("Operation failed", "Error during operation: can't divide zero by zero or infinity by infinity.", rng)
        if isinstance(a, int) and isinstance(b, int) and a % b == 0:
            return a // b
        return _norm(_DIV_CONTEXT.divide(da, db))
    try:
        if op == "+":
            r = _EXACT_CONTEXT.add(da, db)
        elif op == "-":
            r = _EXACT_CONTEXT.subtract(da, db)
        elif op == "*":
            r = _EXACT_CONTEXT.multiply(da, db)
        else:  # "%": truncated remainder with the dividend's sign, like Go's big.Float
            if db == 0:
                return _norm(da)
            r = _EXACT_CONTEXT.remainder(da, db)
    except decimal.InvalidOperation:
        _fail("Operation failed", "Error during operation: the result is not a number.", rng)
    return _norm(r)


_COMPARE = {"<": lambda a, b: a < b, "<=": lambda a, b: a <= b, ">": lambda a, b: a > b, ">=": lambda a, b: a >= b}


def _eval_binary(e: ast.BinaryOp, ctx: EvalContext) -> Any:
    op = e.op
    left = _eval(e.left, ctx)
    right = _eval(e.right, ctx)
    if op == "==" or op == "!=":
        r = _equals(left, right)
        if isinstance(r, Unknown):
            return UNKNOWN
        res, s = _unmark(r)
        return _mark(res if op == "==" else not res, s)
    lv, ls = _unmark(left)
    rv, rs = _unmark(right)
    s = ls or rs
    if op == "&&" or op == "||":
        lb = UNKNOWN if isinstance(lv, Unknown) else _operand(lv, T.to_bool, "bool required", "left", e.left.range, e.range)
        rb = UNKNOWN if isinstance(rv, Unknown) else _operand(rv, T.to_bool, "bool required", "right", e.right.range, e.range)
        if op == "&&":
            if lb is False or rb is False:
                return _mark(False, s)
            if isinstance(lb, Unknown) or isinstance(rb, Unknown):
                return UNKNOWN
            return _mark(True, s)
        if lb is True or rb is True:
            return _mark(True, s)
        if isinstance(lb, Unknown) or isinstance(rb, Unknown):
            return UNKNOWN
        return _mark(False, s)
    # arithmetic and comparison: number operands
    ln = UNKNOWN if isinstance(lv, Unknown) else _operand(lv, _to_number, "a number is required", "left", e.left.range, e.range)
    rn = UNKNOWN if isinstance(rv, Unknown) else _operand(rv, _to_number, "a number is required", "right", e.right.range, e.range)
    if isinstance(ln, Unknown) or isinstance(rn, Unknown):
        return UNKNOWN
    cmp = _COMPARE.get(op)
    if cmp is not None:
        return _mark(cmp(ln if isinstance(ln, int) else _dec(ln), rn if isinstance(rn, int) else _dec(rn)), s)
    return _mark(_arith(op, ln, rn, e.range), s)


def _equals(a: Any, b: Any) -> Any:
    """HCL equality: values of different types are never equal (1 != "1")."""
    a, sa = _unmark(a)
    b, sb = _unmark(b)
    s = sa or sb
    if isinstance(a, Unknown) or isinstance(b, Unknown):
        return UNKNOWN
    if a is None or b is None:
        if contains_unknown(a) or contains_unknown(b):
            return UNKNOWN
        return _mark(a is None and b is None, s)
    if contains_unknown(a) or contains_unknown(b):
        return UNKNOWN
    from engine.values import contains_sensitive
    s = s or contains_sensitive(a) or contains_sensitive(b)
    return _mark(_deep_equal(a, b), s)


def _deep_equal(a: Any, b: Any) -> bool:
    a = _unmark(a)[0]
    b = _unmark(b)[0]
    if a is None or b is None:
        return a is None and b is None
    if _is_num(a) or _is_num(b):
        return _is_num(a) and _is_num(b) and _dec(a) == _dec(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if T.type_of(a) != T.type_of(b):
        return False
    if isinstance(a, dict):
        return a.keys() == b.keys() and all(_deep_equal(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_deep_equal(x, y) for x, y in zip(a, b))
    return a == b


# --------------------------------------------------------------------------- conditional


def _eval_conditional(e: ast.Conditional, ctx: EvalContext) -> Any:
    cond, cs = _unmark(_eval(e.condition, ctx))
    if cond is None:
        _fail("Null condition", "The condition value is null. Conditions must either be true or false.", e.condition.range)
    if not isinstance(cond, Unknown):
        try:
            cond = T.to_bool(cond)
        except T.ConversionError:
            _fail("Incorrect condition type", "The condition expression must be of type bool.", e.condition.range)
    # Both results are evaluated for their types; only the chosen one's errors count.
    t_val = f_val = UNKNOWN
    t_err = f_err = None
    try:
        t_val = _eval(e.true_expr, ctx)
    except EvalError as err:
        t_err = err
    try:
        f_val = _eval(e.false_expr, ctx)
    except EvalError as err:
        f_err = err
    if cond is True and t_err is not None:
        raise t_err
    if cond is False and f_err is not None:
        raise f_err
    tt, ft = T.type_of(t_val), T.type_of(f_val)
    unified = T.unify([tt, ft])
    if unified is None:
        _fail("Inconsistent conditional result types",
              "The true and false result expressions must have consistent types. "
              f"The 'true' value is {T.friendly_name(tt)}, but the 'false' value is {T.friendly_name(ft)}.",
              Range(e.range.filename, e.true_expr.range.start, e.false_expr.range.end))
    if isinstance(cond, Unknown):
        return UNKNOWN
    chosen = t_val if cond else f_val
    if chosen is None or isinstance(chosen, Unknown) or unified is T.DYNAMIC or T.type_of(chosen) == unified:
        return _mark(chosen, cs)
    inner, s = _unmark(chosen)
    try:
        converted = T.convert(inner, unified)
    except T.ConversionError as ce:
        _fail("Inconsistent conditional result types",
              f"The true and false result expressions must have consistent types: {ce.full_message()}.",
              (e.true_expr if cond else e.false_expr).range)
    return _mark(converted, cs or s)


# --------------------------------------------------------------------------- constructors


def _eval_tuple(e: ast.TupleCons, ctx: EvalContext) -> Any:
    return [_eval(x, ctx) for x in e.items]


def _object_key(k: Any, rng: Range, what: str = "") -> Any:
    """The string key for an object/for-expression key value (marks already removed by the caller)."""
    if isinstance(k, Unknown):
        return UNKNOWN
    if k is None:
        _fail("Invalid object key" if what else "Null value as key",
              what or "Can't use a null value as a key.", rng)
    if isinstance(k, (dict, list)):
        _fail("Invalid object key" if what else "Incorrect key type",
              "The key expression produced an invalid result: string required." if what
              else "Can't use this value as a key: string required.", rng)
    return T.to_string(k)


def _eval_object(e: ast.ObjectCons, ctx: EvalContext) -> Any:
    out: dict = {}
    unknown = False
    sensitive = False  # a sensitive key marks the whole object (HCL does the same)
    for key_expr, value_expr in e.items:
        name = key_expr.literal_name()
        if name is None:
            k, ks = _unmark(_eval(key_expr.wrapped, ctx))
            sensitive = sensitive or ks
            name = _object_key(k, key_expr.range)
        value = _eval(value_expr, ctx)
        if isinstance(name, Unknown):
            unknown = True
            continue
        out[name] = value
    return UNKNOWN if unknown else _mark(out, sensitive)


def _eval_object_key(e: ast.ObjectKey, ctx: EvalContext) -> Any:
    name = e.literal_name()
    return name if name is not None else _eval(e.wrapped, ctx)


def _iterate(coll: Any, rng: Range, what: str = "'for' expression"):
    """(key, value) pairs in Terraform order: maps/objects by key, sets as key=value."""
    if coll is None:
        _fail("Iteration over null value", f"A null value cannot be used as the collection in a {what}.", rng)
    if isinstance(coll, dict):
        return sorted(coll.items(), key=lambda kv: kv[0])
    if isinstance(coll, TSet):
        return [(v, v) for v in coll]
    if isinstance(coll, (list, tuple)):
        return list(enumerate(coll))
    _fail("Iteration over non-iterable value",
          f"A value of type {_type_name(coll)} cannot be used as the collection in a {what}.", rng)


def _eval_for(e: ast.ForExpr, ctx: EvalContext) -> Any:
    coll, sensitive = _unmark(_eval(e.collection, ctx))
    if isinstance(coll, Unknown):
        return UNKNOWN
    pairs = _iterate(coll, e.collection.range)
    unknown = False
    items: list = []
    obj: dict = {}
    for k, v in pairs:
        scope = {e.value_var: v}
        if e.key_var is not None:
            scope[e.key_var] = k
        sub = ctx.child(**scope)
        if e.condition is not None:
            c, cs = _unmark(_eval(e.condition, sub))
            sensitive = sensitive or cs
            if isinstance(c, Unknown):
                unknown = True
                continue
            if c is None:
                _fail("Invalid 'for' condition", "The value of the 'if' clause must not be null.", e.condition.range)
            try:
                c = T.to_bool(c)
            except T.ConversionError:
                _fail("Invalid 'for' condition",
                      f"The value of the 'if' clause must be of type bool, not {_type_name(c)}.", e.condition.range)
            if not c:
                continue
        if e.key_expr is None:
            items.append(_eval(e.value_expr, sub))
            continue
        key, ks = _unmark(_eval(e.key_expr, sub))
        sensitive = sensitive or ks  # a sensitive key marks the whole result, as in HCL
        key = _object_key(key, e.key_expr.range,
                          "Key expression in 'for' expression must not produce a null value.")
        value = _eval(e.value_expr, sub)
        if isinstance(key, Unknown):
            unknown = True
            continue
        if e.group:
            obj.setdefault(key, []).append(value)
        elif key in obj:
            shown = "(sensitive value)" if ks else _quote(key)
            _fail("Duplicate object key",
                  f"Two different items produced the key {shown} in this 'for' expression. If duplicates are "
                  "expected, use the ellipsis (...) after the value expression to enable grouping by key.",
                  e.key_expr.range)
        else:
            obj[key] = value
    if unknown:
        return UNKNOWN
    return _mark(obj if e.key_expr is not None else items, sensitive)


def _quote(s: str) -> str:
    """Go's %q of a string, as HCL's messages print keys."""
    import json

    return json.dumps(s, ensure_ascii=False)


# --------------------------------------------------------------------------- templates


def _template_piece(v: Any, rng: Range) -> str:
    if v is None:
        _fail("Invalid template interpolation value",
              "The expression result is null. Cannot include a null value in a string template.", rng)
    if isinstance(v, (dict, list)):
        _fail("Invalid template interpolation value",
              "Cannot include the given value in a string template: string required.", rng)
    return T.to_string(v)


def _render_parts(parts: list, ctx: EvalContext, out: list, state: list) -> None:
    """Append rendered text to ``out``; ``state`` = [unknown, sensitive]."""
    for p in parts:
        if isinstance(p, ast.Literal) and isinstance(p.value, str):
            out.append(p.value)
            continue
        if isinstance(p, ast.TemplateIf):
            c, cs = _unmark(_eval(p.condition, ctx))
            state[1] = state[1] or cs
            if isinstance(c, Unknown):
                state[0] = True
                continue
            if c is None:
                _fail("Invalid template if directive", "The condition value is null. Conditions must either be "
                      "true or false.", p.condition.range)
            try:
                c = T.to_bool(c)
            except T.ConversionError:
                _fail("Invalid template if directive", "The condition must be of type bool.", p.condition.range)
            branch = p.true_part if c else p.false_part
            if branch is not None:
                _render_parts(branch.parts, ctx, out, state)
            continue
        if isinstance(p, ast.TemplateFor):
            coll, cs = _unmark(_eval(p.collection, ctx))
            state[1] = state[1] or cs
            if isinstance(coll, Unknown):
                state[0] = True
                continue
            for k, v in _iterate(coll, p.collection.range, "template for directive"):
                scope = {p.value_var: v}
                if p.key_var is not None:
                    scope[p.key_var] = k
                _render_parts(p.body.parts, ctx.child(**scope), out, state)
            continue
        v, s = _unmark(_eval(p, ctx))
        state[1] = state[1] or s
        if isinstance(v, Unknown):
            state[0] = True
            continue
        out.append(_template_piece(v, p.range))


def _eval_template(e: ast.TemplateExpr, ctx: EvalContext) -> Any:
    out: list = []
    state = [False, False]
    _render_parts(e.parts, ctx, out, state)
    if state[0]:
        return UNKNOWN
    return _mark("".join(out), state[1])


def _eval_template_wrap(e: ast.TemplateWrap, ctx: EvalContext) -> Any:
    return _eval(e.wrapped, ctx)


def _eval_template_directive(e, ctx: EvalContext) -> Any:
    return _eval_template(ast.TemplateExpr([e], e.range), ctx)


# --------------------------------------------------------------------------- functions


def _eval_call(e: ast.FunctionCall, ctx: EvalContext) -> Any:
    if e.name == "try":
        return try_function(e, ctx)
    if e.name == "can":
        return can_function(e, ctx)
    functions = ctx.functions
    fn = functions.get(e.name)
    if fn is None:
        detail = f'There is no function named "{e.name}".'
        close = difflib.get_close_matches(e.name, list(functions) + ["try", "can"], n=1)
        if close:
            detail += f' Did you mean "{close[0]}"?'
        _fail("Call to unknown function", detail, e.name_range)
    args = [_eval(a, ctx) for a in e.args]
    arg_ranges = [a.range for a in e.args]
    if e.expand_final and args:
        last, s = _unmark(args.pop())
        last_range = arg_ranges.pop()
        if isinstance(last, Unknown):
            return UNKNOWN
        if last is None:
            _fail("Invalid expanding argument value", "The expanding argument (indicated by ...) must not be null.",
                  last_range)
        if not isinstance(last, (list, tuple)):
            _fail("Invalid expanding argument value",
                  "The expanding argument (indicated by ...) must be of a tuple, list, or set type.", last_range)
        args.extend(_mark(x, s) for x in last)
        arg_ranges.extend([last_range] * len(last))
    check = getattr(fn, "check_arity", None)
    if check is not None:
        problem = check(len(args))
        if problem:
            few = len(args) < len(getattr(fn, "params", ()))
            _fail("Not enough function arguments" if few else "Too many function arguments", problem,
                  e.range if few else (arg_ranges[len(fn.params)] if len(arg_ranges) > len(fn.params) else e.range))
    from engine.config.functions import FunctionError
    try:
        return fn.call(args, ctx)
    except FunctionError as fe:
        if getattr(fe, "function_name", None) is None:
            fe.function_name = e.name
        summary, detail = fe.summary_detail()
        rng = e.range
        if fe.arg_index is not None and fe.arg_index < len(arg_ranges):
            rng = arg_ranges[fe.arg_index]
        _fail(summary, detail, rng)
    except T.ConversionError as ce:
        _fail("Error in function call", f'Call to function "{e.name}" failed: {ce.full_message()}.', e.range)


def try_function(e: ast.FunctionCall, ctx: EvalContext) -> Any:
    """``try(a, b, ...)``: the first argument that evaluates without error."""
    if e.expand_final:
        _fail("Invalid use of ... with try", "The try function does not accept an expanding argument.", e.range)
    if not e.args:
        _fail("Not enough function arguments", 'Function "try" expects at least one argument.', e.range)
    failures = []
    for a in e.args:
        try:
            v = _eval(a, ctx)
        except EvalError as err:
            failures.append(err.diag)
            continue
        if contains_unknown(v):
            return UNKNOWN  # it may still fail once known
        return v
    lines = ["Call to function \"try\" failed: no expression succeeded:"]
    for d in failures:
        lines.append(f"- {d.summary} (at {_range_text(d.range)})")
        if d.detail:
            lines.append("  " + d.detail)
    lines.append("At least one expression must produce a successful result.")
    _fail("Error in function call", "\n".join(lines), e.range)


def can_function(e: ast.FunctionCall, ctx: EvalContext) -> Any:
    """``can(expr)``: whether ``expr`` evaluates without error."""
    if len(e.args) != 1 or e.expand_final:
        summary = "Not enough function arguments" if not e.args else "Too many function arguments"
        _fail(summary, 'Function "can" expects 1 argument(s).' if not e.args
              else 'Function "can" expects only 1 argument(s).', e.range)
    try:
        v = _eval(e.args[0], ctx)
    except EvalError:
        return False
    if contains_unknown(v):
        return UNKNOWN
    return True


_DISPATCH = {
    ast.Literal: _eval_literal,
    ast.ScopeTraversal: _eval_scope_traversal,
    ast.RelativeTraversal: _eval_relative,
    ast.Index: _eval_index,
    ast.SplatItem: _eval_splat_item,
    ast.Splat: _eval_splat,
    ast.FunctionCall: _eval_call,
    ast.UnaryOp: _eval_unary,
    ast.BinaryOp: _eval_binary,
    ast.Conditional: _eval_conditional,
    ast.TupleCons: _eval_tuple,
    ast.ObjectCons: _eval_object,
    ast.ObjectKey: _eval_object_key,
    ast.ForExpr: _eval_for,
    ast.TemplateExpr: _eval_template,
    ast.TemplateWrap: _eval_template_wrap,
    ast.TemplateIf: _eval_template_directive,
    ast.TemplateFor: _eval_template_directive,
}
