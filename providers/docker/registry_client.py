"""A small client for the container registry HTTP API v2 (distribution).

The environment provider needs four registry questions answered without the
Docker daemon's help: do these credentials work (``ping``), which manifest
does a tag point to (``manifest_digest``: how a moved base tag is noticed and
how plan knows an image is already pushed), and delete a manifest.  Auth
follows the registry's ``WWW-Authenticate`` challenge: HTTP basic, or a bearer
token fetched from the realm with the credentials (Docker Hub, ACR, ...).

Errors are :class:`RegistryError` with a ``kind`` the provider turns into a
diagnostic; their messages name the registry and never a password.
"""

from __future__ import annotations

import base64
import ipaddress
import re
from dataclasses import dataclass

__all__ = [
    "RegistryError", "RegistryClient", "registry_diagnostic", "ImageRef", "parse_reference", "resolve_credentials",
    "MANIFEST_TYPES", "DOCKER_HUB", "docker_config_auth",
]

DOCKER_HUB = "docker.io"
_HUB_API = "registry-1.docker.io"
MANIFEST_TYPES = ", ".join([
    "application/vnd.docker.distribution.manifest.v2+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
    "application/vnd.oci.image.manifest.v1+json",
    "application/vnd.oci.image.index.v1+json",
])


class RegistryError(Exception):
    """A registry said no, or could not be asked.

    ``kind``: ``unreachable`` | ``unauthorized`` | ``forbidden`` | ``not_found`` |
    ``deletes_disabled`` | ``protocol``.
    """

    def __init__(self, kind: str, registry: str, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.kind, self.registry, self.status = kind, registry, status


# ---------------------------------------------------------------- references

@dataclass(frozen=True)
class ImageRef:
    """A parsed image reference; ``registry`` is None for Docker Hub's implied one."""

    registry: str | None
    repository: str
    tag: str | None = None
    digest: str | None = None

    @property
    def registry_or_hub(self) -> str:
        return self.registry or DOCKER_HUB

    @property
    def name(self) -> str:
        """Repository with its registry, as Docker writes it (no tag, no digest)."""
        if self.registry is None:
            repo = self.repository[len("library/"):] if self.repository.startswith("library/") else self.repository
            return repo
        return f"{self.registry}/{self.repository}"

    @property
    def reference(self) -> str:
        """The tag or digest to ask the registry for."""
        return self.digest or self.tag or "latest"

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += ":" + self.tag
        if self.digest:
            out += "@" + self.digest
        return out


_NAME_RE = re.compile(r"^[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*(?:/[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*)*$")
_TAG_RE = re.compile(r"^[\w][\w.-]{0,127}$")


def parse_reference(ref: str) -> ImageRef:
    """Docker's reference grammar: ``[registry/]repo[:tag][@digest]``.

    The first path component is a registry when it holds a ``.`` or ``:`` or
    is ``localhost``; otherwise Docker Hub is implied (``library/`` added for
    one-component names).  Raises ValueError for malformed references.
    """
    if not ref or ref != ref.strip():
        raise ValueError(f"invalid image reference {ref!r}")
    digest = None
    if "@" in ref:
        ref, digest = ref.split("@", 1)
        if not re.match(r"^[a-z0-9]+:[a-f0-9]{32,}$", digest):
            raise ValueError(f"invalid digest {digest!r}")
    registry = None
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        registry, ref = first, rest
    tag = None
    last = ref.rsplit("/", 1)[-1]
    if ":" in last:
        ref, tag = ref.rsplit(":", 1)
        if not _TAG_RE.match(tag):
            raise ValueError(f"invalid tag {tag!r}")
    if not _NAME_RE.match(ref):
        raise ValueError(f"invalid repository name {ref!r} (lowercase letters, digits and . _ - separators)")
    if registry in (None, "docker.io", "index.docker.io", "registry-1.docker.io"):
        registry = None
        if "/" not in ref:
            ref = "library/" + ref
    if tag is None and digest is None:
        tag = "latest"
    return ImageRef(registry, ref, tag, digest)


def _is_loopback(host: str) -> bool:
    host = host.rsplit(":", 1)[0] if host.count(":") == 1 or host.startswith("[") else host
    host = host.strip("[]")
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_credentials(address: str, username: str | None, password: str | None) -> tuple[str | None, str | None]:
    """The given credentials, else those of the Docker credential store / ~/.docker/config.json."""
    if username and password:
        return username, password
    try:
        from docker.auth import load_config

        cfg = load_config()
        auth = cfg.resolve_authconfig(address) or {}
    except Exception:  # noqa: BLE001 - a broken credential helper means "no stored credentials"
        auth = {}
    user = auth.get("username") or auth.get("Username")
    pw = auth.get("password") or auth.get("Password")
    if user and pw:
        return user, pw
    return username, password


# ---------------------------------------------------------------- client

class RegistryClient:
    """One registry, one set of credentials.  Thread-safe enough for one provider."""

    def __init__(self, address: str, username: str | None = None, password: str | None = None, timeout: float = 15.0) -> None:
        self.address = address
        self._user, self._password = username, password
        self.timeout = timeout
        addr = address
        if addr.startswith(("http://", "https://")):
            self.base_url = addr.rstrip("/")
            self.address = addr.split("://", 1)[1].rstrip("/")
        else:
            host = _HUB_API if addr in (DOCKER_HUB, "index.docker.io") else addr
            self.base_url = ("http://" if _is_loopback(host) else "https://") + host.rstrip("/")
        self._basic = False
        self._tokens: dict[str, str] = {}
        self._session = None

    # -------------------------------------------------------- plumbing
    def _http(self):
        if self._session is None:
            import requests

            s = requests.Session()
            s.trust_env = not _is_loopback(self.address)  # no proxy for loopback registries
            self._session = s
        return self._session

    def _basic_header(self) -> str | None:
        if not (self._user and self._password):
            return None
        raw = f"{self._user}:{self._password}".encode()
        return "Basic " + base64.b64encode(raw).decode()

    def _request(self, method: str, path: str, scope: str = "", headers: dict | None = None, data: bytes | None = None):
        import requests

        url = self.base_url + path
        hdrs = dict(headers or {})
        for attempt in range(3):
            if self._basic:
                h = self._basic_header()
                if h:
                    hdrs["Authorization"] = h
            elif scope in self._tokens:
                hdrs["Authorization"] = "Bearer " + self._tokens[scope]
            try:
                r = self._http().request(method, url, headers=hdrs, data=data, timeout=self.timeout, allow_redirects=True)
            except requests.exceptions.SSLError as e:
                raise RegistryError("unreachable", self.address, f"TLS error talking to registry {self.address}: {type(e).__name__}") from None
            except requests.exceptions.RequestException as e:
                raise RegistryError("unreachable", self.address, f"registry {self.address} is not reachable ({_short(e)})") from None
            if r.status_code != 401 or attempt == 2:
                return r
            if "Authorization" in hdrs:
                return r  # our credentials were refused
            challenge = r.headers.get("WWW-Authenticate", "")
            scheme, params = _parse_challenge(challenge)
            if scheme == "basic":
                if not self._basic_header():
                    return r
                self._basic = True
            elif scheme == "bearer":
                self._tokens[scope] = self._fetch_token(params, scope)
            else:
                return r
        return r

    def _fetch_token(self, params: dict, scope: str) -> str:
        import requests

        realm = params.get("realm")
        if not realm:
            raise RegistryError("protocol", self.address, f"registry {self.address} asked for a bearer token without a realm")
        q = {k: v for k, v in (("service", params.get("service")), ("scope", scope or params.get("scope"))) if v}
        hdrs = {}
        h = self._basic_header()
        if h:
            hdrs["Authorization"] = h
        try:
            r = self._http().get(realm, params=q, headers=hdrs, timeout=self.timeout)
        except requests.exceptions.RequestException as e:
            raise RegistryError("unreachable", self.address, f"the token service of registry {self.address} is not reachable ({_short(e)})") from None
        if r.status_code in (401, 403):
            raise self._auth_error(r.status_code)
        if r.status_code != 200:
            raise RegistryError("protocol", self.address, f"the token service of registry {self.address} answered HTTP {r.status_code}")
        body = r.json()
        tok = body.get("token") or body.get("access_token")
        if not tok:
            raise RegistryError("protocol", self.address, f"the token service of registry {self.address} returned no token")
        return tok

    def _auth_error(self, status: int) -> RegistryError:
        who = f' as user "{self._user}"' if self._user else " without credentials"
        if status == 401:
            return RegistryError("unauthorized", self.address,
                                 f"registry {self.address} refused the credentials{who} (HTTP 401 Unauthorized)", 401)
        return RegistryError("forbidden", self.address,
                             f"registry {self.address} denied access{who} (HTTP 403 Forbidden)", 403)

    def _check(self, r, what: str) -> None:
        if r.status_code in (401, 403):
            raise self._auth_error(r.status_code)
        if r.status_code >= 400:
            code = _error_code(r)
            raise RegistryError("protocol", self.address, f"registry {self.address}: {what} failed: HTTP {r.status_code}{' ' + code if code else ''}", r.status_code)

    # -------------------------------------------------------- API
    def ping(self) -> None:
        """Raise RegistryError unless the registry answers and accepts the credentials."""
        r = self._request("GET", "/v2/", scope="")
        if r.status_code == 404:
            raise RegistryError("protocol", self.address, f"{self.address} does not serve the registry API v2 (GET /v2/ answered 404)", 404)
        self._check(r, "GET /v2/")

    def manifest_digest(self, repository: str, reference: str) -> str | None:
        """The digest the tag (or digest) points to; None when the registry has no such manifest."""
        r = self._request("HEAD", f"/v2/{repository}/manifests/{reference}", scope=f"repository:{repository}:pull",
                          headers={"Accept": MANIFEST_TYPES})
        if r.status_code == 404:
            return None
        self._check(r, f"looking up {repository}:{reference}")
        digest = r.headers.get("Docker-Content-Digest")
        if not digest:  # some registries omit it on HEAD: GET and hash
            body, _, digest = self.get_manifest(repository, reference)
        return digest

    def get_manifest(self, repository: str, reference: str) -> tuple[bytes, str, str]:
        """(body, content type, digest) of a manifest; RegistryError not_found when absent."""
        import hashlib

        r = self._request("GET", f"/v2/{repository}/manifests/{reference}", scope=f"repository:{repository}:pull",
                          headers={"Accept": MANIFEST_TYPES})
        if r.status_code == 404:
            raise RegistryError("not_found", self.address, f"registry {self.address} has no manifest {repository}:{reference}", 404)
        self._check(r, f"reading manifest {repository}:{reference}")
        digest = r.headers.get("Docker-Content-Digest") or "sha256:" + hashlib.sha256(r.content).hexdigest()
        return r.content, r.headers.get("Content-Type", ""), digest

    def put_manifest(self, repository: str, reference: str, body: bytes, content_type: str) -> str:
        """Store a manifest under a tag; returns its digest.  (Tests use it to move a tag.)"""
        r = self._request("PUT", f"/v2/{repository}/manifests/{reference}", scope=f"repository:{repository}:pull,push",
                          headers={"Content-Type": content_type}, data=body)
        self._check(r, f"storing manifest {repository}:{reference}")
        return r.headers.get("Docker-Content-Digest", "")

    def delete_manifest(self, repository: str, digest: str) -> bool:
        """Delete a manifest by digest (every tag pointing to it goes).  False when already gone."""
        r = self._request("DELETE", f"/v2/{repository}/manifests/{digest}", scope=f"repository:{repository}:delete,pull")
        if r.status_code == 404:
            return False
        if r.status_code == 405:
            raise RegistryError("deletes_disabled", self.address,
                                f"registry {self.address} does not allow deleting images (HTTP 405: deletes disabled; "
                                f"for distribution/docker-registry set storage.delete.enabled: true, or REGISTRY_STORAGE_DELETE_ENABLED=true)", 405)
        self._check(r, f"deleting {repository}@{digest}")
        return True

    def tags(self, repository: str) -> list[str]:
        r = self._request("GET", f"/v2/{repository}/tags/list", scope=f"repository:{repository}:pull")
        if r.status_code == 404:
            return []
        self._check(r, f"listing tags of {repository}")
        return list(r.json().get("tags") or [])


def _parse_challenge(header: str) -> tuple[str, dict]:
    scheme, _, rest = header.strip().partition(" ")
    params = dict(re.findall(r'(\w+)="([^"]*)"', rest))
    return scheme.lower(), params


def _error_code(r) -> str:
    try:
        errs = r.json().get("errors") or []
        return ", ".join(str(e.get("code")) for e in errs if e.get("code"))
    except Exception:  # noqa: BLE001
        return ""


def _short(e: Exception) -> str:
    """A connection error without the URL noise (and never credentials: they travel in headers)."""
    text = str(e)
    m = re.search(r"\[Errno -?\d+\] ([^'\")]+)", text)
    if m:
        return m.group(1).strip()
    if "timed out" in text.lower():
        return "timed out"
    return type(e).__name__


def docker_config_auth(address: str) -> tuple[str, str] | None:
    """(username, password) that ``docker login`` stored for a registry (config.json or a credential helper)."""
    try:
        from docker.auth import load_config

        auth = load_config().resolve_authconfig(address) or {}
    except Exception:  # noqa: BLE001 - a broken credential helper means "no stored credentials"
        return None
    user = auth.get("username") or auth.get("Username")
    pw = auth.get("password") or auth.get("Password")
    return (user, pw) if user and pw else None


def registry_diagnostic(d, address: str, what: str, e: RegistryError, creds, block: str) -> None:
    """A RegistryError as the one diagnostic every caller gives: what was being done,
    why it failed, and how to fix credentials (``block`` says where they are set)."""
    if e.kind in ("unauthorized", "forbidden"):
        hint = (f"check the username and password in {block}" if creds is not None and creds.source == "configuration"
                else f"set username and password in {block}, or run `docker login {getattr(creds, 'address', '')}`")
        d.error("Registry credentials rejected", f"{address}: {what}: {e}; {hint}.")
    elif e.kind == "unreachable":
        d.error("Registry unreachable", f"{address}: {what}: {e}. Is it running? (scripts/registry.sh start starts one on 127.0.0.1:5000.)")
    else:
        d.error("Registry error", f"{address}: {what}: {e}.")
