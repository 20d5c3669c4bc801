"""Find providers: the ``trainform.providers`` entry-point group, name = resource type.

The built-in types are also known without installed metadata, so a source
checkout works before ``pip install``.  Provider modules are imported only
when a configuration uses their type.  The engine reaches providers only
through here: :func:`new_provider` makes a fresh instance for each operation
(a session), so no provider state leaks from one command or test to the next;
:func:`schema_of` answers schema questions (static per type) without one.
"""

from __future__ import annotations

import importlib
import os

BUILTIN = {
    "value": "providers.builtin.value:ValueProvider",
    "workspace": "providers.builtin.workspace:WorkspaceProvider",
    "environment": "providers.docker.environment:EnvironmentProvider",
    "compute": "providers.compute.provider:ComputeProvider",
    "run": "providers.run.provider:RunProvider",
}


# verb -> ("module:click_command", one-line help): commands of the provider packages
# shipped with trainform; third-party packages add theirs in "trainform.commands"
BUILTIN_COMMANDS = {
    "logs": ("providers.run.cli:logs_cmd", "Print or follow a run's log"),
    "runs": ("providers.run.cli:runs_cmd", "List training runs with status and metrics"),
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


_classes: dict[str, type] = {}
_schemas: dict[str, object] = {}


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


def provider_class(type_name: str):
    """The provider class for a resource type (None if unknown); imported once."""
    cls = _classes.get(type_name)
    if cls is not None:
        return cls
    spec = lookup_type(type_name)
    if spec is None:
        return None
    module_name, _, attr = spec.partition(":")
    try:
        cls = getattr(importlib.import_module(module_name), attr)
    except (ImportError, AttributeError) as e:
        raise ProviderUnavailable(type_name, spec, e) from e
    _classes[type_name] = cls
    return cls


def new_provider(type_name: str):
    """A fresh, unconfigured provider instance for one operation (None if unknown)."""
    cls = provider_class(type_name)
    return cls() if cls is not None else None


def schema_of(type_name: str):
    """The resource schema of a type (None if unknown); schemas are static per type."""
    if type_name not in _schemas:
        p = new_provider(type_name)
        if p is None:
            return None
        _schemas[type_name] = p.schema()
    return _schemas[type_name]


def register(type_name: str, spec: str) -> None:
    """Add a resource type at run time (tests, benchmarks): spec is "module:Class"."""
    resource_types()[type_name] = spec
    _classes.pop(type_name, None)
    _schemas.pop(type_name, None)


def provider_commands() -> dict[str, tuple[str, str]]:
    """CLI verbs contributed by provider packages: verb -> (spec, help)."""
    out = dict(BUILTIN_COMMANDS)
    try:
        from importlib.metadata import entry_points

        for ep in entry_points(group="trainform.commands"):
            out.setdefault(ep.name, (ep.value, ""))
    except Exception:  # noqa: BLE001 - broken metadata must not break the CLI
        pass
    return out
