"""The near-duplicate index's bands, kept beside the nodes: of every question a
build decided, keyed by the question's text (``QuestionBands``), and of every
artifact file's questions, keyed by the file's sha256 (``FileBands``).

A build that carries unchanged disciplines over checks that none of their
questions is a near-duplicate of one it walked (``tasks.carry``): that needs
the MinHash bands of every carried question, and signing 100k questions took
4.7 s of a 15 s incremental build. The build keeps each question's 32 band keys
here (low 32 bits each: 128 bytes a question, 128 MB at 1M), so the next build
reads them. The key is the question's digest: bands are a function of the text
alone, so a stored entry is never wrong, only missing (then signed again).

Reading the bands of 1M carried questions back took 19.6 s of a 41 s build, and
reading their text from the data files 6.7 s, to find the few that share a band
with a thousand walked ones. ``FileBands`` turns that round: each file's band
keys as rows (file, line, band, key), so one join finds the lines of the carried
files that share bands with the walked questions, and only those lines are read.
A file's entry is a function of its bytes (its sha256), so it is never wrong
either; a file is recorded whole, in one transaction, or not at all.
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

FILE_SCHEMA = """
CREATE TABLE IF NOT EXISTS {db}.band_files (id INTEGER NOT NULL, sha256 VARCHAR NOT NULL);
CREATE TABLE IF NOT EXISTS {db}.file_bands (
    file INTEGER NOT NULL, line INTEGER NOT NULL, band UTINYINT NOT NULL, key UINTEGER NOT NULL
);
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


class FileBands:
    """The band keys of artifact files' questions, by file sha256: ``add`` a file's
    (line, 32 keys) once, then ``sharing`` finds the lines of chosen files that
    share bands with some questions. The build's coordinator is the only writer."""

    def __init__(self, con, *, read_only: bool = False, db: str = "main"):
        self.con = con
        self.read_only = read_only
        self.db = db  # the attached database holding the tables: the store's own, or a cache
        if not read_only:
            con.execute(FILE_SCHEMA.format(db=db))

    def ids(self, digests: list[str]) -> dict[str, int]:
        """The id of each of these file digests that is recorded."""
        if not digests or not self._present():
            return {}
        query = (f"SELECT sha256, id FROM {self.db}.band_files "
                 "WHERE sha256 IN (SELECT unnest(?::VARCHAR[]))")  # fmt: skip
        return dict(self.con.execute(query, [digests]).fetchall())

    def add(self, files: list[tuple[str, np.ndarray, np.ndarray]]) -> dict[str, int]:
        """Record files ``(sha256, lines, keys)`` (``keys``: a row of 32 uint32 band
        keys for each line of ``lines``) in one transaction; their ids."""
        import numpy as np

        known = self.ids([sha for sha, _, _ in files])
        fresh = [f for f in dict((f[0], f) for f in files).values() if f[0] not in known]
        if not fresh or self.read_only:
            return known
        with transaction(self.con):
            top = f"SELECT coalesce(max(id), 0) FROM {self.db}.band_files"
            (top,) = self.con.execute(top).fetchone()
            ids = {sha: top + 1 + n for n, (sha, _, _) in enumerate(fresh)}
            self.con.execute(
                f"INSERT INTO {self.db}.band_files "
                "SELECT unnest(?::INTEGER[]), unnest(?::VARCHAR[])",
                [list(ids.values()), list(ids)],
            )
            per = [len(lines) for _, lines, _ in fresh]
            width = next((k.shape[1] for _, _, k in fresh if len(k)), 1)
            frame = {
                "file": np.repeat(np.array([ids[sha] for sha, _, _ in fresh], np.int32),
                                  np.array(per) * width),
                "line": np.repeat(np.concatenate([np.asarray(lines, np.int32)
                                                  for _, lines, _ in fresh]), width),
                "band": np.tile(np.arange(width, dtype=np.uint8), sum(per)),
                "key": np.concatenate([np.asarray(k, np.uint32).reshape(-1)
                                       for _, _, k in fresh]),
            }  # fmt: skip
            self.con.register("glanc_file_bands", frame)
            try:
                self.con.execute(f"INSERT INTO {self.db}.file_bands SELECT * FROM glanc_file_bands")
            finally:
                self.con.unregister("glanc_file_bands")
        return known | ids

    def sharing(self, keys: np.ndarray, files: list[int], least: int) -> list[tuple[int, int, int]]:
        """(row of ``keys``, file id, line) of each line of ``files`` that shares at
        least ``least`` bands with that row (``keys``: 32 uint32 band keys a row)."""
        import numpy as np

        if not len(keys) or not files or not self._present():
            return []
        width = keys.shape[1]
        probe = {
            "row": np.repeat(np.arange(len(keys), dtype=np.int32), width),
            "band": np.tile(np.arange(width, dtype=np.uint8), len(keys)),
            "key": np.asarray(keys, np.uint32).reshape(-1),
        }
        chosen = {"id": np.asarray(sorted(set(files)), np.int32)}
        self.con.register("glanc_probe", probe)
        self.con.register("glanc_chosen", chosen)
        try:
            return sorted(self.con.execute(
                f"SELECT p.row, f.file, f.line FROM {self.db}.file_bands f "
                "JOIN glanc_probe p ON f.band = p.band AND f.key = p.key "
                "SEMI JOIN glanc_chosen c ON f.file = c.id "
                "GROUP BY p.row, f.file, f.line HAVING count(*) >= ?",
                [least],
            ).fetchall())  # fmt: skip
        finally:
            self.con.unregister("glanc_probe")
            self.con.unregister("glanc_chosen")

    def _present(self) -> bool:
        catalog = "current_database()" if self.db == "main" else "?"  # main: the store's own
        query = f"SELECT table_name FROM duckdb_tables() WHERE database_name = {catalog}"
        args = [] if self.db == "main" else [self.db]
        tables = {r[0] for r in self.con.execute(query, args).fetchall()}
        return "file_bands" in tables and "band_files" in tables
