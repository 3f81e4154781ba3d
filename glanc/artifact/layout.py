"""The sharded layout of a build directory, and the one place that knows it.

    builds/<name>/
      manifest.json                     every file below, with its digest and lines
      README.md                         the dataset card
      data/<field>/.../<discipline>.jsonl      the rows, by id
      lock/<field>/.../<discipline>.jsonl      the nodes the rows use, by key
      dropped/<field>/.../<discipline>.jsonl   the rows the quality layer dropped
      shares/<field>/.../<discipline>.json     its files and its part of the counts

Folders and files are named by the taxonomy's slugs (``specs.shards``). A
discipline's file past ``PART_BYTES`` is split into parts by the first hex
digits of its lines' ids (keys, for the lock): ``physics.3.jsonl`` holds the
ids that start with 3. A part's lines never move to another part as rows are
added elsewhere, and no file outgrows a git host (GitHub refuses 100 MB, warns
at 50). Readers take a list of files (``files``); a build directory in the
single-file layout of glanc before 0.2 (``dataset.jsonl``, ``lock.jsonl``,
``dropped.jsonl``) is still read, and the next build rewrites it.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable
from pathlib import Path

import orjson

from ..options import DATA, DATASET, DROPPED, DROPS, LOCK, LOCKS, OWNED, SHARES

PART_BYTES = 40 << 20  # a file past this is split: under 50 MB with room for growth
LEGACY_OF = {DATA: DATASET, LOCKS: LOCK, DROPS: DROPPED}
ID_FIELD = {DATA: "id", DROPS: "id", LOCKS: "key"}


def legacy(build_dir: Path) -> bool:
    """A build directory in the single-file layout of glanc before 0.2."""
    return (build_dir / DATASET).is_file()


def files(build_dir: Path, kind: str) -> list[Path]:
    """The files of ``kind`` (``DATA``, ``LOCKS``, ``DROPS``) in a build directory,
    sorted; the one file of the old layout when it has nothing else."""
    folder = build_dir / kind
    found = sorted(folder.rglob("*.jsonl")) if folder.is_dir() else []
    if not found and (build_dir / LEGACY_OF[kind]).is_file():
        return [build_dir / LEGACY_OF[kind]]
    return found


def shard_of(name: str) -> str:
    """The shard of an artifact file's relative path (``data/a/b.3.jsonl`` -> ``a/b``):
    slugs have no dots, so the file name's first one ends it."""
    return name.split("/", 1)[1].split(".", 1)[0]


def in_shards(path: Path, root: Path, wanted: set[str]) -> bool:
    """Is ``path``, a sharded file under ``root``, one of the ``wanted`` shards'?"""
    try:
        name = path.relative_to(root).as_posix()
    except ValueError:
        return False
    return "/" in name and shard_of(name) in wanted


def share_file(shard: str) -> str:
    """Where a discipline's share sits, relative to the build directory."""
    return f"{SHARES}/{shard}.json"


def owned(build_dir: Path) -> list[str]:
    """The files of a build directory a build writes (not a user's notes beside
    them), as sorted POSIX paths relative to it."""
    out = []
    if not build_dir.is_dir():
        return out
    for entry in build_dir.iterdir():
        if entry.name not in OWNED or entry.is_symlink():
            continue
        if entry.is_file():
            out.append(entry.name)
            continue
        for root, dirs, names in os.walk(entry):
            dirs.sort()
            out += [Path(root, n).relative_to(build_dir).as_posix() for n in names]
    return sorted(out)


class ShardWriter:
    """Appends ``(shard, line)`` pairs to their shard's file under ``root/kind``,
    then splits what grew past ``PART_BYTES`` and lists each file's digest and line
    count. A shard's lines must come in the order they go in its file; a shard's
    file stays open while its lines follow one another."""

    def __init__(self, root: Path, kind: str):
        self.root, self.kind = root, kind
        self._open: tuple[str, object] | None = None
        self._shards: set[str] = set()

    def write(self, lines: Iterable[tuple[str, str]]) -> None:
        try:
            for shard, line in lines:
                self._file(shard).write(line)
        finally:
            self._close()

    def _file(self, shard: str):
        if self._open is not None and self._open[0] == shard:
            return self._open[1]
        self._close()
        path = self.root / self.kind / f"{shard}.jsonl"
        if shard not in self._shards:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._shards.add(shard)
        f = open(path, "a", encoding="utf-8", newline="\n")  # noqa: SIM115 (kept open)
        self._open = (shard, f)
        return f

    def _close(self) -> None:
        if self._open is not None:
            self._open[1].close()
            self._open = None

    def finish(self) -> dict[str, dict[str, object]]:
        """Split the large files; every file's relative path -> digest and lines."""
        out: dict[str, dict[str, object]] = {}
        for shard in sorted(self._shards):
            path = self.root / self.kind / f"{shard}.jsonl"
            for part in _split(path, ID_FIELD[self.kind]):
                out[part.relative_to(self.root).as_posix()] = summary(part)
        return out


def _split(path: Path, id_field: str) -> list[Path]:
    """``path`` as it is, or its parts by the first hex digits of each line's id."""
    size = path.stat().st_size
    digits = 0
    while size > PART_BYTES * 16**digits and digits < 4:
        digits += 1
    if not digits:
        return [path]
    stem = path.name[: -len(".jsonl")]
    parts: dict[str, Path] = {}
    out = None
    with open(path, "rb") as f:
        try:
            for line in f:
                prefix = str(orjson.loads(line)[id_field])[:digits]
                if prefix not in parts:
                    if out is not None:
                        out.close()
                    parts[prefix] = path.with_name(f"{stem}.{prefix}.jsonl")
                    out = open(parts[prefix], "ab")  # noqa: SIM115 (one part at a time)
                out.write(line)
        finally:
            if out is not None:
                out.close()
    path.unlink()
    return [parts[p] for p in sorted(parts)]


def summary(path: Path) -> dict[str, object]:
    """A file's listing in the manifest: its sha256 and its number of lines."""
    digest, lines = hashlib.sha256(), 0
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
            lines += chunk.count(b"\n")
    return {"sha256": digest.hexdigest(), "lines": lines}
