"""Scopes and evaluation of configuration objects for one command.

A :class:`ModuleScope` holds the values visible inside one module instance
(``var``, ``local``, ``module``, ``path``, and one entry per resource type),
filled in as the graph walk completes nodes.  Reference resolution maps a
traversal to the graph node that produces it, and is also where
"undeclared" and "unsupported attribute" diagnostics come from.
"""

from __future__ import annotations

import os
from typing import Any

from engine.config import ast
from engine.config.loader import missing_item_range, suggest
from engine.config.model import Config, Resource
from engine.diagnostics import Diagnostics, Range
from engine.values import UNKNOWN, Sensitive, Unknown, TMap

from engine.graph.nodes import LocalNode, OutputNode, ResourceNode, VariableNode


class ModuleScope:
    def __init__(self, cfg: Config, root_dir: str, path: tuple | None = None) -> None:
        from engine.providers.registry import resource_types

        self.cfg = cfg
        self.path = cfg.path if path is None else path  # the module *instance* path (engine.addrs)
        self.module = cfg.module
        self.values: dict[str, Any] = {
            "var": {},
            "local": {},
            "module": {name: {} for name in cfg.children},
            "path": {"module": cfg.module.dir, "root": root_dir, "cwd": os.getcwd()},
            "terraform": {"workspace": "default"},
            "trainform": {"workspace": "default"},
        }
        for t in resource_types():
            self.values[t] = {}
        self.base_dir = cfg.module.dir

    def ctx(self, extra: dict | None = None):
        from engine.config.expr import EvalContext

        variables = self.values if not extra else {**self.values, **extra}
        return EvalContext(variables=variables, base_dir=self.base_dir)


def resolve_reference(cfg: Config, ref: ast.Traversal, diags: Diagnostics, where: str = "", allow_self=False) -> list[tuple]:
    """The graph nodes a traversal reads, with diagnostics for undeclared names."""
    from engine.providers.registry import resource_types

    m = cfg.module
    path = cfg.path
    root = ref.root
    steps = ref.steps
    first = steps[0][1] if steps and steps[0][0] == "attr" else None
    if root == "var":
        if first is None:
            diags.error("Invalid reference", 'The "var" object must be followed by an attribute name, like var.name.', ref.range)
            return []
        if first not in m.variables:
            hint = suggest(first, m.variables) or f' This variable can be declared with a variable "{first}" {{}} block.'
            diags.error("Reference to undeclared input variable", f'An input variable with the name "{first}" has not been declared.{hint}', ref.range)
            return []
        return [VariableNode(path, first)]
    if root == "local":
        if first is None:
            diags.error("Invalid reference", 'The "local" object must be followed by an attribute name, like local.name.', ref.range)
            return []
        if first not in m.locals:
            diags.error("Reference to undeclared local value", f'A local value with the name "{first}" has not been declared.{suggest(first, m.locals)}', ref.range)
            return []
        return [LocalNode(path, first)]
    if root == "module":
        if first is None:
            diags.error("Invalid reference", 'The "module" object must be followed by a module name, like module.name.', ref.range)
            return []
        if first not in m.module_calls:
            where = "the root module" if not path else "module." + ".module.".join(path)
            diags.error("Reference to undeclared module", f'No module call named "{first}" is declared in {where}.{suggest(first, m.module_calls)}', ref.range)
            return []
        child = cfg.children.get(first)
        if child is None:
            return []
        call = m.module_calls[first]
        rest = steps[1:]
        if call.count is not None or call.for_each is not None:
            if rest and rest[0][0] == "index":
                rest = rest[1:]  # module.m["k"].out / module.m[0].out
            else:
                rest = ()  # the whole list/map of instances (for expressions, splats)
        out_name = rest[0][1] if rest and rest[0][0] == "attr" else None
        if out_name is None:
            return [OutputNode(child.path, o) for o in child.module.outputs]
        if out_name not in child.module.outputs:
            diags.error("Unsupported attribute", f'This object does not have an attribute named "{out_name}": module "{first}" declares no such output.{suggest(out_name, child.module.outputs)}', ref.range)
            return []
        return [OutputNode(child.path, out_name)]
    if root in ("path", "terraform", "trainform"):
        return []
    if root in ("each", "count", "self"):
        return []
    rtypes = resource_types()
    if root in rtypes:
        if first is None:
            diags.error("Invalid reference", "A reference to a resource type must be followed by at least one attribute access, specifying the resource name.", ref.range)
            return []
        key = f"{root}.{first}"
        res = m.resources.get(key)
        if res is None:
            names = [r.split(".", 1)[1] for r in m.resources if r.startswith(root + ".")]
            mod = "the root module" if not path else "module." + ".module.".join(path)
            diags.error("Reference to undeclared resource", f'A {root} resource "{first}" has not been declared in {mod}.{suggest(first, names)}', ref.range)
            return []
        _check_resource_attr(res, steps[1:], ref, diags)
        return [ResourceNode(path, key)]
    candidates = ["var", "local", "module", "path", "each", "count"] + sorted(rtypes)
    diags.error("Reference to undeclared resource", f'There is no resource type or object named "{root}".{suggest(root, candidates)}', ref.range)
    return []


