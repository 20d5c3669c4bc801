"""Typed addresses: module paths, resources and resource instances.

Addresses are written in state, plans and on the command line as strings
(``module.a.value.x["k"]``); inside the engine they are these small frozen
values, built and parsed in one place instead of assembled with f-strings.
A module path is the tuple of module call names from the root (``("a",)``).
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import Any

__all__ = ["ModulePath", "module_prefix", "module_string", "parse_module", "Resource", "Instance",
           "parse_instance", "deposed", "AddressError"]

ModulePath = tuple  # tuple[str, ...]


class AddressError(ValueError):
    """Text that is not a resource (instance) address."""


def module_prefix(path: ModulePath) -> str:
    """``("a", "b")`` -> ``"module.a.module.b."`` (empty for the root)."""
    return "".join(f"module.{p}." for p in path)


def module_string(path: ModulePath) -> str:
    """``("a", "b")`` -> ``"module.a.module.b"`` (empty for the root), as state stores it."""
    return ".".join(f"module.{p}" for p in path)


def parse_module(text: str) -> ModulePath:
    """Inverse of :func:`module_string`."""
    if not text:
        return ()
    parts = text.split(".")
    if len(parts) % 2 or any(parts[i] != "module" for i in range(0, len(parts), 2)):
        raise AddressError(f"invalid module address {text!r}")
    return tuple(parts[i + 1] for i in range(0, len(parts), 2))


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


def parse_instance(text: str) -> Instance:
    """``module.a.value.x["k"]`` -> Instance; raises AddressError on bad text."""
    pos = 0
    names: list[Any] = []
    while pos < len(text):
        m = _STEP.match(text, pos)
        if m is None or (pos == 0 and text.startswith(".")):
            raise AddressError(f"invalid resource address {text!r}")
        if m.group(1) is not None:
            names.append(m.group(1))
        elif m.group(2) is not None:
            names.append(int(m.group(2)))
        else:
            names.append(json.loads('"' + m.group(3) + '"'))
        pos = m.end()
    module: list[str] = []
    while len(names) >= 2 and names[0] == "module" and isinstance(names[1], str):
        module.append(names[1])
        names = names[2:]
        if names and not isinstance(names[0], str):
            raise AddressError(f"module instance keys are not supported in {text!r}")
    if len(names) not in (2, 3) or not all(isinstance(n, str) for n in names[:2]):
        raise AddressError(f"invalid resource address {text!r}: expected [module.NAME.]TYPE.NAME[KEY]")
    key = names[2] if len(names) == 3 else None
    if isinstance(key, str) and len(names) == 3 and not text.endswith("]"):
        raise AddressError(f"invalid resource address {text!r}")
    return Instance(Resource(tuple(module), names[0], names[1]), key)
