"""Docker mode: one container per attempt from the environment's image.

Mounts (Azure ML's layout, adapted): the content-addressed snapshot
read-only at ``/workspace/snapshot`` (the working directory), the run's
``outputs`` folder writable at ``/workspace/snapshot/outputs``, and the run's
``trainform`` folder at ``/trainform`` (the metrics file).  GPUs are passed
as a device request for exactly the leased indexes.  Containers carry
``trainform.run_id`` / ``trainform.address`` / ``trainform.run_dir``
labels and a name known before they exist (``trainform-<run id>-<attempt>``),
which the run's record and state hold *before* the container is created:
a trainform killed mid-run leaves an execution the next command finds by
name and adopts (follow or collect), or removes when it never started.
"""

from __future__ import annotations

import os
import threading
from datetime import UTC, datetime

from providers.run.execution import AttemptSpec, Execution, split_lines

__all__ = ["DockerExecutor", "container_masker", "docker_client", "DockerUnavailable"]

WORKDIR = "/workspace/snapshot"

_client = None
_client_lock = threading.Lock()


class DockerUnavailable(Exception):
    pass


def docker_client():
    global _client
    with _client_lock:
        if _client is None:
            import docker

            try:
                c = docker.from_env(timeout=120)
                c.ping()
            except Exception as e:  # noqa: BLE001 - many transport errors
                raise DockerUnavailable(f"cannot reach the Docker daemon: {e}") from e
            _client = c
        return _client


class DockerHandle:
    def __init__(self, container, adopted: bool = False) -> None:
        self.container = container
        self.ident = container.id
        self.adopted = adopted  # the log is streamed from the start again: rewrite the file
        self._code = None
        self._done = threading.Event()
        threading.Thread(target=self._waiter, daemon=True).start()

    def _waiter(self):
        try:
            r = self.container.wait()
            self._code = int(r.get("StatusCode", -1))
        except Exception:  # noqa: BLE001 - daemon went away: treat as failure
            self._code = -1
        self._done.set()

    def lines(self):
        return split_lines(self.container.logs(stream=True, follow=True, stdout=True, stderr=True))

    def poll(self):
        return self._code if self._done.is_set() else None

    def wait(self, timeout):
        self._done.wait(timeout)
        return self.poll()

    def kill(self):
        try:
            self.container.kill()
        except Exception:  # noqa: BLE001 - already gone
            pass

    def cleanup(self):
        try:
            self.container.remove(force=True)
        except Exception:  # noqa: BLE001
            pass


