"""Before planning: bring stored instances up to their provider's schema version,
then read every real object (refresh) and record what changed outside trainform.

Both work on the session's prior state in place (a copy of what was read from
the backend), so the plan compares configuration against reality.
"""

from __future__ import annotations

from engine.diagnostics import Diagnostics
from engine.plan.diff import keep_digests, without_sensitive
from engine.plan.model import DriftEntry
from engine.providers.registry import ProviderUnavailable

__all__ = ["refresh", "upgrade_states"]


def upgrade_states(session) -> None:
    """Instances stored under an older provider schema version: let the provider
    upgrade them (in the prior state copy; the next write records the new version)."""
    from engine.providers import UpgradeStateRequest

    for inst in list(session.state.resources.values()):
        try:
            p = session.provider(inst.type)
        except ProviderUnavailable:
            continue  # reported where the configuration uses the type
        if p is None:
            continue
        version = p.schema().version
        if inst.schema_version >= version:
            continue
        try:
            resp = p.upgrade_state(UpgradeStateRequest(address=inst.address, version=inst.schema_version, state=inst.attributes))
        except Exception as e:  # noqa: BLE001 - a provider bug, reported as such
            session.diags.error("Provider failed to upgrade state", f"The {inst.type} provider crashed upgrading {inst.address} from schema version {inst.schema_version} to {version}: {type(e).__name__}: {e}. This is a bug in the provider.", address=inst.address)
            continue
        for x in resp.diagnostics:
            x.address = x.address or inst.address
        session.diags.extend(resp.diagnostics)
        if resp.state is not None and not resp.diagnostics.has_errors:
            inst.attributes = resp.state
            inst.schema_version = version


def refresh(session) -> list[DriftEntry]:
    """Read every instance in state; update the prior state in place; return drift."""
    from concurrent.futures import ThreadPoolExecutor

    from engine.providers import ReadRequest

    drift: list[DriftEntry] = []
    insts = list(session.state.resources.values())
    if not insts:
        return drift

    def one(inst):
        p = session.provider(inst.type)
        session.events.refresh_start(inst.address)
        try:
            resp = p.read(ReadRequest(address=inst.address, state=inst.attributes, private=inst.private))
        except Exception as e:  # a provider crash is a bug, but refresh of others goes on
            d = Diagnostics()
            d.error("Provider error during refresh", f"{inst.type} provider failed to read {inst.address}: {type(e).__name__}: {e}", address=inst.address)
            return inst, None, d, True
        return inst, resp.new_state, resp.diagnostics, False

    quick = [i for i in insts if session.provider(i.type).inline]
    slow = [i for i in insts if not session.provider(i.type).inline]
    results = [one(i) for i in quick]
    if slow:
        with ThreadPoolExecutor(max_workers=max(1, session.options.parallelism)) as pool:
            results += list(pool.map(one, slow))
    for inst, new, d, crashed in results:
        session.diags.extend(d)
        if crashed or d.has_errors:
            continue
        if new is None:
            drift.append(DriftEntry(inst.address, "delete", before=without_sensitive(inst.attributes, inst.sensitive_paths), after=None))
            del session.state.resources[inst.address]
        else:
            new = keep_digests(new, inst.attributes, inst.sensitive_paths)
            if new != inst.attributes:
                drift.append(DriftEntry(inst.address, "update", before=without_sensitive(inst.attributes, inst.sensitive_paths), after=without_sensitive(new, inst.sensitive_paths)))
                inst.attributes = new
    return drift
