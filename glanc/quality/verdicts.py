"""Row verdicts, in this process or in a helper one.

A row's verdict (the first row check that drops it, or a benchmark it is
found in) is a pure function of the row, its syllabus, the spec's quality
settings and the template. So it can be decided anywhere: in the build's own
process for small builds, and for large ones in a helper process on another
core, in batches, while the build goes on calling models. A build is bound by
its Python thread (the GIL); deciding 100k rows inline cost it a fifth of its
wall time, most of which the helper takes off it (BENCHMARKS.md).
"""

from __future__ import annotations

import multiprocessing
import signal
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from ..specs.types import CHECKS, QualitySpec, Template
from .checks import CHECKS as CHECK_FUNCTIONS
from .checks import Echoes, topic
from .decont import Index

CONTAMINATION = "contamination"

# (row id, row, language, syllabus key, the syllabus's sessions)
Item = tuple[str, dict[str, Any], str, str, list[dict[str, Any]]]
# (row id, None when kept, else (check, reason, detail))
Verdict = tuple[str, tuple[str, str, Any] | None]


@dataclass(frozen=True)
class Rules:
    """What deciding a row needs besides the row: picklable, for the helper."""

    quality: QualitySpec
    template: Template


class RowChecks:
    """Decides rows: the checks that are on, in order, then decontamination."""

    def __init__(self, rules: Rules):
        self.quality = rules.quality
        self.echoes = Echoes.of(rules.template)
        self.checks = [
            (name, CHECK_FUNCTIONS[name], params)
            for name in CHECKS
            if (params := self.quality.params(name)) is not None
        ]
        self.index = Index(self.quality.benchmarks) if self.quality.benchmarks else None
        self._topic: tuple[str | None, frozenset[str]] = (None, frozenset())

    def _topic_of(self, row: dict[str, Any], key: str, sessions: list[dict]) -> frozenset[str]:
        """The stems of a row's syllabus, once per syllabus (its rows come together:
        the scheduler runs the deepest stage first)."""
        if self._topic[0] != key:
            self._topic = (key, topic(row, sessions))
        return self._topic[1] | topic(row)

    def decide(self, item: Item) -> Verdict:
        rid, row, language, key, sessions = item
        for name, check, params in self.checks:
            if name == "language" and "language" not in params:
                params = {**params, "language": language}
            elif name == "off_topic":
                params = {**params, "topic": self._topic_of(row, key, sessions)}
            reason = check(row, params, self.echoes)
            if reason is not None:
                return rid, (name, reason, None)
        if self.index is not None:
            match = self.index.match(row["messages"][0]["content"] or "")
            if match is not None:
                reason = f"contaminated: {match.how} with {match.benchmark} item {match.item}"
                return rid, (CONTAMINATION, reason, match.as_json())
        return rid, None


_HELPER: RowChecks | None = None


def _start(rules: Rules) -> None:
    global _HELPER  # one per helper process: the process is its scope
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the build's to handle
    _HELPER = RowChecks(rules)


def _decide_batch(items: list[Item]) -> list[Verdict]:
    assert _HELPER is not None
    return [_HELPER.decide(item) for item in items]


class Helper:
    """A helper process deciding batches of rows; results come back in order."""

    def __init__(self, rules: Rules):
        context = multiprocessing.get_context("spawn")  # never fork a threaded process
        self._pool = ProcessPoolExecutor(1, mp_context=context, initializer=_start,
                                         initargs=(rules,))  # fmt: skip
        self._futures: list[Future] = []

    def submit(self, items: list[Item]) -> None:
        self._futures.append(self._pool.submit(_decide_batch, items))

    def done(self, wait: bool = False) -> list[Verdict]:
        """The verdicts of the batches finished so far (all of them with ``wait``)."""
        out: list[Verdict] = []
        while self._futures and (wait or self._futures[0].done()):
            out += self._futures.pop(0).result()
        return out

    def close(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)
