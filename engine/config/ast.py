"""trainform's own syntax tree for HCL files.

trainform's own HCL scanner and parser (engine.config.parser) build these
small, picklable nodes, which carry exact source ranges and are cached by
file content hash (.trainform/cache).  The evaluator (engine.config.expr)
works only on these nodes.  python-hcl2 is not on this path: it is the
independent cross-check of the parser's structure in the tests
(tests/unit/test_parser_vs_hcl2.py).

Structural nodes (Body, Attribute, Block) are defined here; expression node
classes all derive from :class:`Expression`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from engine.diagnostics import Range


@dataclass(frozen=True, slots=True)
class Traversal:
    """A static reference such as ``value.a[0].output``.

    ``root`` is the first name (``value``), ``steps`` the following steps:
    ``("attr", "a")``, ``("index", 0)`` (only literal keys/indexes appear as
    index steps; a dynamic index ends the static traversal), each with the
    range of the whole traversal up to that step in ``ranges``.
    """

    root: str
    steps: tuple[tuple[str, Any], ...]
    range: Range

    def __str__(self) -> str:
        out = self.root
        for kind, key in self.steps:
            if kind == "attr":
                out += "." + str(key)
            else:
                out += f"[{key!r}]" if isinstance(key, str) else f"[{key}]"
        return out.replace("'", '"')


class Expression:
    """Base of every expression node.  Subclasses are dataclasses with ``range``."""

    __slots__ = ()
    range: Range

    def references(self) -> list[Traversal]:
        """Every static traversal this expression reads (for the dependency graph),
        excluding names bound locally by for-expressions."""
        raise NotImplementedError


@dataclass(slots=True)
class Attribute:
    name: str
    expr: Expression
    range: Range  # whole ``name = expr``
    name_range: Range


@dataclass(slots=True)
class Block:
    type: str
    labels: list[str]
    body: "Body"
    range: Range  # from type name to closing brace
    type_range: Range
    label_ranges: list[Range] = field(default_factory=list)


@dataclass(slots=True)
class Body:
    attributes: dict[str, Attribute] = field(default_factory=dict)
    blocks: list[Block] = field(default_factory=list)
    range: Range | None = None


# --------------------------------------------------------------------------- expressions
#
# Every expression node is a slots dataclass with a ``range``; ``children()``
# lists sub-expressions so that :meth:`Expression.references` works generically.
# Nodes that bind names (for-expressions, template for-directives) override it.


def _refs_of(nodes) -> list[Traversal]:
    out: list[Traversal] = []
    for n in nodes:
        if n is not None:
            out.extend(n.references())
    return out


def _expr_references(self) -> list[Traversal]:
    return _refs_of(self.children())


def _expr_children(self) -> tuple:
    return ()


Expression.references = _expr_references  # type: ignore[method-assign]
Expression.children = _expr_children  # type: ignore[attr-defined]


@dataclass(slots=True)
class Literal(Expression):
    """A constant: number (int/Decimal), string, bool or null."""

    value: Any
    range: Range


@dataclass(slots=True)
class ScopeTraversal(Expression):
    """A static reference from a root name: ``var.x``, ``value.a[0].output``.

    ``steps`` are ("attr", name) / ("index", literal key); ``step_ranges`` the
    source range of each step (for error messages).
    """

    root: str
    steps: tuple
    range: Range
    step_ranges: tuple = ()

    def references(self) -> list[Traversal]:
        return [Traversal(self.root, self.steps, self.range)]


@dataclass(slots=True)
class RelativeTraversal(Expression):
    """Static attribute/index steps applied to a computed value: ``f(x).a[0]``."""

    source: Expression
    steps: tuple
    range: Range
    step_ranges: tuple = ()

    def children(self):
        return (self.source,)


@dataclass(slots=True)
class Index(Expression):
    """``collection[key]`` with a dynamic key expression."""

    collection: Expression
    key: Expression
    range: Range
    bracket_range: Range | None = None

    def children(self):
        return (self.collection, self.key)


@dataclass(slots=True)
class SplatItem(Expression):
    """Placeholder for "the current element" inside a splat's ``each`` expression."""

    range: Range


