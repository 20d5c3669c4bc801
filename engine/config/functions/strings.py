"""String functions: format, join/split, replace, substr, case, trimming, regexes.

Regular expressions are RE2 (Go) syntax in Terraform; :func:`re2_to_python`
translates the constructs whose spelling differs in Python's ``re``.
"""

from __future__ import annotations

import json
import re
import unicodedata
from decimal import Decimal

from engine.config.functions._base import FunctionError, Param, register
from engine.config.types import (
    DYNAMIC, NUMBER, STRING, ConversionError, List, convert, format_number, is_number,
    norm_number, to_string, Tuple as TupleT, Object as ObjectT,
)
from engine.values import TList, UNKNOWN

__all__ = ["re2_to_python", "graphemes"]


# --------------------------------------------------------------------------- graphemes


def graphemes(s: str) -> list[str]:
    """Approximate extended grapheme clusters: a base character plus the
    combining marks, zero-width joiners and variation selectors that follow."""
    out: list[str] = []
    for ch in s:
        if out and (unicodedata.combining(ch) or ch in "\u200d\ufe0e\ufe0f"
                    or unicodedata.category(ch) == "Me" or (out[-1].endswith("\u200d"))
                    or (ch == "\n" and out[-1] == "\r")):
            out[-1] += ch
        else:
            out.append(ch)
    return out


# --------------------------------------------------------------------------- simple ones


@register("upper", [Param("str", STRING)])
def _upper(s):
    # Go maps rune by rune (simple case mapping): "ß" stays "ß"
    return "".join(u if len(u := ch.upper()) == 1 else ch for ch in s)


@register("lower", [Param("str", STRING)])
def _lower(s):
    return "".join(low if len(low := ch.lower()) == 1 else low[0] for ch in s)


def _is_sep(ch: str) -> bool:
    # Go's strings.Title separator rule
    if ord(ch) <= 0x7F:
        if ch.isalnum() or ch == "_":
            return False
        return True
    if ch.isalpha() or ch.isdigit():
        return False
    return ch.isspace()


@register("title", [Param("str", STRING)])
def _title(s):
    out, prev = [], " "
    for ch in s:
        out.append(_upper(ch) if _is_sep(prev) else ch)
        prev = ch
    return "".join(out)


@register("strrev", [Param("str", STRING)])
def _strrev(s):
    return "".join(reversed(graphemes(s)))


@register("trimspace", [Param("str", STRING)])
def _trimspace(s):
    return s.strip(" \t\n\r\v\f\u0085\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
                   "\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000")


@register("trim", [Param("str", STRING), Param("cutset", STRING)])
def _trim(s, cutset):
    return s.strip(cutset) if cutset else s


@register("trimprefix", [Param("str", STRING), Param("prefix", STRING)])
def _trimprefix(s, p):
    return s[len(p):] if p and s.startswith(p) else s


@register("trimsuffix", [Param("str", STRING), Param("suffix", STRING)])
def _trimsuffix(s, p):
    return s[: len(s) - len(p)] if p and s.endswith(p) else s


_CHOMP = re.compile(r"(?:\r\n|\r|\n)+\Z")


@register("chomp", [Param("str", STRING)])
def _chomp(s):
    return _CHOMP.sub("", s)


@register("indent", [Param("spaces", NUMBER), Param("str", STRING)])
def _indent(n, s):
    n = _int_arg(n, 0)
    if n < 0:
        raise FunctionError("panic in function implementation: strings: negative Repeat count")
    return s.replace("\n", "\n" + " " * n)


@register("startswith", [Param("str", STRING), Param("prefix", STRING)])
def _startswith(s, p):
    return s.startswith(p)


@register("endswith", [Param("str", STRING), Param("suffix", STRING)])
def _endswith(s, p):
    return s.endswith(p)


@register("strcontains", [Param("str", STRING), Param("substr", STRING)])
def _strcontains(s, p):
    return p in s


def _int_arg(n, idx, what="a whole number is required"):
    n = norm_number(n)
    if not isinstance(n, int):
        raise FunctionError(what, idx)
    return n


@register("substr", [Param("str", STRING), Param("offset", NUMBER), Param("length", NUMBER)])
def _substr(s, offset, length):
    offset = _int_arg(offset, 1)
    length = _int_arg(length, 2)
    g = graphemes(s)
    if offset < 0:
        offset += len(g)
        if offset < 0:
            offset = 0
    if offset > 0 and offset >= len(g):
        return ""
    rest = g[offset:]
    if length < 0:
        return "".join(rest)
    if length == 0:
        return "".join(rest) if False else ""
    return "".join(rest[:length])


