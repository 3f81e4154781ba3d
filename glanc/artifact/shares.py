"""A discipline's share of a build: ``shares/<field>/.../<discipline>.json``.

The next build carries a discipline over, files and counts, without walking
its nodes, when everything its files depend on is as it was (``inputs``, see
``glanc.tasks.carry``) and its files are those listed here. A share holds what
the manifest and the dataset card count of its discipline, so the manifest of
a build that carried disciplines over is the sum of their shares and of what
it walked: the same bytes as a build that walked every discipline.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..options import DATA, DROPS, LOCKS
from . import layout

MAX_BYTES = 1 << 20  # a share is read bounded: the file may come from a pull request


@dataclass(frozen=True)
class Share:
    """One discipline's part of a build."""

    discipline: tuple[str, ...]
    inputs: str  # the digest of what its files depend on (tasks.carry.inputs)
    proposed: tuple[str, ...]  # the subject names its replies proposed, normalised
    named: tuple[str, ...]  # those that another node of the taxonomy was named
    files: dict[str, dict[str, Any]]  # its data, lock and dropped files -> sha256, lines
    tally: dict[str, Any]  # nodes, tokens, models and decoding (execute.tally.Tally.share)
    rows: int
    counts: dict[str, dict[str, int]]  # rows by field, discipline, level, difficulty
    quality: dict[str, Any] | None = field(default=None)  # its quality gate's report
    coverage: dict[str, Any] | None = field(default=None)  # quality.coverage.of_discipline

    def text(self) -> str:
        body = {
            "discipline": list(self.discipline),
            "inputs": self.inputs,
            "proposed_subjects": list(self.proposed),
            "named_after_other_nodes": list(self.named),
            "files": self.files,
            "counts": self.tally,
            "rows": self.rows,
            "rows_by": self.counts,
            **({"quality": self.quality} if self.quality is not None else {}),
            **({"coverage": self.coverage} if self.coverage is not None else {}),
        }
        return json.dumps(body, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def read(build_dir: Path, shard: str) -> Share | None:
    """The share of ``shard`` in ``build_dir``; None when it has none that reads
    as one (the discipline is then walked, which is never wrong)."""
    try:
        with open(build_dir / layout.share_file(shard), "rb") as f:
            raw = json.loads(f.read(MAX_BYTES + 1)[: MAX_BYTES + 1])
        share = Share(
            discipline=tuple(str(p) for p in raw["discipline"]),
            inputs=str(raw["inputs"]),
            proposed=tuple(str(n) for n in raw["proposed_subjects"]),
            named=tuple(str(n) for n in raw["named_after_other_nodes"]),
            files={str(k): dict(v) for k, v in raw["files"].items()},
            tally=dict(raw["counts"]),
            rows=int(raw["rows"]),
            counts={str(k): {str(a): int(b) for a, b in v.items()}
                    for k, v in raw["rows_by"].items()},  # fmt: skip
            quality=dict(raw["quality"]) if raw.get("quality") is not None else None,
            coverage=dict(raw["coverage"]) if raw.get("coverage") is not None else None,
        )
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    # the file may come from a pull request: it names its own shard's files, and
    # nothing else (no "..", no absolute path, no other discipline's file)
    if not all(_own(name, shard) for name in share.files):
        return None
    return share


_HEX = frozenset("0123456789abcdef")


def _own(name: str, shard: str) -> bool:
    """Is ``name`` a file of ``shard``: ``KIND/SHARD.jsonl`` or ``KIND/SHARD.PART.jsonl``
    (KIND data, lock or dropped; PART 1-4 hex digits)? String tests, not a pattern
    compiled for each shard: at 1,000 disciplines those took most of a plan."""
    kind, _, rest = name.partition("/")
    if kind not in (DATA, LOCKS, DROPS) or not rest.endswith(".jsonl"):
        return False
    stem = rest[: -len(".jsonl")]
    if stem == shard:
        return True
    part = stem[len(shard) + 1 :]
    return stem.startswith(shard + ".") and 1 <= len(part) <= 4 and set(part) <= _HEX


def merged_counts(parts: Iterable[dict[str, dict[str, int]]]) -> dict[str, list[tuple[str, int]]]:
    """Rows by each column over several shares, by value (``RowSpool.counts``'s form)."""
    totals: dict[str, Counter] = {}
    for part in parts:
        for column, values in part.items():
            totals.setdefault(column, Counter()).update(values)
    return {column: sorted(c.items()) for column, c in totals.items()}
