"""Node types of the plan and apply graphs, each with its own behaviour.

Nodes are tuples underneath -- ``(kind, module_path, name)`` or ``(kind,
address)`` -- so they hash and compare as cheaply as the tuples they replace,
and reference resolution can build them anywhere; the subclass carries the
behaviour: ``plan(planner)`` during a plan walk, ``apply(applier)`` during an
apply walk, ``label`` for messages and ``trainform graph``.

Variables, locals and outputs evaluate the same way in both walks (into the
session's module scopes); a resource block plans its instances; in the apply
graph a block becomes an :class:`ExpandNode` that gathers its applied
instances, each instance change an :class:`InstanceNode` and each deletion a
:class:`DestroyNode`.

Nodes are static: one per object of a module in the configuration.  A module
call with ``count``/``for_each`` has a :class:`ModuleExpandNode` (Terraform's
"module expansion") that evaluates the keys in each instance of the calling
module and makes one scope per module instance; every node of the called
module runs after it and does its work once per module instance.
"""

from __future__ import annotations

from typing import Any

from engine.addrs import module_prefix, module_step, module_string, split_step
from engine.diagnostics import Diagnostics
from engine.values import UNKNOWN, Sensitive, Unknown, unmark

__all__ = [
    "DESTROY",
    "EXPAND",
    "INSTANCE",
    "LOCAL",
    "MODULE",
    "OUTPUT",
    "RES",
    "VAR",
    "DestroyNode",
    "ExpandNode",
    "InstanceNode",
    "LocalNode",
    "ModuleExpandNode",
    "Node",
    "OutputNode",
    "ResourceNode",
    "VariableNode",
    "label_of",
]

VAR, LOCAL, OUTPUT, RES, MODULE = "var", "local", "output", "res", "mod"
EXPAND, INSTANCE, DESTROY = "blk", "inst", "del"


class Node(tuple):
    """Base of all node types; ``kind`` is element 0."""

    __slots__ = ()
    kind = ""

    def __new__(cls, *parts: Any):
        return tuple.__new__(cls, (cls.kind,) + parts)

    def __getnewargs__(self):
        return tuple(self[1:])

    @property
    def label(self) -> str:
        raise NotImplementedError

    def is_light(self, walker) -> bool:
        """Quick in-memory work: run on the walker's own thread."""
        return True

    def plan(self, planner) -> bool:
        raise NotImplementedError(f"{type(self).__name__} has no plan behaviour")

    def apply(self, applier) -> bool:
        raise NotImplementedError(f"{type(self).__name__} has no apply behaviour")


class _ModuleNode(Node):
    """A named object of one module: (kind, path, name)."""

    __slots__ = ()

    @property
    def path(self) -> tuple:
        return self[1]

    @property
    def name(self) -> str:
        return self[2]

    @property
    def label(self) -> str:
        return module_prefix(self[1]) + self.kind + "." + self[2]


class VariableNode(_ModuleNode):
    __slots__ = ()
    kind = VAR

    def plan(self, planner) -> bool:
        return evaluate_variable(planner.session, self)

    def apply(self, applier) -> bool:
        if applier.session.options.destroy:  # deletions use the configuration the plan evaluated
            return True
        return evaluate_variable(applier.session, self)


class LocalNode(_ModuleNode):
    __slots__ = ()
    kind = LOCAL

    def plan(self, planner) -> bool:
        return evaluate_local(planner.session, self)

    def apply(self, applier) -> bool:
        if applier.session.options.destroy:  # what locals read is being deleted
            return True
        return evaluate_local(applier.session, self)


class OutputNode(_ModuleNode):
    __slots__ = ()
    kind = OUTPUT

    def plan(self, planner) -> bool:
        return evaluate_output(planner.session, self)

    def apply(self, applier) -> bool:
        if applier.session.options.destroy:  # what outputs read is being deleted; destroy drops them all
            return True
        return evaluate_output(applier.session, self)


class ModuleExpandNode(_ModuleNode):
    """A module call with count/for_each: (kind, calling module's path, call name)."""

    __slots__ = ()
    kind = MODULE

    @property
    def label(self) -> str:
        return module_prefix(self[1]) + "module." + self[2] + " (expand)"

    def plan(self, planner) -> bool:
        return expand_module(planner.session, self)

    def apply(self, applier) -> bool:
        if applier.session.options.destroy:  # the plan's expansion stands; nothing is evaluated
            return True
        return expand_module(applier.session, self)


