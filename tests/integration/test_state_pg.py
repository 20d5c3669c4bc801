"""The PostgreSQL state backend against a throwaway cluster (initdb + pg_ctl).

The cluster runs as a non-root user (``postgres``, created if missing) on a
free loopback port with scram password authentication; tests skip when the
server binaries are absent.
"""

from __future__ import annotations

import json
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import uuid

import pytest

from engine.state import (
    State, StateConflictError, StateError, get_backend, migrate,
)
from engine.state.pg import PgBackend, redact_conninfo
from engine.testing.backend_suite import BackendSuite, inst

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed")

INITDB = shutil.which("initdb") or "/usr/local/bin/initdb"
PG_CTL = shutil.which("pg_ctl") or "/usr/local/bin/pg_ctl"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _service_user() -> str | None:
    """The user the server runs as: ourselves when not root, else postgres (created if missing)."""
    if os.geteuid() != 0:
        return None
    for name in ("postgres", "trainform"):
        try:
            pwd.getpwnam(name)
            return name
        except KeyError:
            continue
    subprocess.run(["useradd", "--system", "--no-create-home", "trainform"], check=True, capture_output=True)
    return "trainform"


class Cluster:
    def __init__(self):
        if not (os.path.exists(INITDB) and os.path.exists(PG_CTL)):
            pytest.skip("PostgreSQL server binaries (initdb, pg_ctl) are not installed")
        self.user = _service_user()
        self.dir = tempfile.mkdtemp(prefix="trainform-pg-")
        self.data = os.path.join(self.dir, "data")
        self.password = "pw-" + secrets.token_hex(8)
        self.port = _free_port()
        pwfile = os.path.join(self.dir, "pwfile")
        with open(pwfile, "w") as f:
            f.write(self.password + "\n")
        if self.user:
            pw = pwd.getpwnam(self.user)
            os.chown(self.dir, pw.pw_uid, pw.pw_gid)
            os.chown(pwfile, pw.pw_uid, pw.pw_gid)
        self._run([INITDB, "-D", self.data, "-U", "trainform", "--pwfile", pwfile, "--auth=scram-sha-256",
                   "-E", "UTF8", "--no-sync"])
        self.start()

    def _run(self, argv, check=True):
        r = subprocess.run(argv, user=self.user, capture_output=True, text=True, cwd=self.dir, timeout=120)
        if check and r.returncode != 0:
            raise RuntimeError(f"{' '.join(argv)} failed: {r.stdout}\n{r.stderr}")
        return r

    def start(self):
        opts = f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run([PG_CTL, "-D", self.data, "-o", opts, "-l", os.path.join(self.dir, "log"), "-w", "start"])

    def stop(self):
        self._run([PG_CTL, "-D", self.data, "-m", "fast", "-w", "stop"], check=False)

    def conn_str(self, password: str | None = None) -> str:
        return (f"host=127.0.0.1 port={self.port} user=trainform dbname=postgres "
                f"password={password or self.password}")

    def destroy(self):
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    yield c
    c.destroy()


@pytest.fixture
def schema():
    return "t_" + uuid.uuid4().hex[:10]


class TestPgBackend(BackendSuite):
    @pytest.fixture
    def backend_settings(self, cluster, schema, tmp_path):
        return {"type": "pg", "conn_str": cluster.conn_str(), "schema_name": schema}, str(tmp_path)

    @pytest.fixture
    def make_backend(self, backend_settings):
        settings, wd = backend_settings
        made = []

        def make(**options):
            b = get_backend({**settings, **options}, wd)
            made.append(b)
            return b

        yield make
        for b in made:
            b.close()

    def corrupt_state(self, backend):
        with psycopg.connect(backend.conn_str, autocommit=True) as c:
            c.execute(f'UPDATE "{backend.schema}".states SET data = %s', (json.dumps({"format_version": 1, "serial": "x"}),))

    def raw_state(self, backend):
        with psycopg.connect(backend.conn_str, autocommit=True) as c:
            return (c.execute(f'SELECT name, lineage, serial, data, prev_data FROM "{backend.schema}".states').fetchall(),
                    c.execute(f'SELECT name, seq, record FROM "{backend.schema}".journal').fetchall())

    def tear_journal_tail(self, backend):
        pytest.skip("each pg journal record is committed in its own transaction: there is no torn record")


