"""A third-party provider written against the public SDK only (``engine.providers``).

``local_file`` keeps a text file with the configured content.  It exists to
prove that a provider needs no engine internals: this package imports nothing
from trainform but :mod:`engine.providers`, and tests/integration/test_sdk.py
checks that by inspecting its imports.  Schema version 2 renamed ``text`` to
``content``: :meth:`upgrade_state` moves state written under version 1.
"""

from __future__ import annotations

import hashlib
import os

from engine.providers import (
    DELETE, ApplyRequest, ApplyResponse, Attribute, BlockSchema, Diagnostics, PlanRequest, PlanResponse,
    Provider, ReadRequest, ReadResponse, ResourceSchema, UpgradeStateRequest, UpgradeStateResponse,
    ValidateRequest, ValidateResponse, proposed_new_state,
)


class LocalFileProvider(Provider):
    type_name = "local_file"

    def schema(self) -> ResourceSchema:
        return ResourceSchema(version=2, block=BlockSchema(attributes={
            "path": Attribute("string", required=True, force_new=True),
            "content": Attribute("string", required=True),
            "id": Attribute("string", computed=True),
            "sha256": Attribute("string", computed=True),
        }))

    def validate(self, req: ValidateRequest) -> ValidateResponse:
        d = Diagnostics()
        path = req.config.get("path")
        if isinstance(path, str) and os.path.isabs(path):
            d.error("Absolute path", f"{req.address}: path must be relative to the working directory, not {path!r}.")
        return ValidateResponse(d)

    def plan(self, req: PlanRequest) -> PlanResponse:
        if req.config is None:
            return PlanResponse(None)
        planned = proposed_new_state(self.schema(), req.prior_state, req.config)
        content = req.config.get("content")
        if isinstance(content, str):
            planned["sha256"] = hashlib.sha256(content.encode()).hexdigest()
        replace = []
        if req.prior_state is not None and req.prior_state.get("path") != req.config.get("path"):
            replace.append(("path",))
        reason = None
        if req.prior_state is not None and req.prior_state.get("sha256") != planned["sha256"]:
            reason = "content changed"
        return PlanResponse(planned, requires_replace=replace, reason=reason)

    def _file(self, path: str) -> str:
        return os.path.join(self.ctx.working_dir, path)

    def apply(self, req: ApplyRequest) -> ApplyResponse:
        if req.action == DELETE:
            try:
                os.remove(self._file(req.prior_state["path"]))
            except FileNotFoundError:
                pass
            return ApplyResponse(None)
        new = dict(req.planned_state)
        with open(self._file(new["path"]), "w") as f:
            f.write(new["content"])
        new["id"] = new["path"]
        return ApplyResponse(new)

    def read(self, req: ReadRequest) -> ReadResponse:
        try:
            with open(self._file(req.state["path"])) as f:
                content = f.read()
        except FileNotFoundError:
            return ReadResponse(None)
        return ReadResponse({**req.state, "content": content, "sha256": hashlib.sha256(content.encode()).hexdigest()})

    def upgrade_state(self, req: UpgradeStateRequest) -> UpgradeStateResponse:
        state = dict(req.state)
        if req.version < 2 and "text" in state:
            state["content"] = state.pop("text")
        return UpgradeStateResponse(state)