def _check_resource_attr(res: Resource, steps, ref, diags: Diagnostics) -> None:
    from engine.providers.registry import schema_of

    if not steps:
        return
    expanded = res.count is not None or res.for_each is not None
    if expanded:
        if steps[0][0] == "index":
            steps = steps[1:]
        else:
            return  # e.g. value.x[*] splat or whole collection use
    elif steps[0][0] == "index":
        diags.error("Unexpected resource instance key", f'Because {res.key} does not have "count" or "for_each" set, references to it must not include an index key. Remove the bracketed index to refer to the single instance of this resource.', ref.range)
        return
    if not steps or steps[0][0] != "attr":
        return
    name = steps[0][1]
    from engine.providers.registry import ProviderUnavailable

    try:
        schema = schema_of(res.type)
    except ProviderUnavailable:
        return  # reported once at the resource block
    block = schema.block
    if name not in block.attributes and name not in block.blocks:
        known = list(block.attributes) + list(block.blocks)
        diags.error("Unsupported attribute", f'This object has no argument, nested block, or exported attribute named "{name}".{suggest(name, known)}', ref.range)


# ------------------------------------------------------------------ bodies

RESOURCE_META_ARGS = ["count", "for_each", "depends_on"]
RESOURCE_META_BLOCKS = ["lifecycle"]


def check_body(body: ast.Body, schema_block, diags: Diagnostics, address: str, what: str = "", top: bool = True) -> None:
    """Static checks of a resource body against its schema (names, required, conflicts).

    ``top`` is the resource block itself, where the meta-arguments (count,
    for_each, depends_on, lifecycle) are also candidates for "did you mean".
    """
    attrs = schema_block.attributes
    meta_args = RESOURCE_META_ARGS if top else []
    meta_blocks = RESOURCE_META_BLOCKS if top else []
    for name, attr in body.attributes.items():
        spec = attrs.get(name)
        if spec is None:
            if name in schema_block.blocks:
                diags.error("Unsupported argument", f'An argument named "{name}" is not expected here. Did you mean to define a block of type "{name}"?', attr.name_range, address)
            else:
                diags.error("Unsupported argument", f'An argument named "{name}" is not expected here.{suggest(name, [a for a, s in attrs.items() if not s.read_only] + meta_args)}', attr.name_range, address)
        elif _computed_only(spec):
            diags.error("Invalid argument", f'The argument "{name}" is read-only: it is computed by the provider and cannot be set in configuration.', attr.name_range, address)
    for name, spec in attrs.items():
        if spec.required and name not in body.attributes:
            diags.error("Missing required argument", f'The argument "{name}" is required, but no definition was found.', missing_item_range(body, None), address)
        for other in spec.conflicts_with:
            if name in body.attributes and other in body.attributes and name < other:
                diags.error("Conflicting configuration arguments", f'"{name}": conflicts with {other}. Set only one of them.', body.attributes[other].name_range, address)
    counts: dict[str, int] = {}
    for blk in body.blocks:
        nb = schema_block.blocks.get(blk.type)
        if nb is None:
            if blk.type in attrs:
                diags.error("Unsupported block type", f'Blocks of type "{blk.type}" are not expected here. Did you mean to define argument "{blk.type}"? If so, use the equals sign to assign it a value.', blk.type_range, address)
            else:
                diags.error("Unsupported block type", f'Blocks of type "{blk.type}" are not expected here.{suggest(blk.type, list(schema_block.blocks) + meta_blocks)}', blk.type_range, address)
            continue
        if blk.labels:
            diags.error("Extraneous label for " + blk.type, f"No labels are expected for {blk.type} blocks.", blk.label_ranges[0] if blk.label_ranges else blk.type_range, address)
        counts[blk.type] = counts.get(blk.type, 0) + 1
        if nb.nesting == "single" and counts[blk.type] == 2:
            diags.error("Duplicate " + blk.type + " block", f'Only one "{blk.type}" block is allowed. Another was defined earlier.', blk.type_range, address)
        check_body(blk.body, nb.block, diags, address, top=False)
    for name, nb in schema_block.blocks.items():
        if nb.min_items and counts.get(name, 0) < nb.min_items:
            diags.error("Missing required block", f'At least {nb.min_items} "{name}" block{"s" if nb.min_items > 1 else ""} required.', missing_item_range(body, None), address)


