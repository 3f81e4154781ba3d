"""The node store: every model call's result, keyed by content hash, in DuckDB.

Finished nodes are committed in batches and appended to a journal at once
(``_open_journal``), so a killed build loses only the calls in flight. Only
the coordinating thread touches the connection; workers never do.

Besides its key, each record keeps its *slot* -- where in the taxonomy it sits
(stage, discipline, subject, index) -- and digests of its program, model and
decoding. The planner compares a changed node with the last record in its slot
to say *why* it runs. A forced rerun moves the record it replaces to
``history``, so nothing a build paid for is ever overwritten silently.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .errors import GlancError
from .faults import store_message

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
);
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS slot VARCHAR;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS program VARCHAR;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS model_key VARCHAR;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS decoding_key VARCHAR;
ALTER TABLE nodes ADD COLUMN IF NOT EXISTS rollout INTEGER DEFAULT 0;
CREATE TABLE IF NOT EXISTS history AS SELECT * FROM nodes LIMIT 0;
CREATE TABLE IF NOT EXISTS builds (
    out_dir     VARCHAR PRIMARY KEY,
    fingerprint VARCHAR NOT NULL,
    generation  BIGINT NOT NULL,
    files       JSON NOT NULL
);
CREATE TABLE IF NOT EXISTS meta (name VARCHAR PRIMARY KEY, value BIGINT NOT NULL);
"""

WAIT_POLL_S = 0.5
FLUSH_ROWS = 2000
FLUSH_SECONDS = 1.0
RECENT_MERGE = 1 << 16


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


_COLUMNS = (
    "key, stage, inputs, output, raw, model, tokens_in, tokens_out, "
    "latency_ms, status, error, attempts, slot, program, model_key, decoding_key, rollout"
)
_ALL = _COLUMNS + ", created_at"

# lock.jsonl lines as node rows; inputs and raw text are not in the lock
_LOCK_SELECT = """
    SELECT key, stage, '{}' AS inputs, output, NULL AS raw, model, tokens[1] AS tokens_in,
           tokens[2] AS tokens_out, NULL AS latency_ms, 'ok' AS status, NULL AS error,
           0 AS attempts, slot, program, model_key, decoding_key, 0 AS rollout,
           now()::TIMESTAMP AS created_at
    FROM read_json(?, format = 'newline_delimited', columns = {
        key: 'VARCHAR', stage: 'VARCHAR', model: 'VARCHAR', output: 'JSON',
        tokens: 'BIGINT[]', slot: 'VARCHAR', program: 'VARCHAR',
        model_key: 'VARCHAR', decoding_key: 'VARCHAR'})
"""


