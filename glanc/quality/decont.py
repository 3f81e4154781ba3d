"""Decontamination: a generated question that a benchmark already holds is dropped.

As in the GLAN paper and NeMo Curator's task decontamination: a question
contained in a benchmark item, or sharing an n-gram (13 words by default) with
one, is contaminated; the matching item is recorded with the drop. Texts are
compared as lower-cased words, so punctuation and spacing do not hide a match.
"""

from __future__ import annotations

import bisect
import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import text as t
from ..errors import GlancError
from ..specs.types import Benchmark

FIELDS = ("question", "prompt", "input", "problem", "text")


@dataclass(frozen=True)
class Match:
    benchmark: str
    item: int  # the item's position in its file, from 0
    text: str
    how: str

    def as_json(self) -> dict[str, Any]:
        return {"benchmark": self.benchmark, "item": self.item, "text": self.text, "how": self.how}


class Index:
    """Every benchmark item's n-grams, and their text for containment."""

    def __init__(self, benchmarks: tuple[Benchmark, ...]):
        self.items: list[tuple[str, int, str]] = []  # (benchmark name, position, text)
        self.grams: dict[int, dict[tuple[str, ...], int]] = {}  # n -> gram -> item
        pieces, self._starts, offset = [], [], 0
        for bench in benchmarks:
            for position, item in enumerate(read_items(bench)):
                tokens = t.words(item)
                if not tokens:
                    continue
                k = len(self.items)
                self.items.append((bench.path.name, position, item))
                grams = self.grams.setdefault(bench.ngram, {})
                for gram in t.ngrams(tokens, bench.ngram):
                    grams.setdefault(gram, k)
                flat = " ".join(tokens)
                self._starts.append(offset)
                pieces.append(flat)
                offset += len(flat) + 1
        self._flat = "\n".join(pieces)

    def __len__(self) -> int:
        return len(self.items)

    def match(self, question: str) -> Match | None:
        tokens = t.words(question)
        if not tokens or not self.items:
            return None
        if len(tokens) < min(self.grams, default=13):  # longer ones share an n-gram if contained
            at = self._find(" ".join(tokens))
            if at is not None:
                return self._match(at, "the item contains the question")
        for n, grams in sorted(self.grams.items()):
            for gram in t.ngrams(tokens, n):
                if (k := grams.get(gram)) is not None:
                    return self._match(k, f"shares a {n}-word sequence: {' '.join(gram)!r}")
        return None

    def _find(self, flat: str) -> int | None:
        """The item whose text holds ``flat`` on word boundaries."""
        start = 0
        while (pos := self._flat.find(flat, start)) != -1:
            end = pos + len(flat)
            before = pos == 0 or self._flat[pos - 1] in " \n"
            after = end == len(self._flat) or self._flat[end] in " \n"
            if before and after:
                return bisect.bisect_right(self._starts, pos) - 1
            start = pos + 1
        return None

    def _match(self, k: int, how: str) -> Match:
        name, position, item = self.items[k]
        return Match(name, position, " ".join(item.split())[:300], how)


def read_items(bench: Benchmark) -> list[str]:
    """The texts of a benchmark file: JSONL, CSV, Parquet, or plain text (a line an item)."""
    path, suffix = bench.path, bench.path.suffix.lower()
    try:
        if suffix in (".jsonl", ".json", ".ndjson"):
            rows = []
            with path.open(encoding="utf-8") as f:
                for number, line in enumerate(f, 1):
                    if not line.strip():
                        continue
                    try:
                        rows.append(json.loads(line))
                    except ValueError as exc:
                        raise GlancError(
                            f"{path}:{number}: not a JSON line ({exc.msg}): fix or remove it"
                        ) from None
        elif suffix == ".csv":
            with path.open(encoding="utf-8", newline="") as f:
                rows = list(csv.DictReader(f))
        elif suffix == ".parquet":
            rows = _parquet(path)
        else:
            return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise GlancError(f"{path}: cannot read the benchmark ({exc})") from None
    field = bench.field or next(
        (f for f in FIELDS if any(isinstance(r, dict) and f in r for r in rows)), None
    )
    if field is None:
        raise GlancError(
            f"{path}: no item has a field {' / '.join(FIELDS)}: name the one to read with "
            "'field:' under quality.decontaminate"
        )
    return [str(r[field]) for r in rows if isinstance(r, dict) and r.get(field) is not None]


def _parquet(path: Path) -> list[dict[str, Any]]:
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        cursor = con.execute("SELECT * FROM read_parquet(?)", [str(path)])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]
    except duckdb.Error as exc:
        raise ValueError(str(exc).splitlines()[0]) from None
    finally:
        con.close()
