"""Ray mode: an attempt of a run is a Ray job on the run's ``type = "ray"`` compute.

The job is submitted through the cluster's job server
(``ray.job_submission.JobSubmissionClient(dashboard_url)``):

* ``runtime_env.working_dir`` = the run's content-addressed snapshot
  directory (Ray zips and uploads it as ``gcs://_ray_pkg_<content hash>.zip``,
  so an unchanged snapshot is uploaded once per cluster);
* ``runtime_env.py_modules`` = the launcher (:mod:`providers.run.ray_launcher`,
  staged as the package ``trainform_ray_launcher``); the entrypoint is
  ``python -m trainform_ray_launcher [--nproc N ...] -- <interpreter script args>``
  with the cluster's ``python`` running the launcher;
* ``entrypoint_num_gpus`` = the run's ``gpus`` and ``entrypoint_num_cpus`` =
  its CPUs (default: 0 when it takes GPUs, else 1), so Ray queues jobs until
  the cluster has room -- the cluster itself is the pool;
* ``runtime_env.env_vars`` = the run's variables (``TRAINFORM_*`` and the
  environment's/run's ``env_vars``; the host's own environment is not sent);
* the environment (:func:`environment_plan`): the environment's image as
  ``image_uri`` when the cluster can run container images, else the
  environment's ``pip_packages`` as ``runtime_env.pip``, else the cluster's
  own Python -- with a sentence saying which, for the plan.

Logs are followed live (polled while short, then Ray's websocket tail; see
:meth:`RayJobs.iter_lines`) and streamed like local runs.  Metrics come back *over the log*: the
launcher echoes each JSON line the script appends to its
``$TRAINFORM_METRICS_FILE`` as ``##trainform-metric## {json}``; the handle
takes those lines out of the displayed/saved log and appends them to the run's
own metrics file, so :func:`providers.run.metrics.read_last_values` works
unchanged.

Status mapping (Ray -> trainform): PENDING -> queued, RUNNING -> running,
SUCCEEDED -> succeeded (exit 0), FAILED -> failed (the driver's exit code,
1 when Ray failed it before the command ran, e.g. a runtime_env error),
STOPPED -> cancelled (exit 143) unless trainform stopped it for its timeout
(timed_out).  A cluster that stops answering for ``LOST_AFTER_S`` seconds
fails the attempt with exit code 255 and a log line saying so.

``instance_count = N`` (N > 1) launches N ranks in a placement group with the
torch.distributed variables set (see the launcher's docstring); the driver
then reserves no resources itself.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import os
import re
import shlex
import shutil
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from providers.run.ray_launcher import MARKER

__all__ = [
    "LOST_AFTER_S",
    "RayExecutor",
    "RayHandle",
    "RayJobSpec",
    "RayJobs",
    "build_entrypoint",
    "environment_plan",
    "job_env",
    "map_status",
    "read_metrics",
    "split_metric_lines",
    "stage_launcher",
]

#: a cluster that does not answer this long is considered gone (the attempt fails)
LOST_AFTER_S = 8.0
_STOPPED_CODE = 143
_LOST_CODE = 255
_RAY_NOISE = re.compile(r"^(Running entrypoint for job \S+: python -m trainform_ray_launcher"
                        r"|\d{4}-\d\d-\d\d [\d:,]+\s+INFO job_manager\.py:\d+ -- Runtime env is setting up\.)")


# ---------------------------------------------------------------- pieces of a job

def stage_launcher() -> str:
    """A directory holding the package ``trainform_ray_launcher`` (for ``py_modules``):
    the launcher as ``__main__`` and :mod:`providers.run.masking` (stdlib only) as
    ``masking``, so the job masks its own output (see the launcher's docstring).

    Content-addressed under the temp dir, so Ray uploads it once per cluster."""
    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "ray_launcher.py"), "rb") as f:
        code = f.read()
    with open(os.path.join(here, "masking.py"), "rb") as f:
        masking_code = f.read()
    digest = hashlib.sha256(code + b"\0" + masking_code).hexdigest()[:16]
    pkg = os.path.join(tempfile.gettempdir(), f"trainform-ray-launcher-{digest}", "trainform_ray_launcher")
    if not os.path.exists(os.path.join(pkg, "__main__.py")):
        tmp = pkg + f".tmp{os.getpid()}"
        os.makedirs(tmp, exist_ok=True)
        with open(os.path.join(tmp, "__init__.py"), "w") as f:
            f.write('"""trainform\'s Ray job launcher (see __main__)."""\n')
        with open(os.path.join(tmp, "__main__.py"), "wb") as f:
            f.write(code)
        with open(os.path.join(tmp, "masking.py"), "wb") as f:
            f.write(masking_code)
        try:
            os.rename(tmp, pkg)
        except OSError:  # another process staged it first
            shutil.rmtree(tmp, ignore_errors=True)
    return pkg


