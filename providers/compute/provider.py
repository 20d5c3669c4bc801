"""The ``compute`` resource provider.

A local compute is a description of this machine's capacity: which GPUs
runs may use (``gpus``) and how many runs may execute at once
(``max_concurrent_runs``).  Nothing is created outside trainform; plan and
refresh detect GPUs with nvidia-smi so a hardware change shows as drift.
Runs find their pool through ``ctx.lookup(compute_id)`` and queue in
:mod:`providers.compute.pool`.

``type = "ray"`` is delegated to ``providers.compute.ray`` when that module
exists: it must define ``RayCompute`` with ``validate/plan/apply/read``
methods taking ``(ctx, request)`` and returning the same responses as a
provider.  Until then a ray compute is a validation error.
"""

from __future__ import annotations

import importlib
import importlib.util
import os
import uuid

from engine.providers import Diagnostics
from engine.providers import UNKNOWN, Unknown
from engine.providers import (
    DELETE, ApplyRequest, ApplyResponse, Attribute, BlockSchema, NestedBlock, PlanRequest,
    PlanResponse, Provider, ReadRequest, ReadResponse, ResourceSchema, ValidateRequest, ValidateResponse,
)

__all__ = ["ComputeProvider", "ray_backend", "pool_settings"]

TYPES = ("local", "ray")
#: settings that size a Ray cluster; an error on a local compute
RAY_ONLY = ("vm_size", "min_nodes", "max_nodes", "idle_seconds_before_scaledown", "gpus_per_node")


def ray_backend():
    """The Ray implementation, or None while providers/compute/ray.py does not exist."""
    if importlib.util.find_spec("providers.compute.ray") is None:
        return None
    return importlib.import_module("providers.compute.ray").RayCompute()


def pool_settings(attrs: dict) -> tuple[int, list[int]]:
    """(max concurrent runs, GPU indexes) of a compute's attributes."""
    cap = attrs.get("capacity") or attrs.get("max_concurrent_runs") or 1
    gpus = attrs.get("gpu_indexes") or []
    return int(cap), [int(g) for g in gpus]


def _suggest(t) -> str:
    """' Did you mean "local"?' for a near miss, as the loader suggests names."""
    import difflib

    close = difflib.get_close_matches(str(t), sorted(TYPES), n=1, cutoff=0.6)
    return f' Did you mean "{close[0]}"?' if close else ""


