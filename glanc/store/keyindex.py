"""Which keys the store may hold, answered without a query.

A fresh build's lookups are all misses; a sorted array of 60-bit key
prefixes, loaded once, rules most of them out in memory. Eight bytes a node;
a collision only costs a query.
"""

from __future__ import annotations

from typing import Any

RECENT_MERGE = 1 << 16


class KeyIndex:
    """Prefixes of the stored keys, plus those put since the index was loaded."""

    def __init__(self) -> None:
        self._index: Any = None  # None: not loaded; False: keys that are not hashes
        self._recent: set[int] = set()

    @property
    def loaded(self) -> bool:
        return self._index is not None

    def load(self, prefixes: Any) -> None:
        """``prefixes``: DuckDB's numpy column of ``TRY_CAST('0x' || key[1:15] AS BIGINT)``."""
        import numpy as np

        if np.ma.isMaskedArray(prefixes) and prefixes.mask.any():
            self._index = False  # keys that are not hashes: no shortcut
        else:
            self._index = np.sort(np.asarray(prefixes, dtype=np.int64))

    def reset(self) -> None:
        """Rows arrived from elsewhere (a lock): load again before the next answer."""
        self._index = None

    def add(self, key: str) -> None:
        try:
            self._recent.add(int(key[:15], 16))
        except ValueError:
            self._index = False

    def candidates(self, keys: list[str]) -> list[str]:
        """The keys that may be stored (all of them when the index cannot tell)."""
        import numpy as np

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
