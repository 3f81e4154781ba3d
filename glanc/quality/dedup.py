"""Near-duplicate questions across a whole build: MinHash LSH (rensa).

rensa is a MinHash and LSH library written in Rust (MIT): seeded, so the same
questions always hash the same in any process, and fast. On this project's
20k-question benchmark it took 20 microseconds a question for MinHash, query and
insert, where datasketch took 110 (one Python MinHash object per question).
Candidates the LSH index returns are confirmed by the exact Jaccard similarity
of their word 3-gram sets, so a reported duplicate really is one.

Determinism: rows are offered in rounds (a build's first rows, then each
round of redrawn rows), each round sorted by row id; a row is dropped when it
is a near-duplicate of a row kept earlier, in an earlier round or earlier in
id order. What is kept depends only on the rows, never on the order calls
finished in.
"""

from __future__ import annotations

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


class NearDuplicates:
    """The questions kept so far, indexed; ``round`` decides a new batch of rows."""

    def __init__(self, threshold: float = 0.8):
        from rensa import RMinHashLSH

        self.threshold = threshold
        self._lsh = RMinHashLSH(threshold=threshold, num_perm=NUM_PERM, num_bands=BANDS)
        self._kept: list[tuple[str, str, object]] = []  # (row id, question, MinHash) by index

    def round(self, rows: list[tuple[str, str]]) -> dict[str, tuple[str, float]]:
        """``rows``: (row id, question). Returns the dropped ones: row id -> (the id of
        the kept row it duplicates, their Jaccard similarity)."""
        from rensa import RMinHash

        dropped: dict[str, tuple[str, float]] = {}
        for rid, question in sorted(rows):
            sh = shingles(question)
            mh = RMinHash(num_perm=NUM_PERM, seed=SEED)
            mh.update(sorted(sh))
            best: tuple[float, str] | None = None
            for k in sorted(self._lsh.query(mh)):
                other, text, other_mh = self._kept[k]
                if mh.jaccard(other_mh) < self.threshold - ESTIMATE_MARGIN:
                    continue  # the estimate rules it out; only near ones are measured exactly
                similarity = jaccard(sh, shingles(text))
                # the most similar kept row; the earliest id among equals
                if similarity >= self.threshold and (
                    best is None or (-similarity, other) < (-best[0], best[1])
                ):
                    best = (similarity, other)
            if best is not None:
                dropped[rid] = (best[1], best[0])
                continue
            self._lsh.insert(len(self._kept), mh)
            self._kept.append((rid, question, mh))
        return dropped
