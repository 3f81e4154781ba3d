"""Write a build's dataset and manifest, atomically.

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

BATCH = 2000


def write_atomic(path: Path, lines: Iterable[str]) -> None:
    """Write ``lines`` to ``path`` via a temporary file and a rename: readers
    see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for line in lines:
                f.write(line)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


class RowSpool:
    """Dataset rows on disk until the build ends. Use as a context manager."""

    def __init__(self) -> None:
        import duckdb

        self._dir = tempfile.mkdtemp(prefix="glanc-rows-")
        self._con = duckdb.connect(os.path.join(self._dir, "rows.duckdb"))
        self._con.execute("CREATE TABLE rows (id VARCHAR, line VARCHAR)")
        self._pending: list[tuple[str, str]] = []
        self.count = 0

    def __enter__(self) -> RowSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def add(self, row: dict[str, Any]) -> None:
        self._pending.append((row["id"], json.dumps(row, ensure_ascii=False, sort_keys=True)))
        self.count += 1
        if len(self._pending) >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if self._pending:
            self._con.executemany("INSERT INTO rows VALUES (?, ?)", self._pending)
            self._pending = []

    def sorted_lines(self) -> Iterator[str]:
        self._flush()
        cursor = self._con.execute("SELECT line FROM rows ORDER BY id, line")
        while batch := cursor.fetchmany(BATCH):
            for (line,) in batch:
                yield line + "\n"


def write_dataset(out_dir: Path, rows: RowSpool, manifest: dict[str, Any]) -> Path:
    """``out_dir/dataset.jsonl`` (one pair a line, by id) and ``out_dir/manifest.json``."""
    dataset = out_dir / "dataset.jsonl"
    write_atomic(dataset, rows.sorted_lines())
    write_atomic(out_dir / "manifest.json", [json.dumps(manifest, indent=2, sort_keys=True) + "\n"])
    return dataset
