"""``glanc build``: the whole flow for one taxonomy, from spec to artifact.

Resolve every model and check the remote ones, open the store, reuse the lock,
schedule the graph on a backend, then write the artifact as a whole. The
phases it strings together live in their own packages; this module only
orders them and reports what happened.
"""

from __future__ import annotations

import os
import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import trust
from ..artifact import card, layout, publish
from ..artifact.manifest import decoding, is_stub, manifest, model_labels
from ..artifact.manifest import read as manifest_of
from ..artifact.shares import Share, merged_counts
from ..artifact.write import write_dataset
from ..errors import GlancError, Interrupted
from ..execute.backends import Backend
from ..execute.backends.batch import BatchBackend
from ..execute.backends.routed import RoutedBackend
from ..execute.backends.threads import ThreadBackend
from ..execute.events import Observer, Observers, Tick
from ..execute.preflight import preflight
from ..execute.scheduler import Scheduler
from ..execute.tally import ByDiscipline, Failure, StageStats, Tally
from ..faults import interrupted
from ..lm.call import Caller
from ..lm.usage import Ledger
from ..options import DATA, LOCKS, BuildOptions, Workspace
from ..plan.decide import Decider
from ..plan.planner import wave_json
from ..quality import coverage
from ..recipe.graph import Graph
from ..recipe.node import Node
from ..specs.contract import REQUIRED_OUTPUTS, STAGES
from ..specs.types import Discipline, Taxonomy
from ..store import Store
from ..store.batches import Wave
from ..store.lockfile import lock_lines, rehydrate
from ..store.spool import RowSpool
from . import uptodate
from .carry import Carried, Inputs, carried, crosses, record_bands

if TYPE_CHECKING:  # the quality gate (numpy, the checks) loads when a build walks: a no-op
    from ..quality.gate import Gate  # never imports it


@dataclass(frozen=True)
class Waiting:
    """Calls a build left waiting: the batch files it wrote now (path, requests),
    the ones written before that still await ``glanc ingest``, how many calls
    wait in all (those of a build that sends nothing included), and the batches
    a detached build left running at the provider."""

    written: tuple[tuple[Path, int], ...]
    files: tuple[Wave, ...]
    calls: int
    batches: tuple[Wave, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": self.calls,
            "written": [{"path": str(p), "requests": n} for p, n in self.written],
            "awaiting_results": [wave_json(w) for w in self.files],
            "at_provider": [wave_json(w) for w in self.batches],
        }


@dataclass
class BuildResult:
    """What a build did; ``as_json`` is the ``--json`` summary."""

    stages: dict[str, StageStats]
    lm_calls: int
    tokens_in: int
    tokens_out: int
    rows: int
    dataset: Path
    failures: list[Failure] = field(default_factory=list)
    seconds: float = 0.0
    skipped: list[Node] = field(default_factory=list)
    usage: Ledger = field(default_factory=Ledger)  # this run's calls, per model and stage
    up_to_date: bool = False  # nothing changed since the last build: no node was walked
    quality_seconds: float | None = None  # time the quality gate took, when it was on
    waiting: Waiting | None = None  # calls left in batch files: builds/ was not written
    short: int = 0  # rows of the quota left unfilled: every redraw of them was dropped
    carried: int = 0  # disciplines carried over unchanged from the last build, not walked

    @property
    def ok(self) -> bool:
        return not self.failures

    def as_json(self) -> dict[str, Any]:
        return {
            "stages": {s: st.as_json() for s, st in self.stages.items()},
            "lm_calls": self.lm_calls,
            "tokens": {"in": self.tokens_in, "out": self.tokens_out},
            "models": self.usage.as_json(),
            "rows": self.rows,
            "failed": [f.__dict__ for f in self.failures],
            "dataset": str(self.dataset),
            "short": self.short,
            "seconds": round(self.seconds, 3),
            "up_to_date": self.up_to_date,
            "carried_over": self.carried,
            **({"waiting": self.waiting.as_json()} if self.waiting is not None else {}),
            **(
                {"quality_seconds": round(self.quality_seconds, 3)}
                if self.quality_seconds is not None
                else {}
            ),
        }


