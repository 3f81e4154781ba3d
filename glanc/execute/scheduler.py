"""Execute the build graph: look nodes up in the store, hand the rest to a
backend, and expand the graph as outputs arrive.

One coordinating thread owns the store and the graph state; the backend only
calls models. Nodes run as soon as their inputs exist, deepest stage first, so
question-answer pairs complete early and the queue stays small. Every node is
decided by the planner's ``Decider``, so a build does what ``glanc plan`` said.
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..lm.call import Outcome
from ..plan.decide import CACHED, JOIN, SKIPPED, Decider
from ..recipe import glan
from ..recipe.expand import Expander
from ..recipe.graph import Graph
from ..recipe.node import Node
from ..recipe.row import row
from ..specs.types import Discipline
from ..store import Record, Store
from .backends import Backend
from .events import Called, Decided, Event, Finished, Queued, Skipped, Tick
from .limits import ModelLimits

# A lookup of keys that may be stored scans the store's key column (it has no
# index, records.NODES_COLUMNS says why), so a full walk costs its number of
# lookups times the store's size: a 1M-pair walk (2M nodes) took 2,949 s in
# lookups of 512 (py-spy: 93% of 90 s sampled in them). 4096 makes an eighth
# as many (100k-pair walk: lookups 18.7 -> 4.4 s, the same bytes, see
# benchmarks/lookups.py); a fresh build's keys are answered by the in-memory
# KeyIndex without a scan, whatever the batch.
LOOKUP_BATCH = 4096
LOOKUP_MIN = 256


class Scheduler:
    """Walks one build: decides each node, keeps the backend busy within each
    model's limits, records results, and hands finished rows to ``on_row``, which
    returns the nodes that redraw a row it dropped (or that ``poll`` returns later,
    when a row's verdict is decided elsewhere)."""

    def __init__(
        self,
        graph: Graph,
        store: Store,
        backend: Backend,
        decider: Decider,
        emit: Callable[[Event], None],
        on_row: Callable[[Node, dict[str, Any]], list[Node]],
        *,
        concurrency: int,
        rpm: int | None = None,
        tpm: int | None = None,
        poll: Callable[[], list[Node]] | None = None,
    ):
        self.graph, self.store, self.backend, self.decider = graph, store, backend, decider
        self.emit, self.on_row = emit, on_row
        self.poll = poll  # nodes decided elsewhere since (the gate's helper's redraws)
        self.expander = Expander(graph)
        self.concurrency = max(1, concurrency)
        self.rpm, self.tpm = rpm, tpm
        self.seq = itertools.count()
        self.ready: list[Node] = []
        # per model, a heap of (-depth, order, node): deepest stage first
        self.waiting: dict[Any, list[tuple[int, int, Node]]] = {}
        self.per_model: dict[Any, int] = {}  # calls in flight per model
        self._limits: dict[Any, ModelLimits] = {}
        # nodes sharing a key with one already waiting or in flight: completed with it
        self.followers: dict[str, list[Node]] = {}
        self.replacing: set[str] = set()  # keys whose stored ok record a rerun replaces

    # -- graph expansion ------------------------------------------------------
    def push(self, nodes: list[Node]) -> None:
        for stage, count in Counter(node.stage for node in nodes).items():
            self.emit(Queued(stage, count))
        self.ready.extend(nodes)

    def start(self, disciplines: tuple[Discipline, ...]) -> None:
        self.push(self.expander.roots(disciplines))

    def finished(self, node: Node, output: dict[str, Any] | None) -> None:
        """Expand the graph below a finished node (``output`` None when it failed)."""
        if node.stage == glan.ROW_STAGE and output is not None:
            self.push(self.on_row(node, row(self.graph, node, output)))  # redraws, if any
        elif node.stage == glan.JUDGE.name:  # the gate asked: its verdict, maybe redraws
            self.push(self.on_row(node, output))
        else:
            self.push(self.expander.children(node, output))

    def done(self, node: Node, record: Record, cached: bool) -> None:
        self.emit(Finished(node, record, cached))
        if record.status == "ok":
            self.store.use(node.key, node.slot, node.discipline.shard)
            self.finished(node, record.output)
        else:
            self.finished(node, None)

    # -- deciding ---------------------------------------------------------------
    def lookup(self) -> None:
        # the newest nodes first, a batch at a time off the end of the queue: a
        # cached node's children are looked up before its siblings', so a walk of
        # a built graph holds a path's worth of nodes, not a whole stage's (taking
        # the queue level by level held 1M question nodes at once at 1M pairs)
        while self.ready:
            batch = self.ready[-LOOKUP_BATCH:]
            del self.ready[-LOOKUP_BATCH:]
            self._lookup_batch(batch)

    def _lookup_batch(self, batch: list[Node]) -> None:
        found = self.store.get_many([n.key for n in batch])
        previous = self.store.previous(n.slot for n in batch) if self.decider.needs_previous else {}
        for node in batch:
            rec = found.get(node.key)
            decision = self.decider.decide(node, rec, previous.get(node.slot))
            self.emit(Decided(node, decision.action))
            if decision.action == CACHED:
                if rec.slot is None:  # written by an older glanc: record its place now
                    self.store.set_place(
                        node.key, node.slot, node.program_id, node.model_id, node.decoding_id
                    )
                self.done(node, rec, cached=True)
            elif decision.action == SKIPPED:
                self.emit(Skipped(node))
                self.finished(node, None)
            elif decision.action == JOIN:
                self.followers[node.key].append(node)
            else:
                if decision.reseed:  # a forced or rejected node runs with fresh seeds
                    node = replace(node, rollout=rec.rollout + 1)
                    if decision.replaces:
                        self.replacing.add(node.key)
                self.followers[node.key] = []
                heap = self.waiting.setdefault(node.model, [])
                heapq.heappush(heap, (-glan.STAGE[node.stage].depth, next(self.seq), node))

    # -- running ----------------------------------------------------------------
    def record(self, node: Node, outcome: Outcome) -> Record:
        self.emit(Called(node, outcome))
        record = record_of(node, outcome)
        self.store.put(record, keep_old=node.key in self.replacing)
        return record

    def limits(self, node: Node) -> ModelLimits:
        """A node's model's limits: an in-process model runs one call at a time
        (more would only queue on its lock); a spec's ``concurrency``, ``rpm`` and
        ``tpm`` on the model, else the build's."""
        limits = self._limits.get(node.model)
        if limits is None and self.backend.limits_calls(node):  # a wave is handed over whole
            limits = self._limits[node.model] = ModelLimits(inflight=2**62, rpm=None, tpm=None)
        if limits is None:
            ref = node.model.ref
            inflight = 1 if node.model.kind == "gguf" else self.concurrency
            limits = ModelLimits(
                inflight=min(int(ref.option("concurrency", inflight)), self.concurrency),
                rpm=ref.option("rpm", self.rpm),
                tpm=ref.option("tpm", self.tpm),
            )
            self._limits[node.model] = limits
        return limits

    def submit(self) -> None:
        """Start waiting nodes, deepest stage first within each model, while the
        build and each model have room."""
        now = time.monotonic()
        for model, heap in list(self.waiting.items()):
            if not heap:
                continue
            limits = self.limits(heap[0][2])
            while (
                heap
                and self.backend.accepts(heap[0][2])
                and self.per_model.get(model, 0) < limits.inflight
                and limits.may_start(now)
            ):
                node = heapq.heappop(heap)[2]
                self.per_model[model] = self.per_model.get(model, 0) + 1
                limits.started(now)
                self.backend.submit(node)
            if not heap:
                del self.waiting[model]

    def run(self) -> None:
        while True:
            if self.poll is not None:
                self.push(self.poll())
            # look up in batches (a query that scans costs little more for thousands
            # of keys than for one), so wait for a batch unless the workers run short
            if self.ready and (
                len(self.ready) >= LOOKUP_MIN
                or sum(len(h) for h in self.waiting.values()) < 2 * self.concurrency
                or not self.backend.inflight
            ):
                self.lookup()
            self.submit()
            self.store.flush_if_due()
            self.emit(Tick())
            if self.backend.stalled and not self.ready and not self.waiting:
                return  # the rest waits on a batch file: run the build again after it
            if not self.backend.inflight:
                if not self.ready and not self.waiting:
                    return
                if not self.ready:  # held back by a rate limit: let the window move
                    time.sleep(0.05)
                continue
            results = self.backend.poll(timeout=0.25)
            now = time.monotonic()
            for node, outcome in results:
                self.per_model[node.model] -= 1
                self.limits(node).finished(now, outcome.tokens_in + outcome.tokens_out)
                record = self.record(node, outcome)
                self.decider.settled(node.key)
                self.done(node, record, cached=False)
                for follower in self.followers.pop(node.key, ()):
                    self.done(follower, record, cached=True)


def record_of(node: Node, outcome: Outcome) -> Record:
    """The store's record of a node's call."""
    return Record(
        key=node.key,
        stage=node.stage,
        inputs=node.inputs,
        inputs_json=node.inputs_json or None,
        output=outcome.output,
        raw=outcome.raw,
        model=node.model.label,
        tokens_in=outcome.tokens_in,
        tokens_out=outcome.tokens_out,
        latency_ms=outcome.latency_ms,
        status="ok" if outcome.output is not None else "failed",
        error=outcome.error,
        attempts=outcome.attempts,
        slot=node.slot,
        program=node.program_id,
        model_key=node.model_id,
        decoding_key=node.decoding_id,
        rollout=node.rollout,
    )
