"""Crash logs: a bug prints one short line; the traceback goes to a file.

Secrets never land in a crash file: local variables are not dumped, and any
string registered with :func:`register_secret` is redacted from the text.
"""

from __future__ import annotations

import os
import time
import traceback

_SECRETS: set[str] = set()


def register_secret(value: str) -> None:
    if isinstance(value, str) and len(value) >= 3:
        _SECRETS.add(value)


def redact(text: str) -> str:
    for s in sorted(_SECRETS, key=len, reverse=True):
        text = text.replace(s, "(sensitive value)")
    return text


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