def build(
    taxonomy: Taxonomy,
    workspace: Workspace | None = None,
    options: BuildOptions | None = None,
    observer: Observer | None = None,
    *,
    carry_over: bool | None = None,
    intact: dict[str, list[int]] | None = None,
) -> BuildResult:
    """Build ``taxonomy``'s dataset into ``workspace.builds/<name>/``; see the CLI's
    ``build``. ``observer`` sees every build event (the CLI's progress display).
    ``carry_over``: carry unchanged disciplines over from the build already there
    (``tasks.carry``); by default, in a plain build (everything selected, nothing
    forced, the build's own lock). ``intact``: files of the build already there
    known to be as its manifest lists them, with their [size, mtime_ns] (``glanc
    check --base``: those git finds unchanged since the base), not hashed again."""
    started = time.monotonic()
    workspace, options = workspace or Workspace(), options or BuildOptions()
    build_dir = workspace.build_dir(taxonomy.name)
    graph = Graph(taxonomy, options.model, _backend(options, taxonomy))
    judged = taxonomy.quality.enabled and taxonomy.quality.judge is not None
    for d in taxonomy.disciplines:  # resolve every model before touching the store
        for stage in (*STAGES, *(("judge",) if judged else ())):
            graph.model(d, stage)
    if not options.selection.runs_nothing and options.send:
        preflight(graph, offline=options.batch_file is not None)
    trust.refuse_links(build_dir)
    _refuse_stub_over_real(graph, build_dir)
    if workspace.lock_from is not None:
        trust.refuse_links(workspace.lock_from)
    publish.ensure_writable(build_dir)
    if options.batch_file is not None:
        _check_batch_file(options.batch_file)
    plain = options.selection.everything and not options.force and workspace.lock_from is None
    if carry_over is None:  # --no-lock: every node from the store, none from files
        carry_over = plain and options.use_lock
    with Store(workspace.store, on_wait=workspace.wait, bands_at=workspace.bands) as store:
        stamp, carry = None, {}
        if plain:
            stamp = uptodate.stamp(taxonomy, graph, options.model, build_dir, options.use_lock)
            previous = uptodate.unchanged(store, stamp, build_dir)
            if previous is not None:
                return _up_to_date(previous, build_dir, started)
        if carry_over:
            recorded = store.recorded_build(str(build_dir.resolve()))
            stats = intact if intact is not None else recorded[2] if recorded else None
            carry = carried(taxonomy, graph, build_dir, stats)
        result = _walk(taxonomy, graph, store, workspace, options, observer, carry, started)
        if result is None:  # a near-duplicate spans what was walked and what was carried
            result = _walk(taxonomy, graph, store, workspace, options, observer, {}, started)
        if stamp is not None and result.ok and not result.skipped and result.waiting is None:
            uptodate.record(store, stamp, build_dir)
            if taxonomy.quality.enabled and taxonomy.quality.dedup is not None:
                _record_bands(store, build_dir)
        return result


def _record_bands(store: Store, build_dir: Path) -> None:
    """Record the bands of the files this build wrote, for the next build's crossing
    (``carry.crosses`` would record them then; here, the questions' bands were just
    kept, so nothing is signed)."""
    listed = (manifest_of(build_dir) or {}).get("files")
    if isinstance(listed, dict):
        record_bands(store, build_dir, listed)


def _walk(
    taxonomy: Taxonomy,
    graph: Graph,
    store: Store,
    workspace: Workspace,
    options: BuildOptions,
    observer: Observer | None,
    carry: Carried,
    started: float,
) -> BuildResult | None:
    """Walk the disciplines ``carry`` does not carry over, then write the artifact;
    None, having written nothing, when a near-duplicate pair spans the walked and
    the carried (``carry.crosses``): the build must then walk every discipline."""
    build_dir = workspace.build_dir(taxonomy.name)
    carried_shards = {d.shard for d in taxonomy.disciplines if d.path in carry}
    if options.use_lock:
        lock_dir = workspace.lock_dir(taxonomy.name)
        lock = [p for p in layout.files(lock_dir, LOCKS)
                if not layout.in_shards(p, lock_dir, carried_shards)]  # fmt: skip
        rehydrate(store, lock, REQUIRED_OUTPUTS)
    walked = tuple(d for d in taxonomy.disciplines if d.path not in carry)
    with RowSpool() as rows, RowSpool() as dropped:
        tally, parts = Tally(), ByDiscipline()
        emit = Observers([tally, parts, *((observer,) if observer is not None else ())])
        gate = None
        if taxonomy.quality.enabled:
            from ..quality.gate import Gate

            gate = Gate(taxonomy, graph, rows, dropped, store.verdicts)
        try:
            waiting = _schedule(taxonomy, graph, store, rows, gate, tally, emit, options, walked)
            if gate is not None:
                gate.file()  # every verdict, for the next plan to foresee its redraws
            if waiting is None and crosses(gate, carry, build_dir, store):
                return None
            if waiting is None and gate is not None and gate.duplicates is not None:
                from ..quality.dedup import keep_bands

                keep_bands(gate.duplicates, store.bands)  # for the next build's crossing
        finally:  # its helper process and near-duplicate index go with the build, always
            if gate is not None:
                gate.close()
        emit(Tick(final=True))
        if waiting is not None:  # calls wait on a batch file: builds/ stays as it was
            return _waiting(tally, waiting, build_dir, started)
        written = Written(graph, parts, rows, dropped if gate is not None else None, gate, carry)
        return _finish(taxonomy, tally, store, written, workspace, started)


