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


@functools.lru_cache(maxsize=1)
def resource_types() -> dict[str, str]:
    """Resource type -> "module:attr" of its provider class."""
    found = dict(BUILTIN)
    try:
        from importlib.metadata import entry_points

        for ep in entry_points(group="trainform.providers"):
            found[ep.name] = ep.value
    except Exception:  # broken metadata must not break the CLI
        pass
    extra = os.environ.get("TRAINFORM_EXTRA_PROVIDERS", "")
    for item in filter(None, extra.split(",")):
        name, _, spec = item.partition("=")
        found[name.strip()] = spec.strip()
    return found


_instances: dict[str, object] = {}


def get_provider(type_name: str):
    """A configured-once provider instance for a resource type (None if unknown)."""
    if type_name in _instances:
        return _instances[type_name]
    spec = resource_types().get(type_name)
    if spec is None:
        return None
    module_name, _, attr = spec.partition(":")
    cls = getattr(importlib.import_module(module_name), attr)
    inst = cls()
    _instances[type_name] = inst
    return inst


def reset() -> None:
    _instances.clear()


def register(type_name: str, spec: str) -> None:
    """Add a resource type at run time (tests, benchmarks): spec is "module:Class"."""
    resource_types()[type_name] = spec
    _instances.pop(type_name, None)
