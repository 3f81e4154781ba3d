"""Write a build's dataset and manifest, as one artifact.

Rows are written a file per discipline (``layout``), each sorted by the rows'
stable ids, so that the same build always writes the same bytes, and a
rebuild's diff shows only what changed, in the files of what changed. They come from the
row spool (``glanc.store.spool``), sorted by DuckDB on the way out, so a build
never holds its whole dataset in memory.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from ..options import CARD, DATA, DROPS, LOCKS, MANIFEST
from ..store.spool import RowSpool
from . import layout, publish

ShareTexts = Callable[[dict[str, dict[str, Any]]], dict[str, str]]


def write_dataset(
    out_dir: Path,
    rows: RowSpool,
    manifest: dict[str, Any],
    lock: Iterable[tuple[str, str]],
    card: str,
    dropped: RowSpool | None = None,
    shares: ShareTexts | None = None,
    carried: dict[str, Any] | None = None,
) -> Path:
    """The build artifact, in the sharded layout (``layout``): the rows by id, the
    lock (every node used, by key) and, with the quality layer on, the dropped
    rows and why, a file per discipline each; ``manifest.json``, which lists
    every one of those files with its digest and line count; and the
    ``README.md`` dataset card.

    Everything is written in full to a staging directory, which then replaces
    ``out_dir`` in one step (``publish``): a failure or a kill at any point
    leaves the old artifact whole, and a reader never sees files of two builds.

    ``shares`` is given the files written (path -> digest and lines) and returns
    the text of each discipline's share by shard (``artifact.shares``);
    ``carried`` lists the files of disciplines carried over from the build in
    ``out_dir`` (path -> their listing), linked into the new one as they are."""
    staged = publish.staging_dir(out_dir)
    try:
        listed: dict[str, Any] = {}
        kinds = [(DATA, rows.sorted_by_shard()), (LOCKS, lock)]
        if dropped is not None:
            kinds.append((DROPS, dropped.sorted_by_shard()))
        for kind, lines in kinds:
            writer = layout.ShardWriter(staged, kind)
            writer.write(lines)
            listed.update(writer.finish())
        for shard, text in sorted((shares(dict(listed)) if shares else {}).items()):
            name = layout.share_file(shard)
            (staged / name).parent.mkdir(parents=True, exist_ok=True)
            publish.write_file(staged / name, [text])
            listed[name] = layout.summary(staged / name)
        for name, listing in sorted((carried or {}).items()):
            publish.link_or_copy(out_dir / name, staged / name)
            listed[name] = listing
        text = json.dumps({**manifest, "files": dict(sorted(listed.items()))}, indent=2,
                          sort_keys=True) + "\n"  # fmt: skip
        publish.write_file(staged / MANIFEST, [text])
        publish.write_file(staged / CARD, [card])
        publish.publish(staged, out_dir)
    except BaseException:
        shutil.rmtree(staged, ignore_errors=True)
        raise
    return out_dir / DATA

