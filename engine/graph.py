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

import networkx as nx

__all__ = ["new_graph", "find_cycle", "walk", "WalkResult", "to_dot"]


def new_graph() -> nx.DiGraph:
    return nx.DiGraph()


def find_cycle(g: nx.DiGraph) -> list | None:
    """The nodes of one cycle, in order, or None."""
    try:
        edges = nx.find_cycle(g)
    except nx.NetworkXNoCycle:
        return None
    return [u for u, _ in edges]


class WalkResult:
    def __init__(self) -> None:
        self.done: set = set()
        self.failed: set = set()
        self.skipped: set = set()  # because a dependency failed
        self.not_started: set = set()  # because the walk was stopped


def walk(
    g: nx.DiGraph,
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
            for d in nx.descendants(g, node):
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


def to_dot(g: nx.DiGraph, label: Callable[[Hashable], str] = str, name: str = "trainform") -> str:
    """DOT text with edges drawn dependency -> dependent, sorted for stable output."""
    lines = [f'digraph "{name}" {{', "  compound = \"true\"", "  newrank = \"true\"", "  rankdir = \"RL\""]
    for n in sorted(g.nodes, key=label):
        lines.append(f'  "{label(n)}" [label = "{label(n)}", shape = "box"]')
    for u, v in sorted(g.edges, key=lambda e: (label(e[0]), label(e[1]))):
        lines.append(f'  "{label(v)}" -> "{label(u)}"')
    lines.append("}")
    return "\n".join(lines) + "\n"
