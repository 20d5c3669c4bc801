"""The provider SDK: everything a resource provider may import from trainform.

A provider (built in under ``providers/`` or a third-party package registered in
the ``trainform.providers`` entry-point group) imports only this package: the
interface and its request/response dataclasses, the schema classes, the value
markers (``UNKNOWN``), diagnostics, and the helpers below.  The engine reaches
providers only through :mod:`engine.providers.registry`, which creates a fresh
instance per operation.
"""

from engine.diagnostics import Diagnostic, Diagnostics, Range
from engine.providers.interface import (
    CREATE, DELETE, UPDATE, ApplyRequest, ApplyResponse, Attribute, BlockSchema, ImportRequest,
    ImportResponse, NestedBlock, PlanRequest, PlanResponse, Provider, ProviderContext, ReadRequest,
    ReadResponse, ResourceSchema, UpgradeStateRequest, UpgradeStateResponse, ValidateRequest,
    ValidateResponse, default_plan, proposed_new_state,
)
from engine.values import UNKNOWN, Unknown, contains_unknown, get_path


def is_secret_digest(value) -> bool:
    """True for the salted digest the engine stores in state in place of a sensitive value."""
    from engine.state import secrets

    return secrets.is_digest(value)


def secret_matches(digest, value) -> bool:
    """Whether ``value`` is the secret a stored digest was made from."""
    from engine.state import secrets

    return secrets.matches(digest, value)


def pid_alive(pid) -> bool:
    """Whether a process runs (not gone, not a zombie): for providers that track processes."""
    from engine.procs import pid_alive as _pid_alive

    return _pid_alive(pid)


def parse_duration(text: str) -> float:
    """ "30s", "1h30m", "500ms", "2d" -> seconds; ValueError saying what is expected."""
    from engine.durations import parse_duration as _parse

    return _parse(text)


def glob_to_regex(pattern: str, **dialect) -> str:
    """The engine's one glob translation (engine.globs): ignore files, build contexts."""
    from engine.globs import glob_to_regex as _glob_to_regex

    return _glob_to_regex(pattern, **dialect)


def user_umask() -> int:
    """The umask the user started trainform with: give it back to processes started
    for the user (trainform's own files are private, see engine.fileperms)."""
    from engine.fileperms import user_umask as _user_umask

    return _user_umask()


__all__ = [
    "Diagnostic", "Diagnostics", "Range", "UNKNOWN", "Unknown", "contains_unknown", "get_path",
    "Attribute", "NestedBlock", "BlockSchema", "ResourceSchema", "ProviderContext", "Provider",
    "ValidateRequest", "ValidateResponse", "PlanRequest", "PlanResponse", "ApplyRequest", "ApplyResponse",
    "ReadRequest", "ReadResponse", "ImportRequest", "ImportResponse", "UpgradeStateRequest",
    "UpgradeStateResponse", "CREATE", "UPDATE", "DELETE", "default_plan", "proposed_new_state",
    "is_secret_digest", "secret_matches", "user_umask", "pid_alive", "glob_to_regex", "parse_duration",
]
