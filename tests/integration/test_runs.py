"""The run and compute providers end to end through the real CLI.

Every behaviour is checked in process mode (host ``sh``/python, always
available) and, where Docker matters, in docker mode with a busybox image
(skipped with a reason when no Docker Engine answers).  The workspace and
environment are the stand-ins of ``run_fakes`` so these tests do not depend
on image builds.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest

from engine.testing.conformance import ProviderConformance
from engine.testing.harness import Workdir
from tests.integration.run_fakes import SPEC

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
BUSYBOX = "trainform-test/busybox:runs"

OK_SH = """\
echo "start $TRAINFORM_RUN_ID $TRAINFORM_EXPERIMENT $*"
i=1
while [ $i -le 5 ]; do echo "line $i"; i=$((i+1)); done
echo '{"name": "accuracy", "value": 0.5, "step": 1}' >> "$TRAINFORM_METRICS_FILE"
echo 'not json' >> "$TRAINFORM_METRICS_FILE"
echo '{"name": "accuracy", "value": 0.75, "step": 2}' >> "$TRAINFORM_METRICS_FILE"
echo '{"name": "loss", "value": 0.25}' >> "$TRAINFORM_METRICS_FILE"
echo model > outputs/model.txt
"""


def _env(extra=None):
    pythonpath = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    env = {"NO_COLOR": "1", "TRAINFORM_EXTRA_PROVIDERS": SPEC, "PYTHONPATH": pythonpath, "PYTHONUNBUFFERED": "1"}
    env.update(extra or {})
    return env


def _docker_ok() -> str | None:
    try:
        import docker

        docker.from_env(timeout=10).ping()
        return None
    except Exception as e:  # noqa: BLE001
        return f"no Docker Engine answers ({type(e).__name__})"


@pytest.fixture(scope="session")
def busybox():
    """A FROM-scratch busybox image (built here from the host's busybox-static)."""
    why = _docker_ok()
    if why:
        pytest.skip(why)
    import docker
    import io
    import tarfile

    client = docker.from_env()
    try:
        client.images.get(BUSYBOX)
        return BUSYBOX
    except docker.errors.ImageNotFound:
        pass
    bb = "/usr/bin/busybox" if os.path.exists("/usr/bin/busybox") else "/bin/busybox"
    if not os.path.exists(bb):
        pytest.skip("busybox-static is not installed (needed to build the busybox base image)")
    applets = subprocess.run([bb, "--list"], capture_output=True, text=True).stdout.split()
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as tar:
        for d in ("bin", "tmp", "workspace"):
            ti = tarfile.TarInfo(d)
            ti.type, ti.mode = tarfile.DIRTYPE, 0o1777 if d == "tmp" else 0o755
            tar.addfile(ti)
        tar.add(bb, "bin/busybox")
        for a in applets:
            if a != "busybox":
                ti = tarfile.TarInfo("bin/" + a)
                ti.type, ti.linkname = tarfile.SYMTYPE, "busybox"
                tar.addfile(ti)
    client.api.import_image_from_data(buf.getvalue(), repository=BUSYBOX.split(":")[0], tag=BUSYBOX.split(":")[1], changes=["ENV PATH=/bin"])
    return BUSYBOX


@pytest.fixture(params=["process", "docker"])
def mode(request):
    if request.param == "docker":
        request.getfixturevalue("busybox")
    return request.param


def config(mode: str, runs: str, max_concurrent: int = 1, compute_extra: str = "") -> str:
    env = f'  docker {{\n    image = "{BUSYBOX}"\n  }}\n' if mode == "docker" else ""
    return textwrap.dedent("""\
        workspace "ws" {}
        environment "env" {
          workspace = workspace.ws.id
        %s  python {
            user_managed_dependencies = true
          }
        }
        compute "local" {
          workspace           = workspace.ws.id
          max_concurrent_runs = %d
        %s}
        """) % (env, max_concurrent, compute_extra) + textwrap.dedent(runs)


def run_block(name="train", src="src", extra="", command='["sh", "run.sh"]', args='["a", 1]') -> str:
    return f"""
run "{name}" {{
  workspace        = workspace.ws.id
  experiment       = "exp"
  source_directory = "{src}"
  command          = {command}
  arguments        = {args}
  environment      = environment.env.id
  compute          = compute.local.id
{extra}}}
"""


def make_wd(tmp_path, files: dict, extra_env=None) -> Workdir:
    wd = Workdir(tmp_path / "w", env=_env(extra_env))
    for name, text in files.items():
        wd.write(name, text)
    return wd


def attrs(wd, address="run.train") -> dict:
    r = wd.resource(address)
    assert r is not None, f"{address} not in state"
    return r["attributes"]


# ---------------------------------------------------------------- success, metrics, logs

def test_run_succeeds_with_metrics_outputs_and_ordered_logs(tmp_path, mode):
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block() + 'output "acc" {\n  value = run.train.metrics.accuracy\n}\n'), "src/run.sh": OK_SH})
    r = wd.apply()
    a = attrs(wd)
    assert a["status"] == "succeeded" and a["exit_code"] == 0 and a["attempts"] == 1
    assert a["metrics"] == {"accuracy": 0.75, "loss": 0.25}
    assert "acc = 0.75" in r.out
    assert open(os.path.join(a["outputs_path"], "model.txt")).read() == "model\n"
    # streamed in order, prefixed with the address, and saved
    streamed = [line.split("run.train: ", 1)[1] for line in r.out.splitlines() if line.startswith("run.train: line ")]
    assert streamed == [f"line {i}" for i in range(1, 6)]
    saved = open(a["log_path"]).read().splitlines()
    assert saved[0] == f"start {a['id']} exp a 1"
    assert saved[1:6] == [f"line {i}" for i in range(1, 6)]
    if mode == "docker":
        assert a["container_id"]
    # a second plan is empty and a second apply runs nothing
    assert wd.plan("-detailed-exitcode").code == 0
    r2 = wd.apply()
    assert "line 1" not in r2.out and "0 added" in r2.out
    assert attrs(wd)["id"] == a["id"]


