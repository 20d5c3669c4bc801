"""The source range of an attribute path inside a resource body.

A provider names the attribute a diagnostic is about (``Diagnostic.attribute_path``,
e.g. ``("docker", "build_args", "TOKEN")``) without knowing the source; the
engine turns it into the narrowest range it can find -- the map entry's
value, else the attribute, else the nested block -- so the code frame points
at what must change rather than at the whole resource block.
"""

from __future__ import annotations

from engine.config import ast

__all__ = ["attribute_range"]


def attribute_range(body: ast.Body | None, path) -> object | None:
    if body is None or not path:
        return None
    steps = [p for p in path if not isinstance(p, int)]
    found = None
    while steps and body is not None:
        name = steps.pop(0)
        if name in body.attributes:
            attr = body.attributes[name]
            found = attr.range
            if steps and isinstance(attr.expr, ast.ObjectCons):
                for k, v in attr.expr.items:
                    key = k.literal_name()
                    if key is None and isinstance(k.wrapped, ast.Literal):
                        key = k.wrapped.value
                    if key == steps[0]:
                        return v.range
            return found
        block = next((b for b in body.blocks if b.type == name), None)
        if block is None:
            return found
        found = block.range
        body = block.body
    return found
