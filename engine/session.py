"""One command's evaluation context, shared by its plan and apply walks.

A :class:`Session` holds what both phases read and fill in: the configuration
and its module scopes (the values expressions see), root inputs, the prior
state, this operation's provider instances (made by the registry's factory and
configured once), the live objects providers may look up by id, the values
planned per instance (with real secrets, never written anywhere), and the
interrupt flags.  engine.plan.planner computes a Plan in it; engine.apply
executes one in it.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from engine.config.model import Config, Resource
from engine.diagnostics import Diagnostics
from engine.evaluate import ModuleScope, eval_body, split_marks
from engine.events import Events
from engine.plan.model import Plan, PlanOptions

__all__ = ["Session"]


class Session:
    def __init__(self, config: Config, inputs: dict[str, Any], state, options: PlanOptions | None = None,
                 events: Events | None = None, working_dir: str = ".") -> None:
        from engine.providers import ProviderContext
        from engine.values import sensitive_values_seen

        self.config = config
        self.inputs = inputs
        self.state = state  # engine.state.model.State: the prior state, upgraded/refreshed in place
        self.options = options or PlanOptions()
        self.events = events or Events()
        self.working_dir = os.path.abspath(working_dir)
        root_dir = config.module.dir
        self.scopes: dict[tuple, ModuleScope] = {cfg.path: ModuleScope(cfg, root_dir) for cfg in config.walk()}
        # module expansion: static module path -> its instance paths (set by the call's
        # expand node for count/for_each, derived from the parent for plain calls), and
        # each instance's each/count binding for its call's arguments
        self._instances: dict[tuple, list[tuple]] = {(): [()]}
        self.bindings: dict[tuple, dict] = {}
        self.diags = Diagnostics()
        self.graph = None  # the plan graph, once built
        self.targets = None  # engine.plan.targeting.Targets under -target
        self.stop = threading.Event()  # first interrupt: start nothing new
        self.cancel = threading.Event()  # second interrupt: cancel in-flight work
        self._lock = threading.Lock()
        self.live: dict[str, tuple[str, dict]] = {}  # address -> (type, attributes with real values)
        self.by_id: dict[str, str] = {}
        self.planned: dict[str, dict] = {}  # address -> planned attributes (real secret values)
        self.configs: dict[str, dict] = {}  # address -> evaluated configuration (real values)
        self.sensitive: dict[str, list] = {}  # address -> sensitive paths
        self.root_outputs: dict[str, Any] = {}
        self.skipped_outputs: set[str] = set()  # root outputs left out by -target (prior values kept)
        # console: evaluate every expression from the prior state (plans nothing, prunes
        # nothing; a resource not in state is null, as in Terraform's eval walk)
        self.evaluate_all = False
        self._providers: dict[str, Any] = {}
        self._block_index: dict | None = None
        self.provider_ctx = ProviderContext(
            working_dir=self.working_dir,
            data_dir=os.path.join(self.working_dir, ".trainform"),
            parallelism=self.options.parallelism,
            log=lambda a, line: self.events.log(a, line),
            progress=lambda a, m: self.events.progress(a, m),
            lookup=self.lookup,
            cancelled=self.cancel,
            stopping=self.stop,
            sensitive_values=sensitive_values_seen,
        )

    def build_graph(self) -> Diagnostics:
        """The plan graph of the configuration (engine.graph.builders); its diagnostics."""
        from engine.graph.builders import PlanGraphBuilder
        from engine.providers.registry import schema_of

        built = PlanGraphBuilder(self.config, schema_of, self.options.targets, self.options.destroy).build()
        self.graph, self.targets = built.graph, built.targets
        self.diags.extend(built.diags)
        return built.diags

    def plan(self) -> Plan:
        """Plan in this session (engine.plan.planner)."""
        from engine.plan.planner import Planner

        return Planner(self).plan()

    def pruned(self, node) -> bool:
        """-target: a variable, local or output that reads untargeted resources is not evaluated."""
        t = self.targets
        return t is not None and not self.evaluate_all and node in t.pruned

    # ------------------------------------------------------------ module instances
    def module_instances(self, path: tuple) -> list[tuple]:
        """The instance paths of the module at static ``path`` (engine.addrs).

        A call with count/for_each is expanded by its expand node before any node
        of the module runs (graph edges); a plain call has one instance per
        instance of its parent, made on first use.
        """
        got = self._instances.get(path)
        if got is None:
            parents = self.module_instances(path[:-1])
            with self._lock:
                got = self._instances.get(path)
                if got is None:
                    cfg = self.config.descendant(path)
                    got = [p + (path[-1],) for p in parents]
                    for ip in got:
                        self._add_scope(cfg, ip)
                    self._instances[path] = got
        return got

    def expanded(self, path: tuple) -> bool:
        """Whether the module at static ``path`` has been expanded in this walk."""
        return path in self._instances

    def set_module_instances(self, path: tuple, instances: list[tuple[tuple, dict]]) -> None:
        """A call's expansion: (instance path, each/count binding) per instance."""
        cfg = self.config.descendant(path)
        with self._lock:
            for ip, binding in instances:
                self._add_scope(cfg, ip)
                self.bindings[ip] = binding
            self._instances[path] = [ip for ip, _ in instances]

    def _add_scope(self, cfg, ip: tuple) -> None:
        if ip not in self.scopes or self.scopes[ip].cfg is not cfg:
            self.scopes[ip] = ModuleScope(cfg, self.config.module.dir, ip)

    # ------------------------------------------------------------ providers
    def provider(self, type_name: str):
        """This session's instance of a type's provider, made and configured on first use."""
        p = self._providers.get(type_name)
        if p is None:
            from engine.providers.registry import new_provider

            with self._lock:
                p = self._providers.get(type_name)
                if p is None:
                    p = new_provider(type_name)
                    p.configure(self.provider_ctx)
                    self._providers[type_name] = p
        return p

    def cancel_providers(self) -> None:
        """Second interrupt: ask every provider of this session to cancel its work."""
        for p in list(self._providers.values()):
            try:
                p.cancel()
            except Exception:  # noqa: BLE001 - best effort while exiting
                pass

    def lookup(self, id: str):
        """ProviderContext.lookup: (type, attributes) of the object with this id."""
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

    # ------------------------------------------------------------ evaluation
    def instance_config(self, scope: ModuleScope, res: Resource, address: str, binding: dict, d: Diagnostics):
        """Evaluate one instance's body: (provider, schema, config with marks split off, sensitive paths)."""
        provider = self.provider(res.type)
        schema = provider.schema()
        marked = eval_body(res.body, schema.block, scope.ctx(binding), d, address)
        sens: list = []
        config = split_marks(marked, (), sens)
        for p in schema.block.sensitive_paths(config):
            if list(p) not in sens:
                sens.append(list(p))
        return provider, schema, config, sens

    @staticmethod
    def provider_diagnostics(diags, address: str, res: Resource | None, config: dict | None, sens) -> Diagnostics:
        """A provider's diagnostics made presentable: the instance address, the block's
        range when the provider gave none, and no sensitive configured value echoed
        in a message (e.g. ``invalid duration "<the secret>"``)."""
        if not diags:
            return diags
        from engine.attr_range import attribute_range
        from engine.config.functions._base import redact_message
        from engine.values import get_path

        secrets = []
        for p in sens or ():
            v = get_path(config, tuple(p)) if config is not None else None
            if isinstance(v, (str, int, float)) and not isinstance(v, bool):
                secrets.append(v)
        for x in diags:
            x.address = x.address or address
            if x.range is None and res is not None:
                x.range = attribute_range(res.body, x.attribute_path) or res.range
            if secrets:
                x.summary = redact_message(x.summary, secrets)
                x.detail = redact_message(x.detail or "", secrets)
        return diags

    @staticmethod
    def ignore_changes(res: Resource, config: dict, prior: dict) -> dict:
        """lifecycle.ignore_changes: configured values replaced by the prior ones."""
        ic = res.lifecycle.ignore_changes
        if not ic:
            return config
        config = dict(config)
        for n in (list(config) if ic == "all" else ic):
            if n in prior:
                config[n] = prior[n]
        return config

    def set_resource_values(self, scope: ModuleScope, res: Resource, items: list[tuple[Any, Any]]) -> None:
        """Expose a block's instances to expressions: one value, a list (count) or a map (for_each)."""
        if res.count is not None:
            vals = [v for _, v in sorted(items, key=lambda kv: kv[0])]
        elif res.for_each is not None:
            vals = {k: v for k, v in sorted(items, key=lambda kv: str(kv[0]))}
        else:
            vals = items[0][1] if items else None
        scope.values[res.type][res.name] = vals

    def block_instances(self, module: str, key: str) -> dict:
        """Prior instances of one resource block, by index key (indexed once per session)."""
        if self._block_index is None:
            idx: dict = {}
            for i in self.state.resources.values():
                if i.status != "deposed":
                    idx.setdefault((i.module, f"{i.type}.{i.name}"), {})[i.index_key] = i
            self._block_index = idx
        return dict(self._block_index.get((module, key), {}))
