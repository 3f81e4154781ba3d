"""The lock: every node a build used, as text in the build directory.

With ``lock.jsonl`` committed next to the dataset, a fresh clone rebuilds the
same dataset without a model call (the build reads the lock into its store),
and ``glanc check`` proves in CI that the committed dataset is what the spec
and the lock produce. One JSON object per line, sorted by key, canonical JSON:
a spec change shows up in review as the lines it adds and removes.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from ..errors import GlancError
from .nodes import Store


def lock_lines(store: Store) -> Iterator[str]:
    """The lock file's lines for the nodes this build used (``Store.use``): key,
    stage, model, output, tokens and the slot and digests that let ``glanc plan``
    explain later changes."""
    for key, stage, model, output, tin, tout, slot, program, model_key, dkey in store.locked():
        entry = {
            "key": key,
            "stage": stage,
            "model": model,
            "output": json.loads(output),
            "tokens": [tin, tout],
            "slot": slot,
            "program": program,
            "model_key": model_key,
            "decoding_key": dkey,
        }
        yield json.dumps(entry, ensure_ascii=False, sort_keys=True, separators=(",", ":")) + "\n"


def rehydrate(store: Store, path: Path) -> int:
    """Load a build's ``lock.jsonl`` into the store; nodes already there win."""
    if not path.is_file():
        return 0
    import duckdb

    try:
        return store.import_lock(path)
    except duckdb.OutOfMemoryException:
        raise  # the store's memory bound, not the file: the CLI says so in one line
    except duckdb.Error as exc:
        first = str(exc).strip().splitlines()[0]
        raise GlancError(
            f"{path}: not a glanc lock file ({first}); restore it from git or delete it"
        ) from None