class Store:
    """A DuckDB file of node records. Use as a context manager.

    ``read_only`` opens without taking the write lock and never creates the
    file: a missing store reads as an empty one (so ``glanc plan`` writes
    nothing). ``on_wait`` makes opening wait for a store another process holds,
    calling it once with the message it would otherwise raise.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        on_wait: Callable[[str], None] | None = None,
    ):
        import duckdb

        self.path = Path(path)
        self.read_only = read_only
        self._slots = True
        self._from = "nodes"
        self._pending: dict[str, tuple[Record, bool]] = {}
        self._recent: set[int] = set()  # prefixes of keys put, not yet in the index
        self._places: list[tuple[str, ...]] = []
        self._used: list[tuple[str, str | None]] = []
        self._bumped = False
        self._index: Any = None
        self._flushed = time.monotonic()
        self._journal: int | None = None
        self._snapshot: str | None = None
        if read_only and not self.path.exists():
            self.con = duckdb.connect(":memory:")
            self.con.execute(SCHEMA)
            return
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        told = False
        while True:
            try:
                self.con = duckdb.connect(str(self.path), read_only=read_only)
                break
            except duckdb.IOException as exc:
                if "lock" not in str(exc).lower():
                    raise GlancError(store_message(self.path, exc)) from None
                message = _lock_message(self.path, str(exc))
                if read_only and on_wait is None and self._open_snapshot():
                    break  # a reader need not wait for the build that holds the store
                if on_wait is None or "in use" not in message:
                    raise GlancError(message) from None
                if not told:
                    on_wait(message)
                    told = True
                time.sleep(WAIT_POLL_S)
            except duckdb.Error as exc:
                raise GlancError(store_message(self.path, exc)) from None
        try:
            if not read_only:
                self.con.execute(SCHEMA)
            columns = {r[0] for r in self.con.execute("DESCRIBE nodes").fetchall()}
            self.con.execute("SELECT count(*), max(key) FROM nodes").fetchone()  # reads its pages
            if not read_only:
                self._open_journal()
        except duckdb.Error as exc:
            self.con.close()
            raise GlancError(store_message(self.path, exc)) from None
        self._slots = "slot" in columns

    def _open_snapshot(self) -> bool:
        """Read a copy of a store another process holds (``glanc plan`` while a
        build runs): what was committed when the copy was taken. False when the
        copy cannot be read (caught mid-write)."""
        import duckdb

        self._snapshot = tempfile.mkdtemp(prefix="glanc-plan-")
        copy = Path(self._snapshot) / self.path.name
        try:
            shutil.copyfile(self.path, copy)
            wal = Path(f"{self.path}.wal")
            if wal.exists():
                shutil.copyfile(wal, Path(f"{copy}.wal"))
            self.con = duckdb.connect(str(copy))
            self.con.execute("SELECT count(*) FROM nodes").fetchone()
            return True
        except (OSError, duckdb.Error):
            shutil.rmtree(self._snapshot, ignore_errors=True)
            self._snapshot = None
            return False

    def _known(self, keys: list[str]) -> list[str]:
        """The keys that may be stored: a sorted array of 60-bit key prefixes, loaded
        once, answers for keys the store cannot hold without a query (a fresh
        build's lookups are all misses). Eight bytes a node; collisions only cost
        a query."""
        import numpy as np

        if self._index is None:
            self.flush()
            prefixes = self.con.execute(
                f"SELECT TRY_CAST('0x' || key[1:15] AS BIGINT) AS p FROM {self._from}"
            ).fetchnumpy()["p"]
            if np.ma.isMaskedArray(prefixes) and prefixes.mask.any():
                self._index = False  # keys that are not hashes: no shortcut
            else:
                self._index = np.sort(np.asarray(prefixes, dtype=np.int64))
        if self._index is False:
            return keys
        try:
            wanted = np.fromiter((int(k[:15], 16) for k in keys), np.int64, count=len(keys))
        except ValueError:
            return keys
        if len(self._recent) > RECENT_MERGE:
            recent = np.fromiter(self._recent, np.int64, count=len(self._recent))
            self._index = np.union1d(self._index, recent)
            self._recent.clear()
        hit = np.zeros(len(keys), dtype=bool)
        if len(self._index):
            pos = np.minimum(np.searchsorted(self._index, wanted), len(self._index) - 1)
            hit = self._index[pos] == wanted
        recent = self._recent
        pairs = zip(keys, hit.tolist(), wanted.tolist(), strict=True)
        return [k for k, h, w in pairs if h or w in recent]

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        try:
            self.flush()
        finally:
            self.con.close()
            if self._snapshot is not None:
                shutil.rmtree(self._snapshot, ignore_errors=True)
            if self._journal is not None:
                os.close(self._journal)
                self._journal = None
                with contextlib.suppress(OSError):
                    if self._journal_path.stat().st_size == 0:
                        self._journal_path.unlink()

    # -- the journal: every record is on disk before the next call starts ------
    def _open_journal(self) -> None:
        """Replay what a killed build left in the journal, then open it for appending.

        DuckDB commits cost milliseconds, so records are committed in batches;
        until then each one is also a line appended to ``<store>.journal`` (one
        ``write`` call, no fsync: the operating system keeps it if the process
        is killed). A build killed between two commits loses no finished call:
        the next open of the store commits the journal's records."""
        self._journal_path = Path(f"{self.path}.journal")
        if self._journal_path.is_file():
            for line in self._journal_path.read_text(encoding="utf-8").splitlines():
                try:
                    fields = json.loads(line)
                    keep = fields.pop("keep")
                    record = Record(inputs=None, **fields)
                except (ValueError, TypeError, KeyError, AttributeError):
                    continue  # a line cut short by the kill: its call is made again
                self._pending[record.key] = (record, keep or self._kept(record.key))
            self.flush()
        self._journal = os.open(self._journal_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
        os.ftruncate(self._journal, 0)

    def _kept(self, key: str) -> bool:
        return key in self._pending and self._pending[key][1]

    def _append_journal(self, record: Record, keep: bool) -> None:
        if self._journal is None:
            return
        fields = {
            "keep": keep,
            "key": record.key,
            "stage": record.stage,
            "inputs_json": record.inputs_json or json.dumps(record.inputs, sort_keys=True),
            "output": record.output,
            "raw": record.raw,
            "model": record.model,
            "tokens_in": record.tokens_in,
            "tokens_out": record.tokens_out,
            "latency_ms": record.latency_ms,
            "status": record.status,
            "error": record.error,
            "attempts": record.attempts,
            "slot": record.slot,
            "program": record.program,
            "model_key": record.model_key,
            "decoding_key": record.decoding_key,
            "rollout": record.rollout,
        }
        os.write(self._journal, (json.dumps(fields, ensure_ascii=False) + "\n").encode("utf-8"))

    def get_many(self, keys: list[str], *, inputs: bool = False) -> dict[str, Record]:
        """Records for whichever of ``keys`` are stored, in one query. ``inputs``
        is left None unless asked for: a build never reads it back, and parsing
        every question's syllabus again is most of a cached lookup's cost."""
        found = {k: self._pending[k][0] for k in keys if k in self._pending}
        rest = self._known([k for k in keys if k not in found] if found else keys)
        if not rest:
            return found
        cols = _COLUMNS if self._slots else _COLUMNS.split(", slot")[0]
        if not inputs:
            cols = cols.replace("inputs,", "NULL,", 1)
        rows = self.con.execute(
            f"SELECT {cols} FROM {self._from} WHERE key IN (SELECT unnest(?))", [rest]
        ).fetchall()
        found.update((row[0], _record(row)) for row in rows)
        return found

    def previous(self, slots: Iterable[str]) -> dict[str, SlotRecord]:
        """The most recent record of each slot, for slots that have one."""
        self.flush()
        slots = list(slots)
        if not slots or not self._slots:
            return {}
        rows = self.con.execute(
            "SELECT slot, arg_max(key, created_at), arg_max(inputs, created_at), "
            "arg_max(program, created_at), arg_max(model_key, created_at), "
            f"arg_max(decoding_key, created_at) FROM {self._from} "
            "WHERE slot IN (SELECT unnest(?)) GROUP BY slot",
            [slots],
        ).fetchall()
        return {r[0]: SlotRecord(r[1], json.loads(r[2]), r[3], r[4], r[5]) for r in rows}

    def averages(self) -> dict[tuple[str, str], StageAverages]:
        """Average tokens and attempts per (stage, model label) over finished nodes."""
        self.flush()
        rows = self.con.execute(
            "SELECT stage, model, avg(tokens_in), avg(tokens_out), avg(attempts), count(*) "
            f"FROM {self._from} WHERE status = 'ok' GROUP BY stage, model"
        ).fetchall()
        return {
            (r[0], r[1]): StageAverages(r[2] or 0.0, r[3] or 0.0, r[4] or 1.0, r[5]) for r in rows
        }

    def put(self, record: Record, *, keep_old: bool = False) -> None:
        """Insert or replace one record. Writes are buffered and committed in one
        transaction every ``FLUSH_ROWS`` records, or by ``flush_if_due`` every
        ``FLUSH_SECONDS`` (a commit per row costs milliseconds in DuckDB); a killed
        build loses at most that much finished work. ``keep_old`` first copies the
        record being replaced into ``history``.
        """
        keep = keep_old or self._kept(record.key)
        self._append_journal(record, keep)
        self._pending[record.key] = (record, keep)
        try:
            self._recent.add(int(record.key[:15], 16))
        except ValueError:
            self._index = False
        if len(self._pending) >= FLUSH_ROWS:
            self.flush()

    def flush_if_due(self) -> None:
        if self._pending and time.monotonic() - self._flushed >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        """Commit the buffered records (and places)."""
        self._flushed = time.monotonic()
        if self._places:
            places, self._places = self._places, []
            cols = [list(c) for c in zip(*places, strict=True)]
            self.con.execute(
                "UPDATE nodes SET slot = u.slot, program = u.program, model_key = u.model_key, "
                "decoding_key = u.decoding_key FROM (SELECT unnest(?::VARCHAR[]) AS key, "
                "unnest(?::VARCHAR[]) AS slot, unnest(?::VARCHAR[]) AS program, "
                "unnest(?::VARCHAR[]) AS model_key, unnest(?::VARCHAR[]) AS decoding_key) AS u "
                "WHERE nodes.key = u.key",
                cols,
            )
            self._bump()
        if not self._pending:
            return
        pending, self._pending = self._pending, {}
        now = datetime.now(UTC).replace(tzinfo=None)
        columns: list[list[Any]] = [[] for _ in range(18)]
        for record, _ in pending.values():
            for column, value in zip(columns, _values(record, now), strict=True):
                column.append(value)
        kept = [key for key, (_, keep) in pending.items() if keep]
        select = ", ".join(f"unnest(?::{t}[])" for t in _TYPES)
        self.con.execute("BEGIN TRANSACTION")
        try:
            if kept:
                self.con.execute(
                    f"INSERT INTO history ({_ALL}) SELECT {_ALL} FROM nodes "
                    "WHERE key IN (SELECT unnest(?::VARCHAR[]))",
                    [kept],
                )
            self.con.execute(f"INSERT OR REPLACE INTO nodes ({_ALL}) SELECT {select}", columns)
            self._bump()
            self.con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):  # the first error is the one to report
                self.con.execute("ROLLBACK")
            self._pending = {**pending, **self._pending}
            raise
        if self._journal is not None:
            os.ftruncate(self._journal, 0)

    def generation(self) -> int:
        """A number that changes whenever the store's records change: a recorded
        build is still current only if no record changed since."""
        self.flush()
        row = self.con.execute("SELECT value FROM meta WHERE name = 'generation'").fetchone()
        return row[0] if row else 0

    def _bump(self) -> None:
        """Inside a write transaction: move the generation on, once per session
        (any number past the recorded one says the records changed)."""
        if self._bumped:
            return
        self._bumped = True
        self.con.execute(
            "INSERT OR REPLACE INTO meta SELECT 'generation', "
            "coalesce((SELECT value FROM meta WHERE name = 'generation'), 0) + 1"
        )

    def recorded_build(self, out_dir: str) -> tuple[str, int, dict[str, Any]] | None:
        """(fingerprint, generation, files) of the last complete build into ``out_dir``."""
        row = self.con.execute(
            "SELECT fingerprint, generation, files FROM builds WHERE out_dir = ?", [out_dir]
        ).fetchone()
        return None if row is None else (row[0], row[1], json.loads(row[2]))

    def record_build(self, out_dir: str, fingerprint: str, files: dict[str, Any]) -> None:
        self.con.execute(
            "INSERT OR REPLACE INTO builds VALUES (?, ?, ?, ?)",
            [out_dir, fingerprint, self.generation(), json.dumps(files, sort_keys=True)],
        )

    def set_place(self, key: str, slot: str, program: str, model_key: str, decoding_key: str):
        """Fill in the slot and digests of a record written before they were kept
        (buffered, written with the next flush)."""
        self._places.append((key, slot, program, model_key, decoding_key))
        if len(self._places) >= FLUSH_ROWS:
            self.flush()

    def count(self, status: str | None = None) -> int:
        self.flush()
        if status is None:
            return self.con.execute("SELECT count(*) FROM nodes").fetchone()[0]
        return self.con.execute("SELECT count(*) FROM nodes WHERE status = ?", [status]).fetchone()[
            0
        ]

    def unreached(self, keep: Iterable[str]) -> dict[str, dict[str, int]]:
        """Rows whose key is not in ``keep``: ``{"nodes"|"history": {stage: n}}``."""
        self.flush()
        self._load_keep(keep)
        out: dict[str, dict[str, int]] = {}
        for table in ("nodes", "history"):
            rows = self.con.execute(
                f"SELECT stage, count(*) FROM {table} "
                "WHERE key NOT IN (SELECT key FROM glanc_keep) GROUP BY stage ORDER BY stage"
            ).fetchall()
            out[table] = dict(rows)
        return out

    def delete_unreached(self, keep: Iterable[str]) -> dict[str, dict[str, int]]:
        """Delete rows whose key is not in ``keep``, in one transaction; return what went."""
        gone = self.unreached(keep)
        self.con.execute("BEGIN TRANSACTION")
        try:
            for table in ("nodes", "history"):
                self.con.execute(
                    f"DELETE FROM {table} WHERE key NOT IN (SELECT key FROM glanc_keep)"
                )
            self._bump()
            self.con.execute("COMMIT")
        except BaseException:
            with contextlib.suppress(Exception):
                self.con.execute("ROLLBACK")
            raise
        self.con.execute("CHECKPOINT")
        return gone

    def use(self, key: str, slot: str | None = None) -> None:
        """Note that this build used ``key`` in ``slot``: the lock lists the keys
        used. Kept in a DuckDB temp table, in batches, rather than a Python set."""
        self._used.append((key, slot))
        if len(self._used) >= FLUSH_ROWS:
            self._flush_used()

    def _flush_used(self) -> None:
        self.con.execute("CREATE TEMP TABLE IF NOT EXISTS glanc_used (key VARCHAR, slot VARCHAR)")
        if self._used:
            keys, slots = zip(*self._used, strict=True)
            self._used = []
            self.con.execute(
                "INSERT INTO glanc_used SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
                [list(keys), list(slots)],
            )

    def locked(self, batch: int = 5000) -> Iterator[tuple]:
        """``(key, stage, model, output, tokens_in, tokens_out, slot, program, model_key,
        decoding_key)`` of the keys used (``use``), by key, streamed.

        Nodes in two places may share a key (two identical questions make one
        answer call); the lock names the smallest of the slots this build used
        it in, not whichever finished first, so the lock's bytes do not depend
        on the order calls completed in."""
        self.flush()
        self._flush_used()
        cursor = self.con.execute(
            "SELECT n.key, n.stage, n.model, n.output, n.tokens_in, n.tokens_out, "
            "coalesce(u.slot, n.slot), n.program, n.model_key, n.decoding_key FROM nodes n "
            "JOIN (SELECT key, min(slot) AS slot FROM glanc_used GROUP BY key) u ON n.key = u.key "
            "WHERE n.status = 'ok' ORDER BY n.key"
        )
        while rows := cursor.fetchmany(batch):
            yield from rows

    def import_lock(self, path: Path) -> int:
        """Add the lock file's nodes the store lacks (read by DuckDB, in one
        transaction); return how many were added."""
        self.flush()
        before = self.count()
        self.con.execute(
            f"INSERT INTO nodes ({_ALL}) {_LOCK_SELECT} WHERE key NOT IN (SELECT key FROM nodes)",
            [str(path)],
        )
        self._index = None
        added = self.count() - before
        if added:
            self._bump()
        return added

    def overlay_lock(self, path: Path) -> None:
        """Read-only stores: see the lock's nodes as if imported, writing nothing
        (``glanc plan`` on a fresh clone plans what ``build`` will do)."""
        if not self._slots or not path.is_file():
            return
        self.con.execute(
            f"CREATE OR REPLACE TEMP TABLE lock_nodes AS {_LOCK_SELECT} "
            "WHERE key NOT IN (SELECT key FROM nodes)",
            [str(path)],
        )
        self._from = f"(SELECT {_ALL} FROM nodes UNION ALL SELECT {_ALL} FROM lock_nodes)"
        self._index = None

    def _load_keep(self, keep: Iterable[str]) -> None:
        self.con.execute("CREATE OR REPLACE TEMP TABLE glanc_keep (key VARCHAR)")
        keys = list(keep)
        if keys:
            self.con.execute("INSERT INTO glanc_keep SELECT unnest(?)", [keys])


_TYPES = (
    "VARCHAR", "VARCHAR", "JSON", "JSON", "VARCHAR", "VARCHAR", "BIGINT", "BIGINT", "DOUBLE",
    "VARCHAR", "VARCHAR", "INTEGER", "VARCHAR", "VARCHAR", "VARCHAR", "VARCHAR", "INTEGER",
    "TIMESTAMP",
)  # fmt: skip


def _values(record: Record, now: datetime) -> tuple:
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


def _record(row: tuple) -> Record:
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


def _lock_message(path: Path, detail: str) -> str:
    pid = re.search(r"PID (\d+)", detail)
    who = f"process {pid.group(1)}" if pid else "another process"
    if "lock" in detail.lower():
        return (
            f"{path}: the store is in use by {who}; wait for it to finish, "
            "pass --wait to wait for it, or pass --store to use another file"
        )
    return f"{path}: cannot open the store: {detail.splitlines()[0]}"
