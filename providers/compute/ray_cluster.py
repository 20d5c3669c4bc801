"""Ray clusters for ``compute { type = "ray" }``: own a local head, or check an existing one.

Two modes, decided by ``ray { address = ... }``:

* **existing cluster** (an address is set): trainform does not own it.  Apply
  asks the cluster's dashboard / job server (``/api/v0/nodes``) whether it
  answers and records its resources (nodes, CPUs, GPUs); refresh asks again,
  so a cluster that went away reads as *gone* (drift: the next plan wants to
  create it, i.e. check it again); destroy only forgets it.
* **owned head** (no address): apply starts ``ray start --head --block`` on
  127.0.0.1 with the declared resources (``--num-gpus gpus_per_node``: Ray's
  GPUs are *logical*, so they work without hardware), free loopback ports and
  a private ``--temp-dir``, in its own session; the record (ports, pid, temp
  dir) lives in the resource's private state.  Destroy stops every process of
  that session (SIGTERM, then SIGKILL); refresh reads a dead head as gone, so
  the next apply starts it again.

Addresses: ``http://host:8265`` (the dashboard, which serves the job API) is
what trainform talks to.  ``host:port`` is read as a dashboard address too;
``ray://host:10001`` (Ray Client) is mapped to ``http://host:8265`` (the
default dashboard port), with a note in the state.

Autoscaling (``min_nodes``/``max_nodes``/``idle_seconds_before_scaledown``)
cannot be applied to a running cluster through the job API, so trainform
*emits* the equivalent ``ray up`` cluster YAML (:func:`autoscaler_yaml`, shown
by ``trainform show``) instead of pretending to enforce it.

Nothing here imports ``ray`` at module import time; the HTTP checks use
urllib, so ``trainform plan`` stays fast.
"""

from __future__ import annotations

import hashlib
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
import urllib.parse
import urllib.request
import uuid

__all__ = [
    "DEFAULT_DASHBOARD_PORT",
    "RayClusterError",
    "RayCompute",
    "autoscaler_yaml",
    "check_cluster",
    "dashboard_url",
    "ensure_head",
    "head_alive",
    "ray_available",
    "show_extra",
    "stop_head",
]

DEFAULT_DASHBOARD_PORT = 8265
#: object store of an owned head: runs pass data through files, not Ray objects
DEFAULT_OBJECT_STORE_MB = 200
_READY_TIMEOUT_S = 90.0


class RayClusterError(Exception):
    """A cluster could not be started, reached or stopped (the message is for users)."""


def ray_available() -> tuple[bool, str]:
    """(True, version) when ``ray`` with its job-submission client is importable;
    else (False, a sentence saying what to install)."""
    import importlib.util

    if importlib.util.find_spec("ray") is None:
        return False, ("Ray is not installed in the Python that runs trainform. Install the optional extra: "
                       "pip install 'trainform[ray]' (or pip install 'ray[default]').")
    try:
        import ray
        from ray.job_submission import JobSubmissionClient  # noqa: F401 - needs ray[default]
    except Exception as e:  # noqa: BLE001 - a half-installed ray raises anything
        return False, (f"Ray is installed but its job-submission client cannot be loaded ({type(e).__name__}: {e}). "
                       "Install the dashboard dependencies: pip install 'ray[default]'.")
    return True, getattr(ray, "__version__", "unknown")


# ---------------------------------------------------------------- addresses / HTTP

def dashboard_url(address: str) -> str:
    """The job-server URL for a user-given address (see the module docstring)."""
    a = (address or "").strip().rstrip("/")
    if a.startswith(("http://", "https://")):
        return a
    if a.startswith("ray://"):
        host = urllib.parse.urlsplit(a).hostname or "127.0.0.1"
        return f"http://{host}:{DEFAULT_DASHBOARD_PORT}"
    if ":" not in a:
        return f"http://{a}:{DEFAULT_DASHBOARD_PORT}"
    return "http://" + a


