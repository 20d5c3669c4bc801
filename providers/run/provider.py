"""The ``run`` resource: a training run submitted to an experiment.

A run is identified by its *inputs*: the source snapshot, the script or
command, the arguments, its env vars, the environment's image digest (or, in
process mode, the interpreter and environment id) and the GPU count, hashed
into ``input_hash``.  Plan snapshots nothing: it hashes (cheaply, with the
workspace stat cache) and compares:

* same inputs and the last run succeeded (or still runs detached) -> no-op;
* other inputs -> replace, with the reason ("train.py changed", "arguments
  changed", "environment image changed") from per-input digests kept in the
  private state and the snapshot manifests kept in the workspace;
* the last run failed / timed out / was cancelled -> replace;
* the last execution still runs, left by an interrupted apply (``wait = true``)
  -> update: apply follows that execution to its end, starting nothing.

Apply materialises the snapshot, waits for a slot in the compute pool, runs
attempts (``max_retries``) with a timeout, streams the output with
``ctx.log`` and records everything under ``<artifact_root>/runs/<id>/``.
A run that did not succeed is returned with an error, so the engine records
it tainted and the next apply runs it again.  ``lifecycle`` holds what
happens to a started execution (named before it starts, adopted or
collected when trainform was killed, stopped when orphaned); ``tracking``
mirrors each execution into MLflow; ``history`` reads every execution back.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import sys
import threading

from engine.providers import (
    DELETE, UNKNOWN, Diagnostics, Unknown, contains_unknown, parse_duration, ApplyRequest, ApplyResponse, Attribute, BlockSchema, PlanRequest, PlanResponse, Provider,
    ResourceSchema, ValidateRequest, ValidateResponse,
)
from engine.providers import ImportRequest, ImportResponse
from providers.run.lifecycle import Lifecycle
from providers.run.records import ACTIVE, RunPaths, new_run_id, now_iso, write_record
from providers.run.tracking import TrackingMixin

__all__ = ["RunProvider"]

COMPUTED = ("id", "status", "exit_code", "started_at", "ended_at", "duration_seconds", "attempts", "metrics",
            "input_hash", "snapshot_hash", "log_path", "outputs_path", "container_id")
#: computed attributes known at plan time (so the engine can show them)
PLAN_KNOWN = ("input_hash", "snapshot_hash")
#: configuration that does not change what a run computes: an edit is an in-place update
NON_IDENTITY = ("experiment", "compute", "timeout", "max_retries", "wait", "snapshot_size_limit_mb",
                "delete_artifacts_on_destroy", "source_directory")



def _argstr(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    if isinstance(v, (dict, list)):
        return json.dumps(v, sort_keys=True)
    return str(v)


#: identity part -> the configuration attributes it is computed from
_PART_SOURCES = {"command": ("command", "script"), "arguments": ("arguments",), "env_vars": ("env_vars",),
                 "environment": ("environment",), "gpus": ("gpus",), "instance_count": ("instance_count",)}


def _digest(v) -> str:
    return hashlib.sha256(json.dumps(v, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _input_hash(parts: dict) -> str:
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()


class _Inputs:
    """What plan resolved for one run: lookups, snapshot, identity parts."""

    def __init__(self) -> None:
        self.workspace: dict | None = None
        self.environment: dict | None = None
        self.compute: dict | None = None
        self.artifact_root: str | None = None
        self.snapshot = None
        self.parts: dict = {}
        self.unknown = False
        self.key_id: str | None = None  # set when a part covers a sensitive value (keyed digest)


class RunProvider(TrackingMixin, Lifecycle, Provider):
    type_name = "run"

    _SCHEMA = ResourceSchema(
        block=BlockSchema(
            attributes={
                "workspace": Attribute(type="string", required=True, force_new=True, description="The workspace id (artifacts, snapshots)."),
                "experiment": Attribute(type="string", optional=True, default="default", description="Experiment the run belongs to (grouping in `trainform runs`)."),
                "source_directory": Attribute(type="string", required=True, description="Directory snapshotted for the run (relative to the configuration)."),
                "script": Attribute(type="string", optional=True, conflicts_with=("command",), description="Python script in source_directory, run with the environment's interpreter."),
                "command": Attribute(type="list(string)", optional=True, conflicts_with=("script",), description="Command to run instead of a script."),
                "arguments": Attribute(type="any", optional=True, description="Arguments appended to the script/command (converted to strings)."),
                "environment": Attribute(type="string", optional=True, description="Environment id; without one the run uses the host's Python."),
                "compute": Attribute(type="string", optional=True, description="Compute id; without one runs go to an unlimited CPU-only local pool."),
                "env_vars": Attribute(type="map(string)", optional=True, description="Extra environment variables for the run."),
                "gpus": Attribute(type="number", optional=True, default=0, description="GPUs the run needs from its compute."),
                "timeout": Attribute(type="string", optional=True, description='Kill an attempt after this long ("2h", "30s").'),
                "max_retries": Attribute(type="number", optional=True, default=0, description="Re-run a failed attempt up to this many times."),
                "wait": Attribute(type="bool", optional=True, default=True, description="Wait for the run to finish (false: return once started; refresh collects the result)."),
                "snapshot_size_limit_mb": Attribute(type="number", optional=True, default=300, description="Refuse snapshots larger than this."),
                "delete_artifacts_on_destroy": Attribute(type="bool", optional=True, default=False, description="Delete logs and outputs on destroy."),
                "instance_count": Attribute(type="number", optional=True, default=1, description="Ranks of a distributed run (ray computes): MASTER_ADDR, RANK, WORLD_SIZE, LOCAL_RANK are set for torch.distributed."),
                "id": Attribute(type="string", computed=True, description="The run id."),
                "status": Attribute(type="string", computed=True, description="queued, running, succeeded, failed, timed_out or cancelled."),
                "exit_code": Attribute(type="number", computed=True),
                "started_at": Attribute(type="string", computed=True),
                "ended_at": Attribute(type="string", computed=True),
                "duration_seconds": Attribute(type="number", computed=True),
                "attempts": Attribute(type="number", computed=True),
                "metrics": Attribute(type="any", computed=True, description="Last value of each metric the script logged."),
                "input_hash": Attribute(type="string", computed=True, description="Hash of everything that decides the result."),
                "snapshot_hash": Attribute(type="string", computed=True),
                "log_path": Attribute(type="string", computed=True, description="Log of the last attempt."),
                "outputs_path": Attribute(type="string", computed=True, description="Where ./outputs of the run was kept."),
                "container_id": Attribute(type="string", computed=True),
            },
            description="A training run: a script executed in an environment on a compute, with logs and metrics.",
        )
    )

    def __init__(self) -> None:
        super().__init__()
        self._active: dict[str, tuple[object, object]] = {}  # run id -> (executor, handle)
        self._active_lock = threading.Lock()
        self._cancel = threading.Event()
        self._executors: dict[str, object] = {}

    def schema(self) -> ResourceSchema:
        return self._SCHEMA

    # ------------------------------------------------------------ validate
    def validate(self, req: ValidateRequest) -> ValidateResponse:
        d = Diagnostics()
        c = req.config
        script, command = c.get("script"), c.get("command")
        if script is None and command is None:
            d.error("Missing script or command", 'A run needs either script = "train.py" or command = ["sh", "run.sh"].')
        if script is not None and command is not None and not isinstance(script, Unknown) and not isinstance(command, Unknown):
            d.error("Conflicting arguments", '"script" and "command" cannot both be set: choose one.')
        if isinstance(command, list) and not command:
            d.error("Invalid command", "command must not be empty.")
        t = c.get("timeout")
        if isinstance(t, str):
            try:
                if parse_duration(t) <= 0:
                    raise ValueError(f'timeout "{t}" must be positive')
            except ValueError as e:
                d.error("Invalid timeout", str(e) + ".")
        for name, minimum in (("gpus", 0), ("max_retries", 0), ("snapshot_size_limit_mb", 0.001)):
            v = c.get(name)
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                if v < minimum or (name != "snapshot_size_limit_mb" and int(v) != v):
                    d.error(f"Invalid {name}", f"{name} must be a whole number of at least {minimum}, not {v}." if name != "snapshot_size_limit_mb" else f"{name} must be positive.")
        a = c.get("arguments")
        if a is not None and not isinstance(a, (list, Unknown)):
            d.error("Invalid arguments", "arguments must be a list, like [\"--epochs\", 3].")
        self._refuse_sensitive(req.sensitive_paths, d)
        self._warn_sensitive(c, req.sensitive_paths, d)
        return ValidateResponse(d)

    #: where a run may take a sensitive value: what the execution gets (masked in its output)
    SENSITIVE_OK = ("env_vars", "arguments", "command", "script")

    def _refuse_sensitive(self, sensitive_paths, d: Diagnostics) -> None:
        """A sensitive value anywhere else would be shown and stored in clear: ``experiment``
        becomes the run id (printed, in state, directory and container names, labels) and
        the MLflow experiment name; ``source_directory`` and the ids are shown in progress
        and error messages.  Refuse it, as Terraform refuses sensitive ``for_each`` keys."""
        seen = set()
        for p in sensitive_paths or ():
            top = str(p[0]) if p else None
            if top is None or top in self.SENSITIVE_OK or top in seen:
                continue
            seen.add(top)
            d.error(f"Sensitive value in {top}",
                    f"{top} holds a sensitive value, but a run shows and stores {top} in clear (run ids, history, directory "
                    "and container names, MLflow). Use a value that is not sensitive here; pass secrets to the run in "
                    'env_vars, e.g. env_vars = { API_TOKEN = var.token }.', attribute_path=(top,))

    # ------------------------------------------------------------ lookups
    def _lookup(self, id_value, kind: str, d: Diagnostics, required: bool = True) -> dict | None | Unknown:
        if id_value is None:
            return None
        if isinstance(id_value, Unknown):
            return UNKNOWN
        found = self.ctx.lookup(id_value)
        if found is None:
            if required:
                d.error(f"Unknown {kind}", f'No {kind} with id "{id_value}" exists in this configuration or state. Refer to it as {kind}.NAME.id.')
            return None
        t, attrs = found
        if t != kind:
            d.error(f"Not a {kind}", f'"{id_value}" is the id of a {t}, but {kind} expects a {kind} id.')
            return None
        return attrs

    def _artifact_root(self, ws) -> str | None | Unknown:
        if not isinstance(ws, dict):
            return ws if isinstance(ws, Unknown) else None
        root = ws.get("artifact_root")
        if isinstance(root, Unknown):
            return root
        if not root:
            wid = ws.get("id")
            if not isinstance(wid, str):
                return UNKNOWN
            root = os.path.join(self.ctx.data_dir, "workspaces", wid)
        if not os.path.isabs(root):
            root = os.path.join(self.ctx.working_dir, root)
        return root

    @staticmethod
    def _docker_mode(env: dict | None) -> bool:
        return isinstance(env, dict) and isinstance(env.get("docker"), dict)

    def _resolve(self, cfg: dict, d: Diagnostics, sensitive_paths=()) -> _Inputs:
        from providers.run.snapshot import SnapshotError, scan

        r = _Inputs()
        r.workspace = self._lookup(cfg.get("workspace"), "workspace", d)
        r.environment = self._lookup(cfg.get("environment"), "environment", d)
        r.compute = self._lookup(cfg.get("compute"), "compute", d)
        if d.has_errors:
            return r
        r.artifact_root = self._artifact_root(r.workspace)
        cache_dir = os.path.join(r.artifact_root, "cache") if isinstance(r.artifact_root, str) else None
        src = cfg.get("source_directory")
        if isinstance(src, Unknown):
            r.unknown = True
        else:
            src_abs = src if os.path.isabs(src) else os.path.join(self.ctx.working_dir, src)
            try:
                r.snapshot = scan(src_abs, cache_dir)
            except SnapshotError as e:
                d.error("Cannot snapshot source_directory", str(e) + ".")
                return r
            limit = cfg.get("snapshot_size_limit_mb")
            if isinstance(limit, (int, float)) and r.snapshot.total_size > limit * 1024 * 1024:
                big = "\n".join(f"  {_mb(size):>10}  {p}" for p, size in r.snapshot.largest(5))
                ign = r.snapshot.ignore_origin or ".trainformignore"
                d.error("Snapshot too large",
                        f"The source directory {src} holds {_mb(r.snapshot.total_size)} of files, more than snapshot_size_limit_mb = {limit:g}. "
                        f"The largest files:\n{big}\n\nList data sets, checkpoints and other large files in {ign} (gitignore syntax), "
                        f"or raise snapshot_size_limit_mb.")
                return r
        # identity parts
        env = r.environment
        if isinstance(env, Unknown):
            env_part = UNKNOWN
        elif self._docker_mode(env):
            digest = env.get("image_digest")
            env_part = UNKNOWN if isinstance(digest, Unknown) or (digest is None and isinstance(env.get("image"), Unknown)) else {
                "image": digest or env.get("image"), "env_vars": env.get("env_vars"), "interpreter": _interp(env)}
        else:
            env_part = {"process": _interp(env) or "host-python", "environment": (env or {}).get("id"), "env_vars": (env or {}).get("env_vars")}
        if isinstance(r.compute, dict):
            self._check_compute(cfg, r.compute, d)
            self._warn_ray_dashboard(cfg, r.compute, sensitive_paths, d)
        elif r.compute is None and isinstance(cfg.get("gpus"), (int, float)) and cfg.get("gpus"):
            d.error("No GPUs without a compute",
                    f"The run asks for gpus = {cfg['gpus']:g}, but it names no compute, and runs without one go to a CPU-only pool. "
                    "Set compute = compute.NAME.id, a compute whose machine has GPUs.")
        args = cfg.get("arguments")
        r.parts = {
            "snapshot": r.snapshot.hash if r.snapshot is not None else UNKNOWN,
            "command": cfg.get("command") if cfg.get("command") is not None else {"script": cfg.get("script")},
            "arguments": [_argstr(a) for a in args] if isinstance(args, list) else ([] if args is None else UNKNOWN),
            "env_vars": cfg.get("env_vars") or {},
            "environment": env_part,
            "gpus": cfg.get("gpus"),
            "instance_count": cfg.get("instance_count") or 1,
        }
        r.unknown = r.unknown or any(contains_unknown(v) for v in r.parts.values())
        self._key_sensitive_parts(r, sensitive_paths, d)
        return r

    def _key_sensitive_parts(self, r: _Inputs, sensitive_paths, d: Diagnostics) -> None:
        """Replace each identity part that covers a sensitive value by its keyed digest, so
        neither input_hash nor the per-input digests can confirm a guess offline."""
        from providers.digests import key_id, keyed, load_key

        touched = {str(p[0]) for p in sensitive_paths if p}
        keyed_parts = [k for k, names in _PART_SOURCES.items() if touched & set(names) and not contains_unknown(r.parts.get(k))]
        if not keyed_parts:
            return
        try:
            key = load_key(self.ctx.data_dir)
        except OSError as e:
            d.error("Cannot read or create the digest key",
                    f"The run's inputs include sensitive values, whose digests are keyed with {self.ctx.data_dir}/secret.key: {e}.")
            return
        for k in keyed_parts:
            r.parts[k] = keyed(r.parts[k], key)
        r.key_id = key_id(key)

    @staticmethod
    def _warn_ray_dashboard(cfg: dict, compute: dict, sensitive_paths, d: Diagnostics) -> None:
        """A Ray *Job* keeps its ``runtime_env`` (the run's env_vars) and entrypoint (the
        arguments) in the cluster's job table, which the Ray dashboard and ``ray job list``
        show to anyone who can reach them; masking cannot help there.  Task mode passes the
        variables as a task argument, which Ray does not show, but an attempt is a Job when
        ``wait = false``, ``instance_count > 1``, ``TRAINFORM_RAY_MODE=jobs`` or when
        trainform cannot drive the cluster directly (known only at apply: any cluster not
        started by trainform).  So plan warns whenever a sensitive value may take that road.
        (Not worked around, e.g. by shipping the values in a side package: whoever reaches a
        Ray dashboard can submit jobs, i.e. run code that reads a job's environment anyway.)"""
        if compute.get("type") != "ray":
            return
        first = next((tuple(p) for p in sensitive_paths or () if p and str(p[0]) in ("env_vars", "arguments", "command", "script")), None)
        if first is None:
            return
        ray_block = compute.get("ray")
        ray_block = (ray_block[0] if ray_block else None) if isinstance(ray_block, list) else ray_block
        owned = not (isinstance(ray_block, dict) and ray_block.get("address"))  # no address: trainform starts the head
        why = []
        if cfg.get("wait") is False:
            why.append("wait = false")
        if isinstance(cfg.get("instance_count"), (int, float)) and cfg["instance_count"] > 1:
            why.append("instance_count > 1")
        if os.environ.get("TRAINFORM_RAY_MODE", "").strip().lower() == "jobs":
            why.append("TRAINFORM_RAY_MODE=jobs")
        if not owned:
            why.append("the cluster was not started by trainform, so it may not be driven directly")
        if why:
            _dashboard_warning(d, f"it may be submitted as a Ray Job: {'; '.join(why)}", first)

    def _check_compute(self, cfg: dict, compute: dict, d: Diagnostics) -> None:
        if compute.get("type") == "ray":
            from providers.compute.ray_cluster import ray_available

            ok, why = ray_available()
            if not ok:
                d.error("Ray is not installed", why)
            self._check_ray_fits(cfg, compute.get("cluster"), d)
            return
        if (cfg.get("instance_count") or 1) > 1:
            d.error("Distributed runs need a ray compute", "instance_count > 1 launches ranks across a Ray cluster; use a compute with type = \"ray\" or set instance_count = 1.")
        g = cfg.get("gpus")
        have = compute.get("gpu_indexes")
        if isinstance(g, (int, float)) and g and isinstance(have, list) and g > len(have):
            d.error("Not enough GPUs in the compute pool",
                    f"The run asks for gpus = {g:g}, but its compute has {len(have)} GPU(s)" + (f" (indexes {', '.join(str(i) for i in have)})." if have else " (none detected: it is a CPU-only pool).")
                    + " Lower gpus or use a compute with more GPUs.")

    @staticmethod
    def _check_ray_fits(cfg: dict, cluster, d: Diagnostics) -> None:
        """A Ray cluster trainform owns without an autoscaler never grows: a run asking
        for more GPUs than its largest node has would stay pending forever.  Refused
        at plan when the cluster's facts are known (it exists already); otherwise the
        same check runs before the run starts (RayExecutor.check_fits)."""
        if not isinstance(cluster, dict) or not cluster.get("owned") or cluster.get("autoscaler"):
            return  # an existing cluster (or an autoscaled one) may add nodes: Ray queues the run
        largest, g = cluster.get("max_node_gpus"), cfg.get("gpus")
        if isinstance(largest, (int, float)) and isinstance(g, (int, float)) and g > largest:
            d.error("Not enough GPUs on any Ray node",
                    f"The run asks for gpus = {g:g}, but the largest node of the Ray cluster trainform runs has {largest:g} GPU(s), "
                    "and a run's GPUs must be on one node; Ray would keep it pending forever. Lower gpus, or let the cluster "
                    f"grow: local_autoscaler = true with gpus_per_node >= {g:g}.", attribute_path=("gpus",))

    # ------------------------------------------------------------ plan
    def plan(self, req: PlanRequest) -> PlanResponse:
        if req.config is None:
            return PlanResponse(planned_state=None)
        d = Diagnostics()
        cfg = req.config
        r = self._resolve(cfg, d, req.sensitive_paths)
        if d.has_errors:
            return PlanResponse(None, diagnostics=d)
        input_hash = UNKNOWN if r.unknown else _input_hash(r.parts)
        digests = {k: (None if contains_unknown(v) else _digest(v)) for k, v in r.parts.items()}
        private = {"inputs": digests}
        if r.key_id:
            private["key_id"] = r.key_id
        planned = self._config_part(cfg)
        prior = req.prior_state
        if prior is None:
            for k in COMPUTED:
                planned[k] = UNKNOWN
            planned["input_hash"] = input_hash
            planned["snapshot_hash"] = r.parts["snapshot"]
            return PlanResponse(planned_state=planned, private=private, diagnostics=d)
        replace, reasons = [], []
        if prior.get("workspace") != cfg.get("workspace"):
            replace.append(("workspace",))
            reasons.append("workspace changed")
        if isinstance(input_hash, Unknown) or input_hash != prior.get("input_hash"):
            replace.append(("input_hash",))
            reasons += self._why(r, req.prior_private or {}, prior)
        status = prior.get("status")
        if status in ("failed", "timed_out", "cancelled") and not replace:
            replace.append(("status",))
            reasons.append(f"the last run {status.replace('_', ' ')}")
        for k in COMPUTED:
            planned[k] = prior.get(k)
        adopt = not replace and status in ACTIVE and cfg.get("wait") is not False
        if adopt:
            # an apply was interrupted (kill -9, closed terminal) while this execution ran:
            # apply follows it to its end and records it; nothing new starts
            for k in ("status", "exit_code", "ended_at", "duration_seconds", "metrics", "attempts", "log_path", "container_id", "started_at"):
                planned[k] = UNKNOWN
            reasons.append(f"wait for execution {prior.get('id')}, left running by an interrupted apply")
        if replace:
            for k in COMPUTED:
                planned[k] = UNKNOWN
            planned["input_hash"] = input_hash
            planned["snapshot_hash"] = r.parts["snapshot"]
        else:
            private = dict(req.prior_private or {}, inputs=digests)
            if r.key_id:
                private["key_id"] = r.key_id
        return PlanResponse(planned_state=planned, requires_replace=replace, reason=", ".join(dict.fromkeys(reasons)) or None,
                            private=private, diagnostics=d)

    @staticmethod
    def _warn_sensitive(cfg: dict, sensitive_paths, d: Diagnostics) -> None:
        """Sensitive arguments are visible to every local user (``ps``).  (A detached run's output is
        masked when collected, from the execution's own settings: see ``_mask_targets``.)"""
        tops = {str(p[0]) for p in sensitive_paths if p}
        if tops & {"arguments", "command", "script"}:
            first = next(tuple(p) for p in sensitive_paths if p and str(p[0]) in ("arguments", "command", "script"))
            d.warning("Sensitive value in the run's command line",
                      "arguments (or command/script) hold a sensitive value: a process's command line is visible to every "
                      "local user (ps, /proc/*/cmdline) and in `docker inspect`. Pass secrets in the run's env_vars instead, "
                      'e.g. env_vars = { API_TOKEN = var.token }, and read them with os.environ["API_TOKEN"].').attribute_path = first

    def _config_part(self, cfg: dict) -> dict:
        out = {k: cfg.get(k) for k, a in self._SCHEMA.block.attributes.items() if not a.read_only}
        if isinstance(out.get("arguments"), list):
            out["arguments"] = [_argstr(a) for a in out["arguments"]]
        return out

    def _why(self, r: _Inputs, prior_private: dict, prior: dict) -> list[str]:
        """Human reasons for a changed input_hash."""
        from providers.digests import is_keyed
        from providers.run.snapshot import diff_manifests, load_manifest

        old = prior_private.get("inputs") or {}
        out: list[str] = []
        new_key = bool(r.key_id) and prior_private.get("key_id") != r.key_id
        if new_key:
            out.append("inputs that cover sensitive values cannot be compared: the digest key .trainform/secret.key "
                       "is not the one the last run used (a fresh clone or another machine? copy the key file, or set "
                       "TRAINFORM_DIGEST_KEY, to share it)")
        names = {"command": "script" if prior.get("script") is not None else "command", "arguments": "arguments", "env_vars": "env_vars",
                 "environment": "environment image" if (self._docker_mode(r.environment) or prior_private.get("mode") == "docker") else "environment", "gpus": "gpus"}
        for key in ("snapshot", "command", "arguments", "env_vars", "environment", "gpus"):
            v = r.parts.get(key)
            if contains_unknown(v):
                if key == "environment":
                    out.append(f"{names[key]} changed (the new one is known after apply)")
                elif key == "snapshot":
                    out.append("source directory known after apply")
                else:
                    out.append(f"{names[key]} may change (known after apply)")
                continue
            if key == "snapshot":
                if v == prior.get("snapshot_hash"):
                    continue
                m_old = load_manifest(os.path.join(r.artifact_root, "snapshots"), prior.get("snapshot_hash") or "") if isinstance(r.artifact_root, str) else None
                if m_old is not None and r.snapshot is not None:
                    changes = diff_manifests(m_old, r.snapshot.manifest())
                    if changes:
                        out.append(", ".join(changes[:3]) + (f" and {len(changes) - 3} more" if len(changes) > 3 else ""))
                        continue
                out.append("source files changed")
                continue
            if new_key and is_keyed(v):
                continue  # already explained by the new key
            if key in old and old[key] != _digest(v):
                out.append(f"{names[key]} changed")
        if not out:
            out.append("run inputs changed")
        return out

    # ------------------------------------------------------------ apply
    def apply(self, req: ApplyRequest) -> ApplyResponse:
        if req.action == DELETE:
            return self._destroy(req)
        if req.prior_state is not None:
            if req.prior_state.get("status") in ACTIVE and (req.planned_state or {}).get("wait") is not False:
                return self._adopt(req)  # left running by an interrupted apply: follow it to its end
            # in-place update: only settings that do not change the result
            return ApplyResponse(new_state=dict(req.planned_state), private=req.private)
        return self._create(req)

    def _executor(self, docker: bool | str):
        key = docker if isinstance(docker, str) else ("docker" if docker else "process")
        if key == "ray":
            from providers.run.executor_ray import RayExecutor

            return RayExecutor()
        docker = key == "docker"
        if key not in self._executors:
            if docker:
                from providers.run.executor_docker import DockerExecutor

                self._executors[key] = DockerExecutor()
            else:
                from providers.run.executor_process import ProcessExecutor

                self._executors[key] = ProcessExecutor()
        return self._executors[key]

    def _create(self, req: ApplyRequest) -> ApplyResponse:
        from providers.compute.pool import PoolError, get_pool
        from providers.compute.provider import pool_settings
        from providers.run.execution import AttemptSpec
        from providers.run.snapshot import SnapshotError, materialize

        d = Diagnostics()
        cfg = req.config
        addr = req.address
        r = self._resolve(cfg, d, req.sensitive_paths)
        if d.has_errors:
            return ApplyResponse(None, diagnostics=d)
        if r.unknown or not isinstance(r.artifact_root, str):
            d.error("Run inputs unknown at apply", "Some inputs of the run (workspace, environment image or source) are still unknown; this is a bug.")
            return ApplyResponse(None, diagnostics=d)
        try:
            snap_dir = materialize(r.snapshot, os.path.join(r.artifact_root, "snapshots"))
        except (SnapshotError, OSError) as e:
            d.error("Cannot snapshot source_directory", f"{e}.")
            return ApplyResponse(None, diagnostics=d)
        state = self._config_part(cfg)
        state["input_hash"] = _input_hash(r.parts)
        state["snapshot_hash"] = r.snapshot.hash
        run_id = new_run_id(cfg.get("experiment"), addr)
        paths = RunPaths(r.artifact_root, run_id)
        paths.create()
        from providers.run.history import remember_root

        remember_root(self.ctx.data_dir, r.artifact_root)
        docker = self._docker_mode(r.environment)
        state.update(id=run_id, status="queued", exit_code=None, started_at=None, ended_at=None, duration_seconds=None,
                     attempts=0, metrics={}, log_path=paths.log(1), outputs_path=paths.outputs, container_id=None)
        private = {"inputs": {k: _digest(v) for k, v in r.parts.items()}, "run_dir": paths.root, "mode": "docker" if docker else "process"}
        if r.key_id:
            private["key_id"] = r.key_id
        targets = _mask_targets(cfg, req.sensitive_paths)
        if targets:
            private["mask"] = targets  # which variables / words were sensitive (names and indexes, never values)
        env = r.environment if isinstance(r.environment, dict) else {}
        safe_args = _safe_arguments(state.get("arguments") or [], req.sensitive_paths)
        record = {"run_id": run_id, "address": addr, "experiment": cfg.get("experiment"), "mode": private["mode"], "status": "queued",
                  "created_at": now_iso(), "attempts": [], "input_hash": state["input_hash"], "snapshot_hash": state["snapshot_hash"],
                  "arguments": safe_args, "workspace": cfg.get("workspace"), "wait": cfg.get("wait") is not False,
                  "image": self._image(env) if docker else None, "image_digest": env.get("image_digest") if docker else None,
                  "gpus": cfg.get("gpus") or 0}
        if targets:
            record["mask"] = targets
        write_record(paths.record, record)
        on_ray = isinstance(r.compute, dict) and r.compute.get("type") == "ray"
        if on_ray:
            from providers.run.executor_ray import RayExecutor

            executor = RayExecutor.for_run(r.compute, cfg, r.environment if isinstance(r.environment, dict) else None)
            private["mode"] = record["mode"] = "ray"
            write_record(paths.record, record)
            self.ctx.progress(addr, "Ray: " + executor.environment_note)
            docker = False
            if targets and (cfg.get("wait") is False or executor.run_mode()[0] == "jobs"):
                # certain now (the plan may not have known the compute yet): see _warn_ray_dashboard
                _dashboard_warning(d, "it is submitted as a Ray Job", next(tuple(p) for p in req.sensitive_paths if p))
        try:
            if not on_ray:
                executor = self._executor(docker)
        except Exception as e:  # noqa: BLE001 - DockerUnavailable and friends
            d.error("Docker is not available", f"The run's environment is a Docker image, but {e}. Start the Docker daemon (scripts/setup-system.sh does) and try again.")
            shutil.rmtree(paths.root, ignore_errors=True)
            return ApplyResponse(None, diagnostics=d)
        spec = AttemptSpec(run_id=run_id, address=addr, argv=self._argv(cfg, r), env=self._env(cfg, r, run_id, docker, paths),
                           snapshot_dir=snap_dir, paths=paths, image=self._image(r.environment) if docker else None,
                           registry_auth=self._auth(r.workspace, r.environment) if docker else None,
                           mask=_masker(cfg, req.sensitive_paths, self.ctx.sensitive_values()), mask_targets=targets)
        # the pool: queue while full (Ray queues jobs itself)
        if on_ray:
            pool = _RayQueue()
        elif isinstance(r.compute, dict):
            pool = get_pool(r.compute["id"], *pool_settings(r.compute))
        else:
            pool = get_pool("__default__", max(1, self.ctx.parallelism), [])
        gpus = int(cfg.get("gpus") or 0)

        def on_wait():
            self.ctx.progress(addr, f"Queued: waiting for a free slot on the compute (max {pool.max_concurrent} concurrent run(s))...")

        abort_queue = lambda: self.ctx.stopping.is_set() or self.ctx.cancelled.is_set() or self._cancel.is_set()  # noqa: E731
        try:
            lease = pool.acquire(gpus, abort=abort_queue, on_wait=on_wait)
        except PoolError as e:
            d.error("Not enough GPUs in the compute pool", str(e) + ".")
            shutil.rmtree(paths.root, ignore_errors=True)
            return ApplyResponse(None, diagnostics=d)
        if lease is None:
            d.error("Run not started", "trainform was interrupted while the run waited for a free slot; it was not started and will be planned again.")
            shutil.rmtree(paths.root, ignore_errors=True)
            return ApplyResponse(None, diagnostics=d)
        spec.gpus = lease.gpus
        if on_ray:
            pass
        elif gpus:
            spec.env["CUDA_VISIBLE_DEVICES"] = ",".join(map(str, lease.gpus))
        elif not docker:
            spec.env["CUDA_VISIBLE_DEVICES"] = ""  # a CPU run must not grab GPUs leased to others
        timeout_s = parse_duration(cfg["timeout"]) if cfg.get("timeout") else None
        if not on_ray:
            self._sweep(executor, addr, os.path.dirname(paths.root), run_id)
        self._track_start(dict(cfg, arguments=safe_args), r.workspace, state, record, spec, docker or on_ray)  # containers/Ray jobs reach only a server URI
        private["mlflow_run_id"] = record.get("mlflow_run_id")
        if spec.mask_targets:  # the tracking URI's password may have joined them
            private["mask"] = record["mask"] = spec.mask_targets
        if cfg.get("wait") is False:
            resp = self._run_attempts(executor, spec, state, record, private, paths, timeout_s, 0, d, detached=True, lease=lease)
            if resp.new_state is None or resp.new_state.get("status") != "running":
                lease.release()
            return resp
        try:
            return self._run_attempts(executor, spec, state, record, private, paths, timeout_s, int(cfg.get("max_retries") or 0), d)
        finally:
            lease.release()

    # ------------------------------------------------------------ spec pieces
    def _argv(self, cfg: dict, r: _Inputs) -> list[str]:
        args = [_argstr(a) for a in (cfg.get("arguments") or [])]
        if cfg.get("command") is not None:
            return [str(x) for x in cfg["command"]] + args
        interp = _interp(r.environment)
        if not interp:
            interp = "python3" if self._docker_mode(r.environment) else sys.executable
        return [interp, cfg["script"], *args]

    def _env(self, cfg: dict, r: _Inputs, run_id: str, docker: bool, paths: RunPaths) -> dict:
        env: dict[str, str] = {}
        if not docker:
            # the host's environment, minus trainform's own inputs (they may hold secrets)
            env = {k: v for k, v in os.environ.items() if not k.startswith(("TRAINFORM_VAR_", "TF_VAR_", "TRAINFORM_"))}
        for src in ((r.environment or {}).get("env_vars") if isinstance(r.environment, dict) else None, cfg.get("env_vars")):
            if isinstance(src, dict):
                env.update({str(k): str(v) for k, v in src.items() if v is not None and not isinstance(v, Unknown)})
        env.update({
            "PYTHONUNBUFFERED": "1",
            "TRAINFORM_RUN_ID": run_id,
            "TRAINFORM_EXPERIMENT": str(cfg.get("experiment") or "default"),
            "TRAINFORM_METRICS_FILE": "/trainform/metrics.jsonl" if docker else paths.metrics,
            "TRAINFORM_OUTPUTS_DIR": ("/workspace/snapshot/outputs" if docker else paths.outputs),
        })
        return env

    @staticmethod
    def _image(env: dict) -> str:
        for k in ("image", "image_name", "image_digest"):
            v = env.get(k)
            if isinstance(v, str) and v:
                return v
        docker = env.get("docker") or {}
        return docker.get("base_image")

    @staticmethod
    def _auth(ws, env) -> dict | None:
        reg = (ws or {}).get("registry") if isinstance(ws, dict) else None
        if isinstance(reg, list):
            reg = reg[0] if reg else None
        if isinstance(reg, dict) and reg.get("username") and isinstance(reg.get("password"), str):
            return {"username": reg["username"], "password": reg["password"]}
        return None

    def import_(self, req: ImportRequest) -> ImportResponse:
        from providers.run.run_import import import_run

        return import_run(self, req)


class _RayLease:
    gpus: list = []

    def release(self) -> None:
        pass


class _RayQueue:
    """Ray schedules jobs on the cluster itself: no local slot to wait for."""

    max_concurrent = 0

    def acquire(self, gpus, abort=None, on_wait=None):
        return _RayLease()


def _dashboard_warning(d: Diagnostics, why: str, path: tuple) -> None:
    d.warning("Sensitive value visible on the Ray dashboard",
              f"This run has sensitive env_vars or arguments and {why}. Ray keeps a job's runtime_env env_vars and its "
              "entrypoint (the arguments) in the cluster's job table and writes the runtime_env into the head's "
              "runtime_env_agent.log, all shown in plain text by the Ray dashboard and `ray job list` to anyone who can "
              "reach the dashboard. The run's output is still masked. Keep the dashboard "
              "private, or run with wait = true on a cluster trainform starts (the values then travel as a task argument, "
              "which Ray does not show).").attribute_path = path


def _safe_arguments(args: list, sensitive_paths) -> list:
    """The arguments as history and MLflow may keep them: sensitive ones as "(sensitive)"."""
    whole = any(tuple(p) == ("arguments",) for p in sensitive_paths or ())
    hidden = {p[1] for p in sensitive_paths or () if len(p) > 1 and p[0] == "arguments"}
    return ["(sensitive)" if whole or i in hidden else a for i, a in enumerate(args)]


def _mask_targets(cfg: dict, sensitive_paths) -> dict | None:
    """Which of the run's variables and command-line words hold a sensitive value:
    ``{"env": [names], "argv": [indexes into the command line]}``, or None.

    Why names and indexes: a run collected later (``wait = false``, or adopted
    after trainform died) is collected by a ``refresh`` that has no configuration
    values.  These targets are no secret, so they can sit in the private state;
    the values are read back from the execution itself (the container's
    ``Config.Env``/``Config.Cmd``, the Ray job's ``runtime_env``/entrypoint)
    while it exists (:func:`providers.run.masking.masker_for_targets`)."""
    names: set[str] = set()
    argv: set[int] = set()
    command = cfg.get("command")
    args = cfg.get("arguments") if isinstance(cfg.get("arguments"), list) else []
    offset = len(command) if isinstance(command, list) else 2  # [interpreter, script, *arguments]
    for p in sensitive_paths or ():
        p = tuple(p)
        if not p:
            continue
        top, rest = str(p[0]), p[1:]
        if top == "env_vars":
            names |= {str(rest[0])} if rest else {str(k) for k in (cfg.get("env_vars") or {})}
        elif top == "arguments":
            argv |= {offset + rest[0]} if rest and isinstance(rest[0], int) else {offset + i for i in range(len(args))}
        elif top == "command" and isinstance(command, list):
            argv |= {rest[0]} if rest and isinstance(rest[0], int) else set(range(len(command)))
        elif top == "script" and command is None:
            argv.add(1)
    out = {k: sorted(v) for k, v in (("env", names), ("argv", argv)) if v}
    return out or None


def _masker(cfg: dict, sensitive_paths, seen=()):
    """The run's log masker: every sensitive configured value, and every value marked
    sensitive in this command (``seen``: the secret inside a configured "Bearer ..."),
    None when there is none."""
    from engine.providers import get_path
    from providers.run.masking import Masker

    values = list(seen)
    for p in sensitive_paths or ():
        v = get_path(cfg, tuple(p))
        if v is not None and not isinstance(v, Unknown):
            values.append(v)
    m = Masker.for_values(values)
    return m if m else None


def _interp(env) -> str | None:
    if not isinstance(env, dict):
        return None
    py = env.get("python")
    if isinstance(py, list):
        py = py[0] if py else None
    if isinstance(py, dict) and isinstance(py.get("interpreter"), str) and py.get("interpreter"):
        return py["interpreter"]
    return None


def _mb(n: int) -> str:
    return f"{n / (1024 * 1024):.1f} MB"


def _failure_detail(addr: str, status: str, state: dict, timeout_s) -> str:
    log = state.get("log_path")
    if status == "failed":
        head = f"{addr} exited with status {state.get('exit_code')} after {state.get('attempts')} attempt(s)."
    elif status == "timed_out":
        head = f"{addr} ran longer than its timeout ({timeout_s:g}s) and was stopped."
    else:
        head = f"{addr} was cancelled."
    return f"{head} The log is at {log} (trainform logs {addr}). The run is recorded as tainted and will run again on the next apply."
