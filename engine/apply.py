"""Execute a plan: walk the apply graph, call providers, persist each finished change.

The apply graph has one node per resource *instance* (create/update/no-op),
one per deletion, and the static variable/local/output nodes.  Each node
re-evaluates its configuration with the now-known values of its
dependencies, asks the provider for the final plan, checks it against the
saved plan, applies it and appends the result to the state journal before
its dependents start -- so a killed process never loses a finished change.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from engine.core import Session, _module_of, _plain, _unknown_paths
from engine.diagnostics import Diagnostics
from engine.evaluate import LOCAL, OUTPUT, RES, VAR, mark_paths, node_label, split_marks
from engine.plan.model import Action, Plan, ResourceChange
from engine.values import Sensitive, Unknown, contains_unknown, unmark

INST, DEL, BLK = "inst", "del", "blk"


@dataclass
class ApplyResult:
    added: int = 0
    changed: int = 0
    destroyed: int = 0
    failed: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    interrupted: bool = False
    diagnostics: Diagnostics = field(default_factory=Diagnostics)


def _label(n) -> str:
    if n[0] in (INST, DEL):
        return n[1] + (" (destroy)" if n[0] == DEL else "")
    if n[0] == BLK:
        return "".join(f"module.{p}." for p in n[1]) + n[2] + " (expand)"
    return node_label(n)


class Applier:
    def __init__(self, session: Session, plan: Plan, journal, new_state) -> None:
        self.s = session
        self.plan = plan
        self.journal = journal
        self.state = new_state  # a copy of the prior state, updated as changes finish
        self.result = ApplyResult()
        self.changes = {c.address: c for c in plan.resource_changes}
        self.inst_values: dict[str, Any] = {}
        self._in_apply: dict[str, tuple] = {}  # address -> (change, block, sensitive paths) while applying

    # ------------------------------------------------------------ graph
    def build(self):
        from engine.graph import Graph

        s = self.s
        g = Graph()
        by_block: dict[tuple, list[ResourceChange]] = {}
        for c in self.plan.resource_changes:
            by_block.setdefault((tuple(_path(c.module)), f"{c.type}.{c.name}"), []).append(c)
        for node in s.graph.nodes:
            if node[0] == RES:
                g.add_node((BLK, node[1], node[2]))
            else:
                g.add_node(node)
        for u, v in s.graph.edges:
            g.add_edge((BLK, u[1], u[2]) if u[0] == RES else u, (BLK, v[1], v[2]) if v[0] == RES else v)
        for (path, key), changes in by_block.items():
            blk = (BLK, path, key)
            in_config = blk in g
            preds = list(g.predecessors(blk)) if in_config else []
            for c in changes:
                if c.action != Action.DELETE:
                    n = (INST, c.address)
                    g.add_node(n)
                    for p in preds:
                        g.add_edge(p, n)
                    g.add_edge(n, blk)
                if c.action in (Action.DELETE, Action.REPLACE_DELETE_FIRST, Action.REPLACE_CREATE_FIRST):
                    dn = (DEL, c.address)
                    g.add_node(dn)
                    if c.action == Action.REPLACE_DELETE_FIRST:
                        g.add_edge(dn, (INST, c.address))
                    elif c.action == Action.REPLACE_CREATE_FIRST:
                        g.add_edge((INST, c.address), dn)
                        if in_config:
                            for succ in g.successors(blk):
                                if succ[0] == BLK:
                                    g.add_edge(succ, dn)
        # deletions: dependents go first
        deleting = {c.address: c for c in self.plan.resource_changes if c.action in (Action.DELETE, Action.REPLACE_DELETE_FIRST, Action.REPLACE_CREATE_FIRST)}
        block_of = {}
        for a, c in deleting.items():
            block_of.setdefault(((c.module + ".") if c.module else "") + f"{c.type}.{c.name}", []).append(a)
        for a, c in deleting.items():
            for dep in c.dependencies:
                for target in block_of.get(dep, []) + ([dep] if dep in deleting and dep not in block_of.get(dep, []) else []):
                    if target != a and not (self.changes[target].action == Action.REPLACE_CREATE_FIRST):
                        if not g.has_path((DEL, target), (DEL, a)):
                            g.add_edge((DEL, a), (DEL, target))
        return g

    # ------------------------------------------------------------ walk
    def run(self) -> ApplyResult:
        from engine.graph import walk, find_cycle

        g = self.build()
        cycle = find_cycle(g)
        if cycle:
            self.result.diagnostics.error("Cycle in apply graph: " + ", ".join(_label(n) for n in cycle), "The planned changes cannot be ordered (often create_before_destroy combined with a dependency that is destroyed first).")
            return self.result
        self.graph = g
        self.s.provider_ctx.checkpoint = self.checkpoint

        def light(n):
            if n[0] in (VAR, LOCAL, OUTPUT, BLK):
                return True
            c = self.changes[n[1]]
            return c.action == Action.NOOP or self.s.provider(c.type).inline

        res = walk(g, self.node, self.s.options.parallelism, sort_key=_label, stop=self.s.stop, is_light=light)
        for n in res.skipped:
            if n[0] in (INST, DEL):
                self.result.skipped.append(n[1])
        if res.not_started and not res.failed:
            self._finish_values(g, res)
        if res.not_started and any(n[0] in (INST, DEL) for n in res.not_started):
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
            if n not in res.not_started or n[0] == DEL:
                continue
            if n[0] == INST and self.changes[n[1]].action != Action.NOOP:
                continue
            if all(p in res.done for p in g.predecessors(n)):
                try:
                    ok = self.node(n)
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
        self._record(c, res, _strip_unknown(new), list(sens), private, tainted=False)

    def node(self, n) -> bool:
        kind = n[0]
        s = self.s
        if kind == VAR:
            return s.eval_var(n)
        if kind == LOCAL:
            return s.eval_local(n)
        if kind == OUTPUT:
            return s.eval_output(n)
        if kind == BLK:
            return self._gather(n)
        if kind == DEL:
            return self._delete(self.changes[n[1]])
        return self._apply_instance(self.changes[n[1]])

    def _gather(self, n) -> bool:
        """All instances of a block are done: expose them as TYPE.NAME to expressions."""
        _, path, key = n
        scope = self.s.scopes[path]
        res = scope.module.resources[key]
        prefix = "".join(f"module.{p}." for p in path)
        items = []
        module = _module_of(path)
        for a in self._addresses_of(module, key):
            inst = self.state.resources.get(a)
            if inst is None or inst.status == "deposed":
                continue
            v = self.inst_values.get(a)
            if v is None:
                v = mark_paths(inst.attributes, inst.sensitive_paths)
            items.append((inst.index_key, v))
        self.s._set_values(scope, res, items)
        return True

    def _addresses_of(self, module: str, key: str) -> list[str]:
        """Addresses that may hold instances of one block: prior state plus planned changes."""
        idx = getattr(self, "_addr_index", None)
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
            scope_vals = None
            from engine.config.expr import evaluate

            value, d = evaluate(res.for_each, self.s.scopes[tuple(_path(c.module))].ctx())
            value = unmark(value)
            if isinstance(value, dict):
                v = value.get(c.index_key)
            else:
                v = c.index_key
            return {"each": {"key": c.index_key, "value": v}}
        return {}

    def _apply_instance(self, c: ResourceChange) -> bool:
        from providers.base import ApplyRequest, PlanRequest, CREATE, UPDATE

        s = self.s
        path = tuple(_path(c.module))
        scope = s.scopes[path]
        res = scope.module.resources[f"{c.type}.{c.name}"]
        prior = self.state.resources.get(c.address)
        if c.action == Action.NOOP:
            planned = s.planned.get(c.address)
            if planned is not None:
                self.inst_values[c.address] = mark_paths(planned, s.sensitive.get(c.address, []))
            return True
        d = Diagnostics()
        binding = self._ctx_binding(res, c)
        provider, schema, config, sens = s.eval_instance_config(scope, res, c.address, binding, d)
        if d.has_errors:
            self.result.diagnostics.extend(d)
            self.result.failed.append(c.address)
            return False
        replace = c.action.is_replace
        prior_attrs = None if (replace or prior is None) else prior.attributes
        if prior is not None and not replace:
            config = s._apply_ignore_changes(res, config, prior_attrs)
        action_word = "create" if (prior_attrs is None) else "update"
        if c.action == Action.REPLACE_CREATE_FIRST and prior is not None:
            self._depose(c, prior)
        s.events.resource_start(c.address, "replace" if replace else action_word)
        t0 = time.monotonic()
        self._in_apply[c.address] = (c, res, sens)
        try:
            presp = provider.plan(PlanRequest(address=c.address, prior_state=prior_attrs, config=config, prior_private=None if prior is None or replace else prior.private))
            d.extend(presp.diagnostics)
            if presp.diagnostics.has_errors or presp.planned_state is None:
                return self._fail(c, d, t0, action_word)
            planned = presp.planned_state
            bad = _inconsistent(_plain_known(c.after, c.after_unknown), planned)
            if bad:
                d.error("Provider produced inconsistent final plan", f"When expanding the plan for {c.address} to include new values learned so far during apply, the {c.type} provider produced an invalid new value for .{bad}: it was planned as one value and is now another. This is a bug in the provider.", address=c.address)
                return self._fail(c, d, t0, action_word)
            resp = provider.apply(ApplyRequest(address=c.address, action=CREATE if prior_attrs is None else UPDATE, prior_state=prior_attrs, planned_state=planned, config=config, private=presp.private))
        except Exception as e:
            d.error("Provider crashed", f"The {c.type} provider failed while applying {c.address}: {type(e).__name__}: {e}. This is a bug in the provider.", address=c.address)
            return self._fail(c, d, t0, action_word)
        d.extend(resp.diagnostics)
        new = resp.new_state
        if new is not None and not resp.diagnostics.has_errors:
            bad = _inconsistent(planned, new)
            if bad:
                d.error("Provider produced inconsistent result after apply", f"When applying changes to {c.address}, the {c.type} provider produced an unexpected new value: .{bad} was planned as one value and is now another. This is a bug in the provider; the object was recorded as tainted.", address=c.address)
            if contains_unknown(new):
                d.error("Provider returned unknown values after apply", f"The {c.type} provider left values unknown after applying {c.address}. This is a bug in the provider.", address=c.address)
                new = _strip_unknown(new)
        if new is None or d.has_errors:
            if new is not None:  # came into being anyway: remember it, tainted
                self._record(c, res, new, sens, resp.private, tainted=True)
            return self._fail(c, d, t0, action_word)
        for p in schema.block.sensitive_paths(new):
            if list(p) not in sens:
                sens.append(list(p))
        from engine.core import propagate_sensitive

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

        attrs = secrets.redact(_plain(new), [tuple(p) for p in sens])
        inst = ResourceInstance(
            address=c.address, type=c.type, name=c.name, module=c.module, index_key=c.index_key,
            attributes=attrs, sensitive_paths=[list(p) for p in sens], private=private,
            dependencies=list(c.dependencies), status="tainted" if tainted else "ready",
            schema_version=self.s.provider(c.type).schema().version,
            create_before_destroy=res.lifecycle.create_before_destroy,
        )
        self.journal.record_instance(inst)
        self.state.resources[c.address] = inst

    def _depose(self, c: ResourceChange, prior) -> None:
        """create_before_destroy: keep the old object in state as deposed until it is
        deleted, so an interrupted replacement never loses track of it."""
        import copy

        old = copy.deepcopy(prior)
        old.address = deposed_address(c.address)
        old.status = "deposed"
        self.journal.record_instance(old)
        self.state.resources[old.address] = old

    def _delete(self, c: ResourceChange) -> bool:
        from providers.base import ApplyRequest, DELETE

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
            d_addr = deposed_address(c.address)
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
                deps = {node_label(a) for a in self.s.graph.ancestors((OUTPUT, (), name)) if a[0] == RES}
                value = self.s.root_outputs.get(name)
                if any(_refers(dep, a) for dep in deps for a in unfinished):
                    outs.pop(name, None)
                elif (OUTPUT, (), name) in done and name in self.s.root_outputs and not contains_unknown(value):
                    sens = isinstance(value, Sensitive) or self.s.config.module.outputs[name].sensitive
                    plain = to_plain(split_marks(unmark(value)))
                    outs[name] = {"value": secrets.digest(plain) if sens else plain, "sensitive": sens}
            if outs != self.state.outputs:
                self.state.outputs = outs
                self.journal.record_outputs(outs)
            return
        if self.s.options.destroy:
            self.state.outputs = {}
            self.journal.record_outputs({})
            return
        outs = {}
        for name, value in sorted(self.s.root_outputs.items()):
            sens = isinstance(value, Sensitive) or self.s.config.module.outputs[name].sensitive
            plain = to_plain(split_marks(unmark(value)))
            if contains_unknown(value):
                continue
            outs[name] = {"value": secrets.digest(plain) if sens else plain, "sensitive": sens}
        self.state.outputs = outs
        self.journal.record_outputs(outs)


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


def deposed_address(address: str) -> str:
    return f"{address} (deposed)"


def _path(module: str) -> list:
    if not module:
        return []
    parts = module.split(".")
    return [parts[i + 1] for i in range(0, len(parts), 2)]


def _plain_known(after, unknown_paths):
    from engine.values import UNKNOWN, set_path

    v = after
    for p in unknown_paths:
        v = set_path(v, tuple(p), UNKNOWN) if p else UNKNOWN
    return v


def _inconsistent(planned, new, path="") -> str | None:
    """The first path where a known planned value differs from ``new``."""
    from engine.values import to_plain

    if isinstance(planned, Unknown):
        return None
    if isinstance(planned, dict) and isinstance(new, dict):
        for k, v in planned.items():
            r = _inconsistent(v, new.get(k), f"{path}.{k}" if path else str(k))
            if r:
                return r
        return None
    if isinstance(planned, list) and isinstance(new, list) and len(planned) == len(new):
        for i, (a, b) in enumerate(zip(planned, new)):
            r = _inconsistent(a, b, f"{path}[{i}]")
            if r:
                return r
        return None
    if to_plain(planned) != to_plain(new):
        return path or "(root)"
    return None


def _strip_unknown(v):
    if isinstance(v, Unknown):
        return None
    if isinstance(v, dict):
        return {k: _strip_unknown(x) for k, x in v.items()}
    if isinstance(v, list):
        return [_strip_unknown(x) for x in v]
    return v
