"""In-process queueing for a local compute pool.

All runs of one apply that target the same compute share a :class:`Pool`:
at most ``max_concurrent`` run at once, and each gets distinct GPU indexes.
Waiters are served first-come-first-served (a ticket queue), so a big run
asking for all GPUs is not starved by a stream of small ones.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Callable

__all__ = ["Pool", "Lease", "get_pool", "PoolError"]


class PoolError(Exception):
    pass


@dataclass
class Lease:
    pool: "Pool"
    gpus: list[int] = field(default_factory=list)
    released: bool = False

    def release(self) -> None:
        if not self.released:
            self.released = True
            self.pool._release(self)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.release()


class Pool:
    def __init__(self, max_concurrent: int, gpus: list[int]) -> None:
        self.max_concurrent = max(1, int(max_concurrent))
        self.gpus = list(gpus)
        self.free = list(gpus)
        self.running = 0
        self.cond = threading.Condition()
        self.queue: list[object] = []

    def configure(self, max_concurrent: int, gpus: list[int]) -> None:
        """Adopt new settings (a compute updated in the same apply); leases keep theirs."""
        with self.cond:
            self.max_concurrent = max(1, int(max_concurrent))
            busy = [g for g in self.gpus if g not in self.free]
            self.gpus = list(gpus)
            self.free = [g for g in gpus if g not in busy]
            self.cond.notify_all()

    def acquire(self, n_gpus: int = 0, abort: Callable[[], bool] = lambda: False, on_wait: Callable[[], None] | None = None, poll: float = 0.2) -> Lease | None:
        """Block until a slot and ``n_gpus`` GPUs are free; None when ``abort()`` turns true."""
        if n_gpus > len(self.gpus):
            raise PoolError(f"the run needs {n_gpus} GPU(s) but the pool has {len(self.gpus)}")
        ticket = object()
        waited = False
        with self.cond:
            self.queue.append(ticket)
            try:
                while True:
                    if self.queue[0] is ticket and self.running < self.max_concurrent and len(self.free) >= n_gpus:
                        gpus = self.free[:n_gpus]
                        self.free = self.free[n_gpus:]
                        self.running += 1
                        return Lease(self, gpus)
                    if abort():
                        return None
                    if not waited and on_wait is not None:
                        waited = True
                        on_wait()
                    self.cond.wait(poll)
            finally:
                self.queue.remove(ticket)
                self.cond.notify_all()

    def _release(self, lease: Lease) -> None:
        with self.cond:
            self.running -= 1
            self.free.extend(g for g in lease.gpus if g in self.gpus and g not in self.free)
            self.free.sort()
            self.cond.notify_all()


_pools: dict[str, Pool] = {}
_guard = threading.Lock()


def get_pool(compute_id: str, max_concurrent: int, gpus: list[int]) -> Pool:
    """The process-wide pool of a compute (created on first use)."""
    with _guard:
        p = _pools.get(compute_id)
        if p is None:
            p = _pools[compute_id] = Pool(max_concurrent, gpus)
        elif p.max_concurrent != max_concurrent or p.gpus != list(gpus):
            p.configure(max_concurrent, gpus)
        return p
