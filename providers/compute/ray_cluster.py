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
    "ray_available", "RayClusterError", "dashboard_url", "check_cluster", "ensure_head", "head_alive",
    "stop_head", "autoscaler_yaml", "show_extra", "RayCompute", "DEFAULT_DASHBOARD_PORT",
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
    with urllib.request.urlopen(req, timeout=timeout) as r:  # noqa: S310 - user-configured cluster
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


def _ray_cli() -> list[str]:
    sibling = os.path.join(os.path.dirname(sys.executable), "ray")
    if os.path.exists(sibling):
        return [sibling]
    found = shutil.which("ray")
    if found:
        return [found]
    return [sys.executable, "-c", "import sys; from ray.scripts.scripts import main; sys.argv[0] = 'ray'; main()"]


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
    ]
    if spec.get("num_gpus") is not None:
        argv += ["--num-gpus", str(int(spec["num_gpus"]))]
    if spec.get("resources"):
        argv += ["--resources", json.dumps(spec["resources"])]
    for name, p in ports.items():
        argv += [f"--{name}", str(p)]
    log_path = os.path.join(workdir, "head.log")
    env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0")
    with open(log_path, "ab") as log:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True, env=env, cwd=workdir)
    _CHILDREN[proc.pid] = proc
    record = {
        "owned": True, "pid": proc.pid, "session_id": proc.pid, "gcs_address": f"127.0.0.1:{ports['port']}",
        "dashboard_url": f"http://127.0.0.1:{ports['dashboard-port']}", "temp_dir": temp_dir, "ports": ports,
        "log_path": log_path, "started_at": time.time(),
        "spec": {"num_cpus": int(num_cpus), "num_gpus": spec.get("num_gpus"), "object_store_mb": spec.get("object_store_mb") or DEFAULT_OBJECT_STORE_MB},
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

def autoscaler_yaml(attrs: dict, cluster_name: str = "trainform") -> str:
    """The ``ray up`` cluster config equivalent to a compute's scaling settings.

    Mapping (Ray autoscaler v1 cluster YAML):

    ============================== =================================================
    compute attribute              cluster YAML
    ============================== =================================================
    ``min_nodes``                  ``available_node_types.gpu_worker.min_workers``
    ``max_nodes``                  ``available_node_types.gpu_worker.max_workers``
                                   and the cluster-wide ``max_workers``
    ``idle_seconds_before_scaledown`` ``idle_timeout_minutes`` (rounded up to whole minutes, at least 1)
    ``gpus_per_node``              ``resources: {GPU: n}`` of the worker type
    ``vm_size``                    ``node_config`` (an ``InstanceType`` label; adapt to the cloud)
    ============================== =================================================

    AML counts nodes without a head, so the head is a separate type with zero
    GPUs that never runs training (``resources: {CPU: 0}`` keeps jobs off it is
    *not* used: the job supervisor needs the head).  ``provider: local`` with
    placeholder IPs is emitted so the file is valid as written; replace the
    provider section for a cloud.
    """
    import yaml

    min_nodes = int(attrs.get("min_nodes") or 0)
    max_nodes = attrs.get("max_nodes")
    max_nodes = int(max_nodes) if isinstance(max_nodes, (int, float)) and not isinstance(max_nodes, bool) else max(min_nodes, 1)
    idle = attrs.get("idle_seconds_before_scaledown")
    idle_minutes = max(1, -(-int(idle) // 60)) if isinstance(idle, (int, float)) and not isinstance(idle, bool) else 5
    gpn = attrs.get("gpus_per_node")
    worker_res: dict = {}
    if isinstance(gpn, (int, float)) and not isinstance(gpn, bool) and gpn:
        worker_res["GPU"] = int(gpn)
    node_config = {"InstanceType": attrs["vm_size"]} if attrs.get("vm_size") else {}
    doc = {
        "cluster_name": cluster_name,
        "max_workers": max_nodes,
        "idle_timeout_minutes": idle_minutes,
        "upscaling_speed": 1.0,
        "provider": {"type": "local", "head_ip": "HEAD_IP", "worker_ips": [f"WORKER_IP_{i + 1}" for i in range(max_nodes)]},
        "auth": {"ssh_user": "ubuntu"},
        "available_node_types": {
            "head": {"resources": {"GPU": 0}, "node_config": {}, "min_workers": 0, "max_workers": 0},
            "gpu_worker": {"resources": worker_res, "node_config": node_config, "min_workers": min_nodes, "max_workers": max_nodes},
        },
        "head_node_type": "head",
        "head_start_ray_commands": ["ray stop", "ray start --head --port=6379 --dashboard-host=0.0.0.0 --autoscaling-config=~/ray_bootstrap_config.yaml"],
        "worker_start_ray_commands": ["ray stop", "ray start --address=$RAY_HEAD_IP:6379"],
    }
    return yaml.safe_dump(doc, sort_keys=False, default_flow_style=False)


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
        from engine.providers import Diagnostics
        from engine.providers import Unknown
        from engine.providers import ValidateResponse

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
        if isinstance(addr, str) and not addr.strip():
            d.error("Invalid ray address", 'ray { address = "" } is empty: give http://HOST:8265, or remove address to start a local head.')
        return ValidateResponse(d)

    def plan(self, ctx, req):
        from engine.providers import UNKNOWN
        from engine.providers import PlanResponse

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
        if prior is None or replace:
            for k in ("id", "capacity") + RAY_COMPUTED:
                planned[k] = UNKNOWN
        else:
            for k in ("id", "capacity") + RAY_COMPUTED:
                planned[k] = prior.get(k)
        reason = None
        if replace:
            reason = " and ".join({"ray": "ray.address"}.get(p[0], p[0]) for p in replace) + " changed"
            if ("gpus_per_node",) in replace:
                reason += " (the Ray head is restarted with the new resources)"
        return PlanResponse(planned_state=planned, requires_replace=replace, reason=reason, private=req.prior_private)

    def apply(self, ctx, req):
        from engine.providers import Diagnostics
        from engine.providers import Unknown
        from engine.providers import DELETE, ApplyResponse

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
        from engine.providers import Diagnostics
        from engine.providers import ReadResponse

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


def _head_spec(attrs: dict) -> dict:
    """An owned head's resources: logical GPUs = gpus_per_node; CPUs and object
    store from TRAINFORM_RAY_HEAD_CPUS / TRAINFORM_RAY_OBJECT_STORE_MB (defaults:
    all CPUs, 200 MB)."""
    gpn = attrs.get("gpus_per_node")
    cpus = os.environ.get("TRAINFORM_RAY_HEAD_CPUS")
    store = os.environ.get("TRAINFORM_RAY_OBJECT_STORE_MB")
    return {"num_gpus": int(gpn) if isinstance(gpn, (int, float)) and not isinstance(gpn, bool) else None,
            "num_cpus": int(cpus) if cpus else None, "object_store_mb": int(store) if store else None}


def _cluster_attr(info: dict, owned: bool, rec: dict | None) -> dict:
    # image_uri needs podman on the nodes: known for a head on this machine only
    images = bool(shutil.which("podman")) if owned else False
    return {"owned": owned, "nodes": info.get("nodes", 0), "cpus": info.get("cpus", 0), "gpus": info.get("gpus", 0),
            "ray_version": info.get("ray_version"), "gcs_address": (rec or {}).get("gcs_address") if owned else None,
            "images": images}


def _capacity(info: dict) -> int:
    """Runs the cluster can hold at once if each takes one GPU (or one CPU on a
    CPU-only cluster); display only: Ray queues the rest itself."""
    return max(1, int(info.get("gpus") or 0) or int(info.get("cpus") or 1))