class ResourceNode(_ModuleNode):
    """A resource block (all its instances) in the plan graph; name is ``TYPE.NAME``."""

    __slots__ = ()
    kind = RES

    @property
    def label(self) -> str:
        return module_prefix(self[1]) + self[2]

    def is_light(self, planner) -> bool:
        return planner.resource_is_light(self)

    def plan(self, planner) -> bool:
        return planner.plan_block(self)


class ExpandNode(_ModuleNode):
    """Apply graph: every instance of a block is done; expose them to expressions."""

    __slots__ = ()
    kind = EXPAND

    @property
    def label(self) -> str:
        return module_prefix(self[1]) + self[2] + " (expand)"

    def apply(self, applier) -> bool:
        return applier.gather(self)


class _ChangeNode(Node):
    """Apply graph: one planned change, by instance address."""

    __slots__ = ()

    @property
    def address(self) -> str:
        return self[1]

    def is_light(self, applier) -> bool:
        return applier.change_is_light(self[1])


class InstanceNode(_ChangeNode):
    __slots__ = ()
    kind = INSTANCE

    @property
    def label(self) -> str:
        return self[1]

    def apply(self, applier) -> bool:
        return applier.apply_instance(applier.changes[self[1]])


class DestroyNode(_ChangeNode):
    __slots__ = ()
    kind = DESTROY

    @property
    def label(self) -> str:
        return self[1] + " (destroy)"

    def apply(self, applier) -> bool:
        return applier.delete(applier.changes[self[1]])


def label_of(node) -> str:
    """A node's label (also for plain tuples built elsewhere)."""
    if isinstance(node, Node):
        return node.label
    return {VAR: VariableNode, LOCAL: LocalNode, OUTPUT: OutputNode, RES: ResourceNode,
            MODULE: ModuleExpandNode}[node[0]](*node[1:]).label


# ---------------------------------------------------------------- evaluation

def expand_module(session, node) -> bool:
    """A call's count/for_each, in each instance of the calling module: one scope
    per module instance, and the caller's ``module.NAME`` becomes a list (count)
    or a map (for_each) of instance objects that the outputs fill in."""
    from engine.evaluate import expand

    _, parent, name = node
    path = parent + (name,)
    call = session.config.descendant(parent).module.module_calls[name]
    # -target leaves this module out: keys that cannot be evaluated (they may be what
    # the targeted resources are about to make known) are no error, just no instances
    optional = session.targets is not None and not session.targets.covers_module(path)
    d = Diagnostics()
    instances = []
    ok = True
    for pip in session.module_instances(parent):
        pscope = session.scopes[pip]
        if session.options.validate_only:
            # validate: the module once, with unknown keys
            binding = {"count": {"index": UNKNOWN}} if call.count is not None else {"each": {"key": UNKNOWN, "value": UNKNOWN}}
            pscope.values["module"][name] = UNKNOWN
            instances.append((pip + (name,), binding))
            continue
        kd = Diagnostics()
        keys = expand(call, pscope.ctx(), kd, module_prefix(pip) + "module." + name)
        if keys is None:
            pscope.values["module"][name] = UNKNOWN
            if not optional:
                d.extend(kd)
                ok = False
            continue
        d.extend(kd)
        pscope.values["module"][name] = [{} for _ in keys] if call.count is not None else {k: {} for k, _ in keys}
        instances.extend((pip + (module_step(name, k),), binding) for k, binding in keys)
    if ok:
        session.set_module_instances(path, instances)
    session.diags.extend(d)
    return ok and not d.has_errors


def evaluate_variable(session, node) -> bool:
    """A variable, in every instance of its module."""
    if session.pruned(node):
        return True
    ok = True
    for ip in session.module_instances(node[1]):
        ok = _evaluate_variable(session, ip, node[2]) and ok
    return ok


