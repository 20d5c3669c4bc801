"""The entrypoint trainform gives a Ray job: runs the user's command, N ranks if asked.

This file is shipped to the cluster as the package ``trainform_ray_launcher``
(``runtime_env["py_modules"]``, see ``executor_ray.stage_launcher``) and run
there with the cluster's Python as ``python -m trainform_ray_launcher``; it
must therefore use only the standard library and ``ray``, never trainform.

What it adds around an unmodified training command:

* **A private working copy.**  Ray unpacks a working_dir once per node and
  shares it between jobs with the same content, so each process runs in its
  own copy (``outputs/`` excluded).  ``./outputs`` links to
  ``$TRAINFORM_OUTPUTS_DIR`` when that directory exists on the node (a head
  on the trainform machine); otherwise it is a local folder, lost with the
  job (a known gap on remote clusters).
* **Metrics back over the log.**  ``$TRAINFORM_METRICS_FILE`` points to a
  node-local file; every complete JSON line the script appends is echoed to the
  job log as ``##trainform-metric## {json}``.  trainform parses these lines
  out of the log (they are not shown) into the run's own metrics file, so the
  protocol works on any cluster without shared storage.
* **Whole lines.**  The command's stdout/stderr go through a pipe and are
  written line by line, so a metric line never lands in the middle of output.
* **Placed single process** (``--place``): Ray serves a job's log from the
  node its driver runs on, and a driver given entrypoint resources lands on a
  worker node, whose log the head's job server does not have (empty logs,
  hence no metrics).  So on clusters with worker nodes the driver stays on the
  head (no entrypoint resources) and the command runs in one placed actor,
  exactly like one rank of a distributed launch below.
* **Distributed launch** (``--nproc N`` > 1): a placement group of N bundles
  (``--cpus-per-rank``/``--gpus-per-rank``, PACK strategy) holds one actor
  per rank; rank 0's actor picks ``MASTER_ADDR``/``MASTER_PORT`` on its
  node, then every actor runs the command with ``RANK``, ``WORLD_SIZE``,
  ``LOCAL_RANK``, ``LOCAL_WORLD_SIZE``, ``NODE_RANK``, ``MASTER_ADDR`` and
  ``MASTER_PORT`` set -- what ``torch.distributed.init_process_group("env://")``
  reads.  The driver prints each rank's lines prefixed ``[rank i]``; the first
  rank to fail stops the others and its exit code is the job's.

* **Masked output.**  The job's log lives on the cluster (files on the
  node, the dashboard's log view), so sensitive values are masked here,
  before a line is written: ``$TRAINFORM_MASK_ENV`` names the sensitive
  variables and ``$TRAINFORM_MASK_ARGV`` the indexes of the sensitive words of
  the command (names and indexes only); the values are this process's own
  environment and command line.  The masker is trainform's ``masking.py``,
  staged next to this file (standard library only).

If the launcher's parent dies (the head was killed), it stops the command
and exits.  Stopping: Ray sends SIGTERM to this process (``ray job stop``, a trainform
timeout or Ctrl-C); it is forwarded to the command's process group (and to
every rank's), SIGKILL after 3 s.  Commands also get PDEATHSIG=SIGKILL, so
they never outlive a killed launcher or actor.
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time

MARKER = "##trainform-metric## "


def _pdeathsig():
    try:
        import ctypes

        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except Exception:  # noqa: BLE001, S110 - not Linux: best effort
        pass


def _private_copy(src: str, link_outputs: bool = True) -> str:
    work = tempfile.mkdtemp(prefix="trainform-job-")
    shutil.copytree(src, work, symlinks=True, dirs_exist_ok=True, ignore=shutil.ignore_patterns("outputs"))
    out = os.environ.get("TRAINFORM_OUTPUTS_DIR") or ""
    link = os.path.join(work, "outputs")
    if link_outputs and os.path.isabs(out) and os.path.isdir(out) and os.access(out, os.W_OK):
        os.symlink(out, link)
    else:
        os.makedirs(link, exist_ok=True)
    return work


class Command:
    """One process of the user's command with metrics echoing; lines go to ``emit``."""

    def __init__(self, argv: list[str], extra_env: dict, emit, prefix: str = "", collect_outputs: bool = False) -> None:
        self.argv, self.extra_env, self.emit, self.prefix = argv, extra_env, emit, prefix
        self.collect_outputs = collect_outputs  # task mode: ./outputs is sent back, never linked
        self.proc: subprocess.Popen | None = None
        self.work: str | None = None
        self.code: int | None = None
        self._lock = threading.Lock()
        self._mlock = threading.Lock()

    def start(self) -> None:
        self.work = _private_copy(os.getcwd(), link_outputs=not self.collect_outputs)
        self.meta = meta = tempfile.mkdtemp(prefix="trainform-meta-")
        self.metrics = os.path.join(meta, "metrics.jsonl")
        open(self.metrics, "a").close()
        env = dict(os.environ, **self.extra_env)
        for k in ("TRAINFORM_MASK_ENV", "TRAINFORM_MASK_ARGV"):  # the launcher's (a rank's actor inherits them from the job)
            env.pop(k, None)
        env["TRAINFORM_METRICS_FILE"] = self.metrics
        env["TRAINFORM_OUTPUTS_DIR"] = os.path.join(self.work, "outputs")
        env.setdefault("PYTHONUNBUFFERED", "1")
        self.proc = subprocess.Popen(self.argv, cwd=self.work, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, start_new_session=True, preexec_fn=_pdeathsig)  # noqa: PLW1509 - prctl only
        self._offset = 0
        self._partial = b""
        self._reader = threading.Thread(target=self._pump, daemon=True)
        self._reader.start()

    def _say(self, line: str) -> None:
        with self._lock:
            self.emit(line)

    def _metrics(self) -> None:
        with self._mlock:
            self._metrics_locked()

    def _metrics_locked(self) -> None:
        try:
            with open(self.metrics, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except OSError:
            return
        if not data:
            return
        data = self._partial + data
        self._offset += len(data) - len(self._partial)
        *complete, self._partial = data.split(b"\n")
        for raw in complete:
            text = raw.decode("utf-8", "replace").strip()
            if text:
                self._say(MARKER + text)

    def _pump(self) -> None:
        last = 0.0
        for raw in iter(self.proc.stdout.readline, b""):
            self._say(self.prefix + raw.decode("utf-8", "replace").rstrip("\r\n"))
            if time.time() - last > 0.2:
                self._metrics()
                last = time.time()

    def wait(self, poll: float = 0.2) -> int:
        while self.proc.poll() is None:
            self._metrics()
            time.sleep(poll)
        self._reader.join(10)
        self._metrics()
        with self._mlock:
            if self._partial.strip():
                self._say(MARKER + self._partial.decode("utf-8", "replace").strip())
                self._partial = b""
        self.code = self.proc.returncode
        if self.collect_outputs:
            self.outputs_archive = _archive(os.path.join(self.work, "outputs"))
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.meta, ignore_errors=True)
        return self.code

    def terminate(self, grace: float = 3.0) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        for sig in (signal.SIGTERM, signal.SIGKILL):
            try:
                os.killpg(p.pid, sig)
            except (ProcessLookupError, PermissionError):
                return
            end = time.time() + grace
            while time.time() < end and p.poll() is None:
                time.sleep(0.05)
            if p.poll() is not None:
                return