@register("join", [Param("separator", STRING)], variadic=Param("lists", List(STRING)))
def _join(sep, *lists):
    if not lists:
        raise FunctionError("at least one list is required")
    items = []
    for li, lst in enumerate(lists):
        if lst is None:
            raise FunctionError("argument must not be null", li + 1)
        for i, x in enumerate(lst):
            if x is None:
                raise FunctionError(f"element {i} is null; cannot concatenate null values", li + 1)
            items.append(x)
    return sep.join(items)


@register("split", [Param("separator", STRING), Param("str", STRING)])
def _split(sep, s):
    if sep == "":
        return TList(list(s), STRING)
    return TList(s.split(sep), STRING)


# --------------------------------------------------------------------------- regexes


_POSIX = {
    "alnum": "0-9A-Za-z", "alpha": "A-Za-z", "ascii": "\\x00-\\x7F", "blank": "\\t ",
    "cntrl": "\\x00-\\x1F\\x7F", "digit": "0-9", "graph": "!-~", "lower": "a-z",
    "print": " -~", "punct": "!-/:-@\\[-`{-~", "space": "\\t\\n\\v\\f\\r ",
    "upper": "A-Z", "word": "0-9A-Za-z_", "xdigit": "0-9A-Fa-f",
}
_PERL = {"\\pL": "[^\\W\\d_]", "\\p{L}": "[^\\W\\d_]", "\\pN": "\\d", "\\p{N}": "\\d"}


def re2_to_python(pattern: str) -> str:
    """Translate RE2 syntax to Python ``re`` where the two differ."""
    out = []
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            nxt = pattern[i + 1]
            if nxt == "Q":
                end = pattern.find("\\E", i + 2)
                lit = pattern[i + 2:] if end < 0 else pattern[i + 2:end]
                out.append(re.escape(lit))
                i = n if end < 0 else end + 2
                continue
            if nxt == "z":
                out.append("\\Z")
                i += 2
                continue
            if nxt in "pP":
                for k, v in _PERL.items():
                    if pattern.startswith(k, i):
                        out.append(v if nxt == "p" else v.replace("[^", "[", 1) if v.startswith("[^") else "\\D")
                        i += len(k)
                        break
                else:
                    raise re.error("unsupported Unicode class")
                continue
            out.append(pattern[i:i + 2])
            i += 2
            continue
        if c == "[" and pattern.startswith("[:", i):
            end = pattern.find(":]", i)
            if end > 0:
                name = pattern[i + 2:end]
                neg = name.startswith("^")
                cls = _POSIX.get(name.lstrip("^"))
                if cls is not None and not neg:
                    out.append(cls)
                    i = end + 2
                    continue
        if c == "(" and pattern.startswith("(?<", i) and not pattern.startswith(("(?<=", "(?<!"), i):
            out.append("(?P<")
            i += 3
            continue
        out.append(c)
        i += 1
    text = "".join(out)
    # Python only accepts global inline flags at the very start
    m = re.match(r"^\(\?([imsU]+)\)", text)
    if m and "U" in m.group(1):
        raise re.error("ungreedy flag not supported")
    return text


def _compile(pattern: str, idx: int = 0):
    try:
        return re.compile(re2_to_python(pattern))
    except re.error as e:
        raise FunctionError(f"invalid regexp pattern: {_re_error_text(e)}", idx) from None


def _re_error_text(e: re.error) -> str:
    msg = e.msg
    if msg.startswith("unterminated character set"):
        return f"missing closing ] in {e.pattern[e.pos:] if e.pos is not None else ''}"
    if msg.startswith("missing ), unterminated subpattern"):
        return f"missing closing ): `{e.pattern}`"
    if msg.startswith("unbalanced parenthesis"):
        return f"unexpected ): `{e.pattern}`"
    return msg


def _match_value(rx, m):
    if rx.groups == 0:
        return m.group(0)
    if rx.groupindex:
        return {name: m.group(name) for name in rx.groupindex}
    return [m.group(i) for i in range(1, rx.groups + 1)]


def _result_type(rx):
    if rx.groups == 0:
        return STRING
    if rx.groupindex:
        return ObjectT({name: STRING for name in rx.groupindex})
    return TupleT([STRING] * rx.groups)


@register("regex", [Param("pattern", STRING), Param("string", STRING)])
def _regex(pattern, s):
    rx = _compile(pattern, 0)
    if rx.groupindex and len(rx.groupindex) != rx.groups:
        raise FunctionError("invalid regexp pattern: cannot mix both named and unnamed capture groups", 0)
    m = rx.search(s)
    if m is None:
        raise FunctionError("pattern did not match any part of the given string")
    return _match_value(rx, m)


