"""Task mode: run attempts as Ray tasks from one long-lived driver per cluster.

Why: a Ray *Job* per run costs a job-supervisor actor (a fresh Python worker
that imports Ray), an entrypoint shell and a second Python for the launcher:
on a small machine that is seconds per run, and a sweep of short runs takes
3-5x its ideal time.  Here one driver process connects to the cluster once
(``ray.init``) and submits each attempt as a *streaming generator task*
(:func:`providers.run.ray_launcher.run_task`) with

* ``num_gpus``/``num_cpus`` of the run, so Ray places and queues it (on any
  node of the cluster, worker nodes included);
* ``runtime_env`` = the run's snapshot as ``working_dir`` (content-addressed:
  a sweep over one snapshot shares it, and Ray reuses warm workers between
  runs) plus the environment's ``pip``/``image_uri`` when it has them;
* the run's variables as an argument, not in the runtime env (so they do not
  force a new worker per run).

The task streams back log lines, metric lines and finally ``./outputs`` (a
tar archive) and the exit code, so logs, metrics and outputs reach the
workspace whichever node ran the attempt, without shared storage.

Why a *subprocess* driver: a Ray driver whose cluster head dies is ended by
Ray itself after a while, and it would take trainform with it.  The driver
(``python -m providers.run.ray_tasks ADDRESS``) speaks JSON lines on its
stdin/stdout; if it dies or loses the cluster, every attempt in flight ends
with exit code 255 and a sentence saying so, and the next attempt starts a
new driver.

Protocol (one JSON object per line)::

    -> {"op": "start", "id", "argv", "env", "working_dir", "runtime_env",
        "num_cpus", "num_gpus", "metrics_file", "outputs_dir", "name"}
    -> {"op": "cancel", "id"}
    <- {"event": "ready"} | {"event": "fatal", "message"}
    <- {"id", "event": "node", "node_id"}
    <- {"id", "event": "lines", "lines": [...]}
    <- {"id", "event": "exit", "code", "kind": "exited"|"cancelled"|"lost", "message"}

Metrics and outputs are written by the driver straight into the run's files
(it runs on the trainform machine).
"""

from __future__ import annotations

import contextlib
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
import time

__all__ = ["LOST_CODE", "STOPPED_CODE", "RayDriver", "TaskHandle", "driver_for", "serve", "shutdown_drivers"]

LOST_CODE = 255
STOPPED_CODE = 143
_READY_TIMEOUT_S = 120.0


# ---------------------------------------------------------------- trainform side

class TaskHandle:
    """One attempt in task mode, as :func:`providers.run.execution.run_attempt` drives it."""

    def __init__(self, driver: RayDriver, key: str) -> None:
        self.driver = driver
        self.key = key
        self.ident = f"{driver.address}#task:{key}"
        self.events: queue.Queue = queue.Queue()
        self.code: int | None = None
        self.kind: str | None = None
        self.message = ""
        self.node_id: str | None = None
        self._done = threading.Event()

    # called by the driver's reader thread
    def _event(self, ev: dict) -> None:
        if ev.get("event") == "node":
            self.node_id = ev.get("node_id")
        elif ev.get("event") == "exit":
            self.kind, self.message = ev.get("kind"), ev.get("message") or ""
            self.code = int(ev.get("code", LOST_CODE))
            self._done.set()
        self.events.put(ev)

    def lines(self):
        while True:
            ev = self.events.get()
            if ev.get("event") == "lines":
                yield from ev.get("lines") or []
            elif ev.get("event") == "exit":
                if self.kind == "lost" and self.message:
                    yield f"[trainform] {self.message}"
                elif self.message and self.code not in (0, STOPPED_CODE):
                    yield f"[trainform] Ray: {self.message.splitlines()[0]}"
                return

    def poll(self) -> int | None:
        return self.code

    def wait(self, timeout: float) -> int | None:
        self._done.wait(timeout)
        return self.code

    def kill(self) -> None:
        self.driver.send({"op": "cancel", "id": self.key})

    def cleanup(self) -> None:
        self.driver.forget(self.key)


