"""The one decision: is a node cached, skipped, run, or does it join a call
already on its way, and why does it run.

``glanc plan`` and ``glanc build`` both walk the graph through a ``Decider``:
the build carries its decisions out, the plan counts and explains them. Keeping
the decision in one place is what lets a plan promise what a build will do
(``tests/unit/plan/test_decide.py`` runs both over the same stores).
"""

from __future__ import annotations

from dataclasses import dataclass

from ..errors import TRANSPORT
from ..keys import normalise_name
from ..recipe.node import Node
from ..store.records import Record, SlotRecord
from .select import Selection

CACHED, SKIPPED, RUN, JOIN = "cached", "skipped", "run", "join"

REASONS = (
    "new",
    "program_changed",
    "model_changed",
    "decoding_changed",
    "upstream_changed",
    "failed_before",
    "forced",
)


@dataclass(frozen=True)
class Decision:
    """What becomes of one node. ``record``: what the store holds under its key;
    ``previous``: the last record in its slot, when the walk read it."""

    action: str
    record: Record | None
    previous: SlotRecord | None = None
    forced: bool = False

    @property
    def reseed(self) -> bool:
        """A run of a key the store holds (rejected, or forced) draws new seeds; a
        request the server failed is simply made again."""
        rec = self.record
        return rec is not None and not (rec.error or "").startswith(TRANSPORT)

    @property
    def replaces(self) -> bool:
        """The run replaces an ok record, which moves to the store's history."""
        return self.record is not None and self.record.status == "ok"


def state_of(record: Record | None, previous: SlotRecord | None) -> str:
    """A node's ``state:`` for selection: cached, failed, new or modified."""
    if record is not None:
        return "cached" if record.status == "ok" else "failed"
    return "new" if previous is None else "modified"


def node_path(node: Node) -> tuple[str, ...]:
    """The node's taxonomy path as selectors compare it."""
    return tuple(normalise_name(p) for p in node.path)


class Decider:
    """Decides each node of one walk, in the order the walk meets them.

    It remembers the keys it sent to run (``scheduled``: a later node with the
    same key joins that call) and the keys forced once (``--force`` reruns a key
    once per build, however many nodes share it). The build tells it when a
    call has finished (``settled``); a plan never does."""

    def __init__(self, selection: Selection, force: bool):
        self.selection = selection
        self._everything = selection.everything  # most builds: no path to normalise
        self.force = force
        self.scheduled: set[str] = set()
        self._forced: set[str] = set()

    @property
    def needs_previous(self) -> bool:
        """Whether deciding reads each node's previous slot record (``state:`` selectors)."""
        return self.selection.uses_state

    def decide(
        self, node: Node, record: Record | None, previous: SlotRecord | None = None
    ) -> Decision:
        if node.key in self.scheduled:
            return Decision(JOIN, record, previous)
        selected = self._everything or self.selection.matches(
            node.stage, node_path(node), lambda: state_of(record, previous)
        )
        forced = self.force and selected and node.key not in self._forced
        if record is not None and record.status == "ok" and not forced:
            return Decision(CACHED, record, previous)
        if not selected:
            return Decision(SKIPPED, record, previous)
        self.scheduled.add(node.key)
        if self.force:
            self._forced.add(node.key)
        return Decision(RUN, record, previous, forced=forced)

    def settled(self, key: str) -> None:
        """The call for ``key`` finished: later nodes with its key read its record."""
        self.scheduled.discard(key)

    def reason(self, node: Node, decision: Decision) -> str:
        """Why a node runs (the plan's explanation), from the last record in its slot."""
        if self.force:
            return "forced"
        record, previous = decision.record, decision.previous
        if record is not None and record.status != "ok":
            return "failed_before"
        if previous is None:
            return "new"
        if previous.program != node.program_id:
            return "program_changed"
        if previous.model_key != node.model_id:
            return "model_changed"
        if previous.decoding_key != node.decoding_id:
            return "decoding_changed"
        return "upstream_changed"
