"""The no-op fast path: a rebuild that nothing it depends on has changed since
reads one row of the store instead of walking every node."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..artifact import layout
from ..keys import canonical_json, digest
from ..options import CARD, MANIFEST
from ..recipe.graph import Graph
from ..specs import models
from ..specs.types import Taxonomy
from ..store import Store
from ..version import ARTIFACT_REVISION, __version__

Stamp = tuple[str, str]  # (the build directory, resolved; the build's fingerprint)


def stamp(
    taxonomy: Taxonomy, graph: Graph, model: str | None, build_dir: Path, use_lock: bool
) -> Stamp:
    """(where, fingerprint) of a plain build: everything its output depends on
    besides the store's records, which the store's generation covers."""
    where = str(build_dir.resolve())
    identities = sorted(canonical_json(models.identity(i)) for i in graph.models_used())
    fingerprint = digest(
        [
            __version__,
            ARTIFACT_REVISION,
            taxonomy.digest,
            model or "",
            identities,
            use_lock,
            str(taxonomy.path),
        ]
    )
    return where, fingerprint


def files(build_dir: Path) -> dict[str, list[int]]:
    """Size and mtime of each artifact file there is: the build's own writes."""
    out = {}
    for name in layout.owned(build_dir):
        try:
            st = (build_dir / name).stat()
        except FileNotFoundError:
            continue
        out[name] = [st.st_size, st.st_mtime_ns]
    return out


def unchanged(store: Store, stamp: Stamp, build_dir: Path) -> dict[str, Any] | None:
    """The manifest of the last build into ``build_dir`` when nothing it depends on
    changed since (spec, template, models, store records, the files it wrote)."""
    recorded = store.recorded_build(stamp[0])
    if recorded is None:
        return None
    fingerprint, generation, written = recorded
    if fingerprint != stamp[1] or generation != store.generation():
        return None
    if written != files(build_dir) or not {MANIFEST, CARD} <= set(written):
        return None
    return json.loads((build_dir / MANIFEST).read_text())


def record(store: Store, stamp: Stamp, build_dir: Path) -> None:
    """Note a complete build, for the next one to find unchanged."""
    store.record_build(stamp[0], stamp[1], files(build_dir))
