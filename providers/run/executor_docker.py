"""Docker mode: one container per attempt from the environment's image.

Mounts (Azure ML's layout, adapted): the content-addressed snapshot
read-only at ``/workspace/snapshot`` (the working directory), the run's
``outputs`` folder writable at ``/workspace/snapshot/outputs``, and the run's
``trainform`` folder at ``/trainform`` (the metrics file).  GPUs are passed
as a device request for exactly the leased indexes.  Containers carry
``trainform.run_id`` labels so a refresh in another process finds them.
"""

from __future__ import annotations

import threading

from providers.run.execution import AttemptSpec, split_lines

__all__ = ["DockerExecutor", "docker_client", "DockerUnavailable"]

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
    def __init__(self, container) -> None:
        self.container = container
        self.ident = container.id
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
        labels = {"trainform.run_id": spec.run_id, "trainform.address": spec.address, "trainform.attempt": str(spec.attempt), **spec.labels}
        return self.client.containers.create(
            spec.image, command=spec.argv, environment=env, working_dir=WORKDIR, volumes=volumes, labels=labels,
            device_requests=device_requests, name=f"trainform-{spec.run_id}-{spec.attempt}", detach=True,
        )

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

    def inspect(self, ident: str) -> tuple[str, int | None, str | None]:
        """("running"|"exited"|"lost", exit code, logs text when exited)."""
        import docker

        try:
            c = self.client.containers.get(ident)
        except docker.errors.NotFound:
            return "lost", None, None
        st = c.attrs.get("State", {})
        if st.get("Running") or st.get("Status") in ("created", "restarting"):
            return "running", None, None
        logs = c.logs(stdout=True, stderr=True).decode("utf-8", "replace")
        return "exited", int(st.get("ExitCode", -1)), logs

    def remove(self, ident: str) -> None:
        import docker

        try:
            self.client.containers.get(ident).remove(force=True)
        except (docker.errors.NotFound, docker.errors.APIError):
            pass
