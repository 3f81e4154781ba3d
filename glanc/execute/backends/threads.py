"""The default backend: a bounded pool of threads, each running one call at a time.

Model calls spend their time waiting on a server or inside llama.cpp (which
releases the GIL), so threads keep many in flight from one process.
"""

from __future__ import annotations

from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait

from ...lm.call import Caller, Outcome
from ...lm.credentials import redact
from ...recipe.node import Node


class Bounded:
    """What backends that run ``workers`` calls at once, each submitted by the
    scheduler within its model's limits, share: ``_running`` holds the calls out."""

    workers: int
    _running: dict

    @property
    def inflight(self) -> int:
        return len(self._running)

    stalled = False  # every call here finishes on its own

    def accepts(self, node: Node) -> bool:
        return len(self._running) < self.workers

    def limits_calls(self, node: Node) -> bool:
        return False


class ThreadBackend(Bounded):
    """Calls nodes through ``caller`` on up to ``workers`` threads."""

    def __init__(self, caller: Caller, workers: int):
        self.caller = caller
        self.workers = workers
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="glanc")
        self._running: dict[Future, Node] = {}

    def submit(self, node: Node) -> None:
        self._running[self._pool.submit(self.caller, node)] = node

    def poll(self, timeout: float) -> list[tuple[Node, Outcome]]:
        done, _ = wait(list(self._running), timeout=timeout, return_when=FIRST_COMPLETED)
        out = []
        for future in done:
            node = self._running.pop(future)
            try:
                outcome = future.result()
            except Exception as exc:  # a bug in a worker must not lose the build
                error = redact(f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
                outcome = Outcome(None, None, error, 1, 0, 0, 0.0)
            out.append((node, outcome))
        return out

    def cancel(self) -> None:
        # in-flight calls are abandoned, not awaited: their results are never
        # recorded, and the store keeps every node finished before now
        self.caller.stop()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def close(self) -> None:
        self._pool.shutdown(wait=True)
