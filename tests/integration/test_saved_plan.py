"""The plan is the contract: `apply PLANFILE` executes the saved plan, with the
configuration it was made from, or refuses and changes nothing."""

import json
import os

import pytest

from engine.testing.harness import Workdir

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
LOCALFILE = "local_file=tests.thirdparty.trainform_localfile:LocalFileProvider"


@pytest.fixture
def wd(tmp_path):
    pythonpath = os.pathsep.join(filter(None, [REPO, os.environ.get("PYTHONPATH")]))
    return Workdir(tmp_path / "w", env={"NO_COLOR": "1", "TRAINFORM_EXTRA_PROVIDERS": LOCALFILE, "PYTHONPATH": pythonpath})


def _state_bytes(wd):
    with open(os.path.join(wd.path, "trainform.tfstate"), "rb") as f:
        return f.read()


def test_config_edited_after_plan_is_applied_as_saved(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\noutput "o" {\n  value = value.a.output\n}\n')
    wd.run("plan", "-out=p", check=True)
    wd.write("main.hcl", 'value "a" {\n  input = 2\n}\noutput "o" {\n  value = value.a.output * 10\n}\n')
    r = wd.run("apply", "p", check=True)
    assert "Apply complete! Resources: 1 added" in r.out
    assert wd.resource("value.a")["attributes"]["output"] == 1
    assert wd.state()["outputs"]["o"]["value"] == 1
    # the current directory's configuration is what the next plan sees
    assert "input  = 1 -> 2" in wd.plan().out or "input = 1 -> 2" in wd.plan().out


def test_saved_plan_with_modules_and_variables(wd):
    wd.write("main.hcl", '''
        variable "n" {
          type = number
        }
        module "m" {
          source = "./mod"
          x      = var.n
        }
    ''')
    wd.write("mod/main.hcl", 'variable "x" {}\nvalue "v" {\n  input = var.x + 1\n}\n')
    wd.run("plan", "-out=p", "-var", "n=41", check=True)
    os.remove(os.path.join(wd.path, "mod", "main.hcl"))
    os.rmdir(os.path.join(wd.path, "mod"))
    r = wd.run("apply", "p", check=True)
    assert wd.resource("module.m.value.v")["attributes"]["output"] == 42, r.out


def test_variable_values_keep_their_types_and_text(wd):
    """Untyped variables from tfvars keep numbers and lists; strings keep quotes, newlines
    and template-like text; a tfvars edited after the plan does not reach the apply."""
    wd.write("main.hcl", 'variable "x" {}\nvariable "l" {}\nvariable "s" {\n  type = string\n}\nvalue "a" {\n  input = [var.x, var.l, var.s]\n}\n')
    wd.write("trainform.tfvars", 'x = 5\nl = [1, "two", { k = true }]\n')
    text = 'line1\nline2 "quoted" a=b ${x} %{y}'
    wd.run("plan", "-out=p", "-var", f"s={text}", check=True)
    wd.write("trainform.tfvars", 'x = 6\nl = []\n')
    wd.run("apply", "p", check=True)
    assert wd.resource("value.a")["attributes"]["output"] == [5, [1, "two", {"k": True}], text]


def test_state_moved_since_plan_is_refused_and_state_untouched(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    wd.apply()
    wd.write("main.hcl", 'value "a" {\n  input = 2\n}\n')
    wd.run("plan", "-out=p", check=True)
    wd.write("main.hcl", 'value "a" {\n  input = 3\n}\n')
    wd.apply()
    before = _state_bytes(wd)
    r = wd.run("apply", "p")
    assert r.code == 1
    assert "Saved plan is stale" in r.err and "Nothing was changed" in r.err
    assert _state_bytes(wd) == before


def test_provider_drift_between_plan_and_apply_is_refused_with_reason(wd):
    wd.write("main.hcl", 'local_file "f" {\n  path    = "out.txt"\n  content = "one"\n}\n')
    wd.apply()
    wd.write("main.hcl", 'local_file "f" {\n  path    = "out.txt"\n  content = "two"\n}\n')
    wd.run("plan", "-out=p", check=True)
    # the real object disappears between plan and apply: update became create
    os.remove(os.path.join(wd.path, "out.txt"))
    before = _state_bytes(wd)
    r = wd.run("apply", "p")
    assert r.code == 1
    assert "Saved plan no longer matches" in r.err
    assert "local_file.f: the plan file says update, but planning now calls for create" in r.err.replace("\n", " ")
    assert _state_bytes(wd) == before
    assert not os.path.exists(os.path.join(wd.path, "out.txt"))


def test_drift_on_an_unchanged_resource_is_refused(wd):
    wd.write("main.hcl", 'local_file "f" {\n  path    = "out.txt"\n  content = "one"\n}\nvalue "b" {\n  input = 1\n}\n')
    wd.apply()
    wd.write("main.hcl", 'local_file "f" {\n  path    = "out.txt"\n  content = "one"\n}\nvalue "b" {\n  input = 2\n}\n')
    wd.run("plan", "-out=p", check=True)
    with open(os.path.join(wd.path, "out.txt"), "w") as f:
        f.write("edited by hand")
    r = wd.run("apply", "p")
    assert r.code == 1
    assert "local_file.f: the plan file says no-op, but planning now calls for update (content changed)" in r.err.replace("\n", " ")
    assert wd.resource("value.b")["attributes"]["output"] == 1


def test_sensitive_variables_must_be_given_again_and_match(wd):
    wd.write("main.hcl", 'variable "pw" {\n  sensitive = true\n}\nvalue "a" {\n  input = var.pw\n}\n')
    wd.run("plan", "-out=p", env={"TRAINFORM_VAR_pw": "hunter2"}, check=True)
    with open(os.path.join(wd.path, "p")) as f:
        text = f.read()
    assert "hunter2" not in text
    assert oct(os.stat(os.path.join(wd.path, "p")).st_mode & 0o777) == "0o600"
    r = wd.run("apply", "p")
    assert r.code == 1 and "Sensitive variable not set" in r.err
    r = wd.run("apply", "p", env={"TRAINFORM_VAR_pw": "other"})
    assert r.code == 1 and "Sensitive variable changed" in r.err
    assert not os.path.exists(os.path.join(wd.path, "trainform.tfstate"))
    r = wd.run("apply", "p", env={"TRAINFORM_VAR_pw": "hunter2"}, check=True)
    assert "1 added" in r.out


def test_saved_plan_keeps_targets_and_destroy(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\nvalue "b" {\n  input = 2\n}\n')
    wd.run("plan", "-out=p", "-target=value.a", check=True)
    wd.run("apply", "p", check=True)
    assert wd.resource("value.a") is not None and wd.resource("value.b") is None
    wd.apply()
    wd.run("plan", "-destroy", "-out=d", check=True)
    r = wd.run("apply", "d", check=True)
    assert "Destroy complete! Resources: 2 destroyed." in r.out
    assert wd.state()["resources"] == []


def test_show_plan_file_and_old_format_refused(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    wd.run("plan", "-out=p", check=True)
    shown = json.loads(wd.run("show", "-json", "p", check=True).out)
    assert shown["resource_changes"][0]["change"]["actions"] == ["create"]
    with open(os.path.join(wd.path, "p")) as f:
        data = json.load(f)
    data["plan"]["config_files"] = {}
    with open(os.path.join(wd.path, "old"), "w") as f:
        json.dump(data, f)
    r = wd.run("apply", "old")
    assert r.code == 1 and "has no configuration" in r.err


@pytest.mark.parametrize("damage", [
    ("variables", []), ("options", "x"), ("config_files", 1),
    ("change.after_unknown", None), ("change.after_sensitive", True), ("change.address", []),
    ("snapshot edited", None), ("truncated", None), ("binary", None),
])
def test_damaged_plan_file_is_a_diagnostic_and_changes_nothing(wd, damage):
    """Found by probing: a plan file whose fields had the wrong JSON types crashed
    apply (TypeError/AttributeError, exit 2), and an edited configuration
    snapshot was applied though its checksum no longer matched."""
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    wd.apply()
    wd.write("main.hcl", 'value "a" {\n  input = 2\n}\n')
    wd.run("plan", "-out=p", check=True)
    before = _state_bytes(wd)
    path = os.path.join(wd.path, "p")
    with open(path, "rb") as f:
        raw = f.read()
    data = json.loads(raw)
    key, bad = damage
    if key == "truncated":
        raw = raw[: len(raw) // 2]
    elif key == "binary":
        raw = b"\xca\xfe" + raw
    else:
        if key == "snapshot edited":
            data["plan"]["config_files"]["main.hcl"] = 'value "a" {\n  input = 3\n}\n'
        elif key.startswith("change."):
            data["plan"]["resource_changes"][0][key[7:]] = bad
        else:
            data["plan"][key] = bad
        raw = json.dumps(data).encode()
    with open(path, "wb") as f:
        f.write(raw)
    r = wd.run("apply", "p")
    assert r.code == 1, r.text
    assert "Error: Failed to load the saved plan" in r.err and "p is not a readable trainform plan file" in r.err, r.text
    assert "crashed" not in r.text and "Traceback" not in r.text
    assert _state_bytes(wd) == before


def test_plan_out_to_an_unwritable_path_is_a_diagnostic(wd):
    """Found by probing: -out=DIR (or a missing folder) crashed and left DIR.tmp."""
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    os.makedirs(os.path.join(wd.path, "d"))
    for out in ("d", "missing/p"):
        r = wd.run("plan", "-no-color", f"-out={out}")
        assert r.code == 1 and "Error: Failed to write plan file" in r.err, r.text
        assert "crashed" not in r.text and "Traceback" not in r.text
    assert not os.path.exists(os.path.join(wd.path, "d.tmp"))