def test_schema_created_when_missing(cluster, schema):
    b = PgBackend(cluster.conn_str(), schema_name=schema)
    assert b.read() is None
    with psycopg.connect(cluster.conn_str(), autocommit=True) as c:
        tables = {r[0] for r in c.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", (schema,))}
    assert tables == {"states", "journal", "locks"}
    b.close()


def test_conn_str_from_environment(cluster, schema, monkeypatch, tmp_path):
    monkeypatch.setenv("TRAINFORM_PG_CONN_STR", cluster.conn_str())
    b = get_backend({"type": "pg", "schema_name": schema}, str(tmp_path))
    b.write(State.new())
    assert b.read().serial == 1
    b.close()


def test_missing_conn_str(monkeypatch):
    monkeypatch.delenv("TRAINFORM_PG_CONN_STR", raising=False)
    with pytest.raises(StateError, match="TRAINFORM_PG_CONN_STR"):
        PgBackend(None)


def test_wrong_password_is_clear_and_redacted(cluster, schema):
    bad = "wrong-" + secrets.token_hex(6)
    with pytest.raises(StateError) as e:
        PgBackend(cluster.conn_str(bad), schema_name=schema).read()
    assert "Authentication failed for user 'trainform'" in str(e.value)
    assert bad not in str(e.value) and cluster.password not in str(e.value)


def test_unreachable_server(cluster, schema):
    port = _free_port()
    conn = f"postgresql://trainform:{cluster.password}@127.0.0.1:{port}/postgres"
    with pytest.raises(StateError) as e:
        PgBackend(conn, schema_name=schema, connect_timeout=3).read()
    assert f"Cannot reach the PostgreSQL state backend at 127.0.0.1:{port}" in str(e.value)
    assert cluster.password not in str(e.value)


def test_redact_conninfo():
    assert redact_conninfo("host=h password=s3cr3t user=u") == "host=h password=*** user=u"
    assert redact_conninfo("postgresql://u:s3cr3t@h/db") == "postgresql://u:***@h/db"
    assert "s3cr3t" not in redact_conninfo("failed for s3cr3t", "s3cr3t")


def test_migration_round_trip(cluster, schema, tmp_path):
    local = get_backend(None, str(tmp_path / "a"))
    os.makedirs(tmp_path / "a")
    st = State.new()
    st.set_instance(inst("value.x", attributes={"pw": "s3cr3t", "n": 1}, sensitive_paths=[["pw"]]))
    st.outputs["o"] = {"value": [1, 2], "sensitive": False, "type": ["tuple", ["number", "number"]]}
    local.write(st)
    local.write(st)
    pg = PgBackend(cluster.conn_str(), schema_name=schema)
    migrate(local, pg)
    in_pg = PgBackend(cluster.conn_str(), schema_name=schema).read()
    assert (in_pg.lineage, in_pg.serial) == (st.lineage, 2)
    os.makedirs(tmp_path / "b")
    back = get_backend(None, str(tmp_path / "b"))
    migrate(pg, back)
    got = get_backend(None, str(tmp_path / "b")).read()
    assert got.to_json() == local.read().to_json()
    # a different lineage in the destination is refused unless forced
    other = get_backend(None, str(tmp_path / "c"))
    os.makedirs(tmp_path / "c")
    other.write(State.new())
    with pytest.raises(StateConflictError, match="different state"):
        migrate(pg, other)
    migrate(pg, other, force=True)
    assert get_backend(None, str(tmp_path / "c")).read().lineage == st.lineage
    pg.close()


def test_server_stopped_mid_use(schema):
    c = Cluster()
    try:
        b = PgBackend(c.conn_str(), schema_name=schema, connect_timeout=3)
        st = State.new()
        st.set_instance(inst("value.kept"))
        b.write(st)
        j = b.journal(st)
        j.record_instance(inst("value.journaled"))
        c.stop()
        with pytest.raises(StateError) as e:
            j.record_instance(inst("value.lost"))
        assert "PostgreSQL state backend" in str(e.value) and c.password not in str(e.value)
        with pytest.raises(StateError) as e:
            b.read()
        assert f"127.0.0.1:{c.port}" in str(e.value) and c.password not in str(e.value)
        c.start()
        fresh = PgBackend(c.conn_str(), schema_name=schema)
        got = fresh.read()
        assert sorted(got.resources) == ["value.journaled", "value.kept"]
        assert got.lineage == st.lineage and got.serial == 2
        assert b.read().serial == 2  # the old backend object reconnects
        fresh.close()
        b.close()
    finally:
        c.destroy()


def test_journal_waits_for_dying_writer_and_keeps_its_records(cluster, schema):
    """A writer's session that ends while a new journal starts: its records are folded, not dropped."""
    import threading

    from engine.state.backend import journal_header

    b = PgBackend(cluster.conn_str(), schema_name=schema)
    st = State.new()
    b.write(st)
    writer = psycopg.connect(cluster.conn_str(), autocommit=True)
    writer.execute("SELECT pg_advisory_lock(%s)", (b._jkey,))
    for rec in (journal_header(st.lineage, 1, "other"),
                {"op": "instance", "instance": inst("value.theirs").to_json()}):
        writer.execute(f'INSERT INTO "{schema}".journal (name, record) VALUES (%s, %s)', ("default", json.dumps(rec)))
    assert "value.theirs" in PgBackend(cluster.conn_str(), schema_name=schema).read().resources  # overlay
    t = threading.Timer(0.5, writer.close)
    t.start()
    j = b.journal()
    t.join()
    j.record_instance(inst("value.mine"))
    j.close()
    got = PgBackend(cluster.conn_str(), schema_name=schema).read()
    assert sorted(got.resources) == ["value.mine", "value.theirs"]
    b.close()
