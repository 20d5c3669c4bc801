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
cannot be applied to an existing cluster through the job API, so trainform
*emits* the equivalent ``ray up`` cluster YAML (:func:`autoscaler_yaml`, shown
by ``trainform show``); an owned head with ``ray { local_autoscaler = true }``
runs Ray's own autoscaler with the fake multi-node provider, which starts
worker nodes on this machine (:mod:`ray_autoscale`, :mod:`ray_nodes`).

The owned nodes' processes live in :mod:`providers.compute.ray_nodes`, the
autoscaler configs in :mod:`providers.compute.ray_autoscale`; both are
re-exported here.

Nothing here imports ``ray`` at module import time; the HTTP checks use
urllib, so ``trainform plan`` stays fast.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import urllib.error
import urllib.parse
import urllib.request
import uuid

__all__ = [
    "DEFAULT_DASHBOARD_PORT",
    "LOOPBACK_ENV",
    "RayClusterError",
    "RayCompute",
    "autoscaler_yaml",
    "check_cluster",
    "dashboard_url",
    "ensure_head",
    "gcs_address",
    "head_alive",
    "list_nodes",
    "local_autoscaler_config",
    "ray_available",
    "show_extra",
    "start_worker",
    "stop_head",
]

DEFAULT_DASHBOARD_PORT = 8265
#: object store of an owned head: runs pass data through files, not Ray objects


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

# the owned cluster's processes and the autoscaler configs live in their own modules
from providers.compute.ray_autoscale import (
    autoscaler_yaml,
    local_autoscaler_config,
    show_extra,
)
from providers.compute.ray_nodes import (
    LOOPBACK_ENV,
    ensure_head,
    head_alive,
    start_worker,
    stop_head,
)


def list_nodes(address: str, timeout: float = 5.0) -> list[dict]:
    """The cluster's node rows (``/api/v0/nodes``); empty when it does not answer."""
    try:
        data = _get_json(dashboard_url(address) + "/api/v0/nodes?limit=10000&detail=true", timeout)
        return [n for n in data["data"]["result"]["result"] if isinstance(n, dict)]
    except (OSError, urllib.error.URLError, ValueError, KeyError, TypeError):
        return []


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
                d.error(f"Invalid {name}", f"{name} must be a whole number of at least 0, not {v!r}.", attribute_path=(name,))
        lo, hi = c.get("min_nodes"), c.get("max_nodes")
        if isinstance(lo, (int, float)) and isinstance(hi, (int, float)) and lo > hi:
            d.error("Invalid node counts", f"min_nodes ({lo:g}) is larger than max_nodes ({hi:g}).", attribute_path=("min_nodes",))
        addr = _address(c)
        if addr is not None and _autoscaled(c):
            d.error("Invalid ray block", "local_autoscaler applies to the head trainform starts; an existing cluster (ray.address) "
                    "scales with its own autoscaler: remove one of the two.")
        if isinstance(addr, str) and not addr.strip():
            d.error("Invalid ray address", 'ray { address = "" } is empty: give http://HOST:8265, or remove address to start a local head.', attribute_path=("ray", "address"))
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
            "max_node_gpus": info.get("max_node_gpus", 0), "max_node_cpus": info.get("max_node_cpus", 0),
            "ray_version": info.get("ray_version"), "gcs_address": (rec or {}).get("gcs_address") if owned else None,
            "images": images, "autoscaler": bool(owned and ((rec or {}).get("spec") or {}).get("autoscaler"))}


def _capacity(info: dict) -> int:
    """Runs the cluster can hold at once if each takes one GPU (or one CPU on a
    CPU-only cluster); display only: Ray queues the rest itself."""
    return max(1, int(info.get("gpus") or 0) or int(info.get("cpus") or 1))
