"""Near-duplicate questions across a whole build: MinHash LSH (datasketch).

datasketch is the MinHash and LSH library the field's pipelines build on; it is
pure Python over numpy, with seeded permutations, so the same questions always
hash the same. Candidates the LSH index returns are confirmed by the exact
Jaccard similarity of their word 3-gram sets, so a reported duplicate really is
one.

Determinism: rows are offered in rounds (a build's first rows, then each
round of redrawn rows), each round sorted by row id; a row is dropped when it
is a near-duplicate of a row kept earlier, in an earlier round or earlier in
id order. What is kept depends only on the rows, never on the order calls
finished in.
"""

from __future__ import annotations

import zlib

from . import text as t

SHINGLE = 3
NUM_PERM = 64  # candidates are confirmed by exact Jaccard: 64 permutations are enough
SEED = 1
CHUNK = 5000


def shingles(question: str) -> set[str]:
    tokens = t.words(question)
    if len(tokens) < SHINGLE:
        return {" ".join(tokens)}
    return {" ".join(g) for g in t.ngrams(tokens, SHINGLE)}


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a or b else 1.0


class NearDuplicates:
    """The questions kept so far, indexed; ``round`` decides a new batch of rows."""

    def __init__(self, threshold: float = 0.8):
        from datasketch import MinHashLSH

        self.threshold = threshold
        # the index asks for a little less than the threshold, so that few true
        # duplicates slip past it; exact Jaccard then confirms each candidate
        self._lsh = MinHashLSH(threshold=max(0.3, threshold - 0.15), num_perm=NUM_PERM)
        self._kept: dict[str, str] = {}  # row id -> question

    def round(self, rows: list[tuple[str, str]]) -> dict[str, tuple[str, float]]:
        """``rows``: (row id, question). Returns the dropped ones: row id -> (the id of
        the kept row it duplicates, their Jaccard similarity)."""
        dropped: dict[str, tuple[str, float]] = {}
        rows = sorted(rows)
        for start in range(0, len(rows), CHUNK):  # in id order, a chunk at a time: bounded memory
            self._chunk(rows[start : start + CHUNK], dropped)
        return dropped

    def _chunk(self, rows: list[tuple[str, str]], dropped: dict[str, tuple[str, float]]) -> None:
        from datasketch import MinHash

        sets = [shingles(q) for _, q in rows]
        hashes = MinHash.bulk(
            [[s.encode("utf-8") for s in sh] for sh in sets],
            num_perm=NUM_PERM,
            seed=SEED,
            hashfunc=zlib.crc32,  # deterministic like datasketch's sha1, and 5x cheaper
        )
        for (rid, question), sh, mh in zip(rows, sets, hashes, strict=True):
            best: tuple[float, str] | None = None
            for other in sorted(self._lsh.query(mh)):
                similarity = jaccard(sh, shingles(self._kept[other]))
                if similarity >= self.threshold and (best is None or similarity > best[0]):
                    best = (similarity, other)
            if best is not None:
                dropped[rid] = (best[1], best[0])
                continue
            self._lsh.insert(rid, mh)
            self._kept[rid] = question
