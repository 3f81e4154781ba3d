"""Dataset rows on disk until a build ends: a temporary DuckDB file, sorted by
row id on the way out, so a build never holds its whole dataset in memory.

The rows are kept in 16 tables by the first character of their id (ids are hex
digests, so the tables fill evenly), and sorted one table at a time: the tables
are in id order, so their sorted rows, one after the other, are every row in id
order, and the largest sort is a sixteenth of the rows. One sort of 1M rows
(1.2 GB) needed 256 MB, spilling, and was the build's peak memory; a filter by
id range over one table read every row's line, 70 s against 15 s whole.
"""

from __future__ import annotations

import bisect
import functools
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from typing import Any

from ..specs import shards

BATCH = 8000  # rows held before they go to the tables: about 500 a table, 10 MB
# DuckDB keeps a file's pages cached up to its bound, so the bound is what the
# spool costs once its rows outgrow it: 1M rows (1.2 GB) took the whole 256 MB the
# final sort needs. Rows are only appended until then, which needs far less.
ADDING = "32MB"  # appending: 1M rows peaked at 124 MiB RSS, against 339 at 300k in 256 MB
SORTING = "128MB"  # a table's sort, on one thread, spilling past it
# the first characters that start a table (the rest go with the table before):
# monotonic in the id's first character, so the tables are in id order for any
# ids, and even for hex ones. Python orders characters as DuckDB orders UTF-8 bytes.
STARTS = "123456789abcdef"
TABLES = [f"rows_{i:x}" for i in range(len(STARTS) + 1)]
COLUMNS = (
    "id VARCHAR, line VARCHAR, field VARCHAR, discipline VARCHAR, level VARCHAR, "
    "difficulty VARCHAR, shard VARCHAR, subject VARCHAR, concepts VARCHAR"
)
SEP = "\x1f"  # between a row's key concepts in ``concepts``


_shard = functools.lru_cache(maxsize=65536)(shards.shard)


def table_of(row_id: str) -> int:
    """The table a row id goes to: the tables, taken in order, are in id order."""
    return bisect.bisect_right(STARTS, row_id[:1])