def _archive(folder: str) -> bytes:
    """``folder`` as a gzipped tar (empty bytes when it holds nothing)."""
    import io
    import tarfile

    if not os.path.isdir(folder) or not os.listdir(folder):
        return b""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        for name in sorted(os.listdir(folder)):
            tar.add(os.path.join(folder, name), arcname=name)
    return buf.getvalue()


def _exit_code(code: int) -> int:
    return 128 - code if code < 0 else code  # killed by signal N -> 128+N, like a shell


#: the job's masker (see "Masked output" above); None: nothing to mask
_MASK = None


def _job_masker(cmd: list[str]):
    """The masker of this job's output: the values of the variables named in
    ``$TRAINFORM_MASK_ENV`` and of the words of ``cmd`` at ``$TRAINFORM_MASK_ARGV``.
    Both variables are removed, so the command does not inherit them."""
    names = [n for n in os.environ.pop("TRAINFORM_MASK_ENV", "").split(",") if n]
    idx = [int(i) for i in os.environ.pop("TRAINFORM_MASK_ARGV", "").split(",") if i.strip().isdigit()]
    if not names and not idx:
        return None
    try:
        from trainform_ray_launcher.masking import masker_for_targets  # staged next to this file
    except ImportError:  # run from trainform's own tree (tests)
        from providers.run.masking import masker_for_targets
    m = masker_for_targets({"env": names, "argv": idx}, os.environ, cmd)
    return m if m else None


def _print(line: str) -> None:
    if _MASK is not None:
        line = _MASK(line)
    sys.stdout.write(line + "\n")
    sys.stdout.flush()


def _orphan_watch(on_orphan, poll: float = 1.0) -> None:
    """Call ``on_orphan`` once if this process's parent (Ray's job supervisor, or
    the shell it started) dies: a head killed with SIGKILL must not leave the
    training command running."""
    parent = os.getppid()

    def loop():
        while os.getppid() == parent:
            time.sleep(poll)
        on_orphan()

    threading.Thread(target=loop, name="orphan-watch", daemon=True).start()


