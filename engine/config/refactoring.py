"""``moved``, ``removed`` and ``import`` blocks: how a configuration says that
objects already in state changed address, should be forgotten, or should be
adopted (Terraform 1.11's refactoring blocks).

The loader turns each block into a :class:`Moved`, :class:`Removed` or
:class:`Import` with :class:`Endpoint` addresses made absolute (a block in a
child module speaks about that module's objects).  Nothing is evaluated here
except an endpoint's static address; engine.plan.refactor applies them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.config import ast
from engine.diagnostics import Diagnostics, Range

__all__ = [
    "NO_KEY",
    "Endpoint",
    "Import",
    "Moved",
    "Removed",
    "load_import",
    "load_moved",
    "load_removed",
    "parse_endpoint",
]


class _NoKey:
    """The key of a whole-resource endpoint (``value.a``, all instances), as opposed
    to None, the one instance of a resource without count/for_each."""

    def __repr__(self) -> str:
        return "NO_KEY"


NO_KEY: Any = _NoKey()


@dataclass(frozen=True)
class Endpoint:
    """A static address in a refactoring block: a module, a resource or one instance."""

    module: tuple  # absolute module path
    type: str | None = None  # None: the endpoint is the module ``module`` itself
    name: str | None = None
    key: Any = NO_KEY  # NO_KEY: the whole resource; None / int / str: one instance
    range: Range | None = None

    @property
    def is_module(self) -> bool:
        return self.type is None

    @property
    def is_instance(self) -> bool:
        return self.type is not None and self.key is not NO_KEY

    @property
    def block(self) -> str:
        """``[module.m.]TYPE.NAME`` (or the module address)."""
        from engine.addrs import module_prefix, module_string

        if self.is_module:
            return module_string(self.module)
        return module_prefix(self.module) + f"{self.type}.{self.name}"

    def __str__(self) -> str:
        from engine.addrs import index_text

        if self.is_instance:
            return self.block + index_text(self.key)
        return self.block

    def with_key(self, key: Any) -> Endpoint:
        return Endpoint(self.module, self.type, self.name, key, self.range)


@dataclass
class Moved:
    from_: Endpoint
    to: Endpoint
    range: Range
    module: tuple = ()  # the module the block is written in (static path): it applies in each of its instances


@dataclass
class Removed:
    from_: Endpoint
    destroy: bool
    range: Range


@dataclass
class Import:
    to: Endpoint
    id: ast.Expression
    range: Range
    module: tuple = ()  # the module the block is written in (only the root may have one)
    for_each: ast.Expression | None = None  # Terraform 1.7+: one import per element
    key: ast.Expression | None = None  # with for_each: the instance key of ``to`` (``value.r[each.key]``)


def _static_parts(expr: ast.Expression) -> list[tuple[str, Any]] | None:
    """``module.m["a.b"].value.v`` as [("attr", "module"), ("attr", "m"), ("index", "a.b"), ...];
    None when any part is not static (a reference inside a key, a function call...)."""
    if isinstance(expr, ast.ScopeTraversal):
        return [("attr", expr.root)] + list(expr.steps)
    if isinstance(expr, ast.RelativeTraversal):
        head = _static_parts(expr.source)
        return None if head is None else head + list(expr.steps)
    if isinstance(expr, ast.Index) and not expr.key.references():
        head = _static_parts(expr.collection)
        if head is None:
            return None
        from engine.config.expr import EvalContext, evaluate

        from decimal import Decimal

        key, kd = evaluate(expr.key, EvalContext(variables={}))
        if isinstance(key, Decimal) and key == key.to_integral_value():
            key = int(key)
        if kd.has_errors or not isinstance(key, (str, int)) or isinstance(key, bool):
            return None
        return head + [("index", key)]
    return None


def parse_endpoint(expr: ast.Expression, module: tuple, d: Diagnostics, what: str) -> Endpoint | None:
    """A static reference like ``value.a``, ``value.a["k"]``, ``module.m`` or
    ``module.m.run.x[0]``, relative to ``module``."""
    parts = _static_parts(expr)
    if parts is None or parts[0][0] != "attr":
        d.error("Invalid address", f'The {what} must be a static address like value.a, value.a["key"], module.m or module.m.value.a, not an expression.', expr.range)
        return None
    ref = "".join((f".{v}" if i else v) if k == "attr" else f"[{v!r}]" for i, (k, v) in enumerate(parts))
    from engine.addrs import module_step

    path = list(module)
    while len(parts) >= 2 and parts[0] == ("attr", "module") and parts[1][0] == "attr":
        step = parts[1][1]
        parts = parts[2:]
        if parts and parts[0][0] == "index":  # a module instance: module.m["k"] (engine.addrs steps)
            key = parts[0][1]
            step = module_step(step, int(key) if isinstance(key, float) and key.is_integer() else key)
            parts = parts[1:]
        path.append(step)
    if not parts:
        return Endpoint(tuple(path), range=expr.range)
    if len(parts) not in (2, 3) or parts[0][0] != "attr" or parts[1][0] != "attr" or (len(parts) == 3 and parts[2][0] != "index"):
        d.error("Invalid address", f'The {what} "{ref}" is not a resource or module address: expected [module.NAME.]TYPE.NAME[KEY] or module.NAME.', expr.range)
        return None
    key = parts[2][1] if len(parts) == 3 else NO_KEY
    if isinstance(key, float) and key.is_integer():
        key = int(key)
    return Endpoint(tuple(path), parts[0][1], parts[1][1], key, expr.range)


def _required(block: ast.Block, names: list[str], d: Diagnostics, optional: tuple = ()) -> dict | None:
    from engine.config.loader import missing_item_range, suggest

    attrs = block.body.attributes
    ok = True
    for aname, attr in attrs.items():
        if aname not in names and aname not in optional:
            d.error("Unsupported argument", f'An argument named "{aname}" is not expected here.{suggest(aname, names)}', attr.name_range)
            ok = False
    for n in names:
        if n not in attrs:
            d.error("Missing required argument", f'The argument "{n}" is required, but no definition was found.', missing_item_range(block.body, block.type_range))
            ok = False
    return dict(attrs) if ok else None


def load_moved(block: ast.Block, module: tuple, d: Diagnostics) -> Moved | None:
    if block.labels:
        d.error("Extraneous label for moved", "No labels are expected for moved blocks.", block.label_ranges[0])
        return None
    for b in block.body.blocks:
        d.error("Unsupported block type", f'Blocks of type "{b.type}" are not expected here.', b.type_range)
    attrs = _required(block, ["from", "to"], d)
    if attrs is None:
        return None
    src = parse_endpoint(attrs["from"].expr, module, d, "moved source")
    dst = parse_endpoint(attrs["to"].expr, module, d, "moved destination")
    if src is None or dst is None:
        return None
    if src.is_module != dst.is_module:
        d.error("Invalid \"moved\" addresses", f"Cannot move {src} to {dst}: a module can move only to another module, and a resource only to another resource.", block.type_range)
        return None
    if not src.is_module and src.type != dst.type:
        d.error("Resource type mismatch", f"This statement declares a move from {src} to {dst}, which is a resource of a different type.", attrs["to"].expr.range)
        return None
    if str(src) == str(dst):
        d.error("Redundant move statement", f"This statement declares a move from {src} to the same address, which is the same as not declaring this move at all.", block.type_range)
        return None
    return Moved(src, dst, block.type_range, tuple(module))


def load_removed(block: ast.Block, module: tuple, d: Diagnostics) -> Removed | None:
    from engine.config.loader import static_value, suggest

    if block.labels:
        d.error("Extraneous label for removed", "No labels are expected for removed blocks.", block.label_ranges[0])
        return None
    attrs = _required(block, ["from"], d)
    destroy = True
    for b in block.body.blocks:
        if b.type != "lifecycle":
            d.error("Unsupported block type", f'Blocks of type "{b.type}" are not expected here.{suggest(b.type, ["lifecycle"])}', b.type_range)
            continue
        for aname, attr in b.body.attributes.items():
            if aname != "destroy":
                d.error("Unsupported argument", f'An argument named "{aname}" is not expected in the lifecycle block of a removed block: only "destroy" is.', attr.name_range)
                continue
            v = static_value(attr.expr, d, "destroy")
            if not isinstance(v, bool):
                d.error("Invalid destroy value", "destroy must be true or false.", attr.expr.range)
                continue
            destroy = v
    if attrs is None:
        return None
    src = parse_endpoint(attrs["from"].expr, module, d, "removed source")
    if src is None:
        return None
    if any("[" in step for step in src.module[len(module):]):
        d.error("Module instance keys not allowed", f"The removed source must be a module (like {src.block.split('[')[0]}) or a resource in one, not a module instance: a removed block forgets or destroys every instance of a module.", attrs["from"].expr.range)
        return None
    if src.is_instance:
        d.error("Resource instance keys not allowed", f"The removed source must be a resource (like {src.block}) or a module, not a resource instance (like {src}): a removed block forgets or destroys every instance of a resource.", attrs["from"].expr.range)
        return None
    return Removed(src, destroy, block.type_range)


def load_import(block: ast.Block, module: tuple, d: Diagnostics) -> Import | None:
    if block.labels:
        d.error("Extraneous label for import", "No labels are expected for import blocks.", block.label_ranges[0])
        return None
    for b in block.body.blocks:
        d.error("Unsupported block type", f'Blocks of type "{b.type}" are not expected here.', b.type_range)
    attrs = _required(block, ["to", "id"], d, optional=("for_each",))
    if attrs is None:
        return None
    if module:
        from engine.addrs import module_string

        d.error("Invalid import configuration", f'An import block was found in "{module_string(module)}". Import blocks are only allowed in the root module.', block.type_range)
        return None
    for_each = attrs["for_each"].expr if "for_each" in attrs else None
    to_expr, key = attrs["to"].expr, None
    if for_each is not None and isinstance(to_expr, ast.Index) and to_expr.key.references():
        # value.r[each.key]: the resource is static, its key is evaluated per element
        to_expr, key = to_expr.collection, to_expr.key
    to = parse_endpoint(to_expr, module, d, "import target")
    if to is None:
        return None
    if to.is_module:
        d.error("Invalid import address", f'The import target must be a resource (e.g. "value.a") or a resource instance, not the module {to}.', attrs["to"].expr.range)
        return None
    if key is not None:
        to = Endpoint(to.module, to.type, to.name, NO_KEY, attrs["to"].expr.range)
    elif to.key is NO_KEY:
        to = to.with_key(None)
    return Import(to, attrs["id"].expr, block.type_range, module, for_each, key)


def endpoint_from_text(text: str) -> Endpoint:
    """A command-line address (``trainform state mv``): ``module.m``, ``value.a``,
    ``value.a[0]`` or ``module.m.value.a["k"]``; raises engine.addrs.AddressError."""
    from engine.addrs import AddressError, parse_instance, parse_module

    if not text:
        raise AddressError("empty address")
    try:
        return Endpoint(parse_module(text))
    except AddressError:
        pass
    inst = parse_instance(text)
    key = inst.key if text.endswith("]") else NO_KEY
    return Endpoint(inst.resource.module, inst.resource.type, inst.resource.name, key)
