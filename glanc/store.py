"""The node store: every model call's result, keyed by content hash, in DuckDB.

Each finished node is written and committed at once, so a killed build loses
only the calls in flight. Only the coordinating thread touches the
connection; workers never do.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import GlancError

SCHEMA = """
CREATE TABLE IF NOT EXISTS nodes (
    key         VARCHAR PRIMARY KEY,
    stage       VARCHAR NOT NULL,
    inputs      JSON NOT NULL,
    output      JSON,
    raw         VARCHAR,
    model       VARCHAR NOT NULL,
    tokens_in   BIGINT,
    tokens_out  BIGINT,
    latency_ms  DOUBLE,
    status      VARCHAR NOT NULL,
    error       VARCHAR,
    attempts    INTEGER NOT NULL,
    created_at  TIMESTAMP NOT NULL
)
"""


@dataclass(frozen=True)
class Record:
    """One node's result: ``status`` is ``ok`` (output set) or ``failed`` (error set)."""

    key: str
    stage: str
    inputs: dict[str, Any]
    output: dict[str, Any] | None
    raw: str | None
    model: str
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float
    status: str
    error: str | None
    attempts: int


_COLUMNS = (
    "key, stage, inputs, output, raw, model, tokens_in, tokens_out, "
    "latency_ms, status, error, attempts"
)


class Store:
    """A DuckDB file of node records. Use as a context manager."""

    def __init__(self, path: str | Path):
        import duckdb

        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.con = duckdb.connect(str(self.path))
        except duckdb.IOException as exc:
            raise GlancError(_lock_message(self.path, str(exc))) from None
        except duckdb.Error as exc:
            raise GlancError(f"{self.path}: cannot open the store: {exc}") from None
        self.con.execute(SCHEMA)

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.con.close()

    def get_many(self, keys: list[str]) -> dict[str, Record]:
        """Records for whichever of ``keys`` are stored, in one query."""
        if not keys:
            return {}
        rows = self.con.execute(
            f"SELECT {_COLUMNS} FROM nodes WHERE key IN (SELECT unnest(?))", [keys]
        ).fetchall()
        return {row[0]: _record(row) for row in rows}

    def put(self, record: Record) -> None:
        """Insert or replace one record; committed when this returns."""
        self.con.execute(
            f"INSERT OR REPLACE INTO nodes ({_COLUMNS}, created_at) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                record.key,
                record.stage,
                json.dumps(record.inputs, sort_keys=True),
                None if record.output is None else json.dumps(record.output, sort_keys=True),
                record.raw,
                record.model,
                record.tokens_in,
                record.tokens_out,
                record.latency_ms,
                record.status,
                record.error,
                record.attempts,
                datetime.now(UTC).replace(tzinfo=None),
            ],
        )

    def count(self, status: str | None = None) -> int:
        if status is None:
            return self.con.execute("SELECT count(*) FROM nodes").fetchone()[0]
        return self.con.execute("SELECT count(*) FROM nodes WHERE status = ?", [status]).fetchone()[
            0
        ]


def _record(row: tuple) -> Record:
    return Record(
        key=row[0],
        stage=row[1],
        inputs=json.loads(row[2]),
        output=None if row[3] is None else json.loads(row[3]),
        raw=row[4],
        model=row[5],
        tokens_in=row[6],
        tokens_out=row[7],
        latency_ms=row[8],
        status=row[9],
        error=row[10],
        attempts=row[11],
    )


def _lock_message(path: Path, detail: str) -> str:
    pid = re.search(r"PID (\d+)", detail)
    who = f"process {pid.group(1)}" if pid else "another process"
    if "lock" in detail.lower():
        return (
            f"{path}: the store is in use by {who}; wait for it to finish "
            "or pass --store to use another file"
        )
    return f"{path}: cannot open the store: {detail.splitlines()[0]}"