def run_single(argv: list[str]) -> int:
    cmd = Command(argv, {}, _print)

    def on_term(signum, frame):
        cmd.terminate()

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    cmd.start()
    _orphan_watch(lambda: (cmd.terminate(), os._exit(137)))
    return _exit_code(cmd.wait())


# ---------------------------------------------------------------- distributed

def _rank_actor_class():
    import ray

    @ray.remote(max_concurrency=4)
    class TrainformRank:
        """One rank: runs the command and buffers its lines for the driver."""

        def __init__(self) -> None:
            self.lines: list[str] = []
            self.lock = threading.Lock()
            self.cmd: Command | None = None

        def where(self):
            s = socket.socket()
            s.bind(("", 0))
            port = s.getsockname()[1]
            s.close()
            return ray.util.get_node_ip_address(), port, ray.get_runtime_context().get_node_id()

        def start(self, argv, env, prefix):
            def emit(line):
                with self.lock:
                    self.lines.append(line)

            self.cmd = Command(argv, env, emit, prefix)
            self.cmd.start()
            threading.Thread(target=self.cmd.wait, daemon=True).start()
            return True

        def drain(self):
            with self.lock:
                out, self.lines = self.lines, []
            code = self.cmd.code if self.cmd is not None else None
            return out, code

        def stop(self):
            if self.cmd is not None:
                self.cmd.terminate()
            return True

    return TrainformRank


def run_distributed(argv: list[str], nproc: int, cpus: float, gpus: float, ready_timeout: float | None) -> int:
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    import ray
    from ray.util.placement_group import placement_group, remove_placement_group
    from ray.util.scheduling_strategies import PlacementGroupSchedulingStrategy

    stopping = {"flag": False}

    def on_term(signum, frame):
        stopping["flag"] = True

    signal.signal(signal.SIGTERM, on_term)
    signal.signal(signal.SIGINT, on_term)
    ray.init(log_to_driver=False, logging_level="WARNING")
    bundle = {k: v for k, v in (("CPU", cpus), ("GPU", gpus)) if v} or {"CPU": 0.01}
    pg = None
    strategies: list = [None]
    if nproc > 1:  # gang scheduling: all ranks or none
        pg = placement_group([dict(bundle) for _ in range(nproc)], strategy="PACK")
        _print(f"[trainform] waiting for {nproc} x {bundle} in a placement group...")
        start = last = time.time()
        while True:
            ready, _ = ray.wait([pg.ready()], timeout=2)
            if ready:
                break
            if stopping["flag"]:
                remove_placement_group(pg)
                return 143
            if ready_timeout and time.time() - start > ready_timeout:
                _print(f"[trainform] the cluster could not place {nproc} x {bundle} within {ready_timeout:g}s")
                remove_placement_group(pg)
                return 75
            if time.time() - last >= 10:
                last = time.time()
                _print(f"[trainform] still waiting for resources: {nproc} x {bundle} ({time.time() - start:.0f}s)")
        strategies = [PlacementGroupSchedulingStrategy(placement_group=pg, placement_group_bundle_index=i) for i in range(nproc)]
    Rank = _rank_actor_class()
    actors = [Rank.options(num_cpus=bundle.get("CPU", 0), num_gpus=gpus or 0,
                           **({"scheduling_strategy": st} if st is not None else {})).remote() for st in strategies]
    try:
        return _drive(ray, actors, argv, nproc, stopping)
    finally:
        for a in actors:  # free the resources now, not when Ray notices this driver is gone
            try:
                ray.kill(a)
            except Exception:  # noqa: BLE001, S110 - already dead
                pass
        if pg is not None:
            remove_placement_group(pg)


