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

import math
import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from typing import Any

import numpy as np

from .. import text as t
from ..store.bands import QuestionBands, question_digest

SHINGLE = 3
NUM_PERM = 128
BANDS = 32  # 4 rows a band: a pair at Jaccard 0.8 shares a band with probability 0.9999
SEED = 1
ESTIMATE_MARGIN = 0.1  # MinHash's Jaccard estimate errs by about 0.04 at 128 permutations


def shingles(question: str) -> set[str]:
    """A question's word 3-grams (``SHINGLE``), each as one string."""
    tokens = t.words(question)
    if len(tokens) < SHINGLE:
        return {" ".join(tokens)}
    return set(map(" ".join, zip(*(tokens[i:] for i in range(SHINGLE)), strict=False)))


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


ROWS_PER_BAND = NUM_PERM // BANDS
CHUNK = 4096  # rows signed and written at a time: bounds a round's passing memory
MISS = 1e-5  # a pair at the threshold is not a candidate with this probability, at most
MEMORY = "128MB"  # the index's buffer pool in a round's end; its joins spill past it
# while rows are only appended, a smaller bound: DuckDB keeps pages cached up to
# its bound, so past 128 MB of rows (about 100k) the bound was what the index cost
ADDING = "32MB"
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


def _sharing_within(keys: np.ndarray, least: int) -> dict[int, set[int]]:
    """For each row of ``keys`` (32 band keys a row), the earlier rows of the same
    array that share at least ``least`` bands with it; rows with none are left out."""
    shared: dict[int, dict[int, int]] = {}
    for b in range(BANDS):
        column = keys[:, b]
        order = np.argsort(column, kind="stable")
        values = column[order]
        starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
        ends = np.r_[starts[1:], len(values)]
        groups = (ends - starts) > 1
        for start, end in zip(starts[groups].tolist(), ends[groups].tolist(), strict=True):
            members = sorted(order[start:end].tolist())
            for i, n in enumerate(members[1:], 1):
                counts = shared.setdefault(n, {})
                for m in members[:i]:
                    counts[m] = counts.get(m, 0) + 1
    out = {n: {m for m, c in counts.items() if c >= least} for n, counts in shared.items()}
    return {n: ms for n, ms in out.items() if ms}


def least_bands(threshold: float, miss: float = MISS) -> int:
    """The most bands a pair of rows at exactly ``threshold`` Jaccard shares with
    probability ``1 - miss`` at least (a band matches with probability J ** 4).
    Pairs sharing fewer are not candidates: in stub-like text, where many pairs
    share one band by chance, single shared bands made most of the candidates
    at 1M rows and never a duplicate. A pair more similar shares more bands, so
    it is missed less often still; MinHash's own estimate, the next filter, errs
    more (by the binomial, 0.2% of pairs at 0.8 read below 0.7 at 128 permutations)."""
    p = threshold**ROWS_PER_BAND
    for least in range(BANDS, 0, -1):
        tail = sum(math.comb(BANDS, k) * p**k * (1 - p) ** (BANDS - k)
                   for k in range(least, BANDS + 1))  # fmt: skip
        if tail >= 1 - miss:
            return least
    return 1


