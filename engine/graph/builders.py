"""Graph builders: a configuration or a plan becomes a graph through ordered steps.

As in Terraform's graph builders, each builder is a list of small steps that
each add one kind of node or edge, so the order of concerns is visible:

* :class:`PlanGraphBuilder` (plan, refresh, validate, ``graph -type=plan``):
  configuration nodes -> module call arguments -> references -> cycle check ->
  targeting.
* :class:`ApplyGraphBuilder` (apply and destroy, ``graph -type=apply|destroy``),
  from a Plan: configuration nodes (blocks become expand nodes) -> one node per
  planned change -> destroy nodes -> create-before-destroy edges -> destroy
  order (dependents first) -> cycle check.

Builders collect diagnostics; they never evaluate expressions.
"""

from __future__ import annotations

from typing import Callable

from engine.config.model import Config, Resource
from engine.diagnostics import Diagnostics
from engine.graph.dag import Graph, find_cycle
from engine.graph.nodes import (
    EXPAND, RES, DestroyNode, ExpandNode, InstanceNode, LocalNode, OutputNode, ResourceNode, VariableNode,
    label_of,
)

__all__ = ["PlanGraphBuilder", "ApplyGraphBuilder", "BuiltGraph"]


class BuiltGraph:
    """A builder's result: the graph, its diagnostics and what steps learned (targets)."""

    def __init__(self) -> None:
        self.graph = Graph()
        self.diags = Diagnostics()
        self.targets = None  # engine.plan.targeting.Targets when -target was given


# ---------------------------------------------------------------- plan graph

class PlanGraphBuilder:
    """The static graph of every module (one node per variable, local, output and block)."""

    def __init__(self, config: Config, schema: Callable[[str], object], targets: list[str] | None = None) -> None:
        self.config = config
        self.schema = schema  # type name -> ResourceSchema; raises ProviderUnavailable
        self.target_list = list(targets or [])

    def steps(self) -> list[Callable[[BuiltGraph], None]]:
        return [self.config_nodes, self.module_arguments, self.references, self.cycle_check, self.targeting]

    def build(self) -> BuiltGraph:
        b = BuiltGraph()
        for step in self.steps():
            step(b)
        return b

    def _modules(self):
        for cfg in self.config.walk():
            parent = self.config.descendant(cfg.path[:-1]) if cfg.path else None
            call = parent.module.module_calls.get(cfg.path[-1]) if parent is not None else None
            yield cfg, parent, call

    def config_nodes(self, b: BuiltGraph) -> None:
        """A node per object; resource bodies checked against their schemas."""
        from engine.evaluate import check_body
        from engine.providers.registry import ProviderUnavailable

        g, d = b.graph, b.diags
        for cfg, _, _ in self._modules():
            m, path = cfg.module, cfg.path
            for name in m.variables:
                g.add_node(VariableNode(path, name))
            for name in m.locals:
                g.add_node(LocalNode(path, name))
            for name in m.outputs:
                g.add_node(OutputNode(path, name))
            for key, res in m.resources.items():
                g.add_node(ResourceNode(path, key))
                try:
                    schema = self.schema(res.type)
                except ProviderUnavailable as e:
                    d.error("Provider unavailable", str(e), res.type_range, cfg.prefix + key)
                    continue
                check_body(res.body, schema.block, d, cfg.prefix + key)

    def module_arguments(self, b: BuiltGraph) -> None:
        """A module call's arguments feed the child's variables; checked against them."""
        from engine.config.loader import suggest
        from engine.evaluate import resolve_reference

        g, d = b.graph, b.diags
        for cfg, parent, call in self._modules():
            m, path = cfg.module, cfg.path
            for name, var in m.variables.items():
                node = VariableNode(path, name)
                if call is not None and name in call.args:
                    for ref in call.args[name].expr.references():
                        _check_special(ref, None, d)
                        for dep in resolve_reference(parent, ref, d):
                            g.add_edge(dep, node)
                for v in var.validations:
                    for ref in v.condition.references() + v.error_message.references():
                        if ref.root == "var" and ref.steps and ref.steps[0][1] == name:
                            continue
                        for dep in resolve_reference(cfg, ref, d):
                            g.add_edge(dep, node)
            if call is None:
                continue
            for aname, attr in call.args.items():
                if aname not in m.variables:
                    d.error("Unsupported argument", f'An argument named "{aname}" is not expected here: module "{call.name}" declares no such variable.{suggest(aname, m.variables)}', attr.name_range)
            for name, var in m.variables.items():
                if not var.has_default and name not in call.args:
                    d.error("Missing required argument", f'The argument "{name}" is required, but no definition was found (module "{call.name}" declares variable "{name}" without a default).', call.range)

    def references(self, b: BuiltGraph) -> None:
        """Edges from what an expression reads to where it is used (and depends_on)."""
        from engine.evaluate import references_of_body, resolve_reference

        g, d = b.graph, b.diags
        for cfg, parent, call in self._modules():
            m, path = cfg.module, cfg.path
            for name, loc in m.locals.items():
                node = LocalNode(path, name)
                for ref in loc.expr.references():
                    _check_special(ref, None, d)
                    for dep in resolve_reference(cfg, ref, d):
                        g.add_edge(dep, node)
            for name, out in m.outputs.items():
                node = OutputNode(path, name)
                for ref in out.expr.references() + out.depends_on:
                    _check_special(ref, None, d)
                    for dep in resolve_reference(cfg, ref, d):
                        g.add_edge(dep, node)
            for key, res in m.resources.items():
                node = ResourceNode(path, key)
                address = cfg.prefix + key
                refs = references_of_body(res.body) + list(res.depends_on) + list(res.lifecycle.replace_triggered_by)
                if res.count is not None:
                    refs += res.count.references()
                if res.for_each is not None:
                    refs += res.for_each.references()
                for ref in refs:
                    _check_special(ref, res, d)
                    for dep in resolve_reference(cfg, ref, d):
                        if dep == node:
                            if ref in res.depends_on or ref.root == res.type:
                                d.error("Self-referential block", f"Configuration for {address} may not refer to itself.", ref.range, address)
                            continue
                        g.add_edge(dep, node)
                if call is not None:
                    for ref in call.depends_on:
                        for dep in resolve_reference(parent, ref, d):
                            g.add_edge(dep, node)

    def cycle_check(self, b: BuiltGraph) -> None:
        cycle_error(b.graph, b.diags, "Cycle: ", "The configuration contains a dependency cycle (each refers to the next): {path}. Break the cycle by removing one of the references.")

    def targeting(self, b: BuiltGraph) -> None:
        """-target: the blocks the plan covers (targets and their dependencies)."""
        if self.target_list and not b.diags.has_errors:
            from engine.plan.targeting import Targets

            b.targets = Targets(b.graph, self.target_list)


