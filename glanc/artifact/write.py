"""Write a build's dataset and manifest, as one artifact.

Rows are sorted by their stable id so that the same build always writes the
same bytes, and a rebuild's diff shows only what changed. They come from the
row spool (``glanc.store.spool``), sorted by DuckDB on the way out, so a build
never holds its whole dataset in memory.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from ..options import CARD, DATASET, DROPPED, LOCK, MANIFEST
from ..store.spool import RowSpool
from . import publish


def write_dataset(
    out_dir: Path,
    rows: RowSpool,
    manifest: dict[str, Any],
    lock: Iterable[str],
    card: str,
    dropped: RowSpool | None = None,
) -> Path:
    """The build artifact: ``dataset.jsonl`` (one pair a line, by id), ``lock.jsonl``
    (every node used, by key), ``manifest.json``, the ``README.md`` dataset card and,
    with the quality layer on, ``dropped.jsonl`` (each dropped row and why, by id).

    All four are written in full to a staging directory, which then replaces
    ``out_dir`` in one step (``publish``): a failure or a kill at any point
    leaves the old artifact whole, and a reader never sees files of two builds."""
    staged = publish.staging_dir(out_dir)
    try:
        publish.write_file(staged / LOCK, lock)
        text = json.dumps(manifest, indent=2, sort_keys=True) + "\n"
        publish.write_file(staged / MANIFEST, [text])
        publish.write_file(staged / CARD, [card])
        publish.write_file(staged / DATASET, rows.sorted_lines())
        if dropped is not None:
            publish.write_file(staged / DROPPED, dropped.sorted_lines())
        publish.publish(staged, out_dir)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return out_dir / DATASET
