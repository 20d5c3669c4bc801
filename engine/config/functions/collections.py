"""Collection functions: length, concat, lookup, merge, sets, sorting, slicing...

Results follow cty's typing: a function of a list returns a ``TList``, of a
tuple a plain ``list`` (tuple value), of a map a ``TMap``, of an object a
``dict``; sets come back as ``TSet`` in cty order (see types.make_set).
"""

from __future__ import annotations

import json
from decimal import Decimal

from engine.config.functions._base import FunctionError, Param, register
from engine.config.types import (
    BOOL, DYNAMIC, NUMBER, STRING, ConversionError, List, Map, Set, Tuple, Type,
    convert, format_number, is_number, make_set, norm_number, type_of, unify, friendly_name,
)
from engine.values import TList, TMap, TSet

__all__ = ["values_equal"]


def _is_seq(v) -> bool:
    return isinstance(v, list)


def _is_tuple(v) -> bool:
    return isinstance(v, list) and not isinstance(v, (TList, TSet))


def values_equal(a, b) -> bool:
    """cty's Equals for known values: same type family and same content."""
    if is_number(a) and is_number(b):
        return norm_number(a) == norm_number(b)
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, str) or isinstance(b, str):
        return isinstance(a, str) and isinstance(b, str) and a == b
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, dict) and isinstance(b, dict):
        if isinstance(a, TMap) != isinstance(b, TMap):
            return False
        return a.keys() == b.keys() and all(values_equal(a[k], b[k]) for k in a)
    if isinstance(a, list) and isinstance(b, list):
        if type(a) is not type(b) and not (_is_tuple(a) and _is_tuple(b)):
            return False
        return len(a) == len(b) and all(values_equal(x, y) for x, y in zip(a, b))
    return False


def _elem_type_of(items) -> Type:
    t = unify([type_of(x) for x in items])
    return t if t is not None else DYNAMIC


def _as_list(v, idx: int, what="list") -> list:
    if not isinstance(v, list):
        raise FunctionError(f"{what} required", idx)
    return list(v)


# --------------------------------------------------------------------------- length & co


@register("length", [Param("value", DYNAMIC, allow_unknown=True)])
def _length(v):
    """A known list or map has a known length even when some elements are unknown
    (cty's rule): ``count = length(value.k)`` over a for_each resource plans, as in
    Terraform (found by probing: it was "Invalid count argument")."""
    from engine.values import UNKNOWN, Unknown, contains_unknown

    if isinstance(v, Unknown) or (isinstance(v, (str, TSet)) and contains_unknown(v)):
        return UNKNOWN  # an unknown string's length, or a set whose unknowns may collide
    if isinstance(v, str):
        from engine.config.functions.strings import graphemes
        return len(graphemes(v))
    if isinstance(v, (list, dict)):
        return len(v)
    raise FunctionError("argument must be a string, a collection type, or a structural type.", 0)


@register("concat", [], variadic=Param("seqs", DYNAMIC, allow_unknown=True))
def _concat(*seqs):
    """Known lists with unknown elements concatenate to a known-length list (cty)."""
    from engine.values import UNKNOWN, Unknown, contains_unknown

    if not seqs:
        raise FunctionError("at least one argument is required")
    if any(isinstance(s, Unknown) for s in seqs):
        return UNKNOWN
    if any(contains_unknown(s) for s in seqs):
        for i, s in enumerate(seqs):
            if not isinstance(s, list) or isinstance(s, TSet):
                raise FunctionError(f"all arguments must be lists or tuples; got {friendly_name(type_of(s))}", i)
        return [x for s in seqs for x in s]
    for i, s in enumerate(seqs):
        if not isinstance(s, list) or isinstance(s, TSet):
            raise FunctionError(f"all arguments must be lists or tuples; got {friendly_name(type_of(s))}", i)
    if all(isinstance(s, TList) for s in seqs):
        et = unify([type_of(s).elem for s in seqs])
        if et is not None:
            return convert([x for s in seqs for x in s], List(et))
    return [x for s in seqs for x in s]


@register("contains", [Param("list", DYNAMIC), Param("value", DYNAMIC)])
def _contains(lst, value):
    if not isinstance(lst, list):
        raise FunctionError("argument must be list, tuple, or set", 0)
    return any(values_equal(x, value) for x in lst)


@register("distinct", [Param("list", List(DYNAMIC))])
def _distinct(lst):
    out = []
    for x in lst:
        if not any(values_equal(x, y) for y in out):
            out.append(x)
    return TList(out, lst.elem_type)


