"""One command's view of a configuration: scopes, the static graph, refresh and plan.

A :class:`Session` is built from a loaded :class:`Config`, the root input
values and the prior :class:`State`.  ``plan()`` walks the static graph
(variables, locals, outputs, resource blocks) evaluating each node once its
dependencies are done, asks each resource's provider for a plan and records a
:class:`ResourceChange`.  engine.apply executes the result.
"""

from __future__ import annotations

import os
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from engine.config.model import Config, Resource
from engine.diagnostics import Diagnostics
from engine.evaluate import (
    LOCAL, OUTPUT, RES, VAR, ModuleScope, check_body, eval_body, expand, instance_address,
    mark_paths, node_label, references_of_body, resolve_reference, split_marks,
)
from engine.plan.model import Action, DriftEntry, OutputChange, Plan, ResourceChange
from engine.values import UNKNOWN, Sensitive, Unknown, contains_unknown, unmark
from providers.registry import ProviderUnavailable


@dataclass
class PlanOptions:
    destroy: bool = False
    refresh: bool = True
    refresh_only: bool = False
    targets: list[str] = field(default_factory=list)
    replace: list[str] = field(default_factory=list)
    parallelism: int = 10
    validate_only: bool = False  # evaluate with unknown inputs, call no provider plan


class Events:
    """Callbacks the CLI implements to show progress (the core never prints)."""

    def resource_start(self, address: str, action: str) -> None: ...
    def resource_done(self, address: str, action: str, elapsed: float, id: str | None) -> None: ...
    def resource_failed(self, address: str, action: str, elapsed: float) -> None: ...
    def resource_still(self, address: str, action: str, elapsed: float) -> None: ...
    def refresh_start(self, address: str) -> None: ...
    def log(self, address: str, line: str) -> None: ...
    def progress(self, address: str, message: str) -> None: ...


def _module_of(path: tuple) -> str:
    return ".".join(f"module.{p}" for p in path)


def _path_of(module: str) -> tuple:
    if not module:
        return ()
    parts = module.split(".")
    return tuple(parts[i + 1] for i in range(0, len(parts), 2))


