"""Export a build's dataset for training tools, through DuckDB's own writers.

Rows can be filtered (by taxonomy path, level, difficulty) and split into a
train and a test file by a stable hash of the row id: a row stays on its side
of the split whatever else the dataset gains or loses, so a test set never
leaks into a later training set.
"""

from __future__ import annotations

import contextlib
import heapq
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import orjson

from ..errors import GlancError
from ..options import DATA

FORMATS = ("jsonl", "parquet", "chat")


@dataclass(frozen=True)
class Filters:
    """Which rows to export: every given condition holds (None: any)."""

    path: str | None = None  # a taxonomy path prefix, 'Field' or 'Field/Discipline'
    level: str | None = None
    difficulty: str | None = None

    @property
    def any(self) -> bool:
        return any(v is not None for v in (self.path, self.level, self.difficulty))

    def where(self) -> tuple[str, list[str]]:
        """A SQL condition over the dataset's rows, and its parameters."""
        terms, params = ["TRUE"], []
        if self.path is not None:
            parts = [p for p in self.path.split("/") if p]
            terms.append(f"taxonomy_path[1:{len(parts)}] = ?::VARCHAR[]")
            params.append(parts)
        for name in ("level", "difficulty"):
            value = getattr(self, name)
            if value is not None:
                terms.append(f"{name} = ?")
                params.append(value)
        return " AND ".join(terms), params


def test_side(test_share: float) -> str:
    """SQL: whether a row (by its id) falls in the test split. The first 13 hex
    digits of md5(id), as a share of 16**13: stable, uniform, machine-independent."""
    return f"(('0x' || md5(id)[1:13])::BIGINT / {float(16**13)}) < {test_share!r}"


def export(
    dataset: Path | Sequence[Path],
    fmt: str,
    output: Path | None,
    filters: Filters | None = None,
    test_share: float | None = None,
) -> Path | None:
    """Write ``dataset`` as ``fmt``: ``jsonl`` (every column), ``parquet`` (every
    column, typed), ``chat`` (``{"messages": [...]}`` only, the JSONL that
    fine-tuning tools read). ``output`` None writes JSONL formats to stdout.
    ``test_share`` (0 to 1): write OUTPUT's ``.train`` and ``.test`` files instead,
    each row by the hash of its id. ``dataset``: a build directory, a file, or a
    build's shards (``layout.files(build_dir, DATA)``); rows come out by id."""
    filters = filters or Filters()
    if fmt not in FORMATS:
        raise GlancError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if isinstance(dataset, Path) and dataset.is_dir():  # a build directory: its shards
        from . import layout

        dataset = layout.files(dataset, DATA)
    files = [dataset] if isinstance(dataset, Path) else list(dataset)
    if not files or not all(f.is_file() for f in files):
        where = files[0] if files else "the build directory"
        raise GlancError(f"{where}: no dataset; run glanc build first")
    if output is None and (fmt == "parquet" or test_share is not None):
        raise GlancError("--format parquet and --test-share need --output FILE")
    if test_share is not None and not 0 < test_share < 1:
        raise GlancError(f"--test-share {test_share}: give a share between 0 and 1, e.g. 0.05")
    if fmt == "jsonl" and not filters.any and test_share is None:
        if output is None:
            sys.stdout.buffer.writelines(_by_id(files))
            return None
        output.parent.mkdir(parents=True, exist_ok=True)
        with open(output, "wb") as f:
            f.writelines(_by_id(files))
        return output
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        listed = ", ".join(_quote(f) for f in files)
        source = f"read_json([{listed}], format = 'newline_delimited')"
        where, params = filters.where()
        rows = f"SELECT * FROM {source} WHERE {where}"
        if test_share is None:
            return _write(con, fmt, rows, params, output)
        assert output is not None
        for side, keep in (("train", "NOT"), ("test", "")):
            split = f"SELECT * FROM ({rows}) WHERE {keep} {test_side(test_share)}"
            _write(con, fmt, split, params, split_path(output, side))
        return output
    finally:
        con.close()


def _by_id(files: list[Path]) -> Iterator[bytes]:
    """Every line of the shards, as written, merged by row id (each shard is)."""
    if len(files) == 1:
        with open(files[0], "rb") as f:
            yield from f
        return
    with contextlib.ExitStack() as stack:
        streams = [((orjson.loads(line)["id"], line) for line in stack.enter_context(
            open(path, "rb"))) for path in files]  # fmt: skip
        for _, line in heapq.merge(*streams):
            yield line


def split_path(output: Path, side: str) -> Path:
    """``data.jsonl`` -> ``data.train.jsonl`` / ``data.test.jsonl``."""
    return output.with_name(f"{output.stem}.{side}{output.suffix}")


def _write(con, fmt: str, rows: str, params: list, output: Path | None) -> Path | None:
    if fmt == "chat":
        rows = f"SELECT messages FROM ({rows}) ORDER BY id"
    else:
        rows = f"SELECT * FROM ({rows}) ORDER BY id"
    if output is None:
        cursor = con.execute(f"SELECT to_json(r) FROM ({rows}) r", params)
        while batch := cursor.fetchmany(5000):
            sys.stdout.write("".join(r[0] + "\n" for r in batch))
        return None
    output.parent.mkdir(parents=True, exist_ok=True)
    form = "(FORMAT parquet, COMPRESSION zstd)" if fmt == "parquet" else "(FORMAT json)"
    con.execute(f"COPY ({rows}) TO {_quote(output)} {form}", params)
    return output


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
