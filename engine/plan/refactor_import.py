"""Import at plan time: ``import { to, id }`` blocks and ``trainform import ADDR ID``.

An import is planned like Terraform 1.5+ does it: when the target instance is
planned and has no prior state, the provider's ``import_`` hook turns the id
into a state, ``read`` confirms the object exists (and refreshes it), and the
result becomes the instance's prior state -- so the plan shows "will be
imported" plus whatever update the configuration asks for.  Apply records the
imported object before anything else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from engine.diagnostics import Diagnostics, Range

__all__ = ["ImportSpec", "expand_import", "import_object", "import_specs"]


@dataclass
class ImportSpec:
    address: str
    id: Any = None  # the id (a string) once known
    expr: Any = None  # import blocks: the id expression, evaluated when the target is planned
    range: Range | None = None
    to_range: Range | None = None  # the block's ``to``: where a missing target is reported
    binding: dict | None = None  # {"each": {...}}: an element of the import block's for_each


def import_specs(config, cli_imports) -> dict[str, ImportSpec]:
    out: dict[str, ImportSpec] = {}
    for imp in config.module.imports:
        if imp.for_each is not None:
            continue  # expanded when its resource is planned (expand_import)
        a = str(imp.to)
        out[a] = ImportSpec(a, expr=imp.id, range=imp.id.range, to_range=imp.to.range)
    for address, id_ in cli_imports or []:
        out[address] = ImportSpec(address, id=id_)
    return out


def expand_import(session, imp, d: Diagnostics) -> list[ImportSpec]:
    """An import block with ``for_each`` (Terraform 1.7+): one ImportSpec per element,
    ``to``'s key and ``id`` evaluated with each.key/each.value. Evaluated when its
    resource is planned (graph edges order what for_each reads before it)."""
    from types import SimpleNamespace

    from engine.addrs import Instance, Resource
    from engine.config.expr import evaluate
    from engine.evaluate import expand
    from engine.values import Unknown, contains_unknown, to_plain, unmark

    from engine.values import TSet

    ctx = session.scopes[()].ctx()
    listed, d0 = evaluate(imp.for_each, ctx)
    from engine.values import contains_sensitive

    if (not d0.has_errors and isinstance(listed, list) and not isinstance(listed, TSet)
            and not contains_unknown(listed) and not contains_sensitive(listed)):
        # unlike a resource's, an import's for_each also takes a list: each.key is the index
        bindings = [(i, {"each": {"key": i, "value": v}}) for i, v in enumerate(listed)]
    else:
        bindings = expand(SimpleNamespace(count=None, for_each=imp.for_each), ctx, d, str(imp.to))
    out = []
    from engine.config.refactoring import NO_KEY

    for _, binding in bindings or []:
        key = None if imp.to.key is NO_KEY else imp.to.key  # a static `to` (all elements the same: duplicates)
        if imp.key is not None:
            value, d2 = evaluate(imp.key, session.scopes[()].ctx(binding))
            d.extend(d2)
            if d2.has_errors:
                continue
            value = unmark(value)
            if isinstance(value, Unknown) or contains_unknown(value):
                d.error("Invalid import address", "The import target's instance key depends on values that cannot be determined until apply.", imp.key.range)
                continue
            key = to_plain(value)
            if isinstance(key, float) and key == int(key):
                key = int(key)
            if not isinstance(key, (str, int)) or isinstance(key, bool):
                d.error("Invalid import address", f"An instance key must be a string or a whole number, not {key!r}.", imp.key.range)
                continue
        address = str(Instance(Resource(imp.to.module, imp.to.type, imp.to.name), key))
        if any(s.address == address for s in out):
            d.error("Duplicate import configuration", f'The import block\'s for_each gives "{address}" more than once. A resource can have only one import.', imp.range)
            continue
        out.append(ImportSpec(address, expr=imp.id, range=imp.id.range, to_range=imp.to.range, binding=binding))
    return out


def _import_id(session, spec: ImportSpec, d: Diagnostics) -> str | None:
    from engine.config.expr import evaluate
    from engine.values import contains_unknown, to_plain, unmark

    if spec.expr is None:
        return spec.id
    value, d2 = evaluate(spec.expr, session.scopes[()].ctx(spec.binding))
    d.extend(d2)
    if d2.has_errors:
        return None
    value = unmark(value)
    if contains_unknown(value):
        d.error("Invalid import id argument", "The import block \"id\" argument depends on values that cannot be determined until apply, so trainform cannot plan to import this resource.", spec.range, spec.address)
        return None
    value = to_plain(value)
    if not isinstance(value, str) or not value:
        d.error("Invalid import id argument", "The import ID must be a non-empty string.", spec.range, spec.address)
        return None
    spec.id = value
    return value


def import_object(session, scope, res, address: str, index_key, spec: ImportSpec, d: Diagnostics):
    """The ResourceInstance adopted for ``address`` (None, with diagnostics, when it cannot be)."""
    from engine.addrs import module_string
    from engine.errors import InternalError
    from engine.plan.diff import plain
    from engine.providers import ImportRequest, ReadRequest
    from engine.state import secrets
    from engine.state.model import ResourceInstance

    import_id = _import_id(session, spec, d)
    if import_id is None:
        return None
    provider = session.provider(res.type)

    def take(diags) -> bool:
        for x in diags:
            x.address = x.address or address
            if x.range is None:
                x.range = spec.range
        d.extend(diags)
        return not diags.has_errors

    try:
        resp = provider.import_(ImportRequest(address=address, id=import_id))
        if not take(resp.diagnostics):
            return None
        new = None
        if resp.state is not None:
            rresp = provider.read(ReadRequest(address=address, state=resp.state, private=resp.private))
            if not take(rresp.diagnostics):
                return None
            new, private = rresp.new_state, rresp.private
    except Exception as e:
        raise InternalError(f"provider {res.type} crashed while importing {address}: {type(e).__name__}: {e}") from e
    if new is None:
        d.error("Cannot import non-existent remote object", f'While attempting to import an existing object to "{address}", the {res.type} provider found no object with the id "{import_id}". Only existing objects can be imported: check the id, or remove the import to let trainform create a new object for this resource.', spec.range, address)
        return None
    schema = provider.schema()
    sens = [list(p) for p in schema.block.sensitive_paths(new)]
    session.set_live(address, res.type, new)
    salt = secrets.new_salt()  # one salt per instance, as apply records them
    return ResourceInstance(
        address=address, type=res.type, name=res.name, module=module_string(scope.path), index_key=index_key,
        attributes=secrets.redact(plain(new), [tuple(p) for p in sens], salt_for=lambda _path: salt),
        sensitive_paths=sens, private=private,
        dependencies=[], status="ready", schema_version=schema.version,
        create_before_destroy=res.lifecycle.create_before_destroy,
    )