class RowSpool:
    """Dataset rows on disk until the build ends. Use as a context manager."""

    def __init__(self) -> None:
        import duckdb

        self._dir = tempfile.mkdtemp(prefix="glanc-rows-")
        # rows live in the file; a bounded buffer pool keeps them out of memory.
        # One thread: with two, a sort of 1M rows failed to pin a block in 256 MB.
        self._con = duckdb.connect(
            os.path.join(self._dir, "rows.duckdb"), config={"memory_limit": ADDING, "threads": 1}
        )
        self._con.execute("".join(f"CREATE TABLE {t} ({COLUMNS});" for t in TABLES))
        self._con.execute(
            "CREATE VIEW rows AS " + " UNION ALL ".join(f"SELECT * FROM {t}" for t in TABLES)
        )
        self._pending: list[list[tuple[str, ...]]] = [[] for _ in TABLES]
        self._waiting = 0
        self.count = 0

    def __enter__(self) -> RowSpool:
        return self

    def __exit__(self, *exc: object) -> None:
        self._con.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def add(self, row: dict[str, Any]) -> None:
        line = json.dumps(row, ensure_ascii=False, sort_keys=True)
        path = row["taxonomy_path"]
        rid = row["id"]
        self._pending[table_of(rid)].append(
            (rid, line, path[0], "/".join(path), row["level"], row["difficulty"],
             _shard(tuple(path)), row["subject"], SEP.join(row["key_concepts"]))
        )  # fmt: skip
        self.count += 1
        self._waiting += 1
        if self._waiting >= BATCH:
            self._flush()

    def _flush(self) -> None:
        if not self._waiting:
            return
        select = "SELECT " + ", ".join(["unnest(?::VARCHAR[])"] * 9)
        for table, pending in zip(TABLES, self._pending, strict=True):
            if pending:
                columns = [list(c) for c in zip(*pending, strict=True)]
                self._con.execute(f"INSERT INTO {table} {select}", columns)
        self._pending = [[] for _ in TABLES]
        self._waiting = 0

    def take(self, ids: list[str]) -> list[dict[str, Any]]:
        """Remove the rows with these ids (a dataset-wide check dropped them) and
        return them, by id."""
        if not ids:
            return []
        self._flush()
        by_table: dict[int, list[str]] = {}
        for rid in ids:
            by_table.setdefault(table_of(rid), []).append(rid)
        found: list[str] = []
        for n in sorted(by_table):  # the tables in id order: the rows come back by id
            table, wanted = TABLES[n], by_table[n]
            found += [line for (line,) in self._con.execute(
                f"SELECT line FROM {table} WHERE id IN (SELECT unnest(?::VARCHAR[])) "
                "ORDER BY id, line", [wanted]).fetchall()]  # fmt: skip
            self._con.execute(
                f"DELETE FROM {table} WHERE id IN (SELECT unnest(?::VARCHAR[]))", [wanted]
            )
        self.count -= len(found)
        return [json.loads(line) for line in found]

    def sorted_lines(self) -> Iterator[str]:
        """Every row's line, by (id, line), a table at a time."""
        self._flush()
        self._con.execute("CHECKPOINT")  # a sort spills only from checkpointed data
        self._con.execute(f"SET memory_limit = '{SORTING}'")
        try:
            for table in TABLES:
                cursor = self._con.execute(f"SELECT line FROM {table} ORDER BY id, line")
                while batch := cursor.fetchmany(2000):
                    for (line,) in batch:
                        yield line + "\n"
        finally:
            self._con.execute(f"SET memory_limit = '{ADDING}'")

    def sorted_by_shard(self) -> Iterator[tuple[str, str]]:
        """Every row's ``(shard, line)``: a table at a time, and in a table by shard,
        then (id, line). Each shard's lines, appended in the order they come, are by
        (id, line): the tables are in id order."""
        self._flush()
        self._con.execute("CHECKPOINT")  # a sort spills only from checkpointed data
        self._con.execute(f"SET memory_limit = '{SORTING}'")
        try:
            for table in TABLES:
                cursor = self._con.execute(
                    f"SELECT shard, line FROM {table} ORDER BY shard, id, line"
                )
                while batch := cursor.fetchmany(2000):
                    for shard, line in batch:
                        yield shard, line + "\n"
        finally:
            self._con.execute(f"SET memory_limit = '{ADDING}'")

    def counts(self, column: str) -> list[tuple[str, int]]:
        """Rows per value of ``column`` (field, discipline, level, difficulty), by value."""
        assert column in ("field", "discipline", "level", "difficulty")
        self._flush()
        return self._con.execute(
            f"SELECT {column}, count(*) FROM rows GROUP BY 1 ORDER BY 1"
        ).fetchall()

    def concepts_by_subject(self) -> dict[str, dict[str, tuple[int, int]]]:
        """Per shard (discipline) and subject: its rows, and the distinct key concepts
        they were asked about (``quality.coverage``). Distinct concepts are a grouped
        DISTINCT, which spills, under the sorts' bound: ``count(DISTINCT ...)`` holds
        every group's set in memory, and at 1M stub rows passed the spool's 32 MB."""
        self._flush()
        out: dict[str, dict[str, tuple[int, int]]] = {}
        query = (
            "WITH r AS (SELECT shard, subject, count(*) AS n FROM rows GROUP BY 1, 2), "
            "c AS (SELECT shard, subject, count(*) AS k FROM (SELECT DISTINCT shard, subject, "
            f"concept FROM (SELECT shard, subject, unnest(string_split(concepts, '{SEP}')) "
            "AS concept FROM rows) WHERE concept <> '') GROUP BY 1, 2) "
            "SELECT r.shard, r.subject, r.n, coalesce(c.k, 0) FROM r "
            "LEFT JOIN c ON r.shard = c.shard AND r.subject = c.subject ORDER BY 1, 2"
        )
        self._con.execute(f"SET memory_limit = '{SORTING}'")
        try:
            for shard, subject, rows, concepts in self._con.execute(query).fetchall():
                out.setdefault(shard, {})[subject] = (rows, concepts)
        finally:
            self._con.execute(f"SET memory_limit = '{ADDING}'")
        return out

    def counts_by_shard(self) -> dict[str, dict[str, dict[str, int]]]:
        """Per shard (discipline), rows per value of each column ``counts`` counts."""
        self._flush()
        out: dict[str, dict[str, dict[str, int]]] = {}
        for column in ("field", "discipline", "level", "difficulty"):
            for shard, value, n in self._con.execute(
                f"SELECT shard, {column}, count(*) FROM rows GROUP BY 1, 2 ORDER BY 1, 2"
            ).fetchall():
                out.setdefault(shard, {}).setdefault(column, {})[value] = n
        return out
