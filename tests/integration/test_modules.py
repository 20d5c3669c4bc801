"""Module count/for_each (Terraform 1.11 semantics) and -target rules, through the
real CLI with the built-in value resource.

Each test states what Terraform does with the same configuration written with
terraform_data (checked against terraform 1.11.4): instance keys in addresses
and in the state's ``module`` string, each/count in the call's arguments,
outputs seen as a list (count) / map (for_each) of instance objects, nested
expansion, one instance removed -> only its resources destroyed, -target by
module instance, outputs of untargeted resources not evaluated, and a targeted
destroy taking its dependents along.
"""

from __future__ import annotations

import json

import pytest

from engine.testing.harness import Workdir

TRIAL = '''
variable "name" {
  type = string
}
variable "lr" {
  type = number
}
value "score" {
  input = { name = var.name, lr = var.lr, acc = 1 - var.lr }
}
module "step" {
  source = "./step"
  count  = 2
  label  = "${var.name}-${count.index}"
}
output "acc" {
  value = value.score.output.acc
}
output "steps" {
  value = module.step[*].label
}
'''

STEP = '''
variable "label" {
  type = string
}
value "s" {
  input = var.label
}
output "label" {
  value = value.s.output
}
'''

ROOT = '''
variable "trials" {
  type    = map(number)
  default = { a = 0.1, b = 0.3 }
}
module "trial" {
  source   = "./trial"
  for_each = var.trials
  name     = each.key
  lr       = each.value
}
module "copy" {
  source = "./trial"
  count  = 1
  name   = "copy${count.index}"
  lr     = 0.5
}
locals {
  accs = { for k, t in module.trial : k => t.acc }
}
output "accs" {
  value = local.accs
}
output "best" {
  value = [for k, t in module.trial : k if t.acc == max([for x in values(module.trial) : x.acc]...)][0]
}
output "steps_a" {
  value = module.trial["a"].steps
}
output "copy" {
  value = module.copy[0].acc
}
'''


@pytest.fixture
def wd(tmp_path):
    w = Workdir(tmp_path / "w")
    w.write("trial/main.hcl", TRIAL)
    w.write("trial/step/main.hcl", STEP)
    w.write("main.hcl", ROOT)
    return w


def _addresses(wd) -> list[str]:
    return sorted(r["address"] for r in wd.state()["resources"])


def _outputs(wd) -> dict:
    return {k: v["value"] for k, v in json.loads(wd.run("output", "-json", check=True).out).items()}


def test_for_each_and_count_on_modules(wd):
    r = wd.apply()
    assert "Apply complete! Resources: 9 added, 0 changed, 0 destroyed." in r.out, r.text
    assert _addresses(wd) == [
        'module.copy[0].module.step[0].value.s', 'module.copy[0].module.step[1].value.s', 'module.copy[0].value.score',
        'module.trial["a"].module.step[0].value.s', 'module.trial["a"].module.step[1].value.s', 'module.trial["a"].value.score',
        'module.trial["b"].module.step[0].value.s', 'module.trial["b"].module.step[1].value.s', 'module.trial["b"].value.score',
    ]
    # the state keeps Terraform's format: the module string carries the keys
    r0 = wd.resource('module.trial["a"].module.step[1].value.s')
    assert r0["module"] == 'module.trial["a"].module.step[1]' and r0["name"] == "s" and "index_key" not in r0 or r0.get("index_key") is None
    assert r0["attributes"]["output"] == "a-1"
    out = _outputs(wd)
    assert out["accs"] == {"a": 0.9, "b": 0.7}
    assert out["best"] == "a"
    assert out["steps_a"] == ["a-0", "a-1"]
    assert out["copy"] == 0.5
    assert wd.plan("-detailed-exitcode").code == 0
    # a destroy evaluates nothing that reads what it deletes (the local above)
    r = wd.run("destroy", "-auto-approve", "-no-color")
    assert "Destroy complete! Resources: 9 destroyed." in r.out, r.text
    assert wd.state()["resources"] == []


