"""Applying ``moved``, ``removed`` and ``import`` blocks at plan time.

* :func:`check_statements` -- what can be told from the configuration alone
  (an old address still declared, ambiguous or cyclic moves, an import target
  with no configuration); run by validate and plan.
* :func:`apply_moves` -- move instances of the prior state to their new
  addresses, following chains (``a -> b``, ``b -> c`` moves an object at
  ``a`` to ``c``), before refresh and planning, so a moved object is planned
  at its new address like any other (a moved run is not re-run).  The plan
  records the moves; apply journals them.  ``trainform state mv`` uses the same
  matching (:func:`move_state`).
* :func:`removed_for` -- the removed block that covers an orphaned instance.
"""

from __future__ import annotations

from typing import Any

from engine.addrs import deposed, module_string, parse_module, static_path
from engine.config.refactoring import NO_KEY, Endpoint, Moved, Removed
from engine.diagnostics import Diagnostics

__all__ = ["apply_moves", "check_instances_still_declared", "check_statements", "match_move", "move_state", "moved_statements", "removed_for"]


def moved_statements(config) -> list[Moved]:
    return [m for cfg in config.walk() for m in cfg.module.moved]


def _block_declared(config, ep: Endpoint, decl: int = 0):
    """The configuration object (resource or module call) an endpoint names, if declared.
    ``decl``: how many leading steps are the module the block is written in (static,
    whatever count/for_each that module has)."""
    from engine.addrs import split_step

    if ep.is_module and not ep.module:
        return None
    cfg, call = config, None
    for i, step in enumerate(ep.module):
        # a module instance exists only with the key kind its call has: module.m for a
        # plain call, module.m["k"] / module.m[0] for one with for_each / count
        name, key = split_step(step)
        call = cfg.module.module_calls.get(name)
        child = cfg.children.get(name)
        if call is None or child is None or (i >= decl and (key is None) != (call.count is None and call.for_each is None)):
            return None
        cfg = child
    if ep.is_module:
        return call
    return cfg.module.resources.get(f"{ep.type}.{ep.name}")


def _names_instance(ep: Endpoint) -> bool:
    """Whether an endpoint names one instance (``value.a[0]``, ``module.m["k"]``,
    ``module.m["k"].value.a``): whether that still exists depends on count/for_each
    values, not on the configuration alone, so the static check leaves it (found by
    probing: ``moved { from = module.fe["y"], to = module.fe["z"] }`` with
    ``for_each = toset(["x", "z"])`` was refused, and terraform 1.11 moves it)."""
    from engine.addrs import split_step

    return ep.is_instance or any(split_step(step)[1] is not None for step in ep.module)


def check_statements(config) -> Diagnostics:
    d = Diagnostics()
    moves = moved_statements(config)
    by_from: dict[str, Moved] = {}
    for m in moves:
        declared = _block_declared(config, m.from_, len(m.module))
        same_block = not m.from_.is_module and m.from_.block == m.to.block
        if declared is not None and not _names_instance(m.from_) and not same_block:
            what = "module call" if m.from_.is_module else "resource"
            d.error("Moved object still exists", f"This statement declares a move from {m.from_}, but that {what} is still declared at {declared.range}.\n\nChange your configuration so that this {what} will be declared as {m.to} instead.", m.from_.range)
        prev = by_from.get(str(m.from_))
        if prev is not None and str(prev.to) != str(m.to):
            d.error("Ambiguous move statements", f"A statement at {prev.range} declared that {m.from_} moved to {prev.to}, but this statement instead declares that it moved to {m.to}.\n\nEach item can move to only one destination address.", m.to.range)
        by_from.setdefault(str(m.from_), m)
    cycle = _move_cycle(moves)
    if cycle:
        lines = "\n".join(f"  - {m.range}: {m.from_} → {m.to}" for m in cycle)
        d.error("Cyclic dependency in move statements", f"The following chained move statements form a cycle, and so there is no final location to move objects to:\n{lines}\n\nA chain of move statements must end with an address that doesn't appear in any other statements, and which typically also refers to an object still declared in the configuration.", cycle[0].range)
    for cfg in config.walk():
        for r in cfg.module.removed:
            declared = _block_declared(config, r.from_, len(r.from_.module))  # removed names no instance keys
            if declared is not None:
                what = "module" if r.from_.is_module else "resource"
                d.error(f"Removed {what} still exists", f"This statement declares that {r.from_} was removed, but it is still declared in configuration at {declared.range}.", r.from_.range)
    seen: dict[str, Any] = {}
    for imp in config.module.imports:
        res = _block_declared(config, imp.to)
        if res is None:
            d.error("Configuration for import target does not exist", f'The configuration for the given import target {imp.to} does not exist. Declare {imp.to.type} "{imp.to.name}" in the configuration, or correct the address.', imp.to.range)
            continue
        if imp.for_each is not None:
            continue  # instances and duplicates are known once for_each is evaluated (plan time)
        if imp.to.key is not None and res.count is None and res.for_each is None:
            d.error("Invalid import address", f"{imp.to.block} has neither count nor for_each, so it has no instance {imp.to}: import to {imp.to.block}.", imp.to.range)
        if str(imp.to) in seen:
            d.error("Duplicate import configuration", f'An import block for the resource "{imp.to}" was already declared at {seen[str(imp.to)]}. A resource can have only one import block.', imp.range)
        seen.setdefault(str(imp.to), imp.range)
    return d