class ComputeProvider(Provider):
    type_name = "compute"

    _SCHEMA = ResourceSchema(
        block=BlockSchema(
            attributes={
                "workspace": Attribute(type="string", required=True, force_new=True, description="The workspace id."),
                "type": Attribute(type="string", optional=True, default="local", force_new=True, description='"local" (this machine) or "ray".'),
                "gpus": Attribute(type="any", optional=True, description='GPUs runs may use: "all" (default), a count, or a list of indexes.'),
                "max_concurrent_runs": Attribute(type="number", optional=True, default=1, description="Runs executing at once; others queue."),
                "min_nodes": Attribute(type="number", optional=True, description="Cluster minimum nodes (ray)."),
                "max_nodes": Attribute(type="number", optional=True, description="Cluster maximum nodes (ray)."),
                "idle_seconds_before_scaledown": Attribute(type="number", optional=True, description="Idle time before scale-down (ray)."),
                "vm_size": Attribute(type="string", optional=True, description="Node size label (ray)."),
                "gpus_per_node": Attribute(type="number", optional=True, description="GPUs per node (ray)."),
                "id": Attribute(type="string", computed=True, description="The compute id runs refer to."),
                "gpus_detected": Attribute(type="any", computed=True, description="GPUs nvidia-smi reports: index, name, memory_mb, uuid."),
                "gpu_indexes": Attribute(type="list(number)", computed=True, description="The GPU indexes runs may use."),
                "capacity": Attribute(type="number", computed=True, description="How many runs may execute at once."),
                "dashboard_url": Attribute(type="string", computed=True, description="Ray job server (ray computes)."),
                "cluster": Attribute(type="any", computed=True, description="Ray cluster facts: owned, nodes, cpus, gpus, ray_version."),
            },
            blocks={
                "ray": NestedBlock(BlockSchema(attributes={
                    "address": Attribute(type="string", optional=True, description="An existing Ray cluster's job server (http://HOST:8265); absent: trainform starts and owns a local head."),
                    "local_autoscaler": Attribute(type="bool", optional=True, description="Owned head only: Ray's autoscaler starts worker nodes (gpus_per_node each) on this machine on demand, min_nodes..max_nodes, idle_seconds_before_scaledown."),
                })),
            },
            description="A pool of compute for runs: this machine's GPUs/CPUs, or a Ray cluster.",
        )
    )

    def __init__(self) -> None:
        super().__init__()
        self._detected = None

    def schema(self) -> ResourceSchema:
        return self._SCHEMA

    def show_extra(self, address: str, attrs: dict) -> str | None:
        """`trainform show`: the Ray autoscaler cluster YAML a team can `ray up`."""
        if (attrs or {}).get("type") == "ray":
            from providers.compute.ray_cluster import show_extra

            return show_extra(address, attrs)
        return None

    # ------------------------------------------------------------ helpers
    def _detect(self, d: Diagnostics):
        from providers.compute.gpus import GpuError, detect_gpus

        if self._detected is None:
            try:
                self._detected = detect_gpus(os.environ.get("TRAINFORM_NVIDIA_SMI", "nvidia-smi"))
            except GpuError as e:
                d.error("GPU detection failed", f"{e}. Fix the NVIDIA driver installation, or remove nvidia-smi from PATH to use a CPU-only pool.")
                return None
        return self._detected

    def _new_id(self, address: str, workspace):
        """A new local compute's id, known at plan time (from this configuration's directory,
        the address and the workspace) so that runs can check GPUs against it before
        anything is built."""
        import hashlib

        if not isinstance(workspace, str):
            return UNKNOWN
        key = "\0".join((os.path.abspath(self.ctx.working_dir), address, workspace))
        return "compute-" + hashlib.sha256(key.encode()).hexdigest()[:16]

    @staticmethod
    def _is_ray(config: dict) -> bool:
        return (config or {}).get("type") == "ray"

    # ------------------------------------------------------------ interface
    def validate(self, req: ValidateRequest) -> ValidateResponse:
        d = Diagnostics()
        c = req.config
        t = c.get("type")
        if not isinstance(t, Unknown) and t not in TYPES:
            d.error("Invalid compute type", f'type = "{t}" is not supported: use "local" or "ray".{_suggest(t)}', attribute_path=("type",))
            return ValidateResponse(d)
        if t == "ray":
            rb = ray_backend()
            if rb is None:
                d.error("ray compute is not available yet", 'This trainform build has no Ray support (providers/compute/ray.py). Use type = "local".', attribute_path=("type",))
            else:
                return rb.validate(self.ctx, req)
        if t in (None, "local"):
            # a local compute is this machine: cluster sizing would be silently ignored
            for name in RAY_ONLY:
                if c.get(name) is not None:
                    d.error(f"{name} is not supported on a local compute",
                            f'{name} sizes a Ray cluster, but this compute is type = "local" (this machine, whose size is fixed). '
                            f'Remove {name}, or set type = "ray" to run on a cluster. A local compute is sized by '
                            f"max_concurrent_runs and gpus.")
        m = c.get("max_concurrent_runs")
        if isinstance(m, (int, float)) and not isinstance(m, bool) and (m < 1 or int(m) != m):
            d.error("Invalid max_concurrent_runs", f"max_concurrent_runs must be a whole number of at least 1, not {m}.", attribute_path=("max_concurrent_runs",))
        g = c.get("gpus")
        if g is not None and not isinstance(g, Unknown):
            ok = g == "all" or (isinstance(g, (int, float)) and not isinstance(g, bool) and g >= 0 and int(g) == g) or (
                isinstance(g, list) and all(isinstance(x, (int, float)) and not isinstance(x, bool) and int(x) == x and x >= 0 for x in g))
            if not ok:
                d.error("Invalid gpus", f'gpus must be "all", a number of GPUs or a list of GPU indexes, not {g!r}.', attribute_path=("gpus",))
        return ValidateResponse(d)

    def plan(self, req: PlanRequest) -> PlanResponse:
        if req.config is None:
            return PlanResponse(planned_state=None)
        if self._is_ray(req.config) and ray_backend() is not None:
            return ray_backend().plan(self.ctx, req)
        from providers.compute.gpus import GpuError, select_gpus

        d = Diagnostics()
        cfg = req.config
        prior = req.prior_state
        planned = {k: cfg.get(k) for k in self._SCHEMA.block.attributes if not self._SCHEMA.block.attributes[k].read_only}
        planned["ray"] = cfg.get("ray")
        detected = self._detect(d)
        if detected is None:
            return PlanResponse(None, diagnostics=d)
        planned["gpus_detected"] = [g.as_dict() for g in detected]
        if cfg.get("gpus") == "all" and not detected:
            d.error("No GPU on this machine",
                    'gpus = "all" asks for every GPU of this machine, but nvidia-smi finds none (no NVIDIA driver or no GPU). '
                    "Remove gpus for a CPU-only pool, or run on a machine with GPUs.")
            return PlanResponse(None, diagnostics=d)
        if isinstance(cfg.get("gpus"), Unknown):
            planned["gpu_indexes"] = UNKNOWN
        else:
            try:
                planned["gpu_indexes"] = select_gpus(cfg.get("gpus"), detected)
            except GpuError as e:
                d.error("Invalid gpus", str(e) + ".", attribute_path=("gpus",))
                return PlanResponse(None, diagnostics=d)
        m = cfg.get("max_concurrent_runs")
        planned["capacity"] = UNKNOWN if isinstance(m, Unknown) else int(m or 1)
        replace = []
        if prior is not None:
            for k in ("workspace", "type"):
                if prior.get(k) != cfg.get(k):
                    replace.append((k,))
        planned["id"] = prior.get("id") if (prior is not None and not replace) else self._new_id(req.address, cfg.get("workspace"))
        reason = None
        if replace:
            reason = " and ".join(p[0] for p in replace) + " changed"
        return PlanResponse(planned_state=planned, requires_replace=replace, reason=reason, diagnostics=d)

    def apply(self, req: ApplyRequest) -> ApplyResponse:
        cfg = req.config or req.prior_state or {}
        if self._is_ray(req.planned_state or req.prior_state or cfg) and ray_backend() is not None:
            return ray_backend().apply(self.ctx, req)
        if req.action == DELETE:
            return ApplyResponse(new_state=None)
        new = dict(req.planned_state)
        if isinstance(new.get("id"), Unknown):
            new["id"] = "compute-" + uuid.uuid4().hex[:16]
        from providers.compute.pool import get_pool

        get_pool(new["id"], *pool_settings(new))  # runs in this apply see updated settings
        return ApplyResponse(new_state=new)

    def read(self, req: ReadRequest) -> ReadResponse:
        if self._is_ray(req.state) and ray_backend() is not None:
            return ray_backend().read(self.ctx, req)
        d = Diagnostics()
        detected = self._detect(d)
        if detected is None:
            return ReadResponse(new_state=req.state, diagnostics=d)
        new = dict(req.state)
        new["gpus_detected"] = [g.as_dict() for g in detected]
        present = {g.index for g in detected}
        new["gpu_indexes"] = [i for i in (req.state.get("gpu_indexes") or []) if i in present]
        return ReadResponse(new_state=new)
