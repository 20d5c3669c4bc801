"""A provider that is broken on purpose, to prove that a bug in trainform or a
provider ends in one short line and a crash log, never a traceback on screen.

``crashy`` resources: ``schema()`` raises when the resource's type is
``crashy``; ``crashy_plan`` resources (same class) have a schema but ``plan()``
raises with the configuration in its message, so the crash log must redact
any secret it carries.
"""

from __future__ import annotations

from engine.providers import Attribute, BlockSchema, Provider, ResourceSchema


class CrashyProvider(Provider):
    def schema(self) -> ResourceSchema:
        raise RuntimeError("crashy provider: schema is broken on purpose")


class CrashyPlanProvider(Provider):
    def schema(self) -> ResourceSchema:
        return ResourceSchema(block=BlockSchema(attributes={
            "input": Attribute(type="any"),
            "id": Attribute(type="string", computed=True),
        }))

    def plan(self, req):
        raise RuntimeError(f"crashy provider: cannot plan {req.config!r}")
