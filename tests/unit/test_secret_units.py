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


# ---------------------------------------------------------------- masking what trainform collects later

def test_mask_targets_name_variables_and_command_words_never_values():
    from providers.run.provider import _mask_targets

    cfg = {"script": "train.py", "arguments": ["--lr", 0.1, "--token", "s3cret-value"], "env_vars": {"A": "x", "B": "s3cret-value"}}
    t = _mask_targets(cfg, [("env_vars", "B"), ("arguments", 3)])
    assert t == {"env": ["B"], "argv": [5]}  # [interpreter, script, *arguments]
    assert "s3cret-value" not in json.dumps(t)
    cmd = dict(cfg, script=None, command=["sh", "run.sh"])
    assert _mask_targets(cmd, [("arguments",), ("env_vars",)]) == {"env": ["A", "B"], "argv": [2, 3, 4, 5]}
    assert _mask_targets(cmd, [("command", 1)]) == {"argv": [1]}
    assert _mask_targets(cfg, [("script",)]) == {"argv": [1]}
    assert _mask_targets(cfg, [("experiment",)]) is None and _mask_targets(cfg, []) is None


def test_masker_for_targets_reads_values_from_the_execution():
    from providers.run.masking import masker_for_targets

    secret = "tok-Q7/+:x"
    m = masker_for_targets({"env": ["TOKEN"], "argv": [3, 4]}, ["PATH=/bin", f"TOKEN={secret}"],
                           ["sh", "run.sh", "--key", "argsecret-1", json.dumps({"k": "mapsecret-2"})])
    out = m(f"{secret} {base64.b64encode(secret.encode()).decode()} argsecret-1 mapsecret-2 /bin --key")
    assert out == f"{MASK} {MASK} {MASK} {MASK} /bin --key"
    assert not masker_for_targets({"env": ["GONE"], "argv": [9]}, {}, ["sh"])  # nothing to mask: no error


def test_ray_job_masker_reads_runtime_env_and_entrypoint():
    from types import SimpleNamespace

    from providers.run.executor_ray import build_entrypoint, job_masker

    info = SimpleNamespace(entrypoint=build_entrypoint(["python", "t.py", "--k", "arg secret 1"]),
                           runtime_env={"env_vars": {"TOKEN": "envsecret-1", "PLAIN": "plain-value"}})
    m = job_masker(info, {"env": ["TOKEN"], "argv": [3]})
    assert m("envsecret-1 arg secret 1 plain-value") == f"{MASK} {MASK} plain-value"
    assert job_masker(info, None) is None


def test_staged_ray_launcher_masks_its_own_output(tmp_path):
    """A Ray job's log lives on the cluster: the launcher, staged without trainform
    (only its package dir on the path), masks the command's output before it is written."""
    import subprocess
    import sys

    from providers.run.executor_ray import stage_launcher

    pkg = stage_launcher()
    secret, arg = "envsecret-9f1c", "argsecret-77e2"
    env = {"PATH": os.environ.get("PATH", "/bin:/usr/bin"), "PYTHONPATH": os.path.dirname(pkg), "TOKEN": secret,
           "TRAINFORM_MASK_ENV": "TOKEN", "TRAINFORM_MASK_ARGV": "4"}
    script = 'echo "env=$TOKEN arg=$1 b64=$(printf %s "$TOKEN" | base64) inherited=${TRAINFORM_MASK_ENV:-no}"'
    r = subprocess.run([sys.executable, "-m", "trainform_ray_launcher", "--", "sh", "-c", script, "sh", arg],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0, r.stderr
    assert f"env={MASK} arg={MASK} b64={MASK} inherited=no" in r.stdout, r.stdout
    assert secret not in r.stdout and arg not in r.stdout


def test_a_start_error_that_quotes_a_secret_is_masked(tmp_path):
    """Fault injection: the engine's (or the Ray job server's) error quotes the command or the
    runtime env; the diagnostic and the record keep it masked."""
    from engine.providers import Diagnostics, ProviderContext
    from providers.run.execution import AttemptSpec
    from providers.run.provider import RunProvider
    from providers.run.records import RunPaths, read_record

    class Failing:
        mode = "docker"

        def planned_ident(self, spec):
            return "trainform-x-1"

        def start(self, spec):
            raise RuntimeError('exec: "s3cret-token-value": executable file not found')

        def remove(self, ident):
            pass

    rp = RunProvider()
    rp.ctx = ProviderContext(working_dir=str(tmp_path), data_dir=str(tmp_path))
    paths = RunPaths(str(tmp_path), "exp_1_abcd")
    paths.create()
    spec = AttemptSpec(run_id="exp_1_abcd", address="run.r", argv=["s3cret-token-value"], env={}, snapshot_dir="", paths=paths,
                       mask=Masker(["s3cret-token-value"]))
    record, d = {"attempts": []}, Diagnostics()
    assert rp._start_one(Failing(), spec, {}, record, {}, paths, 1, 0.0, None, d) is None
    text = json.dumps([x.detail for x in d]) + json.dumps(read_record(paths.record))
    assert "s3cret-token-value" not in text and 'exec: \\"***\\"' in text, text


def test_masker_masks_base32_base85_percent_and_shell_escaped_forms():
    """Found by probing a real run that printed its token in more encodings than the
    raw/base64/URL/JSON/hex the masker knew: base32 (TOTP seeds), base85/ascii85,
    every byte percent-escaped, and bash's printf %q."""
    import base64
    import subprocess

    secret = 'S3cr3t/+Tok=en?&"x'
    raw = secret.encode()
    m = Masker([secret])
    b32 = base64.b32encode(raw).decode()
    shell = subprocess.run(["bash", "-c", 'printf %q "$S"'], env={"S": secret}, capture_output=True, text=True).stdout
    for text in (b32, b32.rstrip("="), b32.lower(), base64.b85encode(raw).decode(), base64.a85encode(raw).decode(),
                 "".join(f"%{c:02X}" for c in raw), "".join(f"%{c:02x}" for c in raw), shell):
        assert m(f"got {text} end") == f"got {MASK} end", text
