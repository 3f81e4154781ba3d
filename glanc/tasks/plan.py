"""``glanc plan``: what ``glanc build`` with the same workspace and options would do.

Opens the store read-only (a missing store reads as empty; a store a build
holds is read from a copy) and sees the committed lock as if imported, so a
fresh clone plans exactly what its first build will do. Writes nothing.
"""

from __future__ import annotations

from collections.abc import Callable

from ..options import LOCK, BuildOptions, Workspace
from ..plan.decide import Decision
from ..plan.planner import Plan
from ..plan.planner import plan as walk
from ..recipe.node import Node
from ..specs.types import Taxonomy
from ..store import Store


def plan(
    taxonomy: Taxonomy,
    workspace: Workspace | None = None,
    options: BuildOptions | None = None,
    on_decision: Callable[[Node, Decision], None] | None = None,
) -> Plan:
    """The plan of ``build(taxonomy, workspace, options)``; ``on_decision`` sees each
    known node with the decision the build would make for it."""
    workspace, options = workspace or Workspace(), options or BuildOptions()
    with Store(workspace.store, read_only=True, on_wait=workspace.wait) as store:
        if options.use_lock:
            store.overlay_lock(workspace.lock_dir(taxonomy.name) / LOCK)
        return walk(
            taxonomy,
            store,
            model=options.model,
            selection=options.selection,
            force=options.force,
            on_decision=on_decision,
        )
