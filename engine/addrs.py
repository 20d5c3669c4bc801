"""Typed addresses: module paths, resources and resource instances.

Addresses are written in state, plans and on the command line as strings
(``module.a.value.x["k"]``); inside the engine they are these small frozen
values, built and parsed in one place instead of assembled with f-strings.
A module path is the tuple of module call names from the root (``("a",)``).

A module *instance* path has one step per call, written as in addresses: the
call name, followed by its instance key when the call has ``count`` or
``for_each`` (``('m["k"]', "n[0]")``).  A path through calls without keys is
therefore the same tuple as its static path, so configurations without module
expansion see no difference; :func:`static_path` drops the keys.
"""

from __future__ import annotations

import functools
import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["ModulePath", "module_prefix", "module_string", "parse_module", "Resource", "Instance",
           "parse_instance", "deposed", "AddressError", "module_step", "split_step", "static_path",
           "strip_module_keys"]

ModulePath = tuple  # tuple[str, ...]


class AddressError(ValueError):
    """Text that is not a resource (instance) address."""


def module_prefix(path: ModulePath) -> str:
    """``("a", "b")`` -> ``"module.a.module.b."`` (empty for the root)."""
    return _module_prefix(path) if path else ""


def module_string(path: ModulePath) -> str:
    """``("a", "b")`` -> ``"module.a.module.b"`` (empty for the root), as state stores it."""
    return _module_prefix(path)[:-1] if path else ""


@functools.lru_cache(maxsize=4096)
def _module_prefix(path: ModulePath) -> str:
    # called per instance and node on the hot path; a configuration has few module paths
    return "".join(f"module.{p}." for p in path)


def parse_module(text: str) -> ModulePath:
    """Inverse of :func:`module_string` (module instance keys kept in the steps)."""
    if not text:
        return ()
    names = _tokens(text, "module")
    path: list[str] = []
    while names:
        if len(names) < 2 or names[0] != "module" or not isinstance(names[1], str):
            raise AddressError(f"invalid module address {text!r}")
        step, names = names[1], names[2:]
        if names and isinstance(names[0], _Key):
            step, names = module_step(step, names[0].value), names[1:]
        path.append(step)
    return tuple(path)


def module_step(name: str, key: Any = None) -> str:
    """One step of a module instance path: ``m``, ``m[0]`` or ``m["k"]``."""
    return name + index_text(key)


def split_step(step: str) -> tuple[str, Any]:
    """``'m["k"]'`` -> ``("m", "k")``; ``"m"`` -> ``("m", None)``."""
    i = step.find("[")
    if i < 0:
        return step, None
    return step[:i], _key_of(step[i:])


def static_path(path: ModulePath) -> ModulePath:
    """A module instance path without its instance keys: the module in the configuration."""
    if not any("[" in p for p in path):
        return path
    return tuple(p.split("[", 1)[0] for p in path)


def strip_module_keys(address: str) -> str:
    """``module.m["k"].value.x[0]`` -> ``module.m.value.x[0]`` (the resource key stays)."""
    try:
        inst = parse_instance(address)
    except AddressError:
        return address
    return str(Instance(Resource(static_path(inst.resource.module), inst.resource.type, inst.resource.name), inst.key))


def _key_of(text: str) -> Any:
    m = re.fullmatch(r'\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]', text)
    if m is None:
        raise AddressError(f"invalid instance key {text!r}")
    return int(m.group(1)) if m.group(1) is not None else json.loads('"' + m.group(2) + '"')


@dataclass(frozen=True)
class Resource:
    """A resource block in a module: ``module.a.run.train``."""

    module: ModulePath
    type: str
    name: str

    @property
    def key(self) -> str:
        """``TYPE.NAME``: the block's key within its module."""
        return f"{self.type}.{self.name}"

    def __str__(self) -> str:
        return module_prefix(self.module) + self.key

    def instance(self, key: Any = None) -> "Instance":
        return Instance(self, key)


@dataclass(frozen=True)
class Instance:
    """One instance of a resource: no key, a count index or a for_each key."""

    resource: Resource
    key: Any = None

    def __str__(self) -> str:
        return str(self.resource) + index_text(self.key)

    def contained_in(self, target: str) -> bool:
        """Whether this instance is, or is inside, the address ``target`` (a -target)."""
        s = str(self)
        return s == target or s.startswith(target + "[") or s.startswith(target + ".")


