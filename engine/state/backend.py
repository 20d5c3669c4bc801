"""The backend interface: where state lives, how it is locked and journaled.

Every backend offers the same guarantees (the shared suite in
``engine.testing.backend_suite`` checks them):

* ``read()`` returns the latest state, first folding in the journal a killed
  process left behind; a journal still held open by a live process is
  overlaid in memory only.  Unreadable stored state raises
  :class:`StateCorruptError` and nothing is overwritten.
* ``write(state)`` refuses another lineage and a stale serial (someone wrote
  after you read), bumps the serial (also on the caller's object), keeps the
  previous version as a backup, is atomic, and folds the journal.
* ``journal(base)`` opens the write-ahead journal of one apply: every record
  is durable when the call returns, so a ``kill -9`` never loses a finished
  change.  Records are idempotent (set instance / remove / set outputs); the
  journal's header names the state serial it applies to, so a journal that
  was already folded is recognised and dropped instead of being replayed twice.
* ``lock(operation)`` names its holder; a loser gets :class:`LockError`.

Journal records (one JSON object each)::

    {"op": "begin", "lineage": L|null, "serial": N, "pid": P, "host": H, "owner": ID, "created": T}
    {"op": "instance", "instance": {...ResourceInstance JSON...}}
    {"op": "remove", "address": "value.x"}
    {"op": "outputs", "outputs": {...all outputs...}}
"""

from __future__ import annotations

import datetime as _dt
import os
import time
import uuid
from abc import ABC, abstractmethod
from contextlib import contextmanager

from engine.state.errors import LockError, StateConflictError, StateCorruptError, StateError
from engine.state.lock import LockInfo
from engine.state.model import ResourceInstance, State, _output_to_json

__all__ = [
    "Backend", "Journal", "LockInfo", "StateError", "StateCorruptError", "StateConflictError", "LockError",
    "apply_records", "check_write", "plan_replay",
]

DEFAULT_FOLD_EVERY = 5000  # a fold rewrites the whole state: keep it rare (O(N) each)


def journal_header(lineage: str | None, serial: int, owner: str) -> dict:
    return {
        "op": "begin", "lineage": lineage, "serial": serial, "pid": os.getpid(), "host": os.uname().nodename,
        "owner": owner, "created": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }


def apply_records(state: State, records: list[dict], in_place: bool = False) -> State:
    """Apply journal records (without the header) to a copy of ``state`` (or to
    ``state`` itself: a journal folding into the state it already holds)."""
    out = state if in_place else state.copy()
    for rec in records:
        op = rec.get("op")
        if op == "instance":
            inst = ResourceInstance.from_json(rec["instance"])
            out.resources[inst.address] = inst
        elif op == "remove":
            out.resources.pop(rec["address"], None)
        elif op == "outputs":
            out.outputs = {k: _output_to_json(v) for k, v in sorted(rec["outputs"].items())}
        elif op == "begin":
            continue
        else:
            raise StateCorruptError(f"unknown journal record {op!r}")
    out.resources = dict(sorted(out.resources.items()))
    return out


def plan_replay(stored: State | None, records: list[dict]) -> tuple[str, State | None, dict]:
    """Decide what to do with a journal found beside ``stored``.

    Returns ``(action, state, header)``: ``"drop"`` (empty, or already folded:
    the stored serial is past the journal's), ``"orphan"`` (belongs to another
    lineage or a newer serial: keep it aside, never apply), or ``"apply"`` with
    the merged state (serial not yet bumped).
    """
    header = records[0] if records and records[0].get("op") == "begin" else {}
    body = [r for r in records if r.get("op") != "begin"]
    lineage = header.get("lineage")
    serial = header.get("serial", 0)
    if stored is not None and ((lineage is not None and lineage != stored.lineage) or stored.serial < serial):
        return "orphan", stored, header
    if not body or (stored is not None and stored.serial > serial):
        return "drop", stored, header
    base = stored or State(serial=serial, lineage=lineage or str(uuid.uuid4()))
    return "apply", apply_records(base, body), header


def orphan_warning(header: dict, stored: State, aside: str) -> str:
    return (
        f"Ignored a state journal that does not belong to this state (lineage {header.get('lineage')}, "
        f"serial {header.get('serial')}; the state is {stored.lineage} at serial {stored.serial}). "
        f"It was kept as {aside}."
    )


def check_write(stored: State | None, state: State, own_serials: set[int]) -> int:
    """Refuse a write that would lose an update; return the serial to write."""
    if stored is None:
        return state.serial + 1
    if stored.lineage != state.lineage:
        raise StateConflictError(
            f"Refusing to write state with lineage {state.lineage!r}: the stored state has lineage "
            f"{stored.lineage!r}, so it is a different state (another project or a re-initialised one). "
            "Use 'trainform init -migrate-state -force-copy' only if you mean to replace it."
        )
    if stored.serial > state.serial and stored.serial not in own_serials:
        raise StateConflictError(
            f"Refusing to write state: it was read at serial {state.serial} but the stored state is now at "
            f"serial {stored.serial} (someone else wrote it meanwhile). Writing would lose their changes; "
            "re-run the command to start from the current state."
        )
    return max(state.serial, stored.serial) + 1


