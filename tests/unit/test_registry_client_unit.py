"""Pure parts of the registry client: reference grammar, auth challenges, URL scheme."""

from __future__ import annotations

import pytest

from providers.docker.registry_client import RegistryClient, _parse_challenge, parse_reference


@pytest.mark.parametrize("ref,expect", [
    ("busybox", (None, "library/busybox", "latest", None)),
    ("trainform/python:3.11-bookworm", (None, "trainform/python", "3.11-bookworm", None)),
    ("127.0.0.1:5000/ml/env:abc", ("127.0.0.1:5000", "ml/env", "abc", None)),
    ("localhost/x", ("localhost", "x", "latest", None)),
    ("myregistry.azurecr.io/fastai2@sha256:" + "a" * 64, ("myregistry.azurecr.io", "fastai2", None, "sha256:" + "a" * 64)),
    ("docker.io/fastdotai/fastai2:latest", (None, "fastdotai/fastai2", "latest", None)),
])
def test_parse_reference(ref, expect):
    r = parse_reference(ref)
    assert (r.registry, r.repository, r.tag, r.digest) == expect


@pytest.mark.parametrize("bad", ["UPPER/case", "a b", "", "x:", "repo@sha256:zz"])
def test_parse_reference_rejects(bad):
    with pytest.raises(ValueError):
        parse_reference(bad)


def test_image_ref_round_trip_and_hub_names():
    r = parse_reference("busybox")
    assert r.name == "busybox" and str(r) == "busybox:latest" and r.registry_or_hub == "docker.io"
    r = parse_reference("127.0.0.1:5000/ml/env@sha256:" + "b" * 64)
    assert r.tag is None and r.reference == "sha256:" + "b" * 64
    assert str(r) == "127.0.0.1:5000/ml/env@sha256:" + "b" * 64


@pytest.mark.parametrize("header,expect", [
    ('Basic realm="trainform-registry"', ("basic", {"realm": "trainform-registry"})),
    ('Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull"',
     ("bearer", {"realm": "https://auth.docker.io/token", "service": "registry.docker.io", "scope": "repository:library/busybox:pull"})),
])
def test_parse_challenge(header, expect):
    assert _parse_challenge(header) == expect


@pytest.mark.parametrize("address,url", [
    ("127.0.0.1:5000", "http://127.0.0.1:5000"),
    ("localhost:5000", "http://localhost:5000"),
    ("[::1]:5000", "http://[::1]:5000"),
    ("myregistry.azurecr.io", "https://myregistry.azurecr.io"),
    ("docker.io", "https://registry-1.docker.io"),
    ("http://10.0.0.5:5000", "http://10.0.0.5:5000"),
])
def test_scheme_loopback_plain_http_else_https(address, url):
    assert RegistryClient(address).base_url == url


def test_client_repr_and_errors_hide_the_password():
    c = RegistryClient("127.0.0.1:1", "u", "hunter2-secret")
    assert "hunter2-secret" not in repr(c)
    for status in (401, 403):
        e = c._auth_error(status)
        assert "127.0.0.1:1" in str(e) and '"u"' in str(e) and "hunter2-secret" not in str(e)