def _block(v):
    if isinstance(v, list):
        return v[0] if v else None
    return v if isinstance(v, dict) else None


def environment_plan(environment: dict | None, cluster: dict | None = None) -> tuple[dict, str]:
    """(runtime_env part, human sentence) for running an environment on a Ray cluster.

    Order: the environment's image when the cluster can run images
    (``cluster["images"]`` true: podman on the nodes), else its
    ``python.pip_packages`` (``runtime_env.pip``, installed by Ray into a
    virtualenv on each node), else the cluster's own Python.
    """
    cluster = cluster or {}
    if not isinstance(environment, dict):
        return {}, "runs with the Ray cluster's own Python (the run has no environment)"
    py = _block(environment.get("python")) or {}
    image = None
    for k in ("image", "image_name", "image_digest"):
        if isinstance(environment.get(k), str) and environment.get(k):
            image = environment[k]
            break
    docker = _block(environment.get("docker"))
    if image is None and docker:
        image = docker.get("base_image")
    if image and cluster.get("images"):
        return {"image_uri": image}, f"runs in the environment's image {image} (Ray runtime_env image_uri)"
    pip = py.get("pip_packages")
    if isinstance(pip, list) and pip:
        why = "the cluster cannot run container images, so " if image else ""
        return {"pip": [str(p) for p in pip]}, f"{why}Ray installs the environment's pip packages ({', '.join(map(str, pip))}) on the cluster (runtime_env pip)"
    if image:
        return {}, (f"runs with the Ray cluster's own Python: the cluster cannot run the environment's image {image} "
                    "and the environment lists no pip_packages (user-managed dependencies must be installed on the cluster)")
    return {}, "runs with the Ray cluster's own Python (user-managed dependencies must be installed on the cluster)"


#: variables a local run gets from trainform's own process that a cluster must not inherit
_DROP = ("CUDA_VISIBLE_DEVICES",)


def job_env(env: dict, host_env: dict | None = None) -> dict:
    """The variables to send: trainform's and the run's, not the host's environment.

    The process executor hands every run a copy of the host environment; on a
    cluster that would override PATH/HOME and leak local settings, so
    variables equal to the host's are dropped (``TRAINFORM_*`` and
    ``PYTHONUNBUFFERED`` are always kept).  ``CUDA_VISIBLE_DEVICES`` is
    Ray's to set."""
    host = os.environ if host_env is None else host_env
    out = {}
    for k, v in (env or {}).items():
        if k in _DROP:
            continue
        if k.startswith("TRAINFORM_") or k == "PYTHONUNBUFFERED" or host.get(k) != v:
            out[str(k)] = str(v)
    return out


def build_entrypoint(argv: list[str], instance_count: int = 1, cpus_per_rank: float = 1, gpus_per_rank: float = 0,
                     place: bool = False) -> str:
    """The job's shell entrypoint: the launcher around the run's command.

    The host interpreter (``sys.executable``) becomes the cluster's ``python``."""
    cmd = list(argv)
    if cmd and cmd[0] == sys.executable:
        cmd[0] = "python"
    head = ["python", "-m", "trainform_ray_launcher"]
    if instance_count > 1:
        head += ["--nproc", str(int(instance_count)), "--cpus-per-rank", _n(cpus_per_rank), "--gpus-per-rank", _n(gpus_per_rank)]
    elif place:
        head += ["--place", "--cpus-per-rank", _n(cpus_per_rank), "--gpus-per-rank", _n(gpus_per_rank)]
    return shlex.join(head + ["--"] + cmd)


def _n(x) -> str:
    x = float(x or 0)
    return str(int(x)) if x.is_integer() else str(x)