class Journal(ABC):
    """Write-ahead journal of one apply (see the module docstring)."""

    def __init__(self, fold_every: int = DEFAULT_FOLD_EVERY, fold_seconds: float | None = None):
        self.fold_every = fold_every
        self.fold_seconds = fold_seconds
        self._since_fold = 0
        self._last_fold = time.monotonic()
        self.closed = False
        self.lineage: str | None = None  # lineage of the state the records apply to

    def record_instance(self, inst: ResourceInstance, durable: bool = True) -> None:
        """``durable=False``: an object nothing outside trainform holds (an inline
        provider's value), which a crash of the machine may lose and the next apply
        simply computes again; it is written at once (a killed process keeps it) and
        synced to disk with the next durable record, a fold or the final write."""
        self._record({"op": "instance", "instance": inst.to_json()}, durable)

    def record_removal(self, address: str) -> None:
        self._record({"op": "remove", "address": address})

    def record_outputs(self, outputs: dict) -> None:
        self._record({"op": "outputs", "outputs": {k: _output_to_json(v) for k, v in outputs.items()}})

    def _record(self, rec: dict, durable: bool = True) -> None:
        if self.closed:
            raise StateError("journal is closed")
        self._append(rec, durable)
        self._since_fold += 1
        due = (self.fold_every and self._since_fold >= self.fold_every) or (
            self.fold_seconds is not None and time.monotonic() - self._last_fold >= self.fold_seconds
        )
        if due and self.lineage is not None:
            # Without a lineage (first apply, no base given) a fold would invent one that the
            # final write() would then refuse; those records wait for write() instead.
            self.fold()

    def fold(self) -> None:
        """Fold the records so far into the stored state and start a fresh journal."""
        self._fold()
        self._since_fold = 0
        self._last_fold = time.monotonic()

    @abstractmethod
    def _append(self, rec: dict, durable: bool = True) -> None:
        """Append one record: committed/fsynced before returning when ``durable``;
        otherwise at least out of this process (it survives the process being killed)."""

    @abstractmethod
    def _fold(self) -> None: ...

    @abstractmethod
    def close(self) -> None:
        """Stop journaling; records stay until the next write() or read() folds them."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class Backend(ABC):
    """Where state is stored; see the module docstring for the guarantees."""

    def __init__(self):
        self.warnings: list[str] = []  # things the CLI should print (stale lock taken over, ...)
        self.owner = uuid.uuid4().hex  # identifies this backend object's journals
        self._own_serials: set[int] = set()  # serials written by folding our own journal

    @abstractmethod
    def describe(self) -> str:
        """Where the state lives, for messages ('trainform.tfstate', 'pg schema.name')."""

    @abstractmethod
    def read(self) -> State | None: ...

    @abstractmethod
    def write(self, state: State) -> None: ...

    @abstractmethod
    def force_write(self, state: State) -> None:
        """Store ``state`` exactly as given (serial and lineage kept, no checks): for migration."""

    @abstractmethod
    def read_backup(self) -> State | None:
        """The state as it was before the last write, or None."""

    @abstractmethod
    def journal(self, base: State | None = None) -> Journal:
        """Open the journal; ``base`` is the state the caller read (checked against the stored one)."""

    @abstractmethod
    def lock(self, operation: str, timeout: float = 0) -> LockInfo: ...

    @abstractmethod
    def unlock(self, lock_id: str) -> None: ...

    @abstractmethod
    def force_unlock(self, lock_id: str) -> LockInfo | None:
        """Break lock ``lock_id`` whoever holds it; returns the holder's info."""

    @abstractmethod
    def lock_info(self) -> LockInfo | None:
        """Who holds the lock now (None when unlocked)."""

    def close(self) -> None:
        """Release connections; locks still held are released."""

    @contextmanager
    def locked(self, operation: str, timeout: float = 0):
        info = self.lock(operation, timeout)
        try:
            yield info
        finally:
            self.unlock(info.id)

    def _note_recovered(self, header: dict, count: int, serial: int) -> None:
        if header.get("owner") == self.owner:
            self._own_serials.add(serial)
        else:
            self.warnings.append(
                f"Recovered {count} change(s) from the journal of an interrupted run "
                f"(pid {header.get('pid', '?')} on {header.get('host', '?')}); state is now at serial {serial}."
            )

    def _check_base(self, stored: State | None, base: State | None) -> None:
        if base is None or stored is None:
            return
        if base.lineage != stored.lineage:
            raise StateConflictError(
                f"Cannot start a journal: the state you read has lineage {base.lineage!r}, "
                f"the stored one {stored.lineage!r}."
            )
        if base.serial != stored.serial and stored.serial not in self._own_serials:
            raise StateConflictError(
                f"Cannot start a journal: the state was read at serial {base.serial} but is now at "
                f"serial {stored.serial}; someone else wrote it meanwhile. Re-run the command."
            )
