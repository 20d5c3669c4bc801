"""Find providers: the ``trainform.providers`` entry-point group, name = resource type.

The built-in types are also known without installed metadata, so a source
checkout works before ``pip install``.  Provider modules are imported only
when a configuration uses their type.
"""

from __future__ import annotations

import functools
import importlib
import os

BUILTIN = {
    "value": "providers.builtin.value:ValueProvider",
    "workspace": "providers.builtin.workspace:WorkspaceProvider",
    "environment": "providers.docker.environment:EnvironmentProvider",
    "compute": "providers.compute.provider:ComputeProvider",
    "run": "providers.run.provider:RunProvider",
}


_TYPES: dict[str, str] | None = None
_SCANNED = False


def resource_types() -> dict[str, str]:
    """Resource type -> "module:attr": built-ins and TRAINFORM_EXTRA_PROVIDERS.

    Installed entry points are scanned only when a name is not found here
    (see :func:`lookup_type`), which keeps the common path free of the
    importlib.metadata scan.
    """
    global _TYPES
    if _TYPES is None:
        _TYPES = dict(BUILTIN)
        extra = os.environ.get("TRAINFORM_EXTRA_PROVIDERS", "")
        for item in filter(None, extra.split(",")):
            name, _, spec = item.partition("=")
            _TYPES[name.strip()] = spec.strip()
    return _TYPES


def lookup_type(name: str) -> str | None:
    """The provider spec for a type, scanning entry points on a miss."""
    types = resource_types()
    if name not in types:
        all_resource_types()
    return types.get(name)


def all_resource_types() -> dict[str, str]:
    """Every known type, including third-party packages' entry points."""
    global _SCANNED
    types = resource_types()
    if _SCANNED:
        return types
    _SCANNED = True
    found = {}
    try:
        from importlib.metadata import entry_points

        for ep in entry_points(group="trainform.providers"):
            found[ep.name] = ep.value
    except Exception:  # broken metadata must not break the CLI
        pass
    for k, v in found.items():
        types.setdefault(k, v)
    return types


_instances: dict[str, object] = {}


class ProviderUnavailable(Exception):
    """A provider's module could not be imported (an optional extra not installed...)."""

    def __init__(self, type_name: str, spec: str, cause: BaseException) -> None:
        self.type_name, self.spec, self.cause = type_name, spec, cause
        hint = ""
        missing = getattr(cause, "name", None) or ""
        top = missing.split(".")[0]
        if top in ("providers", "engine"):
            hint = " The trainform installation is incomplete (reinstall it with pip install -e .)."
        elif top:
            extra = {"ray": "ray", "psycopg": "pg"}.get(top)
            how = f"pip install 'trainform[{extra}]'" if extra else f"pip install {top}"
            hint = f" The Python package {top!r} is not installed: {how}."
        super().__init__(f'The provider for resource type "{type_name}" ({spec}) could not be loaded: {cause}.{hint}')


def get_provider(type_name: str):
    """A configured-once provider instance for a resource type (None if unknown)."""
    if type_name in _instances:
        return _instances[type_name]
    spec = lookup_type(type_name)
    if spec is None:
        return None
    module_name, _, attr = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ProviderUnavailable(type_name, spec, e) from e
    inst = cls()
    _instances[type_name] = inst
    return inst


def reset() -> None:
    _instances.clear()


def register(type_name: str, spec: str) -> None:
    """Add a resource type at run time (tests, benchmarks): spec is "module:Class"."""
    resource_types()[type_name] = spec
    _instances.pop(type_name, None)
