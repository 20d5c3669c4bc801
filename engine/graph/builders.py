"""Graph builders: a configuration or a plan becomes a graph through ordered steps.

As in Terraform's graph builders, each builder is a list of small steps that
each add one kind of node or edge, so the order of concerns is visible:

* :class:`PlanGraphBuilder` (plan, refresh, validate, ``graph -type=plan``):
  configuration nodes -> module call arguments -> module expansion ->
  references -> cycle check -> targeting.
* :class:`ApplyGraphBuilder` (apply and destroy, ``graph -type=apply|destroy``),
  from a Plan: configuration nodes (blocks become expand nodes) -> one node per
  planned change -> destroy nodes -> create-before-destroy edges -> destroy
  order (dependents first) -> cycle check.

Builders collect diagnostics; they never evaluate expressions.
"""

from __future__ import annotations

from typing import Callable

from engine.config.model import Config, ModuleCall, Resource
from engine.diagnostics import Diagnostics
from engine.graph.dag import Graph, find_cycle
from engine.graph.nodes import (
    EXPAND, MODULE, RES, DestroyNode, ExpandNode, InstanceNode, LocalNode, ModuleExpandNode, OutputNode, ResourceNode,
    VariableNode, label_of,
)

__all__ = ["PlanGraphBuilder", "ApplyGraphBuilder", "BuiltGraph"]


class BuiltGraph:
    """A builder's result: the graph, its diagnostics and what steps learned (targets)."""

    def __init__(self) -> None:
        self.graph = Graph()
        self.diags = Diagnostics()
        self.targets = None  # engine.plan.targeting.Targets when -target was given
        self.ref_ranges: dict = {}  # (dependency, dependent) -> range of the reference that made the edge


# ---------------------------------------------------------------- plan graph

class PlanGraphBuilder:
    """The static graph of every module (one node per variable, local, output and block)."""

    def __init__(self, config: Config, schema: Callable[[str], object], targets: list[str] | None = None,
                 destroy: bool = False) -> None:
        self.config = config
        self.schema = schema  # type name -> ResourceSchema; raises ProviderUnavailable
        self.target_list = list(targets or [])
        self.destroy = destroy  # a destroy plan's targets take their dependents along

    def steps(self) -> list[Callable[[BuiltGraph], None]]:
        return [self.config_nodes, self.module_arguments, self.module_expansion, self.references, self.import_references,
                self.cycle_check,
                self.targeting]

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
        for cfg, _, call in self._modules():
            m, path = cfg.module, cfg.path
            if call is not None and (call.count is not None or call.for_each is not None):
                g.add_node(ModuleExpandNode(path[:-1], path[-1]))
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
                        _check_special(ref, call, d)
                        for dep in resolve_reference(parent, ref, d):
                            g.add_edge(dep, node)
                            b.ref_ranges.setdefault((dep, node), ref.range)
                for v in var.validations:
                    for ref in v.condition.references() + v.error_message.references():
                        if ref.root == "var" and ref.steps and ref.steps[0][1] == name:
                            continue
                        for dep in resolve_reference(cfg, ref, d):
                            g.add_edge(dep, node)
                            b.ref_ranges.setdefault((dep, node), ref.range)
            if call is None:
                continue
            for aname, attr in call.args.items():
                if aname not in m.variables:
                    d.error("Unsupported argument", f'An argument named "{aname}" is not expected here: module "{call.name}" declares no such variable.{suggest(aname, m.variables)}', attr.name_range)
            for name, var in m.variables.items():
                if not var.has_default and name not in call.args:
                    d.error("Missing required argument", f'The argument "{name}" is required, but no definition was found (module "{call.name}" declares variable "{name}" without a default).', call.range)

    def module_expansion(self, b: BuiltGraph) -> None:
        """A call with count/for_each: its expand node reads the keys' references in
        the caller and runs before every node of the called module (and below)."""
        from engine.evaluate import resolve_reference

        g, d = b.graph, b.diags
        for cfg, parent, call in self._modules():
            if call is None or (call.count is None and call.for_each is None):
                continue
            node = ModuleExpandNode(cfg.path[:-1], call.name)
            keys = call.count or call.for_each
            for ref in keys.references():
                _check_special(ref, None, d)  # each/count do not exist yet here
                for dep in resolve_reference(parent, ref, d):
                    g.add_edge(dep, node)
                    b.ref_ranges.setdefault((dep, node), ref.range)
            for n in list(g.nodes):
                if n != node and len(n[1]) >= len(cfg.path) and n[1][:len(cfg.path)] == cfg.path and n[0] != EXPAND:
                    g.add_edge(node, n)
                    # a cycle through the expansion names where the keys are (found by probing:
                    # a cycle through a for_each module had no file:line at all)
                    b.ref_ranges.setdefault((node, n), keys.range)

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
                        b.ref_ranges.setdefault((dep, node), ref.range)
            for name, out in m.outputs.items():
                node = OutputNode(path, name)
                for ref in out.expr.references() + out.depends_on:
                    _check_special(ref, None, d)
                    for dep in resolve_reference(cfg, ref, d):
                        g.add_edge(dep, node)
                        b.ref_ranges.setdefault((dep, node), ref.range)
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
                        b.ref_ranges.setdefault((dep, node), ref.range)
                if call is not None:
                    for ref in call.depends_on:
                        for dep in resolve_reference(parent, ref, d):
                            g.add_edge(dep, node)

    def import_references(self, b: BuiltGraph) -> None:
        """An import block's id is evaluated when its target is planned: after what it reads."""
        from engine.evaluate import resolve_reference

        for imp in self.config.module.imports:
            node = ResourceNode(imp.to.module, f"{imp.to.type}.{imp.to.name}")
            if node not in b.graph:
                continue
            exprs = [imp.id] + [e for e in (imp.for_each, imp.key) if e is not None]
            for ref in (r for e in exprs for r in e.references()):
                if imp.for_each is not None and ref.root == "each":
                    continue  # bound per element of the import's for_each
                _check_special(ref, None, b.diags)
                for dep in resolve_reference(self.config, ref, b.diags):
                    if dep != node:
                        b.graph.add_edge(dep, node)

    def cycle_check(self, b: BuiltGraph) -> None:
        cycle_error(b.graph, b.diags, "Cycle: ", "The configuration contains a dependency cycle (each refers to the next): {path}. Break the cycle by removing one of the references.",
                    b.ref_ranges)

    def targeting(self, b: BuiltGraph) -> None:
        """-target: the blocks the plan covers (targets and their dependencies)."""
        if self.target_list and not b.diags.has_errors:
            from engine.plan.targeting import Targets

            b.targets = Targets(b.graph, self.target_list, self.destroy)