def test_removing_one_instance_destroys_only_its_resources(wd):
    wd.apply(check=True)
    r = wd.plan("-var", 'trials={a = 0.1}')
    assert "Plan: 0 to add, 0 to change, 3 to destroy." in r.out, r.text
    for a in ('module.trial["b"].value.score', 'module.trial["b"].module.step[0].value.s', 'module.trial["b"].module.step[1].value.s'):
        assert f"# {a} will be destroyed" in r.out
    assert '# (because module.trial["b"] is not in configuration)' in r.out
    r = wd.apply("-var", 'trials={a = 0.1}')
    assert "0 added, 0 changed, 3 destroyed" in r.out, r.text
    assert not any(a.startswith('module.trial["b"]') for a in _addresses(wd))
    assert _outputs(wd)["accs"] == {"a": 0.9}


def test_changing_one_key_updates_only_that_instance(wd):
    wd.apply(check=True)
    r = wd.plan("-var", 'trials={a = 0.1, b = 0.2}')
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in r.out, r.text
    assert '# module.trial["b"].value.score will be updated in-place' in r.out


def test_target_module_instance(wd):
    r = wd.apply("-target", 'module.trial["b"]')
    assert "Resources: 3 added, 0 changed, 0 destroyed." in r.out, r.text
    assert _addresses(wd) == ['module.trial["b"].module.step[0].value.s', 'module.trial["b"].module.step[1].value.s',
                              'module.trial["b"].value.score']
    # a target inside one instance of a nested module
    r = wd.apply("-target", 'module.trial["a"].module.step[1].value.s')
    assert "Resources: 1 added, 0 changed, 0 destroyed." in r.out, r.text
    assert 'module.trial["a"].module.step[1].value.s' in _addresses(wd)
    # as in Terraform, a module address without the key of an expanded call matches no instance
    r = wd.plan("-target", "module.trial.value.score")
    assert "No changes." in r.out, r.text


def test_destroy_one_module_instance(wd):
    wd.apply(check=True)
    r = wd.run("destroy", "-auto-approve", "-no-color", "-target", 'module.trial["a"]')
    assert "Destroy complete! Resources: 3 destroyed." in r.out, r.text
    left = _addresses(wd)
    assert not any(a.startswith('module.trial["a"]') for a in left) and len(left) == 6
    # a targeted destroy leaves the outputs alone
    assert _outputs(wd)["copy"] == 0.5


def test_unknown_module_keys_are_a_diagnostic(tmp_path):
    wd = Workdir(tmp_path / "u")
    wd.write("m/main.hcl", 'variable "n" {}\nvalue "x" {\n  input = var.n\n}\n')
    wd.write("main.hcl", '''
        value "k" {
          input = "x"
        }
        module "m" {
          source   = "./m"
          for_each = { (value.k.id) = 1 }
          n        = each.key
        }
    ''')
    r = wd.plan()
    assert r.code == 1 and "Traceback" not in r.text
    assert "Invalid for_each argument" in r.err and "main.hcl line 7" in r.err
    assert 'The "for_each" value depends on resource attributes that cannot be determined until apply' in r.err
    # the -target way out that the message suggests works
    wd.apply("-target", "value.k", check=True)
    r = wd.apply()
    assert "Resources: 1 added" in r.out, r.text
    assert [a for a in _addresses(wd) if a.startswith("module.")] == [f'module.m["{wd.resource("value.k")["attributes"]["id"]}"].value.x']


def test_module_keys_from_locals_and_validate(tmp_path):
    wd = Workdir(tmp_path / "l")
    wd.write("m/main.hcl", 'variable "i" {}\nvalue "x" {\n  input = var.i * 10\n}\noutput "v" {\n  value = value.x.output\n}\n')
    wd.write("main.hcl", '''
        locals {
          n = length(["p", "q", "r"])
        }
        module "m" {
          source = "./m"
          count  = local.n
          i      = count.index
        }
        output "vs" {
          value = module.m[*].v
        }
    ''')
    r = wd.run("validate", "-no-color")
    assert r.code == 0, r.text
    wd.apply(check=True)
    assert _outputs(wd)["vs"] == [0, 10, 20]
    assert wd.resource("module.m[2].value.x")["module"] == "module.m[2]"


