"""State surgery: ``state rm`` and ``state mv`` as operations on a State.

They change what state records, never a real object.  A move matches
addresses the way ``moved`` blocks do (engine.plan.refactor), so ``state mv``
and the equivalent ``moved`` block leave the same state.  Errors are
OperationErrors carrying diagnostics; the CLI locks, reads, calls these,
writes and renders.
"""

from __future__ import annotations

import fnmatch

from engine.diagnostics import Diagnostics
from engine.operations import OperationError


def matches(address: str, pattern: str) -> bool:
    """``pattern`` names ``address``: itself, any instance or module content under it, or a glob."""
    return address == pattern or address.startswith(pattern + "[") or address.startswith(pattern + ".") or fnmatch.fnmatchcase(address, pattern)


def _error(summary: str, detail: str) -> OperationError:
    d = Diagnostics()
    d.error(summary, detail)
    return OperationError(d)


def remove_instances(state, patterns, dry_run: bool = False) -> list[str]:
    """Forget every instance a pattern names (nothing when ``dry_run``); the addresses."""
    gone = [a for a in list(state.resources) if any(matches(a, p) for p in patterns)]
    if not gone:
        raise _error("Invalid target address", "No matching objects found. To view the available instances, use \"trainform state list\".")
    if not dry_run:
        for a in gone:
            del state.resources[a]
    return gone


def move_instances(state, src: str, dst: str) -> list:
    """Move an instance, every instance of a resource, or a whole module; the (from, to) pairs."""
    from engine.addrs import AddressError
    from engine.config.refactoring import Moved, endpoint_from_text
    from engine.plan.refactor import move_state

    def parse(addr):
        try:
            return endpoint_from_text(addr)
        except AddressError:
            raise _error("Invalid address", f'"{addr}" is not an address like value.x, value.x[0], module.m or module.m.value.x["k"].') from None

    s, t = parse(src), parse(dst)
    problem = None
    if s.is_module != t.is_module:
        problem = "a module can move only to another module, and a resource only to another resource"
    elif not s.is_module and s.type != t.type:
        problem = "resource types do not match"
    elif str(s) == str(t):
        # found by probing: said "does not match anything" for an address that is in state
        problem = "the destination is the source itself; there is already an object at that address"
    if problem:
        raise _error("Invalid state move request", f"Cannot move {src} to {dst}: {problem}.")
    moved, conflicts = move_state(state, [Moved(s, t, None)])
    if conflicts:
        raise _error("Invalid state move request", "Cannot move: there is already an instance at the destination address (" + "; ".join(conflicts) + ").")
    if not moved:
        raise _error("Invalid source address", f"Cannot move {src}: does not match anything in the current state.")
    return moved
