"""End-to-end engine behaviour through the real CLI, with the built-in value resource."""

import json
import os

import pytest

from engine.testing.harness import Workdir


@pytest.fixture
def wd(tmp_path):
    return Workdir(tmp_path / "w")


def test_version_and_chdir(tmp_path, wd):
    r = wd.run("--version")
    assert r.code == 0 and r.out.startswith("trainform v")
    wd.write("sub/main.hcl", 'value "a" {\n  input = 1\n}\n')
    r = wd.run("-chdir=sub", "plan", "-no-color")
    assert r.code == 0, r.text
    assert "value.a will be created" in r.out
    r = wd.run("-chdir=missing", "plan")
    assert r.code != 0 and "Invalid -chdir option" in r.text


def test_no_color_and_NO_COLOR(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    assert "\x1b[" not in wd.run("plan", "-no-color").out
    assert "\x1b[" not in wd.run("plan", env={"NO_COLOR": "1"}).out


def test_create_update_replace_delete_cycle(wd):
    wd.write("main.hcl", '''
        value "a" {
          input = "one"
        }
        value "b" {
          input            = value.a.output
          triggers_replace = value.a.id
        }
    ''')
    r = wd.apply()
    assert "Apply complete! Resources: 2 added, 0 changed, 0 destroyed." in r.out
    a_id = wd.resource("value.a")["attributes"]["id"]
    b_id = wd.resource("value.b")["attributes"]["id"]
    assert wd.resource("value.b")["dependencies"] == ["value.a"]
    wd.write("main.hcl", '''
        value "a" {
          input = "two"
        }
        value "b" {
          input            = value.a.output
          triggers_replace = value.a.id
        }
    ''')
    r = wd.plan()
    assert "value.a will be updated in-place" in r.out
    assert '~ input  = "one" -> "two"' in r.out or '~ input = "one" -> "two"' in r.out
    r = wd.apply()
    assert wd.resource("value.a")["attributes"]["id"] == a_id
    assert wd.resource("value.b")["attributes"]["input"] == "two"
    assert wd.resource("value.b")["attributes"]["id"] == b_id
    # -replace gives a a new id (unknown at plan time), which replaces b through triggers_replace
    r = wd.plan("-replace=value.a")
    # Terraform's header for -replace (found by probing: "must be replaced" + a reason line)
    assert "# value.a will be replaced, as requested\n" in r.out and "value.b must be replaced" in r.out
    assert "# (will be replaced, as requested)" not in r.out
    assert "triggers_replace changed" in r.out
    r = wd.apply("-replace=value.a")
    assert "Resources: 2 added, 0 changed, 2 destroyed" in r.out
    assert wd.resource("value.a")["attributes"]["id"] != a_id
    assert wd.resource("value.b")["attributes"]["id"] != b_id
    assert wd.resource("value.b")["attributes"]["triggers_replace"] == wd.resource("value.a")["attributes"]["id"]
    assert wd.plan("-detailed-exitcode").code == 0
    r = wd.run("destroy", "-auto-approve", "-no-color", check=True)
    assert "Destroy complete! Resources: 2 destroyed." in r.out
    assert wd.state()["resources"] == []


def test_unknown_values_flow_through_expressions(wd):
    wd.write("main.hcl", '''
        value "a" {
          input = "x"
        }
        value "b" {
          input = "id is ${value.a.id}"
        }
        output "b" {
          value = value.b.output
        }
    ''')
    r = wd.plan()
    assert "+ input  = (known after apply)" in r.out
    assert "+ b = (known after apply)" in r.out
    plan = wd.plan_json()
    b = [c for c in plan["resource_changes"] if c["address"] == "value.b"][0]
    assert ["input"] in b["change"]["after_unknown"]


def test_modules_count_for_each(wd):
    wd.write("mod/main.hcl", '''
        variable "prefix" {
          type = string
        }
        variable "n" {
          type    = number
          default = 2
        }
        value "item" {
          count = var.n
          input = "${var.prefix}-${count.index}"
        }
        output "names" {
          value = value.item[*].output
        }
    ''')
    wd.write("main.hcl", '''
        module "m" {
          source = "./mod"
          prefix = "p"
        }
        value "each" {
          for_each = toset(module.m.names)
          input    = upper(each.value)
        }
        output "names" {
          value = module.m.names
        }
    ''')
    r = wd.apply()
    assert "Resources: 4 added" in r.out
    addrs = [x["address"] for x in wd.state()["resources"]]
    assert addrs == ['module.m.value.item[0]', 'module.m.value.item[1]', 'value.each["p-0"]', 'value.each["p-1"]']
    assert wd.resource('value.each["p-1"]')["attributes"]["output"] == "P-1"
    out = json.loads(wd.run("output", "-json", check=True).out)
    assert out["names"]["value"] == ["p-0", "p-1"]
    assert wd.plan("-detailed-exitcode").code == 0


def test_for_each_unknown_is_a_diagnostic(wd):
    wd.write("main.hcl", '''
        value "a" {
          input = 1
        }
        value "b" {
          for_each = toset([value.a.id])
          input    = each.key
        }
    ''')
    r = wd.plan()
    assert r.code == 1
    assert "Invalid for_each argument" in r.err and "main.hcl" in r.err


def test_lifecycle(wd):
    wd.write("main.hcl", '''
        value "keep" {
          input = "a"
          lifecycle {
            prevent_destroy = true
          }
        }
        value "ign" {
          input = "a"
          lifecycle {
            ignore_changes = [input]
          }
        }
        value "cbd" {
          triggers_replace = "1"
          lifecycle {
            create_before_destroy = true
          }
        }
        value "trig" {
          input = "t"
          lifecycle {
            replace_triggered_by = [value.ign]
          }
        }
    ''')
    wd.apply()
    text = open(os.path.join(wd.path, "main.hcl")).read()
    wd.write("main.hcl", text.replace('input = "a"\n          lifecycle {\n            ignore_changes', 'input = "changed"\n          lifecycle {\n            ignore_changes').replace('triggers_replace = "1"', 'triggers_replace = "2"'))
    r = wd.plan()
    assert "value.ign" not in r.out
    assert "+/- create replacement and then destroy" in r.out
    plan = wd.plan_json()
    acts = {c["address"]: c["change"]["actions"] for c in plan["resource_changes"]}
    assert acts["value.cbd"] == ["create", "delete"]
    assert acts["value.ign"] == ["no-op"]
    wd.apply()
    r = wd.run("destroy", "-auto-approve", "-no-color")
    assert r.code == 1
    assert "Instance cannot be destroyed" in r.err and "value.keep" in r.err
    assert wd.resource("value.keep") is not None


def test_plan_file_apply_and_stale(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    wd.run("plan", "-out=tf.plan", check=True)
    r = wd.run("show", "-json", "tf.plan", check=True)
    assert json.loads(r.out)["resource_changes"][0]["change"]["actions"] == ["create"]
    wd.run("plan", "-out=second.plan", check=True)
    r = wd.run("apply", "-no-color", "tf.plan", check=True)
    assert "Apply complete! Resources: 1 added" in r.out
    r = wd.run("apply", "-no-color", "second.plan")
    assert r.code == 1 and "Saved plan is stale" in r.err


def test_target_plans_dependencies_and_single_instances(wd):
    wd.write("main.hcl", 'value "a" {\n  input = "x"\n}\nvalue "b" {\n  input = value.a.id\n}\nvalue "n" {\n  count = 3\n  input = count.index\n}\n')
    wd.apply("-target=value.b")
    assert sorted(r["address"] for r in wd.state()["resources"]) == ["value.a", "value.b"]
    wd.apply("-target=value.n[1]")
    assert sorted(r["address"] for r in wd.state()["resources"]) == ["value.a", "value.b", "value.n[1]"]


def test_target_and_refresh_only(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\nvalue "b" {\n  input = 2\n}\n')
    r = wd.apply("-target=value.a")
    assert "Resources: 1 added" in r.out
    assert wd.resource("value.b") is None
    wd.apply()
    r = wd.plan("-refresh-only", "-detailed-exitcode")
    assert r.code == 0
    r = wd.run("refresh", "-no-color", check=True)
    assert "0 added, 0 changed, 0 destroyed" in r.out


def test_apply_without_terminal_needs_auto_approve(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\n')
    r = wd.run("apply", "-no-color", input="yes\n")
    assert r.code == 1 and "-auto-approve" in r.err
    assert not os.path.exists(os.path.join(wd.path, "trainform.tfstate")) or wd.state()["resources"] == []


def test_sensitive_values_never_stored(wd):
    wd.write("main.hcl", '''
        variable "secret" {
          type      = string
          sensitive = true
        }
        value "a" {
          input = var.secret
        }
        output "s" {
          value     = value.a.output
          sensitive = true
        }
    ''')
    env = {"TRAINFORM_VAR_secret": "hunter2-very-secret"}
    r = wd.run("plan", "-no-color", env=env, check=True)
    assert "hunter2" not in r.text and "(sensitive value)" in r.out
    r = wd.run("apply", "-auto-approve", "-no-color", env=env, check=True)
    assert "hunter2" not in r.text
    raw = open(os.path.join(wd.path, "trainform.tfstate")).read()
    assert "hunter2" not in raw
    assert wd.run("plan", "-detailed-exitcode", env=env).code == 0
    r = wd.run("plan", "-no-color", env={"TRAINFORM_VAR_secret": "changed-secret"})
    assert "(sensitive value)" in r.out and "changed-secret" not in r.text
    assert "value.a will be updated in-place" in r.out
    r = wd.run("output", "-no-color", env=env, check=True)
    assert "s = <sensitive>" in r.out
    r = wd.run("output", "s", env=env, check=True)
    assert r.out.strip() == '"hunter2-very-secret"'
    r = wd.run("output", "-json", env=env, check=True)
    assert "hunter2" not in r.out


def test_failed_resource_stops_only_its_dependents(tmp_path):
    wd = Workdir(tmp_path / "w", env={"TRAINFORM_EXTRA_PROVIDERS": "sleepy=engine.testing.sleepy:SleepyProvider"})
    wd.write("main.hcl", '''
        sleepy "bad" {
          fail = true
        }
        sleepy "dependent" {
          input = sleepy.bad.id
        }
        sleepy "independent" {
          input = "ok"
        }
        sleepy "half" {
          fail_after_create = true
        }
    ''')
    r = wd.run("apply", "-auto-approve", "-no-color")
    assert r.code == 1
    assert "Sleepy failure" in r.err
    assert "sleepy.dependent" in r.err  # reported as skipped
    assert wd.resource("sleepy.independent") is not None
    assert wd.resource("sleepy.bad") is None
    assert wd.resource("sleepy.half")["status"] == "tainted"
    r = wd.plan()
    assert "sleepy.half is tainted, so must be replaced" in r.out


def test_state_commands(wd):
    wd.write("main.hcl", 'value "a" {\n  count = 2\n  input = count.index\n}\n')
    wd.apply()
    assert wd.run("state", "list", check=True).out.split() == ["value.a[0]", "value.a[1]"]
    r = wd.run("state", "show", "value.a[1]", check=True)
    assert "input" in r.out and "1" in r.out
    wd.run("state", "mv", "value.a[1]", "value.b", check=True)
    assert wd.run("state", "list", check=True).out.split() == ["value.a[0]", "value.b"]
    wd.run("state", "rm", "value.b", check=True)
    assert wd.run("state", "list", check=True).out.split() == ["value.a[0]"]
    pulled = json.loads(wd.run("state", "pull", check=True).out)
    assert pulled["serial"] >= 3 and pulled["lineage"]


def test_graph_dot(wd):
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\nvalue "b" {\n  input = value.a.output\n}\n')
    r = wd.run("graph", check=True)
    assert r.out.startswith('digraph')
    assert '"value.b" -> "value.a"' in r.out
    # apply graph of a fresh plan: an instance node per change, before its block's expand node
    r = wd.run("graph", "-type=apply", check=True)
    assert '"value.b" -> "value.a (expand)"' in r.out and '"value.a (expand)" -> "value.a"' in r.out
    assert "(destroy)" not in r.out
    wd.apply()
    # destroy graph: dependents are deleted first (value.a's deletion waits for value.b's)
    r = wd.run("graph", "-type=destroy", check=True)
    assert '"value.a (destroy)" -> "value.b (destroy)"' in r.out
    assert '"value.b (destroy)" -> "value.a (destroy)"' not in r.out
    # a replacement with create_before_destroy: the old object goes after the new one exists
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\nvalue "b" {\n  input = value.a.output\n  triggers_replace = 2\n  lifecycle {\n    create_before_destroy = true\n  }\n}\n')
    wd.run("plan", "-out=p", check=True)
    r = wd.run("graph", "-plan=p", check=True)
    assert '"value.b (destroy)" -> "value.b"' in r.out
    import shutil

    if shutil.which("dot"):
        wd.run("graph", "-o", "g.svg", check=True)
        assert open(os.path.join(wd.path, "g.svg")).read().lstrip().startswith("<?xml")


def test_cycle_is_reported_with_path(wd):
    wd.write("main.hcl", 'value "a" {\n  input = value.b.output\n}\nvalue "b" {\n  input = value.a.output\n}\n')
    r = wd.run("validate", "-no-color")
    assert r.code == 1
    assert "Cycle:" in r.err and "value.a" in r.err and "value.b" in r.err


def test_variables_sources_and_precedence(wd):
    wd.write("main.hcl", '''
        variable "a" {
          type = string
        }
        variable "n" {
          type = number
          validation {
            condition     = var.n > 0
            error_message = "n must be positive."
          }
        }
        variable "l" {
          type    = list(string)
          default = []
        }
        output "all" {
          value = "${var.a}/${var.n}/${join(",", var.l)}"
        }
    ''')
    wd.write("trainform.tfvars", 'a = "from-tfvars"\nn = 1\n')
    wd.write("x.auto.tfvars", 'n = 2\n')
    r = wd.apply(env={"TRAINFORM_VAR_a": "from-env"})
    assert 'all = "from-tfvars/2/"' in r.out
    r = wd.apply("-var", "a=cli", "-var", 'l=["p","q"]')
    assert 'all = "cli/2/p,q"' in r.out
    r = wd.run("plan", "-no-color", "-var", "n=-1")
    assert r.code == 1 and "n must be positive." in r.err
    r = wd.run("plan", "-no-color", "-var", "nope=1")
    assert r.code == 1 and "Value for undeclared variable" in r.err
    os.remove(os.path.join(wd.path, "trainform.tfvars"))
    r = wd.run("plan", "-no-color")
    assert r.code == 1 and "No value for required variable" in r.err
