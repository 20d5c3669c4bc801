"""Salted, slow digests for sensitive values kept in state.

State never holds a secret in plaintext: a sensitive attribute or output is
replaced by a digest that answers "did the secret change?" during plan
(:func:`matches`) without revealing it.  A digest is

    ``scrypt:<log2 N>:<r>:<p>:<salt>:<hex>``

-- scrypt (RFC 7914, from the standard library) of the canonical JSON of the
value with a random 128-bit salt, so that each guess in an offline attack on
a stolen state costs the attacker about 50 ms and 16 MiB, per secret.  The
cost parameters live in the string, so they can be raised later while older
digests still verify.  The first format, ``sha256:<salt>:<hex>`` (one salted
SHA-256 round), is still recognised and verified, so existing states keep
working; new digests are always scrypt.

Plans compare the same digest with the same value many times (refresh, diff,
render), so :func:`matches` caches its answer per (digest, value) for the
life of the process.
"""

from __future__ import annotations

import copy
import functools
import json
import math
import re
from collections.abc import Iterable
from decimal import Decimal
from typing import Any

__all__ = ["SCRYPT_PARAMS", "canonical_json", "digest", "is_digest", "matches", "needs_upgrade", "redact"]

# log2(N), r, p: about 50 ms and 16 MiB per digest on a 2024 laptop core.
SCRYPT_PARAMS = (14, 8, 1)
# What a state file may ask of us when verifying (a hostile state must not make
# plan allocate gigabytes): N <= 2^20, r <= 16, p <= 4.
_MAX_LOG_N, _MAX_R, _MAX_P = 20, 16, 4

_SHA_RE = re.compile(r"^sha256:([0-9a-f]{1,64}):([0-9a-f]{64})$")
_SCRYPT_RE = re.compile(r"^scrypt:([0-9]{1,2}):([0-9]{1,2}):([0-9]{1,2}):([0-9a-f]{1,64}):([0-9a-f]{64})$")
_SALT_RE = re.compile(r"[0-9a-f]{1,64}")

_MATCH_CACHE: dict[tuple[str, str], bool] = {}
_MATCH_CACHE_MAX = 100_000


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


@functools.lru_cache(maxsize=1024)
def _scrypt_hex(text: str, salt: str, log_n: int, r: int, p: int) -> str:
    # cached: one process derives each (value, salt) once, e.g. equal secrets of one instance
    n = 1 << log_n
    import hashlib

    return hashlib.scrypt(text.encode("utf-8"), salt=salt.encode("ascii"), n=n, r=r, p=p,
                          maxmem=128 * r * n * (p + 1) + (1 << 20), dklen=32).hex()


def new_salt() -> str:
    """A fresh random salt for :func:`digest` (128 bits, hex)."""
    import secrets

    return secrets.token_hex(16)


def digest(value: Any, salt: str | None = None) -> str:
    """Return ``scrypt:<log2 N>:<r>:<p>:<salt>:<hex>`` for ``value`` (a fresh random salt unless given)."""
    if salt is None:
        salt = new_salt()
    if not _SALT_RE.fullmatch(salt):
        raise ValueError("digest salt must be 1-64 lowercase hex digits")
    log_n, r, p = SCRYPT_PARAMS
    return f"scrypt:{log_n}:{r}:{p}:{salt}:{_scrypt_hex(canonical_json(value), salt, log_n, r, p)}"


def _legacy_sha256(value: Any, salt: str) -> str:
    import hashlib

    h = hashlib.sha256(f"{salt}:{canonical_json(value)}".encode()).hexdigest()
    return f"sha256:{salt}:{h}"


def _scrypt_params_ok(log_n: int, r: int, p: int) -> bool:
    return 1 <= log_n <= _MAX_LOG_N and 1 <= r <= _MAX_R and 1 <= p <= _MAX_P


def is_digest(s: Any) -> bool:
    if not isinstance(s, str):
        return False
    m = _SCRYPT_RE.match(s)
    if m is not None:
        return _scrypt_params_ok(int(m.group(1)), int(m.group(2)), int(m.group(3)))
    return _SHA_RE.match(s) is not None


def needs_upgrade(digest_str: str) -> bool:
    """True for a digest weaker than new ones (the sha256 format, or smaller scrypt costs).

    A writer that still holds the plaintext (apply, after a change was verified
    equal) may replace such a digest with ``digest(value)``.
    """
    if not is_digest(digest_str):
        return False
    m = _SCRYPT_RE.match(digest_str)
    if m is None:
        return True
    return (int(m.group(1)), int(m.group(2)), int(m.group(3))) < SCRYPT_PARAMS


def matches(digest_str: str, value: Any) -> bool:
    """True when ``value`` is the secret ``digest_str`` was made from (either format)."""
    if not is_digest(digest_str):
        return False
    text = canonical_json(value)
    key = (digest_str, text)
    hit = _MATCH_CACHE.get(key)
    if hit is not None:
        return hit
    m = _SCRYPT_RE.match(digest_str)
    if m is not None:
        log_n, r, p, salt, want = int(m.group(1)), int(m.group(2)), int(m.group(3)), m.group(4), m.group(5)
        import hmac

        ok = hmac.compare_digest(_scrypt_hex(text, salt, log_n, r, p), want)
    else:
        import hmac

        ok = hmac.compare_digest(_legacy_sha256(value, _SHA_RE.match(digest_str).group(1)), digest_str)
    if len(_MATCH_CACHE) >= _MATCH_CACHE_MAX:
        _MATCH_CACHE.clear()
    _MATCH_CACHE[key] = ok
    return ok


def _path_list(path: Iterable) -> list:
    return list(path)


def plain_copy(v: Any) -> Any:
    """A deep copy of JSON-like data (dict/list/scalars); ~5x cheaper than copy.deepcopy,
    which matters when every instance of a 10,000-resource state is written."""
    if isinstance(v, dict):
        return {k: plain_copy(x) for k, x in v.items()}
    if isinstance(v, list):
        return [plain_copy(x) for x in v]
    if isinstance(v, (str, int, float, bool, type(None), Decimal)):
        return v
    return copy.deepcopy(v)


def redact(attributes: dict, paths: Iterable[Iterable], salt_for=None) -> dict:
    """Return a copy of ``attributes`` with the values at ``paths`` replaced by digests.

    A path is a list of str keys / int indexes.  Paths that do not exist are
    ignored, values that already are digests are kept (so redacting twice is
    harmless).  ``salt_for(path) -> str`` may fix the salt (the v0 upgrade does,
    to stay reproducible); by default each value gets a random salt.
    """
    out = plain_copy(attributes)
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
