"""Near-duplicate questions across a whole build: MinHash (rensa) and LSH bands.

rensa is a MinHash and LSH library written in Rust (MIT): seeded, so the same
questions always hash the same in any process, and fast (3 microseconds a
question to sign; datasketch took about 100). Its LSH index took 3.4 KB a
kept question in memory, and glanc's own sorted arrays 0.9 KB with the
signatures: at 1M rows, a gigabyte that grew with the build. So questions,
signatures and band keys go to a DuckDB file as rows are kept, and a round's
candidates (rows sharing a band) come from one join there, under a bounded
buffer pool that spills: the index costs disk, not memory. Candidates are
confirmed by the exact Jaccard similarity of their word 3-gram sets, so a
reported duplicate really is one.

Determinism: rows are offered in rounds (a build's first rows, then each
round of redrawn rows), each round sorted by row id; a row is dropped when it
is a near-duplicate of a row kept earlier, in an earlier round or earlier in
id order. What is kept depends only on the rows, never on the order calls
finished in.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator

import numpy as np

from . import text as t

SHINGLE = 3
NUM_PERM = 128
BANDS = 32  # 4 rows a band: a pair at Jaccard 0.8 shares a band with probability 0.9999
SEED = 1
ESTIMATE_MARGIN = 0.1  # MinHash's Jaccard estimate errs by about 0.04 at 128 permutations


def shingles(question: str) -> set[str]:
    tokens = t.words(question)
    if len(tokens) < SHINGLE:
        return {" ".join(tokens)}
    return {" ".join(g) for g in t.ngrams(tokens, SHINGLE)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


ROWS_PER_BAND = NUM_PERM // BANDS
CHUNK = 4096  # rows signed and written at a time: bounds a round's passing memory
MEMORY = "128MB"  # the index's buffer pool; its joins spill past it
_MIX = np.array(
    [0x9E3779B97F4A7C15, 0xC2B2AE3D27D4EB4F, 0x165667B19E3779F9, 0x27D4EB2F165667C5],
    dtype=np.uint64,
)


def _band_keys(signatures: np.ndarray) -> np.ndarray:
    """One 64-bit key per band of ``ROWS_PER_BAND`` signature values. Two rows share
    a key when they share the band (or, rarely, by collision: that only adds a
    candidate, which the exact Jaccard rules out)."""
    parts = signatures.reshape(len(signatures), BANDS, ROWS_PER_BAND).astype(np.uint64)
    with np.errstate(over="ignore"):
        mixed = parts * _MIX[:ROWS_PER_BAND]
        return np.bitwise_xor.reduce(mixed, axis=2) ^ (mixed.sum(axis=2, dtype=np.uint64) >> 7)


class NearDuplicates:
    """The questions kept so far, indexed on disk; ``add`` the rows kept in a round
    as they come (any order), ``decide`` at its end. Use as a context manager, or
    ``close``: the index is a temporary DuckDB file."""

    def __init__(self, threshold: float = 0.8):
        import duckdb

        self.threshold = threshold
        self._dir = tempfile.mkdtemp(prefix="glanc-dedup-")
        self._con = duckdb.connect(
            os.path.join(self._dir, "dedup.duckdb"),
            config={"memory_limit": MEMORY, "threads": 1, "preserve_insertion_order": False},
        )
        for table in ("kept", "round"):
            self._con.execute(
                f"CREATE TABLE {table} (id VARCHAR, text VARCHAR, sig BLOB, payload BLOB); "
                f"CREATE TABLE {table}_bands (band UTINYINT, key UBIGINT, id VARCHAR)"
            )
        self._pending: list[tuple[str, str, bytes]] = []

    def __enter__(self) -> NearDuplicates:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self._con.close()
        shutil.rmtree(self._dir, ignore_errors=True)

    def add(self, rid: str, question: str, payload: bytes = b"") -> None:
        """A row kept in this round; ``payload`` comes back with it if it is dropped."""
        self._pending.append((rid, question, payload))
        if len(self._pending) >= CHUNK:
            self._write()

    def round(self, rows: Iterable[tuple[str, str]]) -> dict[str, tuple[str, float]]:
        """``rows``: (row id, question), a whole round at once. Returns the dropped
        ones: row id -> (the id of the kept row it duplicates, their Jaccard)."""
        for rid, question in rows:
            self.add(rid, question)
        return {rid: (kept, sim) for rid, (kept, sim, _) in self.decide().items()}

    def decide(self) -> dict[str, tuple[str, float, bytes]]:
        """The end of a round: each of its rows, in id order, is dropped when it is a
        near-duplicate of a row kept earlier (in an earlier round, or earlier in id
        order and kept); the rest join the kept rows. Returns row id -> (the kept
        row it duplicates, their Jaccard, its payload)."""
        self._write()
        con = self._con
        # pairs (later, earlier) sharing a band: this round's rows against the kept
        # ones and against each other
        con.execute(
            "CREATE OR REPLACE TABLE pairs AS "
            "SELECT DISTINCT a.id AS a, b.id AS b, true AS kept FROM round_bands a "
            "JOIN kept_bands b ON a.band = b.band AND a.key = b.key "
            "UNION ALL SELECT DISTINCT a.id, b.id, false FROM round_bands a "
            "JOIN round_bands b ON a.band = b.band AND a.key = b.key AND b.id < a.id"
        )
        # streamed on a cursor of its own: the lookups below run queries of their own
        cursor = con.cursor().execute("SELECT a, b, kept FROM pairs ORDER BY a, b")
        dropped: dict[str, tuple[str, float, bytes]] = {}
        for groups in _batches(_by_first(cursor), CHUNK):
            rows = self._rows({r[0] for g in groups for r in g} | {r[1] for g in groups for r in g})
            for group in groups:
                rid = group[0][0]
                text, sig, payload = rows[rid]
                best = self._nearest(text, sig, [(b, kept) for _, b, kept in group], rows, dropped)
                if best is not None:
                    dropped[rid] = (best[1], best[0], payload)
        self._settle(list(dropped))
        return dropped

    def _nearest(
        self,
        text: str,
        sig: bytes,
        candidates: list[tuple[str, bool]],
        rows: dict[str, tuple[str, bytes, bytes]],
        dropped: dict[str, tuple[str, float, bytes]],
    ) -> tuple[float, str] | None:
        """(Jaccard, id) of the most similar kept row at or above the threshold, the
        earliest id among equals; None when there is none."""
        own = np.frombuffer(sig, dtype=np.uint32)
        mine: set[str] | None = None
        best: tuple[float, str] | None = None
        for other, kept in candidates:
            if not kept and other in dropped:
                continue  # an earlier row of this round that was itself dropped
            other_text, other_sig, _ = rows[other]
            estimate = np.count_nonzero(np.frombuffer(other_sig, np.uint32) == own) / NUM_PERM
            if estimate < self.threshold - ESTIMATE_MARGIN:
                continue  # the estimate rules it out; only near ones are measured exactly
            mine = shingles(text) if mine is None else mine
            similarity = jaccard(mine, shingles(other_text))
            if similarity >= self.threshold and (
                best is None or (-similarity, other) < (-best[0], best[1])
            ):
                best = (similarity, other)
        return best

    def _rows(self, ids: set[str]) -> dict[str, tuple[str, bytes, bytes]]:
        """id -> (question, signature, payload) of these rows, kept or of this round."""
        self._con.execute("CREATE OR REPLACE TEMP TABLE wanted (id VARCHAR)")
        self._con.execute("INSERT INTO wanted SELECT unnest(?::VARCHAR[])", [sorted(ids)])
        out: dict[str, tuple[str, bytes, bytes]] = {}
        for table in ("kept", "round"):
            query = f"SELECT id, text, sig, payload FROM {table} SEMI JOIN wanted USING (id)"
            for rid, text, sig, payload in self._con.execute(query).fetchall():
                out[rid] = (text, sig, payload)
        return out

    def _settle(self, dropped: list[str]) -> None:
        """This round's kept rows join the index; the round starts empty."""
        con = self._con
        con.execute("CREATE OR REPLACE TEMP TABLE gone (id VARCHAR)")
        if dropped:
            con.execute("INSERT INTO gone SELECT unnest(?::VARCHAR[])", [dropped])
        con.execute("INSERT INTO kept SELECT id, text, sig, NULL FROM round "
                    "WHERE id NOT IN (SELECT id FROM gone)")  # fmt: skip
        con.execute("INSERT INTO kept_bands SELECT * FROM round_bands "
                    "WHERE id NOT IN (SELECT id FROM gone)")  # fmt: skip
        con.execute("DELETE FROM round")
        con.execute("DELETE FROM round_bands")
        con.execute("DROP TABLE pairs")

    def _write(self) -> None:
        """Sign the rows added since the last write and store them with their bands."""
        from rensa import RMinHash

        if not self._pending:
            return
        rows, self._pending = self._pending, []
        signatures = np.empty((len(rows), NUM_PERM), dtype=np.uint32)
        for i, (_, question, _) in enumerate(rows):
            mh = RMinHash(num_perm=NUM_PERM, seed=SEED)
            mh.update(sorted(shingles(question)))
            signatures[i] = mh.digest()
        keys = _band_keys(signatures)
        ids = [rid for rid, _, _ in rows]
        self._con.execute(
            "INSERT INTO round SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[]), "
            "unnest(?::BLOB[]), unnest(?::BLOB[])",
            [ids, [q for _, q, _ in rows], [s.tobytes() for s in signatures],
             [p for _, _, p in rows]],
        )  # fmt: skip
        self._con.execute(
            "INSERT INTO round_bands SELECT unnest(?::UTINYINT[]), unnest(?::UBIGINT[]), "
            "unnest(?::VARCHAR[])",
            [np.tile(np.arange(BANDS), len(rows)).tolist(), keys.reshape(-1).tolist(),
             [rid for rid in ids for _ in range(BANDS)]],
        )  # fmt: skip


def _batches(items: Iterator[list[tuple]], size: int) -> Iterator[list[list[tuple]]]:
    batch: list[list[tuple]] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _by_first(cursor, batch: int = 2048) -> Iterator[list[tuple]]:
    """A cursor's rows, ordered by their first column, grouped by it."""
    group: list[tuple] = []
    while rows := cursor.fetchmany(batch):
        for r in rows:
            if group and r[0] != group[0][0]:
                yield group
                group = []
            group.append(r)
    if group:
        yield group