def test_failing_run_is_tainted_and_rerun(tmp_path, mode):
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block()), "src/run.sh": "echo failing\nexit 3\n"})
    r = wd.apply(check=False)
    assert r.code == 1
    assert "Run failed" in r.err and "exited with status 3" in r.err
    res = wd.resource("run.train")
    assert res["status"] == "tainted"
    assert res["attributes"]["status"] == "failed" and res["attributes"]["exit_code"] == 3
    p = wd.plan()
    assert "is tainted, so must be replaced" in p.out
    wd.write("src/run.sh", "echo fixed\n")
    wd.apply()
    assert attrs(wd)["status"] == "succeeded"
    assert wd.resource("run.train")["status"] != "tainted"


def test_timeout_stops_the_run(tmp_path, mode):
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block(extra='  timeout = "1s"\n')), "src/run.sh": "echo sleeping\nsleep 60\necho never\n"})
    r = wd.apply(check=False)
    assert r.code == 1 and "Run timed out" in r.err
    a = attrs(wd)
    assert a["status"] == "timed_out"
    assert a["duration_seconds"] < 50  # stopped, not waited out
    assert "never" not in open(a["log_path"]).read()


def test_retries_rerun_failed_attempts(tmp_path, mode):
    # fails on the first attempt, succeeds on the second (outputs/ survives between attempts)
    script = "if [ -f outputs/tried ]; then echo second; exit 0; fi\ntouch outputs/tried\necho first\nexit 1\n"
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block(extra="  max_retries = 2\n")), "src/run.sh": script})
    r = wd.apply()
    a = attrs(wd)
    assert a["status"] == "succeeded" and a["attempts"] == 2
    logs = os.path.dirname(a["log_path"])
    assert open(os.path.join(logs, "attempt-1.log")).read() == "first\n"
    assert open(os.path.join(logs, "attempt-2.log")).read() == "second\n"
    assert "attempt 2 of 3" in r.out


def test_retries_exhausted(tmp_path):
    wd = make_wd(tmp_path, {"main.hcl": config("process", run_block(extra="  max_retries = 1\n")), "src/run.sh": "exit 4\n"})
    assert wd.apply(check=False).code == 1
    a = attrs(wd)
    assert a["status"] == "failed" and a["attempts"] == 2 and a["exit_code"] == 4


