"""trainform's own syntax tree for HCL files.

python-hcl2's rule objects are converted once (engine.config.parser) into
these small, picklable nodes, which carry exact source ranges and are cached
by file content hash.  The evaluator (engine.config.expr) works only on
these nodes, so the parser can be swapped without touching the engine.

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