class Session:
    def __init__(self, config: Config, inputs: dict[str, Any], state, options: PlanOptions | None = None,
                 events: Events | None = None, working_dir: str = ".", input_diags: Diagnostics | None = None) -> None:
        from providers.base import ProviderContext

        self.config = config
        self.inputs = inputs
        self.state = state  # engine.state.model.State (prior; refreshed in place on a copy)
        self.options = options or PlanOptions()
        self.events = events or Events()
        self.working_dir = os.path.abspath(working_dir)
        self.scopes: dict[tuple, ModuleScope] = {}
        root_dir = config.module.dir
        for cfg in config.walk():
            self.scopes[cfg.path] = ModuleScope(cfg, root_dir)
        self.diags = Diagnostics()
        self.graph = None
        self.stop = threading.Event()
        self.cancel = threading.Event()
        self._lock = threading.Lock()
        # address -> (type, attributes with real values) for ProviderContext.lookup
        self.live: dict[str, tuple[str, dict]] = {}
        self.by_id: dict[str, str] = {}
        self.planned: dict[str, dict] = {}  # address -> planned attrs (real secret values)
        self.configs: dict[str, dict] = {}  # address -> evaluated config (real values)
        self.sensitive: dict[str, list] = {}  # address -> sensitive paths
        self.provider_ctx = ProviderContext(
            working_dir=self.working_dir,
            data_dir=os.path.join(self.working_dir, ".trainform"),
            parallelism=self.options.parallelism,
            log=lambda a, line: self.events.log(a, line),
            progress=lambda a, m: self.events.progress(a, m),
            lookup=self.lookup,
            cancelled=self.cancel,
            stopping=self.stop,
        )
        self._configured: set[str] = set()
        self.root_outputs: dict[str, Any] = {}

    # ------------------------------------------------------------ providers
    def provider(self, type_name: str):
        from providers.registry import get_provider

        p = get_provider(type_name)
        if type_name not in self._configured:
            with self._lock:
                if type_name not in self._configured:
                    p.configure(self.provider_ctx)
                    self._configured.add(type_name)
        return p

    def lookup(self, id: str):
        addr = self.by_id.get(id)
        if addr is not None and addr in self.live:
            return self.live[addr]
        for inst in self.state.resources.values():
            if inst.attributes.get("id") == id:
                return (inst.type, inst.attributes)
        return None

    def set_live(self, address: str, type_name: str, attrs: dict) -> None:
        self.live[address] = (type_name, attrs)
        i = attrs.get("id") if isinstance(attrs, dict) else None
        if isinstance(i, str):
            self.by_id[i] = address

    # ------------------------------------------------------------ graph
    def build_graph(self) -> Diagnostics:
        """The static graph of every module; checks references, schemas and cycles."""
        from engine.graph import find_cycle, new_graph

        g = new_graph()
        d = self.diags
        for cfg in self.config.walk():
            m = cfg.module
            path = cfg.path
            parent = self.config.descendant(path[:-1]) if path else None
            call = parent.module.module_calls.get(path[-1]) if parent is not None else None
            for name, var in m.variables.items():
                node = (VAR, path, name)
                g.add_node(node)
                if call is not None and name in call.args:
                    for ref in call.args[name].expr.references():
                        self._check_special(ref, None, d)
                        for dep in resolve_reference(parent, ref, d):
                            g.add_edge(dep, node)
                for v in var.validations:
                    for ref in v.condition.references() + v.error_message.references():
                        if ref.root == "var" and ref.steps and ref.steps[0][1] == name:
                            continue
                        for dep in resolve_reference(cfg, ref, d):
                            g.add_edge(dep, node)
            if call is not None:
                for aname, attr in call.args.items():
                    if aname not in m.variables:
                        from engine.config.loader import suggest

                        d.error("Unsupported argument", f'An argument named "{aname}" is not expected here: module "{call.name}" declares no such variable.{suggest(aname, m.variables)}', attr.name_range)
                for name, var in m.variables.items():
                    if not var.has_default and name not in call.args:
                        d.error("Missing required argument", f'The argument "{name}" is required, but no definition was found (module "{call.name}" declares variable "{name}" without a default).', call.range)
            for name, loc in m.locals.items():
                node = (LOCAL, path, name)
                g.add_node(node)
                for ref in loc.expr.references():
                    self._check_special(ref, None, d)
                    for dep in resolve_reference(cfg, ref, d):
                        g.add_edge(dep, node)
            for name, out in m.outputs.items():
                node = (OUTPUT, path, name)
                g.add_node(node)
                for ref in out.expr.references() + out.depends_on:
                    self._check_special(ref, None, d)
                    for dep in resolve_reference(cfg, ref, d):
                        g.add_edge(dep, node)
            for key, res in m.resources.items():
                node = (RES, path, key)
                g.add_node(node)
                try:
                    provider = self.provider(res.type)
                except ProviderUnavailable as e:
                    d.error("Provider unavailable", str(e), res.type_range, cfg.prefix + key)
                    continue
                schema = provider.schema()
                address = cfg.prefix + key
                check_body(res.body, schema.block, d, address)
                refs = references_of_body(res.body) + list(res.depends_on) + list(res.lifecycle.replace_triggered_by)
                if res.count is not None:
                    refs += res.count.references()
                if res.for_each is not None:
                    refs += res.for_each.references()
                for ref in refs:
                    self._check_special(ref, res, d)
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
        cycle = find_cycle(g)
        if cycle:
            refers = list(reversed(cycle))  # graph edges point dependency -> dependent
            names = ", ".join(node_label(n) for n in refers)
            d.error("Cycle: " + names, "The configuration contains a dependency cycle (each refers to the next): " + " -> ".join(node_label(n) for n in refers + [refers[0]]) + ". Break the cycle by removing one of the references.")
        self.graph = g
        return d

    def _check_special(self, ref, res: Resource | None, d: Diagnostics) -> None:
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

    # ------------------------------------------------------------ nodes
    def eval_var(self, node) -> bool:
        from engine.config import types as T
        from engine.config.expr import evaluate

        _, path, name = node
        scope = self.scopes[path]
        var = scope.module.variables[name]
        d = Diagnostics()
        if not path:
            value = self.inputs.get(name)
            if isinstance(value, Sensitive) and not var.sensitive:
                pass
        else:
            parent = self.scopes[path[:-1]]
            call = parent.module.module_calls[path[-1]]
            if name in call.args:
                value, d2 = evaluate(call.args[name].expr, parent.ctx())
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
                    value = self._default(var, d)
            else:
                value = self._default(var, d)
            if var.sensitive:
                value = Sensitive(value)
        scope.values["var"][name] = value
        if not d.has_errors:
            self._validate_var(scope, var, value, d)
        self.diags.extend(d)
        return not d.has_errors

    def _default(self, var, d: Diagnostics):
        from engine.config import types as T
        from engine.config.expr import evaluate
        from engine.config.expr import EvalContext

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

    def _validate_var(self, scope, var, value, d: Diagnostics) -> None:
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
                d.error("Invalid value for variable", f"{msg}\n\nThis was checked by the validation rule at {v.range}.", v.condition.range)

    def eval_local(self, node) -> bool:
        from engine.config.expr import evaluate

        _, path, name = node
        scope = self.scopes[path]
        value, d = evaluate(scope.module.locals[name].expr, scope.ctx())
        scope.values["local"][name] = value
        self.diags.extend(d)
        return not d.has_errors

    def eval_output(self, node) -> bool:
        from engine.config.expr import evaluate
        from engine.values import contains_sensitive

        _, path, name = node
        scope = self.scopes[path]
        out = scope.module.outputs[name]
        value, d = evaluate(out.expr, scope.ctx())
        if not d.has_errors and contains_sensitive(value) and not out.sensitive:
            d.error("Output refers to sensitive values", "To reduce the risk of accidentally exporting sensitive data that was intended to be only internal, trainform requires that any root module output containing sensitive data be explicitly marked as sensitive, to confirm your intent.\n\nIf you do intend to export this data, annotate the output value as sensitive by adding the following argument:\n    sensitive = true", out.expr.range)
        if out.sensitive:
            value = Sensitive(value)
        if path:
            self.scopes[path[:-1]].values["module"][path[-1]][name] = value
        else:
            self.root_outputs[name] = value
        self.diags.extend(d)
        return not d.has_errors

    # ------------------------------------------------------------ refresh
    def refresh(self) -> list[DriftEntry]:
        """Read every instance in state; update the prior state in place; return drift."""
        from concurrent.futures import ThreadPoolExecutor
        from providers.base import ReadRequest

        drift: list[DriftEntry] = []
        insts = list(self.state.resources.values())
        if not insts:
            return drift

        def one(inst):
            p = self.provider(inst.type)
            self.events.refresh_start(inst.address)
            try:
                resp = p.read(ReadRequest(address=inst.address, state=inst.attributes, private=inst.private))
            except Exception as e:  # a provider crash is a bug, but refresh of others goes on
                d = Diagnostics()
                d.error("Provider error during refresh", f"{inst.type} provider failed to read {inst.address}: {type(e).__name__}: {e}", address=inst.address)
                return inst, None, d, True
            return inst, resp.new_state, resp.diagnostics, False

        quick = [i for i in insts if self.provider(i.type).inline]
        slow = [i for i in insts if not self.provider(i.type).inline]
        results = [one(i) for i in quick]
        if slow:
            with ThreadPoolExecutor(max_workers=max(1, self.options.parallelism)) as pool:
                results += list(pool.map(one, slow))
        for inst, new, d, crashed in results:
            self.diags.extend(d)
            if crashed or d.has_errors:
                continue
            if new is None:
                drift.append(DriftEntry(inst.address, "delete", before=_safe(inst.attributes, inst.sensitive_paths), after=None))
                del self.state.resources[inst.address]
            else:
                new = _keep_digests(new, inst.attributes, inst.sensitive_paths)
                if new != inst.attributes:
                    drift.append(DriftEntry(inst.address, "update", before=_safe(inst.attributes, inst.sensitive_paths), after=_safe(new, inst.sensitive_paths)))
                    inst.attributes = new
        return drift

    # ------------------------------------------------------------ plan
    def plan(self) -> Plan:
        from engine import __version__
        from engine.graph import walk

        plan = Plan(trainform_version=__version__, lineage=self.state.lineage, serial=self.state.serial,
                    destroy=self.options.destroy, refresh_only=self.options.refresh_only)
        self.plan_obj = plan
        if self.graph is None:
            self.build_graph()
        if self.diags.has_errors:
            plan.errored = True
            return plan
        if self.options.refresh and not self.options.validate_only:
            plan.drift = self.refresh()
        self._changes: dict[str, ResourceChange] = {}
        targets = self._target_nodes()

        def fn(node):
            kind = node[0]
            if kind == VAR:
                return self.eval_var(node)
            if kind == LOCAL:
                return self.eval_local(node)
            if kind == OUTPUT:
                return self.eval_output(node)
            if self.options.validate_only:
                return self.validate_resource(node)
            if targets is not None and node not in targets:
                return self._use_prior(node)
            return self.plan_resource(node)

        def light(node):
            if node[0] != RES or self.options.validate_only:
                return True
            res = self.scopes[node[1]].module.resources[node[2]]
            return self.provider(res.type).inline

        result = walk(self.graph, fn, self.options.parallelism, sort_key=node_label, stop=self.stop, is_light=light)
        if result.failed or self.diags.has_errors:
            plan.errored = True
        # instances in state whose block is gone from the configuration
        known_blocks = {(cfg.prefix + key) for cfg in self.config.walk() for key in cfg.module.resources}
        for inst in sorted(self.state.resources.values(), key=lambda i: i.address):
            block = (inst.module + "." if inst.module else "") + f"{inst.type}.{inst.name}"
            if inst.status == "deposed" and not self.options.refresh_only:
                self._changes[inst.address] = self._delete_change(inst, "deposed: the object this one replaced (create_before_destroy) was never deleted, e.g. the apply was interrupted")
                continue
            if block in known_blocks or inst.address in self._changes:
                continue
            if targets is not None and not self._matches_target(inst.address):
                continue
            ch = self._delete_change(inst, f"because {block} is not in configuration")
            self._changes[inst.address] = ch
        if self.options.refresh_only:
            plan.resource_changes = []
        else:
            plan.resource_changes = [self._changes[a] for a in sorted(self._changes)]
        self._plan_outputs(plan)
        return plan

    def _plan_outputs(self, plan: Plan) -> None:
        prior = self.state.outputs
        if self.options.destroy:
            for name in sorted(prior):
                plan.output_changes.append(OutputChange(name, Action.DELETE, before=prior[name].get("value"), sensitive=prior[name].get("sensitive", False)))
            return
        for name in sorted(self.root_outputs):
            value = self.root_outputs[name]
            sens = isinstance(value, Sensitive) or self.config.module.outputs[name].sensitive
            unknown = contains_unknown(value)
            plain = split_marks(unmark(value))
            from engine.values import to_plain

            plain = to_plain(plain)
            old = prior.get(name)
            if old is None:
                action = Action.CREATE
            else:
                from engine.state import secrets

                same = (not unknown) and (secrets.matches(old.get("value"), plain) if old.get("sensitive") else old.get("value") == plain)
                action = Action.NOOP if same else Action.UPDATE
            plan.output_changes.append(OutputChange(name, action, before=None if old is None else old.get("value"), after=None if unknown else plain, after_unknown=unknown, sensitive=sens))
        for name in sorted(set(prior) - set(self.root_outputs)):
            plan.output_changes.append(OutputChange(name, Action.DELETE, before=prior[name].get("value"), sensitive=prior[name].get("sensitive", False)))

    # targets ---------------------------------------------------------
    def _target_nodes(self):
        if not self.options.targets:
            return None
        chosen = set()
        for node in self.graph.nodes:
            if node[0] == RES:
                label = node_label(node)
                for t in self.options.targets:
                    if t == label or t.startswith(label + "[") or label.startswith(t + "."):
                        chosen.add(node)
        out = set(chosen)
        for n in chosen:
            out |= {a for a in self.graph.ancestors(n) if a[0] == RES}
        return out

    def _instance_filtered(self, block_address: str) -> bool:
        """Only some instances of this block are targeted (value.x[0], not value.x)?

        Blocks reached as dependencies of a target are planned whole."""
        if not self.options.targets:
            return False
        direct = [t for t in self.options.targets if t.startswith(block_address + "[")]
        whole = any(t == block_address or block_address.startswith(t + ".") for t in self.options.targets)
        return bool(direct) and not whole and not self._is_dependency_of_target(block_address)

    def _is_dependency_of_target(self, block_address: str) -> bool:
        deps = getattr(self, "_target_deps", None)
        if deps is None:
            deps = set()
            for node in self.graph.nodes:
                if node[0] == RES and any(self._matches_target(node_label(node)) or t.startswith(node_label(node) + "[") for t in self.options.targets):
                    deps |= {node_label(a) for a in self.graph.ancestors(node) if a[0] == RES}
            self._target_deps = deps
        return block_address in deps

    def _matches_target(self, address: str) -> bool:
        for t in self.options.targets:
            if address == t or address.startswith(t + "[") or address.startswith(t + "."):
                return True
        return False

    def _use_prior(self, node) -> bool:
        """An untargeted resource: expose its prior state, plan nothing."""
        _, path, key = node
        scope = self.scopes[path]
        res = scope.module.resources[key]
        prefix = "".join(f"module.{p}." for p in path)
        insts = list(self._block_instances(_module_of(path), key).values())
        self._set_values(scope, res, [(i.index_key, mark_paths(i.attributes, i.sensitive_paths)) for i in insts])
        return True

    def _block_instances(self, module: str, key: str) -> dict:
        """Prior instances of one resource block, by index key (indexed once per plan)."""
        idx = getattr(self, "_block_index", None)
        if idx is None:
            idx = self._block_index = {}
            for i in self.state.resources.values():
                if i.status != "deposed":
                    idx.setdefault((i.module, f"{i.type}.{i.name}"), {})[i.index_key] = i
        return dict(idx.get((module, key), {}))

    def _set_values(self, scope, res: Resource, items: list[tuple[Any, Any]]) -> None:
        if res.count is not None:
            vals = [v for _, v in sorted(items, key=lambda kv: kv[0])]
        elif res.for_each is not None:
            vals = {k: v for k, v in sorted(items, key=lambda kv: str(kv[0]))}
        else:
            vals = items[0][1] if items else None
        scope.values[res.type][res.name] = vals

    # resources -------------------------------------------------------
    def plan_resource(self, node) -> bool:
        _, path, key = node
        scope = self.scopes[path]
        res = scope.module.resources[key]
        prefix = "".join(f"module.{p}." for p in path)
        block_address = prefix + key
        d = Diagnostics()
        module = _module_of(path)
        prior_insts = self._block_instances(module, key)
        if self.options.destroy:
            # Evaluate the configuration of what is being destroyed where it still
            # exists: providers get real secrets (state holds only digests), e.g.
            # the registry password an environment needs to delete its image.
            bindings = {}
            dd = Diagnostics()
            expanded = expand(res, scope.ctx(), dd, block_address) if prior_insts else None
            for k, binding in expanded or []:
                bindings[k] = binding
            items = []
            for k, inst in sorted(prior_insts.items(), key=lambda kv: str(kv[0])):
                self._changes[inst.address] = self._delete_change(inst, None, res)
                live = inst.attributes
                if k in bindings:
                    cd = Diagnostics()
                    _, _, config, _ = self.eval_instance_config(scope, res, inst.address, bindings[k], cd)
                    if not cd.has_errors and not contains_unknown(config):
                        # lookups (ctx.lookup) see real values; the DELETE request itself gets
                        # config=None, which tells providers it is no replacement
                        live = {**inst.attributes, **{a: v for a, v in config.items() if v is not None}}
                items.append((k, mark_paths(live, inst.sensitive_paths)))
                self.set_live(inst.address, inst.type, live)
            self._set_values(scope, res, items)
            return True
        instances = expand(res, scope.ctx(), d, block_address)
        if instances is None:
            self.diags.extend(d)
            scope.values[res.type][res.name] = UNKNOWN
            return False
        ok = True
        items = []
        seen = set()
        for index_key, binding in instances:
            seen.add(index_key)
            address = instance_address(prefix, key, index_key)
            if self._instance_filtered(block_address) and not self._matches_target(address):
                # untargeted sibling instance
                inst = prior_insts.get(index_key)
                if inst is not None:
                    items.append((index_key, mark_paths(inst.attributes, inst.sensitive_paths)))
                continue
            try:
                value = self.plan_instance(scope, res, address, index_key, binding, prior_insts.get(index_key), d)
            except Exception:
                raise
            if value is None:
                ok = False
                value = UNKNOWN
            items.append((index_key, value))
        for k, inst in prior_insts.items():
            if k not in seen:
                if isinstance(k, int) and res.count is not None:
                    why = f"because index [{k}] is out of range for count"
                elif isinstance(k, str) and res.for_each is not None:
                    why = f'because key ["{k}"] is not in for_each map'
                elif k is None and (res.count is not None or res.for_each is not None):
                    why = f"because {block_address} now uses count or for_each"
                else:
                    why = f"because {block_address} no longer uses count or for_each"
                self._changes[inst.address] = self._delete_change(inst, why, res)
        self._set_values(scope, res, items)
        self.diags.extend(d)
        return ok and not d.has_errors

    def validate_resource(self, node) -> bool:
        """validate: evaluate the body once with unknown count/each; no provider plan."""
        from providers.base import ValidateRequest
        from engine.values import contains_unknown

        _, path, key = node
        scope = self.scopes[path]
        res = scope.module.resources[key]
        address = "".join(f"module.{p}." for p in path) + key
        d = Diagnostics()
        binding = {}
        if res.count is not None:
            binding = {"count": {"index": UNKNOWN}}
        elif res.for_each is not None:
            binding = {"each": {"key": UNKNOWN, "value": UNKNOWN}}
        provider, schema, config, sens = self.eval_instance_config(scope, res, address, binding, d)
        if not d.has_errors:
            vd = provider.validate(ValidateRequest(address=address, config=config)).diagnostics
            for x in vd:
                x.address = x.address or address
                if x.range is None:
                    x.range = res.range
            d.extend(vd)
        scope.values[res.type][res.name] = UNKNOWN
        self.diags.extend(d)
        return not d.has_errors

    def eval_instance_config(self, scope, res: Resource, address: str, binding: dict, d: Diagnostics):
        provider = self.provider(res.type)
        schema = provider.schema()
        ctx = scope.ctx(binding)
        marked = eval_body(res.body, schema.block, ctx, d, address)
        sens: list = []
        config = split_marks(marked, (), sens)
        for p in schema.block.sensitive_paths(config):
            if list(p) not in sens:
                sens.append(list(p))
        return provider, schema, config, sens

    def plan_instance(self, scope, res: Resource, address: str, index_key, binding: dict, prior, d: Diagnostics):
        from providers.base import PlanRequest, ValidateRequest

        provider, schema, config, sens = self.eval_instance_config(scope, res, address, binding, d)
        if d.has_errors:
            return None
        vd = provider.validate(ValidateRequest(address=address, config=config)).diagnostics
        for x in vd:
            x.address = x.address or address
            if x.range is None:
                x.range = res.range
        d.extend(vd)
        if vd.has_errors:
            return None
        prior_attrs = prior.attributes if prior is not None else None
        if prior is not None:
            config = self._apply_ignore_changes(res, config, prior_attrs)
        try:
            resp = provider.plan(PlanRequest(address=address, prior_state=prior_attrs, config=config, prior_private=prior.private if prior is not None else None))
        except Exception as e:
            from engine.errors import InternalError

            raise InternalError(f"provider {res.type} crashed while planning {address}: {type(e).__name__}: {e}") from e
        for x in resp.diagnostics:
            x.address = x.address or address
            if x.range is None:
                x.range = res.range
        d.extend(resp.diagnostics)
        if resp.diagnostics.has_errors or resp.planned_state is None:
            return None
        planned = resp.planned_state
        for p in schema.block.sensitive_paths(planned):
            if list(p) not in sens:
                sens.append(list(p))
        propagate_sensitive(config, planned, sens)
        ch = self._decide(res, address, index_key, prior, planned, resp, sens, scope)
        if ch.action.is_replace:
            # the replacement is a create: plan it from nothing so computed values are unknown again
            resp2 = provider.plan(PlanRequest(address=address, prior_state=None, config=config))
            d.extend(resp2.diagnostics)
            if resp2.diagnostics.has_errors or resp2.planned_state is None:
                return None
            planned = resp2.planned_state
            ch.after = _plain(planned)
            ch.after_unknown = _unknown_paths(planned)
            ch.private = resp2.private
        self._changes[address] = ch
        self.planned[address] = planned
        self.configs[address] = config
        self.sensitive[address] = sens
        self.set_live(address, res.type, planned)
        return mark_paths(planned, sens)

    def _apply_ignore_changes(self, res: Resource, config: dict, prior: dict) -> dict:
        ic = res.lifecycle.ignore_changes
        if not ic:
            return config
        config = dict(config)
        names = list(config) if ic == "all" else ic
        for n in names:
            if n in prior:
                config[n] = prior[n]
        return config

    def _decide(self, res, address, index_key, prior, planned, resp, sens, scope) -> ResourceChange:
        module = _module_of(scope.path)
        deps = self._dependencies(scope, res)
        ch = ResourceChange(address=address, type=res.type, name=res.name, module=module, index_key=index_key,
                            after=_plain(planned), after_unknown=_unknown_paths(planned), after_sensitive=sens,
                            dependencies=deps, private=resp.private)
        if prior is None:
            ch.action = Action.CREATE
            if resp.reason:
                ch.reasons.append(resp.reason)
            return ch
        ch.before = prior.attributes
        ch.before_sensitive = prior.sensitive_paths
        cbd = res.lifecycle.create_before_destroy or getattr(resp, "create_before_destroy", False)
        replace_kind = Action.REPLACE_CREATE_FIRST if cbd else Action.REPLACE_DELETE_FIRST
        changed = _changed_attrs(prior.attributes, planned, prior.sensitive_paths)
        if prior.status == "tainted":
            ch.action = replace_kind
            ch.tainted = True
            ch.reasons.append("is tainted, so it must be replaced")
        elif address in self.options.replace:
            ch.action = replace_kind
            ch.reasons.append("will be replaced, as requested")
        elif resp.requires_replace:
            ch.action = replace_kind
            ch.replace_paths = [list(p) for p in resp.requires_replace]
            ch.reasons.append(resp.reason or ("must be replaced: " + ", ".join(".".join(map(str, p)) for p in resp.requires_replace) + " changed"))
        else:
            trig = self._triggered(res, scope)
            if trig:
                ch.action = replace_kind
                ch.reasons.append(f"will be replaced due to changes in replace_triggered_by ({trig})")
            elif changed:
                ch.action = Action.UPDATE
                ch.reasons.append(resp.reason or (", ".join(changed) + " changed"))
            else:
                ch.action = Action.NOOP
        if ch.action.is_replace and res.lifecycle.prevent_destroy:
            self.diags.error("Instance cannot be destroyed", f"Resource {address} has lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed. To avoid this error and continue with the plan, either disable lifecycle.prevent_destroy or reduce the scope of the plan using the -target flag.", res.range, address)
        return ch

    def _triggered(self, res, scope) -> str | None:
        prefix = "".join(f"module.{p}." for p in scope.path)
        for ref in res.lifecycle.replace_triggered_by:
            target = prefix + str(ref)
            for addr, ch in self._changes.items():
                if (addr == target or addr.startswith(target + "[") or target.startswith(addr + ".")) and ch.action in (Action.CREATE, Action.UPDATE) or (
                    (addr == target or addr.startswith(target + "[")) and ch.action.is_replace):
                    return str(ref)
        return None

    def _dependencies(self, scope, res) -> list[str]:
        node = (RES, scope.path, res.key)
        out = set()
        for a in self._ancestor_resources(node):
            out.add(node_label(a))
        return sorted(out)

    def _ancestor_resources(self, node):
        cache = getattr(self, "_anc_cache", None)
        if cache is None:
            cache = self._anc_cache = {}
        if node not in cache:
            cache[node] = [a for a in self.graph.ancestors(node) if a[0] == RES]
        return cache[node]

    def _delete_change(self, inst, why: str | None, res: Resource | None = None) -> ResourceChange:
        ch = ResourceChange(address=inst.address, type=inst.type, name=inst.name, module=inst.module, index_key=inst.index_key,
                            action=Action.DELETE, before=inst.attributes, before_sensitive=inst.sensitive_paths,
                            dependencies=list(inst.dependencies))
        if why:
            ch.reasons.append(why)
        if res is not None and res.lifecycle.prevent_destroy:
            self.diags.error("Instance cannot be destroyed", f"Resource {inst.address} has lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed. To avoid this error and continue with the plan, either disable lifecycle.prevent_destroy or reduce the scope of the plan using the -target flag.", res.range, inst.address)
        return ch


