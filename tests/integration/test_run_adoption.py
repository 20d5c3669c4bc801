"""Runs outlive the trainform process that started them (issue 12, items 1-3).

Real executions in both modes: host processes and containers on the real
Docker Engine (busybox image).  A run waits for a ``go`` file in its run
directory, so each test decides when it finishes; nothing depends on timing.

* ``kill -9`` of ``apply`` mid-run: the next plan shows that apply will wait
  for the *same* execution, plan changes nothing, apply adopts it (follows it
  to its end), records it once and starts nothing new; or, when it finished
  meanwhile, ``refresh`` collects it with its real end time.
* SIGHUP (closed terminal) and SIGTERM act like one Ctrl-C: the run finishes
  and is recorded, and the next plan is empty.
* One Ctrl-C: running work finishes, results and outputs are saved, the next
  plan is empty; work not started makes the exit status say "interrupted".
* ``wait = false``: plan neither removes nor records anything; refresh
  collects success, metrics and the real end time.
* An execution whose inputs changed while no trainform watched it is stopped
  and removed, never left behind.
"""

from __future__ import annotations

import contextlib
import glob
import json
import os
import signal
import subprocess
import sys
import threading
import time

import pytest

from tests.integration import test_runs as _tr
from tests.integration.test_runs import attrs, config, make_wd, run_block

busybox, mode = _tr.busybox, _tr.mode  # fixtures

def _read(path) -> str:
    with open(path) as f:
        return f.read()


def _touch(path) -> None:
    with open(path, "w"):
        pass


GATED = (
    'd=$(dirname "$TRAINFORM_METRICS_FILE")\n'
    'echo started\n'
    'while [ ! -f "$d/go" ]; do sleep 0.1; done\n'
    'echo "{\\"name\\": \\"acc\\", \\"value\\": 0.5, \\"step\\": 1}" >> "$TRAINFORM_METRICS_FILE"\n'
    'echo "{\\"name\\": \\"acc\\", \\"value\\": 0.875, \\"step\\": 2}" >> "$TRAINFORM_METRICS_FILE"\n'
    'echo done > outputs/result.txt\n'
    'echo finished\n'
)
OUTPUT = 'output "acc" {\n  value = run.train.metrics.acc\n}\n'


class Cli:
    """``trainform apply`` in the background, its output collected line by line."""

    def __init__(self, wd, *args: str) -> None:
        self.proc = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "apply", "-auto-approve", "-no-color", *args], cwd=wd.path,
                                     env=wd.env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True)
        self.lines: list[str] = []
        self.t = threading.Thread(target=self._read, daemon=True)
        self.t.start()

    def _read(self):
        for line in self.proc.stdout:
            self.lines.append(line)

    @property
    def text(self) -> str:
        return "".join(self.lines)

    def wait_for(self, text: str, limit: float = 120) -> None:
        end = time.time() + limit
        while time.time() < end:
            if text in self.text:
                return
            if self.proc.poll() is not None:
                self.t.join(5)
                if text in self.text:
                    return
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not seen:\n{self.text}")

    def signal(self, sig) -> None:
        self.proc.send_signal(sig)

    def wait(self, limit: float = 120) -> int:
        try:
            code = self.proc.wait(limit)
        finally:
            if self.proc.poll() is None:
                self.proc.kill()
        self.t.join(5)
        return code


def state_attrs(wd, address="run.train") -> dict:
    """The run's attributes as trainform reads the state (folding a killed apply's journal)."""
    st = json.loads(wd.run("show", "-json", check=True).out)
    for r in st.get("resources", []):
        if r["address"] == address:
            return r["attributes"]
    raise AssertionError(f"{address} not in state: {st}")


def run_dirs(wd) -> list[str]:
    return sorted(glob.glob(os.path.join(wd.path, "artifacts", "runs", "*")))


def go(run_dir: str) -> None:
    _touch(os.path.join(run_dir, "trainform", "go"))


def containers(wd=None, address="run.train") -> list:
    """This test's containers (other tests and other users of the engine run at the same time)."""
    import docker

    under = str(wd.path if wd is not None else _CURRENT["path"])
    cs = docker.from_env().containers.list(all=True, filters={"label": f"trainform.address={address}"})
    return [c for c in cs if (c.labels or {}).get("trainform.run_dir", "").startswith(under + os.sep)]


_CURRENT = {"path": "/nonexistent"}