def test_target_plan_skips_outputs_of_untargeted_resources(tmp_path):
    """Terraform's rule: an output is planned only when every resource it reads is
    targeted; here value.b does not exist yet, and evaluating its output failed."""
    wd = Workdir(tmp_path / "t")
    wd.write("main.hcl", '''
        value "a" {
          input = "a"
        }
        value "b" {
          input = value.a.output
        }
        value "c" {
          input = "c"
        }
        output "a" {
          value = value.a.output
        }
        output "b" {
          value = upper(value.b.output)
        }
        output "ac" {
          value = "${value.a.output}-${value.c.output}"
        }
    ''')
    r = wd.apply("-target", "value.a")
    assert "Resources: 1 added" in r.out and r.code == 0, r.text
    assert _outputs(wd) == {"a": "a"}
    wd.apply(check=True)
    assert _outputs(wd) == {"a": "a", "ac": "a-c", "b": "A"}
    # a later targeted apply keeps the outputs it does not evaluate
    r = wd.apply("-target", "value.c")
    assert r.code == 0, r.text
    assert _outputs(wd) == {"a": "a", "ac": "a-c", "b": "A"}


def test_destroy_target_includes_dependents(tmp_path):
    wd = Workdir(tmp_path / "d")
    wd.write("main.hcl", '''
        value "a" {
          input = "a"
        }
        value "b" {
          input = value.a.output
        }
        value "c" {
          input = "c"
        }
    ''')
    wd.apply(check=True)
    r = wd.plan("-destroy", "-target", "value.a")
    assert "# value.a will be destroyed" in r.out and "# value.b will be destroyed" in r.out, r.text
    assert "value.c will be" not in r.out
    assert "Plan: 0 to add, 0 to change, 2 to destroy." in r.out
    r = wd.run("destroy", "-auto-approve", "-no-color", "-target", "value.a")
    assert "Destroy complete! Resources: 2 destroyed." in r.out, r.text
    assert _addresses(wd) == ["value.c"]


def test_console_and_validate_see_module_instances(wd):
    assert wd.run("validate", "-no-color").code == 0
    wd.apply(check=True)
    r = wd.run("console", input='module.trial["b"].steps\nmodule.copy[0].acc\n')
    assert '"b-0"' in r.out and '"b-1"' in r.out and "0.5" in r.out, r.text
    r = wd.run("state", "show", "-no-color", 'module.trial["a"].module.step[0].value.s')
    assert r.code == 0 and '"a-0"' in r.out, r.text


def test_moved_into_module_instances_and_removed(tmp_path):
    """Terraform's way to add for_each to a module call without re-creating its
    objects: moved { from = module.m, to = module.m["a"] }; then removed {} forgets
    every instance of the call."""
    wd = Workdir(tmp_path / "mv")
    wd.write("m/main.hcl", 'variable "n" {}\nvalue "x" {\n  input = var.n\n}\n')
    wd.write("main.hcl", 'module "m" {\n  source = "./m"\n  n      = "a"\n}\n')
    wd.apply(check=True)
    old_id = wd.resource("module.m.value.x")["attributes"]["id"]
    wd.write("main.hcl", '''
        module "m" {
          source   = "./m"
          for_each = toset(["a", "b"])
          n        = each.key
        }
        moved {
          from = module.m
          to   = module.m["a"]
        }
    ''')
    r = wd.plan()
    assert '# module.m.value.x has moved to module.m["a"].value.x' in r.out, r.text
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in r.out
    wd.apply(check=True)
    assert wd.resource('module.m["a"].value.x')["attributes"]["id"] == old_id
    assert wd.resource('module.m["a"].value.x')["module"] == 'module.m["a"]'
    # removed forgets every instance of the call (removed names no module keys)
    wd.write("main.hcl", '''
        removed {
          from = module.m
          lifecycle {
            destroy = false
          }
        }
    ''')
    r = wd.apply()
    assert "0 destroyed" in r.out and r.code == 0, r.text
    assert wd.state()["resources"] == []


