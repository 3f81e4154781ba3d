"""The node store: every model call's result, keyed by content hash, in DuckDB.

Finished nodes are committed in batches and appended to a journal at once
(``glanc.store.journal``), so a killed build loses only the calls in flight.
Only the coordinating thread touches the connection; workers never do.

Besides its key, each record keeps its *slot* -- where in the taxonomy it sits
(stage, discipline, subject, index) -- and digests of its program, model and
decoding. The planner compares a changed node with the last record in its slot
to say *why* it runs. A forced rerun moves the record it replaces to
``history``, so nothing a build paid for is ever overwritten silently.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from ..errors import GlancError
from ..faults import store_message
from ..keys import hex_ranges
from ..trust import refuse_store_links
from .bands import SCHEMA as BANDS_SCHEMA
from .bands import FileBands, QuestionBands
from .batches import SCHEMA as BATCH_SCHEMA
from .batches import Batches
from .journal import Journal
from .keyindex import KeyIndex
from .opening import bound_memory, connect, drop_key_index, has_key_index, one_thread, transaction
from .records import (
    ALL_COLUMNS,
    COLUMNS,
    LOCK_SELECT,
    SCHEMA,
    TYPES,
    Record,
    SlotRecord,
    StageAverages,
    from_row,
    values,
)
from .verdicts import SCHEMA as VERDICT_SCHEMA
from .verdicts import Verdicts

FLUSH_ROWS = 2000
FLUSH_SECONDS = 1.0


RANGE_NODES = 50_000  # nodes sorted at a time when the lock is written, about


def key_ranges(nodes: int) -> list[tuple[str, str | None]]:
    """The key ranges the lock is sorted in, one at a time, the ranges written in
    order: the one sorted order in a fraction of the memory (sorted whole, the
    1.2 KB rows of a 100k-pair store's 200k nodes did not fit in 90 MB, and a
    1M-pair walk failed in 417 MB)."""
    return hex_ranges(nodes, RANGE_NODES)


def _make_folder(folder: Path) -> None:
    """Create the store's folder; a ``.glanc`` folder gets a ``.gitignore`` of ``*``
    so that nothing in it (store, journal, scratch files) is ever committed."""
    folder.mkdir(parents=True, exist_ok=True)
    ignore = folder / ".gitignore"
    if folder.name == ".glanc" and not ignore.exists() and not ignore.is_symlink():
        try:
            ignore.write_text("# glanc's local store: never committed\n*\n")
        except OSError:
            pass  # a read-only folder fails on the store itself, with its own message


class Store:
    """A DuckDB file of node records. Use as a context manager.

    ``read_only`` opens without taking the write lock and never creates the
    file: a missing store reads as an empty one (so ``glanc plan`` writes
    nothing). ``on_wait`` makes opening wait for a store another process holds,
    calling it once with the message it would otherwise raise. ``bands_at``:
    keep artifact files' near-duplicate bands in that file rather than the store
    (``glanc check``, whose store is scratch, keeps them from one run to the next).
    """

    def __init__(
        self,
        path: str | Path,
        *,
        read_only: bool = False,
        on_wait: Callable[[str], None] | None = None,
        bands_at: Path | None = None,
    ):
        import duckdb

        self.path = Path(path)
        self.read_only = read_only
        self._slots = True
        self._from = "nodes"
        self._pending: dict[str, tuple[Record, bool]] = {}
        self._places: list[tuple[str, ...]] = []
        self._used: list[tuple[str, str | None]] = []
        self._bumped = False
        self._keys = KeyIndex()
        self._flushed = time.monotonic()
        self._journal = Journal(self.path)
        self._snapshot: str | None = None
        if read_only and not self.path.exists() and not self.path.is_symlink():
            self.con = duckdb.connect(":memory:")
            self.con.execute(SCHEMA + BATCH_SCHEMA + VERDICT_SCHEMA + BANDS_SCHEMA)
            self.batches = Batches(self.con)
            self.verdicts = Verdicts(self.con)
            self.bands = QuestionBands(self.con)
            self.file_bands = FileBands(self.con)
            return
        refuse_store_links(self.path)
        if not read_only:
            _make_folder(self.path.parent)
        self.con, self._snapshot = connect(self.path, read_only=read_only, on_wait=on_wait)
        try:
            if not read_only:
                self.con.execute(SCHEMA + BATCH_SCHEMA + VERDICT_SCHEMA + BANDS_SCHEMA)
                drop_key_index(self.con)
            self.batches = Batches(self.con, read_only=read_only)  # Batch API jobs in flight
            self.verdicts = Verdicts(self.con, read_only=read_only)  # the quality gate's
            self.bands = QuestionBands(self.con, read_only=read_only)  # the dedup's, by text
            self.file_bands = FileBands(self.con, read_only=read_only)  # and by artifact file
            if bands_at is not None and not read_only:
                self.file_bands = _bands_cache(self.con, bands_at) or self.file_bands
            columns = {r[0] for r in self.con.execute("DESCRIBE nodes").fetchall()}
            if read_only and has_key_index(self.con):  # a read-only store made with a primary key
                nodes = self.con.execute("SELECT count(*) FROM nodes").fetchone()[0]
                bound_memory(self.con, nodes)
            if not read_only:
                self._replay_journal()
        except duckdb.Error as exc:
            self.con.close()
            raise GlancError(store_message(self.path, exc)) from None
        self._slots = "slot" in columns

    def _known(self, keys: list[str]) -> list[str]:
        """The keys that may be stored (``KeyIndex``), loading the index once."""
        if not self._keys.loaded:
            self.flush()
            self._load_keys()
        return self._keys.candidates(keys)

    def _load_keys(self) -> None:
        """The key index of the committed rows (the buffered ones are added as
        each flush commits them)."""
        self._keys.load(
            self.con.execute(
                f"SELECT TRY_CAST('0x' || key[1:15] AS BIGINT) AS p FROM {self._from}"
            ).fetchnumpy()["p"]
        )

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
            self._journal.close()

    def _replay_journal(self) -> None:
        """Commit what a killed build left in the journal, then start appending."""
        replayed = False
        for record, keep in self._journal.replay():
            self._pending[record.key] = (record, keep or self._kept(record.key))
            replayed = True
        if replayed:
            self.flush()
        self._journal.open()

    def _kept(self, key: str) -> bool:
        return key in self._pending and self._pending[key][1]

    def get_many(self, keys: list[str], *, inputs: bool = False) -> dict[str, Record]:
        """Records for whichever of ``keys`` are stored, in one query. ``inputs``
        is left None unless asked for: a build never reads it back, and parsing
        every question's syllabus again is most of a cached lookup's cost."""
        found = {k: self._pending[k][0] for k in keys if k in self._pending}
        rest = self._known([k for k in keys if k not in found] if found else keys)
        if not rest:
            return found
        cols = COLUMNS if self._slots else COLUMNS.split(", slot")[0]
        if not inputs:
            cols = cols.replace("inputs,", "NULL,", 1)
        # The table has no key index (records.NODES_COLUMNS says why), so this
        # scans the key column: about 50 ms for 512 keys on a 2M-row table,
        # the same as ``IN`` or a semi join (measured)
        rows = self.con.execute(
            f"SELECT {cols} FROM {self._from} WHERE list_contains(?::VARCHAR[], key)", [rest]
        ).fetchall()
        found.update((row[0], from_row(row)) for row in rows)
        return found

    def find(self, prefix: str, limit: int = 10) -> list[tuple[Record, Any]]:
        """(record, created_at) of the stored nodes whose key starts with ``prefix``,
        newest first (``glanc show``: a key as diff and check print it, cut short)."""
        self.flush()
        cols = COLUMNS if self._slots else COLUMNS.split(", slot")[0]
        rows = self.con.execute(
            f"SELECT {cols}, created_at FROM {self._from} WHERE starts_with(key, ?) "
            "ORDER BY created_at DESC LIMIT ?",
            [prefix, limit],
        ).fetchall()
        return [(from_row(row[:-1]), row[-1]) for row in rows]

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
        self._journal.append(record, keep)
        self._pending[record.key] = (record, keep)
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
            for column, value in zip(columns, values(record, now), strict=True):
                column.append(value)
        kept = [key for key, (_, keep) in pending.items() if keep]
        if not self._keys.loaded:
            self._load_keys()
        stored = self._keys.candidates(list(pending))  # rows to replace, or a few false hits
        select = ", ".join(f"unnest(?::{t}[])" for t in TYPES)
        try:
            with transaction(self.con):
                if kept:
                    self.con.execute(
                        f"INSERT INTO history ({ALL_COLUMNS}) SELECT {ALL_COLUMNS} FROM nodes "
                        "WHERE list_contains(?::VARCHAR[], key)",
                        [kept],
                    )
                if stored:
                    self.con.execute(
                        "DELETE FROM nodes WHERE list_contains(?::VARCHAR[], key)", [stored]
                    )
                self.con.execute(f"INSERT INTO nodes ({ALL_COLUMNS}) SELECT {select}", columns)
                self._bump()
        except BaseException:
            self._pending = {**pending, **self._pending}
            raise
        self._journal.clear()
        for key in pending:
            self._keys.add(key)

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

    def checkpoint(self) -> None:
        """Commit the buffered records and write them into the file, so DuckDB
        may evict the table's pages and its write-ahead log stays short."""
        self.flush()
        if not self.read_only:
            self.con.execute("CHECKPOINT")

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
        with transaction(self.con):
            for table in ("nodes", "history"):
                self.con.execute(
                    f"DELETE FROM {table} WHERE key NOT IN (SELECT key FROM glanc_keep)"
                )
            self._bump()
        self.con.execute("CHECKPOINT")
        return gone

    def use(self, key: str, slot: str | None = None, shard: str = "") -> None:
        """Note that this build used ``key`` in ``slot`` of the discipline whose
        files are ``shard``: the lock lists the keys used, each in the shard of
        every discipline that used it. Kept in a DuckDB temp table, in batches, not a Python set."""
        self._used.append((key, slot, shard))
        if len(self._used) >= FLUSH_ROWS:
            self._flush_used()

    def _flush_used(self) -> None:
        self.con.execute(
            "CREATE TEMP TABLE IF NOT EXISTS glanc_used (key VARCHAR, slot VARCHAR, shard VARCHAR)"
        )
        if self._used:
            columns = [list(c) for c in zip(*self._used, strict=True)]
            self._used = []
            self.con.execute(
                "INSERT INTO glanc_used SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
                "unnest(?::VARCHAR[])",
                columns,
            )

    def locked(self, batch: int = 5000) -> Iterator[tuple]:
        """``(shard, key, stage, model, output, tokens_in, tokens_out, slot, program,
        model_key, decoding_key)`` of the keys used (``use``), streamed a key range at
        a time, and in a range by shard, then key: each shard's entries, taken in the
        order they come, are by key.

        Nodes in two places may share a key (two identical questions make one
        answer call); each discipline's shard lists every key the discipline
        used, with the smallest of its slots there, not whichever finished first:
        a shard's bytes depend on its discipline alone (a build carries an
        unchanged discipline's files over whole), never on the order calls
        completed in. A key two disciplines share is in both their shards."""
        self.flush()
        self._flush_used()
        # Under the memory bound, this sort spills only from checkpointed data and
        # on one thread (2M nodes: 4 s in 512 MB; without these it failed in 1 GB)
        if not self.read_only:
            self.con.execute("CHECKPOINT")
        self.con.execute("SET threads = 1")
        try:
            for low, high in key_ranges(self.con.execute(
                "SELECT count(*) FROM glanc_used").fetchone()[0]):  # fmt: skip
                cursor = self.con.execute(
                    "SELECT u.shard, n.key, n.stage, n.model, n.output, n.tokens_in, "
                    "n.tokens_out, coalesce(u.slot, n.slot), n.program, n.model_key, "
                    "n.decoding_key FROM nodes n JOIN (SELECT key, shard, min(slot) AS slot "
                    "FROM glanc_used "
                    "WHERE key >= $1 AND ($2 IS NULL OR key < $2) GROUP BY key, shard) u "
                    "ON n.key = u.key WHERE n.status = 'ok' AND n.key >= $1 "
                    "AND ($2 IS NULL OR n.key < $2) ORDER BY u.shard, n.key",
                    [low, high],
                )
                while rows := cursor.fetchmany(batch):
                    yield from rows
        finally:
            self.con.execute("RESET threads")

    def import_lock(self, paths: list[Path]) -> int:
        """Add the nodes of the lock's files the store lacks (read by DuckDB, in one
        transaction); return how many were added."""
        self.flush()
        before = self.count()
        with one_thread(self.con):
            self.con.execute(
                f"INSERT INTO nodes ({ALL_COLUMNS}) SELECT * FROM ({LOCK_SELECT}) "
                "WHERE key NOT IN (SELECT key FROM nodes)",
                [[str(p) for p in paths]],
            )
        self._keys.reset()
        added = self.count() - before
        if added:
            self._bump()
        return added

    def overlay_lock(self, paths: list[Path]) -> None:
        """Read-only stores: see the nodes of the lock's files as if imported,
        writing nothing (``glanc plan`` on a fresh clone plans what ``build`` will do)."""
        paths = [p for p in paths if p.is_file()]
        if not self._slots or not paths:
            return
        with one_thread(self.con):
            self.con.execute(
                f"CREATE OR REPLACE TEMP TABLE lock_nodes AS SELECT * FROM ({LOCK_SELECT}) "
                "WHERE key NOT IN (SELECT key FROM nodes)",
                [[str(p) for p in paths]],
            )
        self._from = (
            f"(SELECT {ALL_COLUMNS} FROM nodes UNION ALL SELECT {ALL_COLUMNS} FROM lock_nodes)"
        )
        self._keys.reset()

    def _load_keep(self, keep: Iterable[str]) -> None:
        self.con.execute("CREATE OR REPLACE TEMP TABLE glanc_keep (key VARCHAR)")
        keys = list(keep)
        if keys:
            self.con.execute("INSERT INTO glanc_keep SELECT unnest(?)", [keys])


def _bands_cache(con, path: Path) -> FileBands | None:
    """Artifact files' bands kept in a file of their own (``glanc check``'s cache,
    which outlives its scratch store); None, for the store's own, when the file
    does not open (another check holds it, or it is not a DuckDB file): the
    entries are a function of a file's bytes, so the cache only saves time."""
    import duckdb

    try:
        _make_folder(path.parent)
        con.execute("ATTACH ? AS glanc_bands", [str(path)])
        return FileBands(con, db="glanc_bands")
    except (OSError, duckdb.Error):
        return None
