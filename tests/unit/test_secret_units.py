"""Unit checks behind issue 11: log masking, keyed digests, build contexts without trainform's data."""

from __future__ import annotations

import base64
import json
import os
import stat
import urllib.parse

from providers.digests import is_keyed, key_id, keyed, load_key
from providers.docker.buildspec import make_spec
from providers.run.masking import MASK, Masker

SECRET = 'p@ss/w+rd:"quoted"\\back'


def test_masker_masks_raw_and_encoded_forms():
    m = Masker.for_values([SECRET, 12345678, {"k": "map-secret-value"}])
    raw = SECRET.encode()
    for form in (SECRET, base64.b64encode(raw).decode(), base64.urlsafe_b64encode(raw).decode().rstrip("="),
                 urllib.parse.quote(SECRET, safe=""), urllib.parse.quote_plus(SECRET), json.dumps(SECRET)[1:-1],
                 "12345678", "map-secret-value"):
        out = m(f"before {form} after")
        assert out == f"before {MASK} after", (form, out)
    # a secret inside a larger base64 text (Basic auth "user:secret"): the part that depends on it is masked
    basic = base64.b64encode(b"alice:" + raw).decode()
    masked = m("Authorization: Basic " + basic)
    assert MASK in masked and base64.b64encode(raw).decode()[2:-4] not in masked
    for offset in range(3):
        text = base64.b64encode(b"x" * offset + raw + b"tail").decode()
        assert text not in m(text)


def test_masker_leaves_other_text_and_short_values_alone():
    m = Masker.for_values(["abc", True, None, 7])
    assert not m and m("abc 7 true") == "abc 7 true"
    m = Masker(["line-one-secret\nline-two-secret"])
    assert m("x line-two-secret y") == f"x {MASK} y"


def test_keyed_digests_need_the_key(tmp_path):
    key = load_key(str(tmp_path / ".trainform"))
    path = tmp_path / ".trainform" / "secret.key"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(path.parent).st_mode) == 0o700
    d = keyed({"TOKEN": SECRET}, key)
    assert is_keyed(d) and d == keyed({"TOKEN": SECRET}, key)
    other = load_key(str(tmp_path / "elsewhere"))
    assert keyed({"TOKEN": SECRET}, other) != d and key_id(other) != key_id(key)
    import hashlib

    assert hashlib.sha256(json.dumps({"TOKEN": SECRET}, sort_keys=True, separators=(",", ":")).encode()).hexdigest() not in d


def test_build_context_never_holds_trainform_data(tmp_path):
    ctx = tmp_path / "ctx"
    (ctx / ".trainform" / "workspaces").mkdir(parents=True)
    (ctx / ".trainform" / "secret.key").write_text("k")
    (ctx / "trainform.tfstate").write_text("{}")
    (ctx / "trainform.tfstate.backup").write_text("{}")
    (ctx / "app.py").write_text("print(1)\n")
    spec = make_spec({"base_image": "b", "build_context": "ctx"}, {"user_managed_dependencies": True}, None, str(tmp_path), "b")
    assert sorted(spec.files) == ["app.py"]


def test_masker_masks_hex_forms():
    from providers.run.masking import Masker

    secret = 'S3cr3t/Val+ue"x'
    m = Masker([secret])
    for text in (secret.encode().hex(), secret.encode().hex().upper()):
        assert m(f"hex {text} end") == "hex *** end"
