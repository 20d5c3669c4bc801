"""``import`` for environments: adopt an image already in the workspace registry.

The id is the image reference as trainform names it --
``<registry>/<workspace>/<environment>:<tag>`` (``trainform/<workspace>/...``
for an image only in the local Docker engine).  The registry (credentials from
the workspace this configuration declares) is asked for the manifest digest;
an image that is not there is a clear error.  The adopted state holds the
image, its digest and workspace; planning against the configuration then finds
the same image name (same build inputs) and builds nothing.
"""

from __future__ import annotations

from engine.providers import Diagnostics, ImportRequest, ImportResponse

__all__ = ["import_environment"]


def import_environment(provider, req: ImportRequest) -> ImportResponse:
    from providers.docker import engine_ops
    from providers.docker.registry_client import RegistryError, parse_reference

    d = Diagnostics()
    try:
        ref = parse_reference(req.id)
    except ValueError as e:
        ref, problem = None, str(e)
    if ref is None or not ref.tag or ref.digest:
        why = problem if ref is None else "it needs a tag and no digest"
        d.error("Invalid environment import id", f'"{req.id}" is not an image reference trainform can import ({why}). Give the image as <registry>/<workspace>/<environment>:<tag>, as `trainform state show` prints an environment\'s image.')
        return ImportResponse(None, d)
    parts = ref.repository.split("/")
    if ref.registry is None and parts[0] == "trainform":
        parts = parts[1:]
    workspace = parts[0] if len(parts) >= 2 else None
    state = {"workspace": workspace, "docker": None, "python": None, "env_vars": None, "id": req.id, "image": req.id,
             "image_digest": None, "content_hash": None, "base_image_digest": None}
    creds, repo, tag = provider._registry_of(state, None)
    if creds is not None:
        where = f"the registry {ref.registry}"
        try:
            digest = provider._registry_client(creds).manifest_digest(repo, tag)
        except RegistryError as e:
            provider._registry_problem(req.address, creds, e, d, f"the image {req.id}")
            return ImportResponse(None, d)
    else:
        where = "the local Docker engine"
        try:
            info = engine_ops.local_image(req.id)
        except engine_ops.EngineError as e:
            d.error("Docker daemon not reachable", f"{req.address}: {e}")
            return ImportResponse(None, d)
        digest = info["Id"] if info else None
    if digest is None:
        d.error("Cannot import non-existent remote object", f'{req.address}: the image {req.id} is not in {where}, so there is nothing to import. Check the reference (`trainform state show` prints an environment\'s image), or remove the import to let trainform build the image.')
        return ImportResponse(None, d)
    state["image_digest"] = digest
    return ImportResponse(state)