def _refuse_stub_over_real(graph: Graph, build_dir: Path) -> None:
    """A dry run never overwrites real data: a build whose every model is the stub
    writes placeholder rows, and may not replace a build that real models made."""
    if not all(info.kind == "stub" for info in graph.models_used()):
        return
    made = manifest_of(build_dir)
    real = [m for m in model_labels(made) if not is_stub(m)] if made is not None else []
    if real:
        raise GlancError(
            f"{build_dir} holds rows of {', '.join(real)}; this build's rows would be the stub "
            "model's placeholders: pass --out DIR for a dry run (glanc build --model stub "
            "writes to .glanc/dry-run by default)"
        )


def _schedule(
    taxonomy: Taxonomy,
    graph: Graph,
    store: Store,
    rows: RowSpool,
    gate: Gate | None,
    tally: Tally,
    emit: Observer,
    options: BuildOptions,
    disciplines: tuple[Discipline, ...],
) -> Waiting | None:
    """Run the graph of ``disciplines`` to the end, round after round while the
    quality gate redraws rows; Ctrl-C keeps what finished. Stops early, saying
    what it waits on, when the calls left wait on a batch file someone runs
    elsewhere."""
    concurrency = max(1, options.concurrency)
    caller = Caller(taxonomy.template)
    direct = _direct(taxonomy, graph, options, caller, concurrency)
    batch = None
    backend: Backend = direct
    if not options.send or any(info.batch for info in graph.models_used()):
        batch = BatchBackend(caller, store.batches, emit, batch_file=options.batch_file,
                             send=options.send, detach=options.detach)  # fmt: skip
        backend = RoutedBackend(direct, batch)
    if gate is not None:
        on_row = gate.offer
    else:

        def on_row(node: Node, row: dict[str, Any]) -> list[Node]:
            rows.add(row)
            return []

    scheduler = Scheduler(
        graph,
        store,
        backend,
        Decider(options.selection, options.force),
        emit,
        on_row,
        concurrency=concurrency,
        rpm=options.rpm,
        tpm=options.tpm,
        poll=None if gate is None else gate.poll,
    )
    scheduler.start(disciplines)
    try:
        scheduler.run()
        while not backend.stalled and gate is not None:
            # a round's end runs the near-duplicate index's joins beside the store:
            # write the store out first, so its key index is not in memory meanwhile
            store.checkpoint()
            if not (redraws := gate.end_round()):
                break
            scheduler.push(redraws)
            scheduler.run()
    except BaseException as exc:
        if not interrupted(exc):
            raise
        # the frames the interrupt came through hold the backend's queues: free
        # them, so that cancel can release their semaphores before the exit
        traceback.clear_frames(exc.__traceback__)
        backend.cancel()
        batched = batch.inflight if batch is not None else 0
        held = (f"{batched} call(s) in batches the provider keeps (their ids are in the store: "
                "a rerun polls them, sending nothing twice), " if batched else "")  # fmt: skip
        raise Interrupted(
            f"interrupted: {tally.finished_here} node(s) finished in this run are kept in the "
            f"store, {held}{backend.inflight - batched} call(s) in flight abandoned; run the "
            "same command again to resume",
            abandon=True,
        ) from None
    waiting = None
    if batch is not None and (backend.stalled or batch.parked):
        waiting = Waiting(tuple(batch.written), tuple(batch.waiting_files.values()),
                          len(batch.parked), tuple(batch.at_provider.values()))  # fmt: skip
    backend.close()
    if batch is not None:
        store.flush()
        store.batches.settle()
    return waiting


