"""Execute the build graph: look nodes up in the store, call the model for
the rest, and expand the graph as outputs arrive.

One coordinating thread owns the store and the graph state; a bounded thread
pool only calls models. Nodes run as soon as their inputs exist, deepest stage
first, so question-answer pairs complete early and the queue stays small.
"""

from __future__ import annotations

import heapq
import itertools
import json
import os
import socket
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from . import __version__, card, models, publish
from .call import TRANSPORT, Caller, Outcome
from .credentials import endpoint, redact
from .dataset import RowSpool, write_dataset
from .errors import GlancError, Interrupted
from .expand import Expander
from .fingerprint import canonical_json, digest
from .graph import Graph, Node, row_id
from .limits import ModelLimits
from .lock import lock_lines, rehydrate
from .plan import node_path, state_of
from .progress import Progress, StageStats
from .select import Selection
from .spec import STAGES, Discipline, Taxonomy
from .store import Record, Store
from .usage import Ledger

_DEPTH = {stage: i for i, stage in enumerate(STAGES)}
LOOKUP_BATCH = 512
LOOKUP_MIN = 256


@dataclass(frozen=True)
class Failure:
    stage: str
    key: str
    discipline: str
    error: str


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
            "seconds": round(self.seconds, 3),
            "up_to_date": self.up_to_date,
        }