def check_instances_still_declared(config, addresses) -> Diagnostics:
    """Plan-time half of "Moved object still exists", for statements whose ``from``
    names an instance (``value.c[0]``, ``module.m["a"]``, ``module.m["a"].value.r``):
    whether it still exists depends on count/for_each, so it is checked against the
    instances the plan has for the configuration (``addresses``), as Terraform does
    after expansion (found by probing: a move from a still-counted ``value.c[0]`` was
    applied and the instance re-created)."""
    from engine.addrs import AddressError, parse_instance

    d = Diagnostics()
    statements = [m for m in moved_statements(config) if _names_instance(m.from_)]
    if not statements:
        return d
    locs = []
    for a in addresses:
        try:
            i = parse_instance(a)
        except AddressError:
            continue
        locs.append((i.resource.module, i.resource.type, i.resource.name, i.key))
    for m in statements:
        if not any(match_move(m, loc) is not None for loc in locs):
            continue
        declared = _block_declared(config, m.from_, len(m.from_.module))
        what = "module instance" if m.from_.is_module else ("resource instance" if m.from_.is_instance else "resource")
        where = f" at {declared.range}" if declared is not None else ""
        d.error("Moved object still exists", f"This statement declares a move from {m.from_}, but that {what} is still declared{where}.\n\nChange your configuration so that this {'instance' if m.from_.is_instance else what} will be declared as {m.to} instead.", m.from_.range)
    return d


def _move_cycle(moves: list[Moved]) -> list[Moved] | None:
    """A chain of statements that leads back to where it started (by matching addresses)."""
    for start in moves:
        chain = [start]
        cur = start
        while True:
            nxt = next((m for m in moves if m is not cur and _covers(m.from_, cur.to)), None)
            if nxt is None:
                break
            if nxt is start:
                return chain
            if nxt in chain:
                break
            chain.append(nxt)
            cur = nxt
    return None


def _covers(a: Endpoint, b: Endpoint) -> bool:
    """Whether address ``b`` is, or lies inside, address ``a``."""
    if a.is_module:
        return b.module[:len(a.module)] == a.module
    if b.is_module or (a.module, a.type, a.name) != (b.module, b.type, b.name):
        return False
    return a.key is NO_KEY or a.key == b.key


# ---------------------------------------------------------------- moving instances

Loc = tuple  # (module path, type, name, key)