def _check_special(ref, res: Resource | None, d: Diagnostics) -> None:
    """each/count/self used where they do not exist."""
    if ref.root == "each" and (res is None or res.for_each is None):
        d.error('Reference to "each" in context without for_each', 'The "each" object can be used only in "resource" blocks, and only when the "for_each" argument is set.', ref.range)
    elif ref.root == "count" and (res is None or res.count is None):
        d.error('Reference to "count" in non-counted context', 'The "count" object can only be used in "resource" blocks when the "count" argument is set.', ref.range)
    elif ref.root == "count" and not (ref.steps and ref.steps[0] == ("attr", "index")):
        d.error("Invalid count attribute", 'The "count" object has only the attribute "index".', ref.range)
    elif ref.root == "each" and not (ref.steps and ref.steps[0][0] == "attr" and ref.steps[0][1] in ("key", "value")):
        d.error("Invalid each attribute", 'The "each" object has only the attributes "key" and "value".', ref.range)
    elif ref.root == "self":
        d.error("Invalid \"self\" reference", 'The "self" object is not available in this context.', ref.range)


def cycle_error(g: Graph, d: Diagnostics, summary: str, detail: str) -> bool:
    """Report one cycle of ``g``, if any, naming its nodes in reference order."""
    cycle = find_cycle(g)
    if not cycle:
        return False
    refers = list(reversed(cycle))  # graph edges point dependency -> dependent
    names = ", ".join(label_of(n) for n in refers)
    d.error(summary + names, detail.format(path=" -> ".join(label_of(n) for n in refers + [refers[0]])))
    return True


