"""A real Ray autoscaler on this machine: ``ray { local_autoscaler = true }``.

The owned head runs Ray's autoscaler with its fake multi-node provider, which
starts worker nodes as processes here (loopback, ``gpus_per_node`` logical
GPUs each): a run that needs a GPU makes it scale up from zero worker nodes,
and the node goes away once idle for ``idle_seconds_before_scaledown``.
"""

from __future__ import annotations

import time

from tests.fixtures_ray import require_ray


def test_local_autoscaler_scales_up_on_demand_and_down_when_idle(tmp_path):
    require_ray()
    from engine.providers import (
        CREATE,
        DELETE,
        ApplyRequest,
        PlanRequest,
        ProviderContext,
        ValidateRequest,
    )
    from providers.compute.ray_cluster import RayCompute, check_cluster, list_nodes
    from providers.run.executor_ray import RayExecutor
    from providers.run.ray_tasks import shutdown_drivers
    from tests.integration.test_ray_multinode import _run, _spec

    ctx = ProviderContext(working_dir=str(tmp_path), data_dir=str(tmp_path))
    cfg = {"workspace": "ws-1", "type": "ray", "max_concurrent_runs": 1, "gpus_per_node": 1, "min_nodes": 0, "max_nodes": 2,
           "idle_seconds_before_scaledown": 5, "ray": {"local_autoscaler": True}}
    rc = RayCompute()
    assert not rc.validate(ctx, ValidateRequest("compute.c", cfg)).diagnostics.has_errors
    plan = rc.plan(ctx, PlanRequest("compute.c", None, cfg))
    resp = rc.apply(ctx, ApplyRequest("compute.c", CREATE, None, plan.planned_state, cfg, plan.private))
    head = (resp.private or {}).get("head")
    try:
        assert not resp.diagnostics.has_errors, resp.diagnostics
        state = resp.new_state
        assert state["cluster"]["autoscaler"] is True
        assert (state["cluster"]["nodes"], state["cluster"]["gpus"]) == (1, 0)  # the head alone, no GPU yet

        def alive():
            return [n for n in list_nodes(state["dashboard_url"]) if n.get("state") == "ALIVE"]

        ex = RayExecutor.for_run(state, {"gpus": 1})
        assert not ex.fixed_size  # a GPU run is not refused: the autoscaler adds the node
        result, lines, handle = _run(ex, _spec(tmp_path, "exp_scale"), timeout_s=240)
        assert result.status == "succeeded", lines
        nodes = alive()
        assert len(nodes) == 2  # scaled up on demand
        worker = next(n for n in nodes if not n.get("is_head_node"))
        assert handle.node_id == worker["node_id"] and worker["node_ip"] == "127.0.0.1"
        deadline = time.time() + 120
        while len(alive()) > 1 and time.time() < deadline:
            time.sleep(1)
        assert len(alive()) == 1  # scaled down when idle
    finally:
        shutdown_drivers()
        if head:
            rc.apply(ctx, ApplyRequest("compute.c", DELETE, resp.new_state, None, None, resp.private))
            assert check_cluster(head["dashboard_url"], timeout=2) is None


def test_local_autoscaler_needs_an_owned_head(tmp_path):
    from engine.providers import ProviderContext, ValidateRequest
    from providers.compute.ray_cluster import RayCompute

    ctx = ProviderContext(working_dir=str(tmp_path), data_dir=str(tmp_path))
    cfg = {"workspace": "ws-1", "type": "ray", "ray": {"address": "http://127.0.0.1:8265", "local_autoscaler": True}}
    d = RayCompute().validate(ctx, ValidateRequest("compute.c", cfg)).diagnostics
    assert d.has_errors and "local_autoscaler applies to the head trainform starts" in d[0].detail
