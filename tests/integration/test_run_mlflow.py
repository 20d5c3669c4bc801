"""Each execution is an MLflow run (issue 12, item 7), read back with ``MlflowClient``.

Real MLflow: a SQLite tracking store, the default local store under
``.trainform/``, and a real ``mlflow server`` process that a container
reaches over the Docker bridge.  Real executions: host processes (the
script itself logs with ``mlflow.log_metric`` into the same run) and busybox
containers on the real Docker Engine.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import textwrap
import time
import urllib.request

import pytest

from engine.testing.harness import Workdir
from tests.integration import test_runs as _tr
from tests.integration.test_runs import config, make_wd, run_block

busybox = _tr.busybox  # fixture

mlflow = pytest.importorskip("mlflow", reason="mlflow is not installed (pip install 'trainform[mlflow]'; CI installs it)")
REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))

def _read(path) -> str:
    with open(path) as f:
        return f.read()


def _touch(path) -> None:
    with open(path, "w"):
        pass


TRAIN_PY = textwrap.dedent("""\
    import json, os, sys
    def log(name, value, step):
        with open(os.environ["TRAINFORM_METRICS_FILE"], "a") as f:
            f.write(json.dumps({"name": name, "value": value, "step": step}) + "\\n")
    for step in (1, 2, 3):
        log("acc", step / 4, step)
    import mlflow
    mlflow.log_metric("from_script", 2.5, step=7)   # MLFLOW_TRACKING_URI / MLFLOW_RUN_ID set by trainform
    os.makedirs("outputs", exist_ok=True)
    open("outputs/model.txt", "w").write("weights")
    print("args", sys.argv[1:])
    sys.exit(int(os.environ.get("EXIT", "0")))
