"""Export a build's dataset for training tools, through DuckDB's own writers."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

from ..errors import GlancError

FORMATS = ("jsonl", "parquet", "chat")


def export(dataset: Path, fmt: str, output: Path | None) -> Path | None:
    """Write ``dataset`` as ``fmt``: ``jsonl`` (every column), ``parquet`` (every
    column, typed), ``chat`` (``{"messages": [...]}`` only, the JSONL that
    fine-tuning tools read). ``output`` None writes JSONL formats to stdout."""
    if fmt not in FORMATS:
        raise GlancError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
    if not dataset.is_file():
        raise GlancError(f"{dataset}: no dataset; run glanc build first")
    if output is None and fmt == "parquet":
        raise GlancError("--format parquet needs --output FILE")
    if fmt == "jsonl":
        if output is None:
            with dataset.open("rb") as f:
                shutil.copyfileobj(f, sys.stdout.buffer)
            return None
        output.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(dataset, output)
        return output
    import duckdb

    con = duckdb.connect(":memory:")
    try:
        source = f"read_json({_quote(dataset)}, format = 'newline_delimited')"
        if fmt == "parquet":
            output.parent.mkdir(parents=True, exist_ok=True)
            con.execute(
                f"COPY (SELECT * FROM {source} ORDER BY id) TO {_quote(output)} "
                "(FORMAT parquet, COMPRESSION zstd)"
            )
            return output
        query = f"SELECT messages FROM {source} ORDER BY id"
        if output is None:
            cursor = con.execute(f"SELECT to_json({{'messages': messages}}) FROM ({query})")
            while rows := cursor.fetchmany(5000):
                sys.stdout.write("".join(r[0] + "\n" for r in rows))
            return None
        output.parent.mkdir(parents=True, exist_ok=True)
        con.execute(f"COPY ({query}) TO {_quote(output)} (FORMAT json)")
        return output
    finally:
        con.close()


def _quote(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"
