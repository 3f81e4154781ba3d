"""Live build progress on stderr: per stage done / cached / failed / tokens.

On a terminal the table redraws in place; otherwise (CI logs, pipes) a line
per stage is printed every few seconds, so logs stay readable.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from typing import TextIO

from .spec import STAGES
from .usage import Ledger


@dataclass
class StageStats:
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


@dataclass
class Progress:
    stream: TextIO | None = None
    enabled: bool = True
    stats: dict[str, StageStats] = field(default_factory=lambda: {s: StageStats() for s in STAGES})
    queued: dict[str, int] = field(default_factory=lambda: {s: 0 for s in STAGES})
    usage: Ledger = field(default_factory=Ledger)  # what this run's calls spent, per model
    _last: float = 0.0
    _drawn: int = 0
    _start: float = field(default_factory=time.monotonic)

    def __post_init__(self) -> None:
        self.stream = self.stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.interval = 0.25 if self.tty else 5.0

    def lines(self) -> list[str]:
        out = []
        for stage in STAGES:
            s = self.stats[stage]
            done = s.run + s.cached + s.failed + s.skipped
            skipped = f"skipped {s.skipped:<5} " if s.skipped else ""
            out.append(
                f"{stage:>9}  {done:>6}/{done + self.queued[stage]:<6} "
                f"run {s.run:<6} cached {s.cached:<6} failed {s.failed:<4} {skipped}"
                f"tokens {s.tokens_in}+{s.tokens_out}"
            )
        for label in sorted(self.usage.cells):
            t = self.usage.total(label)
            spent = self.usage.cost(label)
            money = f"  ${spent:.4f}" if spent is not None else ""
            out.append(
                f"{'model':>9}  {label}  calls {t.calls}  "
                f"tokens {t.tokens_in}+{t.tokens_out}{money}"
            )
        return out

    def render(self, force: bool = False) -> None:
        if not self.enabled:
            return
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