""")


def _client(uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri=uri)


def _runs(uri, experiment):
    c = _client(uri)
    exp = c.get_experiment_by_name(experiment)
    assert exp is not None, f"no experiment {experiment} in {uri}"
    return c, sorted(c.search_runs([exp.experiment_id]), key=lambda r: r.info.start_time)


def _artifacts(c, run_id, path=None) -> list[str]:
    return sorted(a.path for a in c.list_artifacts(run_id, path))


def _hcl(exit_code=0, extra=""):
    return config("process", run_block(command=f'["{sys.executable}", "train.py"]', args='["--lr", 0.1, "--epochs", 3, "--fast"]',
                                       extra=f'  env_vars = {{\n    EXIT = "{exit_code}"\n  }}\n{extra}'))


def _process_wd(tmp_path, uri):
    return make_wd(tmp_path, {"main.hcl": _hcl(), "src/train.py": TRAIN_PY}, extra_env={"MLFLOW_TRACKING_URI": uri})


def test_sqlite_store_gets_every_execution_with_status_metrics_params_tags_artifacts(tmp_path):
    uri = f"sqlite:///{tmp_path}/mlflow.db"
    wd = _process_wd(tmp_path, uri)
    wd.apply()
    st = wd.resource("run.train")["attributes"]
    c, runs = _runs(uri, "exp")
    [r] = runs
    assert r.info.status == "FINISHED" and r.info.run_name == st["id"]
    assert r.data.params == {"lr": "0.1", "epochs": "3", "fast": "true"}
    assert r.data.tags["trainform.address"] == "run.train" and r.data.tags["trainform.run_id"] == st["id"]
    assert r.data.tags["trainform.input_hash"] == st["input_hash"] and r.data.tags["trainform.snapshot_hash"] == st["snapshot_hash"]
    assert [(m.step, m.value) for m in c.get_metric_history(r.info.run_id, "acc")] == [(1, 0.25), (2, 0.5), (3, 0.75)]
    assert [(m.step, m.value) for m in c.get_metric_history(r.info.run_id, "from_script")] == [(7, 2.5)]  # the script's own logging
    assert _artifacts(c, r.info.run_id) == ["logs", "outputs"]
    assert _artifacts(c, r.info.run_id, "logs") == ["logs/attempt-1.log"]
    assert _artifacts(c, r.info.run_id, "outputs") == ["outputs/model.txt"]
    log = _read(c.download_artifacts(r.info.run_id, "logs/attempt-1.log", str(tmp_path)))
    assert "args ['--lr', '0.1', '--epochs', '3', '--fast']" in log
    # a failing execution is a second MLflow run, FAILED; a timed-out one is KILLED
    wd.write("main.hcl", _hcl(exit_code=4))
    assert wd.apply(check=False).code == 1
    wd.write("src/train.py", "import time\nprint('sleeping', flush=True)\ntime.sleep(120)\n")
    wd.write("main.hcl", _hcl(extra='  timeout = "1s"\n'))
    assert wd.apply(check=False).code == 1
    _, runs = _runs(uri, "exp")
    assert [x.info.status for x in runs] == ["FINISHED", "FAILED", "KILLED"]
    rows = json.loads(wd.run("runs", "-json", check=True).out)
    assert [x["mlflow_run_id"] for x in rows] == [x.info.run_id for x in reversed(runs)]


def test_workspace_tracking_uri_and_the_default_local_store(tmp_path):
    hcl = 'workspace "ws" {%s}\n\nrun "train" {\n  workspace        = workspace.ws.id\n  experiment       = "exp"\n  source_directory = "src"\n  command          = ["%s", "train.py"]\n}\n'
    env = {"NO_COLOR": "1", "PYTHONPATH": REPO}
    # workspace tracking_uri wins over MLFLOW_TRACKING_URI
    wd = Workdir(tmp_path / "a", env=dict(env, MLFLOW_TRACKING_URI=f"sqlite:///{tmp_path}/env.db"))
    wd.write("src/train.py", TRAIN_PY)
    wd.write("main.hcl", hcl % (f'\n  tracking_uri = "sqlite:///{tmp_path}/ws.db"\n', sys.executable))
    wd.apply()
    _, runs = _runs(f"sqlite:///{tmp_path}/ws.db", "exp")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert not os.path.exists(f"{tmp_path}/env.db")
    # neither: the default local store under .trainform/, shown by `trainform runs`
    wd = Workdir(tmp_path / "b", env=env)
    wd.env.pop("MLFLOW_TRACKING_URI", None)
    wd.write("src/train.py", TRAIN_PY)
    wd.write("main.hcl", hcl % ("", sys.executable))
    wd.apply()
    uri = f"sqlite:///{tmp_path}/b/.trainform/mlflow.db"
    c, runs = _runs(uri, "exp")
    assert len(runs) == 1 and runs[0].info.status == "FINISHED"
    assert _artifacts(c, runs[0].info.run_id, "outputs") == ["outputs/model.txt"]
    out = wd.run("runs", "-no-color", check=True).out
    assert f"mlflow ui --backend-store-uri {uri}" in out


def test_kill9_execution_is_finished_once_in_mlflow(tmp_path):
    from tests.integration.test_run_adoption import GATED, Cli, go, run_dirs

    uri = f"sqlite:///{tmp_path}/mlflow.db"
    wd = make_wd(tmp_path, {"main.hcl": config("process", run_block()), "src/run.sh": GATED}, extra_env={"MLFLOW_TRACKING_URI": uri})
    cli = Cli(wd)
    cli.wait_for("run.train: started")
    os.killpg(cli.proc.pid, signal.SIGKILL)
    cli.wait()
    _, runs = _runs(uri, "exp")
    assert [r.info.status for r in runs] == ["RUNNING"]
    go(run_dirs(wd)[0])
    wd.apply()  # adopts and follows it to the end
    c, runs = _runs(uri, "exp")
    [r] = runs
    assert r.info.status == "FINISHED"
    assert [(m.step, m.value) for m in c.get_metric_history(r.info.run_id, "acc")] == [(1, 0.5), (2, 0.875)]


# ---------------------------------------------------------------- a real mlflow server, a container run

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _bridge_ip() -> str:
    import ipaddress

    import docker

    net = docker.from_env().networks.get("bridge")
    cfg = (net.attrs.get("IPAM") or {}).get("Config") or [{}]
    gw = cfg[0].get("Gateway")
    return gw or str(ipaddress.ip_network(cfg[0]["Subnet"]).network_address + 1)


@pytest.fixture
def mlflow_server(tmp_path):
    port = _free_port()
    log = open(tmp_path / "server.log", "w")  # noqa: SIM115 - the server writes it until the end of the test
    proc = subprocess.Popen([sys.executable, "-m", "mlflow", "server", "--backend-store-uri", f"sqlite:///{tmp_path}/server.db",
                             "--artifacts-destination", str(tmp_path / "server-artifacts"), "--host", "0.0.0.0", "--port", str(port),
                             "--workers", "1", "--allowed-hosts", "*"], stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        end = time.time() + 180
        while True:
            try:
                if urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2).status == 200:
                    break
            except OSError:
                pass
            if proc.poll() is not None or time.time() > end:
                pytest.fail("mlflow server did not start:\n" + _read(tmp_path / "server.log"))
            time.sleep(0.5)
        yield port
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def test_mlflow_server_and_a_container_run(tmp_path, busybox, mlflow_server):
    uri = f"http://{_bridge_ip()}:{mlflow_server}"
    script = ('env | grep ^MLFLOW_ | sort > outputs/env.txt\n'
              'echo "{\\"name\\": \\"loss\\", \\"value\\": 0.5, \\"step\\": 1}" >> "$TRAINFORM_METRICS_FILE"\n'
              'echo "{\\"name\\": \\"loss\\", \\"value\\": 0.25, \\"step\\": 2}" >> "$TRAINFORM_METRICS_FILE"\n'
              'echo trained\n')
    wd = make_wd(tmp_path, {"main.hcl": config("docker", run_block()), "src/run.sh": script}, extra_env={"MLFLOW_TRACKING_URI": uri})
    wd.apply()
    c, runs = _runs(uri, "exp")
    [r] = runs
    assert r.info.status == "FINISHED"
    assert r.data.params == {"arg_0": "a", "arg_1": "1"}
    assert [(m.step, m.value) for m in c.get_metric_history(r.info.run_id, "loss")] == [(1, 0.5), (2, 0.25)]
    assert _artifacts(c, r.info.run_id, "outputs") == ["outputs/env.txt"]
    env = _read(c.download_artifacts(r.info.run_id, "outputs/env.txt", str(tmp_path))).splitlines()
    # the server is reachable from the container: the run can log into the same MLflow run
    assert f"MLFLOW_RUN_ID={r.info.run_id}" in env and f"MLFLOW_TRACKING_URI={uri}" in env
    assert "trained" in _read(c.download_artifacts(r.info.run_id, "logs/attempt-1.log", str(tmp_path)))


def test_secrets_stay_out_of_mlflow_and_the_tracking_uri_password_is_never_shown(tmp_path, mlflow_server):
    """A sensitive argument is a param "(sensitive)", the logs in MLflow are masked, and a
    password in the tracking URI is neither printed, nor kept in run records, nor left
    unmasked in a log -- yet the run is finished in MLflow, also by a later refresh."""
    from tests.integration.test_runs import _refresh_until_done

    password, token = "uripw-7c1e55aa", "mlsecret-41d2e9f0"
    uri = f"http://alice:{password}@127.0.0.1:{mlflow_server}"
    script = 'env | grep ^MLFLOW_TRACKING_URI\nprintf "token=%s arg=%s\\n" "$TOKEN" "$2"\n'
    hcl = textwrap.dedent('''
        variable "token" {
          type      = string
          sensitive = true
        }
        ''') + config("process", run_block(args='["--token", var.token]', extra='  env_vars = {\n    TOKEN = var.token\n  }\n'))
    wd = make_wd(tmp_path, {"main.hcl": hcl, "src/run.sh": script},
                 extra_env={"MLFLOW_TRACKING_URI": uri, "TRAINFORM_VAR_token": token})
    texts = [wd.apply().text]
    wd.write("main.hcl", hcl.replace("  env_vars", "  wait = false\n  env_vars"))
    wd.write("src/run.sh", script + "# a new execution\n")
    texts.append(wd.apply().text)
    assert _refresh_until_done(wd)["status"] == "succeeded"  # finished in MLflow by a refresh, another process
    texts += [wd.run("runs", "-no-color", check=True).out, wd.run("runs", "-json", check=True).out,
              wd.run("logs", "run.train", check=True).out]
    c = _client(f"http://127.0.0.1:{mlflow_server}")
    _, runs = _runs(f"http://127.0.0.1:{mlflow_server}", "exp")
    assert len(runs) == 2
    for i, r in enumerate(runs):
        assert r.info.status == "FINISHED", i
        assert r.data.params == {"token": "(sensitive)"}
        log = _read(c.download_artifacts(r.info.run_id, "logs/attempt-1.log", str(tmp_path / f"dl{i}")))
        assert "token=*** arg=***" in log and "MLFLOW_TRACKING_URI=***" in log, log
        texts.append(log + json.dumps(r.data.tags) + r.info.run_name)
    assert "alice:***@127.0.0.1" in texts[0]  # shown, without the password
    for p in (tmp_path / "w").rglob("*"):
        if p.is_file():
            texts.append(p.read_bytes().decode("utf-8", "replace"))
    for text in texts:
        assert password not in text and token not in text, text[:2000]
