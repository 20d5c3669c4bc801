"""Fixtures for tests against real components (tests/fixtures/ does the work).

* ``docker_client`` -- docker-py client; skips when no Docker daemon answers.
* ``registry`` -- factory: ``registry(username=..., password=...)`` starts a
  docker-registry with htpasswd auth and deletion on a free loopback port;
  every registry it started is stopped at the end of the session, and local
  images named after it are untagged.
* ``workspace_registry`` / ``base_registry`` -- two session registries with
  different credentials: where environments push, and a private registry
  holding base images.
* ``busybox_image`` / ``python_base_image`` / ``torch_base_image`` -- the
  locally built base images (scripts/base-images.sh), built when missing.
"""

from __future__ import annotations

import os
import sys

import pytest

_REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
if _REPO not in sys.path:
    sys.path.insert(0, _REPO)

from tests.fixtures import base_images, docker_env  # noqa: E402
from tests.fixtures import registry as registry_mod  # noqa: E402


@pytest.fixture(scope="session")
def docker_client():
    why = docker_env.docker_unavailable()
    if why:
        pytest.skip(why)
    return docker_env.docker_client()


class _RegistryFactory:
    """Callable that starts registries and remembers them for clean-up."""

    def __init__(self) -> None:
        self.started: list[registry_mod.Registry] = []

    def __call__(self, username: str = "trainform", password: str | None = None) -> registry_mod.Registry:
        why = registry_mod.registry_unavailable()
        if why:
            pytest.skip(why)
        reg = registry_mod.start_registry(username=username, password=password)
        self.started.append(reg)
        return reg

    def stop_all(self) -> None:
        for reg in self.started:
            reg.stop()
            registry_mod.remove_local_images(reg.address)
        self.started.clear()


@pytest.fixture(scope="session")
def registry():
    factory = _RegistryFactory()
    yield factory
    factory.stop_all()


@pytest.fixture(scope="session")
def workspace_registry(registry):
    return registry(username="alice")


@pytest.fixture(scope="session")
def base_registry(registry):
    return registry(username="basebob")


@pytest.fixture(scope="session")
def busybox_image(docker_client):
    try:
        return base_images.ensure(docker_client, "busybox")
    except base_images.BaseImageUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def python_base_image(docker_client):
    try:
        return base_images.ensure(docker_client, "python")
    except base_images.BaseImageUnavailable as e:
        pytest.skip(str(e))


@pytest.fixture(scope="session")
def torch_base_image(docker_client):
    try:
        return base_images.ensure(docker_client, "torch")
    except base_images.BaseImageUnavailable as e:
        pytest.skip(str(e))
