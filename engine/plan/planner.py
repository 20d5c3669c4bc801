"""Planning: walk the configuration graph and ask each resource's provider for a plan.

A :class:`Planner` works in a :class:`~engine.session.Session`: it builds the
plan graph (engine.graph.builders), upgrades and refreshes the prior state,
then walks the graph -- each node plans itself (engine.graph.nodes) -- and
records a :class:`ResourceChange` per instance with the reasons a user sees.
The result is a plain-data :class:`Plan` that engine.apply executes.
"""

from __future__ import annotations

from engine.addrs import Resource as AResource
from engine.addrs import instance_sort_key, module_prefix, module_string, parse_module, split_step, static_path
from engine.config.model import Resource
from engine.diagnostics import Diagnostics
from engine.evaluate import expand, instance_address, mark_paths, split_marks
from engine.graph import walk
from engine.graph.nodes import RES, label_of
from engine.plan.diff import changed_attrs, plain, propagate_sensitive, unknown_paths
from engine.plan.model import Action, OutputChange, Plan, ResourceChange
from engine.plan.refactor import apply_moves, check_instances_still_declared, check_statements, removed_for
from engine.plan.refactor_import import import_specs
from engine.plan.refresh import refresh, upgrade_states
from engine.providers import PlanRequest, ValidateRequest
from engine.values import UNKNOWN, Sensitive, contains_unknown, to_plain, unmark

__all__ = ["Planner"]


