"""The ``environment`` resource: a content-addressed Docker image (or the host's Python).

```hcl
environment "digits" {
  workspace = workspace.ml.id
  docker {
    base_image = "trainform/python:3.11-bookworm"   # or dockerfile = "..." / dockerfile_path = "..."
    base_image_registry {                            # a private registry for the base image
      address  = "registry.example.com"
      username = "u"
      password = var.base_password
    }
    build_context = "docker"                         # files COPY can use (.dockerignore honoured)
    build_args    = { VERSION = "1" }
  }
  python {
    user_managed_dependencies = false
    pip_packages = ["wheels/mylib-1.0-py3-none-any.whl"]   # local wheels: installed with --no-index
    interpreter  = "python3"
  }
  env_vars = { OMP_NUM_THREADS = "1" }
}
```

The image is named ``<registry>/<workspace>/<environment>:<hash>`` (no
registry: ``trainform/<workspace>/<environment>:<hash>``) where the hash
covers every build input: base image digests (from their registry, or the
local image id for a base that only exists in the local engine), the
Dockerfile, build-context files after ``.dockerignore``, pip/conda inputs,
build args and env vars.  Plan builds nothing: a tag already in the registry
is a no-op, otherwise the plan names what changed.  Without a ``docker``
block the environment is "process mode": runs use the host's Python.

``pip_packages`` entries ending in ``.whl`` are wheel files relative to the
configuration's directory, copied into the build context and installed with
``pip install --no-index`` (containers cannot reach an index on machines
without internet access); other entries are installed from the index pip in
the image is configured with.
"""

from __future__ import annotations

import os
import re
import subprocess
from dataclasses import dataclass, field

from engine.providers import Diagnostics
from engine.providers import UNKNOWN, Unknown, contains_unknown
from engine.providers import (
    DELETE, UPDATE, ApplyRequest, ApplyResponse, Attribute, BlockSchema, NestedBlock, PlanRequest, PlanResponse,
    Provider, ReadRequest, ReadResponse, ResourceSchema, ValidateRequest, ValidateResponse,
)
from engine.providers import ImportRequest, ImportResponse

__all__ = ["EnvironmentProvider", "env_name"]

_REGISTRY = BlockSchema(attributes={
    "address": Attribute(type="string", required=True, description="host[:port] of the base image's registry."),
    "username": Attribute(type="string", optional=True),
    "password": Attribute(type="string", optional=True, sensitive=True),
}, description="A private registry holding the base image; credentials are used for this pull only.")

_DOCKER = BlockSchema(
    attributes={
        "base_image": Attribute(type="string", optional=True, conflicts_with=("dockerfile", "dockerfile_path"),
                                description="Image to start from; trainform writes the Dockerfile."),
        "dockerfile": Attribute(type="string", optional=True, conflicts_with=("base_image", "dockerfile_path"),
                                description="Dockerfile text (e.g. file(\"Dockerfile\"))."),
        "dockerfile_path": Attribute(type="string", optional=True, conflicts_with=("base_image", "dockerfile"),
                                     description="Path of a Dockerfile, relative to the configuration."),
        "build_context": Attribute(type="string", optional=True,
                                   description="Directory sent to the build (default: none, or dockerfile_path's directory)."),
        "build_args": Attribute(type="map(string)", optional=True),
    },
    blocks={"base_image_registry": NestedBlock(_REGISTRY)},
)

_PYTHON = BlockSchema(attributes={
    "interpreter": Attribute(type="string", optional=True, description="The Python runs use (default python3 / the host's)."),
    "user_managed_dependencies": Attribute(type="bool", optional=True, default=False,
                                           description="The image already holds every dependency: install nothing."),
    "pip_packages": Attribute(type="list(string)", optional=True, description="Requirement strings or local .whl files."),
    "conda_file": Attribute(type="string", optional=True, description="A conda environment file (needs conda in the image)."),
})

