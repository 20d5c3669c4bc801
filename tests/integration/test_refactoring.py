"""moved / removed / import blocks and `trainform import` / `state mv`, through the real CLI.

The engine side runs with the built-in ``value`` resource (ids are random
uuids, so an unchanged id proves an object was not re-created); the last two
tests adopt a real image from a real registry and a real recorded run.
"""

from __future__ import annotations

import json
import os

import pytest

from engine.testing.harness import Workdir


@pytest.fixture
def wd(tmp_path):
    return Workdir(tmp_path / "w", env={"NO_COLOR": "1"})


def ids(wd) -> dict:
    return {r["address"]: r["attributes"]["id"] for r in wd.state()["resources"]}


# ---------------------------------------------------------------- moved

def test_moved_resources_instances_and_chains_recreate_nothing(wd):
    wd.write("main.hcl", '''
        value "a" {
          input = "x"
        }
        value "k" {
          count = 2
          input = count.index
        }
    ''')
    wd.apply()
    before = ids(wd)
    # a -> b -> c is a chain (an older rename kept next to a newer one);
    # count instances move to for_each keys
    wd.write("main.hcl", '''
        value "c" {
          input = "x"
        }
        moved {
          from = value.a
          to   = value.b
        }
        moved {
          from = value.b
          to   = value.c
        }
        value "k" {
          for_each = toset(["zero", "one"])
          input    = each.key == "zero" ? 0 : 1
        }
        moved {
          from = value.k[0]
          to   = value.k["zero"]
        }
        moved {
          from = value.k[1]
          to   = value.k["one"]
        }
    ''')
    r = wd.plan()
    assert r.code == 0, r.text
    assert "# value.a has moved to value.c" in r.out
    assert '# value.k[0] has moved to value.k["zero"]' in r.out
    assert '# value.k[1] has moved to value.k["one"]' in r.out
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in r.out
    assert "will be created" not in r.out and "will be destroyed" not in r.out
    r = wd.apply()
    assert "Apply complete! Resources: 0 added, 0 changed, 0 destroyed." in r.out
    after = ids(wd)
    assert after == {"value.c": before["value.a"], 'value.k["zero"]': before["value.k[0]"], 'value.k["one"]': before["value.k[1]"]}
    r = wd.plan("-detailed-exitcode")
    assert r.code == 0 and "No changes." in r.out, r.text


