"""The quality gate: every finished row passes it on its way into the dataset.

A row first meets the row checks (and decontamination) as it arrives; the one
that drops it is named in ``dropped/`` with its reason, and the row is
drawn again (a new homework sample and seed) while the spec's ``redraws`` last.
Rows that pass wait for the end of the round, when near-duplicates are found
across the whole build (``dedup``); those dropped are redrawn the same way, in
a next round, until no row is left to redraw.

Everything here depends only on the rows, never on the order calls finished in.
"""

from __future__ import annotations

import pickle
import time
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..recipe.graph import Graph
from ..recipe.node import Node
from ..specs.types import CHECKS, Discipline, Taxonomy
from ..store.spool import RowSpool
from ..store.verdicts import Verdicts
from .dedup import NearDuplicates
from .recorded import FILED, item_of, rules_digest, verdict_key
from .verdicts import CONTAMINATION, Helper, HelperDied, Item, RowChecks, Rules

# A build decides its first rows itself; past this many, a helper process on
# another core decides them in batches while the build goes on (verdicts.py).
INLINE_ROWS = 2000
BATCH = 256
HELD = 16 * BATCH  # rows at the helper at most: past it, offer waits for its verdicts

DEDUP = "near_duplicate"
JUDGE = "judge"
ORDER = (*CHECKS, CONTAMINATION, JUDGE, DEDUP)  # every reason a row can be dropped for


@dataclass(frozen=True, slots=True)
class Redraw:
    """What drawing a row again needs of its answer node (``Graph.redraw_question``)."""

    discipline: Discipline
    context: dict[str, Any]


class Redraws:
    """A kept row's redraw as a few bytes, for the near-duplicate index to hold on
    disk until its round ends: the discipline's place, the syllabus's key and the
    question's sample. A subject's syllabus is kept here once (the rows of a
    build share a few thousand), not once a row."""

    def __init__(self, disciplines: tuple[Discipline, ...]):
        self._disciplines = disciplines
        self._place = {d.path: i for i, d in enumerate(disciplines)}
        self._syllabi: dict[str, tuple[Any, list[dict[str, Any]]]] = {}

    def pack(self, node: Node) -> bytes:
        ctx = node.context
        key = ctx["syllabus_key"]
        if key not in self._syllabi:
            self._syllabi[key] = (ctx["subject"], ctx["syllabus_sessions"])
        return pickle.dumps((self._place[node.discipline.path], key, ctx["sample"]), protocol=5)

    def unpack(self, payload: bytes) -> Redraw:
        place, key, sample = pickle.loads(payload)
        subject, sessions = self._syllabi[key]
        context = {"subject": subject, "sample": sample, "syllabus_key": key,
                   "syllabus_sessions": sessions}  # fmt: skip
        return Redraw(self._disciplines[place], context)


@dataclass
class Report:
    """What the gate did: drops by check, first draws, slots left short."""

    dropped: Counter = field(default_factory=Counter)
    first_draws: int = 0
    first_draws_kept: int = 0
    redraws: int = 0
    short: dict[str, dict[str, Any]] = field(default_factory=dict)  # row id -> where and why
    quota: dict[str, int] = field(default_factory=dict)  # discipline -> rows per subject
    # subjects and syllabi the stage checks left out (``recipe.vet.Vetoed.as_json``)
    vetoed: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def merged(cls, reports: Iterable[Report], quota: dict[str, int]) -> Report:
        """The sum of several reports (disciplines'), with the build's quota."""
        out = cls(quota=quota)
        for r in reports:
            out.dropped.update(r.dropped)
            out.first_draws += r.first_draws
            out.first_draws_kept += r.first_draws_kept
            out.redraws += r.redraws
            out.short.update(r.short)
            out.vetoed += r.vetoed
        out.vetoed.sort(key=_vetoed_order)
        return out

    @classmethod
    def of_json(cls, share: dict[str, Any]) -> Report:
        """A report back from ``as_json`` (a carried discipline's share)."""
        return cls(
            dropped=Counter({str(k): int(v) for k, v in share["dropped"].items()}),
            first_draws=int(share["first_draw"]["rows"]),
            first_draws_kept=int(share["first_draw"]["passed"]),
            redraws=int(share["redraws"]),
            short={str(s["id"]): dict(s) for s in share["short"]},
            vetoed=[dict(v) for v in share.get("vetoed") or ()],
        )

    def as_json(self, listed: bool = True) -> dict[str, Any]:
        """``listed``: every subject and syllabus the stage checks left out (a
        share's); else their number by check (the manifest's, small at any scale)."""
        vetoed: Any = sorted(self.vetoed, key=_vetoed_order)
        if not listed:
            vetoed = dict(sorted(Counter(v["check"] for v in self.vetoed).items()))
        return {
            "dropped": {check: self.dropped[check] for check in ORDER if self.dropped[check]},
            "first_draw": {"rows": self.first_draws, "passed": self.first_draws_kept},
            "redraws": self.redraws,
            "short": [self.short[k] for k in sorted(self.short)],
            "quota": dict(sorted(self.quota.items())),
            "vetoed": vetoed,
        }


