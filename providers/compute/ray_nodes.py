"""Processes of a Ray cluster trainform owns: a head and worker nodes on loopback.

Each node is one ``ray start --block`` in its own session (so stopping it
finds every child: raylet, agents, workers, and the nodes an autoscaler
started), with free loopback ports and a private short ``--temp-dir`` (Ray's
unix sockets live there; AF_UNIX paths are limited to 107 bytes).  A record
(pid, session, ports, temp dir, addresses) describes a node; it is what the
compute keeps in private state and what :func:`stop_head` takes.

Loopback only: see ``LOOPBACK_ENV``.  Split from :mod:`ray_cluster` (the
compute resource), which re-exports these names.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import uuid

from providers.compute.ray_autoscale import local_autoscaler_config

__all__ = ["LOOPBACK_ENV", "ensure_head", "head_alive", "start_worker", "stop_head"]

DEFAULT_OBJECT_STORE_MB = 200
_READY_TIMEOUT_S = 90.0


def _cluster():
    import providers.compute.ray_cluster as rc  # the HTTP checks (imported late: rc imports this module)

    return rc


def _free_port() -> int:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]
    finally:
        s.close()


def _port_free(port: int) -> bool:
    s = socket.socket()
    try:
        s.bind(("127.0.0.1", port))
        return True
    except OSError:
        return False
    finally:
        s.close()


_PORT_NAMES = ("port", "dashboard-port", "ray-client-server-port", "node-manager-port", "object-manager-port",
               "dashboard-agent-listen-port", "dashboard-agent-grpc-port", "runtime-env-agent-port", "metrics-export-port")


#: Owned nodes live on loopback.  Ray replaces 127.0.0.1 by the machine's
#: outside address (``resolve_ip_for_localhost``: a multi-node cluster must be
#: reachable), so a node asked to live on loopback would still advertise -- and
#: its gRPC servers bind -- every interface; Ray's servers bind 127.0.0.1 only
#: when the node address *is* 127.0.0.1.  ``RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER=0``
#: (set for every process of an owned node, see ``LOOPBACK_ENV``) is Ray's own
#: switch that keeps 127.0.0.1 in every Ray process (agents, workers, job
#: drivers); the ``ray start`` of a *worker* node refuses to join with it, so
#: that one command runs with the check lifted and the address kept as given.
LOOPBACK_ENV = {"RAY_ENABLE_WINDOWS_OR_OSX_CLUSTER": "0"}
_LOOPBACK_START = (
    "import sys\n"
    "import ray._private.ray_constants as constants\n"
    "import ray._private.services as services\n"
    "constants.ENABLE_RAY_CLUSTER = True\n"
    "services.resolve_ip_for_localhost = lambda host: host\n"
    "from ray.scripts.scripts import main\n"
    "sys.argv[0] = 'ray'\n"
    "main()\n"
)


def _ray_cli() -> list[str]:
    """``ray start`` for owned nodes (loopback kept; see ``_LOOPBACK_START``)."""
    return [sys.executable, "-c", _LOOPBACK_START]


#: heads started by this process, so their exit status is reaped (no zombies)
_CHILDREN: dict[int, subprocess.Popen] = {}


def _pid_alive(pid: int | None) -> bool:
    if not pid:
        return False
    p = _CHILDREN.get(pid)
    if p is not None and p.poll() is not None:  # reaps our own child, so it is no zombie
        return False
    from engine.providers import pid_alive

    return pid_alive(pid)


def head_alive(record: dict | None, timeout: float = 3.0) -> bool:
    """The owned head's process lives and its dashboard answers."""
    if not record:
        return False
    if record.get("pid") and not _pid_alive(int(record["pid"])):
        return False
    return _cluster().check_cluster(record["dashboard_url"], timeout) is not None