@register("regexall", [Param("pattern", STRING), Param("string", STRING)])
def _regexall(pattern, s):
    rx = _compile(pattern, 0)
    if rx.groupindex and len(rx.groupindex) != rx.groups:
        raise FunctionError("invalid regexp pattern: cannot mix both named and unnamed capture groups", 0)
    return TList([_match_value(rx, m) for m in _finditer(rx, s)], _result_type(rx))


def _finditer(rx, s):
    # Go skips an empty match right after a previous match; Python allows it.
    last_end = -1
    for m in rx.finditer(s):
        if m.start() == m.end() and m.start() == last_end:
            continue
        last_end = m.end()
        yield m


def _go_expand(template: str, m) -> str:
    """Go's Regexp.Expand: $1, ${1}, $name, ${name}, $$."""
    out = []
    i, n = 0, len(template)
    while i < n:
        c = template[i]
        if c != "$" or i + 1 >= n:
            out.append(c)
            i += 1
            continue
        nxt = template[i + 1]
        if nxt == "$":
            out.append("$")
            i += 2
            continue
        if nxt == "{":
            end = template.find("}", i + 2)
            name = template[i + 2:end] if end > 0 else ""
            if end < 0 or not re.fullmatch(r"[A-Za-z0-9_]+", name):
                out.append(c)
                i += 1
                continue
            i = end + 1
        else:
            mm = re.match(r"[A-Za-z0-9_]+", template[i + 1:])
            if not mm:
                out.append(c)
                i += 1
                continue
            name = mm.group(0)
            i += 1 + len(name)
        try:
            g = m.group(int(name)) if name.isdigit() else m.group(name)
        except (IndexError, error_type()):
            g = ""
        out.append(g or "")
    return "".join(out)


def error_type():
    return re.error


@register("replace", [Param("str", STRING), Param("substr", STRING), Param("replace", STRING)])
def _replace(s, substr, repl):
    if len(substr) > 1 and substr.startswith("/") and substr.endswith("/"):
        rx = _compile(substr[1:-1], 1)
        out, pos = [], 0
        for m in _finditer(rx, s):
            out.append(s[pos:m.start()])
            try:
                out.append(_go_expand(repl, m))
            except IndexError:
                out.append("")
            pos = m.end()
        out.append(s[pos:])
        return "".join(out)
    if substr == "":
        # Go strings.Replace with an empty old string inserts between runes
        return repl + repl.join(s) + repl if s else repl
    return s.replace(substr, repl)


# --------------------------------------------------------------------------- format


_VERB = re.compile(r"%(?P<flags>[-+# 0]*)(?:\[(?P<argidx>\d+)\])?(?P<width>\d+|\*)?(?:\.(?P<prec>\d*))?(?:\[(?P<argidx2>\d+)\])?(?P<verb>.)?", re.S)


def _json_of(v) -> str:
    from engine.config.functions.encoding import json_encode
    return json_encode(v)


def _verb_value(verb: str, flags: str, prec: str | None, v, argn: int) -> str:
    def unsupported(msg):
        return FunctionError(f'unsupported value for "%{flags}{verb}" at {argn}: {msg}')

    if verb == "v":
        if "#" in flags:
            return _json_of(v)
        if isinstance(v, str):
            return v
        if isinstance(v, bool) or is_number(v):
            return to_string(v)
        return _json_of(v)
    if verb == "t":
        if not isinstance(v, bool):
            if isinstance(v, str) and v in ("true", "false"):
                return v
            raise unsupported("bool required")
        return "true" if v else "false"
    if verb in "bdoxXeEfgG":
        try:
            n = convert(v, NUMBER)
        except ConversionError as e:
            raise unsupported(e.message) from None
        if verb in "bdoxX":
            if not isinstance(n, int):
                raise unsupported("an integer is required")
            base = {"b": "b", "d": "d", "o": "o", "x": "x", "X": "X"}[verb]
            s = format(abs(n), base)
            if "#" in flags and verb in "oxX":
                s = {"o": "0", "x": "0x", "X": "0X"}[verb] + s
            if prec not in (None, ""):
                s = s.rjust(int(prec), "0")
            return ("-" if n < 0 else ("+" if "+" in flags else (" " if " " in flags else ""))) + s
        d = Decimal(format_number(n))
        p = 6 if prec in (None, "") and verb in "eEf" else (int(prec) if prec not in (None, "") else None)
        if verb == "f":
            s = format(d, f".{p}f")
        elif verb in "eE":
            s = format(float(d), f".{p}{verb}")
        else:
            s = _go_g(d, p)
            if verb == "G":
                s = s.upper()
        if "+" in flags and not s.startswith("-"):
            s = "+" + s
        elif " " in flags and not s.startswith("-"):
            s = " " + s
        return s
    if verb == "s":
        try:
            s = convert(v, STRING)
        except ConversionError as e:
            raise unsupported(e.message) from None
        if prec not in (None, ""):
            s = "".join(list(s)[: int(prec)])
        return s
    if verb == "q":
        try:
            s = convert(v, STRING)
        except ConversionError as e:
            raise unsupported(e.message) from None
        return json.dumps(s, ensure_ascii=False)
    raise FunctionError(f'unsupported format verb "%{verb}"')


