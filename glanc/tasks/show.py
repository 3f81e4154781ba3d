"""``glanc show``: one node or one row, whole: the prompt a node's call sent, its
output and raw reply, tokens and attempts, and a row's lineage (the nodes its
question and answer came from). diff and check print keys; this opens them."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .. import trust
from ..artifact import layout
from ..errors import GlancError
from ..options import DATA, DROPS, LOCKS, Workspace
from ..specs.types import Taxonomy
from ..store import Store
from ..store.records import Record

_HEX = re.compile(r"[0-9a-f]{6,64}")


@dataclass(frozen=True)
class ShownNode:
    key: str
    stage: str
    model: str
    status: str
    output: Any
    raw: str | None
    error: str | None
    tokens: tuple[int | None, int | None]
    attempts: int
    inputs: dict[str, Any] | None  # None: not stored (the node came from a lock)
    messages: list[dict[str, Any]] | None  # the prompt, rendered from inputs
    source: str  # "store" or the lock file's path
    created_at: str | None = None

    def as_json(self) -> dict[str, Any]:
        return {**self.__dict__, "tokens": list(self.tokens)}


@dataclass(frozen=True)
class Shown:
    row: dict[str, Any] | None = None  # the dataset (or dropped) row, when ID named one
    nodes: list[ShownNode] = field(default_factory=list)
    ambiguous: list[str] = field(default_factory=list)  # keys an ID prefix matched

    def as_json(self) -> dict[str, Any]:
        return {"row": self.row, "nodes": [n.as_json() for n in self.nodes],
                "ambiguous": self.ambiguous}  # fmt: skip


def show(taxonomy: Taxonomy, ident: str, workspace: Workspace | None = None) -> Shown:
    """The row whose id is ``ident`` (its lineage's nodes with it), or the node
    whose key starts with ``ident`` (at least 6 hex digits), from the store or
    else the build's lock. A ``GlancError`` when nothing matches."""
    workspace = workspace or Workspace()
    ident = ident.strip().lower()
    if not _HEX.fullmatch(ident):
        raise GlancError(f"{ident!r}: give a row id or a node key (6 to 64 hex digits)")
    build_dir = workspace.build_dir(taxonomy.name)
    trust.refuse_links(build_dir)
    row = _row(build_dir, ident)
    keys = list((row or {}).get("keys", {}).values()) if row else [ident]
    nodes: list[ShownNode] = []
    ambiguous: list[str] = []
    with Store(workspace.store, read_only=True) as store:
        for key in keys:
            found = _nodes(taxonomy, store, layout.files(build_dir, LOCKS), key)
            if len(found) > 1 and row is None:
                ambiguous = [n.key for n in found]
            nodes += found[:1]
    if row is None and not nodes:
        raise GlancError(f"{ident}: no row of {build_dir} has this id and no node this key "
                         f"(looked in {workspace.store} and {build_dir / LOCKS})")  # fmt: skip
    return Shown(row, nodes, ambiguous)


def _row(build_dir: Path, ident: str) -> dict[str, Any] | None:
    for path in (*layout.files(build_dir, DATA), *layout.files(build_dir, DROPS)):
        needle = f'"id":"{ident}'.encode()
        with open(path, "rb") as f:
            for line in f:
                if needle in line.replace(b'": "', b'":"'):
                    row = json.loads(line)
                    if str(row.get("id", "")).startswith(ident):
                        return row
    return None


def _nodes(taxonomy: Taxonomy, store: Store, locks: list[Path], prefix: str) -> list[ShownNode]:
    found = [_from_record(taxonomy, r, str(at), "store") for r, at in store.find(prefix)]
    if found:
        return found
    for lock in locks:
        found += _locked(taxonomy, lock, prefix)
    return found


def _locked(taxonomy: Taxonomy, lock: Path, prefix: str) -> list[ShownNode]:
    found = []
    with open(lock, "rb") as f:
        for line in f:
            if f'"key":"{prefix}'.encode() in line:
                entry = json.loads(line)
                record = Record(key=entry["key"], stage=entry["stage"], inputs=None,
                                output=entry["output"], raw=None, model=entry["model"],
                                tokens_in=entry["tokens"][0], tokens_out=entry["tokens"][1],
                                latency_ms=0.0, status="ok", error=None, attempts=0)  # fmt: skip
                found.append(_from_record(taxonomy, record, None, str(lock)))
    return found


def _from_record(taxonomy: Taxonomy, r: Record, created: str | None, source: str) -> ShownNode:
    inputs = r.inputs or None  # a node imported from a lock has no inputs: '{}'
    messages = None
    if inputs and taxonomy.template.has(r.stage):
        from ..lm.programs import messages as render

        try:
            messages = render(taxonomy.template.stage(r.stage), inputs)
        except Exception:  # noqa: BLE001 - another template's node: its inputs still shown
            messages = None
    return ShownNode(r.key, r.stage, r.model, r.status, r.output, r.raw, r.error,
                     (r.tokens_in, r.tokens_out), r.attempts, inputs, messages, source,
                     created)  # fmt: skip