def map_status(ray_status: str) -> str:
    """Ray JobStatus name -> trainform run status."""
    return {"PENDING": "queued", "RUNNING": "running", "SUCCEEDED": "succeeded", "FAILED": "failed",
            "STOPPED": "cancelled"}.get(str(ray_status).upper().split(".")[-1], "failed")


def split_metric_lines(lines) -> tuple[list[str], list[str]]:
    """(display lines, metric JSON lines) from job log lines."""
    shown, metrics = [], []
    for line in lines:
        i = line.find(MARKER)
        if i >= 0:
            metrics.append(line[i + len(MARKER):])
        elif not _RAY_NOISE.match(line):
            shown.append(line)
    return shown, metrics


def read_metrics(log_text: str, metrics_path: str | None = None) -> dict:
    """Last value of each metric found in a job log; also rewrites ``metrics_path``
    (the run's metrics file) with them when given."""
    from providers.run.metrics import read_last_values

    _, metrics = split_metric_lines(log_text.splitlines())
    if metrics_path:
        os.makedirs(os.path.dirname(metrics_path), exist_ok=True)
        with open(metrics_path, "w", encoding="utf-8") as f:
            f.writelines(m + "\n" for m in metrics)
        return read_last_values(metrics_path)
    fd, tmp = tempfile.mkstemp()
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.writelines(m + "\n" for m in metrics)
        return read_last_values(tmp)
    finally:
        os.remove(tmp)


# ---------------------------------------------------------------- the job API

@dataclass
class RayJobSpec:
    """One Ray job: what :meth:`RayJobs.submit` sends."""

    argv: list[str]
    working_dir: str
    env: dict = field(default_factory=dict)
    gpus: float = 0
    cpus: float | None = None  # None: 0 with GPUs, else 1
    instance_count: int = 1
    runtime_env: dict = field(default_factory=dict)  # from environment_plan
    submission_id: str | None = None
    metadata: dict = field(default_factory=dict)
    place: bool = False  # driver on the head, the command in a placed actor (see the launcher's --place)


_CLIENTS: dict[str, object] = {}
_CLIENTS_LOCK = threading.Lock()


def _quiet_ray_loggers() -> None:
    """Ray's SDK logs every upload at INFO on stderr; trainform shows its own progress."""
    import logging

    for name in ("ray", "ray.dashboard.modules.dashboard_sdk", "ray.dashboard.modules.job.sdk",
                 "ray._private.runtime_env.packaging"):
        logging.getLogger(name).setLevel(logging.WARNING)