class NearDuplicates:
    """The questions kept so far, indexed on disk; ``add`` the rows kept in a round
    as they come (any order), ``decide`` at its end. Use as a context manager, or
    ``close``: the index is a temporary DuckDB file."""

    def __init__(self, threshold: float = 0.8):
        import duckdb

        self.threshold = threshold
        self._least = least_bands(threshold)
        self._dir = tempfile.mkdtemp(prefix="glanc-dedup-")
        self._con = duckdb.connect(
            os.path.join(self._dir, "dedup.duckdb"),
            config={"memory_limit": ADDING, "threads": 1, "preserve_insertion_order": False},
        )
        self._con.execute(
            "CREATE TABLE kept (id VARCHAR, text VARCHAR, sig BLOB, payload BLOB); "
            "CREATE TABLE gone (id VARCHAR, text VARCHAR, sig BLOB); "
            "CREATE TABLE round (id VARCHAR, text VARCHAR, sig BLOB, payload BLOB); "
            "CREATE TABLE kept_bands (band UTINYINT, key UBIGINT, id VARCHAR)"
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
        row it duplicates, their Jaccard, its payload).

        Rows are taken ``CHUNK`` at a time in id order: a chunk's band keys are
        joined against the kept rows' (DuckDB hashes the chunk's side and scans
        the rest, so memory stays the chunk's), then its kept rows join them."""
        self._write()
        self._con.execute(f"SET memory_limit = '{MEMORY}'")
        ordered = self._con.cursor().execute("SELECT id FROM round ORDER BY id")
        dropped: dict[str, tuple[str, float, bytes]] = {}
        while ids := [rid for (rid,) in ordered.fetchmany(CHUNK)]:
            dropped.update(self._chunk(ids))
        self._con.execute("DELETE FROM round")
        self._con.execute(f"SET memory_limit = '{ADDING}'")
        return dropped

    def _chunk(self, ids: list[str]) -> dict[str, tuple[str, float, bytes]]:
        con = self._con
        rows = self._fetch("round", ids)
        signatures = np.stack([np.frombuffer(rows[rid][1], np.uint32) for rid in ids])
        keys = _band_keys(signatures)
        con.execute("CREATE OR REPLACE TEMP TABLE probe (band UTINYINT, key UBIGINT, id VARCHAR)")
        self._insert_bands("probe", ids, keys)
        earlier: dict[str, set[str]] = {}
        for a, b in con.execute(
            "SELECT p.id, k.id FROM probe p JOIN kept_bands k "
            "ON p.band = k.band AND p.key = k.key GROUP BY p.id, k.id HAVING count(*) >= ?",
            [self._least],
        ).fetchall():
            earlier.setdefault(a, set()).add(b)
        kept_rows = self._fetch("kept", sorted({b for bs in earlier.values() for b in bs}))
        within = _sharing_within(keys, self._least)  # earlier rows of this chunk
        dropped: dict[str, tuple[str, float, bytes]] = {}
        alive: list[int] = []
        for n, rid in enumerate(ids):
            text, sig, payload = rows[rid]
            candidates = [(kept_rows[b][0], kept_rows[b][1], b) for b in earlier.get(rid, ())]
            candidates += [(rows[ids[k]][0], rows[ids[k]][1], ids[k])
                           for k in within.get(n, ()) if ids[k] not in dropped]  # fmt: skip
            best = self._nearest(text, sig, candidates)
            if best is not None:
                dropped[rid] = (best[1], best[0], payload)
            else:
                alive.append(n)
        kept = [ids[n] for n in alive]
        gone = sorted(dropped)
        self._insert("gone", {"id": gone, "text": [rows[r][0] for r in gone],
                              "sig": [rows[r][1] for r in gone]})  # fmt: skip
        self._insert("kept", {"id": kept, "text": [rows[r][0] for r in kept],
                              "sig": [rows[r][1] for r in kept], "payload": None})  # fmt: skip
        self._insert_bands("kept_bands", kept, keys[alive])
        return dropped

    def entries(self) -> Iterator[list[tuple[str, str, bytes]]]:
        """Every row this index decided (kept or dropped): (id, question, signature),
        ``CHUNK`` at a time, in no particular order (a scan: sorted, 100k rows did
        not fit the index's bound)."""
        for table in ("kept", "gone"):
            cursor = self._con.cursor().execute(f"SELECT id, text, sig FROM {table}")
            while chunk := cursor.fetchmany(CHUNK):
                yield chunk

    @property
    def least(self) -> int:
        """The bands a pair must share to be a candidate (``least_bands``)."""
        return self._least

    def decided(self, also: list[str], kept: QuestionBands | None) -> tuple[list[str], np.ndarray]:
        """Every question this index decided (kept or dropped), then ``also``, with
        each one's 32 band keys (low 32 bits, as the store keeps them; ``also``'s from
        ``kept`` where it has them): one side of a crossing (``glanc.tasks.carry``)."""
        own = [row for chunk in self.entries() for row in chunk]
        texts = [text for _, text, _ in own] + list(also)
        keys = [_low_keys([sig for _, _, sig in own])] if own else []
        if also:
            keys.append(band_keys(list(also), kept))
        return texts, np.concatenate(keys) if keys else np.empty((0, BANDS), np.uint32)

    def similar(self, a: str, b: str) -> bool:
        """Are these questions near-duplicates by the exact Jaccard of their word
        3-grams? A crossing pair counts when it is (the dedup drops no row for less;
        the signatures' estimate, its middle filter, is not applied)."""
        return jaccard(shingles(a), shingles(b)) >= self.threshold

    def _insert_bands(self, table: str, ids: list[str], keys: np.ndarray) -> None:
        """Each row's 32 (band, key, id) rows into ``table``."""
        self._insert(table, {
            "band": np.tile(np.arange(BANDS, dtype=np.uint8), len(ids)),
            "key": keys.reshape(-1).astype(np.uint64, copy=False),
            "id": np.repeat(np.array(ids, dtype=object), BANDS),
        })  # fmt: skip

    def _insert(self, table: str, columns: dict[str, Any]) -> None:
        """Rows into ``table``, column by column (None: NULL), from numpy arrays that
        DuckDB scans directly: as Python lists unnested, a round's inserts were more
        than half of it (131,072 band rows: 0.33 s against 0.008 s)."""
        frame = {name: np.asarray(values, dtype=object) if isinstance(values, list) else values
                 for name, values in columns.items() if values is not None}  # fmt: skip
        select = ", ".join(name if columns[name] is not None else "NULL" for name in columns)
        self._con.register("glanc_frame", frame)
        try:
            self._con.execute(f"INSERT INTO {table} SELECT {select} FROM glanc_frame")
        finally:
            self._con.unregister("glanc_frame")

    def _nearest(
        self, text: str, sig: bytes, candidates: list[tuple[str, bytes, str]]
    ) -> tuple[float, str] | None:
        """(Jaccard, id) of the most similar candidate (text, signature, id) at or
        above the threshold, the earliest id among equals; None when there is none."""
        own = np.frombuffer(sig, dtype=np.uint32)
        mine: set[str] | None = None
        best: tuple[float, str] | None = None
        for other_text, other_sig, other in candidates:
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

    def _fetch(self, table: str, ids: list[str]) -> dict[str, tuple[str, bytes, bytes]]:
        """id -> (question, signature, payload) of these rows of ``table``."""
        if not ids:
            return {}
        self._con.execute("CREATE OR REPLACE TEMP TABLE wanted (id VARCHAR)")
        self._con.execute("INSERT INTO wanted SELECT unnest(?::VARCHAR[])", [ids])
        query = f"SELECT id, text, sig, payload FROM {table} SEMI JOIN wanted USING (id)"
        return {rid: (text, sig, payload) for rid, text, sig, payload in
                self._con.execute(query).fetchall()}  # fmt: skip

    def _write(self) -> None:
        """Sign the rows added since the last write and store them with their bands."""
        if not self._pending:
            return
        rows, self._pending = self._pending, []
        signatures = _sign([question for _, question, _ in rows])
        self._insert("round", {"id": [rid for rid, _, _ in rows], "text": [q for _, q, _ in rows],
                               "sig": [s.tobytes() for s in signatures],
                               "payload": [p for _, _, p in rows]})  # fmt: skip