def test_null_outputs_are_not_recorded(tmp_path):
    """As Terraform: an output whose value is null (a conditional module that is
    off) is not planned, not shown, not in state nor `output -json`; one that
    becomes null is deleted (`- o = "x" -> null`). Found by probing against
    terraform 1.11 (trainform recorded and printed `maybe = null`)."""
    wd = Workdir(tmp_path / "n")
    wd.write("m/main.hcl", 'variable "label" {}\nvalue "r" {\n  input = var.label\n}\noutput "out" {\n  value = value.r.output\n}\n')
    wd.write("main.hcl", '''
        variable "on" {
          default = false
        }
        module "maybe" {
          source = "./m"
          count  = var.on ? 1 : 0
          label  = "maybe"
        }
        output "maybe" {
          value = one(module.maybe[*].out)
        }
        output "other" {
          value = "x"
        }
    ''')
    r = wd.apply()
    assert "maybe" not in r.out, r.out
    assert "maybe" not in _outputs(wd) and "maybe" not in wd.state()["outputs"]
    wd.apply("-var", "on=true")
    assert _outputs(wd)["maybe"] == "maybe"
    r = wd.plan("-var", "on=false")
    assert '- maybe = "maybe" -> null' in r.out, r.out
    wd.apply("-var", "on=false")
    assert _outputs(wd) == {"other": "x"}
    assert wd.plan("-detailed-exitcode").code == 0


def test_plan_and_state_list_order_is_terraforms(tmp_path):
    """Plan text and `state list` in Terraform 1.11's order (checked with
    terraform_data): root resources first, then modules by depth, count indexes by
    number. Found by probing: modules came before the root, [10] before [2]."""
    wd = Workdir(tmp_path / "o")
    wd.write("m/main.hcl", 'value "r" {\n  input = 1\n}\n')
    wd.write("main.hcl", '''
        value "z" {
          input = 1
        }
        value "a" {
          count = 11
          input = count.index
        }
        module "m" {
          source = "./m"
          count  = 11
        }
    ''')
    expected = ([f"value.a[{i}]" for i in range(11)] + ["value.z"] + [f"module.m[{i}].value.r" for i in range(11)])
    r = wd.plan()
    assert [line.split()[1] for line in r.out.splitlines() if line.startswith("  # ")] == expected, r.out
    wd.apply()
    assert wd.run("state", "list", check=True).out.split() == expected


def test_targeting_warns_as_terraform(tmp_path):
    """A -target plan says it is partial ("Resource targeting is in effect") and a
    targeted apply says its changes may be incomplete, as terraform 1.11 does (found
    by probing: trainform said nothing)."""
    wd = Workdir(tmp_path / "t")
    wd.write("main.hcl", 'value "a" {\n  input = 1\n}\nvalue "b" {\n  input = 2\n}\n')
    r = wd.plan("-target", "value.a")
    assert "Warning: Resource targeting is in effect" in r.err and "Plan: 1 to add" in r.out, r.text
    r = wd.apply("-target", "value.a")
    assert "Warning: Applied changes may be incomplete" in r.err and "    trainform plan" in r.err, r.text
    r = wd.apply()
    assert "Warning" not in r.text, r.text


def test_module_output_of_a_secret_needs_no_sensitive_flag_but_stays_secret(tmp_path):
    """As terraform 1.11: only root outputs must say `sensitive = true`; a module
    output passing a secret up was refused (found by probing). The secret keeps its
    mark: a root output of it is still refused, and a resource shows/stores it masked."""
    wd = Workdir(tmp_path / "s")
    wd.write("m/main.hcl", 'variable "s" {\n  default   = "hunter2"\n  sensitive = true\n}\noutput "o" {\n  value = var.s\n}\n')
    main = 'module "c" {\n  source = "./m"\n  count  = 1\n}\nvalue "v" {\n  input = module.c[0].o\n}\n'
    wd.write("main.hcl", main + 'output "o" {\n  value = module.c[0].o\n}\n')
    r = wd.plan()
    assert r.code == 1 and "Error: Output refers to sensitive values" in r.err and "on main.hcl line 9" in r.err, r.text
    wd.write("main.hcl", main)
    r = wd.apply()
    assert "input  = (sensitive value)" in r.out and "hunter2" not in r.text, r.text
    with open(f"{wd.path}/trainform.tfstate") as f:
        assert "hunter2" not in f.read()


