"""-target: which resource blocks and instances a plan covers.

A target names a block (``value.x``), an instance (``value.x[0]``), a module
(``module.m``) or a module instance (``module.m["k"]``), anywhere in the module
tree.  A plan covers the targeted instances and every resource they depend on
(those blocks planned whole); other blocks keep their prior state.  A destroy
plan covers the targets and every resource that depends on them (Terraform's
rule: nothing is left pointing at a destroyed object).

The graph is static (one node per block of each module): a target picks the
nodes of its module path without keys, and instances are then filtered by
address, so ``module.m["a"]`` plans nothing of ``module.m["b"]``.  As in
Terraform, a target without the key of a module with count/for_each
(``module.m.value.x``) matches no instance of it.

Variables, locals and outputs that read a resource the plan does not cover are
*pruned* (not evaluated; a root output keeps its prior value), as Terraform
leaves out outputs whose dependencies are not all targeted: an output of a run
not yet created cannot fail an ``-target=environment.x`` plan.
"""

from __future__ import annotations

from engine.diagnostics import Diagnostics
from engine.addrs import (
    AddressError,
    module_string,
    parse_instance,
    parse_module,
    split_step,
    static_path,
)
from engine.graph.nodes import MODULE, RES, label_of

__all__ = ["Targets", "matches_target"]


def matches_target(address: str, targets) -> bool:
    """Whether an instance address is, or is inside, one of the targets."""
    for t in targets:
        if address == t or address.startswith(t + "[") or address.startswith(t + "."):
            return True
    return False


def _module_path(address: str) -> tuple:
    """The module instance path of a resource or module address (() when unparsable)."""
    try:
        return parse_instance(address).resource.module
    except AddressError:
        try:
            return parse_module(address)
        except AddressError:
            return ()


def _static(target: str) -> str:
    """A target with its module instance keys dropped: the configuration object it is in."""
    try:
        inst = parse_instance(target)
    except AddressError:
        try:
            return module_string(static_path(parse_module(target)))
        except AddressError:
            return target
    r = inst.resource
    from engine.addrs import Instance, Resource

    return str(Instance(Resource(static_path(r.module), r.type, r.name), inst.key))


def _compatible(address_path: tuple, target_path: tuple) -> bool:
    """Whether an instance is in the module instances a target names: where both
    paths go through the same call, a key given by the target must be the same."""
    for a, t in zip(address_path, target_path):
        if split_step(a)[0] != split_step(t)[0]:
            return True
        if a != t:
            return False
    return True


class Targets:
    def __init__(self, graph, targets: list[str], destroy: bool = False) -> None:
        self.targets = list(targets)
        self.destroy = destroy
        self._paths = {t: _module_path(t) for t in self.targets}
        self._related: dict[str, set[str]] = {}  # target -> labels of the blocks planned with it
        self.nodes: set = set()  # targeted blocks and the resource blocks they depend on (destroy: dependents)
        for t in self.targets:
            st = _static(t)
            chosen = set()
            for node in graph.nodes:
                if node[0] == RES:
                    label = label_of(node)
                    if st == label or st.startswith(label + "[") or label.startswith(st + "."):
                        chosen.add(node)
            related = set()
            for n in chosen:
                near = graph.descendants(n) if destroy else graph.ancestors(n)
                related |= {a for a in near if a[0] == RES}
            self.nodes |= chosen | related
            self._related[t] = {label_of(a) for a in related}
        self.pruned: set = set() if destroy else self._prune(graph)

    def _prune(self, graph) -> set:
        """Variables, locals and outputs downstream of a resource the plan does not cover."""
        out: set = set()
        stack = [n for n in graph.nodes if n[0] == RES and n not in self.nodes]
        while stack:
            n = stack.pop()
            for s in graph.successors(n):
                if s[0] not in (RES, MODULE) and s not in out:
                    out.add(s)
                    stack.append(s)
        return out

    def covers(self, node) -> bool:
        return node in self.nodes

    def covers_module(self, path: tuple) -> bool:
        """Whether the plan covers any resource of the module at static ``path`` (or below)."""
        n = len(path)
        return any(node[1][:n] == path for node in self.nodes)

    def matches(self, address: str) -> bool:
        return matches_target(address, self.targets)

    def wants(self, block_label: str, address: str) -> bool:
        """Whether the plan covers this instance of a covered block (``block_label``
        is the block's static address): targeted, or part of a block planned with a
        target (a dependency; destroy: a dependent) in the target's module instances."""
        apath = None
        for t in self.targets:
            if address == t or address.startswith((t + "[", t + ".")):
                return True
            if block_label in self._related[t]:
                if apath is None:
                    apath = _module_path(address)
                if _compatible(apath, self._paths[t]):
                    return True
        return False


def check_addresses(targets, replace) -> Diagnostics:
    """-target and -replace addresses that cannot name anything are an error, as in
    Terraform (found by probing: ``-target=foo`` or a typo like ``module.m[0].``
    planned nothing and said "No changes")."""
    from engine.addrs import AddressError, parse_instance, parse_module

    d = Diagnostics()
    for flag, addrs in (("target", targets), ("replace", replace)):
        for a in addrs:
            try:
                parse_instance(a)
                continue
            except AddressError as e:
                why = str(e)
            if flag == "target":
                try:
                    if parse_module(a):
                        continue
                except AddressError:
                    pass
                d.error(f'Invalid target "{a}"', f"A target is a resource (value.a), one of its instances (value.a[0], value.a[\"k\"]) or a module (module.m, module.m[\"k\"]), possibly inside a module (module.m[0].value.a); this is none of them ({why}).")
            else:
                d.error(f'Invalid replace address "{a}"', f"-replace takes one resource instance, like value.a or value.a[0] or module.m.value.a[\"k\"] ({why}).")
    return d

