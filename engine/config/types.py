"""Terraform's type system: type constraints, automatic conversion, unification.

Types are small immutable objects (:data:`STRING`, :data:`NUMBER`,
:data:`BOOL`, :data:`DYNAMIC` and the constructors :class:`List`,
:class:`Set`, :class:`Map`, :class:`Object`, :class:`Tuple`) whose ``str()``
is Terraform's own spelling (``list(string)``), so they can be printed in
diagnostics and stored in plans.

:func:`convert` applies cty's automatic conversions (the ones a variable type
constraint or a function parameter performs), raising :class:`ConversionError`
with Terraform's wording.  Numbers come out as ``int`` when integral and
``decimal.Decimal`` otherwise (see :func:`norm_number`), which keeps
``0.1 + 0.2 == 0.3`` exact like Terraform's big floats.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from decimal import Decimal, InvalidOperation
from typing import Any

from engine.values import Sensitive, TList, TMap, TSet, Unknown

__all__ = [
    "BOOL",
    "DYNAMIC",
    "NUMBER",
    "STRING",
    "ConversionError",
    "List",
    "Map",
    "Object",
    "Set",
    "Tuple",
    "Type",
    "TypeSyntaxError",
    "convert",
    "format_number",
    "friendly_name",
    "is_number",
    "make_set",
    "norm_number",
    "parse_type_string",
    "set_sort_key",
    "to_bool",
    "to_number",
    "to_string",
    "type_constraint_string",
    "type_of",
    "unify",
]


# --------------------------------------------------------------------------- types


class Type:
    """Base of every type.  Subclasses are immutable and hashable."""

    def is_primitive(self) -> bool:
        return isinstance(self, _Primitive) and self is not DYNAMIC

    def is_collection(self) -> bool:
        return isinstance(self, (List, Set, Map))

    def has_dynamic(self) -> bool:
        return False


class _Primitive(Type):
    __slots__ = ("name",)

    def __init__(self, name: str) -> None:
        self.name = name

    def __str__(self) -> str:
        return self.name

    def __repr__(self) -> str:
        return self.name.upper() if self.name != "any" else "DYNAMIC"

    def has_dynamic(self) -> bool:
        return self.name == "any"

    def __reduce__(self):
        return (_primitive, (self.name,))


STRING = _Primitive("string")
NUMBER = _Primitive("number")
BOOL = _Primitive("bool")
DYNAMIC = _Primitive("any")
_PRIMS = {"string": STRING, "number": NUMBER, "bool": BOOL, "any": DYNAMIC}


def _primitive(name: str) -> _Primitive:
    return _PRIMS[name]


class _Collection(Type):
    __slots__ = ("elem",)
    kind = ""

    def __init__(self, elem: Type) -> None:
        self.elem = elem

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.elem == self.elem

    def __hash__(self) -> int:
        return hash((self.kind, self.elem))

    def __str__(self) -> str:
        return f"{self.kind}({self.elem})"

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.elem!r})"

    def has_dynamic(self) -> bool:
        return self.elem.has_dynamic()


class List(_Collection):
    kind = "list"


class Set(_Collection):
    kind = "set"


class Map(_Collection):
    kind = "map"


class Object(Type):
    """``object({...})``; ``optional`` names optional attributes, ``defaults`` their defaults."""

    __slots__ = ("attrs", "defaults", "optional")

    def __init__(self, attrs: dict[str, Type], optional: Iterable[str] = (), defaults: dict | None = None) -> None:
        self.attrs = dict(attrs)
        self.optional = frozenset(optional)
        self.defaults = dict(defaults or {})

    def __eq__(self, other: object) -> bool:
        return (isinstance(other, Object) and other.attrs == self.attrs
                and other.optional == self.optional)

    def __hash__(self) -> int:
        return hash(("object", tuple(sorted(self.attrs.items(), key=lambda kv: kv[0])), self.optional))

    def __str__(self) -> str:
        parts = []
        for k in sorted(self.attrs):
            t = str(self.attrs[k])
            if k in self.optional:
                t = f"optional({t})"
            parts.append(f"{k}={t}")
        return "object({" + ",".join(parts) + "})"

    def __repr__(self) -> str:
        return f"Object({self.attrs!r}, optional={set(self.optional)!r})"

    def has_dynamic(self) -> bool:
        return any(t.has_dynamic() for t in self.attrs.values())


class Tuple(Type):
    __slots__ = ("elems",)

    def __init__(self, elems: Iterable[Type]) -> None:
        self.elems = tuple(elems)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Tuple) and other.elems == self.elems

    def __hash__(self) -> int:
        return hash(("tuple", self.elems))

    def __str__(self) -> str:
        return "tuple([" + ",".join(str(t) for t in self.elems) + "])"

    def __repr__(self) -> str:
        return f"Tuple({list(self.elems)!r})"

    def has_dynamic(self) -> bool:
        return any(t.has_dynamic() for t in self.elems)


def type_constraint_string(t: Type) -> str:
    return str(t)


def friendly_name(t: Type) -> str:
    """cty's FriendlyName: ``list of string``, ``object``, ``tuple``..."""
    if t is DYNAMIC:
        return "dynamic"
    if isinstance(t, _Primitive):
        return t.name
    if isinstance(t, _Collection):
        inner = "any single type" if t.elem is DYNAMIC else friendly_name(t.elem)
        return f"{t.kind} of {inner}"
    if isinstance(t, Object):
        return "object"
    if isinstance(t, Tuple):
        return "tuple"
    return str(t)


