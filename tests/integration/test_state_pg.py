"""The PostgreSQL state backend against a throwaway cluster (initdb + pg_ctl).

The cluster runs as a non-root user (``postgres``, created if missing) on a
free loopback port with scram password authentication; tests skip when the
server binaries are absent.
"""

from __future__ import annotations

import json
import os
import secrets
import uuid

import pytest

from engine.state import (
    State, StateConflictError, StateError, get_backend, migrate,
)
from engine.state.pg import PgBackend, redact_conninfo
from engine.testing.backend_suite import BackendSuite, inst

psycopg = pytest.importorskip("psycopg", reason="psycopg 3 is not installed")

from tests.pgcluster import Cluster, _free_port  # noqa: E402


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
