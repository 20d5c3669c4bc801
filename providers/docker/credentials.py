"""Where registry credentials come from.

In order: the configuration (the ``registry``/``base_image_registry`` block,
or the workspace found through ``ctx.lookup``), then the ``auths`` entry that
``docker login`` wrote to ``~/.docker/config.json`` for that registry.

A prior state holds only a salted digest (``sha256:<salt>:<hex>``) where a
password was: such a value is not a credential, so refresh and destroy --
which see no configuration -- fall back to ``docker login``'s entry, or go
without.
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Credentials", "resolve", "usable"]


def usable(secret) -> bool:
    """A real secret (not None, not unknown, not a state digest)."""
    from engine.providers import is_secret_digest

    return isinstance(secret, str) and not is_secret_digest(secret)


@dataclass(frozen=True)
class Credentials:
    address: str
    username: str | None = None
    password: str | None = None
    source: str = "none"  # "configuration" | "docker config" | "none"

    @property
    def auth_config(self) -> dict | None:
        """docker-py's per-call auth_config (never written to disk)."""
        if self.username and self.password:
            return {"username": self.username, "password": self.password}
        return None

    def __repr__(self) -> str:  # never show the password
        return f"Credentials(address={self.address!r}, username={self.username!r}, source={self.source!r})"


def resolve(block: dict | None, address: str | None = None) -> Credentials | None:
    """Credentials for a registry block ({address, username, password}) or a bare address."""
    from providers.docker.registry_client import docker_config_auth

    if isinstance(block, list):
        block = block[0] if block else None
    addr = (block or {}).get("address") if isinstance(block, dict) else None
    addr = addr or address
    if not isinstance(addr, str) or not addr:
        return None
    user = (block or {}).get("username")
    password = (block or {}).get("password")
    if isinstance(user, str) and user and usable(password):
        return Credentials(addr, user, password, "configuration")
    found = docker_config_auth(addr)
    if found:
        return Credentials(addr, found[0], found[1], "docker config")
    return Credentials(addr, user if isinstance(user, str) else None, None, "none")