def _flatten(v, out):
    for x in v:
        if isinstance(x, list):
            _flatten(x, out)
        else:
            out.append(x)


@register("flatten", [Param("list", DYNAMIC)])
def _flatten_fn(lst):
    if not isinstance(lst, list):
        raise FunctionError("can only flatten lists, sets and tuples", 0)
    out: list = []
    _flatten(lst, out)
    return out


@register("keys", [Param("inputMap", DYNAMIC, allow_unknown=True)])
def _keys(m):
    """The keys of a known map are known whatever its values (as ``length``)."""
    from engine.values import UNKNOWN, Unknown

    if isinstance(m, Unknown):
        return UNKNOWN
    if not isinstance(m, dict):
        raise FunctionError("must have map or object type", 0)
    ks = sorted(m.keys())
    return TList(ks, STRING) if isinstance(m, TMap) else list(ks)


@register("values", [Param("mapping", DYNAMIC, allow_unknown=True)])
def _values(m):
    from engine.values import UNKNOWN, Unknown, contains_unknown

    if isinstance(m, Unknown):
        return UNKNOWN
    if isinstance(m, dict) and contains_unknown(m):
        return [m[k] for k in sorted(m.keys())]  # known length, unknown elements (cty)
    if not isinstance(m, dict):
        raise FunctionError("must have map or object type", 0)
    vs = [m[k] for k in sorted(m.keys())]
    if isinstance(m, TMap):
        return TList(vs, m.elem_type)
    return vs


@register("lookup", [Param("inputMap", DYNAMIC), Param("key", STRING)],
          variadic=Param("default", DYNAMIC, allow_null=True))
def _lookup(m, key, *default):
    if len(default) > 1:
        raise FunctionError("lookup() takes two or three arguments, got %d" % (len(default) + 2))
    if not isinstance(m, dict):
        raise FunctionError("the given object has no attribute \"%s\"" % key if m is not None else "must not be null", 0)
    if default and isinstance(m, TMap):
        et = type_of(m).elem
        try:
            d = convert(default[0], et)
        except ConversionError:
            raise FunctionError("the default value must have the same type as the map elements", 2) from None
        return m[key] if key in m else d
    if key in m:
        return m[key]
    if default:
        return default[0]
    raise FunctionError(f'lookup failed to find key "{key}"')


@register("merge", [], variadic=Param("maps", DYNAMIC, allow_null=True, allow_unknown=True))
def _merge(*maps):
    """Known maps with unknown values merge to known keys (cty): for_each = merge(...)
    over values known only after apply still plans."""
    from engine.values import UNKNOWN, Unknown, contains_unknown

    if any(isinstance(m, Unknown) for m in maps):
        return UNKNOWN
    if any(contains_unknown(m) for m in maps):
        out: dict = {}
        for i, m in enumerate(maps):
            if m is None:
                continue
            if not isinstance(m, dict):
                raise FunctionError(f"arguments must be maps or objects, got {json.dumps(friendly_name(type_of(m)))}", i)
            out.update(m)
        return out
    out: dict = {}
    all_maps = True
    for i, m in enumerate(maps):
        if m is None:
            continue
        if not isinstance(m, dict):
            raise FunctionError(f"arguments must be maps or objects, got {json.dumps(friendly_name(type_of(m)))}", i)
        if not isinstance(m, TMap):
            all_maps = False
        out.update(m)
    present = [m for m in maps if m is not None]
    if all_maps and present:
        ets = {type_of(m).elem for m in present}
        if len(ets) == 1:
            return TMap(out, ets.pop())
    return out


@register("zipmap", [Param("keys", List(STRING)), Param("values", DYNAMIC)])
def _zipmap(keys, values):
    if not isinstance(values, list):
        raise FunctionError("values must be a list or tuple", 1)
    if len(keys) != len(values):
        raise FunctionError(f"number of keys ({len(keys)}) does not match number of values ({len(values)})")
    if any(k is None for k in keys):
        raise FunctionError("keys must not be null", 0)
    d = dict(zip(keys, values))
    if isinstance(values, (TList, TSet)):
        return TMap(d, values.elem_type)
    return d


@register("element", [Param("list", DYNAMIC), Param("index", NUMBER)])
def _element(lst, index):
    if not isinstance(lst, list) or isinstance(lst, TSet):
        raise FunctionError("cannot read elements from " + friendly_name(type_of(lst)), 0)
    if not isinstance(index, int):
        raise FunctionError("invalid index: value must be a whole number", 1)
    if not lst:
        raise FunctionError("cannot use element function with an empty list", 0)
    # Go's remainder keeps the dividend's sign; Terraform then fails on a negative result
    r = abs(index) % len(lst) * (1 if index >= 0 else -1)
    if r < 0:
        raise FunctionError(f"panic in function implementation: runtime error: index out of range [{r}]")
    return lst[r]


