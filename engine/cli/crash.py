"""Crash logs: a bug prints one short line; the traceback goes to a file.

Secrets never land in a crash report (the file or the one-line message):
local variables are not dumped, and every value that carried a sensitive mark
during the command is redacted -- the raw variable values registered with
:func:`register_secret` and every scalar recorded by ``engine.values`` as its
mark was created (so derived secrets such as ``upper(var.pw)``,
``base64encode(var.pw)`` or ``sensitive("literal")`` go too).  Each is removed
in the forms a traceback or message may print it: as is, Python-repr and JSON
escaped (quotes, backslashes, unicode), base64 (standard and URL-safe, also
inside a longer encoded text such as an auth header), URL-encoded and hex, and
escaped twice (a repr of a message that holds a repr).

Values shorter than :data:`MIN_LENGTH` characters are not redacted: replacing
every "1" would make the log useless, and such a secret cannot be hidden by
text replacement anyway.
"""

from __future__ import annotations

import base64
import contextlib
import json
import os
import re
import time
import traceback
from decimal import Decimal
from urllib.parse import quote, quote_plus

MIN_LENGTH = 3
REDACTED = "(sensitive value)"

_SECRETS: set[str] = set()


def register_secret(value: str) -> None:
    if isinstance(value, str) and value:
        _SECRETS.add(value)


def _text_forms(v) -> set[str]:
    """The strings a value may be printed as (str, repr of numbers)."""
    if isinstance(v, str):
        return {v}
    if isinstance(v, bool) or v is None:
        return set()
    forms = {str(v), repr(v)}
    if isinstance(v, (float, Decimal)):
        from engine.config.types import format_number

        with contextlib.suppress(Exception):  # only a printing variant
            forms.add(format_number(v))
    return forms


def _escapes(s: str) -> set[str]:
    return {s, repr(s)[1:-1], json.dumps(s)[1:-1], json.dumps(s, ensure_ascii=False)[1:-1],
            repr(s.encode("utf-8"))[2:-1]}


def _encodings(s: str) -> set[str]:
    raw = s.encode("utf-8")
    out = {quote(s, safe=""), quote(s), quote_plus(s), raw.hex()}
    for enc in (base64.b64encode, base64.urlsafe_b64encode):
        whole = enc(raw).decode("ascii")
        out |= {whole, whole.rstrip("=")}
        # Inside a longer encoded text (base64("user:" + pw), an auth header) the secret
        # starts at any offset mod 3; its whole 3-byte groups encode the same way at each.
        for j in (1, 2):
            n = (len(raw) - j) // 3 * 3
            if n >= 6:
                out.add(enc(raw[j:j + n]).decode("ascii"))
    return out


def secret_forms() -> list[str]:
    """Every printed form of every secret of this process, longest first."""
    from engine.values import sensitive_values_seen

    texts: set[str] = set()
    for v in set(_SECRETS) | set(sensitive_values_seen()):
        texts |= _text_forms(v)
    forms: set[str] = set()
    for t in texts:
        if len(t) < MIN_LENGTH:
            continue
        for once in _escapes(t) | _encodings(t):
            forms |= _escapes(once)  # escaped twice: a repr of a message holding a repr
    return sorted((f for f in forms if len(f) >= MIN_LENGTH), key=len, reverse=True)


# Line numbers of traceback frames are code positions, not data: they are kept
# out of reach of the replacement (a sensitive port 5432 must not turn "line 5432"
# of a frame into noise) by spelling their digits in private-use characters.
_FRAME_LINE = re.compile(r'(?m)^(\s*File "[^"\n]*", line )(\d+)')
_HIDE = str.maketrans("0123456789", "".join(chr(0xE000 + i) for i in range(10)))
_SHOW = str.maketrans("".join(chr(0xE000 + i) for i in range(10)), "0123456789")


def redact(text: str) -> str:
    forms = secret_forms()
    if not forms:
        return text
    text = _FRAME_LINE.sub(lambda m: m.group(1) + m.group(2).translate(_HIDE), text)
    for s in forms:
        if s in text:
            text = text.replace(s, REDACTED)
    return text.translate(_SHOW)


def write_crash_log(exc: BaseException) -> str:
    from engine import __version__

    text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
    body = f"trainform v{__version__} crash at {time.strftime('%Y-%m-%dT%H:%M:%S')}\n\n{redact(text)}"
    path = os.path.abspath("crash.log")
    try:
        with open(path, "w", encoding="utf-8") as f:
            f.write(body)
    except OSError:
        import tempfile

        fd, path = tempfile.mkstemp(prefix="trainform-crash-", suffix=".log")
        with os.fdopen(fd, "w") as f:
            f.write(body)
    return path
