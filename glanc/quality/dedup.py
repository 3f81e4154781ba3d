"""Near-duplicate questions across a whole build: MinHash (rensa) and LSH bands.

rensa is a MinHash and LSH library written in Rust (MIT): seeded, so the same
questions always hash the same in any process, and fast (3 microseconds a
question to sign; datasketch took about 100). Its LSH index took 3.4 KB a
kept question, which at 100k rows was most of the quality layer's memory, so
the bands are indexed here instead, as sorted arrays (0.4 KB a question, 50
microseconds a question in all). Candidates sharing a band are confirmed by the
exact Jaccard similarity of their word 3-gram sets, so a reported duplicate
really is one.

Determinism: rows are offered in rounds (a build's first rows, then each
round of redrawn rows), each round sorted by row id; a row is dropped when it
is a near-duplicate of a row kept earlier, in an earlier round or earlier in
id order. What is kept depends only on the rows, never on the order calls
finished in.
"""

from __future__ import annotations

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
CHUNK = 4096  # rows signed and indexed at a time: bounds a round's passing memory
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


def _sharing_within(keys: np.ndarray) -> dict[int, set[int]]:
    """For each row of ``keys`` (32 band keys a row), the earlier rows of the same
    array that share a band with it; rows with none are left out."""
    out: dict[int, set[int]] = {}
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
                out.setdefault(n, set()).update(members[:i])
    return out


class _Bands:
    """Per band, the kept rows' keys sorted, with their row numbers: what shares a
    band with a new row is a ``searchsorted`` range. About 0.4 KB a kept row,
    where rensa's LSH index took 3.4 KB (BENCHMARKS.md)."""

    def __init__(self) -> None:
        self.keys = [np.empty(0, dtype=np.uint64) for _ in range(BANDS)]
        self.rows = [np.empty(0, dtype=np.uint32) for _ in range(BANDS)]

    def sharing(self, keys: np.ndarray) -> dict[int, set[int]]:
        """For each of ``keys``' rows (one row of 32 band keys each), by position, the
        indexed rows with a band key in common; rows with none are left out."""
        out: dict[int, set[int]] = {}
        for b in range(BANDS):
            lo = np.searchsorted(self.keys[b], keys[:, b], "left")
            hi = np.searchsorted(self.keys[b], keys[:, b], "right")
            for n in np.flatnonzero(hi > lo).tolist():
                out.setdefault(n, set()).update(self.rows[b][lo[n] : hi[n]].tolist())
        return out

    def add(self, keys: np.ndarray, rows: np.ndarray) -> None:
        """Index ``rows`` (row numbers) by their band ``keys`` (one row each): each
        band's new keys sorted, then merged in (a copy, no sort of the whole)."""
        rows = rows.astype(np.uint32)
        for b in range(BANDS):
            order = np.argsort(keys[:, b], kind="stable")
            new = keys[order, b]
            at = np.searchsorted(self.keys[b], new, "right")
            self.keys[b] = np.insert(self.keys[b], at, new)
            self.rows[b] = np.insert(self.rows[b], at, rows[order])


class NearDuplicates:
    """The questions kept so far, indexed; ``round`` decides a new batch of rows.

    The MinHash signatures are rensa's; the banded index is glanc's own, as
    sorted arrays (``_Bands``): each kept question costs its signature (0.5 KB),
    its band keys and its text."""

    def __init__(self, threshold: float = 0.8):
        self.threshold = threshold
        self._ids: list[str] = []
        self._texts: list[str] = []
        self._signatures = np.empty((0, NUM_PERM), dtype=np.uint32)
        self._bands = _Bands()

    def round(self, rows: list[tuple[str, str]]) -> dict[str, tuple[str, float]]:
        """``rows``: (row id, question). Returns the dropped ones: row id -> (the id of
        the kept row it duplicates, their Jaccard similarity)."""
        dropped: dict[str, tuple[str, float]] = {}
        rows = sorted(rows)
        for start in range(0, len(rows), CHUNK):
            dropped.update(self._chunk(rows[start : start + CHUNK]))
        return dropped

    def _chunk(self, rows: list[tuple[str, str]]) -> dict[str, tuple[str, float]]:
        from rensa import RMinHash

        sets = [shingles(question) for _, question in rows]
        signatures = np.empty((len(rows), NUM_PERM), dtype=np.uint32)
        for i, sh in enumerate(sets):
            mh = RMinHash(num_perm=NUM_PERM, seed=SEED)
            mh.update(sorted(sh))
            signatures[i] = mh.digest()
        keys = _band_keys(signatures)
        earlier = self._bands.sharing(keys)  # kept in earlier chunks and rounds
        within = _sharing_within(keys)  # earlier rows of this chunk
        dropped: dict[str, tuple[str, float]] = {}
        kept: list[int] = []  # this chunk's rows kept so far, in id order
        alive = np.zeros(len(rows), dtype=bool)
        for n, (rid, _) in enumerate(rows):
            candidates = [(self._signatures[j], self._texts[j], self._ids[j])
                          for j in sorted(earlier.get(n, ()))]  # fmt: skip
            candidates += [(signatures[k], rows[k][1], rows[k][0])
                           for k in sorted(within.get(n, ())) if alive[k]]  # fmt: skip
            best: tuple[float, str] | None = None
            for signature, text, other in candidates:
                estimate = np.count_nonzero(signature == signatures[n]) / NUM_PERM
                if estimate < self.threshold - ESTIMATE_MARGIN:
                    continue  # the estimate rules it out; only near ones are measured exactly
                similarity = jaccard(sets[n], shingles(text))
                # the most similar kept row; the earliest id among equals
                if similarity >= self.threshold and (
                    best is None or (-similarity, other) < (-best[0], best[1])
                ):
                    best = (similarity, other)
            if best is not None:
                dropped[rid] = (best[1], best[0])
            else:
                kept.append(n)
                alive[n] = True
        base = len(self._ids)
        self._ids += [rows[k][0] for k in kept]
        self._texts += [rows[k][1] for k in kept]
        self._signatures = np.concatenate([self._signatures, signatures[kept]])
        self._bands.add(keys[kept], np.arange(base, base + len(kept)))
        return dropped