class RayDriver:
    """The trainform end of one driver subprocess (one per cluster address)."""

    def __init__(self, address: str, loopback: bool = False, log_dir: str | None = None) -> None:
        self.address = address
        self.handles: dict[str, TaskHandle] = {}
        self.lock = threading.Lock()
        self.ready = threading.Event()
        self.fatal: str | None = None
        self.dead = False
        env = dict(os.environ, RAY_USAGE_STATS_ENABLED="0", PYTHONUNBUFFERED="1")
        if loopback:
            from providers.compute.ray_cluster import LOOPBACK_ENV

            env.update(LOOPBACK_ENV)
        root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
        log_dir = log_dir or os.path.join(tempfile.gettempdir(), "trainform-ray-drivers")
        os.makedirs(log_dir, exist_ok=True)
        self.log_path = os.path.join(log_dir, f"ray-driver-{os.getpid()}-{abs(hash(address)) % 10**6}.log")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - the driver's stderr for its whole life
        self.proc = subprocess.Popen([sys.executable, "-m", "providers.run.ray_tasks", address], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=self._log, env=env, start_new_session=True)
        self._wlock = threading.Lock()
        threading.Thread(target=self._read, name="ray-driver", daemon=True).start()

    def wait_ready(self, timeout: float = _READY_TIMEOUT_S) -> None:
        if not self.ready.wait(timeout) and not self.fatal:
            self.fatal = f"the Ray driver did not connect to {self.address} within {timeout:g}s"
            self.close()
        if self.fatal:
            raise RuntimeError(self.fatal)

    def _read(self) -> None:
        for raw in self.proc.stdout:
            try:
                ev = json.loads(raw)
            except ValueError:
                continue
            if ev.get("event") == "ready":
                self.ready.set()
            elif ev.get("event") == "fatal":
                self.fatal = ev.get("message") or "the Ray driver failed"
                self.ready.set()
            else:
                with self.lock:
                    h = self.handles.get(ev.get("id"))
                if h is not None:
                    h._event(ev)
        # EOF: the driver died (or lost the cluster and exited)
        self.dead = True
        self.proc.wait()
        if not self.ready.is_set():
            self.fatal = self.fatal or f"the Ray driver for {self.address} exited ({self._tail()})"
            self.ready.set()
        with self.lock:
            live = [h for h in self.handles.values() if h.code is None]
        for h in live:
            h._event({"event": "exit", "code": LOST_CODE, "kind": "lost",
                      "message": f"the Ray cluster at {self.address} stopped answering (its driver exited: {self._tail()}); "
                                 "the attempt is recorded as failed"})

    def _tail(self) -> str:
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as f:
                lines = [x.strip() for x in f.readlines()[-20:] if x.strip()]
            keep = [x for x in lines if "Error" in x or "error" in x] or lines
            return (keep[-1] if keep else "no output")[:300]
        except OSError:
            return "no log"

    def send(self, msg: dict) -> None:
        if self.dead:
            return
        data = (json.dumps(msg) + "\n").encode()
        with self._wlock:
            try:
                self.proc.stdin.write(data)
                self.proc.stdin.flush()
            except (BrokenPipeError, OSError, ValueError):
                pass

    def start(self, key: str, request: dict) -> TaskHandle:
        h = TaskHandle(self, key)
        with self.lock:
            self.handles[key] = h
        self.send(dict(request, op="start", id=key))
        return h

    def forget(self, key: str) -> None:
        with self.lock:
            self.handles.pop(key, None)

    def close(self) -> None:
        self.dead = True
        try:
            self.proc.stdin.close()
        except OSError:
            pass
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self._log.close()


_DRIVERS: dict[str, RayDriver] = {}
_DRIVERS_LOCK = threading.Lock()


def driver_for(address: str, loopback: bool = False) -> RayDriver:
    """The live driver for ``address`` (started, and waited for, when needed)."""
    with _DRIVERS_LOCK:
        d = _DRIVERS.get(address)
        if d is None or d.dead or d.fatal:
            d = _DRIVERS[address] = RayDriver(address, loopback)
    d.wait_ready()
    return d


def shutdown_drivers() -> None:
    with _DRIVERS_LOCK:
        drivers = list(_DRIVERS.values())
        _DRIVERS.clear()
    for d in drivers:
        d.close()


# ---------------------------------------------------------------- the driver process

def _extract(chunks: list[bytes], dest: str) -> None:
    import io
    import tarfile

    data = b"".join(chunks)
    if not data:
        return
    os.makedirs(dest, exist_ok=True)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
        tar.extractall(dest, filter="data")


