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

import pickle
import queue
import signal
import struct
import subprocess
import sys
import threading
from dataclasses import dataclass
from typing import Any

from ..specs.types import CHECKS, CONTAMINATION, QualitySpec, Template
from .checks import CHECKS as CHECK_FUNCTIONS
from .checks import Echoes, topic
from .decont import Index

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
        the scheduler runs the deepest stage first). The rows of a syllabus share
        its taxonomy path and subject, and sample their sessions and concepts from
        it, so the first row's topic serves them all."""
        if self._topic[0] != key:
            self._topic = (key, topic(row, sessions))
        return self._topic[1]

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


class HelperDied(RuntimeError):
    """The helper process is gone (killed, out of memory): the build decides the rest."""


def _frame(stream, value: Any) -> None:
    data = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
    stream.write(struct.pack("<Q", len(data)) + data)
    stream.flush()


def _unframe(stream) -> Any:
    head = stream.read(8)
    if len(head) < 8:
        raise EOFError
    return pickle.loads(stream.read(struct.unpack("<Q", head)[0]))


class Helper:
    """A helper process deciding batches of rows; results come back in order.

    A plain ``python -m glanc.quality.helper`` child with pickled frames over its
    pipes, rather than multiprocessing: spawning runs the parent's ``__main__``
    again in the child, which a library user's script without a main guard would
    not survive. A thread drains the child's answers, so neither side ever waits
    on a full pipe."""

    def __init__(self, rules: Rules):
        self._proc = subprocess.Popen(
            [sys.executable, "-m", "glanc.quality.helper"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        self._answers: queue.Queue = queue.Queue()
        self._sent = self._received = 0
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()
        self._send(rules)

    def _read(self) -> None:
        try:
            while True:
                self._answers.put(_unframe(self._proc.stdout))
        except (EOFError, OSError, pickle.UnpicklingError):
            self._answers.put(None)  # the end: closed, or died

    def _send(self, value: Any) -> None:
        try:
            _frame(self._proc.stdin, value)
        except (BrokenPipeError, OSError, ValueError):
            raise HelperDied("the quality helper process is gone") from None

    def submit(self, items: list[Item]) -> None:
        self._send(items)
        self._sent += 1

    def done(self, wait: bool = False, least: int = 0) -> list[Verdict]:
        """The verdicts of the batches finished so far (all of them with ``wait``;
        waiting for ``least`` batches at least)."""
        out: list[Verdict] = []
        taken = 0
        while self._received < self._sent:
            try:
                answer = self._answers.get(block=wait or taken < least)
            except queue.Empty:
                break
            if answer is None:
                raise HelperDied("the quality helper process is gone")
            self._received += 1
            taken += 1
            out += answer
        return out

    def close(self) -> None:
        try:
            self._proc.stdin.close()
            self._proc.wait(timeout=5)
        except (OSError, subprocess.TimeoutExpired):
            self._proc.kill()


def serve() -> None:
    """The helper's side: the rules, then batch after batch until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the build's to handle
    stdin, stdout = sys.stdin.buffer, sys.stdout.buffer
    checks = RowChecks(_unframe(stdin))
    while True:
        try:
            items = _unframe(stdin)
        except EOFError:
            return
        _frame(stdout, [checks.decide(item) for item in items])
