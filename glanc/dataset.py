"""Write a build's dataset and manifest, atomically.

Rows are sorted by their stable id so that the same build always writes the
same bytes, and a rebuild's diff shows only what changed.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any


def write_atomic(path: Path, lines: Iterable[str]) -> None:
    """Write ``lines`` to ``path`` via a temporary file and a rename: readers
    see the old file or the new one, never half of one."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as f:
            for line in lines:
                f.write(line)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_dataset(out_dir: Path, rows: list[dict[str, Any]], manifest: dict[str, Any]) -> Path:
    """``out_dir/dataset.jsonl`` (one pair a line, by id) and ``out_dir/manifest.json``."""
    rows = sorted(rows, key=lambda r: r["id"])
    dataset = out_dir / "dataset.jsonl"
    write_atomic(dataset, (json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows))
    write_atomic(out_dir / "manifest.json", [json.dumps(manifest, indent=2, sort_keys=True) + "\n"])
    return dataset
