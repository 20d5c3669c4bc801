"""State in a local file (``trainform.tfstate``) with backup, journal and lock.

Files beside the state file::

    trainform.tfstate          the current state (JSON, format_version 1)
    trainform.tfstate.backup   the previous serial
    trainform.tfstate.journal  write-ahead journal of the apply in progress (JSON lines)
    trainform.tfstate.lock     flock target; .lock.info names the holder

Writes go to a temp file in the same directory, are fsynced, renamed over the
target and the directory is fsynced, so a crash leaves either the old or the
new file, never half of one.  The journal file is flocked by the process
writing it: a reader that can take the flock knows the writer is dead and
folds the journal; otherwise it only overlays it in memory.
"""

from __future__ import annotations

import errno
import json
import os
import uuid

from engine.state.backend import (
    DEFAULT_FOLD_EVERY, Backend, Journal, apply_records, check_write, journal_header, orphan_warning,
    plan_replay,
)
from engine.state.errors import StateConflictError, StateCorruptError, StateError
from engine.state.lock import FileLock, LockInfo
from engine.state.model import State

__all__ = ["LocalBackend", "LocalJournal"]


def _fsync_dir(path: str) -> None:
    fd = os.open(os.path.dirname(os.path.abspath(path)) or ".", os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: str, data: bytes) -> None:
    tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    try:
        view = memoryview(data)
        while view:
            n = os.write(fd, view)
            view = view[n:]
        os.fsync(fd)
    except BaseException:
        os.close(fd)
        os.unlink(tmp)
        raise
    os.close(fd)
    os.replace(tmp, path)
    _fsync_dir(path)


def _keep_as_backup(path: str, backup: str) -> None:
    """Make the current state file the backup: a second link to its (already synced)
    contents, renamed into place, so the backup costs no copy; a copy where the
    file system has no hard links.  The write that follows syncs the directory."""
    tmp = f"{backup}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
    try:
        os.link(path, tmp)
    except OSError:
        with open(path, "rb") as f:
            _write_atomic(backup, f.read())
        return
    os.replace(tmp, backup)


def _dumps(state_json: dict) -> bytes:
    """The state file's text: one line per resource instance and per output inside
    an indented frame.  As readable and diffable as a fully indented file, and
    encoded by json's C encoder (an ``indent`` makes json use its pure-Python
    encoder, ~7x slower: 0.7 s of every write of a 10,000-resource state)."""
    def enc(v) -> str:
        return json.dumps(v, ensure_ascii=False, separators=(", ", ": "))

    parts = []
    for key, value in state_json.items():
        if isinstance(value, list) and value:
            inner = ",\n".join("    " + enc(x) for x in value)
            parts.append(f"  {enc(key)}: [\n{inner}\n  ]")
        elif isinstance(value, dict) and value:
            inner = ",\n".join(f"    {enc(k)}: {enc(v)}" for k, v in value.items())
            parts.append(f"  {enc(key)}: {{\n{inner}\n  }}")
        else:
            parts.append(f"  {enc(key)}: {enc(value)}")
    return ("{\n" + ",\n".join(parts) + "\n}\n").encode("utf-8")


def parse_journal(data: bytes, where: str) -> list[dict]:
    """Records of a journal file; a torn (incomplete) last line is ignored."""
    lines = data.split(b"\n")
    complete, tail = lines[:-1], lines[-1]  # tail: text after the last newline (torn or empty)
    records = []
    for i, line in enumerate(complete):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except ValueError:
            if i == len(complete) - 1 and not tail:
                break  # a torn last line that happens to end in a newline byte
            raise StateCorruptError(
                f"Journal {where} is corrupt at line {i + 1} (not the last line, so not a torn write). "
                f"It was left untouched; move it aside to continue with the state file alone."
            )
        if not isinstance(rec, dict) or "op" not in rec:
            raise StateCorruptError(f"Journal {where} line {i + 1} is not a journal record.")
        records.append(rec)
    return records


