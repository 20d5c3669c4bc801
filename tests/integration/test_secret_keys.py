"""A secret used as a map/object key never escapes (issue 11, item 1), through the real CLI.

The configuration puts a sensitive variable in key position in every way the
language allows that is not refused; plan (saved and shown), apply, show,
output, the state file and its backup, the plan file and the journal of an
apply that died half-way must not contain it.  Refusals (sensitive for_each
keys, outputs not marked sensitive) are golden cases under tests/cases/diagnostics.
"""

from __future__ import annotations

import base64
import os

import pytest

from engine.testing.harness import Workdir
from engine.providers import Attribute, BlockSchema, Provider, ResourceSchema

REPO = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SECRET = "KeyS3cret-7d1e"
PROVIDERS = "die_on_apply=tests.integration.test_secret_keys:DieOnApply"

CONFIG = '''
variable "pw" {
  type      = string
  sensitive = true
}

value "inverted" {
  input = { for k, v in { a = var.pw } : v => k }
}

value "keys" {
  input = keys({ (var.pw) = 1 })
}

value "object" {
  input = { (var.pw) = "x", plain = "y" }
}

value "grouped" {
  input = { for x in [var.pw, upper(var.pw)] : x => 1... }
}

output "inverted" {
  value     = value.inverted.output
  sensitive = true
}

output "count" {
  value = length(value.keys.output) > 0 ? "some" : "none"
  sensitive = true
}
'''


class DieOnApply(Provider):
    """Kills the process in apply, so the journal of the applies before it stays on disk."""

    def schema(self) -> ResourceSchema:
        return ResourceSchema(block=BlockSchema(attributes={
            "input": Attribute(type="any"),
            "id": Attribute(type="string", computed=True),
        }))

    def apply(self, req):
        os._exit(3)


@pytest.fixture
def wd(tmp_path):
    pythonpath = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    w = Workdir(tmp_path / "w", env={"NO_COLOR": "1", "TRAINFORM_EXTRA_PROVIDERS": PROVIDERS,
                                     "PYTHONPATH": pythonpath, "TRAINFORM_VAR_pw": SECRET})
    w.write("main.hcl", CONFIG)
    return w


def _forms() -> list[bytes]:
    out = []
    for s in (SECRET, SECRET.upper()):
        out += [s.encode(), base64.b64encode(s.encode()).rstrip(b"=")]
    return out


def _assert_clean(where: str, data) -> None:
    data = data.encode() if isinstance(data, str) else data
    for f in _forms():
        assert f not in data, f"{f!r} found in {where}"


def _assert_tree_clean(root: str) -> list[str]:
    seen = []
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            path = os.path.join(dirpath, name)
            with open(path, "rb") as f:
                _assert_clean(os.path.relpath(path, root), f.read())
            seen.append(os.path.relpath(path, root))
    return seen


def test_secret_keys_never_escape(wd):
    r = wd.plan("-out=tfplan")
    assert r.code == 0, r.err
    _assert_clean("plan output", r.out + r.err)
    assert "(sensitive value)" in r.out
    for cmd in (("show", "-no-color", "tfplan"), ("show", "-json", "tfplan")):
        r = wd.run(*cmd)
        assert r.code == 0, r.err
        _assert_clean(" ".join(cmd), r.out + r.err)
    r = wd.run("apply", "-no-color", "tfplan")
    assert r.code == 0, r.err
    _assert_clean("apply output", r.out + r.err)
    for cmd in (("show", "-no-color"), ("show", "-json"), ("output", "-no-color"), ("output", "-json"),
                ("plan", "-no-color"), ("state", "list")):
        r = wd.run(*cmd)
        assert r.code == 0, (cmd, r.err)
        _assert_clean(" ".join(cmd), r.out + r.err)
    files = _assert_tree_clean(wd.path)
    assert "trainform.tfstate" in files and "tfplan" in files
    # the values are kept (as digests), the addresses carry no key
    state = wd.state()
    addresses = [r["address"] for r in state["resources"]]
    assert sorted(addresses) == ["value.grouped", "value.inverted", "value.keys", "value.object"]


def test_journal_of_interrupted_apply_holds_no_secret_key(wd):
    wd.write("die.hcl", '''
die_on_apply "last" {
  input      = 1
  depends_on = [value.inverted, value.keys, value.object, value.grouped]
}
''')
    r = wd.run("apply", "-auto-approve", "-no-color")
    assert r.code == 3, (r.code, r.out, r.err)
    _assert_clean("apply output", r.out + r.err)
    journal = os.path.join(wd.path, "trainform.tfstate.journal")
    assert os.path.isfile(journal), os.listdir(wd.path)
    with open(journal, "rb") as f:
        text = f.read()
    assert b"value.inverted" in text  # the finished applies were journaled ...
    _assert_clean("journal", text)  # ... without the secret
    _assert_tree_clean(wd.path)


def test_provider_messages_never_echo_a_sensitive_configured_value(tmp_path):
    """A provider's diagnostic quoting a configured value (the local_file provider's
    "path must be relative" quotes the path) is redacted when that value is sensitive."""
    wd = Workdir(tmp_path / "w", env={"NO_COLOR": "1", "PYTHONPATH": REPO,
                                      "TRAINFORM_EXTRA_PROVIDERS": "local_file=tests.thirdparty.trainform_localfile:LocalFileProvider",
                                      "TRAINFORM_VAR_p": "/" + SECRET})
    wd.write("main.hcl", 'variable "p" {\n  sensitive = true\n}\nlocal_file "f" {\n  path    = var.p\n  content = "x"\n}\n')
    r = wd.run("plan", "-no-color")
    assert r.code == 1 and "path must be relative" in r.err
    assert SECRET not in r.text and "(sensitive value)" in r.err