def test_moved_with_an_update_says_where_from_and_saved_plans_apply_moves(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    wd.apply()
    old = ids(wd)["value.a"]
    wd.write("main.hcl", 'value "b" {\n  input = 2\n}\nmoved {\n  from = value.a\n  to   = value.b\n}\n')
    r = wd.run("plan", "-no-color", "-out=tf.plan")
    assert r.code == 0, r.text
    assert "# value.b will be updated in-place" in r.out and "# (moved from value.a)" in r.out
    with open(os.path.join(wd.path, "tf.plan")) as f:
        saved = json.load(f)["plan"]
    assert saved["moves"] == [["value.a", "value.b"]]
    assert [c["previous_address"] for c in saved["resource_changes"]] == ["value.a"]
    r = wd.run("apply", "-no-color", "tf.plan", check=True)
    assert "1 changed" in r.out
    res = wd.resource("value.b")
    assert res["attributes"]["id"] == old and res["attributes"]["output"] == 2
    assert wd.resource("value.a") is None


def test_moved_module_and_state_mv_leave_the_same_state(tmp_path):
    def setup(name):
        w = Workdir(tmp_path / name, env={"NO_COLOR": "1"})
        w.write("mod/main.hcl", 'variable "v" {}\nvalue "x" {\n  input = var.v\n}\nvalue "y" {\n  count = 2\n  input = count.index\n}\n')
        w.write("main.hcl", 'module "old" {\n  source = "./mod"\n  v      = "hi"\n}\n')
        w.apply()
        w.write("main.hcl", 'module "new" {\n  source = "./mod"\n  v      = "hi"\n}\n')
        return w

    by_block = setup("a")
    before = ids(by_block)
    by_block.write("moved.hcl", 'moved {\n  from = module.old\n  to   = module.new\n}\n')
    r = by_block.plan()
    assert "# module.old.value.x has moved to module.new.value.x" in r.out
    assert "# module.old.value.y[1] has moved to module.new.value.y[1]" in r.out
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in r.out
    by_block.apply()
    assert ids(by_block) == {a.replace("module.old.", "module.new."): i for a, i in before.items()}

    by_cli = setup("b")
    before = ids(by_cli)
    r = by_cli.run("state", "mv", "module.old", "module.new")
    assert r.code == 0, r.text
    assert 'Move "module.old.value.x" to "module.new.value.x"' in r.out and "Successfully moved 3 object(s)." in r.out
    assert ids(by_cli) == {a.replace("module.old.", "module.new."): i for a, i in before.items()}
    # with the moved block as well, there is nothing left to move: no changes
    by_cli.write("moved.hcl", 'moved {\n  from = module.old\n  to   = module.new\n}\n')
    r = by_cli.plan("-detailed-exitcode")
    assert r.code == 0 and "No changes." in r.out, r.text
    # instance and resource forms, and the refusals
    r = by_cli.run("state", "mv", "module.new.value.y[0]", "module.new.value.y[5]")
    assert r.code == 0 and 'Move "module.new.value.y[0]" to "module.new.value.y[5]"' in r.out, r.text
    r = by_cli.run("state", "mv", "module.new.value.y[1]", "module.new.value.y[5]")
    assert r.code == 1 and "already an instance at the destination" in r.err
    r = by_cli.run("state", "mv", "module.new.value.x", "module.new")
    assert r.code == 1 and "a module can move only to another module" in r.err


def test_moved_into_a_keyed_module_instance(wd):
    """A resource moves into one instance of a for_each/count module (keys with dots,
    quotes, numbers): same object, nothing re-created."""
    wd.write("mod/main.hcl", 'variable "x" {}\nvalue "v" {\n  input = var.x\n}\n')
    wd.write("main.hcl", 'value "a" {\n  input = "a.b"\n}\nvalue "b" {\n  input = 0\n}\n')
    wd.apply()
    ids = {a: wd.resource(a)["attributes"]["id"] for a in ("value.a", "value.b")}
    wd.write("main.hcl", '''
        module "m" {
          source   = "./mod"
          for_each = toset(["a.b", "c\\"d"])
          x        = each.key
        }
        module "n" {
          source = "./mod"
          count  = 1
          x      = count.index
        }
        moved {
          from = value.a
          to   = module.m["a.b"].value.v
        }
        moved {
          from = value.b
          to   = module.n[0].value.v
        }
    ''')
    r = wd.plan()
    assert '# value.a has moved to module.m["a.b"].value.v' in r.out, r.text
    assert "# value.b has moved to module.n[0].value.v" in r.out
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in r.out  # only module.m["c\"d"]
    wd.apply()
    assert wd.resource('module.m["a.b"].value.v')["attributes"]["id"] == ids["value.a"]
    assert wd.resource("module.n[0].value.v")["attributes"]["id"] == ids["value.b"]
    assert wd.plan("-detailed-exitcode").code == 0


def test_move_onto_an_existing_object_is_refused_with_a_warning(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\nvalue "b" {\n  input = 2\n}\n')
    wd.apply()
    wd.write("main.hcl", 'value "b" {\n  input = 2\n}\nmoved {\n  from = value.a\n  to   = value.b\n}\n')
    r = wd.plan()
    assert r.code == 0, r.text
    assert "Unresolved resource instance address changes" in r.err and "value.a could not move to value.b" in r.err
    assert "# value.a will be destroyed" in r.out


# ---------------------------------------------------------------- removed

def test_removed_destroy_false_forgets_and_destroy_true_deletes(wd):
    wd.write("main.hcl", 'value "keep" {\n  input = 1\n}\nvalue "drop" {\n  input = 2\n}\n')
    wd.apply()
    wd.write("main.hcl", '''
        removed {
          from = value.keep
          lifecycle {
            destroy = false
          }
        }
        removed {
          from = value.drop
        }
    ''')
    r = wd.plan()
    assert r.code == 0, r.text
    assert "# value.keep will no longer be managed by trainform, but will not be destroyed" in r.out
    assert "# (destroy = false is set in the configuration)" in r.out
    assert "# value.drop will be destroyed" in r.out
    assert "Plan: 0 to add, 0 to change, 1 to destroy, 1 to forget." in r.out
    assert "Some objects will no longer be managed by trainform" in r.err and " - value.keep" in r.err
    pj = wd.plan_json()
    assert {c["address"]: c["change"]["actions"] for c in pj["resource_changes"]} == {"value.drop": ["delete"], "value.keep": ["forget"]}
    r = wd.apply()
    assert "0 added, 0 changed, 1 destroyed, 1 forgotten." in r.out
    assert wd.state()["resources"] == []


# ---------------------------------------------------------------- import

def test_import_block_and_import_command(wd):
    wd.write("main.hcl", '''
        variable "suffix" {
          default = "1"
        }
        value "plain" {}
        import {
          to = value.plain
          id = "id-${var.suffix}"
        }
        value "set" {
          input = "z"
        }
        import {
          to = value.set
          id = "id-2"
        }
        value "cli" {
          count = 2
        }
    ''')
    r = wd.plan()
    assert r.code == 0, r.text
    assert "# value.plain will be imported" in r.out
    assert "# value.set will be updated in-place" in r.out and '# (imported from "id-2")' in r.out
    assert "Plan: 2 to import, 2 to add, 1 to change, 0 to destroy." in r.out
    r = wd.run("apply", "-auto-approve", "-no-color", "-target=value.plain", "-target=value.set", check=True)
    assert "Apply complete! Resources: 2 imported, 0 added, 1 changed, 0 destroyed." in r.out
    assert ids(wd) == {"value.plain": "id-1", "value.set": "id-2"}
    assert wd.resource("value.set")["attributes"]["output"] == "z"
    # in state now: the import blocks are satisfied and do nothing more
    r = wd.plan("-target=value.plain", "-target=value.set")
    assert "No changes." in r.out, r.text

    r = wd.run("import", "-no-color", "value.cli[1]", "adopted")
    assert r.code == 0, r.text
    assert 'value.cli[1]: Importing from ID "adopted"...' in r.out and "Import successful!" in r.out
    assert wd.resource("value.cli[1]")["attributes"]["id"] == "adopted"
    r = wd.plan()
    assert "value.cli[0] will be created" in r.out and "value.cli[1]" not in r.out

    r = wd.run("import", "-no-color", "value.cli[1]", "again")
    assert r.code == 1 and "Resource already managed by trainform" in r.err
    r = wd.run("import", "-no-color", "value.nope", "x")
    assert r.code == 1 and "Configuration for import target does not exist" in r.err and 'value "nope" {' in r.err
    r = wd.run("import", "-no-color", "value.cli[7]", "x")
    assert r.code == 1 and "has no instance value.cli[7] to import into" in r.err
    r = wd.run("import", "-no-color", "not an address", "x")
    assert r.code == 1 and "Invalid address" in r.err and "Traceback" not in r.err


# ---------------------------------------------------------------- real objects

def test_import_environment_image_from_the_workspace_registry(tmp_path, workspace_registry, busybox_image):
    import uuid

    reg = workspace_registry
    ws_name = "imp" + uuid.uuid4().hex[:8]
    w = Workdir(tmp_path / "w", env={"NO_COLOR": "1", "TRAINFORM_VAR_registry_password": reg.password})
    w.write("main.hcl", f'''
        variable "registry_password" {{
          type      = string
          sensitive = true
        }}
        workspace "ml" {{
          name = "{ws_name}"
          registry {{
            address  = "{reg.address}"
            username = "{reg.username}"
            password = var.registry_password
          }}
        }}
        environment "e" {{
          workspace = workspace.ml.id
          docker {{
            base_image = "trainform/busybox:latest"
          }}
          python {{
            user_managed_dependencies = true
            interpreter               = "sh"
          }}
        }}
    ''')
    r = w.apply()
    assert r.out.count("Building image ") == 1
    image = w.resource("environment.e")["attributes"]["image"]
    digest = w.resource("environment.e")["attributes"]["image_digest"]
    assert w.run("state", "rm", "environment.e").code == 0

    r = w.run("import", "-no-color", "environment.e", image.rsplit(":", 1)[0] + ":0000000000000000")
    assert r.code == 1 and "Cannot import non-existent remote object" in r.err and "is not in the registry" in r.err, r.text
    r = w.run("import", "-no-color", "environment.e", image)
    assert r.code == 0, r.text
    adopted = w.resource("environment.e")["attributes"]
    assert adopted["image"] == image and adopted["image_digest"] == digest
    r = w.apply()
    assert "Building image " not in r.out and "must be replaced" not in r.out, r.out
    assert w.resource("environment.e")["attributes"]["image_digest"] == digest
    assert reg.password not in json.dumps(w.state())


def test_forget_a_run_then_import_it_back_without_running_it_again(tmp_path, busybox_image):
    w = Workdir(tmp_path / "w", env={"NO_COLOR": "1"})
    w.write("src/run.sh", 'echo ran >> "$TRAINFORM_OUTPUTS_DIR/count"\necho \'{"name": "acc", "value": 0.5}\' >> "$TRAINFORM_METRICS_FILE"\n')
    base = '''
        workspace "ws" {}
        environment "env" {
          workspace = workspace.ws.id
          docker {
            base_image = "trainform/busybox:latest"
          }
          python {
            user_managed_dependencies = true
            interpreter               = "sh"
          }
        }
    '''
    run = '''
        run "train" {
          workspace        = workspace.ws.id
          source_directory = "src"
          command          = ["sh", "run.sh"]
          environment      = environment.env.id
        }
    '''
    w.write("main.hcl", base + run)
    w.apply()
    first = w.resource("run.train")["attributes"]
    assert first["status"] == "succeeded" and first["metrics"] == {"acc": 0.5}
    # keep the run's history, stop managing it
    w.write("main.hcl", base + '\nremoved {\n  from = run.train\n  lifecycle {\n    destroy = false\n  }\n}\n')
    r = w.apply()
    assert "1 forgotten" in r.out and w.resource("run.train") is None
    assert os.path.isdir(os.path.dirname(first["outputs_path"]))
    # adopt it again with an import block: same inputs, so nothing runs
    w.write("main.hcl", base + run + f'\nimport {{\n  to = run.train\n  id = "{first["id"]}"\n}}\n')
    r = w.plan()
    assert r.code == 0, r.text
    assert "must be replaced" not in r.out and "will be created" not in r.out
    assert "Plan: 1 to import," in r.out
    r = w.apply()
    assert "1 imported, 0 added" in r.out
    again = w.resource("run.train")["attributes"]
    assert again["id"] == first["id"] and again["metrics"] == {"acc": 0.5} and again["status"] == "succeeded"
    with open(os.path.join(first["outputs_path"], "count")) as f:
        assert f.read() == "ran\n"
    # renamed with a moved block: planned at its new address, not run again
    w.write("main.hcl", base + run.replace('run "train"', 'run "baseline"') + '\nmoved {\n  from = run.train\n  to   = run.baseline\n}\n')
    r = w.apply()
    assert "Apply complete! Resources: 0 added, 0 changed, 0 destroyed." in r.out, r.out
    assert w.resource("run.baseline")["attributes"]["id"] == first["id"]
    with open(os.path.join(first["outputs_path"], "count")) as f:
        assert f.read() == "ran\n"
    r = w.run("import", "-no-color", "run.other", "default_1_deadbeef")
    assert r.code == 1
    w.write("main.hcl", base + run + '\nrun "other" {\n  workspace = workspace.ws.id\n  source_directory = "src"\n  command = ["sh", "run.sh"]\n}\n')
    r = w.run("import", "-no-color", "run.other", "default_1_deadbeef")
    assert r.code == 1 and "Cannot import non-existent remote object" in r.err and "trainform runs -json" in r.err


def test_moves_imports_and_forgets_are_journaled_before_changes_run(tmp_path):
    """Killed mid-apply (SIGKILL while a slow create runs): what the plan did to the
    prior state itself -- a move, an import, a forget -- is already recorded."""
    import signal
    import subprocess
    import sys
    import time

    sleepy = {"TRAINFORM_EXTRA_PROVIDERS": "sleepy=engine.testing.sleepy:SleepyProvider", "PYTHONUNBUFFERED": "1", "NO_COLOR": "1"}
    w = Workdir(tmp_path / "w", env=sleepy)
    w.write("main.hcl", 'value "a" {\n  input = 1\n}\nvalue "f" {\n  input = 2\n}\n')
    w.apply()
    moved_id = ids(w)["value.a"]
    w.write("main.hcl", '''
        value "b" {
          input = 1
        }
        moved {
          from = value.a
          to   = value.b
        }
        removed {
          from = value.f
          lifecycle {
            destroy = false
          }
        }
        value "c" {}
        import {
          to = value.c
          id = "adopted"
        }
        sleepy "slow" {
          delay = 600
        }
    ''')
    out = tmp_path / "out.txt"
    with open(out, "w") as f:
        p = subprocess.Popen([sys.executable, "-m", "engine.cli.main", "apply", "-auto-approve", "-no-color"],
                             cwd=w.path, stdout=f, stderr=subprocess.STDOUT, env=w.env)
    try:
        deadline = time.monotonic() + 120  # a guard against hanging, not a timing assertion
        while "sleepy.slow: Creating" not in out.read_text():
            assert p.poll() is None and time.monotonic() < deadline, out.read_text()
            time.sleep(0.05)
    finally:
        p.send_signal(signal.SIGKILL)
        p.wait()
    listing = w.run("state", "list")
    assert listing.code == 0, listing.text
    assert listing.out.split() == ["value.b", "value.c"], listing.text
    assert ids(w) == {"value.b": moved_id, "value.c": "adopted"}


def test_removed_module_forgets_every_instance_and_destroy_ignores_imports(wd):
    wd.write("mod/main.hcl", 'value "x" {\n  count = 2\n  input = count.index\n}\n')
    wd.write("main.hcl", 'module "sweep" {\n  source = "./mod"\n}\nvalue "keep" {}\n')
    wd.apply()
    wd.write("main.hcl", 'removed {\n  from = module.sweep\n  lifecycle {\n    destroy = false\n  }\n}\nvalue "keep" {}\nvalue "new" {}\nimport {\n  to = value.new\n  id = "n"\n}\n')
    r = wd.plan()
    assert "# module.sweep.value.x[0] will no longer be managed by trainform" in r.out
    assert "# module.sweep.value.x[1] will no longer be managed by trainform" in r.out
    assert "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy, 2 to forget." in r.out, r.out
    # a destroy plan destroys what is managed and imports nothing
    r = wd.run("plan", "-destroy", "-no-color")
    assert r.code == 0, r.text
    assert "# value.keep will be destroyed" in r.out and "value.new" not in r.out
    wd.apply()
    assert sorted(ids(wd)) == ["value.keep", "value.new"]


def test_moved_blocks_in_an_expanded_module_and_between_its_instances(wd):
    """Found by probing against terraform 1.11 (same moves, terraform_data): a moved
    block written inside a for_each/count module applies in each of its instances
    (trainform re-created them), and a move between two instance keys of one call
    (module.fe["y"] -> module.fe["z"]) is not "Moved object still exists" (trainform
    refused it because the call is still declared)."""
    wd.write("m/main.hcl", 'variable "label" {}\nvalue "r" {\n  input = var.label\n}\n')
    wd.write("main.hcl", 'module "fe" {\n  source   = "./m"\n  for_each = toset(["x", "y"])\n  label    = each.key\n}\n'
                         'module "old" {\n  source = "./m"\n  label  = "o"\n}\n')
    wd.apply()
    before = ids(wd)
    wd.write("m/main.hcl", 'variable "label" {}\nvalue "r2" {\n  input = var.label\n}\nmoved {\n  from = value.r\n  to   = value.r2\n}\n')
    wd.write("main.hcl", '''
        module "fe" {
          source   = "./m"
          for_each = toset(["x", "z"])
          label    = each.key == "z" ? "y" : each.key
        }
        moved {
          from = module.fe["y"]
          to   = module.fe["z"]
        }
        module "new" {
          source = "./m"
          count  = 1
          label  = "o"
        }
        moved {
          from = module.old
          to   = module.new[0]
        }
    ''')
    r = wd.plan()
    assert r.code == 0, r.text
    assert '# module.fe["x"].value.r has moved to module.fe["x"].value.r2' in r.out, r.out
    assert '# module.fe["y"].value.r has moved to module.fe["z"].value.r2' in r.out
    assert "# module.old.value.r has moved to module.new[0].value.r2" in r.out
    assert "Plan: 0 to add, 0 to change, 0 to destroy." in r.out
    wd.apply()
    after = ids(wd)
    assert after == {'module.fe["x"].value.r2': before['module.fe["x"].value.r'],
                     'module.fe["z"].value.r2': before['module.fe["y"].value.r'],
                     "module.new[0].value.r2": before["module.old.value.r"]}


def test_removed_and_moved_inside_an_expanded_module_are_checked(wd):
    """The "still exists" checks also see blocks written in a for_each module (they
    were skipped: the static path module.fe has no key and the call has for_each);
    terraform 1.11 refuses the removed one the same way."""
    wd.write("main.hcl", 'module "fe" {\n  source   = "./m"\n  for_each = toset(["x"])\n}\n')
    wd.write("m/main.hcl", '''
        value "keep" {
          input = 1
        }
        value "r" {
          input = 2
        }
        removed {
          from = value.r
          lifecycle {
            destroy = false
          }
        }
        moved {
          from = value.keep
          to   = value.r
        }
    ''')
    r = wd.run("validate", "-no-color")
    assert r.code == 1, r.text
    assert "Error: Removed resource still exists" in r.err and "module.fe.value.r was removed" in r.err, r.err
    assert "Error: Moved object still exists" in r.err and "m/main.hcl:2:1" in r.err


def test_import_blocks_with_for_each(wd):
    """Terraform 1.7+'s `import { for_each }` (checked with terraform 1.11 and
    terraform_data): a map or set binds each.key/each.value, a list binds the index;
    `to` takes the key from each; a key the resource does not have is "Configuration
    for import target does not exist". Found by probing: 'Unsupported argument'."""
    wd.write("main.hcl", '''
        locals {
          ids = { a = "id-1", b = "id-2" }
        }
        value "r" {
          for_each = local.ids
          input    = each.key
        }
        value "c" {
          count = 2
        }
        import {
          for_each = local.ids
          to       = value.r[each.key]
          id       = each.value
        }
        import {
          for_each = ["x", "y"]
          to       = value.c[each.key]
          id       = each.value
        }
    ''')
    r = wd.plan()
    assert "Plan: 4 to import, 0 to add, 2 to change, 0 to destroy." in r.out, r.text
    assert '# value.r["a"] will be updated in-place\n  # (imported from "id-1")' in r.out
    assert "# value.c[1] will be imported" in r.out
    wd.apply()
    assert ids(wd) == {'value.r["a"]': "id-1", 'value.r["b"]': "id-2", "value.c[0]": "x", "value.c[1]": "y"}
    assert wd.plan("-detailed-exitcode").code == 0
    wd.write("main.hcl", '''
        value "n" {
          for_each = toset(["a"])
        }
        import {
          for_each = toset(["a", "zz"])
          to       = value.n[each.key]
          id       = each.key
        }
    ''')
    r = wd.plan()
    assert r.code == 1 and "Error: Configuration for import target does not exist" in r.err and 'value.n["zz"]' in r.err, r.text
    assert "on main.hcl line 7, in import" in r.err


def test_move_to_an_instance_not_in_configuration_reads_as_terraform(wd):
    """Moving onto module.c[5] of a count = 1 call: the object moves, then is destroyed
    because module.c[5] is not in configuration; the lines come in terraform 1.11's
    order (found by probing: "(moved from)" came before "(because ...)")."""
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    wd.apply()
    wd.write("m/main.hcl", 'value "r" {\n  input = 1\n}\n')
    wd.write("main.hcl", 'module "c" {\n  source = "./m"\n  count  = 1\n}\nmoved {\n  from = value.a\n  to   = module.c[5].value.r\n}\n')
    r = wd.plan()
    assert ("  # module.c[5].value.r will be destroyed\n  # (because module.c[5] is not in configuration)\n"
            "  # (moved from value.a)\n") in r.out, r.out
    assert "Plan: 1 to add, 0 to change, 1 to destroy." in r.out


def test_import_command_into_a_for_each_module_instance(wd):
    """`trainform import 'module.c["a"].value.r' ID` works as `terraform import` does
    (found by probing: "Configuration for import target does not exist"); a key the call
    does not have is refused; the command's own targeting does not warn."""
    wd.write("m/main.hcl", 'value "r" {\n  input = 1\n}\n')
    wd.write("main.hcl", 'module "c" {\n  source   = "./m"\n  for_each = toset(["a", "b"])\n}\n')
    r = wd.run("import", "-no-color", 'module.c["a"].value.r', "my-id")
    assert r.code == 0 and "Import successful!" in r.out, r.text
    assert "Warning" not in r.text
    assert ids(wd) == {'module.c["a"].value.r': "my-id"}
    r = wd.run("import", "-no-color", 'module.c["z"].value.r', "other")
    assert r.code == 1 and 'no instance module.c["z"].value.r' in r.err, r.text


def test_state_mv_onto_itself_says_so(wd):
    """Found by probing: `state mv X X` said X "does not match anything in the current
    state" while X is there; terraform refuses it because the destination is taken."""
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    wd.apply()
    r = wd.run("state", "mv", "-no-color", "value.a", "value.a")
    assert r.code == 1 and "the destination is the source itself" in r.err and "does not match" not in r.err, r.text
    assert wd.resource("value.a") is not None
