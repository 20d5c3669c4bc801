"""A latency-bound test provider: every apply sleeps ``delay`` seconds.

Used by the benchmark that compares apply wall time with the critical-path
bound, and by tests that need slow operations (interrupts, kill -9).
Register it with ``TRAINFORM_EXTRA_PROVIDERS=sleepy=engine.testing.sleepy:SleepyProvider``.
It can also fail on purpose (``fail = true``) or leave the object behind on
failure (``fail_after_create = true``).
"""

from __future__ import annotations

import os
import time
import uuid

from engine.diagnostics import Diagnostics
from engine.values import UNKNOWN
from engine.providers import ApplyRequest, ApplyResponse, Attribute, BlockSchema, PlanRequest, PlanResponse, Provider, ResourceSchema, DELETE


class SleepyProvider(Provider):
    type_name = "sleepy"

    def schema(self):
        return ResourceSchema(BlockSchema(attributes={
            "delay": Attribute(type="number"),
            "input": Attribute(type="any"),
            "fail": Attribute(type="bool"),
            "fail_after_create": Attribute(type="bool"),
            "marker_dir": Attribute(type="string", description="Directory where each create drops a file (counts creations)."),
            "fail_delete_if_exists": Attribute(type="string", description="Deletes fail while this file exists."),
            "id": Attribute(type="string", computed=True),
            "output": Attribute(type="any", computed=True),
        }))

    def plan(self, req: PlanRequest) -> PlanResponse:
        if req.config is None:
            return PlanResponse(None)
        planned = dict(req.config)
        planned["output"] = req.config.get("input")
        planned["id"] = req.prior_state.get("id") if req.prior_state else UNKNOWN
        return PlanResponse(planned)

    def apply(self, req: ApplyRequest) -> ApplyResponse:
        cfg = req.planned_state or req.prior_state or {}
        delay = float(cfg.get("delay") or 0)
        deadline = time.monotonic() + delay
        while time.monotonic() < deadline:
            if self.ctx.cancelled.is_set():
                d = Diagnostics()
                d.error("Cancelled", "operation cancelled")
                return ApplyResponse(None, diagnostics=d)
            time.sleep(min(0.05, max(0.0, deadline - time.monotonic())))
        if req.action == DELETE:
            flag = (req.prior_state or {}).get("fail_delete_if_exists")
            if flag and os.path.exists(flag):
                d = Diagnostics()
                d.error("Sleepy delete failure", f"{req.address} refused to be deleted ({flag} exists)")
                return ApplyResponse(None, diagnostics=d)
            return ApplyResponse(None)
        new = dict(req.planned_state)
        if new.get("id") is UNKNOWN:
            new["id"] = uuid.uuid4().hex[:12]
        if new.get("marker_dir"):
            os.makedirs(new["marker_dir"], exist_ok=True)
            with open(os.path.join(new["marker_dir"], f"{req.address}.{new['id']}"), "w") as f:
                f.write("created")
        d = Diagnostics()
        if new.get("fail"):
            d.error("Sleepy failure", f"{req.address} failed on purpose")
            return ApplyResponse(None, diagnostics=d)
        if new.get("fail_after_create"):
            d.error("Sleepy failure after create", f"{req.address} came into being, then failed")
            return ApplyResponse(new, diagnostics=d)
        return ApplyResponse(new)
