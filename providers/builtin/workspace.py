"""The ``workspace`` resource: where a team's images and run artifacts live.

```hcl
workspace "ml" {
  registry {                      # optional: without it images stay in the local engine
    address  = "127.0.0.1:5000"
    username = "trainform"
    password = var.registry_password
  }
  artifact_root = "artifacts"     # default .trainform/workspaces/<name>
  force_destroy = false           # destroy removes a non-empty artifact root only when true
}
```

Apply checks that the registry answers and accepts the credentials (GET
/v2/) and creates the artifact root.  Environments find the registry (with
the real password, which state never holds) through ``ctx.lookup(id)``; runs
find ``artifact_root``.
"""

from __future__ import annotations

import os
import re
import shutil

from engine.providers import Diagnostics
from engine.providers import UNKNOWN, Unknown
from engine.providers import (
    DELETE, ApplyRequest, ApplyResponse, Attribute, BlockSchema, ImportRequest, ImportResponse, NestedBlock,
    PlanRequest, PlanResponse, Provider, ReadRequest, ReadResponse, ResourceSchema, ValidateRequest, ValidateResponse,
)

__all__ = ["WorkspaceProvider", "default_name"]

_REGISTRY = BlockSchema(
    attributes={
        "address": Attribute(type="string", required=True, description="host[:port] of a Docker Registry v2."),
        "username": Attribute(type="string", optional=True, description="Registry user; absent: docker login's entry in ~/.docker/config.json."),
        "password": Attribute(type="string", optional=True, sensitive=True, description="Registry password or token."),
    },
    description="The registry environment images are pushed to.",
)

_SCHEMA = ResourceSchema(BlockSchema(
    attributes={
        "name": Attribute(type="string", optional=True, computed=True, force_new=True,
                          description="Workspace name (default: the block label); the first path part of image names."),
        "artifact_root": Attribute(type="string", optional=True, computed=True,
                                   description="Where runs keep snapshots, logs and outputs (default .trainform/workspaces/<name>)."),
        "force_destroy": Attribute(type="bool", optional=True, default=False,
                                   description="Destroy removes the artifact root even when it holds files."),
        "tracking_uri": Attribute(type="string", optional=True,
                                  description="MLflow tracking URI for this workspace's runs (default: $MLFLOW_TRACKING_URI, else a local store under .trainform/)."),
        "id": Attribute(type="string", computed=True, description="The workspace id (its name)."),
        "registry_address": Attribute(type="string", computed=True, description="The registry's address, or null."),
    },
    blocks={"registry": NestedBlock(_REGISTRY, description="Where environment images are pushed.")},
    description="A workspace: a registry for environment images and an artifact root for runs.",
))

_NAME_RE = re.compile(r"^[a-z0-9]+(?:[._-][a-z0-9]+)*$")


def default_name(address: str) -> str:
    """workspace.ml -> "ml"; workspace.ml[0] -> "ml-0"; workspace.ml["a"] -> "ml-a" (registry-safe)."""
    m = re.search(r'workspace\.([^.\[]+)(?:\[(.+)\])?$', address)
    base = m.group(1) if m else address.rsplit(".", 1)[-1]
    if m and m.group(2) is not None:
        base += "-" + m.group(2).strip('"')
    return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-") or "workspace"