@register("index", [Param("list", DYNAMIC), Param("value", DYNAMIC)])
def _index(lst, value):
    if not isinstance(lst, list) or isinstance(lst, TSet):
        raise FunctionError("argument must be a list or tuple", 0)
    for i, x in enumerate(lst):
        if values_equal(x, value):
            return i
    raise FunctionError("item not found")


@register("range", [], variadic=Param("params", NUMBER))
def _range(*params):
    if not params or len(params) > 3:
        raise FunctionError("must have one, two, or three arguments")
    if len(params) == 1:
        start, end = 0, params[0]
        step = -1 if end < 0 else 1
    elif len(params) == 2:
        start, end, step = params[0], params[1], (1 if params[1] >= params[0] else -1)
    else:
        start, end, step = params
    if step == 0:
        raise FunctionError("step must not be zero", 2)
    if step < 0 and end > start:
        raise FunctionError("end must be less than start when step is negative", 1)
    if step > 0 and end < start:
        raise FunctionError("end must be greater than start when step is positive", 1)
    out = []
    v = start
    while (v < end) if step > 0 else (v > end):
        out.append(norm_number(v))
        if len(out) > 1024:
            raise FunctionError("more than 1024 values were generated; either decrease the difference "
                                "between start and end or use a smaller step")
        v = v + step
    return TList(out, NUMBER)


@register("slice", [Param("list", DYNAMIC), Param("start_index", NUMBER), Param("end_index", NUMBER)])
def _slice(lst, start, end):
    if not isinstance(lst, list) or isinstance(lst, TSet):
        raise FunctionError("must be a list or tuple value", 0)
    if not isinstance(start, int):
        raise FunctionError("invalid start index: value must be a whole number", 1)
    if not isinstance(end, int):
        raise FunctionError("invalid end index: value must be a whole number", 2)
    if start < 0:
        raise FunctionError("start index must not be less than zero", 1)
    if end > len(lst):
        raise FunctionError("the end index must not be greater than the length of the list", 2)
    if start > end:
        raise FunctionError("the start index must not be greater than the end index", 1)
    part = lst[start:end]
    if isinstance(lst, TList):
        return TList(part, lst.elem_type)
    return list(part)


@register("sort", [Param("list", List(STRING))])
def _sort(lst):
    if any(x is None for x in lst):
        raise FunctionError("given list element 0 is null; a null value cannot be sorted", 0)
    return TList(sorted(lst, key=lambda s: s.encode("utf-8")), STRING)


@register("reverse", [Param("list", DYNAMIC)])
def _reverse(lst):
    if not isinstance(lst, list):
        raise FunctionError("can only reverse list or tuple values, not " + friendly_name(type_of(lst)), 0)
    if isinstance(lst, (TList, TSet)):
        return TList(list(reversed(lst)), lst.elem_type)
    return list(reversed(lst))


@register("coalesce", [], variadic=Param("vals", DYNAMIC, allow_null=True))
def _coalesce(*vals):
    t = unify([type_of(v) for v in vals])
    if t is None:
        raise FunctionError("all arguments must have the same type")
    for v in vals:
        if v is None:
            continue
        cv = convert(v, t)
        if t is STRING and cv == "":
            continue
        return cv
    raise FunctionError("no non-null, non-empty-string arguments")


@register("coalescelist", [], variadic=Param("vals", DYNAMIC, allow_null=True))
def _coalescelist(*vals):
    if not vals:
        raise FunctionError("at least one argument is required")
    for i, v in enumerate(vals):
        if not isinstance(v, list):
            raise FunctionError("coalescelist arguments must be lists or tuples")
    for v in vals:
        if v:
            return v
    raise FunctionError("no non-null arguments")


@register("compact", [Param("list", List(STRING))])
def _compact(lst):
    return TList([x for x in lst if x not in (None, "")], STRING)


@register("one", [Param("list", DYNAMIC)])
def _one(lst):
    if not isinstance(lst, list):
        raise FunctionError("must be a list, set, or tuple value with either zero or one elements", 0)
    if len(lst) == 0:
        return None
    if len(lst) == 1:
        return lst[0]
    raise FunctionError("must be a list, set, or tuple value with either zero or one elements", 0)


@register("alltrue", [Param("list", List(BOOL))])
def _alltrue(lst):
    return all(x is True for x in lst)


