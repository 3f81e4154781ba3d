"""What a build reports as it goes: typed events, and the observers that take them.

The scheduler only emits; the counts, the ledgers, the live display and the
build's result are observers (``glanc.execute.tally``, ``glanc.cli.progress``).
Nothing reads counts back out of a display.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..lm.call import Outcome
from ..recipe.node import Node
from ..store.records import Record


@dataclass(frozen=True, slots=True)
class Queued:
    """``count`` nodes of ``stage`` entered the queue (the graph grew)."""

    stage: str
    count: int


@dataclass(frozen=True, slots=True)
class Decided:
    """The scheduler decided a node (``glanc.plan.decide``): ``action`` is cached,
    skipped, run or join, as ``glanc plan`` would say for a node it knows."""

    node: Node
    action: str


@dataclass(frozen=True, slots=True)
class Finished:
    """A node has its record (``ok`` or ``failed``): read from the store or shared
    with another node of the same key (``cached``), or from its own call."""

    node: Node
    record: Record
    cached: bool


@dataclass(frozen=True, slots=True)
class Skipped:
    """A node outside the selection, not in the store: the dataset lacks its rows."""

    node: Node


@dataclass(frozen=True, slots=True)
class Called:
    """A call came back: what this run spent on it (every try counted)."""

    node: Node
    outcome: Outcome


@dataclass(frozen=True, slots=True)
class BatchStatus:
    """A wave of calls on a Batch API changed (created, polled, finished): its
    provider's status and request counts."""

    wave: str
    batch_id: str | None
    status: str
    requests: int
    completed: int
    failed: int


@dataclass(frozen=True, slots=True)
class Tick:
    """The scheduler went round its loop once: a display may redraw. ``final``:
    the last one of the build."""

    final: bool = False


Event = Queued | Decided | Finished | Skipped | Called | BatchStatus | Tick
Observer = Callable[[Event], None]


class Observers:
    """Fan one event out to every observer, in order."""

    def __init__(self, observers: Iterable[Observer]):
        self._observers = tuple(observers)

    def __call__(self, event: Event) -> None:
        for observer in self._observers:
            observer(event)