def ensure_head(spec: dict, workdir: str, prior: dict | None = None) -> dict:
    """Start an owned Ray head on loopback (or keep ``prior`` when it still answers).

    ``spec``: ``num_cpus`` (default: this machine's CPUs), ``num_gpus``
    (logical; None lets Ray detect), ``object_store_mb`` (default 200),
    ``resources`` (dict of custom resources).  ``workdir`` holds the head's
    console log.  Returns the record to keep in private state::

        {"owned": True, "pid", "session_id", "gcs_address", "dashboard_url",
         "temp_dir", "ports": {...}, "log_path", "spec", "started_at"}

    Raises :class:`RayClusterError` with a readable message when the head does
    not come up (the console log's tail is included).
    """
    ok, why = _cluster().ray_available()
    if not ok:
        raise _cluster().RayClusterError(why)
    if prior and head_alive(prior):
        return prior
    if prior:
        stop_head(prior)  # leftovers of a half-dead head
    os.makedirs(workdir, exist_ok=True)
    old_ports = (prior or {}).get("ports") or {}
    ports: dict[str, int] = {}
    for name in _PORT_NAMES:
        p = old_ports.get(name)
        ports[name] = p if isinstance(p, int) and _port_free(p) and p not in ports.values() else _free_port()
    # Ray's unix sockets live under the temp dir; AF_UNIX paths are limited to 107 bytes
    temp_dir = os.path.join(tempfile.gettempdir(), "tf-ray-" + uuid.uuid4().hex[:8])
    os.makedirs(temp_dir)
    num_cpus = spec.get("num_cpus")
    if num_cpus is None:
        num_cpus = os.cpu_count() or 1
    argv = _ray_cli() + [
        "start", "--head", "--block", "--disable-usage-stats",
        "--node-ip-address", "127.0.0.1", "--dashboard-host", "127.0.0.1", "--include-dashboard", "true",
        "--temp-dir", temp_dir, "--num-cpus", str(int(num_cpus)),
        "--object-store-memory", str(int((spec.get("object_store_mb") or DEFAULT_OBJECT_STORE_MB) * 1024 * 1024)),
    ] + _resource_args(spec)
    env = dict(spec.get("env") or {})
    if spec.get("autoscaler") is not None:
        # Ray's autoscaler with its fake multi-node provider: worker nodes are processes here
        config_path = os.path.join(workdir, "autoscaler.json")
        with open(config_path, "w") as f:
            json.dump(local_autoscaler_config(spec["autoscaler"], f"127.0.0.1:{ports['port']}", int(num_cpus)), f)
        argv += ["--autoscaling-config", config_path]
        env.update(RAY_FAKE_CLUSTER="1", AUTOSCALER_UPDATE_INTERVAL_S="1")
    for name, p in ports.items():
        argv += [f"--{name}", str(p)]
    log_path = os.path.join(workdir, "head.log")
    proc = _spawn(argv, log_path, workdir, env)
    record = {
        "owned": True, "pid": proc.pid, "session_id": proc.pid, "gcs_address": f"127.0.0.1:{ports['port']}",
        "dashboard_url": f"http://127.0.0.1:{ports['dashboard-port']}", "temp_dir": temp_dir, "ports": ports,
        "client_address": f"ray://127.0.0.1:{ports['ray-client-server-port']}",
        "log_path": log_path, "started_at": time.time(),
        "spec": {"num_cpus": int(num_cpus), "num_gpus": spec.get("num_gpus"), "object_store_mb": spec.get("object_store_mb") or DEFAULT_OBJECT_STORE_MB,
                 "autoscaler": spec.get("autoscaler")},
    }
    deadline = time.time() + float(spec.get("ready_timeout_s") or _READY_TIMEOUT_S)
    while True:
        if proc.poll() is not None:
            tail = _tail(log_path)
            stop_head(record)
            raise _cluster().RayClusterError(f"the Ray head exited with status {proc.returncode} while starting. Its log ({log_path}) ends with:\n{tail}")
        info = _cluster().check_cluster(record["dashboard_url"], 2.0)
        if info and info["nodes"] >= 1 and _jobs_api_ready(record["dashboard_url"]):
            return record
        if time.time() > deadline:
            tail = _tail(log_path)
            stop_head(record)
            raise _cluster().RayClusterError(f"the Ray head did not answer within {deadline - record['started_at']:.0f}s. Its log ({log_path}) ends with:\n{tail}")
        time.sleep(0.25)


_WORKER_PORT_NAMES = ("node-manager-port", "object-manager-port", "dashboard-agent-listen-port", "dashboard-agent-grpc-port",
                      "runtime-env-agent-port", "metrics-export-port")


def _resource_args(spec: dict) -> list[str]:
    out = []
    if spec.get("num_gpus") is not None:
        out += ["--num-gpus", str(int(spec["num_gpus"]))]
    if spec.get("resources"):
        out += ["--resources", json.dumps(spec["resources"])]
    return out


def _spawn(argv: list[str], log_path: str, workdir: str, extra_env: dict | None = None) -> subprocess.Popen:
    """Start a ``ray start --block`` in its own session (so stopping it finds every child)."""
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", **LOOPBACK_ENV, **(extra_env or {}))
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, cwd=workdir)
    _CHILDREN[proc.pid] = proc
    return proc


