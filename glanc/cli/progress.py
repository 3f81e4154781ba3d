"""Live build progress on stderr: per stage done / cached / failed / tokens.

An observer of the build's events with a tally of its own: the display only
shows counts, it never holds the ones the build reports. On a terminal the
table redraws in place; otherwise (CI logs, pipes) a line per stage is printed
every few seconds, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO

from ..execute.events import BatchStatus, Event, Tick
from ..execute.tally import Tally
from ..specs.contract import STAGES


class Progress:
    """Call with each build event; draws on ``Tick``."""

    def __init__(self, stream: TextIO | None = None, enabled: bool = True):
        self.stream = stream or sys.stderr
        self.enabled = enabled
        self.tally = Tally()
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = 0.25 if self.tty else 5.0
        self._last = 0.0
        self._drawn = 0
        self._start = time.monotonic()
        self.batches: dict[str, BatchStatus] = {}  # waves on a Batch API, by wave

    def __call__(self, event: Event) -> None:
        if not self.enabled:
            return
        if isinstance(event, Tick):
            self.render(force=event.final)
        elif isinstance(event, BatchStatus):
            self.batches[event.wave] = event
        else:
            self.tally(event)

    def lines(self) -> list[str]:
        out = []
        for stage in STAGES:
            s = self.tally.stats(stage)
            done = s.run + s.cached + s.failed + s.skipped
            skipped = f"skipped {s.skipped:<5} " if s.skipped else ""
            out.append(
                f"{stage:>9}  {done:>6}/{done + self.tally.queued(stage):<6} "
                f"run {s.run:<6} cached {s.cached:<6} failed {s.failed:<4} {skipped}"
                f"tokens {s.tokens_in}+{s.tokens_out}"
            )
        usage = self.tally.spent
        for label in sorted(usage.cells):
            t = usage.total(label)
            spent = usage.cost(label)
            money = f"  ${spent:.4f}" if spent is not None else ""
            out.append(
                f"{'model':>9}  {label}  calls {t.calls}  "
                f"tokens {t.tokens_in}+{t.tokens_out}{money}"
            )
        for b in self.batches.values():
            if b.status not in ("completed", "failed", "expired", "cancelled"):
                out.append(f"{'batch':>9}  {b.batch_id or b.wave}  {b.status}  "
                           f"{b.completed}/{b.requests} done, {b.failed} failed")  # fmt: skip
        return out

    def render(self, force: bool = False) -> None:
        now = time.monotonic()
        if not force and now - self._last < self.interval:
            return
        self._last = now
        lines = self.lines()
        elapsed = f"glanc build  {now - self._start:6.1f}s"
        if self.tty:
            if self._drawn:
                self.stream.write(f"\x1b[{self._drawn}F")
            self.stream.write("\n".join(f"\x1b[2K{line}" for line in [elapsed, *lines]) + "\n")
            self._drawn = len(lines) + 1
        else:
            self.stream.write(elapsed + "\n" + "\n".join(lines) + "\n")
        self.stream.flush()
