"""The quality gate's verdicts, kept beside the nodes: which check dropped a row.

A verdict is filed under a key made of the row's content and the rules that
judged it (the spec's quality settings, the template, the benchmark files), so
it is never read for another row or under other rules. ``glanc plan`` reads them
to foresee the redraws a build will make; the store holds no verdict of a row it
has not seen, and the plan decides those itself.
"""

from __future__ import annotations

from collections.abc import Iterable

from .opening import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS verdicts (key VARCHAR NOT NULL, dropped_by VARCHAR);
"""

KEPT = None  # a verdict's check when the row was kept


class Verdicts:
    """Read and file verdicts; the build's coordinator is the only writer."""

    def __init__(self, con, *, read_only: bool = False):
        self.con = con
        tables = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables()").fetchall()}
        self._present = "verdicts" in tables  # a store made before verdicts were kept has none
        self.read_only = read_only

    def file(self, verdicts: Iterable[tuple[str, str | None]]) -> None:
        """File ``(key, check or None)`` pairs; a key filed again takes the new one
        (a row kept at first may be dropped at its round's end as a near-duplicate)."""
        pairs = dict(verdicts)
        if not pairs or self.read_only:
            return
        keys, checks = list(pairs), list(pairs.values())
        with transaction(self.con):
            self.con.execute(
                "DELETE FROM verdicts WHERE key IN (SELECT unnest(?::VARCHAR[]))", [keys]
            )
            self.con.execute(
                "INSERT INTO verdicts SELECT unnest(?::VARCHAR[]), unnest(?::VARCHAR[])",
                [keys, checks],
            )
        self._present = True

    def of(self, keys: list[str]) -> dict[str, str | None]:
        """The filed verdicts of ``keys`` (a key never filed is absent)."""
        if not keys or not self._present:
            return {}
        return dict(
            self.con.execute(
                "SELECT key, dropped_by FROM verdicts WHERE key IN (SELECT unnest(?::VARCHAR[]))",
                [keys],
            ).fetchall()
        )
