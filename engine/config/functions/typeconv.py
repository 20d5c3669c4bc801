"""Type conversion functions: tostring, tonumber, tobool, tolist, toset, tomap,
plus the mark functions sensitive / nonsensitive / issensitive."""

from __future__ import annotations

from engine.config.functions._base import FunctionError, Param, deep_unmark, register
from engine.config.types import (
    BOOL,
    DYNAMIC,
    NUMBER,
    STRING,
    ConversionError,
    List,
    Map,
    Set,
    convert,
    friendly_name,
    type_of,
)
from engine.values import Sensitive, contains_sensitive

__all__: list[str] = []


def _kind(v) -> str:
    t = type_of(v)
    return friendly_name(t) if t.is_primitive() else ("tuple" if isinstance(v, list) and type(v) is list
                                                      else "object" if type(v) is dict else friendly_name(t))


@register("tostring", [Param("v", DYNAMIC, allow_null=True)])
def _tostring(v):
    if v is None:
        return None
    try:
        return convert(v, STRING)
    except ConversionError:
        raise FunctionError(f"cannot convert {_kind(v)} to string", 0,
                            sensitive_message=f"cannot convert this sensitive {_kind(v)} to string") from None


@register("tonumber", [Param("v", DYNAMIC, allow_null=True)])
def _tonumber(v):
    if v is None:
        return None
    try:
        return convert(v, NUMBER)
    except ConversionError:
        if isinstance(v, str):
            raise FunctionError(f'cannot convert "{v}" to number; given string must be a decimal '
                                "representation of a number", 0,
                                sensitive_message="cannot convert this sensitive string to number") from None
        raise FunctionError(f"cannot convert {_kind(v)} to number", 0,
                            sensitive_message=f"cannot convert this sensitive {_kind(v)} to number") from None


@register("tobool", [Param("v", DYNAMIC, allow_null=True)])
def _tobool(v):
    if v is None:
        return None
    try:
        return convert(v, BOOL)
    except ConversionError:
        if isinstance(v, str):
            raise FunctionError(f'cannot convert "{v}" to bool; only the strings "true" or "false" '
                                "are allowed", 0,
                                sensitive_message="cannot convert this sensitive string to bool") from None
        raise FunctionError(f"cannot convert {_kind(v)} to bool", 0,
                            sensitive_message=f"cannot convert this sensitive {_kind(v)} to bool") from None


def _coll(v, t, what):
    if v is None:
        return None
    try:
        return convert(v, t)
    except ConversionError as e:
        if e.message.startswith("all "):
            raise FunctionError(f"cannot convert {_kind(v)} to {what}: {e.full_message()}", 0) from None
        raise FunctionError(f"cannot convert {_kind(v)} to {what}", 0) from None


@register("tolist", [Param("v", DYNAMIC, allow_null=True)])
def _tolist(v):
    return _coll(v, List(DYNAMIC), "list of any single type")


@register("toset", [Param("v", DYNAMIC, allow_null=True)])
def _toset(v):
    return _coll(v, Set(DYNAMIC), "set of any single type")


@register("tomap", [Param("v", DYNAMIC, allow_null=True)])
def _tomap(v):
    return _coll(v, Map(DYNAMIC), "map of any single type")


@register("sensitive", [Param("value", DYNAMIC, allow_null=True, allow_unknown=True)], handles_marks=True)
def _sensitive(v):
    return Sensitive(v)


@register("nonsensitive", [Param("value", DYNAMIC, allow_null=True, allow_unknown=True)], handles_marks=True)
def _nonsensitive(v):
    return deep_unmark(v)


@register("issensitive", [Param("value", DYNAMIC, allow_null=True, allow_unknown=True)], handles_marks=True)
def _issensitive(v):
    return contains_sensitive(v)