def _get_json(url: str, timeout: float):
    req = urllib.request.Request(url, headers={"Accept": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as r:
        return json.loads(r.read().decode("utf-8", "replace"))


def check_cluster(address: str, timeout: float = 5.0) -> dict | None:
    """Resources of the cluster whose dashboard is at ``address``; None when it does not answer.

    ``{"dashboard_url", "ray_version", "nodes", "cpus", "gpus", "node_ips",
    "max_node_cpus", "max_node_gpus"}``
    counting ALIVE nodes only.
    """
    url = dashboard_url(address)
    try:
        version = _get_json(url + "/api/version", timeout)
        data = _get_json(url + "/api/v0/nodes?limit=10000&detail=true", timeout)
    except (OSError, urllib.error.URLError, ValueError):
        return None
    try:
        rows = data["data"]["result"]["result"]
    except (KeyError, TypeError):
        return None
    alive = [n for n in rows if isinstance(n, dict) and n.get("state") == "ALIVE"]
    cpus = sum(float((n.get("resources_total") or {}).get("CPU", 0)) for n in alive)
    gpus = sum(float((n.get("resources_total") or {}).get("GPU", 0)) for n in alive)
    return {
        "dashboard_url": url,
        "ray_version": version.get("ray_version") if isinstance(version, dict) else None,
        "nodes": len(alive),
        "cpus": _num(cpus),
        "gpus": _num(gpus),
        "node_ips": sorted({str(n.get("node_ip")) for n in alive}),
        "max_node_cpus": _num(max([float((n.get("resources_total") or {}).get("CPU", 0)) for n in alive] or [0])),
        "max_node_gpus": _num(max([float((n.get("resources_total") or {}).get("GPU", 0)) for n in alive] or [0])),
    }


def gcs_address(address: str, timeout: float = 5.0) -> str | None:
    """The GCS address (``host:port``, what ``ray.init`` connects a driver to) of
    the cluster whose dashboard is at ``address``; None when it cannot be told.

    The job API does not say it; the dashboard's node summary shows each
    raylet's command line, which carries ``--gcs-address``."""
    import re

    try:
        req = urllib.request.Request(dashboard_url(address) + "/nodes?view=summary", headers={"Accept": "application/json"})
        with urllib.request.urlopen(req, timeout=timeout) as r:
            text = r.read().decode("utf-8", "replace")
    except (OSError, urllib.error.URLError, ValueError):
        return None
    m = re.search(r"--gcs[-_]address=([A-Za-z0-9_.:\[\]-]+:\d+)", text)
    return m.group(1) if m else None


def _num(x: float):
    return int(x) if float(x).is_integer() else x


# ---------------------------------------------------------------- owned head

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
    if p is not None and p.poll() is not None:
        return False
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except (OSError, IndexError):
        try:
            os.kill(pid, 0)
            return True
        except OSError:
            return False


def head_alive(record: dict | None, timeout: float = 3.0) -> bool:
    """The owned head's process lives and its dashboard answers."""
    if not record:
        return False
    if record.get("pid") and not _pid_alive(int(record["pid"])):
        return False
    return check_cluster(record["dashboard_url"], timeout) is not None


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
    ok, why = ray_available()
    if not ok:
        raise RayClusterError(why)
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
            raise RayClusterError(f"the Ray head exited with status {proc.returncode} while starting. Its log ({log_path}) ends with:\n{tail}")
        info = check_cluster(record["dashboard_url"], 2.0)
        if info and info["nodes"] >= 1 and _jobs_api_ready(record["dashboard_url"]):
            return record
        if time.time() > deadline:
            tail = _tail(log_path)
            stop_head(record)
            raise RayClusterError(f"the Ray head did not answer within {deadline - record['started_at']:.0f}s. Its log ({log_path}) ends with:\n{tail}")
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
    ok, why = ray_available()
    if not ok:
        raise RayClusterError(why)
    os.makedirs(workdir, exist_ok=True)
    ports = {}
    for name in _WORKER_PORT_NAMES:
        p = _free_port()
        while p in ports.values():
            p = _free_port()
        ports[name] = p
    temp_dir = os.path.join(tempfile.gettempdir(), "tf-ray-" + uuid.uuid4().hex[:8])
    os.makedirs(temp_dir)
    before = {n["node_id"] for n in list_nodes(head["dashboard_url"]) if n.get("state") == "ALIVE"}
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
            raise RayClusterError(f"a Ray worker node exited with status {proc.returncode} while starting. Its log ({log_path}) ends with:\n{tail}")
        new = [n for n in list_nodes(head["dashboard_url"]) if n.get("state") == "ALIVE" and n["node_id"] not in before
               and int(n.get("ports", {}).get("node_manager_port") or n.get("node_manager_port") or 0) in (0, ports["node-manager-port"])]
        mine = [n for n in new if int(n.get("node_manager_port") or 0) == ports["node-manager-port"]] or new
        if mine:
            record["node_id"] = mine[0]["node_id"]
            return record
        if time.time() > deadline:
            tail = _tail(log_path)
            stop_head(record)
            raise RayClusterError(f"a Ray worker node did not join within {deadline - record['started_at']:.0f}s. Its log ({log_path}) ends with:\n{tail}")
        time.sleep(0.25)


def list_nodes(address: str, timeout: float = 5.0) -> list[dict]:
    """The cluster's node rows (``/api/v0/nodes``); empty when it does not answer."""
    try:
        data = _get_json(dashboard_url(address) + "/api/v0/nodes?limit=10000&detail=true", timeout)
        return [n for n in data["data"]["result"]["result"] if isinstance(n, dict)]
    except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError):
        return []


def _jobs_api_ready(url: str) -> bool:
    try:
        _get_json(url + "/api/jobs/", 2.0)
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


# ---------------------------------------------------------------- autoscaler

def _scaling(attrs: dict) -> tuple[int, int, float, int | None]:
    """(min_nodes, max_nodes, idle seconds, gpus_per_node) with trainform's defaults."""
    def whole(v):
        return int(v) if isinstance(v, (int, float)) and not isinstance(v, bool) else None

    min_nodes = whole(attrs.get("min_nodes")) or 0
    max_nodes = whole(attrs.get("max_nodes"))
    max_nodes = max_nodes if max_nodes is not None else max(min_nodes, 1)
    idle = whole(attrs.get("idle_seconds_before_scaledown"))
    return min_nodes, max_nodes, float(idle if idle is not None else 300), whole(attrs.get("gpus_per_node"))


def autoscaler_yaml(attrs: dict, cluster_name: str = "trainform") -> str:
    """The ``ray up`` cluster config equivalent to a compute's scaling settings.

    An on-premise ("local" provider, manually listed machines) cluster YAML,
    the one Ray accepts with no cloud account, valid as written (checked with
    Ray's own ``prepare_config`` + ``validate_config`` in the tests):

    ================================= ==============================================
    compute attribute                 cluster YAML
    ================================= ==============================================
    ``min_nodes``                     ``min_workers``
    ``max_nodes``                     ``max_workers`` (and as many ``worker_ips``)
    ``idle_seconds_before_scaledown`` ``idle_timeout_minutes`` (rounded up, at least 1)
    ``gpus_per_node``                 ``--num-gpus`` of the workers' ``ray start``
    ================================= ==============================================

    Replace ``HEAD_IP``/``WORKER_IP_n`` with the machines, or the provider
    section with a cloud's (then node types carry ``vm_size``).  The head is
    started with ``--num-gpus=0`` so that training runs on the workers.
    """
    import yaml

    min_nodes, max_nodes, idle, gpn = _scaling(attrs)
    gpus = f" --num-gpus={gpn}" if gpn else ""
    doc = {
        "cluster_name": cluster_name,
        "provider": {"type": "local", "head_ip": "HEAD_IP", "worker_ips": [f"WORKER_IP_{i + 1}" for i in range(max_nodes)]},
        "auth": {"ssh_user": "ubuntu"},
        "min_workers": min(min_nodes, max_nodes),
        "max_workers": max_nodes,
        "idle_timeout_minutes": max(1, -(-int(idle) // 60)),
        "upscaling_speed": 1.0,
        "head_start_ray_commands": ["ray stop", "ray start --head --port=6379 --num-gpus=0 --autoscaling-config=~/ray_bootstrap_config.yaml"],
        "worker_start_ray_commands": ["ray stop", f"ray start --address=$RAY_HEAD_IP:6379{gpus}"],
    }
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


#: the worker node type of a local autoscaler (see :func:`local_autoscaler_config`)
LOCAL_WORKER_TYPE = "trainform.gpu_worker"


def local_autoscaler_config(attrs: dict, gcs_address: str, head_cpus: int = 1) -> dict:
    """A cluster config for Ray's *fake multi-node* provider: the autoscaler of an
    owned head starts worker nodes as processes on this machine (loopback,
    ``gpus_per_node`` logical GPUs and one CPU each), between ``min_nodes``
    and ``max_nodes``, and stops a node idle for ``idle_seconds_before_scaledown``."""
    min_nodes, max_nodes, idle, gpn = _scaling(attrs)
    worker = {"CPU": 1}
    if gpn:
        worker["GPU"] = gpn
    return {
        "cluster_name": "trainform-local",
        "max_workers": max_nodes,
        "upscaling_speed": 1.0,
        "idle_timeout_minutes": max(idle, 1.0) / 60.0,
        "provider": {"type": "fake_multinode", "gcs_address": gcs_address, "use_node_id_as_ip": True,
                     "disable_node_updaters": True, "disable_launch_config_check": True},
        "available_node_types": {
            "ray.head.default": {"resources": {"CPU": head_cpus}, "node_config": {}, "max_workers": 0},
            LOCAL_WORKER_TYPE: {"resources": worker, "node_config": {}, "min_workers": min(min_nodes, max_nodes),
                                "max_workers": max_nodes},
        },
        "head_node_type": "ray.head.default",
        "docker": {}, "initialization_commands": [], "setup_commands": [], "head_setup_commands": [],
        "worker_setup_commands": [], "head_start_ray_commands": [], "worker_start_ray_commands": [], "auth": {},
        "cluster_synced_files": [], "file_mounts": {}, "file_mounts_sync_continuously": False, "rsync_exclude": [],
        "rsync_filter": [],
    }


def show_extra(address: str, attrs: dict) -> str | None:
    """Text for ``trainform show``: the autoscaler YAML of a ray compute (None otherwise)."""
    if not isinstance(attrs, dict) or attrs.get("type") != "ray":
        return None
    name = address.split(".")[-1].strip('"[]') or "trainform"
    name = "".join(c if c.isalnum() or c in "-_" else "-" for c in name)
    body = autoscaler_yaml(attrs, cluster_name=name)
    return (f"# {address}: Ray autoscaler settings (min_nodes -> min_workers, max_nodes -> max_workers,\n"
            f"# idle_seconds_before_scaledown -> idle_timeout_minutes); use with `ray up`.\n" + body.rstrip())


# ---------------------------------------------------------------- the resource

#: computed attributes a ray compute adds to the compute schema
RAY_COMPUTED = ("dashboard_url", "cluster")


class RayCompute:
    """``compute { type = "ray" }``: the ``providers.compute.ray`` hook of the compute provider.

    Each method takes ``(ctx, request)`` and returns the provider response, so
    ``ComputeProvider`` delegates unchanged.  State adds ``dashboard_url`` (the
    job server runs submit to) and ``cluster`` (``owned``, ``nodes``, ``cpus``,
    ``gpus``, ``ray_version``, ``gcs_address``); an owned head's process record
    lives in the private state.
    """

    def validate(self, ctx, req):
        from engine.diagnostics import Diagnostics
        from engine.values import Unknown
        from providers.base import ValidateResponse

        d = Diagnostics()
        ok, why = ray_available()
        if not ok:
            d.error("Ray is not installed", f"{req.address} has type = \"ray\", but {why[0].lower() + why[1:]}")
        c = req.config
        for name in ("min_nodes", "max_nodes", "gpus_per_node", "idle_seconds_before_scaledown"):
            v = c.get(name)
            if v is None or isinstance(v, Unknown):
                continue
            if isinstance(v, bool) or not isinstance(v, (int, float)) or v < 0 or int(v) != v:
                d.error(f"Invalid {name}", f"{name} must be a whole number of at least 0, not {v!r}.")
        lo, hi = c.get("min_nodes"), c.get("max_nodes")
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi:
            d.error("Invalid node counts", f"min_nodes ({lo:g}) is larger than max_nodes ({hi:g}).")
        addr = _address(c)
        if addr is not None and _autoscaled(c):
            d.error("Invalid ray block", "local_autoscaler applies to the head trainform starts; an existing cluster (ray.address) "
                    "scales with its own autoscaler: remove one of the two.")
        if isinstance(addr, str) and not addr.strip():
            d.error("Invalid ray address", 'ray { address = "" } is empty: give http://HOST:8265, or remove address to start a local head.')
        return ValidateResponse(d)

    def plan(self, ctx, req):
        from engine.values import UNKNOWN
        from providers.base import PlanResponse

        if req.config is None:
            return PlanResponse(planned_state=None)
        cfg, prior = req.config, req.prior_state
        planned = {k: v for k, v in cfg.items()}
        planned.update(gpus_detected=[], gpu_indexes=[])
        replace = []
        if prior is not None:
            for k in ("workspace", "type"):
                if prior.get(k) != cfg.get(k):
                    replace.append((k,))
            if _address(prior) != _address(cfg):
                replace.append(("ray",))
            elif _address(cfg) is None and prior.get("gpus_per_node") != cfg.get("gpus_per_node"):
                replace.append(("gpus_per_node",))  # an owned head's resources are fixed at start
            elif _autoscaled(prior) != _autoscaled(cfg):
                replace.append(("ray",))
            elif _autoscaled(cfg):
                for k in ("min_nodes", "max_nodes", "idle_seconds_before_scaledown"):
                    if prior.get(k) != cfg.get(k):
                        replace.append((k,))  # the autoscaler's settings are read at start
        if prior is None or replace:
            for k in ("id", "capacity") + RAY_COMPUTED:
                planned[k] = UNKNOWN
        else:
            for k in ("id", "capacity") + RAY_COMPUTED:
                planned[k] = prior.get(k)
        reason = None
        if replace:
            reason = " and ".join({"ray": "ray block"}.get(p[0], p[0]) for p in replace) + " changed"
            if ("gpus_per_node",) in replace:
                reason += " (the Ray head is restarted with the new resources)"
        return PlanResponse(planned_state=planned, requires_replace=replace, reason=reason, private=req.prior_private)

    def apply(self, ctx, req):
        from engine.diagnostics import Diagnostics
        from engine.values import Unknown
        from providers.base import DELETE, ApplyResponse

        d = Diagnostics()
        if req.action == DELETE:
            rec = (req.private or {}).get("head")
            if rec:
                ctx.progress(req.address, f"Stopping the Ray head at {rec.get('dashboard_url')}...")
                stop_head(rec)
            return ApplyResponse(new_state=None)
        new = dict(req.planned_state)
        private = dict(req.private or {})
        addr = _address(new)
        if addr is not None:
            info = check_cluster(addr)
            if info is None:
                d.error("Ray cluster does not answer",
                        f"{req.address}: no Ray dashboard/job server answered at {dashboard_url(addr)} "
                        f"(ray.address = \"{addr}\"). Check the address and that the cluster is up (ray status), "
                        "or remove ray.address to let trainform start a local head.")
                return ApplyResponse(new_state=None, diagnostics=d)
            private.pop("head", None)
            owned = False
        else:
            ok, why = ray_available()
            if not ok:
                d.error("Ray is not installed", why)
                return ApplyResponse(new_state=None, diagnostics=d)
            ctx.progress(req.address, "Starting a Ray head on 127.0.0.1...")
            workdir = os.path.join(ctx.data_dir, "ray", _safe(req.address))
            try:
                rec = ensure_head(_head_spec(new), workdir, private.get("head"))
            except RayClusterError as e:
                d.error("Ray head did not start", f"{req.address}: {e}")
                return ApplyResponse(new_state=None, diagnostics=d)
            private["head"] = rec
            info = check_cluster(rec["dashboard_url"]) or {}
            owned = True
        # only values planned as unknown may change: the engine checks the rest
        fresh = {"id": "compute-" + uuid.uuid4().hex[:16], "dashboard_url": info.get("dashboard_url"),
                 "cluster": _cluster_attr(info, owned, private.get("head")), "capacity": _capacity(info)}
        for k, v in fresh.items():
            if isinstance(new.get(k), Unknown) or new.get(k) is None:
                new[k] = v
        return ApplyResponse(new_state=new, private=private, diagnostics=d)

    def read(self, ctx, req):
        from engine.diagnostics import Diagnostics
        from providers.base import ReadResponse

        st = req.state
        d = Diagnostics()
        addr = _address(st)
        rec = (req.private or {}).get("head")
        if addr is None:
            if not rec or not head_alive(rec):
                d.warning("Ray head is not running", f"{req.address}: the Ray head trainform started ({(rec or {}).get('dashboard_url')}) is gone; the next apply starts it again.")
                if rec:
                    stop_head(rec)  # reap leftovers so its ports are free again
                return ReadResponse(new_state=None, diagnostics=d)
            info = check_cluster(rec["dashboard_url"]) or {}
        else:
            info = check_cluster(addr)
            if info is None:
                d.warning("Ray cluster does not answer", f"{req.address}: the Ray cluster at {dashboard_url(addr)} did not answer; it is planned to be checked again.")
                return ReadResponse(new_state=None, diagnostics=d)
        new = dict(st)
        new["cluster"] = _cluster_attr(info, addr is None, rec)
        new["capacity"] = _capacity(info)
        if addr is None:
            new["dashboard_url"] = rec["dashboard_url"]
        return ReadResponse(new_state=new, private=req.private, diagnostics=d)


def _address(attrs: dict | None):
    r = (attrs or {}).get("ray")
    if isinstance(r, list):
        r = r[0] if r else None
    if isinstance(r, dict):
        return r.get("address")
    return None


def _safe(address: str) -> str:
    s = "".join(c if c.isalnum() or c in "-_." else "_" for c in address)
    return s[:60] + "-" + hashlib.sha256(address.encode()).hexdigest()[:8]


def _autoscaled(attrs: dict | None) -> bool:
    r = (attrs or {}).get("ray")
    if isinstance(r, list):
        r = r[0] if r else None
    return bool(isinstance(r, dict) and r.get("local_autoscaler") is True)


def _head_spec(attrs: dict) -> dict:
    """An owned head's resources: logical GPUs = gpus_per_node; CPUs and object
    store from TRAINFORM_RAY_HEAD_CPUS / TRAINFORM_RAY_OBJECT_STORE_MB (defaults:
    all CPUs, 200 MB)."""
    gpn = attrs.get("gpus_per_node")
    cpus = os.environ.get("TRAINFORM_RAY_HEAD_CPUS")
    store = os.environ.get("TRAINFORM_RAY_OBJECT_STORE_MB")
    spec = {"num_gpus": int(gpn) if isinstance(gpn, (int, float)) and not isinstance(gpn, bool) else None,
            "num_cpus": int(cpus) if cpus else None, "object_store_mb": int(store) if store else None}
    if _autoscaled(attrs):
        # the head only coordinates; GPUs come with the worker nodes the autoscaler starts
        spec.update(num_gpus=0, autoscaler={k: attrs.get(k) for k in ("min_nodes", "max_nodes", "idle_seconds_before_scaledown", "gpus_per_node")})
    return spec


def _cluster_attr(info: dict, owned: bool, rec: dict | None) -> dict:
    # image_uri needs podman on the nodes: known for a head on this machine only
    images = bool(shutil.which("podman")) if owned else False
    return {"owned": owned, "nodes": info.get("nodes", 0), "cpus": info.get("cpus", 0), "gpus": info.get("gpus", 0),
            "ray_version": info.get("ray_version"), "gcs_address": (rec or {}).get("gcs_address") if owned else None,
            "images": images, "autoscaler": bool(owned and ((rec or {}).get("spec") or {}).get("autoscaler"))}


def _capacity(info: dict) -> int:
    """Runs the cluster can hold at once if each takes one GPU (or one CPU on a
    CPU-only cluster); display only: Ray queues the rest itself."""
    return max(1, int(info.get("gpus") or 0) or int(info.get("cpus") or 1))
