"""Autoscaling settings of a ray compute, as Ray cluster configs.

``min_nodes``/``max_nodes``/``idle_seconds_before_scaledown``/``gpus_per_node``
become either the ``ray up`` YAML ``trainform show`` prints (on-premise
provider, valid as written), or, for ``ray { local_autoscaler = true }``, the
config of Ray's fake multi-node provider that an owned head's autoscaler runs
on this machine.  Both pass Ray's own schema check (see the tests).
"""

from __future__ import annotations

__all__ = ["LOCAL_WORKER_TYPE", "autoscaler_yaml", "local_autoscaler_config", "show_extra"]


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
