"""The store's rows: a node's record, the SQL that keeps it, and its text forms.

One place for the columns, so the table, the journal and the lock cannot
disagree about what a record holds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

# ``key`` is unique, kept so by the store (``Store.flush`` deletes a key's old
# row before writing it again), not by a PRIMARY KEY: DuckDB holds a primary
# key's index (an ART) whole in memory once a write touches it, 116 bytes a
# node, and that index was most of what grew from a 100k- to a 1M-pair build.
NODES_COLUMNS = """
    key         VARCHAR NOT NULL,
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
"""
ADDED_COLUMNS = (  # added since the first stores, in this order
    "slot VARCHAR", "program VARCHAR", "model_key VARCHAR", "decoding_key VARCHAR",
    "rollout INTEGER DEFAULT 0",
)  # fmt: skip
NODES_TABLE = (
    "CREATE TABLE {name} (" + NODES_COLUMNS + ", " + ", ".join(ADDED_COLUMNS) + ");"
)  # a fresh table with every column, to copy a keyed store's rows into
SCHEMA = f"""
CREATE TABLE IF NOT EXISTS nodes ({NODES_COLUMNS});
{"".join(f"ALTER TABLE nodes ADD COLUMN IF NOT EXISTS {c};" for c in ADDED_COLUMNS)}
CREATE TABLE IF NOT EXISTS history AS SELECT * FROM nodes LIMIT 0;
CREATE TABLE IF NOT EXISTS builds (
    out_dir     VARCHAR PRIMARY KEY,
    fingerprint VARCHAR NOT NULL,
    generation  BIGINT NOT NULL,
    files       JSON NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name VARCHAR PRIMARY KEY, value BIGINT NOT NULL);
"""


@dataclass(frozen=True)
class Record:
    """One node's result: ``status`` is ``ok`` (output set) or ``failed`` (error set)."""

    key: str
    stage: str
    inputs: dict[str, Any] | None
    output: dict[str, Any] | None
    raw: str | None
    model: str
    tokens_in: int | None
    tokens_out: int | None
    latency_ms: float
    status: str
    error: str | None
    attempts: int
    slot: str | None = None
    program: str | None = None
    model_key: str | None = None
    decoding_key: str | None = None
    rollout: int = 0
    inputs_json: str | None = field(default=None, compare=False, repr=False)


@dataclass(frozen=True)
class SlotRecord:
    """The last record built in a slot: what the planner compares a changed node with."""

    key: str
    inputs: dict[str, Any]
    program: str | None
    model_key: str | None
    decoding_key: str | None


@dataclass(frozen=True)
class StageAverages:
    """Per-call averages of finished nodes, for the planner's token estimates."""

    tokens_in: float
    tokens_out: float
    attempts: float
    n: int


COLUMNS = (
    "key, stage, inputs, output, raw, model, tokens_in, tokens_out, "
    "latency_ms, status, error, attempts, slot, program, model_key, decoding_key, rollout"
)
ALL_COLUMNS = COLUMNS + ", created_at"

# lock.jsonl lines as node rows; inputs and raw text are not in the lock
LOCK_SELECT = """
    SELECT key, stage, '{}' AS inputs, output, NULL AS raw, model, tokens[1] AS tokens_in,
           tokens[2] AS tokens_out, NULL AS latency_ms, 'ok' AS status, NULL AS error,
           0 AS attempts, slot, program, model_key, decoding_key, 0 AS rollout,
           now()::TIMESTAMP AS created_at
    FROM read_json(?, format = 'newline_delimited', columns = {
        key: 'VARCHAR', stage: 'VARCHAR', model: 'VARCHAR', output: 'JSON',
        tokens: 'BIGINT[]', slot: 'VARCHAR', program: 'VARCHAR',
        model_key: 'VARCHAR', decoding_key: 'VARCHAR'})
    -- a key two disciplines use is in both their shards: one row, the smallest slot's
    QUALIFY row_number() OVER (PARTITION BY key ORDER BY slot NULLS LAST) = 1
"""


TYPES = (
    "VARCHAR", "VARCHAR", "JSON", "JSON", "VARCHAR", "VARCHAR", "BIGINT", "BIGINT", "DOUBLE",
    "VARCHAR", "VARCHAR", "INTEGER", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "INTEGER",
    "TIMESTAMP",
)  # fmt: skip


def values(record: Record, now: datetime) -> tuple:
    return (
        record.key,
        record.stage,
        record.inputs_json or json.dumps(record.inputs, sort_keys=True),
        None if record.output is None else json.dumps(record.output, sort_keys=True),
        record.raw,
        record.model,
        record.tokens_in,
        record.tokens_out,
        record.latency_ms,
        record.status,
        record.error,
        record.attempts,
        record.slot,
        record.program,
        record.model_key,
        record.decoding_key,
        record.rollout,
        now,
    )


def from_row(row: tuple) -> Record:
    extra: dict[str, Any] = {}
    if len(row) > 12:
        extra = dict(
            slot=row[12],
            program=row[13],
            model_key=row[14],
            decoding_key=row[15],
            rollout=row[16] or 0,
        )
    return Record(
        key=row[0],
        stage=row[1],
        inputs=None if row[2] is None else json.loads(row[2]),
        output=None if row[3] is None else json.loads(row[3]),
        raw=row[4],
        model=row[5],
        tokens_in=row[6],
        tokens_out=row[7],
        latency_ms=row[8],
        status=row[9],
        error=row[10],
        attempts=row[11],
        **extra,
    )


def journal_line(record: Record, keep: bool) -> str:
    """A record as one journal line (its inputs as their canonical JSON text)."""
    entry: dict[str, Any] = {"keep": keep}
    for f in fields(Record):
        if f.name == "inputs_json":
            entry[f.name] = record.inputs_json or json.dumps(record.inputs, sort_keys=True)
        elif f.name != "inputs":
            entry[f.name] = getattr(record, f.name)
    return json.dumps(entry, ensure_ascii=False) + "\n"


def from_journal_line(line: str) -> tuple[Record, bool]:
    """``journal_line`` read back; raises ``ValueError``/``TypeError``/``KeyError`` on
    a line cut short."""
    entry = json.loads(line)
    keep = entry.pop("keep")
    return Record(inputs=None, **entry), keep
