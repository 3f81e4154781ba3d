"""Opening the store's DuckDB file: wait for another writer, or read a copy of
what it has committed, and say in one line why a store cannot be opened."""

from __future__ import annotations

import contextlib
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..errors import GlancError
from ..faults import store_message
from .records import ALL_COLUMNS, NODES_TABLE

WAIT_POLL_S = 0.5
MEMORY_BASE_MB = 128
MEMORY_PER_NODE = 160  # bytes: the key index (ART) took 116 a key, measured at 2M keys


def bound_memory(con: Any, indexed_nodes: int) -> None:
    """Bound DuckDB's memory. Its default, 80% of RAM, kept a large store's pages
    cached, so a build's memory grew with its store; bounded, DuckDB evicts them
    and spills sorts, joins and temp tables to ``<store>.tmp``. A store made
    with a primary key (read-only, not yet rebuilt by ``drop_key_index``) must
    hold that index in memory, so its bound grows by what the index takes."""
    mb = MEMORY_BASE_MB + indexed_nodes * MEMORY_PER_NODE // 2**20
    con.execute(f"SET memory_limit = '{mb}MB'")


def has_key_index(con: Any) -> bool:
    """Whether the nodes table has the PRIMARY KEY stores were made with until
    2026-12 (see ``records.NODES_COLUMNS``)."""
    return bool(
        con.execute(
            "SELECT count(*) FROM duckdb_constraints() WHERE table_name = 'nodes' "
            "AND constraint_type = 'PRIMARY KEY'"
        ).fetchone()[0]
    )


def drop_key_index(con: Any) -> bool:
    """Rebuild a keyed store's nodes table without its primary key, once, in one
    transaction (DuckDB cannot drop a constraint); True if it did. The rows are
    copied as they are: the same keys, the same bytes out."""
    if not has_key_index(con):
        return False
    with transaction(con):
        con.execute(NODES_TABLE.format(name="nodes_unkeyed"))
        con.execute(
            f"INSERT INTO nodes_unkeyed ({ALL_COLUMNS}) SELECT {ALL_COLUMNS} FROM nodes"
        )
        con.execute("DROP TABLE nodes")
        con.execute("ALTER TABLE nodes_unkeyed RENAME TO nodes")
    con.execute("CHECKPOINT")
    return True


def connect(
    path: Path, *, read_only: bool, on_wait: Callable[[str], None] | None
) -> tuple[Any, str | None]:
    """(connection, snapshot directory or None). A store another process holds is
    an error naming it, or with ``on_wait`` a wait (``on_wait`` is told once); a
    reader that need not wait reads a snapshot copy instead."""
    import duckdb

    told = False
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            bound_memory(con, 0)
            return con, None
        except duckdb.IOException as exc:
            if "lock" not in str(exc).lower():
                raise GlancError(store_message(path, exc)) from None
            message = _lock_message(path, str(exc))
            if read_only and on_wait is None:
                snapshot = _open_snapshot(path)
                if snapshot is not None:
                    return snapshot  # a reader need not wait for the build that holds the store
            if on_wait is None or "in use" not in message:
                raise GlancError(message) from None
            if not told:
                on_wait(message)
                told = True
            time.sleep(WAIT_POLL_S)
        except duckdb.Error as exc:
            raise GlancError(store_message(path, exc)) from None


def _open_snapshot(path: Path) -> tuple[Any, str] | None:
    """Read a copy of a store another process holds (``glanc plan`` while a
    build runs): what was committed when the copy was taken. None when the copy
    cannot be read (caught mid-write)."""
    import duckdb

    snapshot = tempfile.mkdtemp(prefix="glanc-plan-")
    copy = Path(snapshot) / path.name
    try:
        shutil.copyfile(path, copy)
        wal = Path(f"{path}.wal")
        if wal.exists():
            shutil.copyfile(wal, Path(f"{copy}.wal"))
        con = duckdb.connect(str(copy))
        con.execute("SELECT count(*) FROM nodes").fetchone()
        return con, snapshot
    except (OSError, duckdb.Error):
        shutil.rmtree(snapshot, ignore_errors=True)
        return None


def _lock_message(path: Path, detail: str) -> str:
    pid = re.search(r"PID (\d+)", detail)
    who = f"process {pid.group(1)}" if pid else "another process"
    if "lock" in detail.lower():
        return (
            f"{path}: the store is in use by {who}; wait for it to finish, "
            "pass --wait to wait for it, or pass --store to use another file"
        )
    return f"{path}: cannot open the store: {detail.splitlines()[0]}"


@contextlib.contextmanager
def one_thread(con: Any) -> Iterator[None]:
    """Run the block's queries on one DuckDB thread. Reading a lock's JSON: with two,
    each buffers its own share of the file and the anti-join with the store did not
    fit the memory bound (a 100k-pair lock, 141 MB: import failed, and glanc plan's
    overlay exited 2 at edb2030)."""
    con.execute("SET threads = 1")
    try:
        yield
    finally:
        con.execute("RESET threads")


@contextlib.contextmanager
def transaction(con: Any) -> Iterator[None]:
    """One DuckDB transaction: committed when the block ends, rolled back on any
    error (a failed rollback never hides the first error, which is re-raised)."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield
        con.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            con.execute("ROLLBACK")
        raise