@register("anytrue", [Param("list", List(BOOL))])
def _anytrue(lst):
    return any(x is True for x in lst)


@register("chunklist", [Param("list", List(DYNAMIC)), Param("size", NUMBER)])
def _chunklist(lst, size):
    if not isinstance(size, int):
        raise FunctionError("the size argument must be a whole number", 1)
    if size < 0:
        raise FunctionError("the size argument must be positive", 1)
    et = lst.elem_type
    if size == 0:
        return TList([TList(lst, et)], List(et or DYNAMIC))
    return TList([TList(lst[i:i + size], et) for i in range(0, len(lst), size)], List(et or DYNAMIC))


def _set_args(sets, what):
    if not sets:
        raise FunctionError("at least one argument is required")
    for i, s in enumerate(sets):
        if not isinstance(s, list):
            raise FunctionError("a set or a list is required", i)
    t = unify([type_of(x) for s in sets for x in s])
    if t is None:
        raise FunctionError("given sets must all have compatible element types")
    return [[convert(x, t) for x in s] for s in sets], t


@register("setunion", [Param("first_set", Set(DYNAMIC))], variadic=Param("other_sets", Set(DYNAMIC)))
def _setunion(*sets):
    sets, t = _set_args(sets, "union")
    return make_set([x for s in sets for x in s], t)


@register("setintersection", [Param("first_set", Set(DYNAMIC))], variadic=Param("other_sets", Set(DYNAMIC)))
def _setintersection(*sets):
    sets, t = _set_args(sets, "intersection")
    first = sets[0]
    out = [x for x in first if all(any(values_equal(x, y) for y in s) for s in sets[1:])]
    return make_set(out, t)


@register("setsubtract", [Param("a", Set(DYNAMIC)), Param("b", Set(DYNAMIC))])
def _setsubtract(a, b):
    (a, b), t = _set_args([a, b], "subtract")
    return make_set([x for x in a if not any(values_equal(x, y) for y in b)], t)


@register("setproduct", [], variadic=Param("sets", DYNAMIC))
def _setproduct(*sets):
    if len(sets) < 2:
        raise FunctionError("at least two arguments are required")
    for i, s in enumerate(sets):
        if not isinstance(s, list):
            raise FunctionError("a set or a list is required", i)
    import itertools
    combos = [list(c) for c in itertools.product(*sets)]
    if all(isinstance(s, TSet) for s in sets):
        return make_set(combos)
    if all(isinstance(s, (TList, TSet)) for s in sets):
        ets = [type_of(s).elem for s in sets]
        return TList(combos, Tuple(ets))
    return TList(combos, Tuple([DYNAMIC] * len(sets)))


@register("transpose", [Param("values", Map(List(STRING)))])
def _transpose(m):
    out: dict[str, list] = {}
    for k in sorted(m):
        for v in m[k]:
            if v is None:
                raise FunctionError("input lists must not contain null values", 0)
            out.setdefault(v, []).append(k)
    return TMap({k: TList(v, STRING) for k, v in out.items()}, List(STRING))


@register("sum", [Param("list", DYNAMIC)])
def _sum(lst):
    if not isinstance(lst, list):
        raise FunctionError("cannot sum noniterable", 0)
    if not lst:
        raise FunctionError("cannot sum an empty list", 0)
    total = Decimal(0)
    for x in lst:
        if x is None:
            raise FunctionError("argument must be list, set, or tuple of number values", 0)
        try:
            n = convert(x, NUMBER)
        except ConversionError:
            raise FunctionError("argument must be list, set, or tuple of number values", 0) from None
        total += Decimal(format_number(n))
    return norm_number(total)


@register("min", [], variadic=Param("numbers", NUMBER))
def _min(*nums):
    if not nums:
        raise FunctionError("must pass at least one number")
    return min(nums, key=lambda n: Decimal(format_number(n)))


@register("max", [], variadic=Param("numbers", NUMBER))
def _max(*nums):
    if not nums:
        raise FunctionError("must pass at least one number")
    return max(nums, key=lambda n: Decimal(format_number(n)))


@register("matchkeys", [Param("values", List(DYNAMIC)), Param("keys", List(DYNAMIC)),
                        Param("searchset", List(DYNAMIC))])
def _matchkeys(values, keys, searchset):
    if len(values) != len(keys):
        raise FunctionError("length of keys and values should be equal")
    out = [v for v, k in zip(values, keys) if any(values_equal(k, s) for s in searchset)]
    return TList(out, values.elem_type)