def _vetoed_order(v: dict[str, Any]) -> tuple:
    return v["taxonomy_path"], v["stage"], v["subject"], v["draw"], v["check"]


class Gate:
    """Decides each row of one build; ``offer`` as rows finish, ``end_round`` when
    the scheduler has nothing left to run."""

    def __init__(
        self,
        taxonomy: Taxonomy,
        graph: Graph,
        rows: RowSpool,
        dropped: RowSpool,
        verdicts: Verdicts | None = None,
    ):
        """``verdicts``: where each verdict is filed, for ``glanc plan`` to foresee
        the redraws of the next build."""
        self.quality = taxonomy.quality
        self.graph, self.rows, self.dropped = graph, rows, dropped
        start = time.perf_counter()
        self.rules = Rules(taxonomy.quality, taxonomy.template)
        self.checks = RowChecks(self.rules)
        self._verdicts = verdicts
        self._rules_key = rules_digest(self.rules) if verdicts is not None else ""
        self._filing: dict[str, str | None] = {}
        threshold = self.quality.dedup
        self.duplicates = NearDuplicates(threshold) if threshold is not None else None
        self._redraws = Redraws(taxonomy.disciplines)
        # per discipline, first draws kept this round, near-duplicates not yet found
        self._first_kept: Counter = Counter()
        self._judging: dict[str, tuple[dict[str, Any], Node]] = {}  # row id -> (row, node)
        self._held: dict[str, tuple[Node, dict[str, Any]]] = {}  # at the helper: row id -> ...
        self._batch: list[Item] = []
        self._offered = 0
        self.helper: Helper | None = None
        self._alone = False  # the helper died: decide every row here
        # a report per discipline: each one's share, beside its files (artifact.shares)
        self.reports: dict[tuple[str, ...], Report] = {}
        self.seconds = time.perf_counter() - start  # deciding rows (varies: not in the artifact)
        self.quota = {d.name: d.settings.questions_per_subject for d in taxonomy.disciplines}

    @property
    def report(self) -> Report:
        """What the gate did in the whole build."""
        return Report.merged(self.reports.values(), self.quota)

    def note_vetoed(self, disciplines: Iterable[Discipline]) -> None:
        """Record what the stage checks left out of these (walked) disciplines, and
        the rows a subject or syllabus left out for good leaves short."""
        for d in disciplines:
            if vetoed := self.graph.vetoed(d):
                self._report(d).vetoed = [v.as_json(d) for v in vetoed]
            for subject, i, check, why, rows in self.graph.gave_up(d):
                # rows never drawn: listed short under slot names, not row ids
                for q in range(rows):
                    slot = f"{d.path_str}#{subject or f'subject {i + 1}'}#{q}"
                    self._report(d).short[slot] = {"id": slot, "taxonomy_path": d.path_str,
                                                   "subject": subject, "check": check,
                                                   "reason": why}  # fmt: skip

    def _report(self, d: Discipline) -> Report:
        report = self.reports.get(d.path)
        if report is None:
            report = self.reports[d.path] = Report()
        return report

    def offer(self, node: Node, row: dict[str, Any]) -> list[Node]:
        """A finished row: kept for now, or dropped; returns the node that redraws it
        (or asks the judge). Past ``INLINE_ROWS`` rows, the verdict comes later,
        from ``poll`` or ``end_round``."""
        start = time.perf_counter()
        try:
            return self._offer(node, row)
        finally:
            self.seconds += time.perf_counter() - start

    def _offer(self, node: Node, row: dict[str, Any] | None) -> list[Node]:
        if node.stage == JUDGE:
            return self._judged(node, row)
        if node.context["sample"].draw == 0:
            self._report(node.discipline).first_draws += 1
        self._offered += 1
        item = item_of(node, row)
        if self.helper is None and (self._offered <= INLINE_ROWS or self._alone):
            return self._decided(node, row, self.checks.decide(item)[1])
        if self.helper is None:
            self.helper = Helper(self.rules)
        self._held[row["id"]] = (node, row)
        self._batch.append(item)
        if len(self._batch) >= BATCH:
            try:
                self.helper.submit(self._batch)
                self._batch = []
            except HelperDied:
                return self.poll(wait=True)  # decides every held row here
            if len(self._held) > HELD:
                # a full walk offers cached rows far faster than the helper decides
                # them: unbounded, 1M held rows took over 4 GB
                return self.poll(least=1)
        return []

    def _file(self, node: Node | Redraw, row: dict[str, Any], check: str | None) -> None:
        """Note a row's verdict, filed in batches (the last word on a key wins)."""
        if self._verdicts is None:
            return
        self._filing[verdict_key(self._rules_key, item_of(node, row))] = check
        if len(self._filing) >= FILED:
            self.file()

    def file(self) -> None:
        """File the verdicts noted so far."""
        if self._verdicts is not None and self._filing:
            filing, self._filing = self._filing, {}
            self._verdicts.file(filing.items())

    def _decided(self, node: Node, row: dict[str, Any], verdict: tuple | None) -> list[Node]:
        if verdict is not None:
            return self._drop(node, row, *verdict)
        if self.quality.judge is not None:  # the judge's call decides; the row waits for it
            self._judging[row["id"]] = (row, node)
            return [self.graph.judge_node(node, row)]
        return self._keep(node, row)

    def poll(self, wait: bool = False, least: int = 0) -> list[Node]:
        """Apply the helper's verdicts that are in (every one, with ``wait``; waiting
        for ``least`` batches of them)."""
        if self.helper is None or not self._held:
            return []  # (a helper that died left nothing held: poll decided it all)
        start = time.perf_counter()
        try:
            if wait and self._batch:
                self.helper.submit(self._batch)
                self._batch = []
            verdicts = self.helper.done(wait, least)
        except HelperDied:  # killed, out of memory: the build decides the rest
            self.helper.close()
            self.helper, self._batch, self._alone = None, [], True
            verdicts = [self.checks.decide(item_of(*held)) for held in self._held.values()]
        out: list[Node] = []
        for rid, verdict in verdicts:
            node, row = self._held.pop(rid)
            out += self._decided(node, row, verdict)
        self.seconds += time.perf_counter() - start
        return out

    def close(self) -> None:
        if self.helper is not None:
            self.helper.close()
        if self.duplicates is not None:
            self.duplicates.close()

    def _judged(self, judge: Node, output: dict[str, Any] | None) -> list[Node]:
        """The judge's verdict on a waiting row: kept at or above the threshold."""
        row, node = self._judging.pop(judge.context["row_id"])
        if output is None:
            return self._drop(node, row, JUDGE, "the judge's call failed", None)
        score, why = int(output.get("score", 0)), str(output.get("reason", "")).strip()
        verdict = {"score": score, "reason": why}
        if score < self.quality.judge:
            reason = f"judge scored {score} (below {self.quality.judge}): {why[:200]}"
            return self._drop(node, row, JUDGE, reason, verdict)
        return self._keep(node, {**row, "judge": verdict})

    def _keep(self, node: Node, row: dict[str, Any]) -> list[Node]:
        start = time.perf_counter()
        self.rows.add(row)  # what a build does without the gate too: not the gate's time
        self.seconds -= time.perf_counter() - start
        self._file(node, row, None)
        self._first_kept[node.discipline.path] += node.context["sample"].draw == 0
        if self.duplicates is not None:  # on disk, with only what a redraw needs
            question = row["messages"][0]["content"] or ""
            self.duplicates.add(row["id"], question, self._redraws.pack(node))
        return []

    def end_round(self) -> list[Node]:
        """Near-duplicates among the rows kept since the last round (and against all
        kept before); returns the nodes that redraw the rows dropped."""
        start = time.perf_counter()
        try:
            return self._end_round()
        finally:
            self.seconds += time.perf_counter() - start

    def _end_round(self) -> list[Node]:
        if self._held and (nodes := self.poll(wait=True)):
            return nodes  # verdicts that were at the helper: their redraws are this round's
        duplicates = self.duplicates.decide() if self.duplicates is not None else {}
        redraws: list[Node] = []
        for row in self.rows.take(sorted(duplicates)):
            kept, similarity, payload = duplicates[row["id"]]
            node = self._redraws.unpack(payload)
            self._first_kept[node.discipline.path] -= node.context["sample"].draw == 0
            reason = f"near-duplicate (Jaccard {similarity:.2f}) of row {kept}"
            redraws += self._drop(node, row, DEDUP, reason, {"kept": kept})
        for path, kept in self._first_kept.items():
            self.reports[path].first_draws_kept += kept
        self._first_kept = Counter()
        return redraws

    def _drop(
        self, node: Node | Redraw, row: dict[str, Any], check: str, reason: str, detail: Any
    ) -> list[Node]:
        draw = node.context["sample"].draw
        record: dict[str, Any] = {"check": check, "reason": reason, "draw": draw}
        if detail is not None:
            record["match" if check == CONTAMINATION else "detail"] = detail
        self.dropped.add({**row, "dropped": record})
        self._file(node, row, check)
        report = self._report(node.discipline)
        report.dropped[check] += 1
        if draw < self.quality.redraws:
            report.redraws += 1
            report.short.pop(row["id"], None)
            return [self.graph.redraw_question(node)]
        report.short[row["id"]] = {
            "id": row["id"],
            "taxonomy_path": "/".join(row["taxonomy_path"]),
            "subject": row["subject"],
            "check": check,
            "reason": reason,
        }
        return []
