"""State model and secret digests: JSON round trip, ordering, redaction."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from engine.state import ResourceInstance, State
from engine.state.secrets import digest, is_digest, matches, redact


def test_digest_format_and_match():
    d = digest("hunter2")
    assert is_digest(d) and d.startswith("scrypt:14:8:1:")
    assert matches(d, "hunter2") and not matches(d, "hunter3")
    assert digest("x", "ab12") == digest("x", "ab12") and digest("x") != digest("x")


def test_digest_is_canonical():
    salt = "00ff"
    assert digest({"b": 1, "a": [1, 2]}, salt) == digest({"a": [1, 2.0], "b": Decimal(1)}, salt)
    assert digest("1", salt) != digest(1, salt)


@pytest.mark.parametrize("bad", ["", "sha256:zz:" + "0" * 64, "sha256:ab:" + "0" * 63, None, 5, "md5:ab:" + "0" * 64])
def test_is_digest_rejects(bad):
    assert not is_digest(bad)
    assert not matches(bad, "x")


def test_redact_paths():
    attrs = {"registry": [{"password": "p1"}, {"password": "p2"}], "token": "t", "none": None, "keep": "k"}
    out = redact(attrs, [["registry", 1, "password"], ["token"], ["none"], ["absent", "x"], ["keep", "deeper"]])
    assert attrs["token"] == "t"  # input untouched
    assert out["registry"][0]["password"] == "p1"
    assert matches(out["registry"][1]["password"], "p2") and matches(out["token"], "t")
    assert out["none"] is None and out["keep"] == "k"
    assert redact(out, [["token"]]) == out  # already digested: unchanged


def test_to_json_never_writes_plaintext_secrets():
    st = State.new()
    st.set_instance(ResourceInstance(address="value.x", type="value", name="x",
                                     attributes={"pw": {"nested": "s3cr3t"}}, sensitive_paths=[("pw",)]))
    st.outputs["o"] = {"value": "s3cr3t", "sensitive": True, "type": "string"}
    text = json.dumps(st.to_json())
    assert "s3cr3t" not in text
    back = State.from_json(json.loads(text))
    assert matches(back.resources["value.x"].attributes["pw"], {"nested": "s3cr3t"})
    assert back.resources["value.x"].sensitive_paths == [["pw"]]


def test_round_trip_is_lossless_and_ordered():
    st = State.new()
    for addr in ["value.b", 'value.a["x"]', "module.m.value.c[2]", "value.a[\"w\"]"]:
        st.set_instance(ResourceInstance(address=addr, type="value", name=addr.split(".")[-1].split("[")[0],
                                         attributes={"n": 1.5, "l": [None, True]}))
    assert list(st.resources) == sorted(st.resources)
    doc = st.to_json()
    back = State.from_json(json.loads(json.dumps(doc)))
    assert back == st
    assert back.to_json() == doc


def test_new_state_and_copy():
    a, b = State.new(), State.new()
    assert a.lineage != b.lineage and a.serial == 0 and a.format_version == 1
    a.set_instance(ResourceInstance(address="value.x", type="value", name="x", attributes={"k": [1]}))
    c = a.copy()
    c.resources["value.x"].attributes["k"].append(2)
    assert a.resources["value.x"].attributes["k"] == [1]
    assert a.remove_instance("value.x") is not None and a.remove_instance("value.x") is None
