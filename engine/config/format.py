"""Print values exactly like ``terraform console`` does (internal/repl/format.go).

Tuples and objects print as ``[...]`` / ``{...}``, typed collections as
``tolist([...])``, ``toset([...])``, ``tomap({...})``; multi-line strings as
heredocs; unknowns as ``(known after apply)`` and sensitive values as
``(sensitive value)`` at whatever depth they occur.
"""

from __future__ import annotations

import unicodedata
from typing import Any

from engine.config.types import format_number, is_number
from engine.values import Sensitive, TList, TMap, TSet, Unknown

__all__ = ["format_value", "go_quote"]

_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
            "\v": "\\v", "\\": "\\\\", '"': '\\"'}


def _go_printable(ch: str) -> bool:
    if ch == " ":
        return True
    cat = unicodedata.category(ch)
    return cat[0] in "LMNPS"


def go_quote(s: str) -> str:
    """Go's strconv.Quote, which the console uses for single-line strings."""
    out = ['"']
    for ch in s:
        if ch in _ESCAPES:
            out.append(_ESCAPES[ch])
        elif _go_printable(ch):
            out.append(ch)
        else:
            o = ord(ch)
            if o < 0x80:
                out.append(f"\\x{o:02x}")
            elif o < 0x10000:
                out.append(f"\\u{o:04x}")
            else:
                out.append(f"\\U{o:08x}")
    out.append('"')
    return "".join(out)


def _multiline(s: str, indent: int) -> str | None:
    lines = s.split("\n")
    if len(lines) < 2:
        return None
    op = "<<-" if indent > 0 else "<<"
    delim = "EOT"
    while any(line.strip() == delim for line in lines):
        delim += "_"
    pad = " " * indent
    return op + delim + "".join("\n" + pad + line for line in lines) + "\n" + pad + delim


def format_value(v: Any, indent: int = 0) -> str:
    if isinstance(v, Unknown):
        return "(known after apply)"
    if isinstance(v, Sensitive):
        return "(sensitive value)"
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        m = _multiline(v, indent)
        return m if m is not None else go_quote(v)
    if is_number(v):
        return format_number(v)
    if isinstance(v, TList):
        return f"tolist({_seq(v, indent)})"
    if isinstance(v, TSet):
        return f"toset({_seq(v, indent)})"
    if isinstance(v, TMap):
        return f"tomap({_mapping(v, indent)})"
    if isinstance(v, dict):
        return _mapping(v, indent)
    if isinstance(v, (list, tuple)):
        return _seq(v, indent)
    return repr(v)


def _seq(items, indent: int) -> str:
    if not items:
        return "[]"
    inner = indent + 2
    pad = " " * inner
    parts = ["["]
    for x in items:
        parts.append("\n" + pad + format_value(x, inner) + ",")
    parts.append("\n" + " " * indent + "]")
    return "".join(parts)


def _mapping(d: dict, indent: int) -> str:
    if not d:
        return "{}"
    inner = indent + 2
    pad = " " * inner
    parts = ["{"]
    for k in sorted(d, key=lambda k: str(k).encode("utf-8")):
        parts.append("\n" + pad + format_value(str(k), inner) + " = " + format_value(d[k], inner))
    parts.append("\n" + " " * indent + "}")
    return "".join(parts)
