"""Execute a plan: walk the apply graph, call providers, persist each finished change.

The apply graph (engine.graph.builders.ApplyGraphBuilder) has one node per
resource *instance* change, one per deletion, an expand node per block and the
variable/local/output nodes.  Each instance node re-evaluates its configuration
with the now-known values of its dependencies, asks the provider for the final
plan, checks it against the planned change, applies it and appends the result to
the state journal before its dependents start -- so a killed process never loses
a finished change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from engine.addrs import deposed, module_string, parse_module
from engine.diagnostics import Diagnostics
from engine.evaluate import mark_paths, split_marks
from engine.graph.nodes import OUTPUT, RES, label_of
from engine.plan.diff import (
    first_inconsistency,
    known_after,
    plain,
    propagate_sensitive,
    strip_unknown,
)
from engine.plan.model import Action, Plan, ResourceChange
from engine.session import Session
from engine.values import Sensitive, contains_unknown, unmark


@dataclass
class ApplyResult:
    added: int = 0
    changed: int = 0
    destroyed: int = 0
    imported: int = 0
    forgotten: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    interrupted: bool = False
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


class Applier:
    def __init__(self, session: Session, plan: Plan, journal, new_state) -> None:
        self.session = self.s = session
        self.plan = plan
        self.journal = journal
        self.state = new_state  # a copy of the prior state, updated as changes finish
        self.result = ApplyResult()
        self.changes = {c.address: c for c in plan.resource_changes}
        self.inst_values: dict[str, Any] = {}
        self._addr_index: dict | None = None
        self._in_apply: dict[str, tuple] = {}  # address -> (change, block, sensitive paths) while applying

    def build(self):
        """The apply graph of this plan (and its diagnostics: a cycle)."""
        from engine.graph.builders import ApplyGraphBuilder

        return ApplyGraphBuilder(self.plan, self.s.graph).build()

    # ------------------------------------------------------------ walk
    def run(self) -> ApplyResult:
        from engine.graph import walk

        built = self.build()
        if built.diags.has_errors:
            self.result.diagnostics.extend(built.diags)
            return self.result
        g = self.graph = built.graph
        self.s.provider_ctx.checkpoint = self.checkpoint
        self._record_refactoring()
        res = walk(g, lambda n: n.apply(self), self.s.options.parallelism, sort_key=label_of, stop=self.s.stop,
                   is_light=lambda n: n.is_light(self))
        changes = [n for n in res.skipped if n.kind in ("inst", "del")]
        self.result.skipped.extend(n[1] for n in changes)
        if res.not_started and not res.failed:
            self._finish_values(g, res)
        if any(n.kind in ("inst", "del") for n in res.not_started):
            self.result.interrupted = True
        if not res.failed and not res.not_started and not res.skipped:
            self._outputs()
        elif res.failed or res.skipped or self.result.interrupted:
            self._outputs(partial=True, done=res.done)
        return self.result

    def _finish_values(self, g, res) -> None:
        """After an interrupt (one Ctrl-C) the walk stops starting nodes; the resources that
        were running finished.  Evaluate the values (variables, locals, outputs, block
        gathers) whose dependencies all finished, so their results are recorded too."""
        for n in _topo(g):
            if n not in res.not_started or n.kind == "del":
                continue
            if n.kind == "inst" and self.changes[n[1]].action != Action.NOOP:
                continue
            if all(p in res.done for p in g.predecessors(n)):
                try:
                    ok = n.apply(self)
                except Exception:  # noqa: BLE001 - leave it not started
                    ok = False
                if ok:
                    res.not_started.discard(n)
                    res.done.add(n)

    def checkpoint(self, address: str, new: dict, private: dict | None) -> None:
        """ProviderContext.checkpoint: journal an object whose apply is still running."""
        entry = self._in_apply.get(address)
        if entry is None or not isinstance(new, dict):
            return
        c, res, sens = entry
        self._record(c, res, strip_unknown(new), list(sens), private, tainted=False)

    def _record_refactoring(self) -> None:
        """Journal what the plan did to the prior state itself, before any change runs:
        moves (already applied to this state copy), imports (adopted objects) and
        forgets (removed blocks with destroy = false)."""
        moved = [(old, new) for old, new in self.plan.moves if new in self.state.resources]
        for old, _ in moved:
            self.journal.record_removal(old)
        for _, new in moved:
            self.journal.record_instance(self.state.resources[new])
        for c in self.plan.resource_changes:
            if c.importing and c.address in self.state.resources:
                self.journal.record_instance(self.state.resources[c.address])
                self.result.imported += 1
            elif c.action == Action.FORGET:
                self.journal.record_removal(c.address)
                self.state.resources.pop(c.address, None)
                self.result.forgotten += 1

    def change_is_light(self, address: str) -> bool:
        c = self.changes[address]
        return c.action == Action.NOOP or self.s.provider(c.type).inline

    def gather(self, n) -> bool:
        """All instances of a block are done: expose them as TYPE.NAME to expressions."""
        if self.s.options.destroy:  # a destroy evaluates nothing after its plan
            return True
        _, path, key = n
        for ip in self.s.module_instances(path):
            scope = self.s.scopes[ip]
            res = scope.module.resources[key]
            items = []
            for a in self._addresses_of(module_string(ip), key):
                inst = self.state.resources.get(a)
                if inst is None or inst.status == "deposed":
                    continue
                v = self.inst_values.get(a)
                if v is None:
                    v = mark_paths(inst.attributes, inst.sensitive_paths)
                items.append((inst.index_key, v))
            if not items and self.s.targets is not None:
                from engine.values import UNKNOWN

                scope.values[res.type][res.name] = UNKNOWN  # left out by -target, as in the plan
                continue
            self.s.set_resource_values(scope, res, items)
        return True

    def _addresses_of(self, module: str, key: str) -> list[str]:
        """Addresses that may hold instances of one block: prior state plus planned changes."""
        idx = self._addr_index
        if idx is None:
            idx = self._addr_index = {}
            for a, inst in self.state.resources.items():
                idx.setdefault((inst.module, f"{inst.type}.{inst.name}"), set()).add(a)
            for c in self.plan.resource_changes:
                idx.setdefault((c.module, f"{c.type}.{c.name}"), set()).add(c.address)
        return sorted(idx.get((module, key), ()))

    def _ctx_binding(self, res, c: ResourceChange) -> dict:
        if res.count is not None:
            return {"count": {"index": c.index_key}}
        if res.for_each is not None:
            from engine.config.expr import evaluate

            value, _ = evaluate(res.for_each, self.s.scopes[parse_module(c.module)].ctx())
            value = unmark(value)
            if isinstance(value, dict):
                v = value.get(c.index_key)
            else:
                v = c.index_key
            return {"each": {"key": c.index_key, "value": v}}
        return {}

    def apply_instance(self, c: ResourceChange) -> bool:
        from engine.providers import CREATE, UPDATE, ApplyRequest, PlanRequest

        s = self.s
        scope = s.scopes[parse_module(c.module)]
        res = scope.module.resources[f"{c.type}.{c.name}"]
        prior = self.state.resources.get(c.address)
        if c.action == Action.NOOP:
            planned = s.planned.get(c.address)
            if planned is not None:
                self.inst_values[c.address] = mark_paths(planned, s.sensitive.get(c.address, []))
            return True
        d = Diagnostics()
        binding = self._ctx_binding(res, c)
        provider, schema, config, sens = s.instance_config(scope, res, c.address, binding, d)
        if d.has_errors:
            self.result.diagnostics.extend(d)
            self.result.failed.append(c.address)
            return False
        replace = c.action.is_replace
        prior_attrs = None if (replace or prior is None) else prior.attributes
        if prior is not None and not replace:
            config = s.ignore_changes(res, config, prior_attrs)
        action_word = "create" if (prior_attrs is None) else "update"
        if c.action == Action.REPLACE_CREATE_FIRST and prior is not None:
            self._depose(c, prior)
        s.events.resource_start(c.address, "replace" if replace else action_word)
        t0 = time.monotonic()
        self._in_apply[c.address] = (c, res, sens)
        try:
            presp = provider.plan(PlanRequest(address=c.address, prior_state=prior_attrs, config=config, prior_private=None if prior is None or replace else prior.private, sensitive_paths=list(sens)))
            d.extend(s.provider_diagnostics(presp.diagnostics, c.address, res, config, sens))
            if presp.diagnostics.has_errors or presp.planned_state is None:
                return self._fail(c, d, t0, action_word)
            planned = presp.planned_state
            bad = first_inconsistency(known_after(c.after, c.after_unknown), planned)
            if bad:
                d.error("Provider produced inconsistent final plan", f"When expanding the plan for {c.address} to include new values learned so far during apply, the {c.type} provider produced an invalid new value for .{bad}: it was planned as one value and is now another. This is a bug in the provider.", address=c.address)
                return self._fail(c, d, t0, action_word)
            resp = provider.apply(ApplyRequest(address=c.address, action=CREATE if prior_attrs is None else UPDATE, prior_state=prior_attrs, planned_state=planned, config=config, private=presp.private, sensitive_paths=list(sens)))
        except Exception as e:
            d.error("Provider crashed", f"The {c.type} provider failed while applying {c.address}: {type(e).__name__}: {e}. This is a bug in the provider.", address=c.address)
            return self._fail(c, d, t0, action_word)
        d.extend(s.provider_diagnostics(resp.diagnostics, c.address, res, config, sens))
        new = resp.new_state
        if new is not None and not resp.diagnostics.has_errors:
            bad = first_inconsistency(planned, new)
            if bad:
                d.error("Provider produced inconsistent result after apply", f"When applying changes to {c.address}, the {c.type} provider produced an unexpected new value: .{bad} was planned as one value and is now another. This is a bug in the provider; the object was recorded as tainted.", address=c.address)
            if contains_unknown(new):
                d.error("Provider returned unknown values after apply", f"The {c.type} provider left values unknown after applying {c.address}. This is a bug in the provider.", address=c.address)
                new = strip_unknown(new)
        if new is None or d.has_errors:
            if new is not None:  # came into being anyway: remember it, tainted
                self._record(c, res, new, sens, resp.private, tainted=True)
            return self._fail(c, d, t0, action_word)
        for p in schema.block.sensitive_paths(new):
            if list(p) not in sens:
                sens.append(list(p))
        propagate_sensitive(config, new, sens)
        self._record(c, res, new, sens, resp.private, tainted=False)
        self.inst_values[c.address] = mark_paths(new, sens)
        s.set_live(c.address, c.type, new)
        elapsed = time.monotonic() - t0
        if action_word == "create":
            self.result.added += 1
        else:
            self.result.changed += 1
        s.events.resource_done(c.address, action_word, elapsed, new.get("id") if isinstance(new.get("id"), str) else None)
        self.result.diagnostics.extend(d)
        return True

    def _fail(self, c, d, t0, action_word) -> bool:
        for x in d:
            x.address = x.address or c.address
        self.result.diagnostics.extend(d)
        self.result.failed.append(c.address)
        self.s.events.resource_failed(c.address, action_word, time.monotonic() - t0)
        return False

    def _record(self, c, res, new, sens, private, tainted: bool) -> None:
        from engine.state import secrets
        from engine.state.model import ResourceInstance

        # one salt per instance: equal secrets in one object (an input echoed as an output)
        # get equal digests, so a plan verifies each with one slow KDF run, not one per path
        salt = secrets.new_salt()
        attrs = secrets.redact(plain(new), [tuple(p) for p in sens], salt_for=lambda _path: salt)
        inst = ResourceInstance(
            address=c.address, type=c.type, name=c.name, module=c.module, index_key=c.index_key,
            attributes=attrs, sensitive_paths=[list(p) for p in sens], private=private,
            dependencies=list(c.dependencies), status="tainted" if tainted else "ready",
            schema_version=self.s.provider(c.type).schema().version,
            create_before_destroy=res.lifecycle.create_before_destroy,
        )
        # an inline provider's object exists only in state: no sync per record (see record_instance)
        self.journal.record_instance(inst, durable=not self.s.provider(c.type).inline)
        self.state.resources[c.address] = inst

    def _depose(self, c: ResourceChange, prior) -> None:
        """create_before_destroy: keep the old object in state as deposed until it is
        deleted, so an interrupted replacement never loses track of it."""
        import copy

        old = copy.deepcopy(prior)
        old.address = deposed(c.address)
        old.status = "deposed"
        self.journal.record_instance(old)
        self.state.resources[old.address] = old

    def delete(self, c: ResourceChange) -> bool:
        from engine.providers import DELETE, ApplyRequest

        s = self.s
        prior = self.state.resources.get(c.address) if c.action == Action.DELETE else None
        if c.action != Action.DELETE:
            prior_state = s.state.resources.get(c.address)
            prior_attrs = prior_state.attributes if prior_state is not None else c.before
            private = prior_state.private if prior_state is not None else None
        else:
            prior_attrs = prior.attributes if prior is not None else c.before
            private = prior.private if prior is not None else None
        if prior_attrs is None:
            return True
        provider = s.provider(c.type)
        s.events.resource_start(c.address, "destroy")
        t0 = time.monotonic()
        d = Diagnostics()
        try:
            resp = provider.apply(ApplyRequest(address=c.address, action=DELETE, prior_state=prior_attrs, planned_state=None, config=s.configs.get(c.address), private=private))
            d.extend(resp.diagnostics)
        except Exception as e:
            d.error("Provider crashed", f"The {c.type} provider failed while destroying {c.address}: {type(e).__name__}: {e}. This is a bug in the provider.", address=c.address)
        if d.has_errors:
            return self._fail(c, d, t0, "destroy")
        if c.action in (Action.DELETE, Action.REPLACE_DELETE_FIRST):
            self.journal.record_removal(c.address)
            self.state.resources.pop(c.address, None)
        elif c.action == Action.REPLACE_CREATE_FIRST:
            d_addr = deposed(c.address)
            if d_addr in self.state.resources:
                self.journal.record_removal(d_addr)
                self.state.resources.pop(d_addr, None)
        for x in d:
            x.address = x.address or c.address
        self.result.diagnostics.extend(d)  # warnings (e.g. "image left in the registry")
        self.result.destroyed += 1
        s.events.resource_done(c.address, "destroy", time.monotonic() - t0, None)
        return True

    def _outputs(self, partial: bool = False, done=()) -> None:
        """Record the root outputs.  ``partial`` (an apply that failed or was interrupted):
        outputs evaluated from finished work are recorded; those that depend on a resource
        that did not finish are dropped instead of keeping a value computed from an object
        that is no longer current (e.g. a run replaced by an execution that failed)."""
        from engine.state import secrets
        from engine.values import to_plain

        if partial:
            if self.s.options.destroy:
                return
            unfinished = set(self.result.failed) | set(self.result.skipped) | {
                c.address for c in self.plan.resource_changes
                if c.action != Action.NOOP and c.address not in self.state.resources}
            outs = dict(self.state.outputs)
            for name in self.s.config.module.outputs:
                deps = {label_of(a) for a in self.s.graph.ancestors((OUTPUT, (), name)) if a[0] == RES}
                value = self.s.root_outputs.get(name)
                if any(_refers(dep, a) for dep in deps for a in unfinished):
                    outs.pop(name, None)
                elif (OUTPUT, (), name) in done and name in self.s.root_outputs and not contains_unknown(value):
                    sens = isinstance(value, Sensitive) or self.s.config.module.outputs[name].sensitive
                    plain = to_plain(split_marks(unmark(value)))
                    if plain is None:
                        outs.pop(name, None)
                        continue
                    outs[name] = {"value": secrets.digest(plain) if sens else plain, "sensitive": sens, "type": _output_type(value, sens)}
            if outs != self.state.outputs:
                self.state.outputs = outs
                self.journal.record_outputs(outs)
            return
        if self.s.options.destroy:
            if self.s.targets is None:  # a targeted destroy leaves the outputs alone
                self.state.outputs = {}
                self.journal.record_outputs({})
            return
        # outputs left out by -target keep their prior values
        outs = {k: v for k, v in self.state.outputs.items() if k in self.s.skipped_outputs}
        for name, value in sorted(self.s.root_outputs.items()):
            sens = isinstance(value, Sensitive) or self.s.config.module.outputs[name].sensitive
            plain = to_plain(split_marks(unmark(value)))
            if contains_unknown(value):
                if name in self.state.outputs and self.s.targets is not None:
                    outs[name] = self.state.outputs[name]  # not computable under -target: keep
                continue
            if plain is None:
                continue  # as Terraform: a null output is not recorded (output -json omits it)
            if sens and _holds_digest(plain) and name in self.state.outputs:
                # computed from a sensitive attribute that state keeps only as a digest (a refresh-only
                # apply reads resources from state, not from the configuration): a digest of a digest
                # would make the next plan show the output as changed; the prior digest is still right
                outs[name] = self.state.outputs[name]
                continue
            outs[name] = {"value": secrets.digest(plain) if sens else plain, "sensitive": sens, "type": _output_type(value, sens)}
        self.state.outputs = outs
        self.journal.record_outputs(outs)


def _holds_digest(v) -> bool:
    """Does a plain value hold a stored secret digest (``scrypt:...``) anywhere?"""
    from engine.state import secrets

    if isinstance(v, dict):
        return any(_holds_digest(x) for x in v.values())
    if isinstance(v, list):
        return any(_holds_digest(x) for x in v)
    return isinstance(v, str) and secrets.is_digest(v)


def _output_type(value, sensitive: bool):
    """The value's type in Terraform's JSON form, kept in state for ``output -json``
    (Terraform prints it; trainform printed none: found by probing). None for a
    sensitive output: an object type would name its keys."""
    if sensitive:
        return None
    from engine.config.types import cty_json_type, type_of

    return cty_json_type(type_of(value))


def _refers(block: str, address: str) -> bool:
    """Is ``address`` (``run.train[0]``) an instance of the resource block ``block``?"""
    return address.split("[", 1)[0] == block


def _topo(g) -> list:
    indeg = {n: g.in_degree(n) for n in g.nodes}
    order, ready = [], sorted((n for n, d in indeg.items() if d == 0), key=str)
    while ready:
        n = ready.pop(0)
        order.append(n)
        for m in g.successors(n):
            indeg[m] -= 1
            if indeg[m] == 0:
                ready.append(m)
    return order