# ---------------------------------------------------------------- helpers

def propagate_sensitive(config: dict, planned: dict, sens: list) -> None:
    """Mark planned values that repeat a sensitive configured value (e.g. value.output
    echoing a sensitive input) so a provider can't leak a secret by copying it."""
    from engine.values import get_path

    secrets_seen = []
    for p in sens:
        v = get_path(config, tuple(p))
        if v is not None and not isinstance(v, Unknown):
            secrets_seen.append(v)
    if not secrets_seen:
        return

    def visit(v, path):
        if any(v == x for x in secrets_seen):
            if list(path) not in sens:
                sens.append(list(path))
            return
        if isinstance(v, dict):
            for k, x in v.items():
                visit(x, path + (k,))
        elif isinstance(v, list):
            for i, x in enumerate(v):
                visit(x, path + (i,))

    for k, v in (planned or {}).items():
        visit(v, (k,))


def _plain(value):
    """Planned attributes as JSON data: unknowns become None (listed in after_unknown)."""
    from engine.values import to_plain

    return to_plain(value)


def _unknown_paths(value, path=()) -> list[list]:
    out: list[list] = []
    if isinstance(value, Unknown):
        out.append(list(path))
    elif isinstance(value, dict):
        for k, v in value.items():
            out += _unknown_paths(v, path + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            out += _unknown_paths(v, path + (i,))
    return out


def _keep_digests(new: dict, old: dict, paths) -> dict:
    """After a read, keep stored digests at sensitive paths (providers may echo them or drop them)."""
    from engine.state import secrets
    from engine.values import get_path, set_path

    for p in paths:
        p = tuple(p)
        old_v = get_path(old, p)
        new_v = get_path(new, p)
        if isinstance(old_v, str) and secrets.is_digest(old_v) and (new_v == old_v or new_v is None or secrets.matches(old_v, new_v)):
            new = set_path(new, p, old_v)
    return new


def _safe(attrs, paths):
    from engine.values import set_path

    for p in paths:
        attrs = set_path(attrs, tuple(p), None)
    return attrs


def _changed_attrs(prior: dict, planned: dict, sensitive_paths) -> list[str]:
    """Top-level attribute names whose planned value differs from the prior one."""
    from engine.state import secrets
    from engine.values import get_path

    sens_top = {}
    for p in sensitive_paths:
        sens_top.setdefault(p[0], []).append(tuple(p[1:]))
    changed = []
    for name in sorted(set(prior) | set(planned)):
        a, b = prior.get(name), planned.get(name)
        if contains_unknown(b):
            if not (isinstance(b, Unknown) and a is not None and name == "id"):
                changed.append(name)
            continue
        if name in sens_top:
            if not _same_with_digests(a, b, sens_top[name]):
                changed.append(name)
        elif _norm(a) != _norm(b):
            changed.append(name)
    return changed


def _same_with_digests(a, b, subpaths) -> bool:
    from engine.state import secrets
    from engine.values import get_path, set_path

    for sp in subpaths:
        da = get_path(a, sp) if sp else a
        db = get_path(b, sp) if sp else b
        if isinstance(da, str) and secrets.is_digest(da):
            if not secrets.matches(da, db):
                return False
            if sp:
                b = set_path(b, sp, da)
            else:
                b = da
    return _norm(a) == _norm(b)


def _norm(v):
    from engine.values import to_plain

    return to_plain(v)
