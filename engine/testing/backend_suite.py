"""Provider-independent test suite for state backends (local, pg, ...).

Subclass :class:`BackendSuite` in a test module and provide two fixtures:

* ``make_backend`` -- a factory ``make_backend(**options) -> Backend``; every
  call returns a *new* backend object on the same storage (as a second
  command would), ``options`` such as ``fold_every`` pass through;
* ``backend_settings`` -- ``(settings, working_dir)`` such that
  ``engine.state.get_backend(settings, working_dir)`` in a subprocess reaches
  the same storage.

Optionally override :meth:`BackendSuite.corrupt_state` / ``raw_state`` (for
the corruption test) and :meth:`BackendSuite.tear_journal_tail` (for the
torn-record test); the defaults skip.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time

import pytest

from engine.state import (
    LockError, ResourceInstance, State, StateConflictError, StateCorruptError, StateError,
)
from engine.state.secrets import is_digest, matches

__all__ = ["BackendSuite", "run_child", "inst"]

_REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

CHILD_PRELUDE = """
import json, sys, time, os
from engine.state import get_backend, State, ResourceInstance
settings, wd = json.loads(sys.argv[1]), sys.argv[2]
b = get_backend(settings, wd)
"""

JOURNAL_CHILD = CHILD_PRELUDE + """
prefix = sys.argv[3]
st = b.read()
if st is None:
    st = State.new()
    b.write(st)
j = b.journal(st)
print("ready", flush=True)
i = 0
while True:
    addr = f"value.{prefix}_{i}"
    if i % 11 == 5:
        j.record_outputs({"last": {"value": i, "sensitive": False, "type": "number"}})
    # every other record as an inline provider's (not synced at once): a killed process keeps both kinds
    j.record_instance(ResourceInstance(address=addr, type="value", name=f"{prefix}_{i}", attributes={"i": i}), durable=i % 2 == 0)
    print(addr, flush=True)
    i += 1
