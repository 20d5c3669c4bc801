"""State locks: the holder's description (:class:`LockInfo`), the message a
losing command prints, and the local implementation (:class:`FileLock`).

The local lock is an OS lock (``fcntl.flock``) on ``<state>.lock`` plus a JSON
info file ``<state>.lock.info`` naming the holder.  The kernel drops the
flock when the holder dies, so a killed ``apply`` never leaves the state
locked; its info file is then stale and the next locker takes over, saying so.
If the flock is still held but the recorded pid on this host is gone (an
inherited descriptor in an orphaned child), the lock is reported as stale
with the ``trainform force-unlock ID`` hint; force-unlock unlinks the lock
file so that the orphan's flock no longer guards anything.
"""

from __future__ import annotations

import datetime as _dt
import errno
import getpass
import json
import os
import time
import uuid
from dataclasses import asdict, dataclass, field

from engine.procs import pid_alive

from engine.state.errors import LockError, StateError

__all__ = ["LockInfo", "FileLock", "lock_error", "pid_alive", "new_lock_info"]


@dataclass
class LockInfo:
    id: str
    pid: int
    host: str
    user: str
    operation: str
    created: str  # ISO 8601, UTC
    path: str = ""
    version: str = ""
    took_over: "LockInfo | None" = field(default=None, compare=False)  # stale lock this one replaced

    def to_json(self) -> dict:
        d = asdict(self)
        d.pop("took_over", None)
        return d

    @classmethod
    def from_json(cls, d: dict) -> "LockInfo":
        return cls(
            id=str(d.get("id", "")), pid=int(d.get("pid") or 0), host=str(d.get("host", "")),
            user=str(d.get("user", "")), operation=str(d.get("operation", "")),
            created=str(d.get("created", "")), path=str(d.get("path", "")), version=str(d.get("version", "")),
        )


def _user() -> str:
    try:
        return getpass.getuser()
    except Exception:
        return str(os.getuid())


def new_lock_info(operation: str, path: str) -> LockInfo:
    from engine import __version__

    return LockInfo(
        id=str(uuid.uuid4()), pid=os.getpid(), host=os.uname().nodename, user=_user(),
        operation=operation, created=_dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        path=path, version=__version__,
    )


def is_stale(info: LockInfo | None) -> bool:
    return info is not None and info.host == os.uname().nodename and not pid_alive(info.pid)


def lock_error(info: LockInfo | None, reason: str = "", stale: bool = False) -> LockError:
    """A LockError naming the holder; ``.block`` is Terraform's "Error acquiring the state lock" block."""
    lines = []
    if reason:
        lines += [reason, ""]
    if info is not None:
        lines += [
            "Lock Info:",
            f"  ID:        {info.id}",
            f"  Path:      {info.path}",
            f"  Operation: {info.operation}",
            f"  Who:       {info.user}@{info.host}",
            f"  PID:       {info.pid}",
            f"  Version:   {info.version}",
            f"  Created:   {info.created}",
        ]
    else:
        lines += ["The lock is held, but its holder did not record who it is."]
    if stale and info is not None:
        lines += [
            "",
            f"The lock is stale: process {info.pid} on this host ({info.host}) is no longer running.",
            "If no other trainform command is using this state, release it with:",
            f"  trainform force-unlock {info.id}",
        ]
    body = "\n".join(lines)
    block = "\n".join([
        "Error acquiring the state lock", "", body, "",
        "Trainform acquires a state lock to protect the state from being written",
        "by multiple users at the same time. Please resolve the issue above and try",
        "again. For most commands, you can disable locking with the \"-lock=false\"",
        "flag, but this is not recommended.",
    ])
    return LockError(body, info=info, stale=stale, block=block)


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.replace(tmp, path)


class FileLock:
    """flock-based lock on ``lock_path`` with holder info in ``info_path``."""

    def __init__(self, lock_path: str, info_path: str, display_path: str):
        self.lock_path = lock_path
        self.info_path = info_path
        self.display_path = display_path
        self._held: dict[str, int] = {}  # lock id -> fd
        self.warnings: list[str] = []

    def read_info(self) -> LockInfo | None:
        try:
            with open(self.info_path, "rb") as f:
                return LockInfo.from_json(json.loads(f.read()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError):
            return None

    def _try_flock(self) -> int | None:
        """Open the lock file and flock it without blocking; None if someone holds it."""
        import fcntl

        while True:
            fd = os.open(self.lock_path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError as e:
                os.close(fd)
                if e.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    return None
                raise StateError(f"cannot lock {self.lock_path}: {e}") from e
            # force-unlock may have unlinked the file we locked: retry on the new one.
            try:
                same = os.fstat(fd).st_ino == os.stat(self.lock_path).st_ino
            except FileNotFoundError:
                same = False
            if same:
                return fd
            os.close(fd)

    def acquire(self, operation: str, timeout: float = 0) -> LockInfo:
        deadline = time.monotonic() + max(timeout, 0)
        while True:
            fd = self._try_flock()
            if fd is not None:
                break
            if time.monotonic() >= deadline:
                holder = self.read_info()
                reason = f"Timed out after {timeout:g}s waiting for the lock." if timeout > 0 else ""
                raise lock_error(holder, reason, stale=is_stale(holder))
            time.sleep(min(0.1, max(0.0, deadline - time.monotonic())) or 0.01)
        info = new_lock_info(operation, self.display_path)
        previous = self.read_info()
        if previous is not None:
            info.took_over = previous
            self.warnings.append(
                f"Took over a stale state lock {previous.id} left by {previous.operation!r} "
                f"(pid {previous.pid} on {previous.host}, since {previous.created}); that process "
                "ended without releasing it."
            )
        try:
            _write_atomic(self.info_path, json.dumps(info.to_json(), indent=2).encode())
        except OSError as e:
            os.close(fd)
            raise StateError(f"cannot write lock info {self.info_path}: {e}") from e
        self._held[info.id] = fd
        return info

    def release(self, lock_id: str) -> None:
        fd = self._held.get(lock_id)
        if fd is None:
            holder = self.read_info()
            raise StateError(
                f"Cannot unlock: lock {lock_id} is not held by this process"
                + (f" (the current lock is {holder.id}, held by pid {holder.pid} on {holder.host})" if holder else "")
            )
        info = self.read_info()
        if info is not None and info.id == lock_id:
            try:
                os.unlink(self.info_path)
            except FileNotFoundError:
                pass
        import fcntl

        del self._held[lock_id]
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    def force_release(self, lock_id: str) -> LockInfo | None:
        info = self.read_info()
        if lock_id in self._held:
            self.release(lock_id)
            return info
        if info is None:
            if self._try_flock_probe():
                raise StateError(f"Cannot force-unlock {lock_id}: the state is not locked.")
            raise StateError(
                f"Cannot force-unlock {lock_id}: the lock is held but has no holder info; "
                f"remove {self.lock_path} by hand if you are sure nothing uses the state."
            )
        if info.id != lock_id:
            raise StateError(
                f"Cannot force-unlock {lock_id}: the current lock has ID {info.id} "
                f"(held for {info.operation!r} by {info.user}@{info.host}, pid {info.pid})."
            )
        for p in (self.info_path, self.lock_path):
            try:
                os.unlink(p)
            except FileNotFoundError:
                pass
        return info

    def _try_flock_probe(self) -> bool:
        """True when nobody holds the OS lock (we grab and drop it)."""
        import fcntl

        fd = self._try_flock()
        if fd is None:
            return False
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)
        return True