def execution_running(mode: str, run_dir: str) -> bool:
    rec = json.loads(_read(os.path.join(run_dir, "record.json")))
    if mode == "docker":
        import docker

        try:
            return docker.from_env().containers.get(rec["ident"]).status == "running"
        except docker.errors.NotFound:
            return False
    pid = int(_read(os.path.join(run_dir, "trainform", "pid-1")))
    try:
        os.kill(pid, 0)
        return not os.path.exists(os.path.join(run_dir, "trainform", "exit-1"))
    except OSError:
        return False


def wait_finished(mode: str, run_dir: str, limit: float = 120) -> None:
    end = time.time() + limit
    while time.time() < end:
        if mode == "process" and os.path.exists(os.path.join(run_dir, "trainform", "exit-1")):
            return
        if mode == "docker":
            rec = json.loads(_read(os.path.join(run_dir, "record.json")))
            import docker

            if docker.from_env().containers.get(rec["ident"]).status == "exited":
                return
        time.sleep(0.1)
    raise AssertionError("the execution did not finish")


@pytest.fixture(autouse=True)
def _no_leftover_containers(tmp_path):
    _CURRENT["path"] = str(tmp_path)
    yield
    with contextlib.suppress(Exception):  # no Docker Engine: nothing to clean
        for c in containers():
            c.remove(force=True)


# ---------------------------------------------------------------- kill -9

def test_kill9_then_apply_adopts_the_same_execution(tmp_path, mode):
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block() + OUTPUT), "src/run.sh": GATED})
    cli = Cli(wd)
    cli.wait_for("run.train: started")
    os.killpg(cli.proc.pid, signal.SIGKILL)
    cli.wait()
    [run_dir] = run_dirs(wd)
    a = state_attrs(wd)  # the state (its journal) names the execution the killed apply started
    assert a["status"] == "running" and a["id"] == os.path.basename(run_dir)
    assert execution_running(mode, run_dir)
    record_before = _read(os.path.join(run_dir, "record.json"))
    # plan: apply would wait for that execution; plan itself changes nothing
    p = wd.plan("-detailed-exitcode")
    assert p.code == 2, p.out + p.err
    assert f"wait for execution {a['id']}, left running by an interrupted apply" in p.out
    assert "must be replaced" not in p.out
    assert execution_running(mode, run_dir)
    assert _read(os.path.join(run_dir, "record.json")) == record_before
    # apply adopts it and follows it to the end: no second execution
    cli = Cli(wd)
    cli.wait_for("Adopting execution " + a["id"])
    go(run_dir)
    assert cli.wait() == 0, cli.text
    assert "run.train: finished" in cli.text and "acc = 0.875" in cli.text
    assert run_dirs(wd) == [run_dir]
    a2 = attrs(wd)
    assert a2["id"] == a["id"] and a2["status"] == "succeeded" and a2["exit_code"] == 0 and a2["metrics"] == {"acc": 0.875}
    log = _read(a2["log_path"]).splitlines()
    assert log.count("started") == 1 and log.count("finished") == 1
    assert _read(os.path.join(a2["outputs_path"], "result.txt")) == "done\n"
    if mode == "docker":
        assert containers() == []  # collected and removed, none left behind
    assert wd.plan("-detailed-exitcode").code == 0


def test_kill9_then_refresh_collects_the_finished_execution(tmp_path, mode):
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block() + OUTPUT), "src/run.sh": GATED})
    cli = Cli(wd)
    cli.wait_for("run.train: started")
    os.killpg(cli.proc.pid, signal.SIGKILL)
    cli.wait()
    [run_dir] = run_dirs(wd)
    go(run_dir)
    wait_finished(mode, run_dir)
    time.sleep(1.5)  # the real end is now well before the refresh below
    if mode == "docker":
        # plan reads the finished container but neither removes it nor records anything
        p = wd.plan()
        assert p.code == 0 and "must be replaced" not in p.out and "will be created" not in p.out
        assert len(containers()) == 1
        assert state_attrs(wd)["status"] == "running"
    refreshed_at = time.time()
    wd.run("refresh", "-no-color", check=True)
    a = attrs(wd)
    assert a["status"] == "succeeded" and a["exit_code"] == 0 and a["metrics"] == {"acc": 0.875}
    from providers.run.records import parse_iso

    assert parse_iso(a["ended_at"]) < refreshed_at - 1  # the execution's own end time, not the refresh's
    assert "finished" in _read(a["log_path"])
    assert run_dirs(wd) == [run_dir]
    if mode == "docker":
        assert containers() == []
    assert wd.run("output", "-raw", "acc", check=True).out.strip() == "0.875"
    assert wd.plan("-detailed-exitcode").code == 0
    r = wd.apply()
    assert "0 added, 0 changed, 0 destroyed" in r.out and "finished" not in r.out


