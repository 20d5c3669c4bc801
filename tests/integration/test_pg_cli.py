"""The pg backend through the real CLI: init, apply, migration both ways, locking across processes."""

import json
import os
import uuid

import pytest

pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install 'trainform[pg]')")

from engine.testing.harness import Workdir  # noqa: E402
from tests.pgcluster import Cluster  # noqa: E402


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    yield c
    c.destroy()


def pg_block(schema: str) -> str:
    return f'trainform {{\n  backend "pg" {{\n    schema_name = "{schema}"\n  }}\n}}\n'


def test_apply_on_pg_and_migrate_both_ways(cluster, tmp_path):
    schema = "cli_" + uuid.uuid4().hex[:8]
    env = {"TRAINFORM_PG_CONN_STR": cluster.conn_str()}
    wd = Workdir(tmp_path / "w", env=env)
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    wd.apply()
    local = wd.state()
    # switch to pg: init refuses without -migrate-state, then migrates keeping lineage and serial
    wd.write("backend.hcl", pg_block(schema))
    r = wd.run("init", "-no-color")
    assert r.code == 1 and "-migrate-state" in r.err
    r = wd.run("init", "-migrate-state", "-no-color")
    assert r.code == 0, r.text
    pulled = json.loads(wd.run("state", "pull", check=True).out)
    assert pulled["lineage"] == local["lineage"] and pulled["serial"] == local["serial"]
    assert cluster.password not in r.text
    # apply against pg
    wd.write("main.hcl", 'value "a" {\n  input = 2\n}\nvalue "b" {\n  input = 3\n}\n')
    r = wd.apply()
    assert "1 added, 1 changed" in r.out
    assert wd.plan("-detailed-exitcode").code == 0
    pulled = json.loads(wd.run("state", "pull", check=True).out)
    assert [x["address"] for x in pulled["resources"]] == ["value.a", "value.b"]
    # and back to local
    os.remove(os.path.join(wd.path, "backend.hcl"))
    os.remove(os.path.join(wd.path, "trainform.tfstate"))
    r = wd.run("init", "-migrate-state", "-no-color")
    assert r.code == 0, r.text
    back = wd.state()
    assert back["lineage"] == local["lineage"] and back["serial"] == pulled["serial"]
    assert wd.plan("-detailed-exitcode").code == 0


def test_migration_refuses_other_lineage_without_force_copy(cluster, tmp_path):
    schema = "cli_" + uuid.uuid4().hex[:8]
    env = {"TRAINFORM_PG_CONN_STR": cluster.conn_str()}
    a = Workdir(tmp_path / "a", env=env)
    a.write("main.hcl", 'value "a" {\n  input = 1\n}\n' + pg_block(schema))
    a.run("init", "-no-color", check=True)
    a.apply()
    b = Workdir(tmp_path / "b", env=env)
    b.write("main.hcl", 'value "x" {\n  input = 1\n}\n')
    b.apply()
    b.write("backend.hcl", pg_block(schema))
    r = b.run("init", "-migrate-state", "-no-color")
    assert r.code == 1 and "lineage" in r.err
    r = b.run("init", "-migrate-state", "-force-copy", "-no-color")
    assert r.code == 0, r.text
    assert json.loads(b.run("state", "pull", check=True).out)["resources"][0]["address"] == "value.x"