class RayJobs:
    """The job server of one cluster: submit, status, tail, wait, stop, logs."""

    def __init__(self, dashboard_url: str) -> None:
        self.url = dashboard_url.rstrip("/")

    @property
    def client(self):
        with _CLIENTS_LOCK:
            c = _CLIENTS.get(self.url)
            if c is None:
                from ray.job_submission import JobSubmissionClient

                _quiet_ray_loggers()
                c = _CLIENTS[self.url] = JobSubmissionClient(self.url)
            return c

    def submit(self, spec: RayJobSpec) -> str:
        n = max(1, int(spec.instance_count or 1))
        gpus = float(spec.gpus or 0)
        cpus = spec.cpus if spec.cpus is not None else (0 if gpus else 1)
        runtime_env = dict(spec.runtime_env)
        runtime_env["working_dir"] = spec.working_dir
        runtime_env["py_modules"] = [stage_launcher()] + list(runtime_env.get("py_modules") or [])
        runtime_env["env_vars"] = {**(runtime_env.get("env_vars") or {}), **{str(k): str(v) for k, v in spec.env.items()}}
        if n > 1 or spec.place:
            # the driver only coordinates (on the head, where its log is); the ranks hold the resources
            entry = build_entrypoint(spec.argv, n, (cpus or 1) if n > 1 else cpus, gpus, place=spec.place)
            kw = {"entrypoint_num_cpus": 0, "entrypoint_num_gpus": 0}
        else:
            entry = build_entrypoint(spec.argv)
            kw = {"entrypoint_num_cpus": cpus, "entrypoint_num_gpus": gpus}
        return self.client.submit_job(entrypoint=entry, runtime_env=runtime_env, submission_id=spec.submission_id,
                                      metadata={str(k): str(v) for k, v in spec.metadata.items()}, **kw)

    def info(self, job_id: str):
        return self.client.get_job_info(job_id)

    def status(self, job_id: str) -> tuple[str, int | None, str]:
        """(trainform status, exit code or None while it runs, Ray's message)."""
        info = self.info(job_id)
        st = map_status(info.status)
        code = getattr(info, "driver_exit_code", None)
        if st == "succeeded":
            code = 0
        elif st == "failed" and code is None:
            code = 1
        elif st == "cancelled":
            code = _STOPPED_CODE
        elif st in ("queued", "running"):
            code = None
        return st, code, info.message or ""

    def logs(self, job_id: str) -> str:
        return self.client.get_job_logs(job_id)

    def stop(self, job_id: str) -> bool:
        try:
            return bool(self.client.stop_job(job_id))
        except Exception:  # noqa: BLE001 - finished, unknown or the cluster is gone
            return False

    def tail(self, job_id: str, on_line: Callable[[str], None]) -> None:
        """Call ``on_line`` for each line of the job's log as it comes, until the job ends."""
        for line in self.iter_lines(job_id):
            on_line(line)

    def iter_lines(self, job_id: str, poll: float = 0.2, max_poll: float = 1.0, switch_bytes: int = 256 * 1024,
                   give_up: Callable[[], bool] = lambda: False) -> Iterator[str]:
        """Raw log lines as they come (ends with the job or raises when the cluster goes).

        Ray's own tail (a websocket) adds 2-4 s before the first line and after
        the last (its server sleeps 1 s between reads and between looks for the
        job's driver), so short logs are *polled* (``get_job_logs``, every
        0.2 s backing off to 1 s while quiet) and the end is seen as soon as the
        status is terminal.  Past ``switch_bytes`` of log, re-reading it all
        would cost too much: the rest is followed with the websocket tail,
        skipping what was already delivered.  ``give_up()`` true ends it early
        (a job stopped while still pending never reaches a terminal status)."""
        buf = ""
        seen = 0
        delay = poll
        while True:
            st, code, _ = self.status(job_id)
            if st == "queued" and not give_up():
                time.sleep(max_poll)  # waiting for resources: no log yet, keep the job server's load low
                continue
            text = self.logs(job_id) or ""
            if len(text) > seen:
                buf += text[seen:]
                seen = len(text)
                *complete, buf = buf.split("\n")
                yield from (line.rstrip("\r") for line in complete)
                delay = poll
            else:
                delay = min(max_poll, delay * 1.5)
            if code is not None or give_up():
                text = self.logs(job_id) or ""  # what was written between the two reads
                buf += text[seen:]
                break
            if seen > switch_bytes:
                yield from self._follow_tail(job_id, seen, buf)
                return
            time.sleep(delay)
        *complete, buf = buf.split("\n")
        yield from (line.rstrip("\r") for line in complete)
        if buf:
            yield buf.rstrip("\r")

    def _follow_tail(self, job_id: str, skip: int, buf: str) -> Iterator[str]:
        loop = asyncio.new_event_loop()
        agen = self.client.tail_job_logs(job_id)
        try:
            while True:
                try:
                    chunk = loop.run_until_complete(agen.__anext__())
                except StopAsyncIteration:
                    break
                if skip:
                    cut = min(skip, len(chunk))
                    chunk, skip = chunk[cut:], skip - cut
                buf += chunk
                *complete, buf = buf.split("\n")
                yield from (line.rstrip("\r") for line in complete)
        finally:
            with contextlib.suppress(Exception):
                loop.run_until_complete(agen.aclose())
            loop.close()
        if buf:
            yield buf.rstrip("\r")

    def wait(self, job_id: str, timeout: float | None = None, poll: float = 0.5) -> str:
        """The trainform status once the job ends, or the current one after ``timeout``."""
        end = time.time() + timeout if timeout else None
        while True:
            st, code, _ = self.status(job_id)
            if code is not None or (end is not None and time.time() > end):
                return st
            time.sleep(poll)


def job_masker(info, targets: dict | None):
    """The masker of a Ray job's log from the job's own settings (see :meth:`RayExecutor.inspect`)."""
    from providers.run.masking import masker_for_targets

    words = shlex.split(getattr(info, "entrypoint", "") or "")
    argv = words[words.index("--") + 1:] if "--" in words else words
    env = ((getattr(info, "runtime_env", None) or {}).get("env_vars")) or {}
    m = masker_for_targets(targets, env, argv)
    return m if m else None


