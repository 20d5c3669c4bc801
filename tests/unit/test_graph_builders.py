"""Graph builders as data in -> graph out: the apply/destroy graph of hand-made plans."""

from engine.graph import Graph
from engine.graph.builders import ApplyGraphBuilder
from engine.graph.nodes import DestroyNode, ExpandNode, InstanceNode, ResourceNode, label_of
from engine.plan.model import Action, Plan, ResourceChange


def change(address, action, deps=()):
    t, n = address.split(".")
    return ResourceChange(address=address, type=t, name=n, action=action, dependencies=list(deps))


def config_graph(*edges):
    g = Graph()
    for u, v in edges:
        g.add_edge(ResourceNode((), u), ResourceNode((), v))
    return g


def build(changes, cg):
    return ApplyGraphBuilder(Plan(resource_changes=changes), cg).build()


def order(g, a, b) -> bool:
    """a must finish before b starts."""
    return g.has_path(a, b)


def test_creates_follow_references():
    b = build([change("value.a", Action.CREATE), change("value.b", Action.CREATE, ["value.a"])],
              config_graph(("value.a", "value.b")))
    g = b.graph
    assert not b.diags.has_errors
    assert order(g, InstanceNode("value.a"), ExpandNode((), "value.a"))
    assert order(g, ExpandNode((), "value.a"), InstanceNode("value.b"))
    assert not any(isinstance(n, DestroyNode) for n in g.nodes)


def test_destroy_runs_dependents_first():
    g = build([change("value.a", Action.DELETE), change("value.b", Action.DELETE, ["value.a"])], Graph()).graph
    assert order(g, DestroyNode("value.b"), DestroyNode("value.a"))
    assert not order(g, DestroyNode("value.a"), DestroyNode("value.b"))
    assert {label_of(n) for n in g.nodes} == {"value.a (destroy)", "value.b (destroy)"}


def test_replace_delete_first_and_create_before_destroy():
    cg = config_graph(("value.a", "value.b"))
    g = build([change("value.a", Action.REPLACE_DELETE_FIRST), change("value.b", Action.NOOP, ["value.a"])], cg).graph
    assert order(g, DestroyNode("value.a"), InstanceNode("value.a"))
    g = build([change("value.a", Action.REPLACE_CREATE_FIRST), change("value.b", Action.UPDATE, ["value.a"])], cg).graph
    assert order(g, InstanceNode("value.a"), DestroyNode("value.a"))
    # the old object goes only after its dependents moved to the new one
    assert order(g, InstanceNode("value.b"), DestroyNode("value.a"))


def test_destroy_order_never_closes_a_cycle():
    # a is replaced delete-first, b (which depends on a) create-first: the new b needs the new a,
    # which comes after the old a is gone; "old b before old a" would close a cycle, so it is left out
    cg = config_graph(("value.a", "value.b"))
    changes = [change("value.a", Action.REPLACE_DELETE_FIRST), change("value.b", Action.REPLACE_CREATE_FIRST, ["value.a"])]
    b = build(changes, cg)
    assert not b.diags.has_errors
    g = b.graph
    assert order(g, DestroyNode("value.a"), InstanceNode("value.a"))
    assert order(g, InstanceNode("value.a"), InstanceNode("value.b"))
    assert order(g, InstanceNode("value.b"), DestroyNode("value.b"))
    assert not order(g, DestroyNode("value.b"), DestroyNode("value.a"))


def test_cycle_is_a_diagnostic_naming_its_nodes():
    from engine.diagnostics import Diagnostics
    from engine.graph.builders import cycle_error

    g = Graph()
    g.add_edge(InstanceNode("value.a"), DestroyNode("value.b"))
    g.add_edge(DestroyNode("value.b"), InstanceNode("value.a"))
    d = Diagnostics()
    assert cycle_error(g, d, "Cycle in apply graph: ", "({path})")
    (diag,) = list(d)
    assert diag.summary.startswith("Cycle in apply graph: ") and "value.b (destroy)" in diag.summary


def test_module_instance_changes_attach_to_their_static_block():
    """Changes of module.m["k"] instances run inside module m's static expand node."""
    from engine.graph.nodes import ModuleExpandNode

    cg = Graph()
    cg.add_edge(ModuleExpandNode((), "m"), ResourceNode(("m",), "value.x"))
    cg.add_edge(ResourceNode(("m",), "value.x"), ResourceNode((), "value.top"))
    c = ResourceChange(address='module.m["k"].value.x', type="value", name="x", module='module.m["k"]', action=Action.CREATE)
    top = change("value.top", Action.CREATE, ["module.m.value.x"])
    g = build([c, top], cg).graph
    assert order(g, ModuleExpandNode((), "m"), InstanceNode('module.m["k"].value.x'))
    assert order(g, InstanceNode('module.m["k"].value.x'), ExpandNode(("m",), "value.x"))
    assert order(g, ExpandNode(("m",), "value.x"), InstanceNode("value.top"))
    assert label_of(ModuleExpandNode(("a",), "m")) == "module.a.module.m (expand)"
    # destroy: dependents (named by static block address) first
    d = ResourceChange(address='module.m["k"].value.x', type="value", name="x", module='module.m["k"]', action=Action.DELETE)
    g = build([d, change("value.top", Action.DELETE, ["module.m.value.x"])], Graph()).graph
    assert order(g, DestroyNode("value.top"), DestroyNode('module.m["k"].value.x'))