def _computed_only(spec) -> bool:
    return spec.read_only


_type_cache: dict[str, Any] = {}


def schema_type(text: str):
    from engine.config import types as T

    t = _type_cache.get(text)
    if t is None:
        t = _type_cache[text] = T.parse_type_string(text)
    return t


def eval_body(body: ast.Body, schema_block, ctx, diags: Diagnostics, address: str) -> dict:
    """Evaluate a body into the configuration dict a provider receives (marks kept)."""
    from engine.config import types as T
    from engine.config.expr import evaluate

    out: dict[str, Any] = {}
    for name, spec in schema_block.attributes.items():
        attr = body.attributes.get(name)
        if attr is None:
            out[name] = spec.default if not spec.computed or spec.default is not None else None
            continue
        value, d = evaluate(attr.expr, ctx)
        for x in d:
            x.address = x.address or address
        diags.extend(d)
        if d.has_errors:
            out[name] = UNKNOWN
            continue
        if spec.type != "any" and not isinstance(value, Unknown):
            try:
                value = T.convert(value, schema_type(spec.type))
            except T.ConversionError as e:
                diags.error("Incorrect attribute value type", f'Inappropriate value for attribute "{name}": {e}.', attr.expr.range, address)
                value = UNKNOWN
        out[name] = value
    for name, nb in schema_block.blocks.items():
        blocks = [b for b in body.blocks if b.type == name]
        if nb.nesting == "single":
            out[name] = eval_body(blocks[0].body, nb.block, ctx, diags, address) if blocks else None
        else:
            out[name] = [eval_body(b.body, nb.block, ctx, diags, address) for b in blocks]
    return out


