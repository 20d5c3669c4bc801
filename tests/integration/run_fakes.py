"""Stand-ins for the workspace and environment providers in run tests.

They give the run provider exactly the attributes it looks up (a workspace's
``artifact_root``; an environment's ``docker``/``image``/``image_digest``/
``python``/``env_vars``) without building images, so run behaviour is tested
on its own and fast.  Registered with TRAINFORM_EXTRA_PROVIDERS.
"""

from __future__ import annotations

import uuid

from engine.values import UNKNOWN, Unknown
from engine.providers import (
    DELETE, ApplyResponse, Attribute, BlockSchema, NestedBlock, PlanResponse, Provider, ReadResponse, ResourceSchema,
)

SPEC = "workspace=tests.integration.run_fakes:FakeWorkspace,environment=tests.integration.run_fakes:FakeEnvironment"


class FakeWorkspace(Provider):
    type_name = "workspace"
    inline = True

    def schema(self):
        return ResourceSchema(BlockSchema(attributes={
            "artifact_root": Attribute(type="string", optional=True, default="artifacts"),
            "id": Attribute(type="string", computed=True),
        }))

    def plan(self, req):
        if req.config is None:
            return PlanResponse(None)
        planned = dict(req.config)
        planned["id"] = req.prior_state["id"] if req.prior_state else UNKNOWN
        return PlanResponse(planned)

    def apply(self, req):
        if req.action == DELETE:
            return ApplyResponse(None)
        new = dict(req.planned_state)
        if isinstance(new["id"], Unknown):
            new["id"] = "ws-" + uuid.uuid4().hex[:8]
        return ApplyResponse(new)


class FakeEnvironment(Provider):
    type_name = "environment"
    inline = True

    def schema(self):
        return ResourceSchema(BlockSchema(
            attributes={
                "workspace": Attribute(type="string", required=True),
                "env_vars": Attribute(type="map(string)", optional=True),
                "id": Attribute(type="string", computed=True),
                "image": Attribute(type="string", computed=True),
                "image_digest": Attribute(type="string", computed=True),
            },
            blocks={
                "docker": NestedBlock(BlockSchema(attributes={"image": Attribute(type="string", required=True)})),
                "python": NestedBlock(BlockSchema(attributes={
                    "interpreter": Attribute(type="string", optional=True),
                    "user_managed_dependencies": Attribute(type="bool", optional=True),
                })),
            }))

    def plan(self, req):
        if req.config is None:
            return PlanResponse(None)
        planned = dict(req.config)
        docker = req.config.get("docker")
        planned["image"] = docker["image"] if docker else None
        planned["image_digest"] = ("digest-of-" + docker["image"]) if docker else None
        same = req.prior_state is not None and req.prior_state.get("docker") == docker
        planned["id"] = req.prior_state["id"] if same else UNKNOWN
        return PlanResponse(planned, requires_replace=[] if same or req.prior_state is None else [("docker",)])

    def apply(self, req):
        if req.action == DELETE:
            return ApplyResponse(None)
        new = dict(req.planned_state)
        if isinstance(new["id"], Unknown):
            new["id"] = "env-" + uuid.uuid4().hex[:8]
        return ApplyResponse(new)

    def read(self, req):
        return ReadResponse(req.state)
