"""The pg backend keeps no password on disk; a wrong password is a diagnostic (issue 11, item 5)."""

from __future__ import annotations

import base64
import json
import os
import urllib.parse
from pathlib import Path

import pytest

pytest.importorskip("psycopg", reason="psycopg 3 is not installed (pip install 'trainform[pg]')")

from engine.testing.harness import Workdir
from tests.pgcluster import Cluster

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


@pytest.fixture(scope="module")
def cluster():
    c = Cluster()
    yield c
    c.destroy()


def _forms(c) -> dict[str, str]:
    return {
        "key=value": c.conn_str(),
        "uri userinfo": f"postgresql://trainform:{urllib.parse.quote(c.password)}@127.0.0.1:{c.port}/postgres",
        "uri ?password=": f"postgresql://127.0.0.1:{c.port}/postgres?user=trainform&password={c.password}",
    }


def _config(conn_str: str) -> str:
    return f'trainform {{\n  backend "pg" {{\n    conn_str = "{conn_str}"\n  }}\n}}\nvalue "a" {{\n  input = 1\n}}\n'


def _no_password(text: str, pw: str) -> None:
    for form in (pw, base64.b64encode(pw.encode()).decode(), urllib.parse.quote(pw)):
        assert form not in text


@pytest.mark.parametrize("form", ["key=value", "uri userinfo", "uri ?password="])
def test_backend_json_never_holds_the_password(cluster, tmp_path, form):
    wd = Workdir(tmp_path / "w", env={"NO_COLOR": "1", "PYTHONPATH": REPO})
    wd.write("main.hcl", _config(_forms(cluster)[form]))
    r = wd.run("init", "-no-color")
    assert r.code == 0, r.text
    saved = Path(wd.path, ".trainform", "backend.json").read_text()
    _no_password(saved, cluster.password)
    assert json.loads(saved)["conn_str"]  # host/port/user/dbname are kept
    assert f"port={cluster.port}" in json.loads(saved)["conn_str"]
    # init again: the same backend (the password is not part of its identity), no migration prompt
    r = wd.run("init", "-no-color")
    assert r.code == 0, r.text
    wd.apply()
    for p in Path(wd.path, ".trainform").rglob("*"):
        if p.is_file() and "cache" not in p.parts:  # main.hcl holds it as the user wrote it, so does its parse cache
            _no_password(p.read_text(errors="replace"), cluster.password)


def test_wrong_password_during_plan_is_a_diagnostic(cluster, tmp_path):
    wd = Workdir(tmp_path / "w", env={"NO_COLOR": "1", "PYTHONPATH": REPO})
    wd.write("main.hcl", _config(cluster.conn_str()))
    wd.run("init", "-no-color", check=True)
    wrong = "wrong-pw-" + cluster.password[-6:]
    wd.write("main.hcl", _config(cluster.conn_str(wrong)))
    for args in (["plan", "-no-color"], ["plan", "-no-color", "-lock=false"], ["apply", "-auto-approve", "-no-color"]):
        r = wd.run(*args)
        assert r.code == 1, r.text
        assert "crashed" not in r.text and not os.path.exists(os.path.join(wd.path, "crash.log"))
        assert "Authentication failed for user 'trainform'" in r.err and "check the user and password" in r.err
        assert wrong not in r.text and cluster.password not in r.text


def test_settings_to_save_parses_with_libpq_rules():
    from engine.state.pg import settings_to_save

    quoted = "host=db port=5432 password='a b\\'c' user=u"
    from psycopg.conninfo import conninfo_to_dict

    saved = settings_to_save({"type": "pg", "conn_str": quoted})
    assert conninfo_to_dict(saved["conn_str"]) == {"host": "db", "port": "5432", "user": "u"}
    uri = settings_to_save({"type": "pg", "conn_str": "postgres://u:s%40cret@db/x?sslpassword=k3y&sslmode=require"})
    assert "cret" not in uri["conn_str"] and "k3y" not in uri["conn_str"] and "sslmode=require" in uri["conn_str"]
    assert settings_to_save({"type": "pg", "conn_str": "host='unterminated"}) == {"type": "pg"}
    assert settings_to_save({"type": "local", "path": "x"}) == {"type": "local", "path": "x"}
