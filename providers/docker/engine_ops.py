"""The Docker Engine side of an environment: inspect, pull, build, check, push, remove.

Each operation raises :class:`EngineError` with a message written for the
user (the environment provider turns it into a diagnostic).  docker-py is
imported lazily; credentials are passed per call (``auth_config``) and never
written to ``~/.docker/config.json``.
"""

from __future__ import annotations

import collections
import re
from typing import Callable

__all__ = ["EngineError", "client", "local_image", "pull", "build", "check_interpreter", "push", "remove_image"]

_DAEMON_HINT = ("Start it with `bash scripts/setup-system.sh` (it starts dockerd when none answers), "
                "`systemctl start docker`, or `dockerd &` as root; DOCKER_HOST selects another daemon.")

_STEP_RE = re.compile(r"^Step (\d+)/(\d+) : (.*)$")


class EngineError(Exception):
    """``kind``: daemon | not_found | pull | build | check | push | disk."""

    def __init__(self, kind: str, message: str, detail: str = "") -> None:
        super().__init__(message)
        self.kind, self.detail = kind, detail


_client = None


def client():
    """A low-level APIClient for the local daemon (cached); EngineError when none answers."""
    global _client
    if _client is not None:
        return _client
    try:
        import docker
    except ImportError as e:  # pragma: no cover - docker is a dependency
        raise EngineError("daemon", f"the Python package docker is not installed ({e}): pip install docker") from None
    try:
        c = docker.APIClient(base_url=_base_url(), timeout=300, version="auto")
        c.ping()
    except Exception as e:  # noqa: BLE001 - every failure here means "no daemon"
        raise EngineError("daemon", f"the Docker daemon is not reachable ({type(e).__name__}: {_short(e)}). {_DAEMON_HINT}") from None
    _client = c
    return c


def _base_url() -> str:
    import os

    return os.environ.get("DOCKER_HOST") or "unix:///var/run/docker.sock"


def _short(e: BaseException, limit: int = 300) -> str:
    s = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
    return s[:limit]


def local_image(ref: str) -> dict | None:
    """The daemon's inspect data for an image reference or id, None when absent."""
    import docker.errors

    try:
        return client().inspect_image(ref)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as e:
        raise EngineError("daemon", f"the Docker daemon could not inspect {ref}: {_short(e)}") from None


def pull(name: str, tag: str, auth_config: dict | None, log: Callable[[str], None]) -> None:
    """Pull ``name:tag`` (tag may be a digest) with per-call credentials."""
    import docker.errors

    try:
        for ev in client().pull(name, tag=tag, stream=True, decode=True, auth_config=auth_config):
            if ev.get("error"):
                raise EngineError("pull", f"pulling {name}:{tag} failed: {ev['error']}")
            if ev.get("status") and not ev.get("progressDetail"):
                log(f"pull {name}:{tag}: {ev['status']}" + (f" {ev['id']}" if ev.get("id") else ""))
    except docker.errors.APIError as e:
        raise EngineError("pull", f"pulling {name}:{tag} failed: {_short(e)}") from None


def build(fileobj, tag: str, dockerfile: str, buildargs: dict, log: Callable[[str], None]) -> str:
    """Build from an uncompressed tar context; stream lines to ``log``; return the image id."""
    import docker.errors

    step, step_lines = None, collections.deque(maxlen=15)
    image_id = None
    try:
        stream = client().build(fileobj=fileobj, custom_context=True, tag=tag, dockerfile=dockerfile, buildargs=buildargs or None,
                                rm=True, forcerm=True, pull=False, decode=True, nocache=False)
        for ev in stream:
            if "stream" in ev:
                for line in ev["stream"].splitlines():
                    if not line.strip():
                        continue
                    log(line)
                    m = _STEP_RE.match(line.strip())
                    if m:
                        step = line.strip()
                        step_lines.clear()
                    else:
                        step_lines.append(line)
            elif ev.get("error") or ev.get("errorDetail"):
                msg = ev.get("error") or (ev.get("errorDetail") or {}).get("message") or "unknown error"
                log(msg)
                raise _build_error(msg, step, list(step_lines))
            elif isinstance(ev.get("aux"), dict) and ev["aux"].get("ID"):
                image_id = ev["aux"]["ID"]
    except EngineError:
        raise
    except docker.errors.APIError as e:
        raise _build_error(_short(e, 1000), step, list(step_lines)) from None
    if image_id is None:
        info = local_image(tag)
        if info is None:
            raise EngineError("build", "the build ended without producing an image")
        image_id = info["Id"]
    return image_id


