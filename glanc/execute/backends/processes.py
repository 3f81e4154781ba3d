"""The thread backend spread over worker processes, for when one core is not enough.

A remote call costs glanc about a millisecond and a half of CPU (DSPy's
formatting and parsing, the HTTP exchange, the coordinator's bookkeeping), so
one process tops out near 700 calls a second whatever the server could take.
With ``--processes N`` each of N spawned workers runs its share of
``--concurrency`` on threads, through the same ``Caller`` (``work.caller_for``),
while this process keeps deciding, limiting and recording every node: the
scheduler still submits call by call within each model's limits, and the
store, the rows and their bytes are the thread backend's.
"""

from __future__ import annotations

import itertools
import multiprocessing
import pickle
import queue
from typing import Any

from ...errors import GlancError
from ...lm.call import Outcome
from ...recipe.node import Node
from ...specs.types import Template
from .threads import Bounded
from .work import Work, caller_for, failed

POLL_S = 0.05  # how often a wait for results looks for a worker that died


def serve(template: bytes, requests: Any, results: Any, threads: int) -> None:
    """A worker process: run each (ticket, work) on up to ``threads`` threads and put
    (ticket, outcome) on ``results``, until a None arrives."""
    from concurrent.futures import ThreadPoolExecutor

    caller = caller_for(template)
    pool = ThreadPoolExecutor(threads, thread_name_prefix="glanc-p")

    def one(ticket: int, work: Work) -> None:
        try:
            outcome = caller(work)
        except Exception as exc:  # noqa: BLE001 - reported as the node's failure
            outcome = failed(exc)
        results.put((ticket, outcome))

    try:
        while (item := requests.get()) is not None:
            pool.submit(one, *item)
    except KeyboardInterrupt:  # the build was interrupted: it abandons what is in flight
        return
    pool.shutdown(wait=True)


class ProcessBackend(Bounded):
    """Calls nodes on ``processes`` worker processes, ``workers`` calls in flight in all."""

    def __init__(self, template: Template, processes: int, workers: int):
        context = multiprocessing.get_context("spawn")  # no fork of a process holding DuckDB
        self.workers = max(workers, processes)
        threads = -(-self.workers // processes)
        blob = pickle.dumps(template)
        self._results = context.Queue()
        self._requests = [context.Queue() for _ in range(processes)]
        self._procs = [
            context.Process(target=serve, args=(blob, q, self._results, threads), daemon=True)
            for q in self._requests
        ]
        for proc in self._procs:
            proc.start()
        self._tickets = itertools.count()
        self._running: dict[int, tuple[Node, int]] = {}  # ticket -> (node, worker)
        self._load = [0] * processes

    def submit(self, node: Node) -> None:
        worker = min(range(len(self._load)), key=self._load.__getitem__)
        ticket = next(self._tickets)
        self._running[ticket] = (node, worker)
        self._load[worker] += 1
        self._requests[worker].put((ticket, Work.of(node)))

    def poll(self, timeout: float) -> list[tuple[Node, Outcome]]:
        out: list[tuple[Node, Outcome]] = []
        waited = 0.0
        while not out and self._running:
            try:
                item = self._results.get(timeout=min(POLL_S, max(timeout - waited, 0.001)))
            except queue.Empty:
                waited += POLL_S
                out += self._lost()
                if waited >= timeout:
                    break
                continue
            out.append(self._take(*item))
            while True:  # and whatever else is in already
                try:
                    out.append(self._take(*self._results.get_nowait()))
                except queue.Empty:
                    break
        return out

    def _take(self, ticket: int, outcome: Outcome) -> tuple[Node, Outcome]:
        node, worker = self._running.pop(ticket)
        self._load[worker] -= 1
        return node, outcome

    def _lost(self) -> list[tuple[Node, Outcome]]:
        """The calls of a worker that died (killed, out of memory), as failed calls:
        a rerun retries them; the build goes on without that worker."""
        dead = {w for w, proc in enumerate(self._procs) if not proc.is_alive()}
        if not dead:
            return []
        if len(dead) == len(self._procs) and self._running:
            codes = sorted({self._procs[w].exitcode for w in dead}, key=str)
            raise GlancError(f"every worker process died (exit {codes}): run again with "
                             "fewer --processes, or without")  # fmt: skip
        lost = [t for t, (_, w) in self._running.items() if w in dead]
        for w in dead:
            self._load[w] = 2**62  # no more work for it
        outcome = failed(RuntimeError("the worker process running this call died"))
        return [self._take(t, outcome) for t in lost]

    def cancel(self) -> None:
        for proc in self._procs:
            proc.terminate()
        for proc in self._procs:
            proc.join(timeout=5)
        self._release()

    def _release(self) -> None:
        """Close the queues and let their semaphores go now: an interrupted build
        exits with ``os._exit`` (its threads may sit in calls), which runs no
        finalizer, and the resource tracker would then warn of leaked semaphores."""
        import gc

        for q in (*self._requests, self._results):
            q.close()
            q.cancel_join_thread()
        self._requests, self._results, self._procs = [], None, []  # the workers held them too
        gc.collect()

    def close(self) -> None:
        for q in self._requests:
            q.put(None)
        for proc in self._procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.terminate()
