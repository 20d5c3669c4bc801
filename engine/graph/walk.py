"""The bounded parallel walker: visit every node once its dependencies succeeded.

Among ready nodes the walker starts light (in-memory) nodes first, then the
longest remaining chain of heavy nodes, then the smallest sort key, so runs
are deterministic for a given graph and long chains start early.
"""

from __future__ import annotations

import heapq
import threading
from typing import TYPE_CHECKING, Any, Callable, Hashable

if TYPE_CHECKING:
    from concurrent.futures import Future

__all__ = ["walk", "WalkResult"]


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

    pool = None
    try:
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
                if pool is None:  # a walk of light nodes only (validate, most plans) needs no threads
                    from concurrent.futures import ThreadPoolExecutor

                    pool = ThreadPoolExecutor(max_workers=max(1, parallelism), thread_name_prefix="walk")
                in_flight[pool.submit(fn, node)] = node
            if stop is not None and stop.is_set() and not in_flight:
                break
            if not in_flight:
                continue
            from concurrent.futures import FIRST_COMPLETED, wait

            done, _ = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for fut in done:
                node = in_flight.pop(fut)
                try:
                    ok = bool(fut.result())
                except BaseException as e:  # noqa: BLE001
                    error = error or e
                    ok = False
                finish(node, ok)
    finally:
        if pool is not None:
            pool.shutdown(wait=True)
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
