"""Write a build's dataset and manifest, as one artifact.

Rows are sorted by their stable id so that the same build always writes the
same bytes, and a rebuild's diff shows only what changed. Rows are spooled to
a temporary DuckDB file as they finish and sorted by DuckDB on the way out, so
a build never holds its whole dataset in memory.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from ..options import CARD, DATASET, LOCK, MANIFEST
from . import publish

BATCH = 2000


class RowSpool:
    """Dataset rows on disk until the build ends. Use as a context manager."""

    def __init__(self) -> None:
        import duckdb

        self._dir = tempfile.mkdtemp(prefix="glanc-rows-")
        # rows live in the file; a bounded buffer pool keeps them out of memory
        # (DuckDB's sort spills past it; at 64 MB it failed to sort 100k rows)
        self._con = duckdb.connect(
            os.path.join(self._dir, "rows.duckdb"), config={"memory_limit": "256MB"}
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

    def sorted_lines(self) -> Iterator[str]:
        self._flush()
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


def write_dataset(
    out_dir: Path,
    rows: RowSpool,
    manifest: dict[str, Any],
    lock: Iterable[str],
    card: str,
) -> Path:
    """The build artifact: ``dataset.jsonl`` (one pair a line, by id), ``lock.jsonl``
    (every node used, by key), ``manifest.json`` and the ``README.md`` dataset card.

    All four are written in full to a staging directory, which then replaces
    ``out_dir`` in one step (``publish``): a failure or a kill at any point
    leaves the old artifact whole, and a reader never sees files of two builds."""
    staged = publish.staging_dir(out_dir)
    try:
        publish.write_file(staged / LOCK, lock)
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        publish.write_file(staged / MANIFEST, [text])
        publish.write_file(staged / CARD, [card])
        publish.write_file(staged / DATASET, rows.sorted_lines())
        publish.publish(staged, out_dir)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return out_dir / DATASET