def _go_g(d: Decimal, prec: int | None) -> str:
    """Go's %g for a decimal: shortest digits, exponent form outside [1e-4, 1e(eprec))."""
    if d == 0:
        return "0"
    if prec is not None:
        prec = max(prec, 1)
        d = Decimal(format(d, f".{prec - 1}e"))
    sign, digits, exp = d.normalize().as_tuple()
    ds = "".join(map(str, digits))
    nd = len(ds)
    dp = nd + exp  # position of the decimal point relative to the digits
    eprec = 6 if prec is None else prec
    if prec is not None and eprec > nd and nd >= dp:
        eprec = nd
    x = dp - 1
    neg = "-" if sign else ""
    if x < -4 or x >= eprec:
        mant = ds[0] + ("." + ds[1:] if nd > 1 else "")
        return f"{neg}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{neg}0.{'0' * -dp}{ds}"
    if dp >= nd:
        return neg + ds + "0" * (dp - nd)
    return f"{neg}{ds[:dp]}.{ds[dp:]}"


def _looks_number(s: str) -> bool:
    try:
        convert(s, NUMBER)
        return True
    except ConversionError:
        return False


def format_string(fmt: str, args: list) -> str:
    out = []
    i, n = 0, len(fmt)
    argi = 0
    while i < n:
        c = fmt[i]
        if c != "%":
            out.append(c)
            i += 1
            continue
        if fmt.startswith("%%", i):
            out.append("%")
            i += 2
            continue
        m = _VERB.match(fmt, i)
        verb = m.group("verb")
        if verb is None:
            raise FunctionError(f"invalid format string starting at offset {i}")
        flags = m.group("flags") or ""
        idx = m.group("argidx") or m.group("argidx2")
        if idx is not None:
            argi = int(idx) - 1
        width = m.group("width")
        prec = m.group("prec")
        spec = fmt[i:m.end()]
        if verb not in "vtbdoxXeEfgGsq":
            raise FunctionError(f'unrecognized format verb "{verb}" at offset {m.start("verb")}')
        if argi >= len(args):
            raise FunctionError(f'not enough arguments for "{spec}" at {i}: need index {argi + 1} but have {len(args)} total')
        v = args[argi]
        s = _verb_value(verb, flags, prec, v, argi)
        argi += 1
        if width and width != "*":
            w = int(width)
            if "-" in flags:
                s = s.ljust(w)
            elif "0" in flags and verb not in "sqvt":
                sign = s[0] if s[:1] in "+- " else ""
                s = sign + s[len(sign):].rjust(w - len(sign), "0")
            else:
                s = s.rjust(w)
        out.append(s)
        i = m.end()
    return "".join(out)


@register("format", [Param("format", STRING)],
          variadic=Param("args", DYNAMIC, allow_null=True))
def _format(fmt, *args):
    if any(a is None for a in args):
        return UNKNOWN
    return format_string(fmt, list(args))


@register("formatlist", [Param("format", STRING)],
          variadic=Param("args", DYNAMIC, allow_null=True))
def _formatlist(fmt, *args):
    n = None
    nidx = None
    for i, a in enumerate(args):
        if isinstance(a, (list, tuple)) and not isinstance(a, dict):
            if n is None:
                n, nidx = len(a), i
            elif len(a) != n:
                raise FunctionError(
                    f"argument {i + 1} has length {len(a)}, which is inconsistent with argument {nidx + 1} of length {n}", i + 1)
    if n is None:
        n = 1
    out = []
    for k in range(n):
        row = [a[k] if isinstance(a, (list, tuple)) and not isinstance(a, dict) else a for a in args]
        out.append(format_string(fmt, row))
    return TList(out, STRING)