def match_move(m: Moved, loc: Loc) -> Loc | None:
    """Where statement ``m`` moves the instance at ``loc`` (None: it does not apply)."""
    mod, typ, name, key = loc
    src, dst = m.from_, m.to
    # A block written in module M applies in every instance of M (M["a"], M[0], ...):
    # the instance keys of those leading steps are kept (found by probing: a moved
    # block inside a for_each module moved nothing, its resources were re-created).
    n = len(m.module)
    if n:
        if len(mod) < n or static_path(mod[:n]) != m.module:
            return None
        prefix, mod = mod[:n], mod[n:]
        src_mod, dst_mod = src.module[n:], dst.module[n:]
    else:
        prefix, src_mod, dst_mod = (), src.module, dst.module
    if src.is_module:
        if mod[:len(src_mod)] != src_mod:
            return None
        return (prefix + dst_mod + mod[len(src_mod):], typ, name, key)
    if (mod, typ, name) != (src_mod, src.type, src.name):
        return None
    if src.key is NO_KEY and dst.key is NO_KEY:
        return (prefix + dst_mod, dst.type, dst.name, key)
    skey = None if src.key is NO_KEY else src.key
    if key != skey:
        return None
    return (prefix + dst_mod, dst.type, dst.name, None if dst.key is NO_KEY else dst.key)


def _final(moves: list[Moved], loc: Loc) -> Loc:
    used: set[int] = set()
    while True:
        for i, m in enumerate(moves):
            if i in used:
                continue
            new = match_move(m, loc)
            if new is not None:
                used.add(i)
                loc = new
                break
        else:
            return loc


def _address(loc: Loc) -> str:
    from engine.addrs import Instance, Resource

    return str(Instance(Resource(loc[0], loc[1], loc[2]), loc[3]))


def move_state(state, moves: list[Moved]) -> tuple[list[list[str]], list[str]]:
    """Move instances of ``state`` in place; returns ([from, to] moved, problems).

    An instance whose destination is already taken (by an instance not moving
    away) stays where it is, with a problem saying so, as in Terraform."""
    planned: dict[str, tuple[str, Loc]] = {}
    for addr, inst in state.resources.items():
        loc = (parse_module(inst.module), inst.type, inst.name, inst.index_key)
        new = _final(moves, loc)
        if new != loc:
            dest = _address(new)
            planned[addr] = (deposed(dest) if inst.status == "deposed" else dest, new)
    problems = []
    staying = set(state.resources) - set(planned)
    taken: set[str] = set()
    done = []
    for addr in sorted(planned):
        dest, _ = planned[addr]
        if dest in staying or dest in taken:
            problems.append(f"{addr} could not move to {dest}")
            staying.add(addr)
            continue
        taken.add(dest)
        done.append(addr)
    moved_insts = [(addr, state.resources.pop(addr)) for addr in done]
    out = []
    for addr, inst in moved_insts:
        dest, (mod, _typ, name, key) = planned[addr]
        inst.address, inst.module, inst.name, inst.index_key = dest, module_string(mod), name, key
        state.resources[dest] = inst
        out.append([addr, dest])
    state.resources = dict(sorted(state.resources.items()))
    return out, problems


def apply_moves(config, state, d: Diagnostics) -> list[list[str]]:
    """The configuration's moved blocks applied to the prior state (see the module docstring)."""
    moves = moved_statements(config)
    if not moves or not state.resources:
        return []
    out, problems = move_state(state, moves)
    if problems:
        d.warning("Unresolved resource instance address changes", "trainform tried to adjust resource instance addresses in the prior state based on moved blocks in the configuration, but some adjustments did not succeed due to existing objects already at the intended addresses:\n" + "\n".join(f"  - {p}" for p in problems) + "\n\ntrainform has planned to destroy these objects. If trainform's proposed changes aren't appropriate, you must first resolve the conflicts using the \"trainform state\" subcommands and then create a new plan.")
    return out


def removed_for(config, inst) -> Removed | None:
    """The removed block that speaks about an instance of the state, if any."""
    mod = static_path(parse_module(inst.module))  # removed blocks name no module instance keys
    for cfg in config.walk():
        for r in cfg.module.removed:
            ep = r.from_
            if ep.is_module:
                if mod[:len(ep.module)] == ep.module:
                    return r
            elif (mod, inst.type, inst.name) == (ep.module, ep.type, ep.name):
                return r
    return None