def _check_special(ref, res: Resource | ModuleCall | None, d: Diagnostics) -> None:
    """each/count/self used where they do not exist (``res``: the resource or module call)."""
    if ref.root == "each" and (res is None or res.for_each is None):
        d.error('Reference to "each" in context without for_each', 'The "each" object can be used only in "module" or "resource" blocks, and only when the "for_each" argument is set.', ref.range)
    elif ref.root == "count" and (res is None or res.count is None):
        d.error('Reference to "count" in non-counted context', 'The "count" object can only be used in "module" and "resource" blocks, and only when the "count" argument is set.', ref.range)
    elif ref.root == "count" and not (ref.steps and ref.steps[0] == ("attr", "index")):
        d.error("Invalid count attribute", 'The "count" object has only the attribute "index".', ref.range)
    elif ref.root == "each" and not (ref.steps and ref.steps[0][0] == "attr" and ref.steps[0][1] in ("key", "value")):
        d.error("Invalid each attribute", 'The "each" object has only the attributes "key" and "value".', ref.range)
    elif ref.root == "self":
        d.error("Invalid \"self\" reference", 'The "self" object is not available in this context.', ref.range)


def cycle_error(g: Graph, d: Diagnostics, summary: str, detail: str, ref_ranges: dict | None = None) -> bool:
    """Report one cycle of ``g``, if any, naming its nodes in reference order and,
    where the references are known (configuration graphs), each one's file:line:col;
    the diagnostic points at the first of them."""
    cycle = find_cycle(g)
    if not cycle:
        return False
    refers = list(reversed(cycle))  # graph edges point dependency -> dependent
    names = ", ".join(label_of(n) for n in refers)
    text = detail.format(path=" -> ".join(label_of(n) for n in refers + [refers[0]]))
    where = []
    for i, n in enumerate(refers):
        nxt = refers[(i + 1) % len(refers)]
        rng = (ref_ranges or {}).get((nxt, n))
        if rng is not None:
            where.append((n, nxt, rng))
    if where and len(where) == len(refers):
        lines = "\n".join(
            f"  {label_of(n)} is in {label_of(nxt)[:-len(' (expand)')]}, whose instances come from its count/for_each at {rng}"
            if nxt[0] == MODULE and n[0] != MODULE else f"  {label_of(n)} refers to {label_of(nxt)} at {rng}"
            for n, nxt, rng in where)
        text = f"The configuration contains a dependency cycle:\n{lines}\n\nBreak the cycle by removing one of the references."
        d.error(summary + names, text, where[0][2])
    else:
        d.error(summary + names, text)
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
        from engine.addrs import parse_module, static_path

        return ExpandNode(static_path(parse_module(c.module)), f"{c.type}.{c.name}")

    def change_nodes(self, b: BuiltGraph) -> None:
        """A node per create/update/no-op, after what its block depends on, before its block."""
        from engine.plan.model import Action

        g = b.graph
        preds_of: dict = {}
        for c in self.plan.resource_changes:
            if c.action in (Action.DELETE, Action.FORGET):
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
        from engine.addrs import Resource, parse_module, static_path
        from engine.plan.model import Action

        g = b.graph
        block_of: dict[str, list[str]] = {}  # static block address (what dependencies name) -> deletions
        for a, c in self.deleting.items():
            block_of.setdefault(str(Resource(static_path(parse_module(c.module)), c.type, c.name)), []).append(a)
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
