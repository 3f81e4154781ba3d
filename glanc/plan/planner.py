"""Plan a build without running it: what is cached, what will run and why.

The planner walks the same graph the executor builds (through ``Expander``)
and decides each node through the same ``Decider``, reading the store but never
writing it and never calling a model. Nodes whose
inputs are known are planned exactly; below a node that will run, outputs do
not exist yet, so the rest is *estimated* from the spec's counts and labelled
as such. Token figures come from the store's per-stage averages.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from ..lm.usage import cost, discounted, price_of
from ..recipe import glan
from ..recipe.expand import Expander
from ..recipe.graph import Graph
from ..recipe.node import Node
from ..recipe.row import content, row
from ..specs.contract import STAGES
from ..specs.types import CHECKS, CONTAMINATION, Discipline, Taxonomy
from ..store import StageAverages, Store
from ..store.batches import Wave
from .decide import CACHED, REASONS, SKIPPED, Decider, Decision
from .select import Selection, normalise_path

BATCH = 4096
BEFORE_JUDGE = frozenset((*CHECKS, CONTAMINATION))  # a row these drop never meets the judge


class Foresight(Protocol):
    """What the quality gate would decide of cached rows (``quality.recorded``)."""

    def of(self, rows: list[tuple[Node, dict[str, Any]]]) -> list[str | None]:
        """The check that would drop each ``(answer node, row content)`` (what
        ``recipe.row.content`` gives); None: kept."""
        ...


@dataclass(frozen=True)
class StagePlan:
    """One stage's share of a plan. ``estimated`` nodes are not known yet: they
    sit below nodes that will run, and are counted from the spec."""

    cached: int = 0
    run: int = 0
    estimated: int = 0
    skipped: int = 0
    reasons: tuple[tuple[str, int], ...] = ()
    tokens_in: float | None = None
    tokens_out: float | None = None
    cost: float | None = None

    def as_json(self) -> dict[str, Any]:
        return {
            "cached": self.cached,
            "run": self.run,
            "estimated": self.estimated,
            "skipped": self.skipped,
            "reasons": dict(self.reasons),
            "tokens": {
                "in": None if self.tokens_in is None else round(self.tokens_in),
                "out": None if self.tokens_out is None else round(self.tokens_out),
            },
            "cost": None if self.cost is None else round(self.cost, 4),
        }


@dataclass(frozen=True)
class PlannedNode:
    """A known node that will run."""

    stage: str
    key: str
    path: str
    index: int
    reason: str


@dataclass(frozen=True)
class Redraws:
    """What the quality gate may add: a row a check drops is drawn again (a question
    and an answer call, and a judge call when the judge is on), up to ``bound``
    times. How many rows will be dropped is not known before their calls return;
    ``rate``, the share of first draws the last build redrew, gives an estimate."""

    bound: int
    calls_per_redraw: int
    rate: float | None = None
    rows_to_run: int = 0

    @property
    def expected_calls(self) -> int | None:
        if self.rate is None:
            return None
        return round(self.rate * self.rows_to_run * self.calls_per_redraw)

    def as_json(self) -> dict[str, Any]:
        return {
            "bound": self.bound,
            "calls_per_redraw": self.calls_per_redraw,
            "last_rate": None if self.rate is None else round(self.rate, 4),
            "expected_calls": self.expected_calls,
        }


@dataclass(frozen=True)
class PendingReview:
    """What keeping the nodes under review would add to this plan."""

    paths: tuple[str, ...]
    disciplines: int
    calls: int = 0
    tokens_in: float | None = None
    tokens_out: float | None = None
    cost: float | None = None
    problem: str | None = None  # why keeping them would not validate

    @classmethod
    def between(cls, now: Plan, kept: Plan, paths: tuple[str, ...], disciplines: int):
        def more(attr: str) -> float | None:
            a, b = now._total(attr), kept._total(attr)
            return None if a is None or b is None else b - a

        return cls(paths, disciplines, kept.lm_calls - now.lm_calls,
                   more("tokens_in"), more("tokens_out"), more("cost"))  # fmt: skip

    def as_json(self) -> dict[str, Any]:
        return {
            "nodes": list(self.paths),
            "disciplines": self.disciplines,
            "lm_calls": self.calls,
            "tokens": {
                "in": None if self.tokens_in is None else round(self.tokens_in),
                "out": None if self.tokens_out is None else round(self.tokens_out),
            },
            "cost": None if self.cost is None else round(self.cost, 4),
            "problem": self.problem,
        }


@dataclass(frozen=True)
class Plan:
    taxonomy: str
    stages: tuple[tuple[str, StagePlan], ...]
    nodes: tuple[PlannedNode, ...]
    tokens_known: bool
    priced: bool
    redraws: Redraws | None = None
    pending: PendingReview | None = None
    batches: tuple[Wave, ...] = ()  # waves on a Batch API (or in batch files) not taken back yet
    in_batches: int = 0  # nodes to run whose call one of those waves already holds
    carried: int = 0  # unchanged disciplines the build carries over without walking them

    def stage(self, name: str) -> StagePlan:
        return dict(self.stages)[name]

    @property
    def lm_calls(self) -> int:
        """Model calls the build will make, one per node (retries not counted)."""
        return sum(s.run + s.estimated for _, s in self.stages)

    @property
    def has_estimates(self) -> bool:
        return any(s.estimated for _, s in self.stages)

    def _total(self, attr: str) -> float | None:
        values = [getattr(s, attr) for _, s in self.stages if s.run + s.estimated]
        if any(v is None for v in values):
            return None
        return sum(values)

    def as_json(self) -> dict[str, Any]:
        tin, tout, cost = self._total("tokens_in"), self._total("tokens_out"), self._total("cost")
        return {
            "taxonomy": self.taxonomy,
            "stages": {name: s.as_json() for name, s in self.stages},
            "lm_calls": self.lm_calls,
            "estimated": self.has_estimates,
            "tokens": {
                "in": None if tin is None else round(tin),
                "out": None if tout is None else round(tout),
            },
            "cost": None if cost is None else round(cost, 4),
            "redraws": None if self.redraws is None else self.redraws.as_json(),
            "pending_review": None if self.pending is None else self.pending.as_json(),
            "carried_over": self.carried,
            **({"batches": [wave_json(w) for w in self.batches],
                "in_batches": self.in_batches} if self.batches else {}),  # fmt: skip
        }


def wave_json(wave: Wave) -> dict[str, Any]:
    """A wave as ``glanc plan --json`` shows it."""
    return {
        "wave": wave.wave,
        "model": wave.model,
        "batch_id": wave.batch_id,
        "file": wave.file,
        "status": wave.status,
        "requests": wave.requests,
        "completed": wave.completed,
        "failed": wave.failed,
        "created_at": wave.created_at.isoformat(timespec="seconds") + "Z",
    }


@dataclass
class _Tally:
    cached: int = 0
    run: int = 0
    estimated: int = 0
    skipped: int = 0
    reasons: Counter = field(default_factory=Counter)
    tokens_in: float = 0.0
    tokens_out: float = 0.0
    cost: float = 0.0
    unknown_tokens: bool = False
    unpriced: bool = False


class _Walk:
    """One pass over the graph through the store; shared by ``plan`` and ``reachable``."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        store: Store,
        model: str | None,
        selection: Selection,
        force: bool,
        on_decision: Callable[[Node, Decision], None] | None = None,
        price: tuple[float, float] | None = None,
        backend: str | None = None,
        foresight: Foresight | None = None,
        averages: dict[tuple[str, str], StageAverages] | None = None,
    ):
        self.taxonomy = taxonomy
        self.foresight = foresight if taxonomy.quality.enabled else None
        self.price = price
        self.store = store
        self.graph = Graph(taxonomy, model, backend)
        self.expander = Expander(self.graph)
        self.decider = Decider(selection, force)
        self.selection = selection
        self.force = force
        quality = taxonomy.quality
        self.judging = quality.enabled and quality.judge is not None
        self.stages = (*STAGES, glan.JUDGE.name) if self.judging else STAGES
        self.tally = {s: _Tally() for s in self.stages}
        self.nodes: list[PlannedNode] = []
        self.reached: set[str] = set()
        self.averages = {**(averages or {}), **store.averages()}
        self.on_decision = on_decision
        self._average = functools.cache(functools.partial(_averaged, self.averages))
        self._discipline = {d.path: d for d in taxonomy.disciplines}
        self._order = {d.path: i for i, d in enumerate(taxonomy.disciplines)}

    def run(self, only: tuple[Discipline, ...] | None = None) -> None:
        frontier = self.expander.roots(self.taxonomy.disciplines if only is None else only)
        while frontier:
            following: list[Node] = []
            for i in range(0, len(frontier), BATCH):
                following += self._level(frontier[i : i + BATCH])
            frontier = following

    def _level(self, batch: list[Node]) -> list[Node]:
        records = self.store.get_many([n.key for n in batch])
        unsettled = [
            n.slot for n in batch if records.get(n.key) is None or records[n.key].status != "ok"
        ]
        if self.force or self.decider.needs_previous:
            unsettled = [n.slot for n in batch]
        previous = self.store.previous(unsettled)
        out: list[Node] = []
        subjects: dict[tuple[str, ...], list[str]] = {}
        cached_rows: list[tuple[Node, dict[str, Any]]] = []
        for node in batch:
            rec = records.get(node.key)
            if rec is not None:
                self.reached.add(node.key)
            decision = self.decider.decide(node, rec, previous.get(node.slot))
            if self.on_decision is not None:
                self.on_decision(node, decision)
            tally = self.tally[node.stage]
            if decision.action == CACHED:
                tally.cached += 1
                out += self.expander.children(node, rec.output)
                if node.stage == glan.ROW_STAGE and (self.judging or self.foresight):
                    cached_rows.append((node, rec.output))
                action = CACHED
            elif decision.action == SKIPPED:
                tally.skipped += 1
                out += self.expander.children(node, None)
                action = SKIPPED
            else:  # runs, alone or with a node of the same key: nothing below is known yet
                reason = self.decider.reason(node, decision)
                tally.run += 1
                tally.reasons[reason] += 1
                self._tokens(node.stage, node.discipline, 1)
                self.nodes.append(
                    PlannedNode(node.stage, node.key, "/".join(node.path), node.sample, reason)
                )
                out += self.expander.children(node, None)
                action = reason
                if node.stage != glan.FIRST:
                    self._estimate_below(node.stage, node.discipline, 1, reason)
            if node.stage == glan.FIRST:
                subjects.setdefault(node.discipline.path, []).append(action)
        out += self._gated(cached_rows)
        # the batch's disciplines in taxonomy order (not all of them per batch: at
        # 10,000 disciplines that loop was a fifth of a plan)
        for path in sorted(subjects, key=self._order.__getitem__):
            d, actions = self._discipline[path], subjects[path]
            runs = [a for a in actions if a not in (CACHED, SKIPPED)]
            if runs and SKIPPED not in actions:
                self._estimate_below(glan.FIRST, d, 1, runs[0])
        return out

    def _gated(self, rows: list[tuple[Node, dict[str, Any]]]) -> list[Node]:
        # rows: (cached answer node, its output)
        """The nodes the quality gate adds below cached rows: the judge's call on a
        row the row checks keep, and the redraw of a row it drops while redraws
        last. Without foresight, the judge's call on every row (at most)."""
        if not rows:
            return []
        verdicts = (self.foresight.of([(n, content(n, o)) for n, o in rows]) if self.foresight
                    else [None] * len(rows))  # fmt: skip
        out: list[Node] = []
        bound = self.taxonomy.quality.redraws
        for (node, output), check in zip(rows, verdicts, strict=True):
            if self.judging and check not in BEFORE_JUDGE:  # the judge was asked
                out.append(self.graph.judge_node(node, row(self.graph, node, output)))
            if check is not None and node.context["sample"].draw < bound:
                out.append(self.graph.redraw_question(node))
        return out

    def _estimate_below(self, stage: str, d: Discipline, count: int, reason: str) -> None:
        """Count the nodes a running node will create, stage by stage, until a
        stage the selection leaves out (nothing below it can run then)."""
        # below a node never built (new) or that never finished (failed), nothing was built
        inherited = "new" if reason in ("new", "failed_before") else "upstream_changed"
        judge = (glan.JUDGE,) if self.judging and stage != glan.JUDGE.name else ()
        for child in (*glan.below(stage), *judge):
            count *= child.fanout(d.settings)
            why = "forced" if self.force else inherited
            state = "new" if inherited == "new" else "modified"
            if not count or not (self.selection.everything or self.selection.matches(
                child.name, normalise_path(d.path), lambda state=state: state
            )):
                return
            tally = self.tally[child.name]
            tally.estimated += count
            tally.reasons[why] += count
            self._tokens(child.name, d, count)

    def _tokens(self, stage: str, d: Discipline, count: int) -> None:
        info = self.graph.model(d, stage)[0]
        tally = self.tally[stage]
        avg = self._average(stage, info.label)
        if avg is None:
            tally.unknown_tokens = True
            return
        tin, tout = avg.tokens_in * count, avg.tokens_out * count
        tally.tokens_in += tin
        tally.tokens_out += tout
        price = price_of(info) or (self.price and discounted(info, self.price))
        if price is None:
            tally.unpriced = True
        else:
            tally.cost += cost(price, tin, tout)


