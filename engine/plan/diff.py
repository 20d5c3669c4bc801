"""Comparing values: what changed between prior and planned, planned and applied.

Pure functions over plain attribute values (dict/list/scalars with UNKNOWN),
aware of the salted digests state keeps in place of sensitive values.
"""

from __future__ import annotations

from engine.values import Unknown, contains_unknown

__all__ = [
    "changed_attrs",
    "first_inconsistency",
    "keep_digests",
    "known_after",
    "plain",
    "propagate_sensitive",
    "strip_unknown",
    "unknown_paths",
    "without_sensitive",
]


def propagate_sensitive(config: dict, planned: dict, sens: list) -> None:
    """Mark planned values that repeat a sensitive configured value (e.g. value.output
    echoing a sensitive input) so a provider can't leak a secret by copying it."""
    from engine.values import get_path

    secrets_seen = []
    for p in sens:
        v = get_path(config, tuple(p))
        if v is not None and not isinstance(v, Unknown):
            secrets_seen.append(v)
    if not secrets_seen:
        return

    def visit(v, path):
        if any(v == x for x in secrets_seen):
            if list(path) not in sens:
                sens.append(list(path))
            return
        if isinstance(v, dict):
            for k, x in v.items():
                visit(x, path + (k,))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                visit(x, path + (i,))

    for k, v in (planned or {}).items():
        visit(v, (k,))


def plain(value):
    """Planned attributes as JSON data: unknowns become None (listed in after_unknown)."""
    from engine.values import to_plain

    return to_plain(value)


def unknown_paths(value, path=()) -> list[list]:
    out: list[list] = []
    if isinstance(value, Unknown):
        out.append(list(path))
    elif isinstance(value, dict):
        for k, v in value.items():
            out += unknown_paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += unknown_paths(v, path + (i,))
    return out


def keep_digests(new: dict, old: dict, paths) -> dict:
    """After a read, keep stored digests at sensitive paths (providers may echo them or drop them)."""
    from engine.state import secrets
    from engine.values import get_path, set_path

    for p in paths:
        p = tuple(p)
        old_v = get_path(old, p)
        new_v = get_path(new, p)
        if isinstance(old_v, str) and secrets.is_digest(old_v) and (new_v == old_v or new_v is None or secrets.matches(old_v, new_v)):
            new = set_path(new, p, old_v)
    return new


def without_sensitive(attrs, paths):
    from engine.values import set_path

    for p in paths:
        attrs = set_path(attrs, tuple(p), None)
    return attrs


def changed_attrs(prior: dict, planned: dict, sensitive_paths) -> list[str]:
    """Top-level attribute names whose planned value differs from the prior one."""

    sens_top = {}
    for p in sensitive_paths:
        sens_top.setdefault(p[0], []).append(tuple(p[1:]))
    changed = []
    for name in sorted(set(prior) | set(planned)):
        a, b = prior.get(name), planned.get(name)
        if contains_unknown(b):
            if not (isinstance(b, Unknown) and a is not None and name == "id"):
                changed.append(name)
            continue
        if name in sens_top:
            if not _same_with_digests(a, b, sens_top[name]):
                changed.append(name)
        elif _norm(a) != _norm(b):
            changed.append(name)
    return changed


def _same_with_digests(a, b, subpaths) -> bool:
    from engine.state import secrets
    from engine.values import get_path, set_path

    for sp in subpaths:
        da = get_path(a, sp) if sp else a
        db = get_path(b, sp) if sp else b
        if isinstance(da, str) and secrets.is_digest(da):
            if not secrets.matches(da, db):
                return False
            if sp:
                b = set_path(b, sp, da)
            else:
                b = da
    return _norm(a) == _norm(b)


def _norm(v):
    from engine.values import to_plain

    return to_plain(v)


def known_after(after, unknown_paths):
    from engine.values import UNKNOWN, set_path

    v = after
    for p in unknown_paths:
        v = set_path(v, tuple(p), UNKNOWN) if p else UNKNOWN
    return v


def first_inconsistency(planned, new, path="") -> str | None:
    """The first path where a known planned value differs from ``new``."""
    from engine.values import to_plain

    if isinstance(planned, Unknown):
        return None
    if isinstance(planned, dict) and isinstance(new, dict):
        for k, v in planned.items():
            r = first_inconsistency(v, new.get(k), f"{path}.{k}" if path else str(k))
            if r:
                return r
        return None
    if isinstance(planned, list) and isinstance(new, list) and len(planned) == len(new):
        for i, (a, b) in enumerate(zip(planned, new)):
            r = first_inconsistency(a, b, f"{path}[{i}]")
            if r:
                return r
        return None
    if to_plain(planned) != to_plain(new):
        return path or "(root)"
    return None


def strip_unknown(v):
    if isinstance(v, Unknown):
        return None
    if isinstance(v, dict):
        return {k: strip_unknown(x) for k, x in v.items()}
    if isinstance(v, list):
        return [strip_unknown(x) for x in v]
    return v