def _sign(questions: list[str]) -> np.ndarray:
    """Each question's MinHash signature, a row of ``NUM_PERM`` values."""
    from rensa import RMinHash

    signatures = np.empty((len(questions), NUM_PERM), dtype=np.uint32)
    for i, question in enumerate(questions):
        mh = RMinHash(num_perm=NUM_PERM, seed=SEED)
        # a minimum over each permutation: the order the shingles come in is no matter
        mh.update(list(shingles(question)))
        signatures[i] = mh.digest()
    return signatures


def _low(keys: np.ndarray) -> np.ndarray:
    """Band keys cut to their low 32 bits, as the store keeps them (a collision only
    adds a candidate, which the exact Jaccard rules out)."""
    return (keys & np.uint64(0xFFFFFFFF)).astype(np.uint32)


def _low_keys(signatures: list[bytes]) -> np.ndarray:
    """The low 32 bits of the band keys of stored signatures."""
    return _low(_band_keys(np.stack([np.frombuffer(sig, np.uint32) for sig in signatures])))


def band_keys(questions: list[str], kept: QuestionBands | None) -> np.ndarray:
    """Each question's 32 band keys (low 32 bits): from ``kept`` where it has them,
    else signed, and then kept there."""
    if kept is None:
        return _low(_band_keys(_sign(questions)))
    digests = [question_digest(q) for q in questions]
    known = kept.of(digests)
    out = np.empty((len(questions), BANDS), dtype=np.uint32)
    missing = [i for i, d in enumerate(digests) if d not in known]
    for i, d in enumerate(digests):
        if d in known:
            out[i] = known[d]
    if missing:
        fresh = _low(_band_keys(_sign([questions[i] for i in missing])))
        out[missing] = fresh
        kept.keep((digests[i], fresh[k]) for k, i in enumerate(missing))
    return out


def keep_bands(index: NearDuplicates, kept: QuestionBands) -> None:
    """Keep the bands of every question ``index`` decided, for the next build."""
    for chunk in index.entries():
        keys = _low_keys([sig for _, _, sig in chunk])
        kept.keep((question_digest(text), keys[i]) for i, (_, text, _) in enumerate(chunk))
