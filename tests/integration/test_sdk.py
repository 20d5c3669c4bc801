"""The provider SDK: a third-party provider written against engine.providers only,
providers created per operation, state upgrade, and plan/apply driven in-process."""

import ast
import json
import os
import pathlib

import pytest

from engine.testing.harness import Workdir

REPO = pathlib.Path(__file__).resolve().parents[2]
LOCALFILE = "local_file=tests.thirdparty.trainform_localfile:LocalFileProvider"


def _engine_imports(path: pathlib.Path) -> set[str]:
    """Modules under engine/ or providers/ that a file imports (at any depth)."""
    out = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return {m for m in out if m.split(".")[0] in ("engine", "providers")}


def test_third_party_provider_imports_only_the_public_surface():
    files = list((REPO / "tests" / "thirdparty").rglob("*.py"))
    assert files
    for f in files:
        assert _engine_imports(f) <= {"engine.providers"}, f


def test_builtin_providers_import_only_the_sdk_from_the_engine():
    for f in (REPO / "providers").rglob("*.py"):
        bad = {m for m in _engine_imports(f) if m.startswith("engine") and m not in ("engine.providers", "engine.providers.cli")}
        assert not bad, f"{f.relative_to(REPO)} imports engine internals: {sorted(bad)}"


@pytest.fixture
def wd(tmp_path):
    pythonpath = os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")]))
    return Workdir(tmp_path / "w", env={"NO_COLOR": "1", "TRAINFORM_EXTRA_PROVIDERS": LOCALFILE, "PYTHONPATH": pythonpath})


def test_provider_packages_contribute_cli_commands(wd):
    """runs and logs come from the run provider package (entry points), listed in --help."""
    from engine.providers.registry import provider_commands

    assert provider_commands()["runs"][0] == "providers.run.cli:runs_cmd"
    r = wd.run("--help", check=True)
    assert "runs " in r.out and "logs " in r.out
    r = wd.run("runs", "-no-color")
    assert r.code == 0, r.text


def test_third_party_provider_lifecycle(wd):
    wd.write("main.hcl", 'local_file "f" {\n  path    = "a.txt"\n  content = "one"\n}\n')
    assert "1 added" in wd.apply().out
    assert open(os.path.join(wd.path, "a.txt")).read() == "one"
    assert "No changes." in wd.plan().out
    wd.write("main.hcl", 'local_file "f" {\n  path    = "a.txt"\n  content = "two"\n}\n')
    r = wd.plan()
    assert "local_file.f will be updated in-place" in r.out and "content changed" in r.out
    wd.apply()
    with open(os.path.join(wd.path, "a.txt"), "w") as f:
        f.write("drifted")
    assert "local_file.f will be updated in-place" in wd.plan().out
    wd.apply()
    assert open(os.path.join(wd.path, "a.txt")).read() == "two"
    wd.write("main.hcl", 'local_file "f" {\n  path    = "/abs.txt"\n  content = "two"\n}\n')
    r = wd.plan()
    assert r.code == 1 and "path must be relative" in r.err
    wd.write("main.hcl", "")
    wd.apply()
    assert not os.path.exists(os.path.join(wd.path, "a.txt"))


def test_state_written_under_an_older_schema_is_upgraded(wd):
    wd.write("main.hcl", 'local_file "f" {\n  path    = "a.txt"\n  content = "one"\n}\n')
    wd.apply()
    state = wd.state()
    attrs = state["resources"][0]["attributes"]
    attrs["text"] = attrs.pop("content")
    state["resources"][0]["schema_version"] = 1
    with open(os.path.join(wd.path, "trainform.tfstate"), "w") as f:
        json.dump(state, f)
    assert "No changes." in wd.plan().out  # read/plan see the upgraded attributes
    wd.write("main.hcl", 'local_file "f" {\n  path    = "a.txt"\n  content = "two"\n}\n')
    wd.apply()
    r = wd.resource("local_file.f")
    assert r["schema_version"] == 2 and r["attributes"]["content"] == "two" and "text" not in r["attributes"]