@dataclass(slots=True)
class Splat(Expression):
    """``source[*].each`` (full) or ``source.*.each`` (attribute-only, legacy)."""

    source: Expression
    each: Expression
    range: Range
    full: bool = True

    def children(self):
        return (self.source, self.each)


@dataclass(slots=True)
class FunctionCall(Expression):
    name: str
    args: list
    range: Range
    name_range: Range
    expand_final: bool = False

    def children(self):
        return tuple(self.args)


@dataclass(slots=True)
class UnaryOp(Expression):
    op: str  # "!" or "-"
    operand: Expression
    range: Range

    def children(self):
        return (self.operand,)


@dataclass(slots=True)
class BinaryOp(Expression):
    op: str  # one of || && == != < <= > >= + - * / %
    left: Expression
    right: Expression
    range: Range

    def children(self):
        return (self.left, self.right)


@dataclass(slots=True)
class Conditional(Expression):
    condition: Expression
    true_expr: Expression
    false_expr: Expression
    range: Range

    def children(self):
        return (self.condition, self.true_expr, self.false_expr)


@dataclass(slots=True)
class TupleCons(Expression):
    items: list
    range: Range

    def children(self):
        return tuple(self.items)


@dataclass(slots=True)
class ObjectKey(Expression):
    """An object constructor key: a bare identifier is a literal string key
    unless parenthesised (``force_non_literal``)."""

    wrapped: Expression
    range: Range
    force_non_literal: bool = False

    def literal_name(self) -> str | None:
        w = self.wrapped
        if not self.force_non_literal and isinstance(w, ScopeTraversal) and not w.steps:
            return w.root
        return None

    def references(self) -> list[Traversal]:
        if self.literal_name() is not None:
            return []
        return self.wrapped.references()


@dataclass(slots=True)
class ObjectCons(Expression):
    items: list  # [(ObjectKey, Expression)]
    range: Range

    def children(self):
        return tuple(x for kv in self.items for x in kv)


@dataclass(slots=True)
class ForExpr(Expression):
    """``[for k, v in coll : value if cond]`` / ``{for k, v in coll : key => value... if cond}``."""

    key_var: str | None
    value_var: str
    collection: Expression
    key_expr: Expression | None  # None for tuple results
    value_expr: Expression
    condition: Expression | None
    group: bool
    range: Range
    is_object: bool = False

    def children(self):
        return (self.collection, self.key_expr, self.value_expr, self.condition)

    def references(self) -> list[Traversal]:
        bound = {self.value_var, self.key_var}
        inner = _refs_of((self.key_expr, self.value_expr, self.condition))
        return self.collection.references() + [t for t in inner if t.root not in bound]


@dataclass(slots=True)
class TemplateExpr(Expression):
    """A string template: literal parts (Literal str) and interpolated expressions."""

    parts: list
    range: Range

    def children(self):
        return tuple(self.parts)


@dataclass(slots=True)
class TemplateWrap(Expression):
    """``"${expr}"``: a template of one interpolation yields the value unconverted."""

    wrapped: Expression
    range: Range

    def children(self):
        return (self.wrapped,)


@dataclass(slots=True)
class TemplateIf(Expression):
    condition: Expression
    true_part: TemplateExpr
    false_part: TemplateExpr | None
    range: Range

    def children(self):
        return (self.condition, self.true_part, self.false_part)


@dataclass(slots=True)
class TemplateFor(Expression):
    key_var: str | None
    value_var: str
    collection: Expression
    body: TemplateExpr
    range: Range

    def children(self):
        return (self.collection, self.body)

    def references(self) -> list[Traversal]:
        bound = {self.value_var, self.key_var}
        return self.collection.references() + [t for t in self.body.references() if t.root not in bound]