def split_marks(value: Any, path: tuple = (), sensitive: list | None = None) -> Any:
    """Strip Sensitive marks (recording their paths); keep UNKNOWN as is."""
    if isinstance(value, Sensitive):
        if sensitive is not None:
            sensitive.append(list(path))
        return split_marks(value.value, path, None)
    if isinstance(value, Unknown):
        return value
    if isinstance(value, dict):
        return {k: split_marks(v, path + (k,), sensitive) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [split_marks(v, path + (i,), sensitive) for i, v in enumerate(value)]
    from engine.values import _plain_number
    from decimal import Decimal

    if isinstance(value, (float, Decimal)) and not isinstance(value, bool):
        return _plain_number(value)
    return value


def mark_paths(value: Any, sensitive_paths) -> Any:
    """Wrap the values at the given paths in Sensitive (for expression values)."""
    from engine.values import get_path, set_path

    for p in sensitive_paths:
        p = tuple(p)
        if not p:
            value = Sensitive(value)
        else:
            value = set_path(value, p, Sensitive(get_path(value, p)))
    return value


def references_of_body(body: ast.Body) -> list[ast.Traversal]:
    refs = []
    for attr in body.attributes.values():
        refs.extend(attr.expr.references())
    for blk in body.blocks:
        refs.extend(references_of_body(blk.body))
    return refs


def instance_address(prefix: str, key: str, index_key) -> str:
    from engine.addrs import index_text

    return prefix + key + index_text(index_key)


def expand(res: Resource, ctx, diags: Diagnostics, address: str) -> list[tuple[Any, dict]] | None:
    """Instance keys and each/count bindings; None when not expandable."""
    from engine.config.expr import evaluate
    from engine.values import unmark

    if res.count is not None:
        value, d = evaluate(res.count, ctx)
        diags.extend(d)
        if d.has_errors:
            return None
        if isinstance(unmark(value), Unknown):
            diags.error("Invalid count argument", 'The "count" value depends on resource attributes that cannot be determined until apply, so trainform cannot predict how many instances will be created. To work around this, use -target to first apply only the resources that the count depends on.', res.count.range, address)
            return None
        if isinstance(value, Sensitive):
            diags.error("Invalid count argument", "Sensitive values, or values derived from sensitive values, cannot be used as count arguments.", res.count.range, address)
            return None
        try:
            from engine.config import types as T

            n = T.convert(value, T.NUMBER)
            n_int = int(n)
            if n_int != n or n_int < 0:
                raise ValueError
        except Exception:
            diags.error("Invalid count argument", 'The given "count" argument value is unsuitable: must be a whole number greater than or equal to zero.', res.count.range, address)
            return None
        return [(i, {"count": {"index": i}}) for i in range(n_int)]
    if res.for_each is not None:
        value, d = evaluate(res.for_each, ctx)
        diags.extend(d)
        if d.has_errors:
            return None
        from engine.values import TSet, contains_sensitive, contains_unknown

        # A set element's mark is the whole set's mark (cty hoists them): either way it would be a key.
        if isinstance(value, Sensitive) or (isinstance(value, TSet) and contains_sensitive(value)):
            diags.error("Invalid for_each argument", "Sensitive values, or values derived from sensitive values, cannot be used as for_each arguments. If used, the sensitive value could be exposed as a resource instance key.", res.for_each.range, address)
            return None

        if isinstance(value, Unknown) or contains_unknown(value if isinstance(value, TSet) else list((value or {}).keys()) if isinstance(value, dict) else value):
            diags.error("Invalid for_each argument", 'The "for_each" value depends on resource attributes that cannot be determined until apply, so trainform cannot predict how many instances will be created. To work around this, use -target to first apply only the resources that the for_each depends on.', res.for_each.range, address)
            return None
        if value is None:
            diags.error("Invalid for_each argument", 'The given "for_each" argument value is null. A map, or set of strings, is allowed.', res.for_each.range, address)
            return None
        if isinstance(value, dict):
            return [(str(k), {"each": {"key": str(k), "value": v}}) for k, v in sorted(value.items())]
        if isinstance(value, TSet):
            out = []
            for v in value:
                v = unmark(v)
                if not isinstance(v, str):
                    diags.error("Invalid for_each set argument", 'The given "for_each" argument value is unsuitable: "for_each" supports maps and sets of strings, but you have provided a set containing type ' + type(v).__name__ + ".", res.for_each.range, address)
                    return None
                out.append((v, {"each": {"key": v, "value": v}}))
            return out
        kind = "tuple" if isinstance(value, list) and not isinstance(value, TSet) else type(value).__name__
        if isinstance(value, list):
            detail = 'The given "for_each" argument value is unsuitable: the "for_each" argument must be a map, or set of strings, and you have provided a value of type ' + ("list" if type(value).__name__ == "TList" else "tuple") + ". Use toset() to convert a list of strings."
        else:
            detail = f'The given "for_each" argument value is unsuitable: the "for_each" argument must be a map, or set of strings, and you have provided a value of type {kind}.'
        diags.error("Invalid for_each argument", detail, res.for_each.range, address)
        return None
    return [(None, {})]


# ------------------------------------------------------------------ static checks

def config_expressions(cfg: Config):
    """(expression, address) for every expression of one module (validate's static pass)."""
    m = cfg.module
    for var in m.variables.values():
        if var.default is not None:
            yield var.default, None
        for v in var.validations:
            yield v.condition, None
            yield v.error_message, None
    for loc in m.locals.values():
        yield loc.expr, None
    for out in m.outputs.values():
        yield out.expr, None
    for call in m.module_calls.values():
        for attr in call.args.values():
            yield attr.expr, None
    for key, res in m.resources.items():
        address = cfg.prefix + key
        if res.count is not None:
            yield res.count, address
        if res.for_each is not None:
            yield res.for_each, address
        stack = [res.body]
        while stack:
            body = stack.pop()
            for attr in body.attributes.values():
                yield attr.expr, address
            stack.extend(b.body for b in body.blocks)


def check_function_calls(expr: ast.Expression, diags: Diagnostics, address: str | None = None) -> None:
    """Unknown functions and wrong argument counts, found without evaluating
    (so validate reports them even where evaluation never reaches)."""
    from engine.config.functions import FUNCTIONS

    stack = [expr]
    while stack:
        e = stack.pop()
        if isinstance(e, ast.FunctionCall):
            fn = FUNCTIONS.get(e.name)
            if fn is None and e.name not in ("try", "can"):
                diags.error("Call to unknown function", f'There is no function named "{e.name}".{suggest(e.name, sorted(FUNCTIONS) + ["can", "try"])}', e.name_range, address)
            elif fn is not None and not e.expand_final and getattr(fn, "check_arity", None) is not None:
                problem = fn.check_arity(len(e.args))
                if problem:
                    n_params = len(getattr(fn, "params", ()))
                    few = len(e.args) < n_params
                    rng = e.range if few else e.args[n_params].range
                    diags.error("Not enough function arguments" if few else "Too many function arguments", problem, rng, address)
        children = getattr(e, "children", None)
        if children is not None:
            stack.extend(c for c in reversed(children()) if isinstance(c, ast.Expression))