# --------------------------------------------------------------------------- errors


class TypeSyntaxError(ValueError):
    """A malformed type constraint in a ``variable`` block."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConversionError(ValueError):
    """A value does not conform to a type; ``path`` locates the offending part."""

    def __init__(self, message: str, path: tuple = ()) -> None:
        self.message = message
        self.path = tuple(path)
        super().__init__(self.full_message())

    def full_message(self) -> str:
        if not self.path:
            return self.message
        prefix = _path_prefix(self.path)
        return f"{prefix}: {self.message}" if prefix else self.message

    def __str__(self) -> str:
        return self.full_message()


def _path_prefix(path: tuple) -> str:
    # cty formats only the last step that matters; Terraform shows e.g.
    # 'attribute "a": ...' or 'element 0: ...'.
    out = []
    for step in path:
        if isinstance(step, tuple) and step[0] == "attr":
            out.append(f'attribute "{step[1]}"')
        elif isinstance(step, str):
            out.append(f'element "{step}"')
        else:
            out.append(f"element {step}")
    return ": ".join(out)


# --------------------------------------------------------------------------- type strings


_TOKEN = re.compile(r'\s*(?:(?P<name>[A-Za-z_][A-Za-z0-9_-]*)|(?P<str>"(?:[^"\\]|\\.)*")|(?P<num>-?[0-9][0-9.eE+-]*)|(?P<punct>[(){}\[\],=:])|(?P<other>\S))')


class _TypeParser:
    """A tiny recursive-descent parser for type constraint expressions.

    Default values inside ``optional(T, default)`` are parsed as JSON-like
    literals (strings, numbers, bools, null, lists, objects)."""

    def __init__(self, text: str) -> None:
        self.toks: list[tuple[str, str]] = []
        pos = 0
        text = text.strip()
        while pos < len(text):
            m = _TOKEN.match(text, pos)
            if not m or m.end() == pos:
                break
            pos = m.end()
            kind = m.lastgroup
            self.toks.append((kind, m.group(kind)))
        self.i = 0

    def peek(self) -> tuple[str, str] | None:
        return self.toks[self.i] if self.i < len(self.toks) else None

    def next(self) -> tuple[str, str]:
        t = self.peek()
        if t is None:
            raise TypeSyntaxError("Unexpected end of type expression.")
        self.i += 1
        return t

    def expect(self, p: str) -> None:
        _k, v = self.next()
        if v != p:
            raise TypeSyntaxError(f'Expected "{p}" but found "{v}".')

    def parse(self) -> Type:
        t = self.type(allow_optional=False)
        if self.peek() is not None:
            raise TypeSyntaxError("Extra characters after the type expression.")
        return t

    def type(self, allow_optional: bool = False):
        kind, v = self.next()
        if kind != "name":
            raise TypeSyntaxError("A type specification is either a primitive type keyword "
                                  "(bool, number, string) or a complex type constructor call, like list(string).")
        if v in _PRIMS:
            if self.peek() and self.peek()[1] == "(":
                raise TypeSyntaxError(f'Primitive type keyword "{v}" does not expect arguments.')
            return _PRIMS[v]
        if v in ("list", "set", "map"):
            if not (self.peek() and self.peek()[1] == "("):
                raise TypeSyntaxError(f'The {v} type constructor requires one argument specifying the element type.')
            self.expect("(")
            elem = self.type()
            self.expect(")")
            return {"list": List, "set": Set, "map": Map}[v](elem)
        if v == "object":
            if not (self.peek() and self.peek()[1] == "("):
                raise TypeSyntaxError("The object type constructor requires one argument specifying the attribute types as a map.")
            self.expect("(")
            self.expect("{")
            attrs, optional, defaults = {}, set(), {}
            while True:
                t = self.peek()
                if t is None:
                    raise TypeSyntaxError("Unexpected end of type expression.")
                if t[1] == "}":
                    self.next()
                    break
                if t[1] == ",":
                    self.next()
                    continue
                k, name = self.next()
                if k == "str":
                    name = _unquote(name)
                elif k != "name":
                    raise TypeSyntaxError("Object type attribute names must be valid identifiers.")
                sep = self.next()[1]
                if sep not in ("=", ":"):
                    raise TypeSyntaxError(f'Expected "=" after attribute name "{name}".')
                at = self.type(allow_optional=True)
                if isinstance(at, _Optional):
                    optional.add(name)
                    if at.has_default:
                        defaults[name] = at.default
                    at = at.type
                attrs[name] = at
            self.expect(")")
            obj = Object(attrs, optional, {})
            # defaults must conform to the attribute type
            for name, d in defaults.items():
                try:
                    obj.defaults[name] = convert(d, attrs[name])
                except ConversionError as e:
                    raise TypeSyntaxError(f'Invalid default value for optional attribute "{name}": {e}') from None
            return obj
        if v == "tuple":
            self.expect("(")
            self.expect("[")
            elems = []
            while True:
                t = self.peek()
                if t is None:
                    raise TypeSyntaxError("Unexpected end of type expression.")
                if t[1] == "]":
                    self.next()
                    break
                if t[1] == ",":
                    self.next()
                    continue
                elems.append(self.type())
            self.expect(")")
            return Tuple(elems)
        if v == "optional":
            if not allow_optional:
                raise TypeSyntaxError("Keyword \"optional\" is valid only as a modifier for object type attributes.")
            self.expect("(")
            inner = self.type()
            opt = _Optional(inner)
            if self.peek() and self.peek()[1] == ",":
                self.next()
                opt.has_default = True
                opt.default = self.literal()
            self.expect(")")
            return opt
        raise TypeSyntaxError(f'The keyword "{v}" is not a valid type specification.')

    def literal(self):
        kind, v = self.next()
        if kind == "str":
            return _unquote(v)
        if kind == "num":
            return norm_number(Decimal(v))
        if kind == "name":
            if v in ("true", "false"):
                return v == "true"
            if v == "null":
                return None
            raise TypeSyntaxError(f'Unsupported default value "{v}" in type expression.')
        if v == "[":
            out = []
            while True:
                t = self.peek()
                if t is None:
                    raise TypeSyntaxError("Unexpected end of type expression.")
                if t[1] == "]":
                    self.next()
                    return out
                if t[1] == ",":
                    self.next()
                    continue
                out.append(self.literal())
        if v == "{":
            out = {}
            while True:
                t = self.peek()
                if t is None:
                    raise TypeSyntaxError("Unexpected end of type expression.")
                if t[1] == "}":
                    self.next()
                    return out
                if t[1] == ",":
                    self.next()
                    continue
                k, key = self.next()
                key = _unquote(key) if k == "str" else key
                if self.next()[1] not in ("=", ":"):
                    raise TypeSyntaxError("Expected \"=\" in object default.")
                out[key] = self.literal()
        raise TypeSyntaxError(f'Unexpected "{v}" in type expression.')


class _Optional:
    def __init__(self, t: Type) -> None:
        self.type = t
        self.has_default = False
        self.default = None


def _unquote(s: str) -> str:
    import json
    return json.loads(s)


def parse_type_string(text: str) -> Type:
    """Parse a variable's ``type = ...`` constraint written as source text."""
    return _TypeParser(text).parse()


