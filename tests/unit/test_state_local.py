"""The shared backend suite on the local file backend, plus file-specific checks."""

from __future__ import annotations

import json
import os
import signal

import pytest

from engine.state import LockError, State, StateError, get_backend
from engine.state.local import LocalBackend
from engine.testing.backend_suite import CHILD_PRELUDE, BackendSuite, inst, run_child


class TestLocalBackend(BackendSuite):
    @pytest.fixture
    def backend_settings(self, tmp_path):
        return {"type": "local", "path": "trainform.tfstate"}, str(tmp_path)

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
        with open(backend.path, "r+b") as f:
            size = len(f.read())
            f.truncate(size // 2)

    def raw_state(self, backend):
        files = {}
        for name in sorted(os.listdir(os.path.dirname(backend.path))):
            with open(os.path.join(os.path.dirname(backend.path), name), "rb") as f:
                files[name] = f.read()
        return files

    def tear_journal_tail(self, backend):
        with open(backend.journal_path, "ab") as f:
            f.write(b'{"op":"instance","instance":{"address":"value.tor')


def test_default_backend_is_local_file(tmp_path):
    b = get_backend(None, str(tmp_path))
    assert isinstance(b, LocalBackend) and b.path == str(tmp_path / "trainform.tfstate")
    st = State.new()
    b.write(st)
    assert json.loads((tmp_path / "trainform.tfstate").read_text())["serial"] == 1


def test_unknown_backend_type(tmp_path):
    with pytest.raises(StateError, match="Unknown backend type 's3'"):
        get_backend({"type": "s3"}, str(tmp_path))


def test_unknown_backend_argument(tmp_path):
    with pytest.raises(StateError, match="Unsupported argument.*'bucket'.*accepts fold_every, fold_seconds, path"):
        get_backend({"type": "local", "bucket": "x"}, str(tmp_path))


def test_corrupt_message_names_backup_and_restore_command(tmp_path):
    b = get_backend(None, str(tmp_path))
    st = State.new()
    b.write(st)
    b.write(st)
    path = tmp_path / "trainform.tfstate"
    path.write_text('{"format_version": 1, "serial": ')
    with pytest.raises(StateError) as e:
        get_backend(None, str(tmp_path)).read()
    msg = str(e.value)
    assert f"cp {path}.backup {path}" in msg and "serial 1" in msg
    assert path.read_text() == '{"format_version": 1, "serial": '


def test_empty_state_file_is_corrupt_not_missing(tmp_path):
    (tmp_path / "trainform.tfstate").write_bytes(b"")
    with pytest.raises(StateError, match="is empty"):
        get_backend(None, str(tmp_path)).read()


def test_journal_corrupt_in_the_middle_is_refused(tmp_path):
    b = get_backend(None, str(tmp_path))
    st = State.new()
    b.write(st)
    j = b.journal(st)
    j.record_instance(inst("value.a"))
    j.close()
    jp = tmp_path / "trainform.tfstate.journal"
    jp.write_bytes(jp.read_bytes() + b"garbage\n" + b'{"op":"remove","address":"value.a"}\n')
    before = jp.read_bytes()
    with pytest.raises(StateError, match="line 3"):
        get_backend(None, str(tmp_path)).read()
    assert jp.read_bytes() == before


def test_already_folded_journal_is_dropped_not_replayed(tmp_path):
    """Crash after the state write but before the journal reset: serial tells them apart."""
    b = get_backend(None, str(tmp_path))
    st = State.new()
    b.write(st)
    j = b.journal(st)
    j.record_instance(inst("value.a"))
    saved = (tmp_path / "trainform.tfstate.journal").read_bytes()
    st.set_instance(inst("value.b"))
    b.write(st)
    j.close()
    (tmp_path / "trainform.tfstate.journal").write_bytes(saved)  # journal of serial 1 survived
    got = get_backend(None, str(tmp_path)).read()
    assert sorted(got.resources) == ["value.b"] and got.serial == 2
    assert not (tmp_path / "trainform.tfstate.journal").exists()


def test_no_temp_files_left(tmp_path):
    b = get_backend(None, str(tmp_path))
    st = State.new()
    for _ in range(3):
        b.write(st)
    j = b.journal(st)
    j.record_instance(inst("value.a"))
    b.write(st)
    j.close()
    assert sorted(os.listdir(tmp_path)) == ["trainform.tfstate", "trainform.tfstate.backup"]


ORPHAN_HOLDER = CHILD_PRELUDE + """
info = b.lock("apply")
pid = os.fork()
if pid == 0:              # the child inherits the flocked descriptor and outlives its parent
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 1)
    os.dup2(null, 2)
    time.sleep(120)
    os._exit(0)
print(json.dumps({"id": info.id, "pid": os.getpid(), "orphan": pid}), flush=True)
os._exit(0)
"""


def test_lock_held_by_dead_pid_is_reported_stale(tmp_path):
    settings, wd = {"type": "local"}, str(tmp_path)
    proc = run_child(ORPHAN_HOLDER, json.dumps(settings), wd)
    out, err = proc.communicate(timeout=30)
    held = json.loads(out.splitlines()[0])
    try:
        b = get_backend(settings, wd)
        with pytest.raises(LockError) as e:
            b.lock("plan")
        assert e.value.stale
        assert f"trainform force-unlock {held['id']}" in str(e.value)
        assert "no longer running" in str(e.value)
        b.force_unlock(held["id"])
        info = b.lock("plan")
        assert info.took_over is None
        b.unlock(info.id)
    finally:
        os.kill(held["orphan"], signal.SIGKILL)


def test_unlock_with_wrong_id_is_refused(tmp_path):
    b = get_backend(None, str(tmp_path))
    info = b.lock("apply")
    with pytest.raises(StateError, match="not held by this process"):
        b.unlock("other")
    assert b.lock_info().id == info.id
    b.unlock(info.id)
    assert b.lock_info() is None


def test_fold_by_time(tmp_path):
    b = LocalBackend(str(tmp_path / "trainform.tfstate"), fold_seconds=0)
    st = State.new()
    b.write(st)
    j = b.journal(st)
    j.record_instance(inst("value.a"))
    on_disk = json.loads((tmp_path / "trainform.tfstate").read_text())
    assert on_disk["serial"] == 2 and [r["address"] for r in on_disk["resources"]] == ["value.a"]
    j.close()


def test_journal_of_another_lineage_is_kept_aside(tmp_path):
    b = get_backend(None, str(tmp_path))
    st = State.new()
    b.write(st)
    j = b.journal(st)
    j.record_instance(inst("value.a"))
    j.close()
    saved = (tmp_path / "trainform.tfstate.journal").read_bytes()
    (tmp_path / "trainform.tfstate.journal").unlink()
    (tmp_path / "trainform.tfstate").unlink()
    get_backend(None, str(tmp_path)).write(State.new())  # a different state now lives here
    (tmp_path / "trainform.tfstate.journal").write_bytes(saved)
    b2 = get_backend(None, str(tmp_path))
    got = b2.read()
    assert got.resources == {}
    aside = [p for p in os.listdir(tmp_path) if ".journal.orphaned-" in p]
    assert len(aside) == 1 and (tmp_path / aside[0]).read_bytes() == saved
    assert any("does not belong" in w for w in b2.warnings)


def test_inline_records_are_synced_with_the_next_durable_record_or_the_close(tmp_path, monkeypatch):
    """An inline provider's record is written at once but not synced by itself; the
    next durable record (a real object's), a fold or the close syncs it with the rest."""
    import engine.state.local as local

    syncs = []
    real = os.fdatasync
    monkeypatch.setattr(local.os, "fdatasync", lambda fd: (syncs.append(fd), real(fd)))
    b = get_backend(None, str(tmp_path))
    st = State.new()
    b.write(st)
    j = b.journal(st)
    for i in range(3):
        j.record_instance(inst(f"value.v{i}"), durable=False)
    assert syncs == []
    text = (tmp_path / "trainform.tfstate.journal").read_text()
    assert all(f"value.v{i}" in text for i in range(3))  # written already: a killed process keeps them
    j.record_instance(inst("value.real"))
    assert len(syncs) == 1
    j.record_instance(inst("value.v3"), durable=False)
    j.close()
    assert len(syncs) == 2
    assert sorted(get_backend(None, str(tmp_path)).read().resources) == ["value.real"] + [f"value.v{i}" for i in range(4)]


def test_folds_do_not_read_back_what_they_wrote(tmp_path, monkeypatch):
    """A fold writes the state it holds in memory; it reads the file only when someone
    else replaced it, and then refuses to fold over their change."""
    b = LocalBackend(str(tmp_path / "trainform.tfstate"), fold_every=2)
    st = State.new()
    b.write(st)
    j = b.journal(st)
    loads = []
    real = b._load
    monkeypatch.setattr(b, "_load", lambda: (loads.append(1), real())[1])
    for i in range(6):
        j.record_instance(inst(f"value.r{i}"))
    on_disk = json.loads((tmp_path / "trainform.tfstate").read_text())
    assert on_disk["serial"] == 4 and len(on_disk["resources"]) == 6
    assert loads == []
    other = State.new()
    other.lineage = st.lineage
    other.serial = 9
    LocalBackend(str(tmp_path / "trainform.tfstate")).force_write(other)  # e.g. someone ran with -lock=false
    j.record_instance(inst("value.r6"))
    with pytest.raises(StateError, match="changed underneath this apply"):
        j.record_instance(inst("value.r7"))
    assert loads == [1]
    j.close()


def test_backup_is_written_where_hard_links_are_refused(tmp_path, monkeypatch):
    import engine.state.local as local

    b = get_backend(None, str(tmp_path))
    st = State.new()
    b.write(st)
    first = (tmp_path / "trainform.tfstate").read_bytes()

    def no_links(src, dst):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(local.os, "link", no_links)
    b.write(st)
    assert (tmp_path / "trainform.tfstate.backup").read_bytes() == first
    assert json.loads((tmp_path / "trainform.tfstate").read_text())["serial"] == 2
    assert sorted(os.listdir(tmp_path)) == ["trainform.tfstate", "trainform.tfstate.backup"]