def serve(address: str) -> int:
    """The driver: connect, then serve requests from stdin until it closes."""
    out_lock = threading.Lock()

    def say(obj: dict) -> None:
        with out_lock:
            sys.stdout.write(json.dumps(obj) + "\n")
            sys.stdout.flush()

    try:
        import cloudpickle
        import ray

        import providers.run.ray_launcher as launcher

        cloudpickle.register_pickle_by_value(launcher)  # nodes need no trainform: the code travels with the task
        ray.init(address=address, namespace="trainform", log_to_driver=False, logging_level="WARNING",
                 configure_logging=False)
    except Exception as e:  # noqa: BLE001 - the message is for users
        say({"event": "fatal", "message": f"cannot connect a Ray driver to {address}: {type(e).__name__}: {str(e)[:300]}"})
        return 1
    remote = ray.remote(launcher.run_task)
    refs: dict[str, object] = {}
    uris: dict[str, str] = {}
    upload_lock = threading.Lock()

    def working_dir_uri(path: str) -> str:
        """Upload a snapshot once (Ray's content-addressed gcs:// package) and reuse it:
        a task's runtime_env takes URIs only."""
        with upload_lock:
            if path not in uris:
                from ray._private.runtime_env.working_dir import (
                    upload_working_dir_if_needed,
                )

                uris[path] = upload_working_dir_if_needed({"working_dir": path}, include_gitignore=False)["working_dir"]
            return uris[path]

    cancelled: set[str] = set()
    lock = threading.Lock()

    def follow(req: dict) -> None:
        key = req["id"]
        code, kind, message, chunks = None, "exited", "", []
        try:
            gpus = float(req.get("num_gpus") or 0)
            cpus = req.get("num_cpus")
            cpus = float(cpus) if cpus is not None else (0.0 if gpus else 1.0)
            rt = dict(req.get("runtime_env") or {})
            rt["working_dir"] = working_dir_uri(req["working_dir"])
            gen = remote.options(num_gpus=gpus, num_cpus=cpus, runtime_env=rt, max_retries=0, retry_exceptions=False,
                                 name=req.get("name") or "trainform-run").remote(req["argv"], req.get("env") or {})
            with lock:
                refs[key] = gen
                stop_now = key in cancelled
            if stop_now:
                ray.cancel(gen)
            mf = open(req["metrics_file"], "a", encoding="utf-8") if req.get("metrics_file") else None  # noqa: SIM115
            try:
                for ref in gen:
                    item = ray.get(ref)
                    if "node" in item:
                        say({"id": key, "event": "node", "node_id": item["node"]})
                    if item.get("metrics") and mf is not None:
                        mf.writelines(m + "\n" for m in item["metrics"])
                        mf.flush()
                    if item.get("lines"):
                        say({"id": key, "event": "lines", "lines": item["lines"]})
                    if "outputs" in item:
                        chunks.append(item["outputs"])
                    if "exit" in item:
                        code = int(item["exit"])
            finally:
                if mf is not None:
                    mf.close()
            if code is None:
                code, kind, message = LOST_CODE, "lost", "the Ray task ended without an exit code"
            elif req.get("outputs_dir"):
                _extract(chunks, req["outputs_dir"])
        except Exception as e:  # noqa: BLE001 - sort Ray's errors into what they mean for the run
            name = type(e).__name__
            with lock:
                was_cancelled = key in cancelled
            if was_cancelled or name in ("TaskCancelledError",):
                code, kind, message = STOPPED_CODE, "cancelled", ""
            elif name in ("NodeDiedError", "WorkerCrashedError", "ObjectLostError", "OwnerDiedError", "RaySystemError",
                          "ObjectReconstructionFailedError", "ActorDiedError", "LocalRayletDiedError"):
                code, kind = LOST_CODE, "lost"
                if not gcs_answers():
                    message = (f"the Ray cluster at {address} stopped answering (its head is gone: {name}); "
                               "the attempt is recorded as failed")
                else:
                    message = (f"the Ray node running the attempt died ({name}: {str(e).splitlines()[0][:200] if str(e) else ''}); "
                               "the attempt is recorded as failed")
            else:
                code, kind, message = 1, "exited", f"{name}: {str(e)[:300]}"
        finally:
            with lock:
                refs.pop(key, None)
                cancelled.discard(key)
        say({"id": key, "event": "exit", "code": code, "kind": kind, "message": message})

    def gcs_answers() -> bool:
        import socket

        host, _, port = address.rpartition(":")
        try:
            socket.create_connection((host.strip("[]"), int(port)), timeout=2).close()
            return True
        except (OSError, ValueError):
            return False

    def watch_cluster() -> None:
        """Exit when the cluster stops answering, so trainform's attempts end (Ray
        itself would only end this process after a long reconnect timeout)."""
        failing_since = None
        while True:
            time.sleep(1.0)
            if gcs_answers():
                failing_since = None
            else:
                failing_since = failing_since or time.time()
                if time.time() - failing_since > float(os.environ.get("TRAINFORM_RAY_LOST_AFTER_S", "8")):
                    sys.stderr.write(f"RayClusterLost: the Ray cluster at {address} stopped answering\n")
                    sys.stderr.flush()
                    os._exit(3)

    threading.Thread(target=watch_cluster, daemon=True).start()
    say({"event": "ready"})
    for raw in sys.stdin:
        try:
            req = json.loads(raw)
        except ValueError:
            continue
        if req.get("op") == "start":
            threading.Thread(target=follow, args=(req,), daemon=True).start()
        elif req.get("op") == "cancel":
            with lock:
                cancelled.add(req.get("id"))
                gen = refs.get(req.get("id"))
            if gen is not None:
                with contextlib.suppress(Exception):  # already finished
                    ray.cancel(gen)
    # stdin closed: trainform is done with this cluster; stop what still runs
    with lock:
        live = list(refs.values())
    for gen in live:
        with contextlib.suppress(Exception):
            ray.cancel(gen)
    return 0


if __name__ == "__main__":
    sys.exit(serve(sys.argv[1]))
