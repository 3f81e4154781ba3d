"""The build's counts, as an observer of its events: per stage, per model, and
what the dataset took. ``BuildResult``, the manifest and the live display all
read this one tally."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..lm.usage import Ledger
from ..recipe.node import Node
from ..specs.contract import STAGES
from ..specs.models import ModelInfo
from .events import Called, Event, Finished, Queued, Skipped


@dataclass
class StageStats:
    """One stage's share of a build: nodes by outcome, and this run's tokens."""

    run: int = 0
    cached: int = 0
    failed: int = 0
    skipped: int = 0
    tokens_in: int = 0
    tokens_out: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "run": self.run,
            "cached": self.cached,
            "failed": self.failed,
            "skipped": self.skipped,
            "tokens_in": self.tokens_in,
            "tokens_out": self.tokens_out,
        }


@dataclass(frozen=True)
class Failure:
    stage: str
    key: str
    discipline: str
    error: str


@dataclass
class _Counts:
    run: int = 0
    cached: int = 0
    failed: int = 0
    skipped: int = 0
    queued: int = 0


@dataclass
class Tally:
    """Counts nodes by stage and outcome; ``spent`` is what this run's calls cost
    (tokens per model and stage), ``dataset`` the tokens recorded with every node
    the dataset uses, cached or not (the manifest's figure)."""

    spent: Ledger = field(default_factory=Ledger)
    dataset: Ledger = field(default_factory=lambda: Ledger(by_spec=True))
    failures: list[Failure] = field(default_factory=list)
    skipped: list[Node] = field(default_factory=list)
    models_by_stage: dict[str, set[str]] = field(default_factory=lambda: {s: set() for s in STAGES})
    decoding_by_stage: dict[str, dict[str, dict[str, Any]]] = field(
        default_factory=lambda: {s: {} for s in STAGES}
    )
    _counts: dict[str, _Counts] = field(default_factory=lambda: {s: _Counts() for s in STAGES})

    def __call__(self, event: Event) -> None:
        handler = _HANDLERS.get(type(event))
        if handler is not None:
            handler(self, event)

    def _called(self, event: Called) -> None:
        o = event.outcome
        self.spent.add(event.node.model, event.node.stage, o.tokens_in, o.tokens_out, o.attempts)

    def _queued(self, event: Queued) -> None:
        self._stage(event.stage).queued += event.count

    def _stage(self, stage: str) -> _Counts:
        """A stage's counts; the judge's appear once it has run."""
        counts = self._counts.get(stage)
        if counts is None:
            counts = self._counts[stage] = _Counts()
        return counts

    def _skipped(self, event: Skipped) -> None:
        counts = self._stage(event.node.stage)
        counts.queued -= 1
        counts.skipped += 1
        self.skipped.append(event.node)

    def _finished(self, event: Finished) -> None:
        node, record = event.node, event.record
        counts = self._stage(node.stage)
        counts.queued -= 1
        self.models_by_stage.setdefault(node.stage, set()).add(node.model.label)
        self.decoding_by_stage.setdefault(node.stage, {}).setdefault(
            node.decoding_id, node.decoding
        )
        if record.status == "ok":
            if event.cached:
                counts.cached += 1
            else:
                counts.run += 1
            tin, tout = record.tokens_in or 0, record.tokens_out or 0
            self.dataset.add(node.model, node.stage, tin, tout, 1)
        else:
            counts.failed += 1
            self.failures.append(
                Failure(node.stage, node.key, node.discipline.path_str, record.error or "failed")
            )

    def stats(self, stage: str) -> StageStats:
        c, t = self._stage(stage), self.spent.stage_total(stage)
        return StageStats(c.run, c.cached, c.failed, c.skipped, t.tokens_in, t.tokens_out)

    def stages(self) -> dict[str, StageStats]:
        return {stage: self.stats(stage) for stage in self._counts}

    def queued(self, stage: str) -> int:
        return self._stage(stage).queued

    def share(self) -> dict[str, Any]:
        """What the manifest and the card count of these nodes (a discipline's, in
        ``ByDiscipline``): a share's ``counts`` (``artifact.shares``)."""
        return {
            "nodes": {s: c.run + c.cached for s, c in sorted(self._counts.items())},
            "usage": {label: {stage: [t.calls, t.tokens_in, t.tokens_out]
                              for stage, t in sorted(stages.items())}
                      for label, stages in sorted(self.dataset.cells.items())},  # fmt: skip
            "models": {s: sorted(m) for s, m in sorted(self.models_by_stage.items()) if m},
            "decoding": {s: dict(sorted(ds.items()))
                         for s, ds in sorted(self.decoding_by_stage.items()) if ds},  # fmt: skip
        }

    def absorb(self, share: dict[str, Any], models: dict[str, ModelInfo]) -> None:
        """Count a discipline carried over from the last build as if its nodes had
        been walked, all cached: ``share`` is what ``share`` gave then, ``models``
        the build's models by label (their prices price its tokens)."""
        for stage, n in share["nodes"].items():
            self._stage(stage).cached += int(n)
        for label, stages in share["usage"].items():
            for stage, (calls, tokens_in, tokens_out) in stages.items():
                self.dataset.add(models[label], stage, tokens_in, tokens_out, calls)
        for stage, labels in share["models"].items():
            self.models_by_stage.setdefault(stage, set()).update(labels)
        for stage, settings in share["decoding"].items():
            known = self.decoding_by_stage.setdefault(stage, {})
            for digest, decoding in settings.items():
                known.setdefault(digest, decoding)

    @property
    def lm_calls(self) -> int:
        """Model calls this run made, every try counted."""
        return self.spent.grand_total().calls

    @property
    def finished_here(self) -> int:
        """Nodes this run called a model for (kept in the store, ok or failed)."""
        return sum(c.run + c.failed for c in self._counts.values())


# event type -> what the tally does with it (a dict: the build sends several events a node)
_HANDLERS = {
    Finished: Tally._finished,
    Called: Tally._called,
    Queued: Tally._queued,
    Skipped: Tally._skipped,
}


class ByDiscipline:
    """A tally per discipline, of its nodes' events: each one's share of the
    manifest, written beside its files for the next build to carry it over."""

    def __init__(self) -> None:
        self.tallies: dict[tuple[str, ...], Tally] = {}

    def __call__(self, event: Event) -> None:
        node = getattr(event, "node", None)
        if node is None:  # a count of queued nodes: the live display's, not a share's
            return
        tally = self.tallies.get(node.discipline.path)
        if tally is None:
            tally = self.tallies[node.discipline.path] = Tally()
        tally(event)

    def of(self, path: tuple[str, ...]) -> Tally:
        return self.tallies.get(path) or Tally()