# --------------------------------------------------------------------------- numbers


def is_number(v: Any) -> bool:
    return isinstance(v, (int, float, Decimal)) and not isinstance(v, bool)


def norm_number(n: Any) -> Any:
    """int for integral values, Decimal otherwise (floats go through their repr)."""
    if isinstance(n, bool):
        raise ConversionError("a number is required")
    if isinstance(n, int):
        return n
    if isinstance(n, float):
        if math.isnan(n) or math.isinf(n):
            return n
        n = Decimal(repr(n))
    if isinstance(n, Decimal):
        if not n.is_finite():
            return n
        if n == n.to_integral_value():
            return int(n)
        return n.normalize() if n.adjusted() > -30 else n
    raise ConversionError("a number is required")


def format_number(n: Any) -> str:
    """Terraform's number spelling: ``1``, ``1.5``, ``100000000000000000000``."""
    if isinstance(n, int):
        return str(n)
    if isinstance(n, float):
        if math.isnan(n):
            return "NaN"
        if n in (float("inf"), float("-inf")):
            return "+Inf" if n > 0 else "-Inf"
        n = Decimal(repr(n))
    if isinstance(n, Decimal):
        if not n.is_finite():
            return "+Inf" if n > 0 else ("-Inf" if n < 0 else "NaN")
        if n == n.to_integral_value():
            return str(int(n))
        s = format(n, "f")
        if "." in s:
            s = s.rstrip("0").rstrip(".")
        return s
    raise TypeError(f"not a number: {n!r}")


