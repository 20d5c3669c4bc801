"""Keyed digests for inputs that cover sensitive values.

A plain SHA-256 of a secret (a run's ``input_hash``, its per-input hashes)
lets anyone holding the plan or state confirm a guess offline.  Digests that
cover a sensitive value are therefore HMAC-SHA-256 under a random key that
the state never holds: ``.trainform/secret.key`` (0600, created on first
use), or the hex key in ``$TRAINFORM_DIGEST_KEY`` (to share one key across a
team's machines, e.g. with a pg backend).

A machine without the key (a fresh clone) makes a new one, so the digests no
longer match: the provider compares :func:`key_id` (a fingerprint of the key
that reveals nothing about it) with the one stored in its private state and
says "the digest key changed" instead of a misleading reason.  Digests of
non-sensitive inputs stay plain SHA-256, so a fresh clone re-runs only what
depends on a secret.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import threading

__all__ = ["KEY_ENV", "KEY_FILE", "is_keyed", "key_id", "keyed", "keyed_marker", "load_key"]

KEY_FILE = "secret.key"
KEY_ENV = "TRAINFORM_DIGEST_KEY"
_PREFIX = "hmac-sha256:"
_lock = threading.Lock()
_cache: dict[str, bytes] = {}


def load_key(data_dir: str) -> bytes:
    """The digest key: $TRAINFORM_DIGEST_KEY, else ``<data_dir>/secret.key`` (created 0600)."""
    env = os.environ.get(KEY_ENV)
    if env:
        try:
            key = bytes.fromhex(env.strip())
        except ValueError:
            key = env.encode()
        if len(key) >= 16:
            return key
    path = os.path.abspath(os.path.join(data_dir, KEY_FILE))
    with _lock:
        if path in _cache:
            return _cache[path]
        key = _read(path)
        if key is None:
            os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
            new = os.urandom(32).hex().encode()
            try:
                fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            except FileExistsError:  # another process made it first
                key = _read(path)
            else:
                with os.fdopen(fd, "wb") as f:
                    f.write(new + b"\n")
                    f.flush()
                    os.fsync(f.fileno())
                key = new
        if key is None:
            raise OSError(f"cannot read the digest key {path}")
        _cache[path] = key
        return key


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            data = f.read().strip()
    except FileNotFoundError:
        return None
    return data or None


def key_id(key: bytes) -> str:
    """A short fingerprint naming the key (an HMAC of a constant: reveals nothing)."""
    return hmac.new(key, b"trainform digest key id", hashlib.sha256).hexdigest()[:12]


def keyed(value, key: bytes) -> str:
    """``hmac-sha256:<hex>`` of the canonical JSON of ``value``."""
    data = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str).encode()
    return _PREFIX + hmac.new(key, data, hashlib.sha256).hexdigest()


def keyed_marker(value, key: bytes) -> str:
    """What stands in for a sensitive value inside a larger hashed structure."""
    return keyed(["sensitive", value], key)


def is_keyed(text) -> bool:
    return isinstance(text, str) and text.startswith(_PREFIX)