class LocalJournal(Journal):
    """The journal of one apply.  It keeps the stored state it started from (and has
    folded into) in memory, so a fold encodes and writes the state but never reads
    and decodes it again: only when the file's identity (inode, size, mtime) is not
    the one this journal last wrote or read does a fold load it to check it."""

    def __init__(self, backend: "LocalBackend", lineage: str | None, serial: int, fold_every, fold_seconds,
                 stored: State | None = None):
        super().__init__(fold_every, fold_seconds)
        self.backend = backend
        self.lineage = lineage
        self.serial = serial
        self._fd: int | None = None
        self._ino: int | None = None
        self._records: list[dict] = []
        self._unsynced = False
        self._stored = stored
        self._stored_id = backend._file_identity()
        self._start(lineage, serial)

    def _start(self, lineage: str | None, serial: int) -> None:
        """Atomically put a fresh journal (header only) in place, flocked by us."""
        import fcntl

        path = self.backend.journal_path
        tmp = f"{path}.tmp-{os.getpid()}-{uuid.uuid4().hex[:8]}"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            os.write(fd, (json.dumps(journal_header(lineage, serial, self.backend.owner)) + "\n").encode())
            os.fsync(fd)
            os.replace(tmp, path)
            _fsync_dir(path)
        except BaseException:
            os.close(fd)
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass
            raise
        old = self._fd
        self._fd, self._ino = fd, os.fstat(fd).st_ino
        self.lineage, self.serial = lineage, serial
        self._records = []
        if old is not None:
            os.close(old)

    def _append(self, rec: dict, durable: bool = True) -> None:
        line = (json.dumps(rec, separators=(",", ":"), ensure_ascii=False) + "\n").encode("utf-8")
        try:
            view = memoryview(line)
            while view:
                n = os.write(self._fd, view)
                view = view[n:]
            if durable:
                os.fdatasync(self._fd)  # data + the size needed to read it back; cheaper than fsync
            self._unsynced = not durable
        except OSError as e:
            raise StateError(f"cannot append to the state journal {self.backend.journal_path}: {e}") from e
        self._records.append(rec)

    def sync(self) -> None:
        """Make every record written so far durable (before the journal is folded or left)."""
        if self._unsynced and self._fd is not None:
            os.fdatasync(self._fd)
            self._unsynced = False

    def stored_state(self) -> State | None:
        """The stored state as this journal last wrote or read it; None when the file
        changed since (or there is none): the caller must read it."""
        if self._stored is not None and self.backend._file_identity() == self._stored_id:
            return self._stored
        return None

    def _fold(self) -> None:
        b = self.backend
        self.sync()
        stored = self.stored_state()
        if stored is None:
            stored = b._load()
        if stored is not None and (stored.lineage != self.lineage or stored.serial != self.serial):
            raise StateConflictError(
                f"Cannot fold the journal: {b.describe()} changed underneath this apply "
                f"(serial {stored.serial}, journal based on {self.serial}). The journal was kept."
            )
        base = stored or State(serial=self.serial, lineage=self.lineage or str(uuid.uuid4()))
        self._stored = None  # folded into in place below: not the stored state until stored
        new = apply_records(base, self._records, in_place=True)
        new.serial = base.serial + 1
        b._store(new)
        b._own_serials.add(new.serial)
        self._stored, self._stored_id = new, b._file_identity()
        self._start(new.lineage, new.serial)

    def owns_file(self) -> bool:
        try:
            return self._fd is not None and os.stat(self.backend.journal_path).st_ino == self._ino
        except FileNotFoundError:
            return False

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if self._fd is not None:
            self.sync()
            if not self._records and self.owns_file():
                os.unlink(self.backend.journal_path)  # nothing unfolded: no journal to leave behind
            os.close(self._fd)
            self._fd = None
        if self.backend._journal is self:
            self.backend._journal = None