class WorkspaceProvider(Provider):
    type_name = "workspace"

    def schema(self) -> ResourceSchema:
        return _SCHEMA

    # ------------------------------------------------------------ helpers
    def _root_path(self, root: str) -> str:
        return root if os.path.isabs(root) else os.path.join(self.ctx.working_dir, root)

    @staticmethod
    def _registry(cfg: dict) -> dict | None:
        reg = cfg.get("registry")
        if isinstance(reg, list):
            reg = reg[0] if reg else None
        return reg if isinstance(reg, dict) else None

    # ------------------------------------------------------------ validate
    def validate(self, req: ValidateRequest) -> ValidateResponse:
        d = Diagnostics()
        name = req.config.get("name")
        if isinstance(name, str) and not _NAME_RE.match(name):
            d.error("Invalid workspace name", f'The workspace name "{name}" cannot be part of an image name: use lowercase letters, digits and single ".", "_" or "-" between them.', attribute_path=("name",))
        reg = self._registry(req.config)
        if reg is not None:
            addr = reg.get("address")
            if isinstance(addr, str) and ("/" in addr or "://" in addr or not addr.strip()):
                d.error("Invalid registry address", f'The registry address "{addr}" must be host[:port], without a scheme or path (for example "127.0.0.1:5000").', attribute_path=("registry", "address"))
            if isinstance(reg.get("password"), str) and not isinstance(reg.get("username"), (str, Unknown)):
                d.error("Registry password without username", "The registry block sets a password but no username; set both, or neither to use the credentials of `docker login`.", attribute_path=("registry", "password"))
        return ValidateResponse(d)

    # ------------------------------------------------------------ plan
    def plan(self, req: PlanRequest) -> PlanResponse:
        cfg = req.config
        if cfg is None:
            return PlanResponse(planned_state=None)
        prior = req.prior_state
        planned = dict(cfg)
        name = cfg.get("name")
        if name is None:
            name = default_name(req.address)
        planned["name"] = name
        if planned.get("artifact_root") is None:
            planned["artifact_root"] = UNKNOWN if isinstance(name, Unknown) else os.path.join(".trainform", "workspaces", name)
        if planned.get("force_destroy") is None:
            planned["force_destroy"] = False
        reg = self._registry(cfg)
        planned["registry_address"] = reg.get("address") if reg else None
        planned["id"] = name
        replace, reason = [], None
        if prior is not None and prior.get("name") != name:
            replace.append(("name",))
            reason = f'name changed from "{prior.get("name")}" to "{name}"'
        elif reg is None:
            reason = "no registry block: environment images stay in the local Docker engine"
        return PlanResponse(planned_state=planned, requires_replace=replace, reason=reason)

    # ------------------------------------------------------------ apply
    def apply(self, req: ApplyRequest) -> ApplyResponse:
        if req.action == DELETE:
            return self._delete(req)
        d = Diagnostics()
        new = dict(req.planned_state)
        reg = self._registry(req.config or new)
        if reg is not None:
            self._check_registry(reg, req.address, d)
            if d.has_errors:
                return ApplyResponse(None, diagnostics=d)
        root = self._root_path(new["artifact_root"])
        try:
            os.makedirs(root, exist_ok=True)
        except OSError as e:
            d.error("Cannot create the artifact root", f"{req.address}: the artifact root {root} cannot be created: {e.strerror or e}.")
            return ApplyResponse(None, diagnostics=d)
        return ApplyResponse(new_state=new, diagnostics=d)

    def _check_registry(self, reg: dict, address: str, d: Diagnostics) -> None:
        from providers.docker.credentials import resolve
        from providers.docker.registry_client import RegistryClient, RegistryError, registry_diagnostic

        creds = resolve(reg)
        client = RegistryClient(creds.address, creds.username, creds.password)
        try:
            client.ping()
        except RegistryError as e:
            registry_diagnostic(d, address, "checking the registry", e, creds, "the registry block")

    def _delete(self, req: ApplyRequest) -> ApplyResponse:
        d = Diagnostics()
        prior = req.prior_state or {}
        root = prior.get("artifact_root")
        if not isinstance(root, str):
            return ApplyResponse(None)
        path = self._root_path(root)
        if not os.path.isdir(path):
            return ApplyResponse(None)
        force = bool(prior.get("force_destroy"))
        entries = os.listdir(path)
        if not entries:
            os.rmdir(path)
        elif force:
            shutil.rmtree(path, ignore_errors=True)
        else:
            d.warning("Artifact root kept", f"{req.address}: the artifact root {path} holds {len(entries)} entries (run records, snapshots, outputs) and was left in place. Set force_destroy = true to remove it with the workspace, or delete it yourself.")
        return ApplyResponse(None, diagnostics=d)

    # ------------------------------------------------------------ read / import
    def read(self, req: ReadRequest) -> ReadResponse:
        root = req.state.get("artifact_root")
        if isinstance(root, str) and not os.path.isdir(self._root_path(root)):
            return ReadResponse(new_state=None)  # the artifact root was removed: recreate it
        return ReadResponse(new_state=req.state, private=req.private)

    def import_(self, req: ImportRequest) -> ImportResponse:
        name = req.id
        d = Diagnostics()
        if not _NAME_RE.match(name):
            d.error("Invalid workspace id", f'"{name}" is not a workspace name.')
            return ImportResponse(None, d)
        root = os.path.join(".trainform", "workspaces", name)
        return ImportResponse(state={"name": name, "artifact_root": root, "force_destroy": False, "id": name,
                                     "registry_address": None, "registry": None})
