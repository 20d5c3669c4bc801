"""The built-in ``value`` resource, trainform's ``terraform_data``.

It stores ``input`` and reflects it as ``output``; a change of
``triggers_replace`` replaces it.  Needing no external system, it makes the
whole engine testable and is what the benchmarks compare with Terraform.
"""

from __future__ import annotations

import uuid

from engine.providers import UNKNOWN, Unknown, contains_unknown
from engine.providers import (
    ApplyRequest, ApplyResponse, Attribute, BlockSchema, PlanRequest, PlanResponse,
    Provider, ReadRequest, ReadResponse, ResourceSchema, ImportRequest, ImportResponse, DELETE,
)


class ValueProvider(Provider):
    type_name = "value"
    inline = True

    _SCHEMA = ResourceSchema(
        block=BlockSchema(
            attributes={
                "input": Attribute(type="any", description="Any value; reflected in output."),
                "triggers_replace": Attribute(type="any", force_new=True, description="Any value; a change replaces the resource."),
                "output": Attribute(type="any", computed=True, description="The input, after apply."),
                "id": Attribute(type="string", computed=True, description="A unique id."),
            },
            description="A value that lives in state, like Terraform's terraform_data.",
        )
    )

    def schema(self) -> ResourceSchema:
        return self._SCHEMA

    def plan(self, req: PlanRequest) -> PlanResponse:
        if req.config is None:
            return PlanResponse(planned_state=None)
        prior = req.prior_state
        cfg = req.config
        planned = {
            "input": cfg.get("input"),
            "triggers_replace": cfg.get("triggers_replace"),
            "output": cfg.get("input"),
            "id": UNKNOWN,
        }
        replace = []
        reason = None
        if prior is not None:
            old_t, new_t = prior.get("triggers_replace"), cfg.get("triggers_replace")
            if isinstance(new_t, Unknown) or contains_unknown(new_t) or not _same(old_t, new_t):
                replace.append(("triggers_replace",))
                reason = "triggers_replace changed"
            else:
                planned["id"] = prior.get("id")
        return PlanResponse(planned_state=planned, requires_replace=replace, reason=reason)

    def apply(self, req: ApplyRequest) -> ApplyResponse:
        if req.action == DELETE:
            return ApplyResponse(new_state=None)
        new = dict(req.planned_state)
        if isinstance(new.get("id"), Unknown):
            new["id"] = str(uuid.uuid4())
        new["output"] = new.get("input")
        return ApplyResponse(new_state=new)

    def read(self, req: ReadRequest) -> ReadResponse:
        return ReadResponse(new_state=req.state)

    def import_(self, req: ImportRequest) -> ImportResponse:
        return ImportResponse(state={"input": None, "triggers_replace": None, "output": None, "id": req.id})


def _same(old, new) -> bool:
    """Prior == configured, where the prior holds a salted digest in place of each sensitive
    value (the engine stores no secret): a digest matches the value it was made from."""
    if old == new:
        return True
    if isinstance(old, str):
        from engine.providers import secret_matches

        return secret_matches(old, new)
    if isinstance(old, dict) and isinstance(new, dict):
        return old.keys() == new.keys() and all(_same(old[k], new[k]) for k in old)
    if isinstance(old, list) and isinstance(new, list):
        return len(old) == len(new) and all(_same(a, b) for a, b in zip(old, new))
    return False