_SCHEMA = ResourceSchema(BlockSchema(
    attributes={
        "workspace": Attribute(type="string", required=True, description="workspace.NAME.id"),
        "env_vars": Attribute(type="map(string)", optional=True, description="Environment variables baked into the image."),
        "id": Attribute(type="string", computed=True, description="The image reference (process:<name>:<hash> without docker)."),
        "image": Attribute(type="string", computed=True, description="<registry>/<workspace>/<name>:<hash>"),
        "image_digest": Attribute(type="string", computed=True, description="The pushed manifest digest (local image id without a registry)."),
        "content_hash": Attribute(type="string", computed=True, description="Hash of every build input."),
        "base_image_digest": Attribute(type="string", computed=True, description="Digest of the (last) base image."),
    },
    blocks={"docker": NestedBlock(_DOCKER), "python": NestedBlock(_PYTHON)},
    description="A training environment: a Docker image built from a base image or Dockerfile, or the host's Python.",
))

_PART_NAMES = {
    "dockerfile": "Dockerfile changed",
    "build_context": "build context files changed",
    "pip_packages": "pip_packages changed",
    "conda_file": "conda_file changed",
    "user_managed_dependencies": "user_managed_dependencies changed",
    "env_vars": "env_vars changed",
    "build_args": "build_args changed",
}


def env_name(address: str) -> str:
    """environment.digits -> "digits"; environment.x["a"] -> "x-a" (registry-safe)."""
    m = re.search(r'environment\.([^.\[]+)(?:\[(.+)\])?$', address)
    base = m.group(1) if m else address.rsplit(".", 1)[-1]
    if m and m.group(2) is not None:
        base += "-" + m.group(2).strip('"')
    return re.sub(r"[^a-z0-9]+", "-", base.lower()).strip("-") or "env"


def _refuse_baked_secrets(sensitive_paths, d: Diagnostics) -> None:
    """What an environment is built from ends up in the image (``docker history``, ``docker
    inspect``, the registry) and in its content hash and tag: a sensitive value in env_vars,
    build_args or any other image input is refused.  Only base_image_registry's credentials
    (used for the pull, never stored) may be sensitive."""
    seen = set()
    for p in sensitive_paths or ():
        names = [x for x in p if not isinstance(x, int)]  # blocks may arrive as one-element lists; list items
        if not names or names[0] not in ("env_vars", "docker", "python") or "base_image_registry" in names:
            continue
        if names[0] == "env_vars":
            where = "env_vars" + (f'["{names[1]}"]' if len(names) > 1 else "")
        elif len(names) > 1 and names[1] == "build_args":
            where = "docker.build_args" + (f'["{names[2]}"]' if len(names) > 2 else "")
        else:
            where = ".".join(names[:2])
        if where in seen:
            continue
        seen.add(where)
        d.error(f"Sensitive value in {where}",
                f"{where} holds a sensitive value, but what an environment is built from (env_vars, build_args, the "
                "Dockerfile, packages) is baked into the image: anyone who can pull it reads it with `docker history` "
                "or `docker inspect`. Pass secrets at run time instead, in the run's env_vars (e.g. run \"train\" { env_vars = "
                "{ API_TOKEN = var.token } }): they are given to the run's process only, never stored, and masked as *** "
                "in its log.").attribute_path = tuple(names)


def _single(v):
    if isinstance(v, list):
        return v[0] if v else None
    return v


def _short(digest: str | None) -> str:
    if not isinstance(digest, str):
        return str(digest)
    algo, _, hexpart = digest.partition(":")
    return f"{algo}:{hexpart[:12]}" if hexpart else digest


@dataclass
class _Prepared:
    """Everything plan and apply derive from a configuration."""

    unknown: bool = False
    process: bool = False
    spec: object = None
    image: str | None = None
    repo_name: str | None = None  # the local repository name (image without the tag)
    tag: str | None = None
    registry: object = None  # Credentials of the workspace registry, or None
    base_creds: object = None  # Credentials of base_image_registry, or None
    bases: dict = field(default_factory=dict)  # FROM image -> digest / local id
    parts: dict = field(default_factory=dict)
    content_hash: str | None = None