def _evaluate_variable(session, path, name) -> bool:
    """A variable: root input, module call argument or default; then its validations."""
    from engine.config import types as T
    from engine.config.expr import evaluate

    scope = session.scopes[path]
    var = scope.module.variables[name]
    d = Diagnostics()
    if not path:
        value = session.inputs.get(name)
    else:
        parent = session.scopes[path[:-1]]
        call_name = split_step(path[-1])[0]
        call = parent.module.module_calls[call_name]
        if name in call.args:
            value, d2 = evaluate(call.args[name].expr, parent.ctx(session.bindings.get(path)))
            d.extend(d2)
            if not d2.has_errors and var.type is not None and not isinstance(unmark(value), Unknown):
                try:
                    value = T.convert(value, var.type)
                except T.ConversionError as e:
                    d.error("Invalid value for input variable", f'The given value is not suitable for module.{path[-1]} variable "{name}" declared at {var.range}: {e}.', call.args[name].expr.range)
                    value = UNKNOWN
            if value is None and not var.nullable:
                d.error("Invalid value for input variable", f'The given value is not suitable for variable "{name}": required variable may not be set to null.', call.args[name].expr.range)
            if value is None and var.has_default:
                value = _default(var, d)
        else:
            value = _default(var, d)
        if var.sensitive:
            value = Sensitive(value)
    scope.values["var"][name] = value
    if not d.has_errors:
        given = call.args[name].expr.range if path and name in call.args else None
        _validate_var(scope, var, value, d, given, module_string(path) if path and "[" in path[-1] else "")
    session.diags.extend(d)
    return not d.has_errors


def _default(var, d: Diagnostics):
    from engine.config import types as T
    from engine.config.expr import EvalContext, evaluate

    if var.default is None:
        return None
    value, d2 = evaluate(var.default, EvalContext(variables={}))
    d.extend(d2)
    if var.type is not None:
        try:
            value = T.convert(value, var.type)
        except T.ConversionError as e:
            d.error("Invalid default value for variable", f"This default value is not compatible with the variable's type constraint: {e}.", var.default.range)
    return value


def _validate_var(scope, var, value, d: Diagnostics, given=None, instance: str = "") -> None:
    """``given``: where a module call sets the value; a failed rule is reported there,
    as Terraform does, since that is what the caller has to change (found by probing:
    the frame was on the condition inside the module)."""
    from engine.config.expr import evaluate

    if isinstance(unmark(value), Unknown):
        return
    for v in var.validations:
        ctx = scope.ctx()
        ok, d2 = evaluate(v.condition, ctx)
        if d2.has_errors:
            d.extend(d2)
            continue
        ok = unmark(ok)
        if isinstance(ok, Unknown):
            continue
        if ok is not True and ok is not False:
            d.error("Invalid validation result", f"The validation condition must return a bool, not {type(ok).__name__}.", v.condition.range)
            continue
        if not ok:
            msg, d3 = evaluate(v.error_message, ctx)
            msg = unmark(msg) if not d3.has_errors else "(error message could not be evaluated)"
            d.error("Invalid value for variable", f"{msg}\n\nThis was checked by the validation rule at {v.range}" + (f", for {instance}." if instance else "."), given or v.condition.range)


def evaluate_local(session, node) -> bool:
    from engine.config.expr import evaluate

    _, path, name = node
    if session.pruned(node):
        return True
    ok = True
    for ip in session.module_instances(path):
        scope = session.scopes[ip]
        value, d = evaluate(scope.module.locals[name].expr, scope.ctx())
        scope.values["local"][name] = value
        session.diags.extend(d)
        ok = ok and not d.has_errors
    return ok


def evaluate_output(session, node) -> bool:
    """An output: root outputs are kept for the plan; a module's go to its caller's
    scope (into the instance object of a call with count/for_each)."""
    from engine.config.expr import evaluate
    from engine.values import contains_sensitive

    _, path, name = node
    if session.pruned(node):
        # -target: an output that needs untargeted resources keeps its prior value
        if not path:
            session.skipped_outputs.add(name)
        return True
    ok = True
    for ip in session.module_instances(path):
        scope = session.scopes[ip]
        out = scope.module.outputs[name]
        value, d = evaluate(out.expr, scope.ctx())
        # root outputs only, as Terraform: a module output keeps its value's marks, so a
        # secret passed up is still refused (or masked) where it leaves the root module
        if not ip and not d.has_errors and contains_sensitive(value) and not out.sensitive:
            d.error("Output refers to sensitive values", "To reduce the risk of accidentally exporting sensitive data that was intended to be only internal, trainform requires that any root module output containing sensitive data be explicitly marked as sensitive, to confirm your intent.\n\nIf you do intend to export this data, annotate the output value as sensitive by adding the following argument:\n    sensitive = true", out.expr.range)
        if out.sensitive:
            value = Sensitive(value)
        if ip:
            call, key = split_step(ip[-1])
            container = session.scopes[ip[:-1]].values["module"].get(call)
            if key is None:
                if isinstance(container, dict):
                    container[name] = value
            elif isinstance(container, (list, dict)):
                container[key][name] = value
        else:
            session.root_outputs[name] = value
        session.diags.extend(d)
        ok = ok and not d.has_errors
    return ok
