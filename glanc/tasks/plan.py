"""``glanc plan``: what ``glanc build`` with the same workspace and options would do.

Opens the store read-only (a missing store reads as empty; a store a build
holds is read from a copy) and sees the committed lock as if imported, so a
fresh clone plans exactly what its first build will do. Writes nothing.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

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
from ..store.records import StageAverages

if TYPE_CHECKING:
    from .carry import Carried


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
        kept, problem = None, None
        if taxonomy.pending:  # what keeping them would add: a plan of the spec with them
            try:
                kept = load_taxonomy(taxonomy.path, keep_pending=True)
            except SpecError as exc:
                problem = str(exc.problems[0]) if exc.problems else str(exc)
        plans = [t for t in (taxonomy, kept) if t is not None]
        carries = [_carried(t, workspace, options, store) for t in plans]
        if options.use_lock:  # the lock of every discipline some plan walks
            lock_dir = workspace.lock_dir(taxonomy.name)
            trust.refuse_links(lock_dir)
            everywhere = set.intersection(*(set(c) for c in carries))
            shards = {d.shard for d in taxonomy.disciplines if d.path in everywhere}
            lock = [p for p in layout.files(lock_dir, LOCKS)
                    if not layout.in_shards(p, lock_dir, shards)]  # fmt: skip
            if lock:
                lockfile.validate(lock, REQUIRED_OUTPUTS)
            store.overlay_lock(lock)

        def plan_of(t: Taxonomy, carry: Carried, observe: Callable | None = None) -> Plan:
            nodes: Counter = Counter()
            for share in carry.values():
                nodes.update({stage: int(n) for stage, n in share.tally["nodes"].items()})
            planned = walk(
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
                only=tuple(d for d in t.disciplines if d.path not in carry),
                carried=dict(nodes),
                # their locks are not read: the carried disciplines' shares give their tokens
                averages=_averages(carry),
            )
            return replace(planned, carried=len(carry))

        waves = tuple(store.batches.open())
        result = replace(plan_of(taxonomy, carries[0], on_decision), batches=waves)
        if waves:  # the nodes to run that a batch already holds: not sent, nor paid, again
            held = {r.key for rs in store.batches.requests(w.wave for w in waves).values()
                    for r in rs}  # fmt: skip
            result = replace(result, in_batches=sum(n.key in held for n in result.nodes))
        if not taxonomy.pending:
            return result
        paths = tuple("/".join(r.path) for r in taxonomy.pending_all)
        count = sum(r.disciplines for r in taxonomy.pending)
        if kept is None:
            return replace(result, pending=PendingReview(paths, count, problem=problem))
        more = plan_of(kept, carries[1])
        return replace(result, pending=PendingReview.between(result, more, paths, count))


def _averages(carry: Carried) -> dict[tuple[str, str], StageAverages]:
    """Tokens per call by (stage, model), over the nodes of the carried disciplines."""
    sums: dict[tuple[str, str], list[int]] = {}
    for share in carry.values():
        for label, stages in share.tally["usage"].items():
            for stage, (calls, tokens_in, tokens_out) in stages.items():
                total = sums.setdefault((stage, label), [0, 0, 0])
                total[0] += calls
                total[1] += tokens_in
                total[2] += tokens_out
    return {key: StageAverages(t[1] / t[0], t[2] / t[0], 1.0, t[0])
            for key, t in sums.items() if t[0]}  # fmt: skip


def _carried(
    taxonomy: Taxonomy, workspace: Workspace, options: BuildOptions, store: Store
) -> Carried:
    """The disciplines the build would carry over, as ``build`` decides it."""
    from .carry import carried  # what it reads is the build's: loaded when asked for

    plain = options.selection.everything and not options.force
    if not (plain and workspace.lock_from is None and options.use_lock):
        return {}
    from ..recipe.graph import Graph

    build_dir = workspace.build_dir(taxonomy.name)
    graph = Graph(taxonomy, options.model, options.backend_for(taxonomy))
    recorded = store.recorded_build(str(build_dir.resolve()))
    return carried(taxonomy, graph, build_dir, recorded[2] if recorded else None)


def last_redraw_rate(manifest: Path) -> float | None:
    """The share of first draws the last build redrew (its manifest's quality
    section); None without one."""
    try:
        quality = json.loads(manifest.read_text()).get("quality") or {}
        first = quality["first_draw"]["rows"]
        return quality.get("redraws", 0) / first if first else None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
