"""trainform state: the model, its versioned format, and where it is stored.

Public API::

    from engine.state import State, ResourceInstance, get_backend, migrate
    backend = get_backend(settings, working_dir)     # LocalBackend or PgBackend
    state = backend.read() or State.new()
    info = backend.lock("apply")
    journal = backend.journal(state)
    journal.record_instance(inst)     # durable on return
    backend.write(state); journal.close(); backend.unlock(info.id)

The format is documented in ``engine.state.model``; backends and their
guarantees in ``engine.state.backend``.
"""

from __future__ import annotations

import os

from engine.state.errors import LockError, StateConflictError, StateCorruptError, StateError
from engine.state.lock import LockInfo
from engine.state.model import FORMAT_VERSION, ResourceInstance, State

__all__ = [
    "State", "ResourceInstance", "FORMAT_VERSION", "LockInfo",
    "StateError", "StateCorruptError", "StateConflictError", "LockError",
    "Backend", "LocalBackend", "PgBackend", "get_backend", "migrate", "DEFAULT_STATE_FILE",
]

DEFAULT_STATE_FILE = "trainform.tfstate"


def __getattr__(name):
    # Backends are imported on first use so `import engine.state` stays light.
    if name == "Backend":
        from engine.state.backend import Backend

        return Backend
    if name == "LocalBackend":
        from engine.state.local import LocalBackend

        return LocalBackend
    if name == "PgBackend":
        from engine.state.pg import PgBackend

        return PgBackend
    raise AttributeError(name)


_COMMON = {"fold_every", "fold_seconds"}
_SETTINGS = {
    "local": {"path"} | _COMMON,
    "pg": {"conn_str", "schema_name", "name", "connect_timeout"} | _COMMON,
}


def get_backend(settings: dict | None, working_dir: str):
    """The backend the ``trainform { backend ... }`` settings describe.

    ``None`` or ``{"type": "local", "path": ...}`` -> a local file (relative
    paths are relative to ``working_dir``); ``{"type": "pg", "conn_str": ...,
    "schema_name": ..., "name": ...}`` -> PostgreSQL (``conn_str`` falls back to
    ``$TRAINFORM_PG_CONN_STR``).
    """
    settings = {k: v for k, v in (settings or {"type": "local"}).items() if v is not None}
    kind = settings.pop("type", "local")
    allowed = _SETTINGS.get(kind)
    if allowed is None:
        raise StateError(f"Unknown backend type {kind!r}; trainform supports \"local\" and \"pg\".")
    unknown = sorted(set(settings) - allowed)
    if unknown:
        raise StateError(f"Unsupported argument(s) {', '.join(map(repr, unknown))} for the {kind!r} backend; "
                         f"it accepts {', '.join(sorted(allowed))}.")
    if kind == "local":
        from engine.state.local import LocalBackend

        path = settings.pop("path", None) or DEFAULT_STATE_FILE
        return LocalBackend(os.path.join(working_dir, path), **settings)
    if kind == "pg":
        from engine.state.pg import PgBackend

        return PgBackend(
            settings.pop("conn_str", None), schema_name=settings.pop("schema_name", None) or "trainform",
            name=settings.pop("name", None) or "default", **settings,
        )
    raise StateError(f"Unknown backend type {kind!r}; trainform supports \"local\" and \"pg\".")


def migrate(src, dst, force: bool = False) -> State:
    """Copy the state of ``src`` into ``dst`` keeping lineage and serial.

    Refuses (StateConflictError) when ``dst`` already holds a state of another
    lineage, or a newer serial of the same lineage, unless ``force``.
    """
    state = src.read()
    if state is None:
        raise StateError(f"There is no state in {src.describe()} to migrate.")
    existing = dst.read()
    if existing is not None and not force:
        if existing.lineage != state.lineage:
            raise StateConflictError(
                f"{dst.describe()} already holds a different state (lineage {existing.lineage}, serial "
                f"{existing.serial}); refusing to overwrite it with lineage {state.lineage}. "
                "Use -force-copy to replace it."
            )
        if existing.serial > state.serial:
            raise StateConflictError(
                f"{dst.describe()} holds a newer serial ({existing.serial}) of this state than "
                f"{src.describe()} ({state.serial}); refusing to go back. Use -force-copy to replace it."
            )
    dst.force_write(state)
    return state
