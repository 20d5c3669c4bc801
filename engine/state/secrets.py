"""Salted digests for sensitive values kept in state.

State never holds a secret in plaintext: a sensitive attribute or output is
replaced by ``"sha256:<salt>:<hex>"``, the SHA-256 of ``salt + ":" +`` the
canonical JSON of the value.  That is enough to answer "did the secret
change?" during plan (:func:`matches`) while a stolen state file reveals
nothing a dictionary attack on a random salt would not have to work for.
"""

from __future__ import annotations

import copy
import hashlib
import hmac
import json
import math
import re
import secrets as _secrets
from decimal import Decimal
from typing import Any, Iterable

__all__ = ["digest", "is_digest", "matches", "redact", "canonical_json"]

_DIGEST_RE = re.compile(r"^sha256:([0-9a-f]{1,64}):([0-9a-f]{64})$")


def _normalise(v: Any) -> Any:
    """Make numerically equal values hash equally (1 == 1.0 == Decimal(1))."""
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float, Decimal)):
        if isinstance(v, float) and not math.isfinite(v):
            return str(v)
        if v == int(v):
            return int(v)
        return float(v)
    if isinstance(v, dict):
        return {str(k): _normalise(x) for k, x in v.items()}
    if isinstance(v, (list, tuple, set, frozenset)):
        items = [_normalise(x) for x in v]
        if isinstance(v, (set, frozenset)):
            items.sort(key=canonical_json)
        return items
    if hasattr(v, "value"):  # a Sensitive mark or similar wrapper
        return _normalise(v.value)
    return str(v)


def canonical_json(value: Any) -> str:
    """Sorted keys, no spaces, unicode kept: the same value always gives the same text."""
    return json.dumps(_normalise(value), sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def digest(value: Any, salt: str | None = None) -> str:
    """Return ``sha256:<salt>:<hex>`` for ``value`` (a fresh random salt unless given)."""
    if salt is None:
        salt = _secrets.token_hex(8)
    if not re.fullmatch(r"[0-9a-f]{1,64}", salt):
        raise ValueError("digest salt must be 1-64 lowercase hex digits")
    h = hashlib.sha256(f"{salt}:{canonical_json(value)}".encode("utf-8")).hexdigest()
    return f"sha256:{salt}:{h}"


def is_digest(s: Any) -> bool:
    return isinstance(s, str) and _DIGEST_RE.match(s) is not None


def matches(digest_str: str, value: Any) -> bool:
    """True when ``value`` is the secret ``digest_str`` was made from."""
    m = _DIGEST_RE.match(digest_str) if isinstance(digest_str, str) else None
    if m is None:
        return False
    return hmac.compare_digest(digest(value, m.group(1)), digest_str)


def _path_list(path: Iterable) -> list:
    return list(path)


def redact(attributes: dict, paths: Iterable[Iterable], salt_for=None) -> dict:
    """Return a copy of ``attributes`` with the values at ``paths`` replaced by digests.

    A path is a list of str keys / int indexes.  Paths that do not exist are
    ignored, values that already are digests are kept (so redacting twice is
    harmless).  ``salt_for(path) -> str`` may fix the salt (the v0 upgrade does,
    to stay reproducible); by default each value gets a random salt.
    """
    out = copy.deepcopy(attributes)
    for path in paths:
        path = _path_list(path)
        if not path:
            continue
        parent = out
        ok = True
        for step in path[:-1]:
            try:
                parent = parent[step]
            except (KeyError, IndexError, TypeError):
                ok = False
                break
        if not ok:
            continue
        last = path[-1]
        try:
            current = parent[last]
        except (KeyError, IndexError, TypeError):
            continue
        if current is None or is_digest(current):
            continue
        parent[last] = digest(current, salt_for(path) if salt_for else None)
    return out
