"""A real Ray head for tests: loopback, free ports, small, always stopped.

Use in a test module::

    from tests.fixtures_ray import ray_head, require_ray  # noqa: F401 (fixtures)

``ray_head`` is module-scoped: one head (2 CPUs, 2 logical GPUs, 200 MB
object store) per test module, stopped (every process of its session) at the
module's end even when tests fail.  ``start_head()``/``stop()`` are there for
tests that kill and restart heads themselves.  Skips with a reason when Ray is
not installed.
"""

from __future__ import annotations

import os
import tempfile

import pytest

HEAD_SPEC = {"num_cpus": 2, "num_gpus": 2, "object_store_mb": 200}


def require_ray() -> None:
    from providers.compute.ray_cluster import ray_available

    ok, why = ray_available()
    if not ok:
        pytest.skip(f"ray not installed: {why}")


def start_head(spec: dict | None = None, workdir: str | None = None) -> dict:
    """Start a head now (the caller stops it with :func:`stop`)."""
    from providers.compute.ray_cluster import ensure_head

    require_ray()
    workdir = workdir or tempfile.mkdtemp(prefix="tf-ray-test-")
    return ensure_head(dict(HEAD_SPEC, **(spec or {})), workdir)


def stop(record: dict | None) -> None:
    import shutil

    from providers.compute.ray_cluster import stop_head

    if record:
        stop_head(record)
        log_dir = os.path.dirname(record.get("log_path") or "")
        if os.path.basename(log_dir).startswith("tf-ray-test-"):
            shutil.rmtree(log_dir, ignore_errors=True)


@pytest.fixture(scope="module")
def ray_head():
    """The record of a running head (``dashboard_url``, ``gcs_address``, ``pid``...)."""
    require_ray()
    rec = start_head()
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    try:
        yield rec
    finally:
        stop(rec)


# ---------------------------------------------------------------- a multi-node cluster

#: the head schedules nothing that needs a GPU; each worker node has one logical GPU
CLUSTER_HEAD = {"num_cpus": 1, "num_gpus": 0, "object_store_mb": 100}
CLUSTER_WORKER = {"num_cpus": 1, "num_gpus": 1, "object_store_mb": 100}
#: a killed node is noticed in ~3 s instead of ~30 s (GCS health checks)
FAST_FAILURE_ENV = {"RAY_health_check_period_ms": "500", "RAY_health_check_failure_threshold": "4",
                    "RAY_health_check_initial_delay_ms": "1000", "RAY_health_check_timeout_ms": "1000"}


def start_cluster(workers: int = 2, workdir: str | None = None) -> dict:
    """A head and ``workers`` worker nodes, each a separate raylet on loopback:
    ``{"head": record, "workers": [record, ...], "workdir"}`` (stop with :func:`stop_cluster`)."""
    from providers.compute.ray_cluster import ensure_head, start_worker

    require_ray()
    workdir = workdir or tempfile.mkdtemp(prefix="tf-ray-test-")
    head = ensure_head(dict(CLUSTER_HEAD, env=FAST_FAILURE_ENV), workdir)
    cluster = {"head": head, "workers": [], "workdir": workdir}
    try:
        for _ in range(workers):
            cluster["workers"].append(start_worker(head, dict(CLUSTER_WORKER, env=FAST_FAILURE_ENV), workdir))
    except Exception:
        stop_cluster(cluster)
        raise
    return cluster


def stop_cluster(cluster: dict | None) -> None:
    import shutil

    from providers.compute.ray_cluster import stop_head

    if not cluster:
        return
    for w in cluster.get("workers") or []:
        stop_head(w, grace=2)
    stop_head(cluster.get("head"))
    if os.path.basename(cluster.get("workdir") or "").startswith("tf-ray-test-"):
        shutil.rmtree(cluster["workdir"], ignore_errors=True)


def kill_node(record: dict) -> None:
    """SIGKILL every process of a node (what a machine failure looks like to Ray)."""
    import signal

    from providers.compute.ray_nodes import _session_pids, stop_head

    for pid in _session_pids(int(record["session_id"])):
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    stop_head(record, grace=0)  # reap and remove its temp dir


def listening_addresses(session_ids) -> list[tuple[str, int, int]]:
    """(address, port, pid) of every TCP socket listened on by processes of these sessions
    (read from /proc, like ``ss -ltnp``)."""
    import socket
    import struct

    from providers.compute.ray_nodes import _session_pids

    inodes: dict[str, int] = {}
    for sid in session_ids:
        for pid in _session_pids(int(sid)):
            try:
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    try:
                        target = os.readlink(f"/proc/{pid}/fd/{fd}")
                    except OSError:
                        continue
                    if target.startswith("socket:["):
                        inodes[target[8:-1]] = pid
            except OSError:
                continue
    out = []
    for table, family in (("/proc/net/tcp", socket.AF_INET), ("/proc/net/tcp6", socket.AF_INET6)):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            cols = row.split()
            if cols[3] != "0A" or cols[9] not in inodes:  # 0A: LISTEN
                continue
            hexaddr, hexport = cols[1].split(":")
            raw = bytes.fromhex(hexaddr)
            if family == socket.AF_INET:
                addr = socket.inet_ntop(family, struct.pack("<I", int(hexaddr, 16)))
            else:
                addr = socket.inet_ntop(family, b"".join(struct.pack("<I", struct.unpack(">I", raw[i:i + 4])[0]) for i in range(0, 16, 4)))
                addr = addr.removeprefix("::ffff:")  # an IPv4-mapped address is the IPv4 one
            out.append((addr, int(hexport, 16), inodes[cols[9]]))
    return out


@pytest.fixture(scope="module")
def ray_cluster():
    """A running head + two one-GPU worker nodes (see :func:`start_cluster`)."""
    cluster = start_cluster(2)
    os.environ.setdefault("RAY_DEDUP_LOGS", "0")
    try:
        yield cluster
    finally:
        from providers.run.ray_tasks import shutdown_drivers

        shutdown_drivers()
        stop_cluster(cluster)