class EnvironmentProvider(Provider):
    type_name = "environment"

    def schema(self) -> ResourceSchema:
        return _SCHEMA

    # ------------------------------------------------------------ validate
    def validate(self, req: ValidateRequest) -> ValidateResponse:
        d = Diagnostics()
        cfg = req.config
        docker = _single(cfg.get("docker"))
        python = _single(cfg.get("python")) or {}
        if isinstance(docker, dict):
            given = [k for k in ("base_image", "dockerfile", "dockerfile_path") if docker.get(k) is not None]
            if len(given) > 1:
                d.error("Conflicting configuration arguments", f"The docker block sets {' and '.join(given)}: an image starts either from a base_image (trainform writes the Dockerfile) or from your own Dockerfile. Set only one of them.")
            elif not given:
                d.error("Missing image source", "The docker block needs one of base_image, dockerfile or dockerfile_path.")
        elif docker is None and not python.get("user_managed_dependencies") and (python.get("pip_packages") or python.get("conda_file")):
            d.error("Packages need a docker block", "pip_packages and conda_file are installed into an image: add a docker block, or set python.user_managed_dependencies = true to use the host's Python as it is.")
        _refuse_baked_secrets(req.sensitive_paths, d)
        return ValidateResponse(d)

    # ------------------------------------------------------------ prepare
    def _workspace(self, ws_id, d: Diagnostics):
        if isinstance(ws_id, Unknown):
            return UNKNOWN
        found = self.ctx.lookup(ws_id)
        if found is None:
            d.error("Unknown workspace", f'No workspace with id "{ws_id}" exists in this configuration or state. Refer to it as workspace.NAME.id.')
            return None
        kind, attrs = found
        if kind != "workspace":
            d.error("Not a workspace", f'"{ws_id}" is the id of a {kind}, but environment.workspace expects a workspace id.')
            return None
        return attrs

    def _prepare(self, address: str, cfg: dict, d: Diagnostics, resolve_bases: bool = True) -> _Prepared:
        from providers.docker import buildspec
        from providers.docker.credentials import resolve

        p = _Prepared()
        docker = _single(cfg.get("docker"))
        python = _single(cfg.get("python"))
        env_vars = cfg.get("env_vars") or {}
        name = env_name(address)
        if contains_unknown(docker) or contains_unknown(python) or contains_unknown(env_vars):
            p.unknown = True
            return p
        if docker is None:
            p.process = True
            p.parts = {"python": buildspec.input_hash(python), "env_vars": buildspec.input_hash(env_vars) if env_vars else None}
            p.content_hash = buildspec.input_hash(p.parts)
            p.image = f"process:{name}:{p.content_hash[:16]}"
            return p
        ws = self._workspace(cfg.get("workspace"), d)
        if ws is None:
            return p
        if isinstance(ws, Unknown) or contains_unknown(ws.get("name")) or contains_unknown(ws.get("registry")):
            p.unknown = True
            return p
        reg = _single(ws.get("registry"))
        p.registry = resolve(reg) if isinstance(reg, dict) else None
        ws_name = ws.get("name") or ws.get("id")
        base_reg = _single(docker.get("base_image_registry"))
        p.base_creds = resolve(base_reg) if isinstance(base_reg, dict) else None
        base_ref = None
        if docker.get("base_image"):
            base_ref = self._base_ref(docker["base_image"], p.base_creds)
        try:
            p.spec = buildspec.make_spec(docker, python, env_vars, self.ctx.working_dir, base_ref)
        except buildspec.BuildSpecError as e:
            d.error("Invalid environment build", f"{address}: {e}.")
            return p
        if resolve_bases:
            for img in p.spec.base_images:
                digest = self._base_digest(img, p.base_creds, address, d)
                if digest is None:
                    return p
                p.bases[img] = digest
        p.parts = dict(p.spec.parts)
        p.parts["base_images"] = dict(p.bases)
        p.content_hash = buildspec.input_hash(p.parts)
        p.tag = p.content_hash[:16]
        prefix = p.registry.address if p.registry is not None else "trainform"
        p.repo_name = f"{prefix}/{ws_name}/{name}"
        p.image = f"{p.repo_name}:{p.tag}"
        return p

    @staticmethod
    def _base_ref(base_image: str, base_creds) -> str:
        if base_creds is None:
            return base_image
        first = base_image.split("/", 1)[0]
        if "/" in base_image and ("." in first or ":" in first or first == "localhost"):
            return base_image  # it names its registry already
        return f"{base_creds.address}/{base_image}"

    def _base_digest(self, image: str, base_creds, address: str, d: Diagnostics) -> str | None:
        """The digest a FROM image resolves to: its registry's manifest digest, or the local id."""
        from providers.docker import engine_ops
        from providers.docker.credentials import resolve
        from providers.docker.registry_client import DOCKER_HUB, RegistryClient, RegistryError, parse_reference, registry_diagnostic

        try:
            ref = parse_reference(image)
        except ValueError as e:
            d.error("Invalid base image", f"{address}: {e}.")
            return None
        if ref.digest:
            return ref.digest
        if ref.registry is not None:
            creds = base_creds if base_creds is not None and base_creds.address == ref.registry else resolve(None, ref.registry)
            client = RegistryClient(ref.registry, creds.username, creds.password)
            try:
                digest = client.manifest_digest(ref.repository, ref.tag)
            except RegistryError as e:
                registry_diagnostic(d, address, f"the base image {image}", e, creds, "a base_image_registry block")
                return None
            if digest is None:
                d.error("Base image not found", f"{address}: manifest unknown: the registry {ref.registry} has no {ref.repository}:{ref.tag} (base image {image}).")
            return digest
        # no registry named: the local engine first (trainform's debootstrapped bases live only there)
        try:
            info = engine_ops.local_image(image)
        except engine_ops.EngineError as e:
            d.error("Docker daemon not reachable", f"{address}: {e}")
            return None
        if info is not None:
            return info["Id"]
        try:
            digest = RegistryClient(DOCKER_HUB, timeout=5).manifest_digest(ref.repository, ref.tag)
        except RegistryError as e:
            d.error("Base image not found", f"{address}: the base image {image} is not in the local Docker engine, and Docker Hub could not answer ({e}). Build it locally (scripts/base-images.sh makes trainform/python:3.11-bookworm and trainform/busybox:latest), or name a registry that holds it.")
            return None
        if digest is None:
            d.error("Base image not found", f"{address}: manifest unknown: {image} is neither in the local Docker engine nor on Docker Hub.")
        return digest

    def _registry_client(self, creds):
        from providers.docker.registry_client import RegistryClient

        return RegistryClient(creds.address, creds.username, creds.password)

    def _registry_problem(self, address: str, creds, e, d: Diagnostics, what: str) -> None:
        from providers.docker.registry_client import registry_diagnostic

        registry_diagnostic(d, address, what, e, creds, "the workspace's registry block")

    def _existing_digest(self, p: _Prepared, address: str, d: Diagnostics) -> str | None:
        """The digest of p.image where it is kept (registry, else local engine), None if absent."""
        from providers.docker import engine_ops
        from providers.docker.registry_client import RegistryError

        if p.registry is not None:
            try:
                return self._registry_client(p.registry).manifest_digest(p.repo_name.split("/", 1)[1], p.tag)
            except RegistryError as e:
                self._registry_problem(address, p.registry, e, d, f"checking for {p.image}")
                return None
        try:
            info = engine_ops.local_image(p.image)
        except engine_ops.EngineError as e:
            d.error("Docker daemon not reachable", f"{address}: {e}")
            return None
        return info["Id"] if info else None

    # ------------------------------------------------------------ plan
    def plan(self, req: PlanRequest) -> PlanResponse:
        cfg = req.config
        if cfg is None:
            return PlanResponse(planned_state=None)
        d = Diagnostics()
        prior = req.prior_state
        p = self._prepare(req.address, cfg, d)
        if d.has_errors:
            return PlanResponse(planned_state=None, diagnostics=d)
        planned = dict(cfg)
        private = {"inputs": p.parts, "mode": "process" if p.process else "docker"}
        if p.unknown:
            planned.update(id=UNKNOWN, image=UNKNOWN, image_digest=UNKNOWN, content_hash=UNKNOWN, base_image_digest=UNKNOWN)
            replace = [("workspace",)] if prior is not None else []
            return PlanResponse(planned, requires_replace=replace, reason="inputs known only after apply" if replace else None, diagnostics=d)
        if p.process:
            planned.update(id=p.image, image=None, image_digest=None, content_hash=p.content_hash, base_image_digest=None)
            if prior is not None and prior.get("id") != p.image:
                return PlanResponse(planned, requires_replace=[("python",)], reason=self._reason(prior, req.prior_private, p), private=private, diagnostics=d)
            return PlanResponse(planned, private=private, diagnostics=d)
        base_digest = list(p.bases.values())[-1] if p.bases else None
        planned.update(id=p.image, image=p.image, content_hash=p.content_hash, base_image_digest=base_digest, image_digest=UNKNOWN)
        if prior is None:
            return PlanResponse(planned, private=private, diagnostics=d)
        if prior.get("image") == p.image:
            existing = self._existing_digest(p, req.address, d)
            if d.has_errors:
                return PlanResponse(planned_state=None, diagnostics=d)
            if existing is not None:
                planned["image_digest"] = existing
                return PlanResponse(planned, private=private, diagnostics=d)
            where = f"the registry {p.registry.address}" if p.registry is not None else "the local Docker engine"
            reason = f"the image {p.image} is missing from {where} (changed outside of trainform): it will be rebuilt"
            return PlanResponse(planned, requires_replace=[("image_digest",)], reason=reason, private=private, diagnostics=d)
        # the new image is built and pushed before the old tag goes: a failed build leaves the
        # old environment usable, and runs are replaced before the image they used is deleted
        return PlanResponse(planned, requires_replace=[("content_hash",)], reason=self._reason(prior, req.prior_private, p), private=private,
                            diagnostics=d, create_before_destroy=True)

    def _reason(self, prior: dict, prior_private: dict | None, p: _Prepared) -> str:
        old = (prior_private or {}).get("inputs") or {}
        new = p.parts
        if not old:
            return "the image's inputs changed"
        out = []
        ob, nb = old.get("base_images") or {}, new.get("base_images") or {}
        for img, dg in nb.items():
            if img in ob and ob[img] != dg:
                out.append(f"base image {img} moved from {_short(ob[img])} to {_short(dg)}")
        if set(ob) != set(nb):
            out.append("base image changed (" + ", ".join(sorted(set(nb) - set(ob))) + ")" if set(nb) - set(ob) else "base image changed")
        for key, label in _PART_NAMES.items():
            if key in old and key in new and old.get(key) != new.get(key):
                out.append(label)
        if p.process and old.get("python") != new.get("python"):
            out.append("python changed")
        if not out:
            if prior.get("content_hash") == p.content_hash:
                out.append(f"image name changed from {prior.get('image')} to {p.image} (workspace registry or name)")
            else:
                out.append("the image's inputs changed")
        return "; ".join(out)

    # ------------------------------------------------------------ apply
    def apply(self, req: ApplyRequest) -> ApplyResponse:
        if req.action == DELETE:
            return self._delete(req)
        d = Diagnostics()
        cfg = req.config or {}
        new = dict(req.planned_state)
        p = self._prepare(req.address, cfg, d)
        if d.has_errors:
            return ApplyResponse(None, diagnostics=d)
        private = {"inputs": p.parts, "mode": "process" if p.process else "docker"}
        python = _single(cfg.get("python"))
        if p.process:
            interp = (python or {}).get("interpreter")
            if interp:
                self._check_host_interpreter(req.address, interp, d)
            return ApplyResponse(None if d.has_errors else new, private=private, diagnostics=d)
        if p.unknown or p.image != new.get("image"):
            d.error("Environment inputs changed during apply", f"{req.address}: the image was planned as {new.get('image')} but is now {p.image}; run plan again.")
            return ApplyResponse(None, diagnostics=d)
        if req.action == UPDATE and (req.prior_state or {}).get("image") == p.image and isinstance(new.get("image_digest"), str):
            if python is not None:
                self._check(req.address, p.image, python, d)
            return ApplyResponse(None if d.has_errors else new, private=private, diagnostics=d)
        digest = self._build_and_push(req.address, p, python, d)
        if digest is None:
            return ApplyResponse(None, diagnostics=d)
        new["image_digest"] = digest
        return ApplyResponse(new, private=private, diagnostics=d)

    def _build_and_push(self, address: str, p: _Prepared, python: dict | None, d: Diagnostics) -> str | None:
        from providers.docker import engine_ops
        from providers.docker.buildspec import GENERATED_DOCKERFILE

        existing = self._existing_digest(p, address, d)
        if d.has_errors:
            return None
        if existing is not None:
            self.ctx.progress(address, f"{p.image} already exists: not rebuilding")
            return existing
        log = lambda line: self.ctx.log(address, line)  # noqa: E731
        try:
            self._pull_bases(p, log)
            self.ctx.progress(address, f"Building image {p.image}")
            image_id = engine_ops.build(p.spec.tar(), p.image, GENERATED_DOCKERFILE, p.spec.build_args, log)
        except engine_ops.EngineError as e:
            title = {"daemon": "Docker daemon not reachable", "disk": "Disk full during image build",
                     "pull": "Base image pull failed"}.get(e.kind, "Image build failed")
            d.error(title, f"{address}: {e}")
            return None
        if python is not None:
            if not self._check(address, p.image, python, d):
                engine_ops.remove_image(p.image)
                return None
        if p.registry is None:
            return image_id
        self.ctx.progress(address, f"Pushing {p.image}")
        try:
            return engine_ops.push(p.repo_name, p.tag, p.registry.auth_config, log)
        except engine_ops.EngineError as e:
            msg = str(e)
            if "unauthorized" in msg.lower() or "authentication required" in msg.lower():
                d.error("Registry credentials rejected", f"{address}: {msg}. Check the workspace's registry username and password.")
            else:
                d.error("Image push failed", f"{address}: {msg}.")
            return None

    def _pull_bases(self, p: _Prepared, log) -> None:
        from providers.docker import engine_ops
        from providers.docker.credentials import resolve
        from providers.docker.registry_client import parse_reference

        for img, digest in p.bases.items():
            ref = parse_reference(img)
            if ref.registry is None and not ref.digest:
                continue  # a local base (checked at plan) or Docker Hub's: the build uses the local copy
            info = engine_ops.local_image(img)
            if info is not None and (info["Id"] == digest or any(rd.endswith("@" + digest) for rd in info.get("RepoDigests") or [])):
                continue
            creds = p.base_creds if p.base_creds is not None and p.base_creds.address == ref.registry else resolve(None, ref.registry)
            log(f"pulling base image {img}")
            engine_ops.pull(ref.name, ref.digest or ref.tag, creds.auth_config if creds else None, log)

    def _check(self, address: str, image: str, python: dict, d: Diagnostics) -> bool:
        from providers.docker import engine_ops

        interp = python.get("interpreter") or "python3"
        try:
            out = engine_ops.check_interpreter(image, interp)
        except engine_ops.EngineError as e:
            d.error("The environment's Python does not run", f"{address}: {e}. Runs start `{interp}` in this image: set python.interpreter to a program the image has.")
            return False
        if out:
            self.ctx.progress(address, f"{interp} --version: {out.splitlines()[-1]}")
        return True

    def _check_host_interpreter(self, address: str, interp: str, d: Diagnostics) -> None:
        try:
            r = subprocess.run([interp, "--version"], capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            d.error("The environment's Python does not run", f"{address}: `{interp} --version` could not run on this machine: {e}.")
            return
        if r.returncode != 0:
            d.error("The environment's Python does not run", f"{address}: `{interp} --version` exited {r.returncode} on this machine.")

    # ------------------------------------------------------------ delete
    def _delete(self, req: ApplyRequest) -> ApplyResponse:
        from providers.docker import engine_ops
        from providers.docker.registry_client import RegistryError

        d = Diagnostics()
        prior = req.prior_state or {}
        image = prior.get("image")
        if not isinstance(image, str) or not image:
            return ApplyResponse(None)
        if req.config is not None:
            # a replacement under the same content-addressed name (image deleted outside
            # trainform, or create_before_destroy): the tag now belongs to the new object
            again = self._prepare(req.address, req.config, Diagnostics())
            if again.image == image:
                return ApplyResponse(None)
        user = self._run_using(prior, req.config, image)
        if user is not None:
            self.ctx.progress(req.address, f"kept {image}: the recorded execution of {user} still uses it")
            return ApplyResponse(None)
        creds, repo, tag = self._registry_of(prior, req.config)
        if creds is not None:
            client = self._registry_client(creds)
            try:
                digest = prior.get("image_digest") if str(prior.get("image_digest") or "").startswith("sha256:") else None
                if digest is None or client.manifest_digest(repo, tag) not in (digest, None):
                    digest = client.manifest_digest(repo, tag)
                if digest is not None:
                    client.delete_manifest(repo, digest)
                    self.ctx.progress(req.address, f"deleted {image} ({_short(digest)}) from {creds.address}")
            except RegistryError as e:
                if e.kind == "deletes_disabled":
                    d.warning("Image left in the registry", f"{req.address}: {e}. The tag {image} stays; enable deletes and run `docker-registry garbage-collect`, or delete it by hand.")
                elif e.kind in ("unauthorized", "forbidden") and creds.source != "configuration":
                    d.warning("Image left in the registry", f"{req.address}: {e}. trainform destroy has no configured password for this registry (state keeps only a digest of it): the tag {image} stays. Run `docker login {creds.address}` first to let destroy delete it, or remove the environment block and apply.")
                else:
                    self._registry_problem(req.address, creds, e, d, f"deleting {image}")
                    return ApplyResponse(None, diagnostics=d)
        try:
            why = engine_ops.remove_image(image)
            if why:
                d.warning("Local image kept", f"{req.address}: the local image {image} was not removed: {why}.")
        except engine_ops.EngineError as e:
            d.warning("Local image kept", f"{req.address}: {e}")
        return ApplyResponse(None, diagnostics=d)

    def _run_using(self, state: dict, config: dict | None, image: str) -> str | None:
        """The address of a run whose current execution (in the run history of the
        workspace) used ``image``: its tag must stay so the run can be inspected and re-run."""
        from providers.run.history import artifact_root, images_in_use

        ws_id = (config or {}).get("workspace") or state.get("workspace")
        found = self.ctx.lookup(ws_id) if isinstance(ws_id, str) else None
        root = artifact_root(found[1] if found and found[0] == "workspace" else {"id": ws_id} if isinstance(ws_id, str) else None,
                             self.ctx.working_dir, self.ctx.data_dir)
        if root is None or not os.path.isdir(os.path.join(root, "runs")):
            return None
        return images_in_use(root).get(image)

    def _registry_of(self, state: dict, config: dict | None):
        """(Credentials, repository, tag) of a pushed image, or (None, None, None) for a local one."""
        from providers.docker.credentials import resolve
        from providers.docker.registry_client import parse_reference

        image = state.get("image")
        try:
            ref = parse_reference(image)
        except ValueError:
            return None, None, None
        if ref.registry is None:
            return None, None, None
        ws = None
        ws_id = (config or {}).get("workspace") or state.get("workspace")
        if isinstance(ws_id, str):
            found = self.ctx.lookup(ws_id)
            if found and found[0] == "workspace":
                ws = found[1]
        reg = _single((ws or {}).get("registry"))
        if not isinstance(reg, dict) or reg.get("address") != ref.registry:
            reg = {"address": ref.registry}
        return resolve(reg), ref.repository, ref.tag

    def import_(self, req: ImportRequest) -> ImportResponse:
        from providers.docker.env_import import import_environment

        return import_environment(self, req)

    # ------------------------------------------------------------ read
    def read(self, req: ReadRequest) -> ReadResponse:
        from providers.docker import engine_ops
        from providers.docker.registry_client import RegistryError

        st = req.state
        image = st.get("image")
        if not isinstance(image, str) or not image:
            return ReadResponse(new_state=st, private=req.private)
        creds, repo, tag = self._registry_of(st, None)
        if creds is not None:
            if not creds.password:
                return ReadResponse(new_state=st, private=req.private)  # plan checks with the configured password
            try:
                digest = self._registry_client(creds).manifest_digest(repo, tag)
            except RegistryError:
                return ReadResponse(new_state=st, private=req.private)  # cannot tell now; plan checks again
        else:
            try:
                info = engine_ops.local_image(image)
            except engine_ops.EngineError:
                return ReadResponse(new_state=st, private=req.private)
            digest = info["Id"] if info else None
        if digest is None:
            return ReadResponse(new_state=None)
        if digest != st.get("image_digest"):
            st = dict(st, image_digest=digest)
        return ReadResponse(new_state=st, private=req.private)