def test_kill9_then_changed_inputs_stop_the_old_execution(tmp_path, mode):
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block()), "src/run.sh": GATED})
    cli = Cli(wd)
    cli.wait_for("run.train: started")
    os.killpg(cli.proc.pid, signal.SIGKILL)
    cli.wait()
    [old_dir] = run_dirs(wd)
    assert execution_running(mode, old_dir)
    wd.write("src/run.sh", "echo second version\n")
    r = wd.apply()
    assert "second version" in r.out
    assert not execution_running(mode, old_dir)  # stopped, not orphaned
    assert json.loads(_read(os.path.join(old_dir, "record.json")))["status"] == "cancelled"
    assert attrs(wd)["status"] == "succeeded" and attrs(wd)["id"] != os.path.basename(old_dir)
    if mode == "docker":
        assert containers() == []


# ---------------------------------------------------------------- SIGHUP / SIGTERM / one Ctrl-C

@pytest.mark.parametrize("sig", [signal.SIGHUP, signal.SIGTERM, signal.SIGINT], ids=["SIGHUP", "SIGTERM", "SIGINT"])
def test_one_signal_lets_the_run_finish_and_records_everything(tmp_path, mode, sig):
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block() + OUTPUT), "src/run.sh": GATED})
    cli = Cli(wd)
    cli.wait_for("run.train: started")
    cli.signal(sig)
    if sig != signal.SIGHUP:  # after SIGHUP the terminal is gone: output goes nowhere
        cli.wait_for("the run continues")
    [run_dir] = run_dirs(wd)
    go(run_dir)
    code = cli.wait()
    assert code == 0, cli.text
    a = attrs(wd)
    assert a["status"] == "succeeded" and a["metrics"] == {"acc": 0.875}
    assert wd.state()["outputs"]["acc"]["value"] == 0.875
    assert wd.plan("-detailed-exitcode").code == 0
    if mode == "docker":
        assert containers() == []


def test_one_ctrl_c_with_work_left_says_interrupted(tmp_path):
    runs = run_block("train") + run_block("later", extra="  depends_on = [run.train]\n") + OUTPUT
    wd = make_wd(tmp_path, {"main.hcl": config("process", runs), "src/run.sh": GATED})
    cli = Cli(wd)
    cli.wait_for("run.train: started")
    cli.signal(signal.SIGINT)
    cli.wait_for("the run continues")
    go(run_dirs(wd)[0])
    code = cli.wait()
    assert code == 1 and "Interrupted" in cli.text, cli.text
    assert attrs(wd)["status"] == "succeeded"
    assert wd.state()["outputs"]["acc"]["value"] == 0.875  # the finished run's output is recorded
    assert wd.resource("run.later") is None
    p = wd.plan()
    assert "run.later will be created" in p.out and "run.train" not in p.out.split("Plan:")[0].replace("run.train]", "")


# ---------------------------------------------------------------- wait = false

def test_wait_false_succeeds_and_plan_mutates_nothing(tmp_path, mode):
    out = 'output "acc" {\n  value = lookup(run.train.metrics, "acc", null)\n}\n'
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block(extra="  wait = false\n") + out), "src/run.sh": GATED})
    wd.apply()
    [run_dir] = run_dirs(wd)
    go(run_dir)
    wait_finished(mode, run_dir)
    time.sleep(1.5)
    record_before = _read(os.path.join(run_dir, "record.json"))
    for _ in range(3):  # plans see the finished run but change nothing
        wd.plan()
        assert _read(os.path.join(run_dir, "record.json")) == record_before
        assert attrs(wd)["status"] == "running"
        if mode == "docker":
            assert len(containers()) == 1
    refreshed_at = time.time()
    wd.run("refresh", "-no-color", check=True)
    a = attrs(wd)
    assert a["status"] == "succeeded" and a["exit_code"] == 0 and a["metrics"] == {"acc": 0.875}
    from providers.run.records import parse_iso

    assert parse_iso(a["ended_at"]) < refreshed_at - 1
    assert a["duration_seconds"] < refreshed_at - parse_iso(a["started_at"]) - 1
    assert _read(os.path.join(a["outputs_path"], "result.txt")) == "done\n"
    assert "finished" in _read(a["log_path"])
    if mode == "docker":
        assert containers() == []
    assert wd.run("output", "-raw", "acc", check=True).out.strip() == "0.875"
    assert wd.plan("-detailed-exitcode").code == 0