# ---------------------------------------------------------------- executor protocol

#: dashboard URL -> run_mode() answer (asked once per process and cluster)
_MODES: dict[str, tuple] = {}


def _cluster_argv(argv: list[str]) -> list[str]:
    """The host interpreter (``sys.executable``) becomes the cluster's ``python``."""
    cmd = list(argv)
    if cmd and cmd[0] == sys.executable:
        cmd[0] = "python"
    return cmd


def _ident(url: str, job_id: str) -> str:
    return f"{url}#{job_id}"


def _parse_ident(ident: str) -> tuple[str, str]:
    url, _, job = ident.rpartition("#")
    if not url or not job:
        raise ValueError(f"not a Ray job reference: {ident!r}")
    return url, job


def _submission_id(run_id: str, attempt: int) -> str:
    base = re.sub(r"[^A-Za-z0-9_-]+", "-", run_id)[:80]
    return f"trainform-{base}-a{attempt}-{os.urandom(3).hex()}"


class RayHandle:
    """A submitted attempt, as :func:`providers.run.execution.run_attempt` drives it."""

    def __init__(self, jobs: RayJobs, job_id: str, metrics_path: str | None) -> None:
        self.jobs = jobs
        self.job_id = job_id
        self.ident = _ident(jobs.url, job_id)
        self.metrics_path = metrics_path
        self.lost: str | None = None
        self._failing_since: float | None = None
        self._message = ""
        self._killed_at: float | None = None

    def lines(self) -> Iterator[str]:
        mf = open(self.metrics_path, "a", encoding="utf-8") if self.metrics_path else None  # noqa: SIM115
        try:
            try:
                for line in self.jobs.iter_lines(self.job_id, give_up=self._stopped_pending):
                    i = line.find(MARKER)
                    if i >= 0:
                        if mf is not None:
                            mf.write(line[i + len(MARKER):] + "\n")
                            mf.flush()
                        continue
                    if _RAY_NOISE.match(line):
                        continue
                    yield line
            except Exception as e:  # noqa: BLE001 - connection lost: the status check below explains
                self._note_failure(e)
            # why did the stream end?
            end = time.time() + LOST_AFTER_S + 2
            while time.time() < end:
                code = self.poll()
                if code is not None or self.lost:
                    break
                time.sleep(0.5)
            if self.lost:
                yield f"[trainform] {self.lost}"
            elif self._message and self.poll() not in (None, 0, _STOPPED_CODE) and "exit code" not in self._message:
                yield f"[trainform] Ray: {self._message.splitlines()[0]}"
        finally:
            if mf is not None:
                mf.close()

    def _stopped_pending(self) -> bool:
        return bool(self._killed_at and time.time() - self._killed_at > 3)

    def _note_failure(self, e: Exception) -> None:
        now = time.time()
        if self._failing_since is None:
            self._failing_since = now
        if now - self._failing_since >= LOST_AFTER_S and self.lost is None:
            self.lost = (f"the Ray cluster at {self.jobs.url} stopped answering ({type(e).__name__}: {str(e)[:160]}); "
                         f"job {self.job_id} is recorded as failed")

    def poll(self) -> int | None:
        if self.lost:
            return _LOST_CODE
        try:
            _, code, msg = self.jobs.status(self.job_id)
        except Exception as e:  # noqa: BLE001 - connection refused, timeouts, 5xx
            self._note_failure(e)
            return _LOST_CODE if self.lost else None
        self._failing_since = None
        self._message = msg
        if code is None and self._stopped_pending():
            # Ray cannot stop a job still PENDING (its supervisor never started): stop_job
            # kills the supervisor actor so it never runs, but the status stays PENDING
            return _STOPPED_CODE
        return code

    def wait(self, timeout: float) -> int | None:
        end = time.time() + timeout
        while time.time() < end:
            code = self.poll()
            if code is not None:
                return code
            time.sleep(0.25)
        return None

    def kill(self) -> None:
        self._killed_at = time.time()
        self.jobs.stop(self.job_id)

    def cleanup(self) -> None:
        pass


