"""``glanc gc``: remove store rows that no given spec reaches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import orjson

from .. import trust
from ..artifact import layout
from ..options import LOCKS
from ..plan.planner import reachable
from ..quality.recorded import Foresight
from ..specs.contract import REQUIRED_OUTPUTS
from ..specs.load import load_yaml
from ..specs.types import Taxonomy
from ..store import Store, lockfile


@dataclass(frozen=True)
class Collected:
    """Rows removed (or, in a dry run, that would be): ``{"nodes"|"history": {stage: n}}``."""

    gone: dict[str, dict[str, int]]
    kept: int  # reachable nodes

    @property
    def total(self) -> int:
        return sum(sum(t.values()) for t in self.gone.values())


def collect(
    taxonomies: list[Taxonomy],
    store_path: Path,
    *,
    model: str | None = None,
    dry_run: bool = False,
    wait: Callable[[str], None] | None = None,
    builds: Path | None = None,
) -> Collected:
    """Keep every node a build of any of ``taxonomies`` would use or retry (with the
    older results of forced reruns), remove the rest; ``dry_run`` only counts.

    A walk of the graph reaches first draws only: the quality gate's redraws and
    judge calls depend on verdicts. So the nodes in each spec's last lock
    (``builds/<name>/lock/``) are kept too, and the calls ``glanc suggest``
    made under the nodes the spec names (the latest call of each sample)."""
    with Store(store_path, read_only=dry_run, on_wait=wait) as store:
        keep: set[str] = set()
        for taxonomy in taxonomies:
            keep |= reachable(taxonomy, store, model=model, foresight=Foresight(taxonomy, store))
            if builds is not None:
                keep |= _lock_keys(builds / taxonomy.name)
            keep |= {r.key for r in store.previous(_suggest_slots(taxonomy)).values()}
        gone = store.unreached(keep) if dry_run else store.delete_unreached(keep)
        if not dry_run:  # batches taken back, or that no spec reaches any more
            store.flush()
            store.batches.forget_ingested(keep)
    return Collected(gone, len(keep))


def _lock_keys(build_dir: Path) -> set[str]:
    trust.refuse_links(build_dir)
    lock = layout.files(build_dir, LOCKS)
    if not lock:
        return set()
    lockfile.validate(lock, REQUIRED_OUTPUTS)
    keys: set[str] = set()
    for path in lock:
        with open(path, "rb") as f:
            keys.update(orjson.loads(line)["key"] for line in f if line.strip())
    return keys


def _suggest_slots(taxonomy: Taxonomy) -> list[str]:
    """Where ``glanc suggest`` calls for this spec sit: one slot per sample under
    the root and under every node with children (pending and dropped ones too)."""
    from ..recipe.node import slot_of
    from .suggest import EVERYTHING, MAX_SAMPLES, walk

    tree = load_yaml(taxonomy.path).data["taxonomy"]
    parents = [EVERYTHING, *(node["name"] for _, node in walk(tree) if "children" in node)]
    return [
        slot_of(taxonomy.name, "children", p, None, k) for p in parents for k in range(MAX_SAMPLES)
    ]
