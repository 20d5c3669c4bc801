"""Where an attribute path lies in a block's source: providers report problems
by attribute path (``("docker", "base_image")``); the engine turns the path into
the range of that attribute's expression so diagnostics point at the offending
line, not the block header."""

from __future__ import annotations

from collections.abc import Iterable

from engine.config import ast
from engine.diagnostics import Diagnostic, Range

__all__ = ["attribute_range", "place"]


def attribute_range(body: ast.Body | None, path: Iterable) -> Range | None:
    """The range of the expression (or nested block) at ``path`` in ``body``; for a
    path that is not written in the source, the deepest enclosing block's header.
    None when not even the first step is there."""
    found: Range | None = None
    steps = list(path)
    i = 0
    while body is not None and i < len(steps):
        step = steps[i]
        if not isinstance(step, str):
            return found
        attr = body.attributes.get(step)
        if attr is not None:
            return attr.expr.range
        blocks = [b for b in body.blocks if b.type == step]
        if not blocks:
            return found
        n = 0
        if i + 1 < len(steps) and isinstance(steps[i + 1], int):
            n = steps[i + 1]
            i += 1
        if n >= len(blocks):
            return found
        found = blocks[n].type_range
        body = blocks[n].body
        i += 1
    return found


def place(diags: Iterable[Diagnostic], body: ast.Body | None, fallback: Range | None, address: str | None) -> None:
    """Give provider diagnostics an address and a range: their attribute path's, else ``fallback``."""
    for x in diags:
        x.address = x.address or address
        if x.range is None and x.attribute_path:
            x.range = attribute_range(body, x.attribute_path)
        if x.range is None:
            x.range = fallback
