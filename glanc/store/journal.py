"""The store's journal: every finished record is on disk before the next call starts.

DuckDB commits cost milliseconds, so the store commits records in batches;
until then each one is also a line appended to ``<store>.journal`` (one
``write`` call, no fsync: the operating system keeps it if the process is
killed). A build killed between two commits loses no finished call: the next
open of the store commits the journal's records.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from ..errors import GlancError
from ..trust import tracked_by_git
from .records import Record, from_journal_line, journal_line


class Journal:
    """``<store>.journal``: replayed once, then appended to and cleared after each commit."""

    def __init__(self, store_path: Path):
        self.path = Path(f"{store_path}.journal")
        self._fd: int | None = None

    def refuse_committed(self) -> None:
        """A journal is a killed build's own unfinished work, never shared: one that
        git tracks came with a checkout (a pull request could put any output into
        the reviewer's store that way), so it is refused, not replayed."""
        if self.path.is_symlink() or (self.path.exists() and tracked_by_git(self.path)):
            raise GlancError(
                f"{self.path}: a store journal that git tracks (or a symlink) is never "
                f"replayed: remove it from the commit (git rm --cached {self.path}) and delete it"
            )

    def replay(self) -> Iterator[tuple[Record, bool]]:
        """What a killed build left: (record, keep its predecessor in history)."""
        if not self.path.is_file():
            return
        self.refuse_committed()
        for line in self.path.read_text(encoding="utf-8").splitlines():
            try:
                yield from_journal_line(line)
            except (ValueError, TypeError, KeyError, AttributeError):
                continue  # a line cut short by the kill: its call is made again

    def open(self) -> None:
        """Start appending, from empty (call after the replayed records are committed)."""
        flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0)
        self._fd = os.open(self.path, flags, 0o666)
        os.ftruncate(self._fd, 0)

    def append(self, record: Record, keep: bool) -> None:
        if self._fd is not None:
            os.write(self._fd, journal_line(record, keep).encode("utf-8"))

    def clear(self) -> None:
        """Everything appended is committed now."""
        if self._fd is not None:
            os.ftruncate(self._fd, 0)

    def close(self) -> None:
        """Stop appending; an empty journal file is removed."""
        if self._fd is None:
            return
        os.close(self._fd)
        self._fd = None
        with contextlib.suppress(OSError):
            if self.path.stat().st_size == 0:
                self.path.unlink()