class Planner:
    def __init__(self, session) -> None:
        self.session = session
        self.options = session.options
        self.scopes = session.scopes
        self.targets = None
        self._changes: dict[str, ResourceChange] = {}
        self._ancestors: dict = {}
        self._walked: set = set()  # (module instance string, TYPE.NAME) of every block instance walked
        self.imports: dict = {}  # address -> ImportSpec (import blocks, trainform import)
        self._imported: dict = {}  # address -> ResourceInstance adopted during this plan
        self._import_seen: set[str] = set()

    def plan(self) -> Plan:
        from engine import __version__

        plan = Plan(trainform_version=__version__, lineage=self.session.state.lineage, serial=self.session.state.serial,
                    destroy=self.options.destroy, refresh_only=self.options.refresh_only)
        s = self.session
        if s.graph is None:
            s.build_graph()
        if s.diags.has_errors:
            plan.errored = True
            return plan
        s.diags.extend(check_statements(s.config))
        if s.diags.has_errors:
            plan.errored = True
            return plan
        if not self.options.validate_only:
            # moved blocks act on the prior state before anything reads it
            plan.moves = apply_moves(s.config, s.state, s.diags)
            if not (self.options.destroy or self.options.refresh_only):
                self.imports = import_specs(s.config, self.options.imports)
            upgrade_states(s)
        if s.diags.has_errors:
            plan.errored = True
            return plan
        if self.options.refresh and not self.options.validate_only:
            plan.drift = refresh(s)
        self.targets = s.targets

        def fn(node):
            return node.plan(self)

        result = walk(s.graph, fn, self.options.parallelism, sort_key=label_of, stop=s.stop, is_light=lambda n: n.is_light(self))
        if result.failed or self.session.diags.has_errors:
            plan.errored = True
        if not (self.options.destroy or self.options.refresh_only or self.options.validate_only):
            live = [a for a, c in self._changes.items() if c.action not in (Action.DELETE, Action.FORGET)]
            still = check_instances_still_declared(s.config, live)
            if still.has_errors:
                s.diags.extend(still)
                plan.errored = True
        self._finish_imports()
        # instances in state whose block (or module instance) is gone from the configuration
        known_blocks = {(cfg.prefix + key) for cfg in self.session.config.walk() for key in cfg.module.resources}
        for inst in sorted(self.session.state.resources.values(), key=lambda i: i.address):
            ipath = parse_module(inst.module)
            spath = static_path(ipath)
            block = str(AResource(spath, inst.type, inst.name))
            if inst.status == "deposed" and not self.options.refresh_only:
                self._changes[inst.address] = self._delete_change(inst, "deposed: the object this one replaced (create_before_destroy) was never deleted, e.g. the apply was interrupted")
                continue
            if inst.address in self._changes or (inst.module, f"{inst.type}.{inst.name}") in self._walked:
                continue
            if block in known_blocks and not self._module_gone(ipath):
                continue  # not walked because the plan failed first
            if self.targets is not None and not self.targets.matches(inst.address):
                continue
            removed = removed_for(self.session.config, inst)
            if removed is not None and not removed.destroy:
                self._changes[inst.address] = self._forget_change(inst)
                continue
            gone = self._module_gone(ipath)
            why = f"because {module_string(gone)} is not in configuration" if gone else f"because {block} is not in configuration"
            ch = self._delete_change(inst, why)
            self._changes[inst.address] = ch
        for old, new in plan.moves:
            if new in self._changes:
                self._changes[new].previous_address = old
        self._forget_warning()
        if self.options.refresh_only:
            plan.resource_changes = []
        else:
            plan.resource_changes = [self._changes[a] for a in sorted(self._changes, key=instance_sort_key)]
        self._plan_outputs(plan)
        return plan

    def _module_gone(self, ipath: tuple) -> tuple:
        """The first module instance of ``ipath`` that the configuration no longer
        has (a removed call, key or index); () when all exist or were not expanded."""
        cfg = self.session.config
        for i, step in enumerate(ipath):
            name, _ = split_step(step)
            cfg = cfg.children.get(name)
            if cfg is None:
                return ipath[:i + 1]
            if not self.session.expanded(cfg.path):
                return ()
            if ipath[:i + 1] not in self.session.module_instances(cfg.path):
                return ipath[:i + 1]
        return ()

    def _plan_outputs(self, plan: Plan) -> None:
        prior = self.session.state.outputs
        if self.options.destroy and self.targets is not None:
            return  # a targeted destroy leaves the outputs alone, as Terraform does
        if self.options.destroy:
            for name in sorted(prior):
                plan.output_changes.append(OutputChange(name, Action.DELETE, before=prior[name].get("value"), sensitive=prior[name].get("sensitive", False)))
            return
        for name in sorted(self.session.root_outputs):
            value = self.session.root_outputs[name]
            sens = isinstance(value, Sensitive) or self.session.config.module.outputs[name].sensitive
            unknown = contains_unknown(value)
            value_plain = to_plain(split_marks(unmark(value)))
            old = prior.get(name)
            if value_plain is None and not unknown:
                # Terraform keeps no null outputs: none is planned, one that becomes null is deleted
                if old is not None:
                    plan.output_changes.append(OutputChange(name, Action.DELETE, before=old.get("value"), sensitive=old.get("sensitive", False)))
                continue
            if old is None:
                action = Action.CREATE
            else:
                from engine.state import secrets

                same = (not unknown) and (secrets.matches(old.get("value"), value_plain) if old.get("sensitive") else old.get("value") == value_plain)
                action = Action.NOOP if same else Action.UPDATE
            plan.output_changes.append(OutputChange(name, action, before=None if old is None else old.get("value"), after=None if unknown else value_plain, after_unknown=unknown, sensitive=sens))
        for name in sorted(set(prior) - set(self.session.root_outputs) - self.session.skipped_outputs):
            plan.output_changes.append(OutputChange(name, Action.DELETE, before=prior[name].get("value"), sensitive=prior[name].get("sensitive", False)))

    def use_prior(self, node) -> bool:
        """An untargeted resource: expose its prior state, plan nothing."""
        _, path, key = node
        for ip in self.session.module_instances(path):
            scope = self.scopes[ip]
            res = scope.module.resources[key]
            module = module_string(ip)
            self._walked.add((module, key))
            insts = list(self.session.block_instances(module, key).values())
            if not insts and not self.options.destroy and not self.session.evaluate_all:
                # not planned and not in state: unknown, as Terraform evaluates a pending resource
                scope.values[res.type][res.name] = UNKNOWN
                continue
            self.session.set_resource_values(scope, res, [(i.index_key, mark_paths(i.attributes, i.sensitive_paths)) for i in insts])
        return True

    def resource_is_light(self, node) -> bool:
        if self.options.validate_only:
            return True
        res = self.scopes[node[1]].module.resources[node[2]]
        return self.session.provider(res.type).inline

    def plan_block(self, node) -> bool:
        """A resource block in the plan walk: validate, keep prior (untargeted) or plan."""
        if self.options.validate_only:
            return self.validate_resource(node)
        if self.targets is not None and not self.targets.covers(node):
            return self.use_prior(node)
        return self.plan_resource(node)

    def plan_resource(self, node) -> bool:
        """A resource block, in every instance of its module."""
        ok = True
        for ip in self.session.module_instances(node[1]):
            ok = self._plan_resource_in(node, ip) and ok
        return ok

    def _wanted(self, node, address: str) -> bool:
        return self.targets is None or self.targets.wants(label_of(node), address)

    def _plan_resource_in(self, node, path) -> bool:
        key = node[2]
        scope = self.scopes[path]
        res = scope.module.resources[key]
        prefix = module_prefix(path)
        block_address = prefix + key
        d = Diagnostics()
        module = module_string(path)
        self._walked.add((module, key))
        prior_insts = self.session.block_instances(module, key)
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
                live = inst.attributes
                if not self._wanted(node, inst.address):
                    items.append((k, mark_paths(live, inst.sensitive_paths)))
                    continue
                self._changes[inst.address] = self._delete_change(inst, None, res)
                if k in bindings:
                    cd = Diagnostics()
                    _, _, config, _ = self.session.instance_config(scope, res, inst.address, bindings[k], cd)
                    if not cd.has_errors and not contains_unknown(config):
                        # lookups (ctx.lookup) see real values; the DELETE request itself gets
                        # config=None, which tells providers it is no replacement
                        live = {**inst.attributes, **{a: v for a, v in config.items() if v is not None}}
                items.append((k, mark_paths(live, inst.sensitive_paths)))
                self.session.set_live(inst.address, inst.type, live)
            self.session.set_resource_values(scope, res, items)
            return True
        instances = expand(res, scope.ctx(), d, block_address)
        if not (self.options.destroy or self.options.refresh_only or self.options.validate_only):
            self._expand_imports(path, res, d)
        if instances is None:
            self.session.diags.extend(d)
            scope.values[res.type][res.name] = UNKNOWN
            return False
        ok = True
        items = []
        seen = set()
        planned_any = False
        for index_key, binding in instances:
            seen.add(index_key)
            address = instance_address(prefix, key, index_key)
            if not self._wanted(node, address):
                # untargeted sibling instance
                inst = prior_insts.get(index_key)
                if inst is not None:
                    items.append((index_key, mark_paths(inst.attributes, inst.sensitive_paths)))
                continue
            planned_any = True
            prior = prior_insts.get(index_key)
            importing = None
            if address in self.imports:
                self._import_seen.add(address)
                if prior is None:
                    importing = self.imports[address]
                    prior = self.import_instance(scope, res, address, index_key, importing, d)
                    if prior is None:
                        ok = False
                        items.append((index_key, UNKNOWN))
                        continue
            value = self.plan_instance(scope, res, address, index_key, binding, prior, d)
            if importing is not None and address in self._changes:
                self._changes[address].importing = {"id": importing.id}
            if value is None:
                ok = False
                value = UNKNOWN
            items.append((index_key, value))
        for k, inst in prior_insts.items():
            if k not in seen and self._wanted(node, inst.address):
                if isinstance(k, int) and res.count is not None:
                    why = f"because index [{k}] is out of range for count"
                elif isinstance(k, str) and res.for_each is not None:
                    why = f'because key ["{k}"] is not in for_each map'
                elif k is None and (res.count is not None or res.for_each is not None):
                    why = f"because {block_address} now uses count or for_each"
                else:
                    why = f"because {block_address} no longer uses count or for_each"
                self._changes[inst.address] = self._delete_change(inst, why, res)
        if instances and not planned_any and not prior_insts:
            scope.values[res.type][res.name] = UNKNOWN  # -target left out this module instance's block
        else:
            self.session.set_resource_values(scope, res, items)
        self.session.diags.extend(d)
        return ok and not d.has_errors

    def validate_resource(self, node) -> bool:
        """validate: evaluate the body once with unknown count/each; no provider plan."""

        _, path, key = node
        path = self.session.module_instances(path)[0]  # validate: one instance per module
        scope = self.scopes[path]
        res = scope.module.resources[key]
        address = module_prefix(path) + key
        d = Diagnostics()
        binding = {}
        if res.count is not None:
            binding = {"count": {"index": UNKNOWN}}
        elif res.for_each is not None:
            binding = {"each": {"key": UNKNOWN, "value": UNKNOWN}}
        provider, schema, config, sens = self.session.instance_config(scope, res, address, binding, d)
        if not d.has_errors:
            vd = provider.validate(ValidateRequest(address=address, config=config, sensitive_paths=sens)).diagnostics
            d.extend(self.session.provider_diagnostics(vd, address, res, config, sens))
        scope.values[res.type][res.name] = UNKNOWN
        self.session.diags.extend(d)
        return not d.has_errors

    def plan_instance(self, scope, res: Resource, address: str, index_key, binding: dict, prior, d: Diagnostics):

        provider, schema, config, sens = self.session.instance_config(scope, res, address, binding, d)
        if d.has_errors:
            return None
        vd = provider.validate(ValidateRequest(address=address, config=config, sensitive_paths=sens)).diagnostics
        d.extend(self.session.provider_diagnostics(vd, address, res, config, sens))
        if vd.has_errors:
            return None
        prior_attrs = prior.attributes if prior is not None else None
        if prior is not None:
            config = self.session.ignore_changes(res, config, prior_attrs)
        try:
            resp = provider.plan(PlanRequest(address=address, prior_state=prior_attrs, config=config, prior_private=prior.private if prior is not None else None, sensitive_paths=list(sens)))
        except Exception as e:
            from engine.errors import InternalError

            raise InternalError(f"provider {res.type} crashed while planning {address}: {type(e).__name__}: {e}") from e
        d.extend(self.session.provider_diagnostics(resp.diagnostics, address, res, config, sens))
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
            resp2 = provider.plan(PlanRequest(address=address, prior_state=None, config=config, sensitive_paths=list(sens)))
            d.extend(self.session.provider_diagnostics(resp2.diagnostics, address, res, config, sens))
            if resp2.diagnostics.has_errors or resp2.planned_state is None:
                return None
            planned = resp2.planned_state
            ch.after = plain(planned)
            ch.after_unknown = unknown_paths(planned)
            ch.private = resp2.private
        self._changes[address] = ch
        self.session.planned[address] = planned
        self.session.configs[address] = config
        self.session.sensitive[address] = sens
        self.session.set_live(address, res.type, planned)
        return mark_paths(planned, sens)

    def _decide(self, res, address, index_key, prior, planned, resp, sens, scope) -> ResourceChange:
        module = module_string(scope.path)
        deps = self._dependencies(scope, res)
        ch = ResourceChange(address=address, type=res.type, name=res.name, module=module, index_key=index_key,
                            after=plain(planned), after_unknown=unknown_paths(planned), after_sensitive=sens,
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
        changed = changed_attrs(prior.attributes, planned, prior.sensitive_paths)
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
            self.session.diags.error("Instance cannot be destroyed", f"Resource {address} has lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed. To avoid this error and continue with the plan, either disable lifecycle.prevent_destroy or reduce the scope of the plan using the -target flag.", res.range, address)
        return ch

    def _triggered(self, res, scope) -> str | None:
        prefix = module_prefix(scope.path)
        for ref in res.lifecycle.replace_triggered_by:
            target = prefix + str(ref)
            for addr, ch in self._changes.items():
                if (addr == target or addr.startswith(target + "[") or target.startswith(addr + ".")) and ch.action in (Action.CREATE, Action.UPDATE) or (
                    (addr == target or addr.startswith(target + "[")) and ch.action.is_replace):
                    return str(ref)
        return None

    def _dependencies(self, scope, res) -> list[str]:
        node = (RES, scope.cfg.path, res.key)
        out = set()
        for a in self._ancestor_resources(node):
            out.add(label_of(a))
        return sorted(out)

    def _ancestor_resources(self, node):
        cache = self._ancestors
        if node not in cache:
            cache[node] = [a for a in self.session.graph.ancestors(node) if a[0] == RES]
        return cache[node]

    # ------------------------------------------------------------ removed / import
    def _forget_change(self, inst) -> ResourceChange:
        return ResourceChange(address=inst.address, type=inst.type, name=inst.name, module=inst.module, index_key=inst.index_key,
                              action=Action.FORGET, before=inst.attributes, before_sensitive=inst.sensitive_paths,
                              dependencies=list(inst.dependencies), reasons=["destroy = false is set in the configuration"])

    def _forget_warning(self) -> None:
        gone = [a for a, c in sorted(self._changes.items()) if c.action == Action.FORGET]
        if gone:
            self.session.diags.warning("Some objects will no longer be managed by trainform", "If you apply this plan, trainform will discard its tracking information for the following objects, but it will not delete them:\n" + "\n".join(f" - {a}" for a in gone) + "\n\nAfter applying this plan, trainform will no longer manage these objects. You will need to import them into trainform to manage them again.")

    def import_instance(self, scope, res: Resource, address: str, index_key, spec, d: Diagnostics):
        """Adopt the object ``spec.id`` as the prior state of ``address`` (import_ then read)."""
        from engine.plan.refactor_import import import_object

        inst = import_object(self.session, scope, res, address, index_key, spec, d)
        if inst is not None:
            self._imported[address] = inst
        return inst

    def _expand_imports(self, path: tuple, res: Resource, d: Diagnostics) -> None:
        """Import blocks with for_each that target this resource (in module instance
        ``path``) become specs now, before its instances are planned."""
        from engine.plan.refactor_import import expand_import

        for imp in self.session.config.module.imports:
            if imp.for_each is not None and tuple(imp.to.module) == path and (imp.to.type, imp.to.name) == (res.type, res.name):
                for spec in expand_import(self.session, imp, d):
                    if spec.address in self.imports:
                        d.error("Duplicate import configuration", f'An import block for "{spec.address}" was already declared. A resource can have only one import block.', imp.range)
                        continue
                    self.imports[spec.address] = spec

    def _finish_imports(self) -> None:
        """Imported objects join the prior state (apply's copy records them); an import
        whose target instance the configuration does not have is an error."""
        for address, inst in self._imported.items():
            self.session.state.resources[address] = inst
        for address, spec in sorted(self.imports.items()):
            if address in self._import_seen or (self.targets is not None and not self.targets.matches(address)):
                continue
            if self.session.diags.has_errors:
                break
            self._missing_import_target(address, spec)

    def _missing_import_target(self, address: str, spec) -> None:
        """The import names an instance the expanded configuration does not have: said
        at its ``to`` (found by probing: the frame was on ``id``), and, for a resource
        with count/for_each named without a key, as Terraform says it."""
        from engine.addrs import AddressError, parse_instance

        rng = spec.to_range or spec.range
        try:
            inst = parse_instance(address)
        except AddressError:
            inst = None
        cfg = self.session.config.descendant(static_path(inst.resource.module)) if inst is not None else None
        res = cfg.module.resources.get(inst.resource.key) if cfg is not None else None
        if res is not None and inst.key is None and (res.count is not None or res.for_each is not None):
            which, example = ("count", f"{address}[0]") if res.count is not None else ("for_each", f'{address}["key"]')
            self.session.diags.error("Invalid import 'to' expression", f"The target resource is using {which}: name one of its instances, like {example}.", rng, address)
            return
        self.session.diags.error("Configuration for import target does not exist", f"The configuration has no instance {address} to import into: check the instance key against the resource's count or for_each.", rng, address)

    def _delete_change(self, inst, why: str | None, res: Resource | None = None) -> ResourceChange:
        ch = ResourceChange(address=inst.address, type=inst.type, name=inst.name, module=inst.module, index_key=inst.index_key,
                            action=Action.DELETE, before=inst.attributes, before_sensitive=inst.sensitive_paths,
                            dependencies=list(inst.dependencies))
        if why:
            ch.reasons.append(why)
        if res is not None and res.lifecycle.prevent_destroy:
            self.session.diags.error("Instance cannot be destroyed", f"Resource {inst.address} has lifecycle.prevent_destroy set, but the plan calls for this resource to be destroyed. To avoid this error and continue with the plan, either disable lifecycle.prevent_destroy or reduce the scope of the plan using the -target flag.", res.range, inst.address)
        return ch


