"""Dataset rows on disk until a build ends: a temporary DuckDB file, sorted by
row id on the way out, so a build never holds its whole dataset in memory."""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

BATCH = 2000


class RowSpool:
    """Dataset rows on disk until the build ends. Use as a context manager."""

    def __init__(self) -> None:
        import duckdb

        self._dir = tempfile.mkdtemp(prefix="glanc-rows-")
        # rows live in the file; a bounded buffer pool keeps them out of memory
        # (DuckDB's sort spills past it; at 64 MB it failed to sort 100k rows).
        # One thread: with two, the sort of 1M rows (1.2 GB) failed to pin a block
        # in 256 MB; with one it spills and sorts them in 3 s.
        self._con = duckdb.connect(
            os.path.join(self._dir, "rows.duckdb"), config={"memory_limit": "256MB", "threads": 1}
        )
        self._con.execute(
            "CREATE TABLE rows (id VARCHAR, line VARCHAR, field VARCHAR, discipline VARCHAR, "
            "level VARCHAR, difficulty VARCHAR)"
        )
        self._pending: list[tuple[str, ...]] = []
        self.count = 0

    def __enter__(self) -> RowSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def add(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False, sort_keys=True)
        path = row["taxonomy_path"]
        self._pending.append(
            (row["id"], line, path[0], "/".join(path), row["level"], row["difficulty"])
        )
        self.count += 1
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            columns = [list(c) for c in zip(*self._pending, strict=True)]
            self._con.execute(
                "INSERT INTO rows SELECT " + ", ".join(["unnest(?::VARCHAR[])"] * 6), columns
            )
            self._pending = []

    def take(self, ids: list[str]) -> list[dict[str, Any]]:
        """Remove the rows with these ids (a dataset-wide check dropped them) and
        return them, by id."""
        if not ids:
            return []
        self._flush()
        found = self._con.execute(
            "SELECT line FROM rows WHERE id IN (SELECT unnest(?::VARCHAR[])) ORDER BY id, line",
            [ids],
        ).fetchall()
        self._con.execute("DELETE FROM rows WHERE id IN (SELECT unnest(?::VARCHAR[]))", [ids])
        self.count -= len(found)
        return [json.loads(line) for (line,) in found]

    def sorted_lines(self) -> Iterator[str]:
        self._flush()
        self._con.execute("CHECKPOINT")  # the sort spills only from checkpointed data
        cursor = self._con.execute("SELECT line FROM rows ORDER BY id, line")
        while batch := cursor.fetchmany(BATCH):
            for (line,) in batch:
                yield line + "\n"

    def counts(self, column: str) -> list[tuple[str, int]]:
        """Rows per value of ``column`` (field, discipline, level, difficulty), by value."""
        assert column in ("field", "discipline", "level", "difficulty")
        self._flush()
        return self._con.execute(
            f"SELECT {column}, count(*) FROM rows GROUP BY 1 ORDER BY 1"
        ).fetchall()
