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
