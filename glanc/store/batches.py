"""The jobs a Batch API holds for a build: written the moment they exist.

A batch can outlive the process that sent it (24 hours at a provider), so its
ids live in the store, beside the nodes: the wave (what was sent, by node key),
then the provider's file id once uploaded, then its batch id once created.
Each step commits at once. A killed build's rerun reads them back, polls the
same batches and never sends a request twice; a wave written to a batch file
for the user to run elsewhere is recorded the same way, and ``glanc ingest``
files its results here. Like the node records, these know keys, not stages.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from .opening import transaction

SCHEMA = """
CREATE TABLE IF NOT EXISTS waves (
    wave        VARCHAR PRIMARY KEY,
    model       VARCHAR NOT NULL,
    endpoint    VARCHAR NOT NULL,
    requests    INTEGER NOT NULL,
    status      VARCHAR NOT NULL,
    input_file  VARCHAR,
    batch_id    VARCHAR,
    completed   INTEGER NOT NULL DEFAULT 0,
    failed      INTEGER NOT NULL DEFAULT 0,
    output_file VARCHAR,
    error_file  VARCHAR,
    note        VARCHAR,
    ingested    BOOLEAN NOT NULL DEFAULT false,
    created_at  TIMESTAMP NOT NULL,
    updated_at  TIMESTAMP NOT NULL
);
CREATE TABLE IF NOT EXISTS wave_requests (
    wave        VARCHAR NOT NULL,
    key         VARCHAR NOT NULL,
    attempt     INTEGER NOT NULL,
    resent      INTEGER NOT NULL,
    body_sha    VARCHAR NOT NULL,
    tokens_in   BIGINT NOT NULL,
    tokens_out  BIGINT NOT NULL,
    PRIMARY KEY (wave, key)
);
CREATE TABLE IF NOT EXISTS wave_results (
    wave        VARCHAR NOT NULL,
    key         VARCHAR NOT NULL,
    line        VARCHAR NOT NULL,
    PRIMARY KEY (wave, key)
);
"""

#: a wave's statuses: glanc's own (written: a batch file for the user; uploading,
#: uploaded), then the provider's
WRITTEN = "written"
QUEUED = "queued"  # not sent yet: the draws and resends a run decided on, kept for the next
UPLOADING = "uploading"
UPLOADED = "uploaded"
TERMINAL = ("completed", "failed", "expired", "cancelled")
FILE = "file:"  # a wave's endpoint when it was written to a batch file: file:PATH


@dataclass(frozen=True)
class WaveRequest:
    """One node's request in a wave: which draw (``attempt``) it is, how often
    the same request was sent again after a server's failure (``resent``), the
    digest of its body, and the tokens its earlier draws spent."""

    key: str
    attempt: int
    resent: int
    body_sha: str
    tokens_in: int = 0
    tokens_out: int = 0


@dataclass(frozen=True)
class Wave:
    wave: str
    model: str
    endpoint: str
    requests: int
    status: str
    input_file: str | None
    batch_id: str | None
    completed: int
    failed: int
    output_file: str | None
    error_file: str | None
    note: str | None
    ingested: bool
    created_at: datetime
    updated_at: datetime

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    @property
    def file(self) -> str | None:
        """The batch file a wave was written to for the user, or None when it went
        to a provider (its endpoint is then the provider's URL)."""
        return self.endpoint.removeprefix(FILE) if self.endpoint.startswith(FILE) else None


_COLUMNS = ", ".join(f.name for f in fields(Wave))


class Batches:
    """The store's waves; every write commits at once (a job id is worth more
    than a millisecond)."""

    def __init__(self, con: Any, read_only: bool = False):
        self.con = con
        self._present = True
        if read_only:
            tables = {r[0] for r in con.execute("SHOW TABLES").fetchall()}
            self._present = "waves" in tables

    def add(self, wave: str, model: str, endpoint: str, status: str,
            requests: Iterable[WaveRequest]) -> None:  # fmt: skip
        rows = list(requests)
        now = _now()
        with transaction(self.con):
            self.con.execute(
                "INSERT INTO waves (wave, model, endpoint, requests, status, created_at, "
                "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?)",
                [wave, model, endpoint, len(rows), status, now, now],
            )
            if rows:
                cols = [list(c) for c in zip(*((r.key, r.attempt, r.resent, r.body_sha,
                                                r.tokens_in, r.tokens_out) for r in rows),
                                             strict=True)]  # fmt: skip
                self.con.execute(
                    "INSERT INTO wave_requests SELECT ?, unnest(?::VARCHAR[]), "
                    "unnest(?::INTEGER[]), unnest(?::INTEGER[]), unnest(?::VARCHAR[]), "
                    "unnest(?::BIGINT[]), unnest(?::BIGINT[])",
                    [wave, *cols],
                )

    def queue(self, wave: str, request: WaveRequest) -> None:
        """Note a request decided on and not sent yet (a next draw, a resend), so a
        killed run's successor sends that draw rather than one already paid for."""
        if self.con.execute("SELECT 1 FROM waves WHERE wave = ?", [wave]).fetchone() is None:
            self.add(wave, "", QUEUED, QUEUED, [])
        r = request
        self.con.execute(
            "INSERT OR REPLACE INTO wave_requests VALUES (?, ?, ?, ?, ?, ?, ?)",
            [wave, r.key, r.attempt, r.resent, r.body_sha, r.tokens_in, r.tokens_out],
        )

    def update(self, wave: str, **values: Any) -> None:
        if not values:
            return
        sets = ", ".join(f"{name} = ?" for name in values)
        self.con.execute(
            f"UPDATE waves SET {sets}, updated_at = ? WHERE wave = ?",
            [*values.values(), _now(), wave],
        )

    def open(self) -> list[Wave]:
        """Waves whose results are not all taken in yet, oldest first."""
        if not self._present:
            return []
        rows = self.con.execute(
            f"SELECT {_COLUMNS} FROM waves WHERE NOT ingested ORDER BY created_at, wave"
        ).fetchall()
        return [Wave(*row) for row in rows]

    def wave(self, wave: str) -> Wave:
        row = self.con.execute(f"SELECT {_COLUMNS} FROM waves WHERE wave = ?", [wave]).fetchone()
        if row is None:
            raise KeyError(wave)
        return Wave(*row)

    def requests(self, waves: Iterable[str]) -> dict[str, list[WaveRequest]]:
        """Each wave's requests."""
        names = list(waves)
        out: dict[str, list[WaveRequest]] = {name: [] for name in names}
        if not names or not self._present:
            return out
        rows = self.con.execute(
            "SELECT wave, key, attempt, resent, body_sha, tokens_in, tokens_out FROM "
            "wave_requests WHERE wave IN (SELECT unnest(?::VARCHAR[])) ORDER BY wave, key",
            [names],
        ).fetchall()
        for row in rows:
            out[row[0]].append(WaveRequest(*row[1:]))
        return out

    def ingested(self, wave: str) -> None:
        self.update(wave, ingested=True)

    def put_results(self, wave: str, lines: dict[str, str]) -> None:
        """A batch file's result lines by key (``glanc ingest``), and the wave done."""
        with transaction(self.con):
            self.con.execute("DELETE FROM wave_results WHERE wave = ?", [wave])
            if lines:
                keys = list(lines)
                self.con.execute(
                    "INSERT INTO wave_results SELECT ?, unnest(?::VARCHAR[]), "
                    "unnest(?::VARCHAR[])",
                    [wave, keys, [lines[k] for k in keys]],
                )
            self.con.execute(
                "UPDATE waves SET status = 'completed', completed = ?, updated_at = ? "
                "WHERE wave = ?",
                [len(lines), _now(), wave],
            )

    def results(self, wave: str) -> list[str]:
        rows = self.con.execute(
            "SELECT line FROM wave_results WHERE wave = ? ORDER BY key", [wave]
        ).fetchall()
        return [r[0] for r in rows]

    def settle(self) -> None:
        """Mark taken back the finished waves every one of whose requests has an
        ``ok`` node record (a run killed between recording them and saying so)."""
        if not self._present:
            return
        self.con.execute(
            "UPDATE waves SET ingested = true WHERE NOT ingested AND status IN "
            f"({', '.join(repr(t) for t in TERMINAL)}) AND NOT EXISTS (SELECT 1 FROM "
            "wave_requests r LEFT JOIN nodes n ON n.key = r.key AND n.status = 'ok' "
            "WHERE r.wave = waves.wave AND n.key IS NULL)"
        )

    def forget_ingested(self, keep: Iterable[str] = ()) -> int:
        """Delete the waves whose results are all in the node records, and the
        finished ones none of whose requests ``keep`` names (``glanc gc``: no spec
        reaches them any more)."""
        if not self._present:
            return 0
        self.settle()
        kept = set(keep)
        rows = self.con.execute(
            "SELECT w.wave, w.ingested, w.status, list(r.key) FROM waves w "
            "LEFT JOIN wave_requests r ON r.wave = w.wave GROUP BY ALL"
        ).fetchall()
        gone = [
            wave for wave, ingested, status, keys in rows
            if ingested or (status in TERMINAL and not kept.intersection(k for k in keys if k))
        ]  # fmt: skip
        if gone:
            with transaction(self.con):
                for table in ("wave_requests", "wave_results", "waves"):
                    self.con.execute(
                        f"DELETE FROM {table} WHERE wave IN (SELECT unnest(?::VARCHAR[]))", [gone]
                    )
        return len(gone)


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
