"""Dependency graphs and the bounded parallel walker.

Edges point from a node to the nodes that must wait for it (``u -> v``: u
first).  Order comes only from the graph; among ready nodes the walker starts
the smallest sort key first, so runs are deterministic for a given graph.
"""

from __future__ import annotations

import heapq
import threading
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import Any, Callable, Hashable, Iterable

__all__ = ["Graph", "new_graph", "find_cycle", "walk", "WalkResult", "to_dot"]


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


class WalkResult:
    def __init__(self) -> None:
        self.done: set = set()
        self.failed: set = set()
        self.skipped: set = set()  # because a dependency failed
        self.not_started: set = set()  # because the walk was stopped


def walk(
    g,
    fn: Callable[[Hashable], bool],
    parallelism: int = 10,
    sort_key: Callable[[Hashable], Any] = str,
    stop: threading.Event | None = None,
    is_light: Callable[[Hashable], bool] = lambda n: False,
) -> WalkResult:
    """Call ``fn(node)`` for every node once all its predecessors succeeded.

    At most ``parallelism`` calls run at once.  ``fn`` returns True on
    success; a False (or an exception, which is re-raised after the walk)
    skips every descendant.  ``is_light`` nodes (cheap in-memory evaluations)
    run inline on the coordinating thread instead of taking a worker slot.
    """
    result = WalkResult()
    indeg = {n: g.in_degree(n) for n in g.nodes}
    height = _heights(g, indeg, is_light)
    user_key = sort_key

    def sort_key(n):  # noqa: F811 - light nodes first, then longest remaining chain
        return (0 if is_light(n) else 1, -height.get(n, 0), user_key(n))

    ready: list = [(sort_key(n), i, n) for i, n in enumerate(n for n, d in indeg.items() if d == 0)]
    heapq.heapify(ready)
    counter = len(ready)
    in_flight: dict[Future, Hashable] = {}
    error: BaseException | None = None
    lock = threading.Lock()

    def finish(node, ok: bool) -> None:
        nonlocal counter
        if ok:
            result.done.add(node)
            for succ in g.successors(node):
                indeg[succ] -= 1
                if indeg[succ] == 0:
                    counter += 1
                    heapq.heappush(ready, (sort_key(succ), counter, succ))
        else:
            result.failed.add(node)
            for d in g.descendants(node):
                if d not in result.skipped:
                    result.skipped.add(d)

    with ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="walk") as pool:
        while ready or in_flight:
            while ready and (stop is None or not stop.is_set()):
                _, _, node = ready[0]
                if node in result.skipped:
                    heapq.heappop(ready)
                    continue
                if is_light(node):
                    heapq.heappop(ready)
                    try:
                        ok = bool(fn(node))
                    except BaseException as e:  # noqa: BLE001
                        error = error or e
                        ok = False
                    finish(node, ok)
                    continue
                if len(in_flight) >= parallelism:
                    break
                heapq.heappop(ready)
                in_flight[pool.submit(fn, node)] = node
            if stop is not None and stop.is_set() and not in_flight:
                break
            if not in_flight:
                continue
            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for fut in done:
                node = in_flight.pop(fut)
                try:
                    ok = bool(fut.result())
                except BaseException as e:  # noqa: BLE001
                    error = error or e
                    ok = False
                finish(node, ok)
    for n in g.nodes:
        if n not in result.done and n not in result.failed and n not in result.skipped:
            result.not_started.add(n)
    if error is not None:
        raise error
    return result


def _heights(g, indeg: dict, is_light) -> dict:
    """Longest chain of heavy nodes from each node to a sink (list-scheduling priority)."""
    order = []
    deg = dict(indeg)
    stack = [n for n, d in deg.items() if d == 0]
    while stack:
        n = stack.pop()
        order.append(n)
        for s in g.successors(n):
            deg[s] -= 1
            if deg[s] == 0:
                stack.append(s)
    height: dict = {}
    for n in reversed(order):
        best = 0
        for s in g.successors(n):
            h = height.get(s, 0)
            if h > best:
                best = h
        height[n] = best + (0 if is_light(n) else 1)
    return height


def to_dot(g, label: Callable[[Hashable], str] = str, name: str = "trainform") -> str:
    """DOT text with edges drawn dependency -> dependent, sorted for stable output."""
    lines = [f'digraph "{name}" {{', "  compound = \"true\"", "  newrank = \"true\"", "  rankdir = \"RL\""]
    for n in sorted(g.nodes, key=label):
        lines.append(f'  "{label(n)}" [label = "{label(n)}", shape = "box"]')
    for u, v in sorted(g.edges, key=lambda e: (label(e[0]), label(e[1]))):
        lines.append(f'  "{label(v)}" -> "{label(u)}"')
    lines.append("}")
    return "\n".join(lines) + "\n"