def _direct(
    taxonomy: Taxonomy, graph: Graph, options: BuildOptions, caller: Caller, concurrency: int
) -> Backend:
    """The backend calls that are not batched run on: this process's threads (or
    worker processes' threads, with ``processes``), or Ray (the backend the graph's
    models were routed for)."""
    if graph.backend != "ray" and options.processes > 1:
        from ..execute.backends.processes import ProcessBackend

        return ProcessBackend(taxonomy.template, options.processes, concurrency)
    if graph.backend != "ray":
        return ThreadBackend(caller, workers=concurrency)
    from ..execute.backends.ray_data import RayBackend
    from ..lm.credentials import env_names

    keys = tuple(sorted({name for info in graph.models_used() for name in env_names(info)}))
    address = options.ray_address_for(taxonomy)
    return RayBackend(taxonomy.template, concurrency=concurrency, rpm=options.rpm,
                      tpm=options.tpm, address=address, env=keys)  # fmt: skip


def _check_batch_file(path: Path) -> None:
    """Before any call: can the batch file be written where it is asked for?"""
    folder = path.parent if str(path.parent) else Path(".")
    if path.is_dir() or not folder.is_dir() or not os.access(folder, os.W_OK):
        why = "is a directory" if path.is_dir() else f"{folder} is not a writable directory"
        raise GlancError(f"--batch-file {path}: {why}; choose a file in a writable directory")


def _backend(options: BuildOptions, taxonomy: Taxonomy) -> str | None:
    """Where calls run: a batch file means a Batch API's format."""
    chosen = options.backend_for(taxonomy)
    if options.processes > 1 and chosen == "ray":
        raise GlancError("--processes spreads the thread backend over processes: "
                         "with --backend ray, Ray's workers do that")  # fmt: skip
    if options.batch_file is not None or not options.send:
        if chosen in ("threads", "ray"):
            raise GlancError("--batch-file writes batches: use it with --backend batch")
        return "batch"
    if options.detach and chosen in ("threads", "ray"):
        raise GlancError("--detach leaves batches at the provider: use it with --backend batch")
    return chosen


def _waiting(tally: Tally, waiting: Waiting, build_dir: Path, started: float) -> BuildResult:
    """The result of a build that stopped at a batch file: what ran, what waits."""
    return _result(tally, 0, build_dir / DATA, started, waiting=waiting)


def _result(tally: Tally, rows: int, dataset: Path, started: float, **extra: Any) -> BuildResult:
    spent = tally.spent.grand_total()
    return BuildResult(
        stages=tally.stages(),
        lm_calls=spent.calls,
        tokens_in=spent.tokens_in,
        tokens_out=spent.tokens_out,
        rows=rows,
        dataset=dataset,
        failures=tally.failures,
        seconds=time.monotonic() - started,
        skipped=tally.skipped,
        usage=tally.spent,
        **extra,
    )


def _up_to_date(previous: dict[str, Any], build_dir: Path, started: float) -> BuildResult:
    """The result of a rebuild that nothing changed: the last build's counts, all cached."""
    stages = {s: StageStats(cached=n) for s, n in previous["counts"]["nodes"].items()}
    return BuildResult(
        stages={s: stages.get(s, StageStats()) for s in STAGES},
        lm_calls=0,
        tokens_in=0,
        tokens_out=0,
        rows=previous["rows"],
        dataset=build_dir / DATA,
        seconds=time.monotonic() - started,
        up_to_date=True,
        short=len((previous.get("quality") or {}).get("short") or ()),
    )


@dataclass(frozen=True)
class Written:
    """What a finished walk hands the artifact: its rows and dropped rows, each
    walked discipline's counts (``parts``) and gate report, and the shares of
    the disciplines carried over."""

    graph: Graph
    parts: ByDiscipline
    rows: RowSpool
    dropped: RowSpool | None
    gate: Gate | None
    carry: Carried