class LocalBackend(Backend):
    def __init__(self, path: str, fold_every: int = DEFAULT_FOLD_EVERY, fold_seconds: float | None = None):
        super().__init__()
        self.path = os.path.abspath(path)
        self.backup_path = self.path + ".backup"
        self.journal_path = self.path + ".journal"
        self.fold_every = fold_every
        self.fold_seconds = fold_seconds
        self._lock = FileLock(self.path + ".lock", self.path + ".lock.info", self.path)
        self.warnings = self._lock.warnings
        self._journal: LocalJournal | None = None

    def describe(self) -> str:
        return self.path

    # --- storage -----------------------------------------------------------
    def _load_file(self, path: str) -> State | None:
        try:
            with open(path, "rb") as f:
                data = f.read()
        except FileNotFoundError:
            return None
        except OSError as e:
            raise StateError(f"cannot read state file {path}: {e}") from e
        try:
            return State.from_json(json.loads(data.decode("utf-8")))
        except StateCorruptError as e:
            raise self._corrupt(path, str(e)) from None
        except (ValueError, UnicodeDecodeError) as e:
            what = "is empty" if not data.strip() else f"is not valid JSON ({e})"
            raise self._corrupt(path, what) from None

    def _corrupt(self, path: str, what: str) -> StateCorruptError:
        msg = f"State file {path} is corrupt: {what}. Nothing was changed."
        if path == self.path:
            try:
                backup = self._load_file(self.backup_path)
            except StateError:
                backup = None
            if backup is not None:
                msg += (
                    f"\nA backup of serial {backup.serial} is at {self.backup_path}. To restore it, run:\n"
                    f"  cp {self.backup_path} {self.path}\n"
                    "(changes made after that serial will then be missing from state)."
                )
            else:
                msg += f"\nNo usable backup was found at {self.backup_path}."
        return StateCorruptError(msg)

    def _load(self) -> State | None:
        return self._load_file(self.path)

    def _file_identity(self) -> tuple | None:
        """(inode, size, mtime): every store replaces the file, so a new write shows here."""
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return None
        return (st.st_ino, st.st_size, st.st_mtime_ns)

    def _store(self, state: State) -> None:
        from engine import __version__

        state.trainform_version = __version__
        data = _dumps(state.to_json())
        try:
            if os.path.exists(self.path):
                _keep_as_backup(self.path, self.backup_path)
            _write_atomic(self.path, data)
        except OSError as e:
            raise StateError(f"cannot write state file {self.path}: {e}") from e

    def read_backup(self) -> State | None:
        return self._load_file(self.backup_path)

    # --- journal -----------------------------------------------------------
    def _open_dead_journal(self):
        """(fd, records, live) for the journal on disk, or None when there is none.

        ``fd`` holds the journal's flock when its writer is dead (live False).
        """
        import fcntl

        while True:
            try:
                fd = os.open(self.journal_path, os.O_RDONLY)
            except FileNotFoundError:
                return None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                live = False
            except OSError as e:
                if e.errno not in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                    os.close(fd)
                    raise
                live = True
            try:
                same = os.stat(self.journal_path).st_ino == os.fstat(fd).st_ino
            except FileNotFoundError:
                same = False
            if not same:  # replaced while we opened it: look again
                os.close(fd)
                continue
            data = b""
            while chunk := os.read(fd, 1 << 20):
                data += chunk
            try:
                records = parse_journal(data, self.journal_path)
            except BaseException:
                os.close(fd)
                raise
            return fd, records, live

    def _replay(self, stored: State | None) -> State | None:
        found = self._open_dead_journal()
        if found is None:
            return stored
        fd, records, live = found
        try:
            action, merged, header = plan_replay(stored, records)
            if live:
                return merged  # a running apply: show its progress, never touch its journal
            if action == "orphan":
                aside = f"{self.journal_path}.orphaned-{uuid.uuid4().hex[:8]}"
                os.replace(self.journal_path, aside)
                self.warnings.append(orphan_warning(header, stored, aside))
                return stored
            if action == "apply":
                merged.serial += 1
                self._store(merged)
                self._note_recovered(header, len(records) - 1, merged.serial)
            os.unlink(self.journal_path)
            _fsync_dir(self.journal_path)
            return merged
        finally:
            os.close(fd)

    def _foreign_live_journal(self) -> bool:
        if self._journal is not None and self._journal.owns_file():
            return False
        found = self._open_dead_journal()
        if found is None:
            return False
        os.close(found[0])
        return found[2]

    def read(self) -> State | None:
        return self._replay(self._load())

    def journal(self, base: State | None = None) -> LocalJournal:
        if self._journal is not None:
            raise StateError("a journal is already open for this state")
        stored = self.read()
        if self._foreign_live_journal():
            raise StateConflictError(
                f"Another process is applying changes to {self.path} (its journal {self.journal_path} is open)."
            )
        self._check_base(stored, base)
        lineage = stored.lineage if stored else (base.lineage if base else None)
        serial = stored.serial if stored else 0
        self._journal = LocalJournal(self, lineage, serial, self.fold_every, self.fold_seconds, stored)
        return self._journal

    # --- write -------------------------------------------------------------
    def write(self, state: State) -> None:
        own = self._journal if self._journal is not None and self._journal.owns_file() else None
        if own is not None:
            own.sync()
            stored = own.stored_state()
            if stored is None:
                stored = self._load()
        else:
            stored = self.read()
        if own is None and self._foreign_live_journal():
            raise StateConflictError(
                f"Another process is applying changes to {self.path} (its journal {self.journal_path} is open); "
                "writing now would lose them."
            )
        new_serial = check_write(stored, state, self._own_serials)
        state.serial = new_serial
        self._store(state)
        if own is not None:
            own._stored = None  # the caller's object, which it may change: read it back if needed
            own._start(state.lineage, new_serial)
        elif os.path.exists(self.journal_path):
            found = self._open_dead_journal()
            if found is not None:
                try:
                    if not found[2]:
                        os.unlink(self.journal_path)
                finally:
                    os.close(found[0])

    def force_write(self, state: State) -> None:
        self._store(state)
        try:
            os.unlink(self.journal_path)
        except FileNotFoundError:
            pass

    # --- lock --------------------------------------------------------------
    def lock(self, operation: str, timeout: float = 0) -> LockInfo:
        os.makedirs(os.path.dirname(self.path), exist_ok=True)
        return self._lock.acquire(operation, timeout)

    def unlock(self, lock_id: str) -> None:
        self._lock.release(lock_id)

    def force_unlock(self, lock_id: str) -> LockInfo | None:
        return self._lock.force_release(lock_id)

    def lock_info(self) -> LockInfo | None:
        # The info file exists while locked; after a crash it is stale until the next lock().
        return self._lock.read_info()

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
        for lock_id in list(self._lock._held):
            self._lock.release(lock_id)
