"""The state package's errors, all under :class:`StateError`.

They live in their own module so that the model, the backends and the
upgrade code can raise them without importing each other.
"""

from __future__ import annotations

from engine.errors import TrainformError


class StateError(TrainformError):
    """Any problem reading, writing or locking state (a clear message, no traceback)."""


class StateCorruptError(StateError):
    """The stored state cannot be parsed; nothing was overwritten."""


class StateConflictError(StateError):
    """A write would lose someone else's update (other lineage, newer serial)."""


class LockError(StateError):
    """The state lock is held by someone else (``info`` names the holder).

    ``stale`` is True when the holder is known to be dead (same host, no such
    pid): the message then says how to clear it with ``trainform force-unlock``.

    ``str(err)`` is the body (reason, "Lock Info:" naming id, path, operation,
    user@host, pid, version, start time; the force-unlock hint when stale) so a
    caller can put it under its own "Error acquiring the state lock" heading;
    ``err.block`` is the complete Terraform-style block with heading and advice.
    """

    def __init__(self, message: str, info=None, stale: bool = False, block: str | None = None):
        super().__init__(message)
        self.info = info
        self.stale = stale
        self.block = block or message