# ---------------------------------------------------------------- snapshots and plans

def test_ignore_file_and_replace_reasons(tmp_path):
    wd = make_wd(tmp_path, {"main.hcl": config("process", run_block()), "src/run.sh": "ls -R . | sort > outputs/files.txt\n",
                            "src/util.sh": "x", "src/data/big.bin": "data", "src/scratch.txt": "s",
                            "src/.trainformignore": "data/\nscratch.txt\n"})
    wd.apply()
    a = attrs(wd)
    listed = open(os.path.join(a["outputs_path"], "files.txt")).read()
    assert "run.sh" in listed and "big.bin" not in listed and "scratch.txt" not in listed
    # editing an ignored file changes nothing
    wd.write("src/scratch.txt", "edited")
    wd.write("src/data/big.bin", "other data")
    assert wd.plan("-detailed-exitcode").code == 0
    # editing a source file replaces the run, naming the file
    wd.write("src/util.sh", "y")
    p = wd.plan("-detailed-exitcode")
    assert p.code == 2
    assert "run.train must be replaced" in p.out and "(util.sh changed)" in p.out
    # arguments too
    wd.write("main.hcl", config("process", run_block(args='["b"]')))
    p = wd.plan()
    assert "(util.sh changed, arguments changed)" in p.out
    # a setting that does not change the result is an in-place update
    wd.write("src/util.sh", "x")
    wd.write("main.hcl", config("process", run_block(extra='  timeout = "1h"\n')))
    p = wd.plan()
    assert "run.train will be updated in-place" in p.out
    wd.apply()
    assert attrs(wd)["id"] == a["id"] and attrs(wd)["timeout"] == "1h"


def test_environment_change_replaces_run_with_reason(tmp_path, busybox):
    wd = make_wd(tmp_path, {"main.hcl": config("docker", run_block()), "src/run.sh": "echo hi\n"})
    wd.apply()
    # a different image: the (fake) environment is rebuilt, its digest known only after apply
    wd.write("main.hcl", config("docker", run_block()).replace(BUSYBOX, BUSYBOX + "-v2"))
    p = wd.plan()
    assert "run.train must be replaced" in p.out and "(environment image changed" in p.out
    # switching to process mode: the reason still names the environment
    wd.write("main.hcl", config("process", run_block()))
    p = wd.plan()
    assert "run.train must be replaced" in p.out
    assert "environment" in p.out.split("run.train must be replaced", 1)[1].splitlines()[1]


def test_snapshot_size_limit_lists_largest_files(tmp_path):
    files = {"main.hcl": config("process", run_block(extra="  snapshot_size_limit_mb = 1\n")), "src/run.sh": "true\n"}
    wd = make_wd(tmp_path, files)
    for i, size in enumerate([700_000, 600_000, 10, 20, 30, 40]):
        wd.write(f"src/f{i}.bin", "x" * size)
    p = wd.plan()
    assert p.code == 1
    assert "Snapshot too large" in p.err and "snapshot_size_limit_mb = 1" in p.err
    listed = [line.split()[-1] for line in p.err.splitlines() if line.strip().endswith(".bin")]
    assert listed == ["f0.bin", "f1.bin", "f5.bin", "f4.bin", "f3.bin"]
    assert wd.resource("run.train") is None if os.path.exists(os.path.join(wd.path, "trainform.tfstate")) else True


def test_environment_env_vars_and_no_secret_leak(tmp_path):
    wd = make_wd(tmp_path, {"main.hcl": config("process", run_block(extra='  env_vars = {\n    MY_VAR = "hello"\n  }\n')),
                            "src/run.sh": 'echo "$MY_VAR" > outputs/v.txt\nenv > outputs/env.txt\n'},
                 extra_env={"TRAINFORM_VAR_registry_password": "S3cret-value-123"})
    wd.apply()
    out = attrs(wd)["outputs_path"]
    assert open(os.path.join(out, "v.txt")).read() == "hello\n"
    assert "S3cret-value-123" not in open(os.path.join(out, "env.txt")).read()


# ---------------------------------------------------------------- pool, GPUs