def test_providers_are_made_per_operation(tmp_path, monkeypatch):
    from engine.config.loader import load_config
    from engine.plan.model import PlanOptions
    from engine.session import Session
    from engine.state import State

    monkeypatch.chdir(tmp_path)
    (tmp_path / "main.hcl").write_text('value "a" {\n  input = 1\n}\n')
    config, _ = load_config(".")
    s1 = Session(config, {}, State.new(), PlanOptions())
    s2 = Session(config, {}, State.new(), PlanOptions())
    assert s1.provider("value") is s1.provider("value")
    assert s1.provider("value") is not s2.provider("value")


def test_plan_and_apply_in_process(tmp_path, monkeypatch):
    from engine import operations
    from engine.plan.model import PlanOptions

    monkeypatch.chdir(tmp_path)
    (tmp_path / "main.hcl").write_text('value "a" {\n  input = "x"\n}\nvalue "b" {\n  input = value.a.output\n}\noutput "b" {\n  value = value.b.output\n}\n')
    plan, diags = operations.plan(PlanOptions())
    assert not diags.has_errors
    assert [(c.address, c.action.value) for c in plan.resource_changes] == [("value.a", "create"), ("value.b", "create")]
    assert plan.config_files == {"main.hcl": (tmp_path / "main.hcl").read_text()}
    # through a file and back, as `plan -out` + `apply FILE` do
    operations.write_plan_file("p", plan)
    result = operations.apply(operations.read_plan_file("p"))
    assert (result.added, result.failed) == (2, [])
    state = json.loads((tmp_path / "trainform.tfstate").read_text())
    assert state["outputs"]["b"]["value"] == "x"
    with operations.Operation() as op:
        plan, _ = op.plan(PlanOptions())
        assert not plan.has_changes
        plan, _ = op.plan(PlanOptions(destroy=True))
        result, _ = op.apply(plan)
    assert result.destroyed == 2


def test_every_name_providers_import_from_the_sdk_exists():
    import engine.providers as sdk

    for f in (REPO / "providers").rglob("*.py"):
        for node in ast.walk(ast.parse(f.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module == "engine.providers":
                for a in node.names:
                    assert hasattr(sdk, a.name), f"{f.relative_to(REPO)} imports {a.name} from engine.providers"


def test_read_only_queries_in_process(tmp_path, monkeypatch):
    """validate, the console's scope, a sensitive output's value and the configuration
    graph are engine operations too (engine.queries): no CLI needed, nothing written."""
    from engine import operations, queries
    from engine.config.expr import evaluate
    from engine.config.parser import parse_expression
    from engine.config.variables import collect
    from engine.graph.nodes import label_of
    from engine.plan.model import PlanOptions

    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("TRAINFORM_VAR_pw", "hunter2-secret")
    (tmp_path / "main.hcl").write_text(
        'variable "pw" {\n  sensitive = true\n}\nvalue "a" {\n  input = "x"\n}\n'
        'output "pw" {\n  value     = "${var.pw}-${value.a.output}"\n  sensitive = true\n}\n')
    config, diags = queries.validate()
    assert config is not None and not diags.has_errors
    assert sorted(label_of(n) for n in queries.configuration_graph().nodes if "value.a" in label_of(n))
    with operations.Operation() as op:
        plan, _ = op.plan(PlanOptions())
        op.apply(plan)
    from engine.state import get_backend

    state = get_backend(None, str(tmp_path)).read()
    stored = state.outputs["pw"]["value"]
    assert "hunter2" not in str(stored)  # state keeps only a digest
    inputs, _ = collect(config.module, [])
    assert queries.sensitive_output_value(config, inputs, state, "pw") == "hunter2-secret-x"
    monkeypatch.setenv("TRAINFORM_VAR_pw", "another")
    inputs, _ = collect(config.module, [])
    with pytest.raises(operations.OperationError) as e:
        queries.sensitive_output_value(config, inputs, state, "pw")
    assert "no longer matches" in str(e.value.diagnostics[0].detail)
    scope = queries.evaluation_scope(config, inputs, state)
    expr, _ = parse_expression("upper(value.a.output)", filename="<t>")
    assert evaluate(expr, scope.ctx())[0] == "X"
    (tmp_path / "main.hcl").write_text('value "a" {\n  input = nope()\n}\n')
    _, diags = queries.validate()
    assert diags[0].summary == "Call to unknown function" and diags[0].range.start.line == 2