class RayExecutor:
    """Executes run attempts as Ray jobs on one cluster (F's executor protocol:
    ``mode``, ``start``, ``start_detached``, ``kill_detached``, ``inspect``).

    Make one per run with :meth:`for_run`; for refresh/destroy of a detached
    run, ``RayExecutor()`` is enough: the ident carries the cluster address.
    """

    mode = "ray"

    def __init__(self, dashboard_url: str | None = None, *, gpus: float = 0, cpus: float | None = None,
                 instance_count: int = 1, runtime_env: dict | None = None, environment_note: str = "",
                 fixed_size: bool = False) -> None:
        self.url = dashboard_url
        self.fixed_size = fixed_size  # an owned head: no autoscaler will add nodes
        self.gpus = gpus
        self.cpus = cpus
        self.instance_count = max(1, int(instance_count or 1))
        self.runtime_env = runtime_env or {}
        self.environment_note = environment_note

    @classmethod
    def for_run(cls, compute: dict, run_config: dict, environment: dict | None = None) -> RayExecutor:
        """From the compute's attributes (``dashboard_url``, ``cluster``), the run's
        configuration (``gpus``, ``cpus``, ``instance_count``) and its environment."""
        url = compute.get("dashboard_url")
        if not url:
            from providers.compute.ray_cluster import dashboard_url

            url = dashboard_url(((_block(compute.get("ray")) or {}).get("address")) or "")
        rt, note = environment_plan(environment, compute.get("cluster"))
        return cls(url, gpus=float(run_config.get("gpus") or 0), cpus=run_config.get("cpus"),
                   instance_count=int(run_config.get("instance_count") or 1), runtime_env=rt, environment_note=note,
                   fixed_size=bool((compute.get("cluster") or {}).get("owned") and not (compute.get("cluster") or {}).get("autoscaler")))

    def job_spec(self, spec) -> RayJobSpec:
        """The Ray job of an :class:`~providers.run.execution.AttemptSpec`.

        The job's log lives on the cluster (the dashboard shows it to whoever can
        reach it), so the launcher masks the command's output itself: it gets the
        *names* of the sensitive variables and the *indexes* of the sensitive words
        (``TRAINFORM_MASK_ENV``/``TRAINFORM_MASK_ARGV``) and reads the values from
        its own environment and command line."""
        from providers.run.masking import ENV_TARGET_ARGV, ENV_TARGET_NAMES

        env = job_env(spec.env)
        targets = getattr(spec, "mask_targets", None) or {}
        if targets.get("env"):
            env[ENV_TARGET_NAMES] = ",".join(targets["env"])
        if targets.get("argv"):
            env[ENV_TARGET_ARGV] = ",".join(str(i) for i in targets["argv"])
        return RayJobSpec(argv=list(spec.argv), working_dir=spec.snapshot_dir, env=env, gpus=self.gpus,
                          cpus=self.cpus, instance_count=self.instance_count, runtime_env=self.runtime_env,
                          submission_id=_submission_id(spec.run_id, spec.attempt), place=not self.fixed_size,
                          metadata={"trainform_run_id": spec.run_id, "trainform_address": spec.address, "attempt": spec.attempt})

    def check_fits(self) -> None:
        """Refuse a run no node of a non-autoscaling (owned) cluster could ever hold:
        Ray would keep it PENDING forever."""
        from providers.compute.ray_cluster import check_cluster

        info = check_cluster(self.url)
        if info is None:
            raise RuntimeError(f"the Ray cluster at {self.url} does not answer")
        need_gpus = self.gpus
        need_cpus = (self.cpus or 1) if self.instance_count > 1 else (self.cpus if self.cpus is not None else (0 if self.gpus else 1))
        if need_gpus > info["max_node_gpus"] or need_cpus > info["max_node_cpus"]:
            raise RuntimeError(f"it needs {need_gpus:g} GPU(s) and {need_cpus:g} CPU(s) on one node, but the largest node of the "
                               f"Ray cluster at {self.url} has {info['max_node_gpus']:g} GPU(s) and {info['max_node_cpus']:g} CPU(s)")

    def start(self, spec):
        """Start one attempt: a task from the cluster's driver (task mode) when
        one can connect, else a Ray job (see :func:`run_mode`)."""
        if self.fixed_size:
            self.check_fits()
        # a detached attempt (wait = false) is a Job: a task would end with trainform's driver subprocess
        mode, driver_address, loopback = ("jobs", None, False) if getattr(spec, "detached", False) else self.run_mode()
        if mode == "tasks":
            from providers.run.ray_tasks import driver_for

            try:
                driver = driver_for(driver_address, loopback)
            except RuntimeError:
                # e.g. the GCS answers but this machine is no node of the cluster: Ray Jobs still work
                _MODES[self.url] = ("jobs", None, False)
                return self.start(spec)
            key = _submission_id(spec.run_id, spec.attempt)
            return driver.start(key, {
                "argv": _cluster_argv(spec.argv), "env": job_env(spec.env), "working_dir": spec.snapshot_dir,
                "runtime_env": self.runtime_env, "num_gpus": self.gpus, "num_cpus": self.cpus,
                "metrics_file": spec.paths.metrics, "outputs_dir": spec.paths.outputs, "name": f"trainform:{spec.address}"})
        jobs = RayJobs(self.url)
        job_id = jobs.submit(self.job_spec(spec))
        return RayHandle(jobs, job_id, spec.paths.metrics)

    def run_mode(self) -> tuple[str, str | None, bool]:
        """("tasks", GCS address, loopback?) or ("jobs", None, False).

        Task mode (one long-lived driver per cluster, :mod:`providers.run.ray_tasks`)
        needs a driver connection: this machine must reach the cluster's GCS
        (trainform runs on a node, or the cluster is this machine's).
        Distributed runs (``instance_count`` > 1) stay Ray jobs (their
        launcher places the ranks).  ``TRAINFORM_RAY_MODE=jobs`` forces jobs."""
        forced = os.environ.get("TRAINFORM_RAY_MODE", "").strip().lower()
        if forced == "jobs" or self.instance_count > 1 or not self.url:
            return "jobs", None, False
        if forced == "tasks":
            _MODES.pop(self.url, None)  # ask again: a test may have changed the cluster
        from providers.compute.ray_cluster import check_cluster, gcs_address

        cached = _MODES.get(self.url)
        if cached is None:
            gcs = gcs_address(self.url)
            info = check_cluster(self.url) or {}
            reachable = False
            if gcs:
                import socket

                host, _, port = gcs.rpartition(":")
                try:
                    socket.create_connection((host.strip("[]"), int(port)), timeout=2).close()
                    reachable = True
                except (OSError, ValueError):
                    pass
            loopback = info.get("node_ips") == ["127.0.0.1"]
            cached = _MODES[self.url] = ("tasks", gcs, loopback) if reachable else ("jobs", None, False)
        return cached

    def start_detached(self, spec) -> str:
        jobs = RayJobs(self.url)
        return _ident(jobs.url, jobs.submit(self.job_spec(spec)))

    def kill_detached(self, ident: str) -> None:
        url, job = _parse_ident(ident)
        RayJobs(url).stop(job)

    def inspect(self, ident: str, paths=None, targets: dict | None = None) -> tuple[str, int | None, str | None]:
        """("running"|"exited"|"cancelled"|"lost", exit code, cleaned log) of a
        detached job; with ``paths`` the run's metrics file is rewritten from the log.

        The log is masked (again: the launcher masked the command's output) with the
        values of the sensitive variables and words named by ``targets``, read from
        the job's own ``runtime_env`` and entrypoint: this also covers the lines Ray
        itself writes into the job log, e.g. the entrypoint it runs."""
        url, job = _parse_ident(ident)
        jobs = RayJobs(url)
        try:
            st, code, _ = jobs.status(job)
            logs = jobs.logs(job) if code is not None else None
            mask = job_masker(jobs.info(job), targets) if logs and targets else None
        except Exception:  # noqa: BLE001 - the cluster (or the job's record) is gone
            return "lost", None, None
        if mask is not None:
            logs = "\n".join(mask(line) for line in logs.split("\n"))
        if code is None:
            return "running", None, None
        if logs is not None:
            if paths is not None:
                read_metrics(logs, paths.metrics)
            shown, _ = split_metric_lines(logs.splitlines())
            logs = "\n".join(shown) + ("\n" if shown else "")
        return ("cancelled" if st == "cancelled" else "exited"), code, logs