def test_pool_limits_parallel_runs(tmp_path, mode):
    runs = run_block("a") + run_block("b")
    wd = make_wd(tmp_path, {"main.hcl": config(mode, runs, max_concurrent=1), "src/run.sh": "sleep 1\necho done\n"})
    wd.apply()
    a, b = attrs(wd, "run.a"), attrs(wd, "run.b")
    first, second = sorted([a, b], key=lambda x: x["started_at"])
    assert first["ended_at"] <= second["started_at"], (first, second)


def test_pool_allows_parallel_runs_up_to_capacity(tmp_path):
    # both runs wait for each other's marker: they can only finish if they overlap
    script = 'touch "$MARK_DIR/$ME"\nwhile [ ! -f "$MARK_DIR/$OTHER" ]; do sleep 0.05; done\n'
    mark = tmp_path / "marks"
    mark.mkdir()
    ra = run_block("a", extra=f'  env_vars = {{\n    MARK_DIR = "{mark}"\n    ME = "a"\n    OTHER = "b"\n  }}\n  timeout = "60s"\n')
    rb = run_block("b", extra=f'  env_vars = {{\n    MARK_DIR = "{mark}"\n    ME = "b"\n    OTHER = "a"\n  }}\n  timeout = "60s"\n')
    wd = make_wd(tmp_path, {"main.hcl": config("process", ra + rb, max_concurrent=2), "src/run.sh": script})
    wd.apply()
    assert attrs(wd, "run.a")["status"] == attrs(wd, "run.b")["status"] == "succeeded"


def _fake_smi(tmp_path, n: int) -> str:
    d = tmp_path / f"smi{n}"
    d.mkdir(exist_ok=True)
    p = d / "nvidia-smi"
    lines = "".join(f"{i}, Fake GPU, 16384 MiB, GPU-{i:04d}\n" for i in range(n))
    p.write_text(f"#!/bin/sh\ncat <<'EOF'\n{lines}EOF\n")
    p.chmod(0o755)
    return str(d) + os.pathsep + os.environ["PATH"]


def test_gpu_request_larger_than_pool_fails_at_plan(tmp_path):
    wd = make_wd(tmp_path, {"main.hcl": config("process", ""), "src/run.sh": "true\n"}, extra_env={"PATH": _fake_smi(tmp_path, 2)})
    wd.apply()
    wd.write("main.hcl", config("process", run_block(extra="  gpus = 3\n")))
    p = wd.plan()
    assert p.code == 1
    assert "Not enough GPUs in the compute pool" in p.err and "gpus = 3" in p.err and "2 GPU(s)" in p.err


def test_gpu_assignment_in_process_mode(tmp_path):
    runs = run_block("a", extra="  gpus = 1\n") + run_block("b", extra="  gpus = 1\n") + run_block("c")
    wd = make_wd(tmp_path, {"main.hcl": config("process", runs, max_concurrent=3, compute_extra='  gpus = [1, 2]\n'),
                            "src/run.sh": 'echo "{\\"name\\": \\"cuda\\", \\"value\\": \\"$CUDA_VISIBLE_DEVICES\\"}" >> "$TRAINFORM_METRICS_FILE"\nsleep 0.5\n'},
                 extra_env={"PATH": _fake_smi(tmp_path, 4)})
    wd.apply()
    assert attrs(wd, "compute.local")["gpu_indexes"] == [1, 2]
    assert len(attrs(wd, "compute.local")["gpus_detected"]) == 4
    got = sorted([attrs(wd, "run.a")["metrics"]["cuda"], attrs(wd, "run.b")["metrics"]["cuda"]])
    assert got == ["1", "2"]
    assert attrs(wd, "run.c")["metrics"]["cuda"] == ""  # a CPU run sees no GPU


# ---------------------------------------------------------------- wait = false

def _refresh_until_done(wd, address="run.train", limit=120):
    end = time.time() + limit
    while time.time() < end:
        wd.run("apply", "-refresh-only", "-auto-approve", "-no-color", check=True)
        if attrs(wd, address)["status"] != "running":
            return attrs(wd, address)
        time.sleep(0.3)
    raise AssertionError("the detached run did not finish")