def _averaged(
    averages: dict[tuple[str, str], StageAverages], stage: str, label: str
) -> StageAverages | None:
    """A model's averages at a stage, else the stage's over every model."""
    return averages.get((stage, label)) or _pooled(averages, stage)


def _pooled(averages: dict[tuple[str, str], StageAverages], stage: str) -> StageAverages | None:
    rows = [a for (s, _), a in averages.items() if s == stage]
    n = sum(a.n for a in rows)
    if not n:
        return None
    return StageAverages(
        sum(a.tokens_in * a.n for a in rows) / n,
        sum(a.tokens_out * a.n for a in rows) / n,
        sum(a.attempts * a.n for a in rows) / n,
        n,
    )


def plan(
    taxonomy: Taxonomy,
    store: Store,
    *,
    model: str | None = None,
    selection: Selection | None = None,
    force: bool = False,
    on_decision: Callable[[Node, Decision], None] | None = None,
    redraw_rate: float | None = None,
    price: tuple[float, float] | None = None,
    backend: str | None = None,
    foresight: Foresight | None = None,
    only: tuple[Discipline, ...] | None = None,
    carried: dict[str, int] | None = None,
    averages: dict[tuple[str, str], StageAverages] | None = None,
) -> Plan:
    """What ``build`` with the same arguments would do, without doing any of it.
    ``on_decision`` sees each known node with its decision, as the build would;
    ``redraw_rate`` (the last build's share of first draws redrawn) estimates the
    quality gate's redraws; ``price`` (USD per million tokens in and out) prices the
    models the spec gives none; ``backend`` routes models as ``build`` would (a
    model on a Batch API is priced at its batch price); ``foresight`` foresees the
    quality gate's verdicts on cached rows, so the plan counts their redraws.
    ``only``: the disciplines to walk (the rest are carried over unchanged, their
    nodes all cached: ``carried`` counts them by stage, ``averages`` gives their
    tokens per call where the store has none)."""
    walk = _Walk(taxonomy, store, model, selection or Selection(), force, on_decision,
                 price, backend, foresight, averages)  # fmt: skip
    walk.run(only)
    for stage, n in (carried or {}).items():
        if stage in walk.tally:
            walk.tally[stage].cached += n
    stages = []
    tokens_known = priced = True
    for stage in walk.stages:
        t = walk.tally[stage]
        todo = t.run + t.estimated
        tokens_known &= not (todo and t.unknown_tokens)
        priced &= not (todo and (t.unpriced or t.unknown_tokens))
        stages.append(
            (
                stage,
                StagePlan(
                    cached=t.cached,
                    run=t.run,
                    estimated=t.estimated,
                    skipped=t.skipped,
                    reasons=tuple((r, t.reasons[r]) for r in REASONS if t.reasons[r]),
                    tokens_in=None if t.unknown_tokens else t.tokens_in,
                    tokens_out=None if t.unknown_tokens else t.tokens_out,
                    cost=None if (t.unknown_tokens or t.unpriced) else t.cost,
                ),
            )
        )
    redraws = None
    quality = taxonomy.quality
    if quality.enabled and quality.redraws:
        answers = walk.tally[glan.ROW_STAGE]
        redraws = Redraws(
            bound=quality.redraws,
            calls_per_redraw=3 if walk.judging else 2,
            rate=redraw_rate,
            rows_to_run=answers.run + answers.estimated,
        )
    return Plan(taxonomy.name, tuple(stages), tuple(walk.nodes), tokens_known, priced, redraws)


def reachable(
    taxonomy: Taxonomy,
    store: Store,
    *,
    model: str | None = None,
    foresight: Foresight | None = None,
) -> set[str]:
    """Keys of the stored nodes a build of ``taxonomy`` would use (or retry)."""
    walk = _Walk(taxonomy, store, model, Selection(), False, foresight=foresight)
    walk.run()
    return walk.reached
