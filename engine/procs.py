"""Is a process alive?  One answer for locks, owned Ray nodes and detached runs."""

from __future__ import annotations

import os

__all__ = ["pid_alive"]


def pid_alive(pid: int | None) -> bool:
    """True while ``pid`` runs: not gone, not a zombie (a zombie still answers
    ``kill(pid, 0)``).  A process of another user (EPERM) counts as alive."""
    if not pid or pid <= 0:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        pass  # no /proc (or the process just went): ask the kernel
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return False
    return True
