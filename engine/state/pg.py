"""State in PostgreSQL: one row per state, a journal table, advisory locks.

Layout (schema created on first use, default ``trainform``)::

    states (name PK, lineage, serial, data jsonb, prev_data jsonb, updated_at)
    journal(name, seq bigserial, record jsonb)      -- one row per record, own transaction each
    locks  (name PK, id, who, host, pid, operation, since, backend_pid, info jsonb)

* Writes run in one transaction that re-reads the row ``FOR UPDATE`` and
  applies the lineage/serial checks, so two writers cannot both win; the old
  document moves to ``prev_data`` (the backup).
* The state lock is a session-level ``pg_try_advisory_lock`` on a key hashed
  from schema + state name, held by a dedicated connection for as long as the
  lock is held; the ``locks`` row names the holder for the loser's message.
  If the holder crashes its session ends, the advisory lock goes with it and
  the row is stale: the next locker takes over and says so.
* A journal's connection holds a second advisory lock for its lifetime, which
  is how a reader tells a running apply's journal (overlay only) from a dead
  one (fold it).

The connection string may hold a password: every message goes through
:func:`redact_conninfo`.  psycopg is imported lazily.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import time
import uuid
from contextlib import contextmanager

from engine.state.backend import (
    DEFAULT_FOLD_EVERY, Backend, Journal, check_write, journal_header, orphan_warning, plan_replay,
)
from engine.state.errors import LockError, StateConflictError, StateCorruptError, StateError
from engine.state.lock import LockInfo, is_stale, lock_error, new_lock_info
from engine.state.model import State

__all__ = ["PgBackend", "PgJournal", "redact_conninfo", "advisory_key", "settings_to_save", "same_settings"]

ENV_CONN_STR = "TRAINFORM_PG_CONN_STR"


def advisory_key(*parts: str) -> int:
    """A signed 64-bit advisory lock key derived from ``parts``."""
    return int.from_bytes(hashlib.sha256("\0".join(parts).encode()).digest()[:8], "big", signed=True)


def redact_conninfo(text: str, password: str | None = None) -> str:
    text = re.sub(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", r"\1***", text, flags=re.I)
    text = re.sub(r"(://[^:/@\s]*:)[^@\s]*@", r"\1***@", text)
    if password:
        text = text.replace(password, "***")
    return text


#: conninfo keys whose values are secrets: never written to .trainform/backend.json
_SECRET_KEYS = ("password", "sslpassword")


def settings_to_save(settings: dict | None) -> dict | None:
    """Backend settings as ``.trainform/backend.json`` may keep them: no password in any form.

    A pg ``conn_str`` is parsed with libpq's rules (psycopg's conninfo helpers:
    key=value and URI forms, ``?password=`` in the query, quoting) and rebuilt
    without ``password``/``sslpassword``; one that cannot be parsed is dropped
    whole.  The password then comes from the configuration,
    ``TRAINFORM_PG_CONN_STR``, ``PGPASSWORD`` or ``~/.pgpass`` at each command.
    """
    if not isinstance(settings, dict) or settings.get("type") != "pg" or not settings.get("conn_str"):
        return settings
    out = {k: v for k, v in settings.items() if k != "conn_str"}
    try:
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        params = {k: v for k, v in conninfo_to_dict(str(settings["conn_str"])).items() if k not in _SECRET_KEYS}
        out["conn_str"] = make_conninfo(**{k: str(v) for k, v in params.items()})
    except Exception:  # noqa: BLE001 - psycopg missing or an invalid conn_str: keep nothing of it
        return out
    return out


def same_settings(old: dict | None, new: dict | None) -> bool:
    """Do two backend settings name the same backend (passwords aside)?"""
    return settings_to_save(old) == settings_to_save(new)


def _psycopg():
    try:
        import psycopg
    except ImportError as e:  # pragma: no cover - depends on the installation
        raise StateError("The pg backend needs psycopg 3: pip install 'trainform[pg]'") from e
    return psycopg


class PgJournal(Journal):
    def __init__(self, backend: "PgBackend", fold_every, fold_seconds):
        super().__init__(fold_every, fold_seconds)
        self.backend = backend
        self._conn = None
        self._pending = 0

    def _start(self, lineage: str | None, serial: int) -> None:
        b = self.backend
        self.lineage = lineage
        self._conn = b._connect()
        with b._errors("starting the state journal", conn=self._conn):
            # A killed writer's session may take a moment to end on the server: wait briefly.
            deadline = time.monotonic() + 3
            while not (got := self._conn.execute("SELECT pg_try_advisory_lock(%s)", (b._jkey,)).fetchone()[0]):
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.1)
            if not got:
                self._conn.close()
                raise StateConflictError(f"Another process is applying changes to {b.describe()} (its journal is open).")
            with self._conn.transaction():
                # We hold the journal lock now, so any rows left are a dead writer's: fold them.
                current = b._recover(self._conn, known_dead=True)
                if current is not None:
                    lineage, serial = current.lineage, current.serial
                    self.lineage = lineage
                self._conn.execute(
                    b._q("INSERT INTO {}.journal (name, record) VALUES (%s, %s)"),
                    (b.name, json.dumps(journal_header(lineage, serial, b.owner))),
                )

    def _append(self, rec: dict, durable: bool = True) -> None:
        b = self.backend  # every record is its own committed transaction, durable or not
        with b._errors("appending to the state journal", conn=self._conn):
            self._conn.execute(b._q("INSERT INTO {}.journal (name, record) VALUES (%s, %s)"), (b.name, json.dumps(rec)))
        self._pending += 1

    def _fold(self) -> None:
        self.backend._fold_own_journal()
        self._pending = 0

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        b = self.backend
        if b._journal is self:
            b._journal = None
        if self._conn is None or self._conn.closed:
            return
        try:
            if self._pending == 0:  # nothing unfolded: leave no journal behind
                self._conn.execute(b._q("DELETE FROM {}.journal WHERE name = %s"), (b.name,))
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (b._jkey,))
        except Exception:
            pass  # the session ends below, which releases the advisory lock anyway
        finally:
            self._conn.close()


class PgBackend(Backend):
    def __init__(self, conn_str: str | None = None, schema_name: str = "trainform", name: str = "default",
                 fold_every: int = DEFAULT_FOLD_EVERY, fold_seconds: float | None = None, connect_timeout: int = 5):
        super().__init__()
        conn_str = conn_str or os.environ.get(ENV_CONN_STR)
        if not conn_str:
            raise StateError(f"The pg backend needs conn_str (or the {ENV_CONN_STR} environment variable).")
        if not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_$]{0,62}", schema_name or ""):
            raise StateError(f"Invalid schema_name {schema_name!r} for the pg backend (letters, digits, _).")
        self.conn_str = conn_str
        self.schema = schema_name
        self.name = name
        self.fold_every = fold_every
        self.fold_seconds = fold_seconds
        self.connect_timeout = connect_timeout
        self._params = self._parse(conn_str)
        self._lkey = advisory_key("trainform-lock", schema_name, name)
        self._jkey = advisory_key("trainform-journal", schema_name, name)
        self._conn = None
        self._schema_ready = False
        self._lock_conns: dict[str, object] = {}
        self._journal: PgJournal | None = None

    # --- connections and errors --------------------------------------------
    @staticmethod
    def _parse(conn_str: str) -> dict:
        try:
            from psycopg.conninfo import conninfo_to_dict

            return conninfo_to_dict(conn_str)
        except Exception as e:
            raise StateError(f"Invalid pg conn_str: {redact_conninfo(str(e))}") from None

    def describe(self) -> str:
        p = self._params
        where = f"{p.get('host', 'localhost')}:{p.get('port', 5432)}/{p.get('dbname', '')}"
        return f"pg {where} {self.schema}.states[{self.name!r}]"

    def _redact(self, text: str) -> str:
        return redact_conninfo(text, self._params.get("password"))

    def _explain(self, e: Exception, what: str) -> str:
        msg = str(e).strip()
        p = self._params
        server = f"{p.get('host', 'localhost')}:{p.get('port', 5432)}"
        if "authentication failed" in msg or "no password supplied" in msg:
            head = (f"Authentication failed for user {p.get('user', '?')!r} at the PostgreSQL state backend {server}; "
                    "check the user and password in conn_str / " + ENV_CONN_STR + ".")
        elif "does not exist" in msg and "database" in msg:
            head = f"The database {p.get('dbname', '?')!r} does not exist on the PostgreSQL state backend {server}."
        elif what == "connecting":
            head = f"Cannot reach the PostgreSQL state backend at {server}; is the server running and reachable?"
        elif isinstance(e, _psycopg().OperationalError):
            head = (f"Lost the connection to the PostgreSQL state backend at {server} while {what}; "
                    "the stored state is unchanged unless the operation committed (each write is one transaction).")
        else:
            head = f"PostgreSQL state backend error at {server} while {what}."
        return self._redact(f"{head}\n  {msg}")

    def _connect(self):
        psycopg = _psycopg()
        try:
            conn = psycopg.connect(self.conn_str, autocommit=True, connect_timeout=self.connect_timeout)
        except psycopg.Error as e:
            raise StateError(self._explain(e, "connecting")) from None
        if not self._schema_ready:
            with self._errors("creating the schema", conn=conn):
                self._create_schema(conn)
            self._schema_ready = True
        return conn

    def _main(self):
        if self._conn is None or self._conn.closed:
            self._conn = self._connect()
        return self._conn

    @contextmanager
    def _errors(self, what: str, conn=None):
        psycopg = _psycopg()
        try:
            yield
        except psycopg.Error as e:
            if isinstance(e, (psycopg.OperationalError, psycopg.InterfaceError)):
                if conn is None or conn is self._conn:
                    try:
                        if self._conn is not None:
                            self._conn.close()
                    except Exception:
                        pass
                    self._conn = None
            raise StateError(self._explain(e, what)) from None

    def _q(self, template: str):
        from psycopg import sql

        return sql.SQL(template).format(sql.Identifier(self.schema))

    def _create_schema(self, conn) -> None:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s)", (advisory_key("trainform-schema", self.schema),))
            conn.execute(self._q("CREATE SCHEMA IF NOT EXISTS {}"))
            conn.execute(self._q(
                "CREATE TABLE IF NOT EXISTS {}.states (name text PRIMARY KEY, lineage text NOT NULL, "
                "serial bigint NOT NULL, data jsonb NOT NULL, prev_data jsonb, "
                "updated_at timestamptz NOT NULL DEFAULT now())"))
            conn.execute(self._q(
                "CREATE TABLE IF NOT EXISTS {}.journal (name text NOT NULL, seq bigserial, "
                "record jsonb NOT NULL, PRIMARY KEY (name, seq))"))
            conn.execute(self._q(
                "CREATE TABLE IF NOT EXISTS {}.locks (name text PRIMARY KEY, id text NOT NULL, who text, "
                "host text, pid integer, operation text, since timestamptz, backend_pid integer, info jsonb NOT NULL)"))

    # --- storage -----------------------------------------------------------
    def _restore_hint(self, prev) -> str:
        if prev is None:
            return "No previous version is kept for this state."
        serial = prev.get("serial") if isinstance(prev, dict) else "?"
        return (
            f"The previous version (serial {serial}) is kept in {self.schema}.states.prev_data. To restore it, run:\n"
            f"  UPDATE {self.schema}.states SET data = prev_data, serial = (prev_data->>'serial')::bigint, "
            f"lineage = prev_data->>'lineage' WHERE name = '{self.name}';"
        )

    def _parse_row(self, row) -> State | None:
        if row is None:
            return None
        lineage, serial, data, prev = row
        try:
            st = State.from_json(data)
            if st.lineage != lineage or st.serial != serial:
                raise StateCorruptError(f"row says lineage {lineage} serial {serial}, document says "
                                        f"{st.lineage} serial {st.serial}")
            return st
        except StateCorruptError as e:
            raise StateCorruptError(
                f"State {self.name!r} in {self.describe()} is corrupt: {e}. Nothing was changed.\n"
                + self._restore_hint(prev)
            ) from None

    def _select(self, conn, for_update: bool = False):
        q = "SELECT lineage, serial, data, prev_data FROM {}.states WHERE name = %s" + (" FOR UPDATE" if for_update else "")
        return conn.execute(self._q(q), (self.name,)).fetchone()

    def _put(self, conn, state: State, existed: bool) -> None:
        from engine import __version__

        state.trainform_version = __version__
        doc = json.dumps(state.to_json())
        if existed:
            conn.execute(self._q(
                "UPDATE {}.states SET prev_data = data, data = %s, serial = %s, lineage = %s, updated_at = now() "
                "WHERE name = %s"), (doc, state.serial, state.lineage, self.name))
        else:
            conn.execute(self._q(
                "INSERT INTO {}.states (name, lineage, serial, data) VALUES (%s, %s, %s, %s)"),
                (self.name, state.lineage, state.serial, doc))

    def _journal_rows(self, conn) -> list[dict]:
        rows = conn.execute(self._q("SELECT record FROM {}.journal WHERE name = %s ORDER BY seq"), (self.name,))
        return [r[0] for r in rows.fetchall()]

    def _recover(self, conn, known_dead: bool) -> State | None:
        """Inside a transaction: the stored state with any journal folded (dead) or overlaid (live)."""
        row = self._select(conn, for_update=True)
        stored = self._parse_row(row)
        records = self._journal_rows(conn)
        if not records:
            return stored
        dead = known_dead or conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (self._jkey,)).fetchone()[0]
        action, merged, header = plan_replay(stored, records)
        if not dead:
            return merged  # a running apply: overlay its progress only
        if action == "orphan":
            aside = f"{self.name}.orphaned-{uuid.uuid4().hex[:8]}"
            conn.execute(self._q("UPDATE {}.journal SET name = %s WHERE name = %s"), (aside, self.name))
            self.warnings.append(orphan_warning(header, stored, f"journal rows named {aside!r}"))
            return stored
        if action == "apply":
            merged.serial += 1
            self._put(conn, merged, row is not None)
            self._note_recovered(header, len(records) - 1, merged.serial)
        conn.execute(self._q("DELETE FROM {}.journal WHERE name = %s"), (self.name,))
        return merged

    def read(self) -> State | None:
        conn = self._main()
        with self._errors("reading state"):
            with conn.transaction():
                return self._recover(conn, known_dead=False)

    def read_backup(self) -> State | None:
        conn = self._main()
        with self._errors("reading the state backup"):
            row = conn.execute(self._q("SELECT prev_data FROM {}.states WHERE name = %s"), (self.name,)).fetchone()
        if row is None or row[0] is None:
            return None
        return State.from_json(row[0])

    def write(self, state: State) -> None:
        own = self._journal is not None and not self._journal.closed
        if not own:
            self.read()  # fold a dead journal first, so its changes count in the serial check
        conn = self._main()
        with self._errors("writing state"):
            with conn.transaction():
                row = self._select(conn, for_update=True)
                stored = self._parse_row(row)
                if not own and self._journal_rows(conn):
                    if not conn.execute("SELECT pg_try_advisory_xact_lock(%s)", (self._jkey,)).fetchone()[0]:
                        raise StateConflictError(
                            f"Another process is applying changes to {self.describe()} (its journal is open); "
                            "writing now would lose them.")
                new_serial = check_write(stored, state, self._own_serials)
                old_serial, state.serial = state.serial, new_serial
                try:
                    self._put(conn, state, row is not None)
                    conn.execute(self._q("DELETE FROM {}.journal WHERE name = %s"), (self.name,))
                    if own:
                        conn.execute(self._q("INSERT INTO {}.journal (name, record) VALUES (%s, %s)"),
                                     (self.name, json.dumps(journal_header(state.lineage, new_serial, self.owner))))
                except BaseException:
                    state.serial = old_serial
                    raise
        if own:
            self._journal._pending = 0
            self._journal.lineage = state.lineage

    def _fold_own_journal(self) -> None:
        conn = self._main()
        with self._errors("folding the state journal"):
            with conn.transaction():
                row = self._select(conn, for_update=True)
                stored = self._parse_row(row)
                records = self._journal_rows(conn)
                action, merged, header = plan_replay(stored, records)
                if action == "orphan":
                    raise StateConflictError(
                        f"Cannot fold the journal: {self.describe()} changed underneath this apply. The journal was kept.")
                if action != "apply":
                    return
                merged.serial += 1
                self._put(conn, merged, row is not None)
                conn.execute(self._q("DELETE FROM {}.journal WHERE name = %s"), (self.name,))
                conn.execute(self._q("INSERT INTO {}.journal (name, record) VALUES (%s, %s)"),
                             (self.name, json.dumps(journal_header(merged.lineage, merged.serial, self.owner))))
        self._own_serials.add(merged.serial)
        if self._journal is not None:
            self._journal.lineage = merged.lineage

    def force_write(self, state: State) -> None:
        conn = self._main()
        with self._errors("writing state"):
            with conn.transaction():
                row = self._select(conn, for_update=True)
                self._put(conn, state, row is not None)
                conn.execute(self._q("DELETE FROM {}.journal WHERE name = %s"), (self.name,))

    def journal(self, base: State | None = None) -> PgJournal:
        if self._journal is not None:
            raise StateError("a journal is already open for this state")
        stored = self.read()
        self._check_base(stored, base)
        lineage = stored.lineage if stored else (base.lineage if base else None)
        j = PgJournal(self, self.fold_every, self.fold_seconds)
        j._start(lineage, stored.serial if stored else 0)
        self._journal = j
        return j

    # --- lock --------------------------------------------------------------
    def _lock_row(self, conn) -> LockInfo | None:
        row = conn.execute(self._q("SELECT info FROM {}.locks WHERE name = %s"), (self.name,)).fetchone()
        return LockInfo.from_json(row[0]) if row else None

    def lock(self, operation: str, timeout: float = 0) -> LockInfo:
        deadline = time.monotonic() + max(timeout, 0)
        try:
            conn = self._connect()
        except StateError as e:  # wrong password, server down: a user-facing diagnostic, not a crash
            raise LockError(str(e)) from None
        try:
            with self._errors("acquiring the state lock", conn=conn):
                while not conn.execute("SELECT pg_try_advisory_lock(%s)", (self._lkey,)).fetchone()[0]:
                    if time.monotonic() >= deadline:
                        holder = self._lock_row(conn)
                        reason = f"Timed out after {timeout:g}s waiting for the lock." if timeout > 0 else ""
                        raise lock_error(holder, reason, stale=is_stale(holder))
                    time.sleep(min(0.1, max(0.01, deadline - time.monotonic())))
                info = new_lock_info(operation, f"{self.describe()}")
                previous = self._lock_row(conn)
                if previous is not None:
                    info.took_over = previous
                    self.warnings.append(
                        f"Took over a stale state lock {previous.id} left by {previous.operation!r} "
                        f"({previous.user}@{previous.host}, pid {previous.pid}, since {previous.created}); "
                        "its database session had ended without releasing it.")
                conn.execute(self._q(
                    "INSERT INTO {}.locks (name, id, who, host, pid, operation, since, backend_pid, info) "
                    "VALUES (%s, %s, %s, %s, %s, %s, now(), pg_backend_pid(), %s) "
                    "ON CONFLICT (name) DO UPDATE SET id = excluded.id, who = excluded.who, host = excluded.host, "
                    "pid = excluded.pid, operation = excluded.operation, since = excluded.since, "
                    "backend_pid = excluded.backend_pid, info = excluded.info"),
                    (self.name, info.id, f"{info.user}@{info.host}", info.host, info.pid, operation,
                     json.dumps(info.to_json())))
        except BaseException:
            conn.close()
            raise
        self._lock_conns[info.id] = conn
        return info

    def unlock(self, lock_id: str) -> None:
        conn = self._lock_conns.pop(lock_id, None)
        if conn is None:
            holder = self.lock_info()
            raise StateError(
                f"Cannot unlock: lock {lock_id} is not held by this process"
                + (f" (the current lock is {holder.id}, held by pid {holder.pid} on {holder.host})" if holder else ""))
        try:
            with self._errors("releasing the state lock", conn=conn):
                conn.execute(self._q("DELETE FROM {}.locks WHERE name = %s AND id = %s"), (self.name, lock_id))
                conn.execute("SELECT pg_advisory_unlock(%s)", (self._lkey,))
        finally:
            conn.close()  # ending the session releases the advisory lock in any case

    def force_unlock(self, lock_id: str) -> LockInfo | None:
        if lock_id in self._lock_conns:
            info = self.lock_info()
            self.unlock(lock_id)
            return info
        conn = self._main()
        with self._errors("force-unlocking the state"):
            row = conn.execute(self._q("SELECT info, backend_pid FROM {}.locks WHERE name = %s"), (self.name,)).fetchone()
            if row is None:
                raise StateError(f"Cannot force-unlock {lock_id}: {self.describe()} is not locked.")
            info = LockInfo.from_json(row[0])
            if info.id != lock_id:
                raise StateError(
                    f"Cannot force-unlock {lock_id}: the current lock has ID {info.id} "
                    f"(held for {info.operation!r} by {info.user}@{info.host}, pid {info.pid}).")
            key = self._lkey & 0xFFFFFFFFFFFFFFFF
            holder = conn.execute(
                "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND granted AND pid = %s "
                "AND classid::bigint = %s AND objid::bigint = %s AND objsubid = 1",
                (row[1], key >> 32, key & 0xFFFFFFFF)).fetchone()
            if holder is not None:
                ok = conn.execute("SELECT pg_terminate_backend(%s)", (row[1],)).fetchone()[0]
                if not ok:
                    raise StateError(f"Cannot force-unlock {lock_id}: could not end the holder's database session "
                                     f"(backend pid {row[1]}); ask a database administrator.")
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and conn.execute(
                        "SELECT 1 FROM pg_stat_activity WHERE pid = %s", (row[1],)).fetchone():
                    time.sleep(0.05)
            conn.execute(self._q("DELETE FROM {}.locks WHERE name = %s AND id = %s"), (self.name, lock_id))
        return info

    def lock_info(self) -> LockInfo | None:
        conn = self._main()
        with self._errors("reading the state lock"):
            return self._lock_row(conn)

    def close(self) -> None:
        if self._journal is not None:
            self._journal.close()
        for lock_id in list(self._lock_conns):
            try:
                self.unlock(lock_id)
            except StateError:
                pass
        if self._conn is not None:
            self._conn.close()
            self._conn = None