# ---------------------------------------------------------------- fault injection: killed between naming and starting

def _named_but_not_started(tmp_path, mode):
    """The state a trainform killed after naming an attempt, before it ran: record "starting"."""
    from providers.run.records import RunPaths, write_record

    run_id = "exp_1_deadbeef"
    paths = RunPaths(str(tmp_path / "artifacts"), run_id)
    paths.create()
    ident = f"trainform-{run_id}-1" if mode == "docker" else None
    write_record(paths.record, {"run_id": run_id, "address": "run.train", "mode": mode, "status": "starting", "ident": ident,
                                "attempt": 1, "attempts": [{"attempt": 1, "ident": ident}], "created_at": "2026-01-01T00:00:00.000000Z"})
    state = {"id": run_id, "status": "running", "outputs_path": paths.outputs, "log_path": paths.log(1), "started_at": None}
    private = {"run_dir": paths.root, "mode": mode, "ident": ident, "attempt": 1}
    return paths, state, private, ident


def test_an_execution_created_but_never_started_is_removed_and_run_again(tmp_path, mode):
    from engine.providers import ReadRequest
    from providers.run.provider import RunProvider
    from providers.run.records import read_record

    paths, state, private, ident = _named_but_not_started(tmp_path, mode)
    if mode == "docker":
        import docker

        client = docker.from_env()
        client.containers.create("trainform-test/busybox:runs", ["sleep", "60"], name=ident, labels={"trainform.address": "run.train"})
    p = RunProvider()
    # plan: reports it as not run (so it is planned again) but removes nothing
    new = p.read(ReadRequest("run.train", dict(state), dict(private))).new_state
    assert new["status"] == "cancelled"
    if mode == "docker":
        assert client.containers.get(ident).status == "created"
    # apply/refresh: the same answer, and the never-started container is gone
    p.ctx.persisting = True
    new = p.read(ReadRequest("run.train", dict(state), dict(private))).new_state
    assert new["status"] == "cancelled"
    assert read_record(paths.record)["status"] == "cancelled"
    if mode == "docker":
        with pytest.raises(docker.errors.NotFound):
            client.containers.get(ident)


FAIL_FIRST_THEN_GATED = 'if [ ! -f outputs/first ]; then echo attempt-one; touch outputs/first; exit 3; fi\n' + GATED


def test_kill9_during_a_retry_adopts_that_attempt(tmp_path, mode):
    """Found by probing: trainform killed while attempt 2 of a retried run trained.
    The next apply "adopted" it but recorded it cancelled at once (the attempt loop
    had no room for an attempt past the first) while it trained on unwatched.  Now
    it follows attempt 2 to its end: succeeded, 2 attempts, nothing started again."""
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block(extra="  max_retries = 2\n")) + OUTPUT,
                            "src/run.sh": FAIL_FIRST_THEN_GATED})
    cli = Cli(wd)
    cli.wait_for("Retrying: attempt 2 of 3")
    cli.wait_for("run.train: started")
    os.killpg(cli.proc.pid, signal.SIGKILL)
    cli.wait()
    [run_dir] = run_dirs(wd)
    threading.Timer(3, go, args=(run_dir,)).start()  # lets attempt 2 finish once apply follows it
    r = wd.apply()
    assert "Adopting execution" in r.out and "finished" in r.out, r.out
    a = attrs(wd)
    assert a["status"] == "succeeded" and a["attempts"] == 2 and a["exit_code"] == 0
    rec = json.loads(_read(os.path.join(run_dir, "record.json")))
    assert [x["attempt"] for x in rec["attempts"]] == [1, 2] and rec["status"] == "succeeded"
    assert "Retrying" not in r.out and run_dirs(wd) == [run_dir]  # nothing started again
    assert wd.run("output", "-raw", "acc", check=True).out.strip() == "0.875"
    assert wd.plan("-detailed-exitcode").code == 0