def _finish(
    taxonomy: Taxonomy,
    tally: Tally,
    store: Store,
    w: Written,
    workspace: Workspace,
    started: float,
) -> BuildResult:
    """Write the artifact of a finished build (dataset, lock, manifest, card, the
    dropped rows, each discipline's share) and summarise it."""
    models = {info.label: info for info in w.graph.models_used()}
    for share in w.carry.values():  # counted as if walked, every node cached
        tally.absorb(share.tally, models)
    quality = None
    if w.gate is not None:
        w.gate.note_vetoed(d for d in taxonomy.disciplines if d.path not in w.carry)
        from ..quality.gate import Report

        carried_reports = [Report.of_json(s.quality or {}) for s in w.carry.values()]
        quality = Report.merged([*w.gate.reports.values(), *carried_reports], w.gate.quota)
    rows = w.rows.count + sum(s.rows for s in w.carry.values())
    meta = manifest(taxonomy, tally, rows, None if quality is None else quality.as_json(False))
    by_shard = w.rows.counts_by_shard()
    covered = _coverage(taxonomy, w, by_shard)
    meta["coverage"] = coverage.summary(
        {"/".join(path): figures for path, figures in covered.items()},
        dict(taxonomy.quality.coverage),
    )
    counts = {column: [] for column in ("field", "discipline", "level", "difficulty")}
    counts |= merged_counts([*by_shard.values(), *(s.counts for s in w.carry.values())])
    spec = card.spec_path(taxonomy, workspace.spec_root)
    text = card.render(taxonomy, meta, counts, decoding(tally), spec)
    build_dir = workspace.build_dir(taxonomy.name)
    carried_files = _carried_files(taxonomy, w.carry, build_dir)

    def shares_of(listed: dict[str, Any]) -> dict[str, str]:
        return _shares(taxonomy, w, listed, by_shard, covered)

    dataset = write_dataset(build_dir, w.rows, meta, lock_lines(store), text, w.dropped,
                            shares=shares_of, carried=carried_files)  # fmt: skip
    quality_seconds = None if w.gate is None else w.gate.seconds
    short = 0 if quality is None else len(quality.short)
    return _result(tally, rows, dataset, started, quality_seconds=quality_seconds,
                   short=short, carried=len(w.carry))  # fmt: skip


def _coverage(
    taxonomy: Taxonomy, w: Written, by_shard: dict[str, dict[str, dict[str, int]]]
) -> dict[tuple[str, ...], dict[str, Any]]:
    """Each discipline's coverage: a walked one's from its rows and syllabi, a
    carried one's from its share."""
    reached = w.rows.concepts_by_subject()
    out = {}
    for d in taxonomy.disciplines:
        if d.path in w.carry:
            if (carried := w.carry[d.path].coverage) is not None:
                out[d.path] = carried
            continue
        taught = w.graph.taught.get(d.path, {})
        counts = by_shard.get(d.shard, {})
        out[d.path] = coverage.of_discipline(d, reached.get(d.shard, {}), taught, counts)
    return out


def _carried_files(taxonomy: Taxonomy, carry: Carried, build_dir: Path) -> dict[str, Any]:
    """The files of the disciplines carried over, their shares' included, as listed."""
    listed = (manifest_of(build_dir) or {}).get("files") or {}
    out: dict[str, Any] = {}
    for d in taxonomy.disciplines:
        if d.path in carry:
            name = layout.share_file(d.shard)
            out |= {name: listed[name], **carry[d.path].files}
    return out


def _shares(
    taxonomy: Taxonomy,
    w: Written,
    listed: dict[str, Any],
    by_shard: dict[str, dict[str, dict[str, int]]],
    covered: dict[tuple[str, ...], dict[str, Any]],
) -> dict[str, str]:
    """The share of each walked discipline that finished whole, by shard; one that
    failed or skipped a node has none, and the next build walks it again."""
    files: dict[str, dict[str, Any]] = {}
    for name, listing in listed.items():
        files.setdefault(layout.shard_of(name), {})[name] = listing
    out = {}
    digests = Inputs(taxonomy, w.graph)
    for d in taxonomy.disciplines:
        if d.path in w.carry:
            continue
        part = w.parts.of(d.path)
        proposed = w.graph.proposed.get(d.path)
        if part.failures or part.skipped or proposed is None:
            continue
        counts = by_shard.get(d.shard, {})
        quality = None
        if w.gate is not None:
            from ..quality.gate import Report

            report = w.gate.reports.get(d.path) or Report()
            quality = {k: v for k, v in report.as_json().items() if k != "quota"}
        share = Share(
            discipline=d.path,
            inputs=digests.of(d),
            proposed=tuple(sorted(proposed)),
            named=tuple(w.graph.named_after_others(d, proposed)),
            files=files.get(d.shard, {}),
            tally=part.share(),
            rows=sum(counts.get("field", {}).values()),
            counts=counts,
            quality=quality,
            coverage=covered.get(d.path),
        )
        out[d.shard] = share.text()
    return out