"""

LOCK_CHILD = CHILD_PRELUDE + """
info = b.lock(sys.argv[3])
print(json.dumps({"id": info.id, "pid": os.getpid()}), flush=True)
time.sleep(120)
"""


def run_child(script: str, *args: str) -> subprocess.Popen:
    env = dict(os.environ)
    env["PYTHONPATH"] = _REPO + os.pathsep + env.get("PYTHONPATH", "")
    return subprocess.Popen(
        [sys.executable, "-c", script, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        env=env, cwd=_REPO, text=True,
    )


def _first_line(proc: subprocess.Popen) -> str:
    line = proc.stdout.readline()
    if not line:
        proc.wait(timeout=30)
        raise AssertionError(f"child exited early (rc={proc.returncode}): {proc.stderr.read()}")
    return line.strip()


def inst(address: str, **kw) -> ResourceInstance:
    type_, name = address.split(".")[-2:]
    return ResourceInstance(address=address, type=type_, name=name.split("[")[0], **kw)


class BackendSuite:
    kill_trials = 20

    @pytest.fixture
    def backend(self, make_backend):
        b = make_backend()
        yield b
        b.close()

    # --- hooks ---------------------------------------------------------------
    def corrupt_state(self, backend):
        pytest.skip("this backend cannot be corrupted by the suite")

    def raw_state(self, backend):
        pytest.skip("this backend cannot show its raw state")

    def tear_journal_tail(self, backend):
        pytest.skip("this backend cannot hold a torn journal record")

    # --- read / write --------------------------------------------------------
    def test_read_empty_is_none(self, backend):
        assert backend.read() is None
        assert backend.read_backup() is None

    def test_round_trip(self, backend, make_backend):
        st = State.new()
        st.set_instance(inst("value.b", attributes={"input": {"a": [1, 2.5, None]}}, dependencies=["value.a"]))
        st.set_instance(inst("module.m.value.a[\"k\"]", module="module.m", index_key="k",
                             attributes={"pw": "hunter2", "n": 1}, sensitive_paths=[["pw"]],
                             private={"p": 1}, status="tainted", schema_version=2, create_before_destroy=True))
        st.outputs = {"o": {"value": [1, "x"], "sensitive": False, "type": ["tuple", ["number", "string"]]},
                      "s": {"value": "topsecret", "sensitive": True, "type": "string"}}
        backend.write(st)
        got = make_backend().read()
        assert got.lineage == st.lineage and got.serial == 1
        assert list(got.resources) == ['module.m.value.a["k"]', "value.b"]
        a = got.resources['module.m.value.a["k"]']
        assert a.index_key == "k" and a.status == "tainted" and a.private == {"p": 1}
        assert a.schema_version == 2 and a.create_before_destroy and a.attributes["n"] == 1
        assert is_digest(a.attributes["pw"]) and matches(a.attributes["pw"], "hunter2")
        assert got.resources["value.b"].attributes == {"input": {"a": [1, 2.5, None]}}
        assert got.outputs["o"]["value"] == [1, "x"]
        assert matches(got.outputs["s"]["value"], "topsecret")
        assert "hunter2" not in json.dumps(got.to_json()) and "topsecret" not in json.dumps(got.to_json())

    def test_serial_increments(self, backend, make_backend):
        st = State.new()
        for expected in (1, 2, 3):
            backend.write(st)
            assert st.serial == expected
            assert make_backend().read().serial == expected

    def test_other_lineage_refused(self, backend, make_backend):
        backend.write(State.new())
        other = State.new()
        with pytest.raises(StateConflictError, match="lineage"):
            make_backend().write(other)
        assert make_backend().read().serial == 1

    def test_stale_serial_refused(self, backend, make_backend):
        backend.write(State.new())
        b1, b2 = make_backend(), make_backend()
        s1, s2 = b1.read(), b2.read()
        s1.set_instance(inst("value.one"))
        b1.write(s1)
        s2.set_instance(inst("value.two"))
        with pytest.raises(StateConflictError, match="serial 1 .* serial 2"):
            b2.write(s2)
        assert list(make_backend().read().resources) == ["value.one"]

    def test_backup_keeps_previous_serial(self, backend, make_backend):
        st = State.new()
        st.set_instance(inst("value.first"))
        backend.write(st)
        st.set_instance(inst("value.second"))
        backend.write(st)
        bak = make_backend().read_backup()
        assert bak.serial == 1 and list(bak.resources) == ["value.first"]

    def test_corrupt_state_raises_and_is_untouched(self, backend, make_backend):
        st = State.new()
        st.set_instance(inst("value.x"))
        backend.write(st)
        backend.write(st)
        self.corrupt_state(backend)
        before = self.raw_state(backend)
        b = make_backend()
        with pytest.raises(StateCorruptError) as e:
            b.read()
        assert "corrupt" in str(e.value) and "serial 1" in str(e.value)
        with pytest.raises(StateCorruptError):
            b.write(st)
        with pytest.raises(StateCorruptError):
            b.journal()
        assert self.raw_state(backend) == before

    # --- journal -------------------------------------------------------------
    def test_journal_replay_after_crash(self, backend, make_backend):
        st = State.new()
        st.set_instance(inst("value.old"))
        st.set_instance(inst("value.gone"))
        backend.write(st)
        j = backend.journal(st)
        j.record_instance(inst("value.new", attributes={"pw": "s3cret"}, sensitive_paths=[["pw"]]))
        j.record_removal("value.gone")
        j.record_outputs({"o": {"value": "v", "sensitive": False, "type": "string"}})
        # the process "dies": no write(), no close(); a new command reads
        j.close()
        other = make_backend()
        got = other.read()
        assert sorted(got.resources) == ["value.new", "value.old"]
        assert got.outputs["o"]["value"] == "v"
        assert matches(got.resources["value.new"].attributes["pw"], "s3cret")
        assert got.serial == 2
        # folded into storage: reading again neither re-applies nor bumps the serial
        again = make_backend().read()
        assert again.serial == 2 and sorted(again.resources) == ["value.new", "value.old"]

    def test_journal_torn_last_record(self, backend, make_backend):
        st = State.new()
        backend.write(st)
        j = backend.journal(st)
        j.record_instance(inst("value.a"))
        j.record_instance(inst("value.b"))
        j.close()
        self.tear_journal_tail(backend)
        got = make_backend().read()
        assert sorted(got.resources) == ["value.a", "value.b"]

    def test_write_folds_journal(self, backend, make_backend):
        st = State.new()
        backend.write(st)
        j = backend.journal(st)
        j.record_instance(inst("value.temp"))
        st.set_instance(inst("value.final"))  # the engine's final state supersedes the journal
        backend.write(st)
        j.record_instance(inst("value.after"))  # journaling continues after a write
        j.close()
        got = make_backend().read()
        assert sorted(got.resources) == ["value.after", "value.final"]

    def test_periodic_fold_then_final_write(self, make_backend):
        b = make_backend(fold_every=3)
        st = State.new()
        b.write(st)
        j = b.journal(st)
        for i in range(7):
            j.record_instance(inst(f"value.r{i}"))
        assert len(make_backend().read().resources) == 7
        for i in range(7):
            st.set_instance(inst(f"value.r{i}"))
        b.write(st)  # accepted although our own folds advanced the stored serial
        j.close()
        got = make_backend().read()
        assert len(got.resources) == 7 and got.serial == st.serial

    def test_first_apply_journal_without_state(self, make_backend):
        b = make_backend(fold_every=2)
        j = b.journal(None)  # no state yet and no base: the lineage is not known
        for i in range(5):
            j.record_instance(inst(f"value.r{i}"))
        assert make_backend().read().serial == 0  # overlay only; nothing folded under a made-up lineage
        st = State.new()
        for i in range(5):
            st.set_instance(inst(f"value.r{i}"))
        b.write(st)
        j.close()
        got = make_backend().read()
        assert got.lineage == st.lineage and len(got.resources) == 5 and got.serial == 1

    def test_first_apply_crash_is_recovered(self, make_backend):
        b = make_backend()
        j = b.journal(State.new())
        j.record_instance(inst("value.made"))
        j.close()  # no write: the process died
        got = make_backend().read()
        assert list(got.resources) == ["value.made"] and got.serial == 1

    def test_live_journal_is_overlaid_not_folded(self, backend, make_backend):
        st = State.new()
        backend.write(st)
        j = backend.journal(st)
        j.record_instance(inst("value.inflight"))
        reader = make_backend()
        seen = reader.read()
        assert "value.inflight" in seen.resources and seen.serial == 1
        with pytest.raises(StateConflictError, match="[Aa]nother process"):
            reader.write(seen)
        st.set_instance(inst("value.inflight"))
        backend.write(st)
        j.close()
        assert make_backend().read().serial == 2

    def test_kill9_mid_journal_loses_nothing(self, backend_settings, make_backend):
        settings, wd = backend_settings
        child_settings = json.dumps({**settings, "fold_every": 7})
        rng = random.Random(1234)
        expected: set[str] = set()
        for trial in range(self.kill_trials):
            proc = run_child(JOURNAL_CHILD, child_settings, wd, f"t{trial}")
            try:
                assert _first_line(proc) == "ready"
                time.sleep(rng.uniform(0.0, 0.25))
            finally:
                proc.send_signal(signal.SIGKILL)
                out, _ = proc.communicate(timeout=30)
            expected |= {line for line in out.split("\n")[:-1] if line.startswith("value.")}
            got = make_backend().read()
            missing = expected - set(got.resources)
            assert not missing, f"trial {trial}: lost {sorted(missing)[:5]}"
        assert expected

    # --- lock ----------------------------------------------------------------
    def test_lock_held_names_holder(self, backend, make_backend):
        info = backend.lock("apply")
        try:
            with pytest.raises(LockError) as e:
                make_backend().lock("plan")
            msg = str(e.value)
            for part in (info.id, str(info.pid), info.host, info.user, "apply", info.created):
                assert part in msg
            assert "Lock Info:" in msg
            assert e.value.block.startswith("Error acquiring the state lock") and msg in e.value.block
            assert e.value.info.id == info.id and not e.value.stale
        finally:
            backend.unlock(info.id)
        second = make_backend()
        i2 = second.lock("plan")
        assert i2.took_over is None
        second.unlock(i2.id)

    def test_lock_timeout_waits_then_fails(self, backend, make_backend):
        info = backend.lock("apply")
        try:
            with pytest.raises(LockError, match="Timed out after 0.3s"):
                make_backend().lock("plan", timeout=0.3)
        finally:
            backend.unlock(info.id)

    def test_lock_timeout_succeeds_when_released(self, backend, make_backend):
        info = backend.lock("apply")
        released = threading.Event()

        def release():
            time.sleep(0.3)
            backend.unlock(info.id)
            released.set()

        t = threading.Thread(target=release)
        t.start()
        waiter = make_backend()
        got = waiter.lock("plan", timeout=30)
        t.join()
        assert released.is_set()
        waiter.unlock(got.id)

    def test_force_unlock(self, backend, make_backend):
        info = backend.lock("apply")
        other = make_backend()
        with pytest.raises(StateError, match=info.id):
            other.force_unlock("not-the-id")
        holder = other.force_unlock(info.id)
        assert holder.id == info.id
        got = other.lock("plan")
        assert got.id != info.id
        other.unlock(got.id)

    def test_second_process_lock_fails_naming_first(self, backend_settings, make_backend):
        settings, wd = backend_settings
        proc = run_child(LOCK_CHILD, json.dumps(settings), wd, "apply")
        try:
            held = json.loads(_first_line(proc))
            with pytest.raises(LockError) as e:
                make_backend().lock("plan")
            assert e.value.info.id == held["id"] and e.value.info.pid == held["pid"]
            assert str(held["pid"]) in str(e.value) and "apply" in str(e.value)
        finally:
            proc.kill()
            proc.communicate(timeout=30)

    def test_dead_holder_lock_is_taken_over(self, backend_settings, make_backend):
        settings, wd = backend_settings
        proc = run_child(LOCK_CHILD, json.dumps(settings), wd, "apply")
        held = json.loads(_first_line(proc))
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=30)
        b = make_backend()
        info = b.lock("plan", timeout=10)
        try:
            assert info.took_over is not None and info.took_over.id == held["id"]
            assert any("stale" in w and held["id"] in w for w in b.warnings)
        finally:
            b.unlock(info.id)
