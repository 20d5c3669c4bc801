"""State digests of secrets use a slow KDF (issue 11, item 2, state part).

New digests are scrypt with their cost parameters in the string; digests of
the first format (one salted SHA-256 round) still verify so old states keep
working; verification is cached per (digest, value) within a process.
"""

from __future__ import annotations

import hashlib
import re

import pytest

from engine.state import secrets
from engine.state.secrets import digest, is_digest, matches


def test_new_digests_are_scrypt_with_parameters_and_random_salt():
    d = digest("hunter2")
    m = re.fullmatch(r"scrypt:(\d+):(\d+):(\d+):([0-9a-f]{32}):([0-9a-f]{64})", d)
    assert m, d
    log_n, r, p, salt, hexd = int(m[1]), int(m[2]), int(m[3]), m[4], m[5]
    assert (log_n, r, p) == secrets.SCRYPT_PARAMS and (1 << log_n) >= 2 ** 14
    want = hashlib.scrypt(b'"hunter2"', salt=salt.encode(), n=1 << log_n, r=r, p=p, dklen=32).hex()
    assert hexd == want
    assert digest("hunter2") != d  # fresh salt each time
    assert matches(d, "hunter2") and not matches(d, "hunter3")


def test_old_format_still_verifies():
    # made by the first implementation: sha256("<salt>:" + canonical JSON)
    salt = "82a031ae89fb779c"
    old = f"sha256:{salt}:" + hashlib.sha256(f'{salt}:"tok-123"'.encode()).hexdigest()
    assert is_digest(old)
    assert matches(old, "tok-123") and not matches(old, "tok-124")


def test_parameters_are_read_from_the_string():
    salt = "00ff"
    weaker = f"scrypt:10:8:1:{salt}:" + hashlib.scrypt(b'"x"', salt=salt.encode(), n=1 << 10, r=8, p=1, dklen=32).hex()
    assert is_digest(weaker) and matches(weaker, "x") and not matches(weaker, "y")


@pytest.mark.parametrize("hostile", [
    "scrypt:30:8:1:00ff:" + "0" * 64,   # 2^30 * 1 KiB of memory
    "scrypt:14:99:1:00ff:" + "0" * 64,
    "scrypt:14:8:64:00ff:" + "0" * 64,
    "scrypt:0:8:1:00ff:" + "0" * 64,
])
def test_hostile_parameters_are_not_digests(hostile):
    assert not is_digest(hostile)
    assert not matches(hostile, "x")


def test_verification_is_cached(monkeypatch):
    d = digest({"a": "b"})
    calls = []
    real = secrets._scrypt_hex
    monkeypatch.setattr(secrets, "_scrypt_hex", lambda *a: calls.append(a) or real(*a))
    assert matches(d, {"a": "b"}) and matches(d, {"a": "b"}) and matches(d, {"a": "b"})
    assert not matches(d, {"a": "c"}) and not matches(d, {"a": "c"})
    assert len(calls) == 2


def test_needs_upgrade():
    assert not secrets.needs_upgrade(digest("x"))
    assert secrets.needs_upgrade("sha256:ab12:" + "0" * 64)
    assert secrets.needs_upgrade("scrypt:10:8:1:00ff:" + "0" * 64)
    assert not secrets.needs_upgrade("not a digest")
