"""Carry unchanged disciplines over from the last build, without walking their nodes.

A discipline's files (its rows, lock entries and dropped rows) and its share of
the manifest depend on its own spec node with the settings it inherits, the
seed, the template, its models, the quality rules and glanc's version
(``inputs``), and on the rest of the taxonomy in two ways only:

- the other nodes' names, through the subjects it leaves out for being named
  after one (``Graph.merge_subjects``): its share records the names its replies
  proposed, and which of them other nodes had then (``named``);
- near-duplicate questions in other disciplines, since the dedup keeps the
  earlier of two rows across the whole build. After a build has walked what
  changed, ``crosses`` looks for a near-duplicate pair between what it walked
  and what it carried over. With none, neither side's verdicts can depend on
  the other's rows, so the artifact is the one a build of every discipline
  writes; with one, the build walks every discipline instead.

A discipline is carried over when its share says its inputs are those of this
build, its files are the ones the share and the manifest list (a file's size
and mtime as the last build recorded them, else its digest), and it was
complete (nothing failed or skipped). Everything else is walked as before.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

import orjson

from ..artifact import layout, shares
from ..artifact.manifest import read as manifest_of
from ..artifact.shares import Share
from ..keys import digest
from ..lm.usage import price_of
from ..options import DATA, DROPS
from ..quality.recorded import rules_digest
from ..quality.verdicts import Rules
from ..recipe import glan
from ..recipe.graph import Graph
from ..specs import models
from ..specs.contract import STAGES
from ..specs.types import Discipline, Taxonomy
from ..version import ARTIFACT_REVISION, __version__

if TYPE_CHECKING:  # the gate is the build's: a plan never imports it
    from ..quality.gate import Gate
    from ..store import Store

Carried = dict[tuple[str, ...], Share]  # discipline path -> its share of the last build


class Inputs:
    """The digest of everything a discipline's files and share depend on, besides
    other nodes' names and near-duplicates (see the module's docstring); what all
    disciplines share (the quality rules) is worked out once."""

    def __init__(self, taxonomy: Taxonomy, graph: Graph):
        self.taxonomy, self.graph = taxonomy, graph
        quality = taxonomy.quality
        self.rules = (
            [rules_digest(Rules(quality, taxonomy.template)), quality.redraws]
            if quality.enabled
            else None
        )
        judged = quality.enabled and quality.judge is not None
        self.stages = (*STAGES, *((glan.JUDGE.name,) if judged else ()))
        self.programs = [list(p) for p in sorted(graph.program_ids.items())]

    def of(self, d: Discipline) -> str:
        used = []
        for stage in self.stages:
            info, _ = self.graph.model(d, stage)
            price = price_of(info, batch=models.wants_batch(info.ref))
            used.append([stage, info.label, models.identity(info), list(price or ())])
        # its models as ``used`` has them: what they write, not where they are served
        settings = replace(d.settings, models=())
        return digest([__version__, ARTIFACT_REVISION, self.taxonomy.seed, list(d.path),
                       repr(settings), repr(d.pinned_subjects), self.programs,
                       used, self.rules])  # fmt: skip


def carried(
    taxonomy: Taxonomy, graph: Graph, build_dir: Path, stats: dict[str, list[int]] | None
) -> Carried:
    """The disciplines a build into ``build_dir`` carries over, with their shares.
    ``stats``: each file's [size, mtime_ns] as the last complete build there
    recorded them (``uptodate.files``); a file that differs is hashed instead."""
    manifest = manifest_of(build_dir)
    if manifest is None or manifest.get("glanc_version") != __version__:
        return {}
    listed = manifest.get("files")
    if not isinstance(listed, dict):
        return {}
    out: Carried = {}
    digests = Inputs(taxonomy, graph)
    for d in taxonomy.disciplines:
        name = layout.share_file(d.shard)
        if name not in listed:
            continue
        share = shares.read(build_dir, d.shard)
        if share is None or share.discipline != d.path:
            continue
        if share.inputs != digests.of(d):
            continue
        if list(share.named) != graph.named_after_others(d, frozenset(share.proposed)):
            continue
        files = {name: listed[name], **share.files}
        if any(listed.get(f) != v for f, v in share.files.items()):
            continue
        if all(_intact(build_dir, f, v, stats) for f, v in files.items()):
            out[d.path] = share
    return out


def _intact(build_dir: Path, name: str, listing: object, stats: dict | None) -> bool:
    """Is ``name`` as the manifest lists it?"""
    path = build_dir / name
    try:
        st = path.lstat()
    except OSError:
        return False
    if not path.is_file() or path.is_symlink():
        return False
    if stats is not None and stats.get(name) == [st.st_size, st.st_mtime_ns]:
        return True
    return layout.summary(path) == listing


def crosses(gate: Gate | None, carried: Carried, build_dir: Path, store: Store) -> bool:
    """Do the questions of the disciplines carried over (their kept rows, and those
    the dedup dropped) have a near-duplicate among those the build walked, or
    among the last build's questions of the disciplines it did not carry over
    (changed or removed: a row of theirs may have been why a carried row was
    dropped)? ``build_dir`` still holds the last build. The carried files' bands
    come from the store's ``FileBands`` (recorded there first where missing), so
    one join finds the few carried lines that share bands with the walked
    questions, and only those are read."""
    if gate is None or gate.duplicates is None or not carried:
        return False
    index = gate.duplicates
    carried_files = {name: listing for share in carried.values()
                     for name, listing in share.files.items()}  # fmt: skip
    before = [name for name in layout.owned(build_dir)
              if name.split("/", 1)[0] in (DATA, DROPS) and name not in carried_files]  # fmt: skip
    try:
        ids = record_bands(store, build_dir, carried_files)
        also = [question for name in before for _, question in _lines(build_dir, name)]
        own, keys = index.decided(also, store.bands)
        hits = store.file_bands.sharing(keys, list(ids.values()), index.least)
        if not hits:
            return False
        names = {i: name for name, i in ids.items()}
        wanted: dict[str, set[int]] = {}
        for _, file, line in hits:
            wanted.setdefault(names[file], set()).add(line)
        texts = {(name, line): question for name, lines in wanted.items()
                 for line, question in _lines(build_dir, name, lines)}  # fmt: skip
        return any(index.similar(own[n], texts[(names[file], line)]) for n, file, line in hits)
    except (OSError, ValueError, KeyError, TypeError, IndexError):
        return True  # a file of the last build that does not read: walk everything


RECORD = 65_536  # questions whose bands are looked up and recorded at a time


def record_bands(store: Store, build_dir: Path, files: dict[str, object]) -> dict[str, int]:
    """The store's ``FileBands`` id of each data and dropped-rows file of ``files``
    (name -> its manifest listing, which names its sha256), recording the files it
    lacks: read, their questions' bands looked up or signed."""
    import numpy as np

    from ..quality.dedup import band_keys

    shas = {name: listing["sha256"] for name, listing in files.items()
            if name.split("/", 1)[0] in (DATA, DROPS)}  # type: ignore[index]  # fmt: skip
    known = store.file_bands.ids(sorted(set(shas.values())))
    batch: list[tuple[str, list[int], list[str]]] = []
    held = 0  # questions in ``batch``

    def flush() -> None:
        nonlocal held
        if batch:
            keys = band_keys([q for _, _, questions in batch for q in questions], store.bands)
            at, entries = 0, []
            for sha, lines, _ in batch:
                entries.append((sha, np.asarray(lines, np.int32), keys[at : at + len(lines)]))
                at += len(lines)
            known.update(store.file_bands.add(entries))
            batch.clear()
            held = 0

    for name in sorted(n for n, sha in shas.items() if sha not in known):
        pairs = list(_lines(build_dir, name))
        batch.append((shas[name], [line for line, _ in pairs], [q for _, q in pairs]))
        held += len(pairs)
        if held >= RECORD:
            flush()
    flush()
    return {name: known[sha] for name, sha in shas.items()}


def _lines(
    build_dir: Path, name: str, only: set[int] | None = None
) -> Iterator[tuple[int, str]]:
    """(line, question) of each row of a data or dropped-rows file that met the
    dedup (every kept row, and the rows the dedup itself dropped); of ``only``
    these lines, when given."""
    from ..quality.gate import DEDUP

    kind = name.split("/", 1)[0]
    if kind not in (DATA, DROPS):
        return
    with open(build_dir / name, "rb") as f:
        for n, line in enumerate(f):
            if only is not None and n not in only:
                continue
            row = orjson.loads(line)
            if kind == DROPS and (row.get("dropped") or {}).get("check") != DEDUP:
                continue
            yield n, str(row["messages"][0]["content"] or "")
