"""Encoding functions: JSON, YAML, CSV, base64, URL.

jsonencode mirrors Go's encoding/json as cty uses it (sorted keys, ``<>&``
and U+2028/2029 escaped); yamlencode mirrors cty's YAML emitter (every
string double-quoted, multi-line strings as literal blocks).
"""

from __future__ import annotations

import base64
import binascii
import json
import urllib.parse
from decimal import Decimal

from engine.config.functions._base import FunctionError, Param, register
from engine.config.types import DYNAMIC, STRING, format_number, is_number, norm_number
from engine.values import TList, Unknown

__all__ = ["json_encode", "json_decode"]


_COMMON_ESCAPES = {'"': '\\"', "\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _quote(s: str, special) -> str:
    """Double-quote ``s``: the escapes JSON and YAML share, then ``special(ch)``
    (an escape for that character, or None to keep it as is)."""
    out = ['"']
    for ch in s:
        esc = _COMMON_ESCAPES.get(ch)
        out.append(esc if esc is not None else (special(ch) or ch))
    out.append('"')
    return "".join(out)


def _json_special(ch: str) -> str | None:
    # Go's encoding/json also escapes HTML characters and line/paragraph separators
    o = ord(ch)
    return f"\\u{o:04x}" if o < 0x20 or ch in "<>&\u2028\u2029" else None


def _json_str(s: str) -> str:
    return _quote(s, _json_special)


def json_encode(v) -> str:
    if isinstance(v, Unknown):
        raise FunctionError("value is not known", 0)
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return _json_str(v)
    if is_number(v):
        return format_number(v)
    if isinstance(v, dict):
        return "{" + ",".join(_json_str(str(k)) + ":" + json_encode(v[k]) for k in sorted(v)) + "}"
    if isinstance(v, list):
        return "[" + ",".join(json_encode(x) for x in v) + "]"
    from engine.values import Sensitive
    if isinstance(v, Sensitive):
        return json_encode(v.value)
    raise FunctionError(f"cannot encode {type(v).__name__}", 0)


def _no_dups(pairs):
    return dict(pairs)


def json_decode(s: str):
    def num(text):
        return norm_number(Decimal(text))

    try:
        return json.loads(s, parse_float=num, parse_int=int, object_pairs_hook=_no_dups,
                          parse_constant=lambda c: (_ for _ in ()).throw(ValueError(c)))
    except json.JSONDecodeError as e:
        if e.pos >= len(s.rstrip()):
            raise FunctionError("EOF") from None
        raise FunctionError(f"invalid character {e.doc[e.pos:e.pos + 1]!r} {e.msg.lower()}".replace("'", "'")) from None
    except ValueError as e:
        raise FunctionError(str(e)) from None


@register("jsonencode", [Param("val", DYNAMIC, allow_null=True)])
def _jsonencode(v):
    return json_encode(v)


@register("jsondecode", [Param("str", STRING)])
def _jsondecode(s):
    return json_decode(s)


# --------------------------------------------------------------------------- YAML


_YAML_NAMED = {"\u0085": "\\N", "\u2028": "\\L", "\u2029": "\\P", "\ufeff": "\\uFEFF"}


def _yaml_special(ch: str) -> str | None:
    o = ord(ch)
    if o < 0x20 or o == 0x7F:
        return f"\\x{o:02X}"
    return _YAML_NAMED.get(ch)


def _yaml_quote(s: str) -> str:
    return _quote(s, _yaml_special)


def _yaml_block(s: str, indent: int) -> list[str] | None:
    if "\n" not in s or "\r" in s or any(ord(c) < 0x20 and c not in "\n\t" for c in s):
        return None
    if s.endswith("\n"):
        chomp = "+" if s.endswith("\n\n") or s == "\n" else ""
        body_lines = s.split("\n")[:-1]
    else:
        chomp = "-"
        body_lines = s.split("\n")
    hint = "2" if body_lines and (body_lines[0].startswith(" ") or body_lines[0] == "") else ""
    pad = " " * indent
    return ["|" + hint + chomp] + [(pad + line) if line else "" for line in body_lines]


def _yaml_scalar(v) -> str:
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if is_number(v):
        return format_number(v)
    return _yaml_quote(v)


def _yaml_lines(v, indent: int) -> list[str]:
    """Lines for a node placed at column ``indent`` (first line without padding)."""
    pad = " " * indent
    if isinstance(v, dict):
        if not v:
            return ["{}"]
        lines = []
        for k in sorted(v):
            x = v[k]
            key = ("" if not lines else pad) + _yaml_quote(str(k)) + ":"
            if isinstance(x, dict) and x:
                sub = _yaml_lines(x, indent + 2)
                lines.append(key)
                lines.append(" " * (indent + 2) + sub[0])
                lines += sub[1:]
            elif isinstance(x, list) and x:
                sub = _yaml_lines(x, indent)
                lines.append(key)
                lines.append(pad + sub[0])
                lines += sub[1:]
            elif isinstance(x, str) and (blk := _yaml_block(x, indent + 2)):
                lines.append(key + " " + blk[0])
                lines += blk[1:]
            else:
                sub = _yaml_lines(x, indent + 2)
                lines.append(key + " " + sub[0])
                lines += sub[1:]
        return lines
    if isinstance(v, list):
        if not v:
            return ["[]"]
        lines = []
        for x in v:
            if isinstance(x, str) and (blk := _yaml_block(x, indent + 2)):
                lines.append(("- " if not lines else pad + "- ") + blk[0])
                lines += blk[1:]
                continue
            sub = _yaml_lines(x, indent + 2)
            first = "- " + sub[0]
            lines.append(first if not lines else pad + first)
            lines += sub[1:]
        return lines
    if isinstance(v, str):
        blk = _yaml_block(v, indent + 2 if indent else 2)
        if blk:
            return blk
    return [_yaml_scalar(v)]


@register("yamlencode", [Param("value", DYNAMIC, allow_null=True)])
def _yamlencode(v):
    lines = _yaml_lines(v, 0)
    text = "\n".join(lines) + "\n"
    if not isinstance(v, (dict, list, str)):
        text += "...\n"
    return text


def _yaml_loader():
    import yaml

    class Loader(yaml.SafeLoader):
        pass

    def construct_float(loader, node):
        text = loader.construct_scalar(node).replace("_", "")
        low = text.lower()
        if low in (".inf", "+.inf", "-.inf", ".nan"):
            return float(low.replace(".", ""))
        return norm_number(Decimal(text))

    def construct_timestamp(loader, node):
        import datetime
        v = yaml.SafeLoader.construct_yaml_timestamp(loader, node)
        if isinstance(v, datetime.datetime):
            if v.tzinfo is None:
                return v.strftime("%Y-%m-%dT%H:%M:%S") + (f".{v.microsecond:06d}".rstrip("0") if v.microsecond else "") + "Z"
            return v.isoformat().replace("+00:00", "Z")
        return v.strftime("%Y-%m-%dT00:00:00Z")

    def construct_int(loader, node):
        text = loader.construct_scalar(node).replace("_", "")
        sign = -1 if text.startswith("-") else 1
        body = text.lstrip("+-")
        try:
            if body[:2] in ("0x", "0X"):
                return sign * int(body[2:], 16)
            if body[:2] in ("0o", "0O"):
                return sign * int(body[2:], 8)
            if body[:2] in ("0b", "0B"):
                return sign * int(body[2:], 2)
            return sign * int(body, 10)
        except ValueError:
            return text

    import re as _re
    Loader.add_implicit_resolver("tag:yaml.org,2002:int", _re.compile(r"^[-+]?0o[0-7]+$"), list("-+0"))
    Loader.add_implicit_resolver(
        "tag:yaml.org,2002:float",
        _re.compile(r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$"), list("-+.0123456789"))
    Loader.add_implicit_resolver("tag:yaml.org,2002:bool", _re.compile(r"^(?:y|Y|n|N)$"), list("yYnN"))

    def construct_bool(loader, node):
        return loader.construct_scalar(node).lower() in ("y", "yes", "true", "on")

    Loader.add_constructor("tag:yaml.org,2002:bool", construct_bool)
    Loader.add_constructor("tag:yaml.org,2002:int", construct_int)
    Loader.add_constructor("tag:yaml.org,2002:float", construct_float)
    Loader.add_constructor("tag:yaml.org,2002:timestamp", construct_timestamp)
    return Loader


@register("yamldecode", [Param("src", STRING)])
def _yamldecode(s):
    import yaml
    if not s.strip():
        raise FunctionError("on line 1, column 1: missing start of document")
    try:
        docs = list(yaml.load_all(s, Loader=_yaml_loader()))
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"on line {mark.line + 1}, column {mark.column + 1}: " if mark else ""
        raise FunctionError(where + str(getattr(e, "problem", e))) from None
    if len(docs) != 1:
        raise FunctionError("on line 1, column 1: unexpected extra content after value" if docs
                            else "on line 1, column 1: missing start of document")
    return _yaml_fix(docs[0])


def _yaml_fix(v):
    if isinstance(v, dict):
        return {str(k) if not isinstance(k, bool) else ("true" if k else "false"): _yaml_fix(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_yaml_fix(x) for x in v]
    if isinstance(v, float):
        return norm_number(v)
    if isinstance(v, bytes):
        return v.decode("utf-8", "replace")
    return v


# --------------------------------------------------------------------------- base64, url, csv


@register("base64encode", [Param("str", STRING)])
def _b64e(s):
    return base64.b64encode(s.encode("utf-8")).decode("ascii")


@register("base64decode", [Param("str", STRING)])
def _b64d(s):
    try:
        raw = base64.b64decode(s.encode("utf-8"), validate=True)
    except (binascii.Error, ValueError):
        raise FunctionError(f'failed to decode base64 data "{s}"') from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise FunctionError("the result of decoding the provided string is not valid UTF-8") from None


@register("base64gzip", [Param("str", STRING)])
def _b64gzip(s):
    # Byte-for-byte like Go's compress/gzip: OS byte 0xff, a sync flush and a
    # final empty stored block.
    import struct
    import zlib
    data = s.encode("utf-8")
    c = zlib.compressobj(6, zlib.DEFLATED, -15)
    body = c.compress(data) + c.flush(zlib.Z_SYNC_FLUSH) if data else b"\x00\x00\x00\xff\xff"
    out = (b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x00\xff" + body + b"\x01\x00\x00\xff\xff"
           + struct.pack("<II", zlib.crc32(data) & 0xFFFFFFFF, len(data) & 0xFFFFFFFF))
    return base64.b64encode(out).decode("ascii")


@register("urlencode", [Param("str", STRING)])
def _urlencode(s):
    return urllib.parse.quote_plus(s, safe="~")


@register("csvdecode", [Param("str", STRING)])
def _csvdecode(s):
    import csv
    import io
    rows = list(csv.reader(io.StringIO(s)))
    if not rows:
        raise FunctionError("missing header line")
    header = rows[0]
    out = []
    for n, row in enumerate(rows[1:], start=2):
        if len(row) != len(header):
            raise FunctionError(f"record on line {n}: wrong number of fields")
        out.append(dict(zip(header, row)))
    from engine.config.types import Object
    return TList(out, Object({h: STRING for h in header}))