_NUMBER_RE = re.compile(r"^[-+]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][-+]?[0-9]+)?$")


def _parse_number(s: str) -> Any:
    if not _NUMBER_RE.match(s):
        raise ConversionError("a number is required")
    try:
        return norm_number(Decimal(s))
    except InvalidOperation:
        raise ConversionError("a number is required") from None


# --------------------------------------------------------------------------- scalar helpers


def _unmark(v: Any) -> tuple[Any, bool]:
    if isinstance(v, Sensitive):
        return v.value, True
    return v, False


def to_number(v: Any) -> Any:
    """Convert a (possibly string) value to a number, as arithmetic operators do."""
    v, _ = _unmark(v)
    if isinstance(v, bool):
        raise ConversionError("number required")
    if is_number(v):
        return norm_number(v)
    if isinstance(v, str):
        return _parse_number(v)
    if v is None:
        raise ConversionError("number required")
    raise ConversionError("number required")


def to_string(v: Any) -> str:
    v, _ = _unmark(v)
    if isinstance(v, str):
        return v
    if isinstance(v, bool):
        return "true" if v else "false"
    if is_number(v):
        return format_number(v)
    raise ConversionError("string required")


def to_bool(v: Any) -> bool:
    v, _ = _unmark(v)
    if isinstance(v, bool):
        return v
    if isinstance(v, str):
        if v == "true":
            return True
        if v == "false":
            return False
        raise ConversionError("a bool is required")
    raise ConversionError("bool required")


# --------------------------------------------------------------------------- type_of / unify


def type_of(v: Any) -> Type:
    """The dynamic type of a runtime value (null has type ``any``)."""
    if isinstance(v, Sensitive):
        return type_of(v.value)
    if isinstance(v, Unknown):
        return v.type if isinstance(v.type, Type) else DYNAMIC
    if v is None:
        return DYNAMIC
    if isinstance(v, bool):
        return BOOL
    if isinstance(v, str):
        return STRING
    if is_number(v):
        return NUMBER
    if isinstance(v, TList):
        return List(_elem_type(v))
    if isinstance(v, TSet):
        return Set(_elem_type(v))
    if isinstance(v, TMap):
        return Map(_elem_type(list(v.values()), v.elem_type))
    if isinstance(v, dict):
        return Object({k: type_of(x) for k, x in v.items()})
    if isinstance(v, (list, tuple)):
        return Tuple(type_of(x) for x in v)
    return DYNAMIC


def _elem_type(items, declared=None) -> Type:
    if declared is None:
        declared = getattr(items, "elem_type", None)
    if isinstance(declared, Type):
        return declared
    if not items:
        return DYNAMIC
    t = unify([type_of(x) for x in items])
    return t if t is not None else DYNAMIC


