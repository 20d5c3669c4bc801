"""Runtime values of the configuration language.

Plain Python values carry most of Terraform's type system:

* ``None`` is null, ``str`` a string, ``bool`` a bool, ``int``/``float``/
  ``decimal.Decimal`` a number (the evaluator decides which; :func:`to_plain`
  gives int/float);
* ``list`` is a *tuple* value and ``dict`` an *object* value (what literals
  produce), while :class:`TList`, :class:`TSet` and :class:`TMap` are the
  homogeneous collection types produced by conversions and functions
  (``tolist``, ``toset``, ``tomap``) -- the console prints them as
  ``tolist([...])`` and so on, exactly like ``terraform console``;
* :data:`UNKNOWN` (an :class:`Unknown`) is a value only known after apply;
* :class:`Sensitive` wraps a value that must never be displayed; operations
  on it propagate the mark.

Everything the engine stores (plan, state) goes through :func:`to_plain`,
which strips the marks and reports where sensitive values and unknowns were.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

__all__ = [
    "UNKNOWN",
    "Sensitive",
    "TList",
    "TMap",
    "TSet",
    "Unknown",
    "contains_unknown",
    "is_sensitive",
    "is_unknown",
    "mark_sensitive",
    "sensitive_values_seen",
    "to_plain",
    "unmark",
]


class Unknown:
    """A value that will only be known after apply.

    ``type`` is an optional type constraint (see engine.config.types) or None
    for "any".  Unknowns compare equal to nothing, not even themselves.
    """

    __slots__ = ("type",)

    def __init__(self, type: Any = None) -> None:
        self.type = type

    def __repr__(self) -> str:
        return "UNKNOWN" if self.type is None else f"Unknown({self.type!r})"

    def __reduce__(self):
        return (Unknown, (self.type,))


UNKNOWN = Unknown()


# Every scalar that carried a sensitive mark in this process, recorded as the
# mark is created.  Marks are created wherever a secret is derived (a function
# result, an operator, a conversion, a value read back from state), so this
# holds upper(var.pw) and base64encode(var.pw) as well as var.pw itself: the
# crash handler (engine.cli.crash) redacts all of them from crash reports.
_SEEN_SENSITIVE: set = set()


def _remember(v: Any) -> None:
    if isinstance(v, str):
        if v:
            _SEEN_SENSITIVE.add(v)
    elif isinstance(v, bool) or v is None or isinstance(v, (Unknown, Sensitive)):
        return
    elif isinstance(v, (int, float, Decimal)):
        try:
            _SEEN_SENSITIVE.add(v)
        except TypeError:  # a signalling NaN cannot be hashed, and cannot be a secret worth hiding
            pass
    elif isinstance(v, dict):
        # A map's keys are data; an object's are attribute names ("password"), and
        # redacting those would garble every log.  A key computed from a secret was
        # itself marked (and recorded) when it was computed.
        keys = isinstance(v, TMap)
        for k, x in v.items():
            if keys:
                _remember(k)
            _remember(x)
    elif isinstance(v, (list, tuple)):
        for x in v:
            _remember(x)


def sensitive_values_seen() -> frozenset:
    """Scalars that carried a sensitive mark so far in this process (see ``_remember``)."""
    return frozenset(_SEEN_SENSITIVE)


class Sensitive:
    """A value marked sensitive: shown as ``(sensitive value)``, stored only as a digest."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value.value if isinstance(value, Sensitive) else value
        _remember(self.value)

    def __repr__(self) -> str:
        return "Sensitive(...)"

    def __eq__(self, other: object) -> bool:
        other_v = other.value if isinstance(other, Sensitive) else other
        return self.value == other_v

    def __hash__(self) -> int:
        return hash(("sensitive", repr(type(self.value))))

    def __reduce__(self):
        return (Sensitive, (self.value,))


class TList(list):
    """A Terraform ``list(T)`` value (as opposed to a tuple literal)."""

    __slots__ = ("elem_type",)

    def __init__(self, items=(), elem_type: Any = None) -> None:
        super().__init__(items)
        self.elem_type = elem_type


