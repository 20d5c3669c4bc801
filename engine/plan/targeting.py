"""-target: which resource blocks and instances a plan covers.

A target names a block (``value.x``), an instance (``value.x[0]``) or a module
(``module.m``).  The plan covers the targeted blocks and every resource they
depend on (planned whole); other blocks keep their prior state.
"""

from __future__ import annotations

from engine.graph.nodes import RES, label_of

__all__ = ["Targets", "matches_target"]


def matches_target(address: str, targets) -> bool:
    """Whether an instance address is, or is inside, one of the targets."""
    for t in targets:
        if address == t or address.startswith(t + "[") or address.startswith(t + "."):
            return True
    return False


class Targets:
    def __init__(self, graph, targets: list[str]) -> None:
        self.targets = list(targets)
        chosen = set()
        for node in graph.nodes:
            if node[0] == RES:
                label = label_of(node)
                if any(t == label or t.startswith(label + "[") or label.startswith(t + ".") for t in self.targets):
                    chosen.add(node)
        self.nodes = set(chosen)  # targeted blocks and the resource blocks they depend on
        self._dependencies: set[str] = set()
        for n in chosen:
            deps = {a for a in graph.ancestors(n) if a[0] == RES}
            self.nodes |= deps
            self._dependencies |= {label_of(a) for a in deps}

    def covers(self, node) -> bool:
        return node in self.nodes

    def matches(self, address: str) -> bool:
        return matches_target(address, self.targets)

    def instance_filtered(self, block_address: str) -> bool:
        """Only some instances of this block are targeted (value.x[0], not value.x)?
        Blocks reached as dependencies of a target are planned whole."""
        direct = [t for t in self.targets if t.startswith(block_address + "[")]
        whole = any(t == block_address or block_address.startswith(t + ".") for t in self.targets)
        return bool(direct) and not whole and block_address not in self._dependencies