def unify(types: list[Type]) -> Type | None:
    """cty's unification: the one type every given type converts to, or None."""
    types = list(types)
    if not types:
        return DYNAMIC
    known = [t for t in types if t is not DYNAMIC]
    if not known:
        return DYNAMIC
    first = known[0]
    if all(t == first for t in known):
        return first
    if all(isinstance(t, _Primitive) for t in known):
        if STRING in known:
            return STRING  # number and bool both convert to string
        return None
    if all(isinstance(t, Object) for t in known):
        keys = set(known[0].attrs)
        if all(set(t.attrs) == keys for t in known):
            attrs = {}
            for k in keys:
                u = unify([t.attrs[k] for t in known])
                if u is None:
                    return None
                attrs[k] = u
            return Object(attrs)
        u = unify([a for t in known for a in t.attrs.values()])
        return Map(u) if u is not None else None
    if all(isinstance(t, (Object, Map)) for t in known):
        u = unify([a for t in known for a in (t.attrs.values() if isinstance(t, Object) else [t.elem])])
        return Map(u) if u is not None else None
    if all(isinstance(t, Tuple) for t in known):
        n = len(known[0].elems)
        if all(len(t.elems) == n for t in known):
            elems = []
            for i in range(n):
                u = unify([t.elems[i] for t in known])
                if u is None:
                    return None
                elems.append(u)
            return Tuple(elems)
        u = unify([e for t in known for e in t.elems])
        return List(u) if u is not None else None
    if all(isinstance(t, (Tuple, List)) for t in known):
        u = unify([e for t in known for e in (t.elems if isinstance(t, Tuple) else [t.elem])])
        return List(u) if u is not None else None
    if all(isinstance(t, (Tuple, List, Set)) for t in known) and any(isinstance(t, Set) for t in known) \
            and not any(isinstance(t, List) for t in known):
        u = unify([e for t in known for e in (t.elems if isinstance(t, Tuple) else [t.elem])])
        return Set(u) if u is not None else None
    for kind in (List, Set, Map):
        if all(isinstance(t, kind) for t in known):
            u = unify([t.elem for t in known])
            return kind(u) if u is not None else None
    return None


# --------------------------------------------------------------------------- set ordering


def set_sort_key(v: Any):
    """Order of set elements as cty prints them: strings lexically (by bytes),
    numbers numerically, false before true, other values by their JSON text."""
    v, _ = _unmark(v)
    if isinstance(v, Unknown):
        return (9, "")
    if isinstance(v, bool):
        return (1, int(v))
    if is_number(v):
        return (0, Decimal(format_number(v)) if not isinstance(v, int) else v)
    if isinstance(v, str):
        return (2, v.encode("utf-8"))
    if v is None:
        return (8, "")
    import json

    from engine.values import to_plain
    return (3, json.dumps(to_plain(v), sort_keys=True, default=str))


def _set_identity(v: Any):
    import json

    from engine.values import to_plain
    if isinstance(v, Sensitive):
        v = v.value
    if is_number(v):
        return ("n", norm_number(v))
    if isinstance(v, (str, bool)) or v is None:
        return (type(v).__name__, v)
    return ("j", json.dumps(to_plain(v), sort_keys=True, default=str), type(v).__name__)


def make_set(items: Iterable[Any], elem_type: Type | None = None) -> TSet:
    """Deduplicate and order ``items`` like a cty set."""
    seen = {}
    for x in items:
        key = _set_identity(x)
        if key not in seen:
            seen[key] = x
    out = sorted(seen.values(), key=set_sort_key)
    return TSet(out, elem_type)


# --------------------------------------------------------------------------- conversion