def index_text(key: Any) -> str:
    if key is None:
        return ""
    if isinstance(key, int) and not isinstance(key, bool):
        return f"[{key}]"
    return "[" + json.dumps(str(key), ensure_ascii=False) + "]"


def deposed(address: str) -> str:
    """Where state keeps the old object of a create-before-destroy replacement."""
    return f"{address} (deposed)"


_STEP = re.compile(r'\.?([A-Za-z_][A-Za-z0-9_-]*)|\[(\d+)\]|\["((?:[^"\\]|\\.)*)"\]')


class _Key:
    """An instance key token (so a string key is not taken for a name)."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _tokens(text: str, what: str = "resource") -> list[Any]:
    """Names (str) and instance keys (_Key) of an address, in order."""
    pos = 0
    names: list[Any] = []
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None or (pos == 0 and text.startswith(".")) or (m.group(1) is not None and pos and text[pos] != "."):
            raise AddressError(f"invalid {what} address {text!r}")
        if m.group(1) is not None:
            names.append(m.group(1))
        elif m.group(2) is not None:
            names.append(_Key(int(m.group(2))))
        else:
            names.append(_Key(json.loads('"' + m.group(3) + '"')))
        pos = m.end()
    return names


def parse_instance(text: str) -> Instance:
    """``module.a["k"].value.x["k"]`` -> Instance; raises AddressError on bad text."""
    names = _tokens(text)
    module: list[str] = []
    while len(names) >= 2 and names[0] == "module" and isinstance(names[1], str):
        step = names[1]
        names = names[2:]
        if names and isinstance(names[0], _Key):
            step, names = module_step(step, names[0].value), names[1:]
        module.append(step)
    if len(names) not in (2, 3) or not all(isinstance(n, str) for n in names[:2]) or (len(names) == 3 and not isinstance(names[2], _Key)):
        raise AddressError(f"invalid resource address {text!r}: expected [module.NAME[KEY].]TYPE.NAME[KEY]")
    key = names[2].value if len(names) == 3 else None
    return Instance(Resource(tuple(module), names[0], names[1]), key)


def _key_sort(key: Any) -> tuple:
    """Terraform's instance key order: no key, then count indexes by number, then strings."""
    if key is None:
        return (0, 0, "")
    if isinstance(key, int) and not isinstance(key, bool):
        return (1, key, "")
    return (2, 0, str(key))


def instance_sort_key(address: str) -> tuple:
    """Sort resource instance addresses as Terraform lists them in a plan: root
    module first, then by module depth, module steps by name and key (``[2]``
    before ``[10]``), then type, name and key; a deposed object after its current
    one.  Plain string order put every module before the root and ``a[10]``
    before ``a[2]`` (found by probing the plan text against terraform 1.11)."""
    if "[" not in address and " " not in address and not address.startswith("module."):
        typ, _, name = address.partition(".")  # the common case, without parsing (plan of 10,000)
        return (0, (), typ, name, (0, 0, ""), "", 0)
    base, dep = (address[: -len(" (deposed)")], 1) if address.endswith(" (deposed)") else (address, 0)
    try:
        inst = parse_instance(base)
    except AddressError:
        return (1 << 30, (), "", "", (), address, dep)
    steps = tuple((name, _key_sort(key)) for name, key in map(split_step, inst.resource.module))
    return (len(steps), steps, inst.resource.type, inst.resource.name, _key_sort(inst.key), "", dep)


def show_sort_key(address: str) -> tuple:
    """The order of ``show``: Terraform lists the state's modules by their address
    text (``module.a[10]`` before ``module.a[1]``, a module before its children),
    and within one module resources by type, name and key (``[2]`` before ``[10]``)."""
    base = address[: -len(" (deposed)")] if address.endswith(" (deposed)") else address
    try:
        inst = parse_instance(base)
    except AddressError:
        return ("\uffff", "", "", (), address)
    return (module_string(inst.resource.module), inst.resource.type, inst.resource.name, _key_sort(inst.key), address)