class _Executor:
    def __init__(
        self,
        graph: Graph,
        store: Store,
        caller: Caller,
        concurrency: int,
        progress: Progress,
        rows: RowSpool,
        selection: Selection,
        force: bool,
        rpm: int | None = None,
        tpm: int | None = None,
    ):
        self.graph, self.store, self.caller = graph, store, caller
        self.expander = Expander(graph)
        self.selection, self.force = selection, force
        self.concurrency = max(1, concurrency)
        self.progress = progress
        self.seq = itertools.count()
        self.ready: list[Node] = []
        # per model, a heap of (-depth, order, node): deepest stage first
        self.waiting: dict[Any, list[tuple[int, int, Node]]] = {}
        self.per_model: dict[Any, int] = {}  # calls in flight per model
        self._limits: dict[Any, ModelLimits] = {}
        self.rpm, self.tpm = rpm, tpm
        self.inflight: dict[Future, Node] = {}
        # nodes sharing a key with one already waiting or in flight: completed with it
        self.followers: dict[str, list[Node]] = {}
        self.replacing: set[str] = set()  # keys whose stored ok record a rerun replaces
        self.ran: set[str] = set()  # keys called in this build (forced at most once)
        self.rows = rows
        self.failures: list[Failure] = []
        self.lm_calls = 0
        self.dataset_tokens = [0, 0]
        self.dataset_usage = Ledger()  # tokens recorded with every node the dataset uses
        self.models_by_stage: dict[str, set[str]] = {s: set() for s in STAGES}
        self.decoding_by_stage: dict[str, dict[str, dict]] = {s: {} for s in STAGES}
        self.skipped: list[Node] = []

    # -- graph expansion ------------------------------------------------------
    def push(self, nodes: list[Node]) -> None:
        for node in nodes:
            self.progress.queued[node.stage] += 1
        self.ready.extend(nodes)

    def start(self, disciplines: tuple[Discipline, ...]) -> None:
        self.push(self.expander.roots(disciplines))

    def finished(self, node: Node, output: dict[str, Any] | None) -> None:
        """Expand the graph below a finished node (``output`` None when it failed)."""
        if node.stage == "answer" and output is not None:
            self.rows.add(self.row(node, output))
        else:
            self.push(self.expander.children(node, output))

    def row(self, node: Node, output: dict[str, Any]) -> dict[str, Any]:
        ctx = node.context
        d, subject, sample = node.discipline, ctx["subject"], ctx["sample"]
        question_model = self.graph.model(d, "question")[0]
        answer_model = node.model
        stub = "stub" in (question_model.kind, answer_model.kind)
        return {
            "id": row_id(d, subject, sample.index),
            "messages": [
                {"role": "user", "content": node.inputs.get("question") or ""},
                {"role": "assistant", "content": str(output.get("answer", ""))},
            ],
            "taxonomy_path": list(d.path),
            "discipline": d.name,
            "subject": subject.name,
            "level": subject.level,
            "sessions": list(sample.sessions),
            "key_concepts": list(sample.key_concepts),
            "difficulty": sample.difficulty,
            "models": {"question": question_model.label, "answer": answer_model.label},
            "stub": stub,
            "keys": {
                "syllabus": ctx["syllabus_key"],
                "question": ctx["question_key"],
                "answer": node.key,
            },
        }

    # -- bookkeeping ------------------------------------------------------------
    def done(self, node: Node, record: Record, cached: bool) -> None:
        stats = self.progress.stats[node.stage]
        self.progress.queued[node.stage] -= 1
        self.models_by_stage[node.stage].add(node.model.label)
        self.decoding_by_stage[node.stage].setdefault(node.decoding_id, node.decoding)
        if record.status == "ok":
            self.store.use(node.key, node.slot)
            if cached:
                stats.cached += 1
            else:
                stats.run += 1
            self.dataset_tokens[0] += record.tokens_in or 0
            self.dataset_tokens[1] += record.tokens_out or 0
            self.dataset_usage.add(
                node.model, node.stage, record.tokens_in or 0, record.tokens_out or 0, 1
            )
            self.finished(node, record.output)
        else:
            stats.failed += 1
            self.failures.append(
                Failure(node.stage, node.key, node.discipline.path_str, record.error or "failed")
            )
            self.finished(node, None)

    def lookup(self) -> None:
        while self.ready:
            # take the whole queue at once: hits below push their children onto a
            # fresh list, and slicing the rest off per batch would be quadratic
            queue, self.ready = self.ready, []
            for i in range(0, len(queue), LOOKUP_BATCH):
                self._lookup_batch(queue[i : i + LOOKUP_BATCH])

    def _lookup_batch(self, batch: list[Node]) -> None:
        found = self.store.get_many([n.key for n in batch])
        previous = self.store.previous(n.slot for n in batch) if self.selection.uses_state else {}
        for node in batch:
            rec = found.get(node.key)
            selected = self.selection.matches(
                node.stage,
                node_path(node),
                lambda r=rec, n=node: state_of(r, previous.get(n.slot)),
            )
            forced = self.force and selected and node.key not in self.ran
            if rec is not None and rec.status == "ok" and not forced:
                if rec.slot is None:  # written by an older glanc: record its place now
                    self.store.set_place(
                        node.key, node.slot, node.program_id, node.model_id, node.decoding_id
                    )
                self.done(node, rec, cached=True)
            elif not selected:
                self.progress.queued[node.stage] -= 1
                self.progress.stats[node.stage].skipped += 1
                self.skipped.append(node)
                self.finished(node, None)
            elif node.key in self.followers:
                self.followers[node.key].append(node)
            else:
                if rec is not None and not (rec.error or "").startswith(TRANSPORT):
                    # a forced or rejected node runs with fresh seeds; a request the
                    # server failed is simply made again
                    node = replace(node, rollout=rec.rollout + 1)
                    if rec.status == "ok":
                        self.replacing.add(node.key)
                self.followers[node.key] = []
                if self.force:
                    self.ran.add(node.key)
                heap = self.waiting.setdefault(node.model, [])
                heapq.heappush(heap, (-_DEPTH[node.stage], next(self.seq), node))

    def record(self, node: Node, outcome: Outcome) -> Record:
        self.lm_calls += outcome.attempts
        stats = self.progress.stats[node.stage]
        stats.tokens_in += outcome.tokens_in
        stats.tokens_out += outcome.tokens_out
        self.progress.usage.add(
            node.model, node.stage, outcome.tokens_in, outcome.tokens_out, outcome.attempts
        )
        record = Record(
            key=node.key,
            stage=node.stage,
            inputs=node.inputs,
            inputs_json=node.inputs_json or None,
            output=outcome.output,
            raw=outcome.raw,
            model=node.model.label,
            tokens_in=outcome.tokens_in,
            tokens_out=outcome.tokens_out,
            latency_ms=outcome.latency_ms,
            status="ok" if outcome.output is not None else "failed",
            error=outcome.error,
            attempts=outcome.attempts,
            slot=node.slot,
            program=node.program_id,
            model_key=node.model_id,
            decoding_key=node.decoding_id,
            rollout=node.rollout,
        )
        self.store.put(record, keep_old=node.key in self.replacing)
        return record

    def limits(self, node: Node) -> ModelLimits:
        """A node's model's limits: an in-process model runs one call at a time
        (more would only queue on its lock); a spec's ``concurrency``, ``rpm`` and
        ``tpm`` on the model, else the build's."""
        limits = self._limits.get(node.model)
        if limits is None:
            ref = node.model.ref
            inflight = 1 if node.model.kind == "gguf" else self.concurrency
            limits = ModelLimits(
                inflight=min(int(ref.option("concurrency", inflight)), self.concurrency),
                rpm=ref.option("rpm", self.rpm),
                tpm=ref.option("tpm", self.tpm),
            )
            self._limits[node.model] = limits
        return limits

    def submit(self, pool: ThreadPoolExecutor) -> None:
        """Start waiting nodes, deepest stage first within each model, while the
        build and each model have room."""
        now = time.monotonic()
        for model, heap in list(self.waiting.items()):
            if not heap:
                continue
            limits = self.limits(heap[0][2])
            while (
                heap
                and len(self.inflight) < self.concurrency
                and self.per_model.get(model, 0) < limits.inflight
                and limits.may_start(now)
            ):
                node = heapq.heappop(heap)[2]
                self.per_model[model] = self.per_model.get(model, 0) + 1
                limits.started(now)
                self.inflight[pool.submit(self.caller, node)] = node
            if not heap:
                del self.waiting[model]

    def run(self, pool: ThreadPoolExecutor) -> None:
        while True:
            # look up in batches: a query costs about a millisecond whatever its size,
            # so wait for a batch unless the workers are about to run out of work
            if self.ready and (
                len(self.ready) >= LOOKUP_MIN
                or sum(len(h) for h in self.waiting.values()) < 2 * self.concurrency
                or not self.inflight
            ):
                self.lookup()
            self.submit(pool)
            self.store.flush_if_due()
            self.progress.render()
            if not self.inflight:
                if not self.ready and not self.waiting:
                    return
                if not self.ready:  # held back by a rate limit: let the window move
                    time.sleep(0.05)
                continue
            finished, _ = wait(list(self.inflight), timeout=0.25, return_when=FIRST_COMPLETED)
            now = time.monotonic()
            for future in finished:
                node = self.inflight.pop(future)
                self.per_model[node.model] -= 1
                try:
                    outcome = future.result()
                except Exception as exc:  # a bug in a worker must not lose the build
                    error = redact(f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
                    outcome = Outcome(None, None, error, 1, 0, 0, 0.0)
                self.limits(node).finished(now, outcome.tokens_in + outcome.tokens_out)
                record = self.record(node, outcome)
                self.done(node, record, cached=False)
                for follower in self.followers.pop(node.key, ()):
                    self.done(follower, record, cached=True)


def spec_path(taxonomy: Taxonomy, out_dir: Path) -> str:
    """The spec's path as the card shows it: relative to the builds directory's
    parent (the repository root, usually), whatever the working directory. A
    spec read from standard input or a pipe is named as it was given."""
    if not taxonomy.path.is_file():
        return taxonomy.path.as_posix()
    return Path(os.path.relpath(taxonomy.path.resolve(), out_dir.resolve().parent)).as_posix()


def preflight(graph: Graph) -> None:
    """Fail fast, before the store is touched, on a remote model whose settings
    are missing or malformed (every ``env:`` reference, ``api_key_env``,
    credentials) or whose server cannot be reached. Messages never hold a secret."""
    for info in graph.models_used():
        if info.kind != "remote":
            continue
        where = endpoint(info)
        if not where.base:
            continue
        url = urlparse(where.base)
        port = url.port or (443 if url.scheme == "https" else 80)
        try:
            socket.create_connection((url.hostname, port), timeout=5).close()
        except OSError as exc:
            why = redact(exc.strerror or str(exc), where.secrets)
            raise GlancError(
                f"model {info.ref.id}: cannot reach {where.base}: {why}; "
                "start the server or fix api_base"
            ) from None


def writable(build_dir: Path) -> None:
    """Fail before any model call when the artifact could not be written."""
    try:
        os.rmdir(publish.staging_dir(build_dir))
    except OSError as exc:
        raise GlancError(
            f"{build_dir.parent}: cannot write the builds directory ({exc.strerror or exc}): "
            "make it writable or pass --out"
        ) from None


def build(
    taxonomy: Taxonomy,
    *,
    store_path: Path,
    out_dir: Path,
    model: str | None = None,
    concurrency: int = 4,
    progress: Progress | None = None,
    selection: Selection | None = None,
    force: bool = False,
    on_wait: Callable[[str], None] | None = None,
    use_lock: bool = True,
    offline: bool = False,
    lock_dir: Path | None = None,
    spec_label: str | None = None,
    rpm: int | None = None,
    tpm: int | None = None,
) -> BuildResult:
    """Build ``taxonomy``'s dataset into ``out_dir/<name>/``; see the CLI's ``build``.

    With a ``selection``, only selected nodes run; the others are used when
    cached and skipped otherwise (the dataset then lacks their rows). ``force``
    reruns the selected nodes even when cached, keeping the old results in the
    store's history. ``on_wait`` makes a busy store a wait rather than an error.
    ``use_lock`` first loads ``out_dir/<name>/lock.jsonl`` into the store, so a
    committed build is reused without a model call. ``offline`` skips the
    server preflight (for builds that select nothing to run). ``lock_dir``
    reads the lock from elsewhere than the output, and ``spec_label`` names the
    spec in the card (``glanc check`` rebuilds into a scratch directory).
    """
    started = time.monotonic()
    progress = progress or Progress(enabled=False)
    graph = Graph(taxonomy, model)
    for d in taxonomy.disciplines:  # resolve every model before touching the store
        for stage in STAGES:
            graph.model(d, stage)
    if not offline:
        preflight(graph)
    writable(out_dir / taxonomy.name)
    caller = Caller(taxonomy.template)
    selection = selection or Selection()
    plain = selection.everything and not force and lock_dir is None and spec_label is None
    with Store(store_path, on_wait=on_wait) as store, RowSpool() as rows:
        stamp = _stamp(taxonomy, graph, model, out_dir, use_lock) if plain else None
        if stamp is not None:
            unchanged = _unchanged(store, stamp, out_dir / taxonomy.name, started)
            if unchanged is not None:
                return unchanged
        if use_lock:
            rehydrate(store, lock_dir or out_dir / taxonomy.name)
        executor = _Executor(
            graph, store, caller, concurrency, progress, rows, selection, force, rpm, tpm
        )
        executor.start(taxonomy.disciplines)
        pool = ThreadPoolExecutor(max_workers=executor.concurrency, thread_name_prefix="glanc")
        try:
            executor.run(pool)
        except KeyboardInterrupt:
            # in-flight calls are abandoned, not awaited: their results are never
            # recorded, and the store keeps every node finished before now
            caller.stop()
            pool.shutdown(wait=False, cancel_futures=True)
            kept = sum(s.run + s.failed for s in progress.stats.values())
            raise Interrupted(
                f"interrupted: {kept} node(s) finished in this run are kept in the store, "
                f"{len(executor.inflight)} call(s) in flight abandoned; run the same command "
                "again to resume",
                abandon=True,
            ) from None
        pool.shutdown(wait=True)
        progress.render(force=True)
        result = _finish(taxonomy, executor, store, out_dir, started, spec_label)
        if stamp is not None and result.ok and not result.skipped:
            store.record_build(stamp[0], stamp[1], _files(out_dir / taxonomy.name))
        return result


ARTIFACT = ("dataset.jsonl", "lock.jsonl", "manifest.json", "README.md")


def _stamp(
    taxonomy: Taxonomy, graph: Graph, model: str | None, out_dir: Path, use_lock: bool
) -> tuple[str, str]:
    """(where, fingerprint) of a plain build: everything its output depends on
    besides the store's records, which the store's generation covers."""
    where = str((out_dir / taxonomy.name).resolve())
    identities = sorted(canonical_json(models.identity(i)) for i in graph.models_used())
    fingerprint = digest(
        [__version__, taxonomy.digest, model or "", identities, use_lock, str(taxonomy.path)]
    )
    return where, fingerprint


def _files(build_dir: Path) -> dict[str, list[int]]:
    out = {}
    for name in ARTIFACT:
        try:
            st = (build_dir / name).stat()
        except FileNotFoundError:
            continue
        out[name] = [st.st_size, st.st_mtime_ns]
    return out


def _unchanged(
    store: Store, stamp: tuple[str, str], build_dir: Path, started: float
) -> BuildResult | None:
    """The result of the last build into ``build_dir`` when nothing it depends on
    changed since (spec, template, models, store records, the files it wrote):
    a no-op rebuild then reads one row instead of walking every node."""
    recorded = store.recorded_build(stamp[0])
    if recorded is None:
        return None
    fingerprint, generation, files = recorded
    if fingerprint != stamp[1] or generation != store.generation():
        return None
    if files != _files(build_dir) or len(files) != len(ARTIFACT):
        return None
    manifest = json.loads((build_dir / "manifest.json").read_text())
    stages = {s: StageStats(cached=n) for s, n in manifest["counts"]["nodes"].items()}
    return BuildResult(
        stages={s: stages.get(s, StageStats()) for s in STAGES},
        lm_calls=0,
        tokens_in=0,
        tokens_out=0,
        rows=manifest["rows"],
        dataset=build_dir / "dataset.jsonl",
        seconds=time.monotonic() - started,
        up_to_date=True,
    )


def _finish(
    taxonomy: Taxonomy,
    executor: _Executor,
    store: Store,
    out_dir: Path,
    started: float,
    spec_label: str | None,
) -> BuildResult:
    """Write the artifact of a finished build (dataset, lock, manifest, card) and
    summarise it."""
    stats = executor.progress.stats
    manifest = {
        "glanc_version": __version__,
        "taxonomy": taxonomy.name,
        "spec_digest": taxonomy.digest,
        "template": taxonomy.template.name,
        "rows": executor.rows.count,
        "counts": {
            "disciplines": len(taxonomy.disciplines),
            "nodes": {s: st.run + st.cached for s, st in stats.items()},
            "failed": {s: st.failed for s, st in stats.items()},
            "skipped": {s: st.skipped for s, st in stats.items()},
        },
        "complete": not executor.failures and not any(st.skipped for st in stats.values()),
        "tokens": {"in": executor.dataset_tokens[0], "out": executor.dataset_tokens[1]},
        "usage": executor.dataset_usage.as_json(calls="nodes"),
        "models": {s: sorted(m) for s, m in executor.models_by_stage.items()},
    }
    build_dir = out_dir / taxonomy.name
    spec = spec_label or spec_path(taxonomy, out_dir)
    counts = {c: executor.rows.counts(c) for c in ("field", "discipline", "level", "difficulty")}
    decoding = {
        s: [d for _, d in sorted(ds.items())] for s, ds in executor.decoding_by_stage.items()
    }
    text = card.render(taxonomy, manifest, counts, decoding, spec)
    lock = lock_lines(store)
    dataset = write_dataset(build_dir, executor.rows, manifest, lock, text)
    return BuildResult(
        stages=stats,
        lm_calls=executor.lm_calls,
        tokens_in=sum(s.tokens_in for s in stats.values()),
        tokens_out=sum(s.tokens_out for s in stats.values()),
        rows=executor.rows.count,
        dataset=dataset,
        failures=executor.failures,
        seconds=time.monotonic() - started,
        skipped=executor.skipped,
        usage=executor.progress.usage,
    )