def test_module_count_from_length_of_a_for_each_resource(tmp_path):
    """`count = length(value.k)` and `for_each = value.k` over a for_each resource not
    yet created plan, as in terraform 1.11 (the keys are known, the ids are not);
    found by probing: "Invalid count argument"."""
    wd = Workdir(tmp_path / "l")
    wd.write("m/main.hcl", 'variable "label" {}\nvalue "r" {\n  input = var.label\n}\n')
    wd.write("main.hcl", '''
        value "k" {
          for_each = toset(["a", "b"])
          input    = each.key
        }
        module "n" {
          source = "./m"
          count  = length(value.k)
          label  = "n${count.index}"
        }
        module "m" {
          source   = "./m"
          for_each = toset(keys(value.k))
          label    = value.k[each.key].id
        }
        module "o" {
          source   = "./m"
          for_each = merge({ a = "1" }, { b = value.k["a"].id })
          label    = each.value
        }
        module "p" {
          source = "./m"
          count  = length(concat(["a"], [value.k["a"].id]))
          label  = "p"
        }
    ''')
    r = wd.apply()
    assert "Resources: 10 added" in r.out, r.text
    assert 'module.m["b"].value.r' in _addresses(wd) and "module.n[1].value.r" in _addresses(wd)


def test_output_json_has_terraforms_types(wd):
    """`output -json` gives each output's type as terraform 1.11 does (checked with
    terraform_data): module instances of a count call are a tuple, of a for_each call
    an object; found by probing: trainform printed no type."""
    wd.apply()
    out = json.loads(wd.run("output", "-json", check=True).out)
    assert out["accs"]["type"] == ["object", {"a": "number", "b": "number"}]
    assert out["best"]["type"] == "string"
    assert out["steps_a"]["type"] == ["tuple", ["string", "string"]]
    wd.write("main.hcl", ROOT + '''
        output "all" {
          value = module.copy
        }
        output "typed" {
          value = tolist(["x"])
        }
        output "secret" {
          value     = { k = "v" }
          sensitive = true
        }
    ''')
    wd.apply()
    out = json.loads(wd.run("output", "-json", check=True).out)
    assert out["all"]["type"] == ["tuple", [["object", {"acc": "number", "steps": ["tuple", ["string", "string"]]}]]]
    assert out["typed"]["type"] == ["list", "string"]
    assert out["secret"] == {"sensitive": True, "value": None}  # not even its keys


def test_plan_json_has_terraforms_module_address_and_index(wd):
    """`plan -json` resource changes carry terraform's module_address/index/mode (found
    by probing `show -json` side by side: jq filters on them matched nothing)."""
    changes = {c["address"]: c for c in wd.plan_json()["resource_changes"]}
    c = changes['module.trial["a"].module.step[1].value.s']
    assert c["module_address"] == 'module.trial["a"].module.step[1]' and c["mode"] == "managed" and "index" not in c
    assert changes["module.copy[0].value.score"]["module_address"] == "module.copy[0]"


def test_changed_map_output_is_shown_key_by_key(tmp_path):
    """Changes to Outputs shows a changed object output key by key, as terraform 1.11
    (found by probing: the whole value was printed before and after)."""
    wd = Workdir(tmp_path / "o")
    wd.write("main.hcl", 'variable "v" {\n  default = "x"\n}\noutput "o" {\n  value = { a = var.v, b = "same", l = [1, 2] }\n}\n')
    wd.apply()
    r = wd.plan("-var", "v=y")
    assert '  ~ o = {\n      ~ a = "x" -> "y"\n        # (2 unchanged attributes hidden)\n    }\n' in r.out, r.out
