"""The near-duplicate index's bands of every question a build decided, kept beside
the nodes, keyed by the question's text.

A build that carries unchanged disciplines over checks that none of their
questions is a near-duplicate of one it walked (``tasks.carry``): that needs
the MinHash bands of every carried question, and signing 100k questions took
4.7 s of a 15 s incremental build. The build keeps each question's 32 band keys
here (low 32 bits each: 128 bytes a question, 128 MB at 1M), so the next build
reads them. The key is the question's digest: bands are a function of the text
alone, so a stored entry is never wrong, only missing (then signed again).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import TYPE_CHECKING

from .opening import transaction

if TYPE_CHECKING:  # numpy is loaded with the quality layer, not with every command
    import numpy as np

SCHEMA = """
CREATE TABLE IF NOT EXISTS question_bands (question VARCHAR NOT NULL, bands BLOB NOT NULL);
"""

LOOKUP = 65_536  # digests looked up at a time: a scan of the table each


def question_digest(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8", "surrogatepass"), digest_size=16).hexdigest()


class QuestionBands:
    """Read and keep questions' band keys; the build's coordinator is the only writer."""

    def __init__(self, con, *, read_only: bool = False):
        self.con = con
        self.read_only = read_only
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        self._present = "question_bands" in tables

    def of(self, digests: list[str]) -> dict[str, np.ndarray]:
        """The kept bands of these question digests (one missing is absent)."""
        import numpy as np

        out: dict[str, np.ndarray] = {}
        if not self._present:
            return out
        for i in range(0, len(digests), LOOKUP):
            chunk = digests[i : i + LOOKUP]
            for question, bands in self.con.execute(
                "SELECT question, bands FROM question_bands "
                "WHERE question IN (SELECT unnest(?::VARCHAR[]))",
                [chunk],
            ).fetchall():
                out[question] = np.frombuffer(bands, dtype=np.uint32)
        return out

    def keep(self, entries: Iterable[tuple[str, np.ndarray]]) -> None:
        """Keep ``(question digest, 32 uint32 band keys)`` pairs not kept yet."""
        import numpy as np

        pairs = {q: b for q, b in entries}
        if not pairs or self.read_only:
            return
        known = set(self.of(list(pairs)))
        fresh = [(q, b.astype(np.uint32).tobytes()) for q, b in pairs.items() if q not in known]
        if not fresh:
            return
        with transaction(self.con):
            self.con.execute(
                "INSERT INTO question_bands SELECT unnest(?::VARCHAR[]), unnest(?::BLOB[])",
                [[q for q, _ in fresh], [b for _, b in fresh]],
            )
        self._present = True
