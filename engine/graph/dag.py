"""The dependency graph: a small dict-of-sets DAG, cycle finding, DOT output.

Edges point from a node to the nodes that must wait for it (``u -> v``: u
first).  Order comes only from the graph (see engine.graph.walk).
"""

from __future__ import annotations

from typing import Callable, Hashable

__all__ = ["Graph", "new_graph", "find_cycle", "to_dot"]


class Graph:
    """A small directed graph: the hot path of every command.

    networkx is the graph library for analysis (cycle paths, export), but
    importing it costs 150-270 ms on these machines -- half of the validate
    budget for 1,000 resources -- so the walk uses this dict-of-sets graph
    and :meth:`to_networkx` converts when a command needs networkx's
    algorithms (cycle reporting, ``trainform graph``).
    """

    __slots__ = ("_succ", "_pred")

    def __init__(self) -> None:
        self._succ: dict[Hashable, dict[Hashable, None]] = {}
        self._pred: dict[Hashable, dict[Hashable, None]] = {}

    def add_node(self, n: Hashable) -> None:
        if n not in self._succ:
            self._succ[n] = {}
            self._pred[n] = {}

    def add_edge(self, u: Hashable, v: Hashable) -> None:
        self.add_node(u)
        self.add_node(v)
        self._succ[u][v] = None
        self._pred[v][u] = None

    def __contains__(self, n) -> bool:
        return n in self._succ

    def __len__(self) -> int:
        return len(self._succ)

    @property
    def nodes(self):
        return self._succ.keys()

    @property
    def edges(self):
        return [(u, v) for u, vs in self._succ.items() for v in vs]

    def successors(self, n):
        return iter(self._succ[n])

    def predecessors(self, n):
        return iter(self._pred[n])

    def in_degree(self, n) -> int:
        return len(self._pred[n])

    def _reach(self, n, table) -> set:
        seen: set = set()
        stack = list(table[n])
        while stack:
            x = stack.pop()
            if x not in seen:
                seen.add(x)
                stack.extend(table[x])
        return seen

    def descendants(self, n) -> set:
        return self._reach(n, self._succ)

    def ancestors(self, n) -> set:
        return self._reach(n, self._pred)

    def has_path(self, u, v) -> bool:
        return u == v or v in self.descendants(u)

    def reverse(self) -> "Graph":
        g = Graph()
        for n in self._succ:
            g.add_node(n)
        for u, v in self.edges:
            g.add_edge(v, u)
        return g

    def to_networkx(self):
        import networkx as nx

        g = nx.DiGraph()
        g.add_nodes_from(self._succ)
        g.add_edges_from(self.edges)
        return g


def new_graph() -> Graph:
    return Graph()


def find_cycle(g) -> list | None:
    """The nodes of one cycle, in order, or None.

    A Kahn pass decides cheaply whether there is a cycle; only then is
    networkx asked for the cycle's path.
    """
    indeg = {n: g.in_degree(n) for n in g.nodes}
    ready = [n for n, d in indeg.items() if d == 0]
    seen = 0
    while ready:
        n = ready.pop()
        seen += 1
        for s in g.successors(n):
            indeg[s] -= 1
            if indeg[s] == 0:
                ready.append(s)
    if seen == len(indeg):
        return None
    import networkx as nx

    nxg = g.to_networkx() if isinstance(g, Graph) else g
    edges = nx.find_cycle(nxg)
    return [u for u, _ in edges]


def to_dot(g, label: Callable[[Hashable], str] = str, name: str = "trainform") -> str:
    """DOT text with edges drawn dependency -> dependent, sorted for stable output."""
    lines = [f'digraph "{name}" {{', "  compound = \"true\"", "  newrank = \"true\"", "  rankdir = \"RL\""]
    for n in sorted(g.nodes, key=label):
        lines.append(f'  "{label(n)}" [label = "{label(n)}", shape = "box"]')
    for u, v in sorted(g.edges, key=lambda e: (label(e[0]), label(e[1]))):
        lines.append(f'  "{label(v)}" -> "{label(u)}"')
    lines.append("}")
    return "\n".join(lines) + "\n"
