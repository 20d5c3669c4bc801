"""Numeric functions: abs, ceil, floor, pow, log, signum, parseint."""

from __future__ import annotations

import math
from decimal import Decimal, ROUND_CEILING, ROUND_FLOOR

from engine.config.functions._base import FunctionError, Param, register
from engine.config.types import NUMBER, STRING, format_number, norm_number

__all__: list[str] = []


def _dec(n) -> Decimal:
    return n if isinstance(n, Decimal) else Decimal(format_number(n))


@register("abs", [Param("num", NUMBER)])
def _abs(n):
    return norm_number(abs(_dec(n)))


@register("ceil", [Param("num", NUMBER)])
def _ceil(n):
    return int(_dec(n).to_integral_value(rounding=ROUND_CEILING))


@register("floor", [Param("num", NUMBER)])
def _floor(n):
    return int(_dec(n).to_integral_value(rounding=ROUND_FLOOR))


@register("signum", [Param("num", NUMBER)])
def _signum(n):
    d = _dec(n)
    if d != d.to_integral_value() or not -2**63 <= d < 2**63:
        raise FunctionError("value must be a whole number, between -9223372036854775808 and 9223372036854775807")
    return 0 if d == 0 else (1 if d > 0 else -1)


def _float_result(f: float):
    if math.isnan(f):
        raise FunctionError("result is not a number")
    return f if math.isinf(f) else norm_number(f)


@register("pow", [Param("num", NUMBER), Param("power", NUMBER)])
def _pow(n, p):
    if isinstance(n, int) and isinstance(p, int) and p >= 0:
        return n ** p
    try:
        return _float_result(math.pow(float(n), float(p)))
    except (OverflowError, ValueError):
        raise FunctionError("result is not a finite number") from None


@register("log", [Param("num", NUMBER), Param("base", NUMBER)])
def _log(n, base):
    def ln(x: float) -> float:
        if x == 0:
            return float("-inf")
        if x < 0:
            return float("nan")
        return math.log(x)
    a, b = ln(float(n)), ln(float(base))
    if b == 0:
        return _float_result(float("nan") if a == 0 else math.copysign(float("inf"), a))
    return _float_result(a / b)


_DIGITS = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"


@register("parseint", [Param("number", STRING), Param("base", NUMBER)])
def _parseint(s, base):
    if not isinstance(base, int):
        raise FunctionError("value must be a whole number, between -9223372036854775808 and 9223372036854775807", 1)
    if base < 2 or base > 62:
        raise FunctionError("base must be a whole number between 2 and 62 inclusive", 1)
    text = s
    neg = False
    if text.startswith(("-", "+")):
        neg = text[0] == "-"
        text = text[1:]
    if not text:
        raise FunctionError(f'cannot parse "{s}" as a base {base} integer', 0)
    val = 0
    for ch in text:
        if base <= 36:
            d = _DIGITS.find(ch.lower())
        else:
            d = _DIGITS.find(ch)
        if d < 0 or d >= base:
            raise FunctionError(f'cannot parse "{s}" as a base {base} integer', 0)
        val = val * base + d
    return -val if neg else val