def test_wait_false_then_refresh(tmp_path, mode):
    script = ('d=$(dirname "$TRAINFORM_METRICS_FILE")\necho waiting\nwhile [ ! -f "$d/go" ]; do sleep 0.1; done\n'
              'echo "{\\"name\\": \\"loss\\", \\"value\\": 0.125}" >> "$TRAINFORM_METRICS_FILE"\necho finished\n')
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block(extra="  wait = false\n")), "src/run.sh": script})
    r = wd.apply()
    a = attrs(wd)
    assert a["status"] == "running" and "Started detached" in r.out
    assert wd.plan("-detailed-exitcode").code == 0  # still running: nothing to do
    open(os.path.join(os.path.dirname(a["outputs_path"]), "trainform", "go"), "w").close()
    a = _refresh_until_done(wd)
    assert a["status"] == "succeeded" and a["exit_code"] == 0 and a["metrics"] == {"loss": 0.125}
    assert "finished" in open(a["log_path"]).read()
    assert wd.plan("-detailed-exitcode").code == 0


def test_wait_false_failure_is_replaced(tmp_path):
    wd = make_wd(tmp_path, {"main.hcl": config("process", run_block(extra="  wait = false\n")), "src/run.sh": "exit 2\n"})
    wd.apply()
    a = _refresh_until_done(wd)
    assert a["status"] == "failed" and a["exit_code"] == 2
    p = wd.plan()
    assert "must be replaced" in p.out and "the last run failed" in p.out


def test_destroy_stops_detached_run_and_keeps_artifacts(tmp_path, mode):
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block(extra="  wait = false\n")), "src/run.sh": "echo hi > outputs/o.txt\necho training started\nsleep 60\n"})
    wd.apply()
    a = attrs(wd)
    deadline = time.time() + 30
    while not os.path.exists(os.path.join(a["outputs_path"], "o.txt")) and time.time() < deadline:
        time.sleep(0.2)
    wd.run("destroy", "-auto-approve", "-no-color", check=True)
    assert wd.resource("run.train") is None
    run_dir = os.path.dirname(a["outputs_path"])
    assert os.path.isdir(a["outputs_path"])
    rec = json.load(open(os.path.join(run_dir, "record.json")))  # stays in the history, stopped
    assert rec["status"] == "cancelled" and rec["destroyed_at"]
    assert rec["duration_seconds"] > 0  # how long it ran before it was stopped
    logs = wd.run("logs", a["id"], check=True).out  # its output outlives the removed container
    assert "training started" in logs, logs
    if mode == "docker":
        import docker

        with pytest.raises(docker.errors.NotFound):
            docker.from_env().containers.get(a["container_id"])


def test_destroy_can_delete_artifacts(tmp_path):
    wd = make_wd(tmp_path, {"main.hcl": config("process", run_block(extra="  delete_artifacts_on_destroy = true\n")), "src/run.sh": "true\n"})
    wd.apply()
    run_dir = os.path.dirname(attrs(wd)["outputs_path"])
    wd.run("destroy", "-auto-approve", "-no-color", check=True)
    assert not os.path.exists(run_dir)


# ---------------------------------------------------------------- Ctrl-C

def test_sigint_cancels_running_run(tmp_path, mode):
    wd = make_wd(tmp_path, {"main.hcl": config(mode, run_block()), "src/run.sh": "echo started\nsleep 120\necho never\n"})
    proc = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "apply", "-auto-approve", "-no-color"], cwd=wd.path, env=wd.env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = []

    def reader():
        for line in proc.stdout:
            lines.append(line)

    t = threading.Thread(target=reader, daemon=True)
    t.start()

    def wait_for(text, limit=120):
        end = time.time() + limit
        while time.time() < end:
            if any(text in line for line in lines):
                return
            if proc.poll() is not None:
                break
            time.sleep(0.05)
        raise AssertionError(f"{text!r} not seen:\n{''.join(lines)}")

    try:
        wait_for("run.train: started")
        proc.send_signal(signal.SIGINT)
        wait_for("the run continues")
        proc.send_signal(signal.SIGINT)
        code = proc.wait(120)
    finally:
        if proc.poll() is None:
            proc.kill()
    t.join(5)
    assert code == 1, "".join(lines)
    res = wd.resource("run.train")
    assert res["status"] == "tainted"
    a = res["attributes"]
    assert a["status"] == "cancelled"
    assert "never" not in open(a["log_path"]).read()
    if mode == "docker":
        import docker

        with pytest.raises(docker.errors.NotFound):  # stopped and removed
            docker.from_env().containers.get(a["container_id"])