class DockerExecutor:
    mode = "docker"

    def __init__(self) -> None:
        self.client = docker_client()

    def ensure_image(self, image: str, auth: dict | None) -> None:
        import docker

        try:
            self.client.images.get(image)
            return
        except docker.errors.ImageNotFound:
            pass
        repo, tag = image, None
        if "@" not in image:
            last = image.rsplit("/", 1)[-1]
            if ":" in last:
                repo, tag = image.rsplit(":", 1)
        self.client.images.pull(repo, tag=tag or "latest" if "@" not in image else None, auth_config=auth or None)

    def _create(self, spec: AttemptSpec):
        import docker

        self.ensure_image(spec.image, spec.registry_auth)
        env = dict(spec.env)
        device_requests = None
        if spec.gpus:
            device_requests = [docker.types.DeviceRequest(device_ids=[str(g) for g in spec.gpus], capabilities=[["gpu"]])]
            # inside the container the leased GPUs are renumbered from 0
            env["CUDA_VISIBLE_DEVICES"] = ",".join(str(i) for i in range(len(spec.gpus)))
            env["TRAINFORM_GPUS"] = ",".join(str(g) for g in spec.gpus)
        volumes = {
            spec.snapshot_dir: {"bind": WORKDIR, "mode": "ro"},
            spec.paths.outputs: {"bind": WORKDIR + "/outputs", "mode": "rw"},
            spec.paths.meta: {"bind": "/trainform", "mode": "rw"},
        }
        labels = {"trainform.run_id": spec.run_id, "trainform.address": spec.address, "trainform.attempt": str(spec.attempt),
                  "trainform.run_dir": spec.paths.root, **spec.labels}
        return self.client.containers.create(
            spec.image, command=spec.argv, environment=env, working_dir=WORKDIR, volumes=volumes, labels=labels,
            device_requests=device_requests, name=self.planned_ident(spec), detach=True,
        )

    @staticmethod
    def planned_ident(spec: AttemptSpec) -> str:
        return f"trainform-{spec.run_id}-{spec.attempt}"

    def attach(self, ident: str, run_id: str, paths, attempt: int) -> DockerHandle | None:
        import docker

        try:
            return DockerHandle(self.client.containers.get(ident), adopted=True)
        except docker.errors.NotFound:
            return None

    def start(self, spec: AttemptSpec) -> DockerHandle:
        c = self._create(spec)
        try:
            c.start()
        except Exception:
            c.remove(force=True)
            raise
        return DockerHandle(c)

    def start_detached(self, spec: AttemptSpec) -> str:
        c = self._create(spec)
        c.start()
        return c.id

    def kill_detached(self, ident: str) -> None:
        import docker

        try:
            c = self.client.containers.get(ident)
            c.kill()
        except (docker.errors.NotFound, docker.errors.APIError):
            pass

    def inspect(self, ident: str, run_id: str | None = None, paths=None, attempt: int = 1) -> Execution:
        import docker

        try:
            c = self.client.containers.get(ident)
        except docker.errors.NotFound:
            return Execution("lost", ident=ident)
        st = c.attrs.get("State", {})
        if st.get("Running") or st.get("Status") in ("restarting", "paused"):
            return Execution("running", ident=c.id, started=_ts(st.get("StartedAt")))
        started = _ts(st.get("StartedAt"))
        if st.get("Status") == "created" or started is None:
            return Execution("not_started", ident=c.id)
        logs = c.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        return Execution("exited", int(st.get("ExitCode", -1)), started=started, ended=_ts(st.get("FinishedAt")), ident=c.id, logs=logs)

    def masker(self, ident: str | None, targets: dict | None):
        """The masker of a container's output, from its own configuration (``Config.Env``
        and ``Config.Cmd`` hold the run's values for the container's lifetime; ``targets``
        says which are sensitive).  None when there is nothing to mask or no container."""
        return container_masker(self.client, ident, targets)

    def containers_of(self, address: str, run_root: str) -> list:
        """Containers trainform started for ``address`` in this workspace (to sweep orphans)."""
        cs = self.client.containers.list(all=True, filters={"label": f"trainform.address={address}"})
        return [c for c in cs if os.path.dirname((c.labels or {}).get("trainform.run_dir", "")) == run_root]

    def remove(self, ident: str) -> None:
        import docker

        try:
            self.client.containers.get(ident).remove(force=True)
        except (docker.errors.NotFound, docker.errors.APIError):
            pass


def container_masker(client, ident: str | None, targets: dict | None):
    """See :meth:`DockerExecutor.masker` (also used by ``trainform logs -f``)."""
    import docker

    from providers.run.masking import masker_for_targets

    if not ident or not targets:
        return None
    try:
        cfg = client.containers.get(ident).attrs.get("Config") or {}
    except (docker.errors.NotFound, docker.errors.APIError):
        return None
    m = masker_for_targets(targets, cfg.get("Env") or [], cfg.get("Cmd") or [])
    return m if m else None


def _ts(text: str | None) -> float | None:
    """Docker's RFC 3339 time (nanoseconds, "Z") -> epoch seconds; None for the zero time."""
    if not text or text.startswith("0001-"):
        return None
    try:
        base, _, frac = text.rstrip("Z").partition(".")
        t = datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(tzinfo=UTC).timestamp()
        return t + (float("0." + frac.split("+")[0].split("-")[0]) if frac else 0.0)
    except ValueError:
        return None