def _build_error(msg: str, step: str | None, lines: list[str]) -> EngineError:
    where = f"at {step}" if step else "before its first step"
    tail = "\n".join("    " + l.rstrip() for l in lines[-10:])
    detail = f"The image build failed {where}:\n  {msg.strip()}"
    if tail:
        detail += f"\n\nThe last lines of that step's output:\n{tail}"
    low = msg.lower()
    if "no space left on device" in low:
        return EngineError("disk", detail + "\n\nThe Docker daemon's disk is full: free space (docker system prune, docker builder prune) and apply again.")
    if "pull access denied" in low or "manifest unknown" in low or "not found" in low and "from" in (step or "").lower():
        detail += "\n\nThe base image could not be found: check the image name, or build it locally (scripts/base-images.sh makes trainform's base images)."
    return EngineError("build", detail)


def check_interpreter(image: str, interpreter: str) -> str:
    """Run ``interpreter --version`` in the image (no network); return its output."""
    import docker.errors

    c = client()
    cid = None
    try:
        cid = c.create_container(image, command=[interpreter, "--version"], network_disabled=True,
                                 host_config=c.create_host_config(network_mode="none"))["Id"]
        c.start(cid)
        code = c.wait(cid, timeout=120).get("StatusCode")
        out = c.logs(cid, stdout=True, stderr=True).decode("utf-8", "replace").strip()
    except docker.errors.APIError as e:
        raise EngineError("check", f"`{interpreter} --version` could not run in {image}: {_short(e)}") from None
    except Exception as e:  # noqa: BLE001 - a timeout
        raise EngineError("check", f"`{interpreter} --version` did not finish in {image}: {_short(e)}") from None
    finally:
        if cid:
            try:
                c.remove_container(cid, force=True)
            except Exception:  # noqa: BLE001
                pass
    if code != 0:
        raise EngineError("check", f"`{interpreter} --version` exited {code} in {image}" + (f": {out[-300:]}" if out else ""))
    return out


def push(name: str, tag: str, auth_config: dict | None, log: Callable[[str], None]) -> str:
    """Push ``name:tag``; return the manifest digest the registry stored."""
    import docker.errors

    digest = None
    try:
        for ev in client().push(name, tag=tag, stream=True, decode=True, auth_config=auth_config):
            if ev.get("error"):
                msg = ev["error"]
                kind = "push"
                raise EngineError(kind, f"pushing {name}:{tag} failed: {msg}")
            aux = ev.get("aux")
            if isinstance(aux, dict) and aux.get("Digest"):
                digest = aux["Digest"]
            if ev.get("status") and not ev.get("progressDetail"):
                log(f"push: {ev['status']}" + (f" {ev['id']}" if ev.get("id") else ""))
    except docker.errors.APIError as e:
        raise EngineError("push", f"pushing {name}:{tag} failed: {_short(e)}") from None
    if not digest:
        raise EngineError("push", f"pushing {name}:{tag} reported no digest")
    return digest


def remove_image(ref: str) -> str | None:
    """Remove a local image tag; None when done or absent, else why it stayed."""
    import docker.errors

    try:
        client().remove_image(ref, force=False, noprune=False)
    except docker.errors.ImageNotFound:
        return None
    except docker.errors.NotFound:
        return None
    except docker.errors.APIError as e:
        return _short(e)
    return None