def start_worker(head: dict, spec: dict, workdir: str) -> dict:
    """Join one worker node to an owned head, on loopback with free ports.

    ``spec``: ``num_cpus`` (default 1), ``num_gpus`` (logical), ``resources``,
    ``object_store_mb``.  Several workers on one machine are separate raylets
    (what a multi-node cluster looks like to the scheduler), each with its own
    temp dir.  Returns a record :func:`stop_head` stops (it has ``node_id``)."""
    ok, why = _cluster().ray_available()
    if not ok:
        raise _cluster().RayClusterError(why)
    os.makedirs(workdir, exist_ok=True)
    ports = {}
    for name in _WORKER_PORT_NAMES:
        p = _free_port()
        while p in ports.values():
            p = _free_port()
        ports[name] = p
    temp_dir = os.path.join(tempfile.gettempdir(), "tf-ray-" + uuid.uuid4().hex[:8])
    os.makedirs(temp_dir)
    before = {n["node_id"] for n in _cluster().list_nodes(head["dashboard_url"]) if n.get("state") == "ALIVE"}
    argv = _ray_cli() + [
        "start", "--address", head["gcs_address"], "--block", "--disable-usage-stats",
        "--node-ip-address", "127.0.0.1", "--temp-dir", temp_dir, "--num-cpus", str(int(spec.get("num_cpus") or 1)),
        "--object-store-memory", str(int((spec.get("object_store_mb") or DEFAULT_OBJECT_STORE_MB) * 1024 * 1024)),
    ] + _resource_args(spec)
    for name, p in ports.items():
        argv += [f"--{name}", str(p)]
    log_path = os.path.join(workdir, f"worker-{uuid.uuid4().hex[:6]}.log")
    proc = _spawn(argv, log_path, workdir, spec.get("env"))
    record = {"owned": True, "worker": True, "pid": proc.pid, "session_id": proc.pid, "temp_dir": temp_dir, "ports": ports,
              "log_path": log_path, "started_at": time.time(), "node_id": None}
    deadline = time.time() + float(spec.get("ready_timeout_s") or _READY_TIMEOUT_S)
    while True:
        if proc.poll() is not None:
            tail = _tail(log_path)
            stop_head(record)
            raise _cluster().RayClusterError(f"a Ray worker node exited with status {proc.returncode} while starting. Its log ({log_path}) ends with:\n{tail}")
        new = [n for n in _cluster().list_nodes(head["dashboard_url"]) if n.get("state") == "ALIVE" and n["node_id"] not in before
               and int(n.get("ports", {}).get("node_manager_port") or n.get("node_manager_port") or 0) in (0, ports["node-manager-port"])]
        mine = [n for n in new if int(n.get("node_manager_port") or 0) == ports["node-manager-port"]] or new
        if mine:
            record["node_id"] = mine[0]["node_id"]
            return record
        if time.time() > deadline:
            tail = _tail(log_path)
            stop_head(record)
            raise _cluster().RayClusterError(f"a Ray worker node did not join within {deadline - record['started_at']:.0f}s. Its log ({log_path}) ends with:\n{tail}")
        time.sleep(0.25)


def _jobs_api_ready(url: str) -> bool:
    try:
        _cluster()._get_json(url + "/api/jobs/", 2.0)
        return True
    except (OSError, urllib.error.URLError, ValueError):
        return False


def _tail(path: str, n: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-n:]).rstrip() or "(empty)"
    except OSError:
        return "(no log)"


def _session_pids(sid: int) -> list[int]:
    """Processes of the session ``sid`` (the head and everything it started)."""
    out = []
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        # fields: state ppid pgrp session ...
        if len(fields) > 3 and fields[0] not in ("Z", "X") and int(fields[3]) == sid:
            out.append(int(name))
    return out


def stop_head(record: dict | None, grace: float = 5.0) -> None:
    """Stop an owned head: SIGTERM every process of its session, SIGKILL what
    is left after ``grace`` seconds, reap it and remove its temp dir.  Idempotent."""
    if not record or not record.get("owned"):
        return
    sid = int(record.get("session_id") or record.get("pid") or 0)
    if sid <= 1 or sid == os.getsid(0):
        return  # never signal our own session
    pids = _session_pids(sid)
    for pid in pids:
        _signal(pid, signal.SIGTERM)
    end = time.time() + grace
    while time.time() < end and _session_pids(sid):
        _reap(sid)
        time.sleep(0.1)
    for pid in _session_pids(sid):
        _signal(pid, signal.SIGKILL)
    end = time.time() + 5
    while time.time() < end and _session_pids(sid):
        _reap(sid)
        time.sleep(0.05)
    _reap(sid)
    td = record.get("temp_dir")
    if td and os.path.basename(td).startswith("tf-ray-"):
        shutil.rmtree(td, ignore_errors=True)


def _signal(pid: int, sig) -> None:
    try:
        os.kill(pid, sig)
    except (ProcessLookupError, PermissionError):
        pass


def _reap(pid: int) -> None:
    p = _CHILDREN.get(pid)
    if p is not None and p.poll() is not None:
        _CHILDREN.pop(pid, None)
