"""Mask sensitive values in run output, as CI systems mask secrets.

A script given a secret (a sensitive ``env_vars`` entry or argument) may
print it, or print it encoded.  :class:`Masker` replaces, in every output
line, each sensitive value and its common encodings with ``***``:

* the raw text, and each line of a multi-line value;
* JSON-escaped (``json.dumps`` without the quotes, ASCII and not);
* URL-encoded (``quote`` and ``quote_plus``);
* hex of the UTF-8 bytes (lower and upper case), every byte percent-escaped;
* base32 (padded or not, either case), base85 and ascii85;
* shell-escaped with backslashes (``printf %q``);
* base64 (standard and URL-safe, padded or not) -- also when the secret is
  only part of the encoded text (``base64("user:" + secret)`` as in a Basic
  auth header): for each of the three byte alignments, the characters that
  depend on the secret alone are masked.

Values shorter than :data:`MIN_LENGTH` characters are not masked (masking
every "1" would ruin the log and tell the reader the value anyway).
The masker is a plain callable ``str -> str`` so every executor's log path
(docker, process, Ray: :func:`providers.run.execution.run_attempt`) and any
later reader can use it.  A detached process-mode run (``wait = false``)
outlives trainform, so its output goes through this file run as a filter
(``python masking.py``, stdlib only) that gets the values in
:data:`ENV_SECRETS` -- the environment, like the run's own secrets, never a
command line or a file.
"""

from __future__ import annotations

import base64
import json
import re
from urllib.parse import quote, quote_plus

__all__ = ["ENV_SECRETS", "ENV_TARGET_ARGV", "ENV_TARGET_NAMES", "MASK", "MIN_LENGTH", "Masker", "masker_for_targets",
           "secret_strings"]

MASK = "***"
MIN_LENGTH = 4
#: environment variable through which the detached-run filter gets the values to mask (JSON list)
ENV_SECRETS = "TRAINFORM_MASK_SECRETS"
#: Ray jobs: the names of the sensitive variables (comma-separated; names, never values)
ENV_TARGET_NAMES = "TRAINFORM_MASK_ENV"
#: Ray jobs: the indexes of the sensitive words of the command line (comma-separated)
ENV_TARGET_ARGV = "TRAINFORM_MASK_ARGV"


def secret_strings(value) -> list[str]:
    """The strings a sensitive value can appear as (lists/maps: each element and the JSON)."""
    out: list[str] = []
    if value is None:
        return out
    if isinstance(value, bool):
        return out  # "true"/"false": masking would blank the log and tell nothing
    if isinstance(value, (dict, list)):
        out.append(json.dumps(value, sort_keys=True))
        for v in (value.values() if isinstance(value, dict) else value):
            out += secret_strings(v)
        return out
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    out.append(str(value))
    return out


def _b64_cores(raw: bytes) -> list[str]:
    """Base64 substrings that depend only on ``raw``, for each alignment in the encoded text."""
    cores = []
    n = len(raw)
    for o in range(3):
        enc = base64.b64encode(b"\0" * o + raw + b"\0\0").decode()
        first = -(-8 * o // 6)  # ceil
        last = (8 * (o + n)) // 6
        core = enc[first:last]
        if len(core) >= MIN_LENGTH:
            cores.append(core)
            cores.append(core.replace("+", "-").replace("/", "_"))
    return cores


def _variants(secret: str) -> set[str]:
    forms = {secret}
    for line in secret.splitlines():
        if len(line.strip()) >= MIN_LENGTH:
            forms.add(line)
    forms.add(json.dumps(secret)[1:-1])
    forms.add(json.dumps(secret, ensure_ascii=False)[1:-1])
    forms.add(quote(secret, safe=""))
    forms.add(quote_plus(secret))
    forms.add(quote(secret))
    raw = secret.encode("utf-8")
    std = base64.b64encode(raw).decode()
    forms.update({std, std.rstrip("="), base64.urlsafe_b64encode(raw).decode().rstrip("=")})
    forms.update(_b64_cores(raw))
    forms.update({raw.hex(), raw.hex().upper()})
    b32 = base64.b32encode(raw).decode()
    forms.update({b32, b32.rstrip("="), b32.lower(), b32.lower().rstrip("=")})
    forms.update({base64.b85encode(raw).decode(), base64.a85encode(raw).decode()})
    forms.update({"".join(f"%{c:02X}" for c in raw), "".join(f"%{c:02x}" for c in raw)})  # every byte escaped
    forms.add(re.sub(r"([^A-Za-z0-9_./,:@%+=-])", r"\\\1", secret))  # shell backslash-escaped (printf %q)
    return {f for f in forms if len(f) >= MIN_LENGTH}


class Masker:
    """``masker(line) -> line`` with every form of every secret replaced by ``***``."""

    def __init__(self, secrets=()) -> None:
        self.secrets = [s for s in secrets if isinstance(s, str) and len(s) >= MIN_LENGTH]
        forms: set[str] = set()
        for s in self.secrets:
            if isinstance(s, str) and len(s) >= MIN_LENGTH:
                forms |= _variants(s)
        # longest first, so a secret containing another is masked whole
        self._forms = sorted(forms, key=lambda f: (-len(f), f))
        self._rx = re.compile("|".join(re.escape(f) for f in self._forms)) if self._forms else None

    def __bool__(self) -> bool:
        return self._rx is not None

    def __call__(self, text: str) -> str:
        if self._rx is None or not text:
            return text
        return self._rx.sub(MASK, text)

    @classmethod
    def for_values(cls, values) -> Masker:
        strings: list[str] = []
        for v in values:
            strings += secret_strings(v)
        return cls(strings)


def masker_for_targets(targets, env, argv) -> Masker:
    """The masker of an execution trainform did not start in this process.

    ``targets`` (``{"env": [names], "argv": [indexes]}``, kept in the run's
    private state) says only *which* variables and command-line words were
    sensitive; the values are read from where they live anyway for the
    execution's lifetime -- ``env`` (a mapping, or Docker's ``["K=V", ...]``)
    and ``argv`` (the command line of the container or Ray job).  So no
    secret is stored anywhere new to mask a log collected later."""
    if not targets:
        return Masker()
    if isinstance(env, (list, tuple)):
        env = dict(e.split("=", 1) for e in env if isinstance(e, str) and "=" in e)
    env = env or {}
    argv = list(argv or [])
    values: list = []
    for name in targets.get("env") or ():
        if env.get(name) is not None:
            values.append(env[name])
    for i in targets.get("argv") or ():
        if isinstance(i, int) and 0 <= i < len(argv):
            word = str(argv[i])
            values.append(word)
            if word[:1] in "[{":  # a list/map argument: its elements too (as secret_strings of the value)
                try:
                    values.append(json.loads(word))
                except ValueError:
                    pass
    return Masker.for_values(values)


def _filter_main() -> None:
    """stdin -> stdout, line by line, masked (the filter of a detached process-mode run)."""
    import os
    import sys

    mask = Masker(json.loads(os.environ.pop(ENV_SECRETS, "[]") or "[]"))
    out = sys.stdout.buffer
    for raw in sys.stdin.buffer:
        line = raw.decode("utf-8", "replace")
        out.write(mask(line).encode("utf-8"))
        out.flush()


if __name__ == "__main__":
    _filter_main()