def convert(value: Any, want: Type, path: tuple = ()) -> Any:
    """Convert ``value`` to type ``want`` with Terraform's automatic conversions.

    null passes unchanged; unknowns stay unknown (typed with ``want``);
    sensitive marks are kept on the converted value.
    """
    if isinstance(value, Sensitive):
        try:
            return Sensitive(convert(value.value, want, path))
        except ConversionError as e:
            # the path below a sensitive value may name its map keys: stop it at the mark
            raise ConversionError(e.message, path) from None
    if isinstance(value, Unknown):
        return value if want is DYNAMIC else Unknown(want)
    if value is None:
        return None
    if want is DYNAMIC:
        return value
    if want is STRING:
        if isinstance(value, (str, bool)) or is_number(value):
            return to_string(value)
        raise ConversionError("string required", path)
    if want is NUMBER:
        if isinstance(value, bool):
            raise ConversionError("number required", path)
        if is_number(value):
            return norm_number(value)
        if isinstance(value, str):
            try:
                return _parse_number(value)
            except ConversionError:
                raise ConversionError("a number is required", path) from None
        raise ConversionError("number required", path)
    if want is BOOL:
        if isinstance(value, bool):
            return value
        if isinstance(value, str):
            try:
                return to_bool(value)
            except ConversionError:
                raise ConversionError("a bool is required", path) from None
        raise ConversionError("bool required", path)
    if isinstance(want, (List, Set)):
        if isinstance(value, (list, tuple)):
            items = list(value)
        else:
            raise ConversionError(f"{friendly_name(want)} required", path)
        elem = want.elem
        if elem.has_dynamic():
            types = [type_of(x) for x in items]
            u = unify(types)
            if u is None:
                kind = "list" if isinstance(want, List) else "set"
                raise ConversionError(f"all {kind} elements must have the same type", path)
            elem = _merge_dynamic(elem, u)
        conv = [convert(x, elem, path + (i,)) for i, x in enumerate(items)]
        if isinstance(want, List):
            return TList(conv, elem)
        from engine.values import contains_sensitive

        if any(contains_sensitive(x) for x in conv):
            # A set element is its own key and its place in the order says something
            # about its value: like cty, the element's mark becomes the whole set's.
            from engine.config.functions._base import deep_unmark

            return Sensitive(make_set([deep_unmark(x) for x in conv], elem))
        return make_set(conv, elem)
    if isinstance(want, Map):
        if not isinstance(value, dict):
            raise ConversionError(f"{friendly_name(want)} required", path)
        elem = want.elem
        if elem.has_dynamic():
            u = unify([type_of(x) for x in value.values()])
            if u is None:
                raise ConversionError("all map elements must have the same type", path)
            elem = _merge_dynamic(elem, u)
        return TMap({k: convert(x, elem, path + (k,)) for k, x in value.items()}, elem)
    if isinstance(want, Object):
        if not isinstance(value, dict):
            raise ConversionError("object required", path)
        missing = [k for k in want.attrs if k not in value and k not in want.optional]
        if missing:
            if len(missing) == 1:
                raise ConversionError(f'attribute "{missing[0]}" is required', path)
            names = ", ".join(f'"{k}"' for k in sorted(missing))
            raise ConversionError(f"attributes {names} are required", path)
        out = {}
        for k in sorted(want.attrs):
            t = want.attrs[k]
            v = value.get(k)
            if v is None and k in want.optional and k in want.defaults:
                v = want.defaults[k]
            out[k] = convert(v, t, path + (("attr", k),))
        return out
    if isinstance(want, Tuple):
        if not isinstance(value, (list, tuple)) or isinstance(value, dict):
            raise ConversionError("tuple required", path)
        if len(value) != len(want.elems):
            raise ConversionError("tuple required", path)
        return [convert(x, t, path + (i,)) for i, (x, t) in enumerate(zip(value, want.elems))]
    raise ConversionError(f"{friendly_name(want)} required", path)


def _merge_dynamic(want: Type, got: Type) -> Type:
    """Fill the ``any`` parts of ``want`` with the concrete parts of ``got``."""
    if want is DYNAMIC:
        return got
    if isinstance(want, _Collection) and isinstance(got, _Collection):
        return type(want)(_merge_dynamic(want.elem, got.elem))
    return want


def cty_json_type(t: Type) -> Any:
    """A type in Terraform's JSON form (``output -json``'s ``type``): ``"string"``,
    ``["list", "string"]``, ``["object", {"a": "number"}]``, ``["tuple", [...]]``,
    ``"dynamic"``."""
    if isinstance(t, _Primitive):
        return "dynamic" if t is DYNAMIC else t.name
    if isinstance(t, List):
        return ["list", cty_json_type(t.elem)]
    if isinstance(t, Set):
        return ["set", cty_json_type(t.elem)]
    if isinstance(t, Map):
        return ["map", cty_json_type(t.elem)]
    if isinstance(t, Object):
        return ["object", {k: cty_json_type(v) for k, v in t.attrs.items()}]
    if isinstance(t, Tuple):
        return ["tuple", [cty_json_type(e) for e in t.elems]]
    return "dynamic"