def _drive(ray, actors, argv: list[str], nproc: int, stopping: dict) -> int:
    """Start the command in every placed actor, relay their lines, stop them all on
    the first failure or on SIGTERM; the exit code of the launch."""
    pending = [a.where.remote() for a in actors]
    while True:  # actors wait for resources (a single placed process has no placement group)
        ready, _ = ray.wait(pending, num_returns=len(pending), timeout=1)
        if len(ready) == len(pending):
            break
        if stopping["flag"]:
            return 143
    where = ray.get(pending)
    master_addr, master_port = where[0][0], where[0][1]
    nodes: list[str] = []
    for _, _, node in where:
        if node not in nodes:
            nodes.append(node)
    starts = []
    for i, a in enumerate(actors):
        node = where[i][2]
        local = [j for j in range(nproc) if where[j][2] == node]
        env = {"MASTER_ADDR": str(master_addr), "MASTER_PORT": str(master_port), "RANK": str(i), "WORLD_SIZE": str(nproc),
               "LOCAL_RANK": str(local.index(i)), "LOCAL_WORLD_SIZE": str(len(local)), "NODE_RANK": str(nodes.index(node)),
               "GROUP_RANK": str(nodes.index(node))} if nproc > 1 else {}
        starts.append(a.start.remote(argv, env, f"[rank {i}] " if nproc > 1 else ""))
    ray.get(starts)
    if nproc > 1:
        _print(f"[trainform] started {nproc} ranks; MASTER_ADDR={master_addr} MASTER_PORT={master_port}")
    codes: list[int | None] = [None] * nproc
    result = 0
    while True:
        outs = ray.get([a.drain.remote() for a in actors])
        for i, (lines, code) in enumerate(outs):
            for line in lines:
                _print(line)
            codes[i] = code
        failed = [c for c in codes if c not in (None, 0)]
        if stopping["flag"] or failed:
            result = _exit_code(failed[0]) if failed else 143
            if failed:
                _print(f"[trainform] rank {codes.index(failed[0])} exited with status {failed[0]}: stopping the other ranks")
            ray.get([a.stop.remote() for a in actors])
            for lines, _ in ray.get([a.drain.remote() for a in actors]):
                for line in lines:
                    _print(line)
            break
        if all(c == 0 for c in codes):
            break
        time.sleep(0.3)
    return result


# ---------------------------------------------------------------- task mode

#: bytes of ./outputs per streamed item (large archives travel in several objects)
OUTPUT_CHUNK = 8 * 1024 * 1024


def run_task(argv: list[str], env: dict, poll: float = 0.2):
    """One attempt as a Ray *streaming generator task* (task mode, see ``ray_tasks``).

    Runs the command in a private copy of the task's working directory (the
    run's snapshot, Ray's ``runtime_env.working_dir``) and yields, as they
    come: ``{"node": id}`` first, then ``{"lines": [...], "metrics": [...]}``
    every ``poll`` seconds while there is news, then ``{"outputs": bytes}``
    chunks of the ``./outputs`` archive, then ``{"exit": code}``.  A
    cancelled task (``ray.cancel``: trainform's cancel or timeout) stops the
    command's process group before it ends."""
    import ray

    lock = threading.Lock()
    pending: list[str] = []

    def emit(line):
        with lock:
            pending.append(line)

    def drain():
        with lock:
            out = pending[:]
            del pending[:]
        lines = [x for x in out if not x.startswith(MARKER)]
        metrics = [x[len(MARKER):] for x in out if x.startswith(MARKER)]
        return lines, metrics

    yield {"node": ray.get_runtime_context().get_node_id()}
    cmd = Command(argv, env, emit, collect_outputs=True)
    cmd.start()
    waiter = threading.Thread(target=cmd.wait, daemon=True)
    waiter.start()
    try:
        while waiter.is_alive():
            waiter.join(poll)
            lines, metrics = drain()
            if lines or metrics:
                yield {"lines": lines, "metrics": metrics}
    except BaseException:  # KeyboardInterrupt from ray.cancel, or the driver went away
        cmd.terminate()
        raise
    lines, metrics = drain()
    if lines or metrics:
        yield {"lines": lines, "metrics": metrics}
    data = getattr(cmd, "outputs_archive", b"")
    for i in range(0, len(data), OUTPUT_CHUNK):
        yield {"outputs": data[i:i + OUTPUT_CHUNK]}
    yield {"exit": _exit_code(cmd.code if cmd.code is not None else 1)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="trainform_ray_launcher")
    ap.add_argument("--nproc", type=int, default=1)
    ap.add_argument("--cpus-per-rank", type=float, default=1)
    ap.add_argument("--gpus-per-rank", type=float, default=0)
    ap.add_argument("--ready-timeout", type=float, default=None)
    ap.add_argument("--place", action="store_true",
                    help="run even one process as a placed actor (the job's driver stays on the head, where its log is)")
    ap.add_argument("command", nargs=argparse.REMAINDER)
    a = ap.parse_args(argv)
    cmd = a.command[1:] if a.command[:1] == ["--"] else a.command
    if not cmd:
        ap.error("no command given after --")
    global _MASK
    _MASK = _job_masker(cmd)
    if a.nproc <= 1 and not a.place:
        return run_single(cmd)
    return run_distributed(cmd, a.nproc, a.cpus_per_rank, a.gpus_per_rank, a.ready_timeout)


if __name__ == "__main__":
    sys.exit(main())