# ---------------------------------------------------------------- logs / runs commands

def test_logs_and_runs_commands(tmp_path):
    wd = make_wd(tmp_path, {"main.hcl": config("process", run_block("a") + run_block("b", command='["sh", "fail.sh"]')),
                            "src/run.sh": OK_SH, "src/fail.sh": "echo bad\nexit 1\n"})
    wd.apply(check=False)
    r = wd.run("logs", "run.a", check=True)
    assert [x for x in r.out.splitlines() if x.startswith("line")] == [f"line {i}" for i in range(1, 6)]
    r = wd.run("logs", "run.nope")
    assert r.code == 1 and "run.nope" in r.err
    r = wd.run("runs", "-no-color", check=True)
    assert "run.a" in r.out and "succeeded" in r.out and "accuracy=0.75" in r.out
    assert "run.b" in r.out and "failed" in r.out
    r = wd.run("runs", "-experiment", "other", "-no-color", check=True)
    assert "run.a" not in r.out
    r = wd.run("runs", "-json", check=True)
    rows = json.loads(r.out)
    assert {x["address"]: x["status"] for x in rows} == {"run.a": "succeeded", "run.b": "failed"}


def test_logs_follow_a_detached_run(tmp_path):
    script = 'd=$(dirname "$TRAINFORM_METRICS_FILE")\necho one\nwhile [ ! -f "$d/go" ]; do sleep 0.1; done\necho two\n'
    wd = make_wd(tmp_path, {"main.hcl": config("process", run_block(extra="  wait = false\n")), "src/run.sh": script})
    wd.apply()
    a = attrs(wd)
    open(os.path.join(os.path.dirname(a["outputs_path"]), "trainform", "go"), "w").close()
    r = wd.run("logs", "-f", "run.train", check=True, timeout=120)
    assert r.out.splitlines() == ["one", "two"]


# ---------------------------------------------------------------- conformance

class TestRunConformance(ProviderConformance):
    address = "run.train"

    def env(self):
        return _env()

    def config(self, variant, wd):
        wd.write("src/run.sh", "echo hi\n")
        extra = {"initial": "", "updated": '  timeout = "1h"\n', "replaced": ""}[variant]
        args = '["x"]' if variant == "replaced" else '["a", 1]'
        return config("process", run_block(extra=extra, args=args))

    def drift(self, wd, attributes):
        os.remove(os.path.join(os.path.dirname(attributes["outputs_path"]), "record.json"))
        return "delete"


class TestComputeConformance(ProviderConformance):
    address = "compute.local"

    def env(self):
        return _env()

    @pytest.fixture
    def wd(self, tmp_path):
        self.smi = tmp_path / "smi"
        self._gpus(1)
        return Workdir(tmp_path / "work", env=dict(self.env(), PATH=str(self.smi) + os.pathsep + os.environ["PATH"]))

    def _gpus(self, n):
        self.smi.mkdir(exist_ok=True)
        p = self.smi / "nvidia-smi"
        lines = "".join(f"{i}, Fake GPU, 1024 MiB, GPU-{i}\n" for i in range(n))
        p.write_text(f"#!/bin/sh\ncat <<'EOF'\n{lines}EOF\n")
        p.chmod(0o755)

    def config(self, variant, wd):
        body = {"initial": "  max_concurrent_runs = 1\n", "updated": "  max_concurrent_runs = 2\n", "replaced": '  max_concurrent_runs = 1\n'}[variant]
        ws = 'workspace "ws" {}\n' if variant != "replaced" else 'workspace "ws" {}\nworkspace "ws2" {}\n'
        target = "workspace.ws2.id" if variant == "replaced" else "workspace.ws.id"
        return f'{ws}compute "local" {{\n  workspace = {target}\n{body}}}\n'

    def drift(self, wd, attributes):
        self._gpus(2)  # a GPU was added to the machine
        return "update"