class TSet(list):
    """A Terraform ``set(T)`` value, kept in Terraform's canonical order."""

    __slots__ = ("elem_type",)

    def __init__(self, items=(), elem_type: Any = None) -> None:
        super().__init__(items)
        self.elem_type = elem_type


class TMap(dict):
    """A Terraform ``map(T)`` value (as opposed to an object literal)."""

    __slots__ = ("elem_type",)

    def __init__(self, items=(), elem_type: Any = None) -> None:
        super().__init__(items)
        self.elem_type = elem_type


def is_unknown(v: Any) -> bool:
    return isinstance(v, Unknown)


def is_sensitive(v: Any) -> bool:
    return isinstance(v, Sensitive)


def unmark(v: Any) -> Any:
    """Remove a top-level sensitive mark."""
    return v.value if isinstance(v, Sensitive) else v


def mark_sensitive(v: Any) -> Any:
    return v if isinstance(v, Sensitive) else Sensitive(v)


def contains_unknown(v: Any) -> bool:
    v = unmark(v)
    if isinstance(v, Unknown):
        return True
    if isinstance(v, dict):
        return any(contains_unknown(x) for x in v.values())
    if isinstance(v, list):
        return any(contains_unknown(x) for x in v)
    return False


def contains_sensitive(v: Any) -> bool:
    if isinstance(v, Sensitive):
        return True
    if isinstance(v, dict):
        return any(contains_sensitive(x) for x in v.values())
    if isinstance(v, list):
        return any(contains_sensitive(x) for x in v)
    return False


def _plain_number(n: Any) -> Any:
    if isinstance(n, Decimal):
        if n == n.to_integral_value():
            return int(n)
        return float(n)
    if isinstance(n, float) and n.is_integer() and abs(n) < 2**63:
        return int(n)
    return n


def to_plain(v: Any, path: tuple = (), sensitive: list | None = None, unknown: list | None = None) -> Any:
    """Convert to JSON-able data; record paths of sensitive and unknown values.

    Unknown values become ``None`` in the result and their path is appended to
    ``unknown``; sensitive values keep their plain value and their path is
    appended to ``sensitive``.  Paths are tuples of str keys / int indexes.
    """
    if isinstance(v, Sensitive):
        if sensitive is not None:
            sensitive.append(path)
        return to_plain(v.value, path, None, unknown)
    if isinstance(v, Unknown):
        if unknown is not None:
            unknown.append(path)
        return None
    if isinstance(v, bool) or v is None or isinstance(v, str):
        return v
    if isinstance(v, (int, float, Decimal)):
        return _plain_number(v)
    if isinstance(v, dict):
        return {str(k): to_plain(x, path + (str(k),), sensitive, unknown) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [to_plain(x, path + (i,), sensitive, unknown) for i, x in enumerate(v)]
    return v


def get_path(v: Any, path: tuple) -> Any:
    for step in path:
        v = unmark(v)
        if v is None:
            return None
        try:
            v = v[step]
        except (KeyError, IndexError, TypeError):
            return None
    return v


def set_path(v: Any, path: tuple, new: Any) -> Any:
    """Return a copy of ``v`` with ``new`` at ``path`` (dicts/lists copied along the way)."""
    if not path:
        return new
    step, rest = path[0], path[1:]
    if isinstance(v, dict):
        out = dict(v)
        out[step] = set_path(v.get(step), rest, new)
        return out
    if isinstance(v, list) and isinstance(step, int) and 0 <= step < len(v):
        out = list(v)
        out[step] = set_path(v[step], rest, new)
        return out
    return v


def apply_marks(v: Any, sensitive_paths=(), unknown_paths=()) -> Any:
    """Inverse of :func:`to_plain`: put marks back at the given paths."""
    for p in unknown_paths:
        v = set_path(v, tuple(p), UNKNOWN)
    for p in sensitive_paths:
        p = tuple(p)
        v = set_path(v, p, Sensitive(get_path(v, p)))
    return v
