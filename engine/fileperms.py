"""Files trainform writes are private to the user who runs it.

Run logs, plan files, crash logs, caches, the journal, state backups and the
digest key may hold what a secret touched (or a secret's digest), so the CLI
sets the process umask to ``077`` at start (:func:`restrict_umask`): every
file it creates is at most ``0600`` and every directory ``0700``, including
files written by code that does not think about modes.

Processes trainform starts for the user (a process-mode training run) get the
user's own umask back (:func:`user_umask`), so what a training script writes
into its outputs keeps the permissions the user expects.
"""

from __future__ import annotations

import os

__all__ = ["PRIVATE_UMASK", "restrict_umask", "user_umask"]

PRIVATE_UMASK = 0o077
_user_umask: int | None = None


def restrict_umask() -> None:
    """Make files and directories created from now on private (idempotent)."""
    global _user_umask
    if _user_umask is None:
        _user_umask = os.umask(PRIVATE_UMASK)
    else:
        os.umask(PRIVATE_UMASK)


def user_umask() -> int:
    """The umask the user started trainform with (the current one if it was never restricted)."""
    if _user_umask is not None:
        return _user_umask
    current = os.umask(0)
    os.umask(current)
    return current
