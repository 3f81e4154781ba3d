"""``glanc plan``: what ``glanc build`` with the same workspace and options would do.

Opens the store read-only (a missing store reads as empty; a store a build
holds is read from a copy) and sees the committed lock as if imported, so a
fresh clone plans exactly what its first build will do. Writes nothing.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from .. import trust
from ..artifact import layout
from ..errors import SpecError
from ..options import LOCKS, MANIFEST, BuildOptions, Workspace
from ..plan.decide import Decision
from ..plan.planner import PendingReview, Plan
from ..plan.planner import plan as walk
from ..quality.recorded import Foresight
from ..recipe.node import Node
from ..specs.contract import REQUIRED_OUTPUTS
from ..specs.resolve import load_taxonomy
from ..specs.types import Taxonomy
from ..store import Store, lockfile


def plan(
    taxonomy: Taxonomy,
    workspace: Workspace | None = None,
    options: BuildOptions | None = None,
    on_decision: Callable[[Node, Decision], None] | None = None,
    price: tuple[float, float] | None = None,
) -> Plan:
    """The plan of ``build(taxonomy, workspace, options)``; ``on_decision`` sees each
    known node with the decision the build would make for it. With nodes pending
    review, it also says what keeping them would add; ``price`` (USD per million
    tokens in and out) prices models the spec gives no price."""
    workspace, options = workspace or Workspace(), options or BuildOptions()
    with Store(workspace.store, read_only=True, on_wait=workspace.wait) as store:
        if options.use_lock:
            trust.refuse_links(workspace.lock_dir(taxonomy.name))
            lock = layout.files(workspace.lock_dir(taxonomy.name), LOCKS)
            if lock:
                lockfile.validate(lock, REQUIRED_OUTPUTS)
            store.overlay_lock(lock)

        def plan_of(t: Taxonomy, observe: Callable | None = None) -> Plan:
            return walk(
                t,
                store,
                model=options.model,
                selection=options.selection,
                force=options.force,
                on_decision=observe,
                redraw_rate=last_redraw_rate(workspace.build_dir(t.name) / MANIFEST),
                price=price,
                backend=options.backend_for(taxonomy),
                foresight=Foresight(t, store),
            )

        waves = tuple(store.batches.open())
        result = replace(plan_of(taxonomy, on_decision), batches=waves)
        if waves:  # the nodes to run that a batch already holds: not sent, nor paid, again
            held = {r.key for rs in store.batches.requests(w.wave for w in waves).values()
                    for r in rs}  # fmt: skip
            result = replace(result, in_batches=sum(n.key in held for n in result.nodes))
        if not taxonomy.pending:
            return result
        paths = tuple("/".join(r.path) for r in taxonomy.pending_all)
        count = sum(r.disciplines for r in taxonomy.pending)
        try:
            kept = plan_of(load_taxonomy(taxonomy.path, keep_pending=True))
        except SpecError as exc:
            problem = str(exc.problems[0]) if exc.problems else str(exc)
            return replace(result, pending=PendingReview(paths, count, problem=problem))
        return replace(result, pending=PendingReview.between(result, kept, paths, count))


def last_redraw_rate(manifest: Path) -> float | None:
    """The share of first draws the last build redrew (its manifest's quality
    section); None without one."""
    try:
        quality = json.loads(manifest.read_text()).get("quality") or {}
        first = quality["first_draw"]["rows"]
        return quality.get("redraws", 0) / first if first else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
