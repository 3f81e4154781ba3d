"""``glanc gc``: remove store rows that no given spec reaches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..plan.planner import reachable
from ..specs.types import Taxonomy
from ..store import Store


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
) -> Collected:
    """Keep every node a build of any of ``taxonomies`` would use or retry (with the
    older results of forced reruns), remove the rest; ``dry_run`` only counts."""
    with Store(store_path, read_only=dry_run, on_wait=wait) as store:
        keep: set[str] = set()
        for taxonomy in taxonomies:
            keep |= reachable(taxonomy, store, model=model)
        gone = store.unreached(keep) if dry_run else store.delete_unreached(keep)
    return Collected(gone, len(keep))