# ---------------------------------------------------------------- apply graph

class ApplyGraphBuilder:
    """The graph that executes a plan: built from the plan's changes and the
    configuration graph the plan was made with (destroy plans included)."""

    def __init__(self, plan, config_graph: Graph) -> None:
        from engine.plan.model import Action

        self.plan = plan
        self.config_graph = config_graph
        self.changes = {c.address: c for c in plan.resource_changes}
        self.deleting = {a: c for a, c in self.changes.items()
                         if c.action in (Action.DELETE, Action.REPLACE_DELETE_FIRST, Action.REPLACE_CREATE_FIRST)}

    def steps(self) -> list[Callable[[BuiltGraph], None]]:
        return [self.config_nodes, self.change_nodes, self.destroy_nodes, self.create_before_destroy,
                self.destroy_order, self.cycle_check]

    def build(self) -> BuiltGraph:
        b = BuiltGraph()
        for step in self.steps():
            step(b)
        return b

    def config_nodes(self, b: BuiltGraph) -> None:
        """The configuration graph, with each resource block as an expand node."""
        g = b.graph

        def conv(n):
            return ExpandNode(n[1], n[2]) if n[0] == RES else n

        for n in self.config_graph.nodes:
            g.add_node(conv(n))
        for u, v in self.config_graph.edges:
            g.add_edge(conv(u), conv(v))

    def _block(self, c) -> ExpandNode:
        from engine.addrs import parse_module

        return ExpandNode(parse_module(c.module), f"{c.type}.{c.name}")

    def change_nodes(self, b: BuiltGraph) -> None:
        """A node per create/update/no-op, after what its block depends on, before its block."""
        from engine.plan.model import Action

        g = b.graph
        preds_of: dict = {}
        for c in self.plan.resource_changes:
            if c.action == Action.DELETE:
                continue
            blk = self._block(c)
            if blk not in preds_of:
                preds_of[blk] = list(g.predecessors(blk)) if blk in g else []
            n = InstanceNode(c.address)
            g.add_node(n)
            for p in preds_of[blk]:
                g.add_edge(p, n)
            g.add_edge(n, blk)

    def destroy_nodes(self, b: BuiltGraph) -> None:
        """A node per deletion; delete-then-create replacements delete first."""
        from engine.plan.model import Action

        g = b.graph
        for a, c in self.deleting.items():
            dn = DestroyNode(a)
            g.add_node(dn)
            if c.action == Action.REPLACE_DELETE_FIRST:
                g.add_edge(dn, InstanceNode(a))

    def create_before_destroy(self, b: BuiltGraph) -> None:
        """create_before_destroy: the new object first; the old one is deleted only
        after everything that used the block moved to the new one."""
        from engine.plan.model import Action

        g = b.graph
        for a, c in self.deleting.items():
            if c.action != Action.REPLACE_CREATE_FIRST:
                continue
            dn = DestroyNode(a)
            g.add_edge(InstanceNode(a), dn)
            blk = self._block(c)
            if blk in g:
                for succ in list(g.successors(blk)):
                    if succ[0] == EXPAND:
                        g.add_edge(succ, dn)

    def destroy_order(self, b: BuiltGraph) -> None:
        """Deletions run dependents first (the reverse of creation order)."""
        from engine.addrs import Resource, parse_module
        from engine.plan.model import Action

        g = b.graph
        block_of: dict[str, list[str]] = {}
        for a, c in self.deleting.items():
            block_of.setdefault(str(Resource(parse_module(c.module), c.type, c.name)), []).append(a)
        for a, c in self.deleting.items():
            for dep in c.dependencies:
                targets = block_of.get(dep, [])
                if dep in self.deleting and dep not in targets:
                    targets = targets + [dep]
                for target in targets:
                    if target != a and self.changes[target].action != Action.REPLACE_CREATE_FIRST:
                        if not g.has_path(DestroyNode(target), DestroyNode(a)):
                            g.add_edge(DestroyNode(a), DestroyNode(target))

    def cycle_check(self, b: BuiltGraph) -> None:
        cycle_error(b.graph, b.diags, "Cycle in apply graph: ", "The planned changes cannot be ordered ({path}); often create_before_destroy combined with a dependency that is destroyed first.")
