"""Where a build reads and writes, and how it runs: one object each, one default each.

The CLI turns its flags into these; a library caller gets the CLI's defaults
by constructing them with no arguments (``glanc.build(taxonomy)``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from .plan.select import Selection
from .specs.types import Taxonomy

# the artifact of a build: builds/<name>/ holds the manifest, the dataset card, and
# three folders of shards, a file per discipline (glanc.artifact.layout): the rows,
# the lock, and the rows the quality layer dropped (with their reasons)
MANIFEST = "manifest.json"
CARD = "README.md"
DATA = "data"
LOCKS = "lock"
DROPS = "dropped"
SHARDED = (DATA, LOCKS, DROPS)
# a JSON file per discipline: what its files are and what its part of the build
# counted, so the next build carries an unchanged discipline over (artifact.shares)
SHARES = "shares"
# the single-file layout of glanc before 0.2, which the next build rewrites
DATASET = "dataset.jsonl"
LOCK = "lock.jsonl"
DROPPED = "dropped.jsonl"
LEGACY = (DATASET, LOCK, DROPPED)
OWNED = (MANIFEST, CARD, *SHARDED, SHARES, *LEGACY)  # the names in builds/<name>/ a build replaces

DEFAULT_STORE = Path(".glanc/cache.duckdb")
DEFAULT_BUILDS = Path("builds")
# glanc check's own: what it works out about unchanged files (their near-duplicate bands),
# by their bytes, for the next check (CI restores it from the base branch's run)
DEFAULT_CHECK_CACHE = Path(".glanc/check.duckdb")
DEFAULT_CONCURRENCY = 16
MAX_SUGGEST_SAMPLES = 50  # calls per node glanc suggest asks (--samples); gc keeps the latest


@dataclass(frozen=True)
class Workspace:
    """The paths a build uses.

    ``store``: the DuckDB node store (the cache). ``builds``: the builds
    directory; a taxonomy's artifact goes to ``builds/<name>/``. ``wait``: called
    once with the reason when another process holds the store, making that a
    wait rather than an error. ``lock_from``: read the lock from this build
    directory rather than the output's (``glanc check`` rebuilds a committed
    artifact into a scratch workspace); the card then names the spec relative
    to that directory's builds directory, as the original build did. ``bands``:
    keep the artifact files' near-duplicate bands in this file rather than the
    store (``glanc check``'s cache: its store is scratch)."""

    store: Path = DEFAULT_STORE
    builds: Path = DEFAULT_BUILDS
    wait: Callable[[str], None] | None = field(default=None, compare=False)
    lock_from: Path | None = None
    bands: Path | None = None

    def build_dir(self, name: str) -> Path:
        return self.builds / name

    def lock_dir(self, name: str) -> Path:
        """Where the lock a build reuses is read from."""
        return self.lock_from if self.lock_from is not None else self.build_dir(name)

    @property
    def spec_root(self) -> Path:
        """The builds directory the card's spec path is relative to the parent of."""
        return self.lock_from.parent if self.lock_from is not None else self.builds


@dataclass(frozen=True)
class BuildOptions:
    """How a build runs.

    ``model``: one model for every stage (``stub`` for a dry run). ``selection``: only these
    nodes run; the others are used when cached, skipped otherwise. ``force``: rerun the
    selected nodes even when cached (new seeds; the old results are kept in the store's
    history). ``use_lock``: first read the build directory's ``lock.jsonl`` into the store,
    so a committed build is reused without a model call. ``concurrency``: model calls in
    flight at once (an in-process model runs one at a time). ``rpm``/``tpm``: requests and
    tokens per minute to each remote model, at most (a model's own limits win). ``backend``:
    ``threads``, ``batch`` or ``ray`` for every model; None: as the spec's ``execution:``
    says, else each model as the spec routes it (``batch:``). ``ray_address``: the Ray
    cluster ``ray`` connects to (else the spec's, else ``RAY_ADDRESS``, else a local Ray).
    ``processes``: worker processes the thread backend spreads its calls over (1: this
    process's threads). ``batch_file``: write each wave of batched calls to this JSONL file
    instead of sending it, and stop until ``glanc ingest`` has its results. ``send``: False
    to take back results only, sending nothing. ``detach``: leave each batch sent at the
    provider and stop, rather than wait for it; the same build again takes back what is
    done."""

    model: str | None = None
    selection: Selection = field(default_factory=Selection)
    force: bool = False
    use_lock: bool = True
    concurrency: int = DEFAULT_CONCURRENCY
    rpm: int | None = None
    tpm: int | None = None
    backend: str | None = None
    ray_address: str | None = None
    processes: int = 1
    batch_file: Path | None = None
    send: bool = True
    detach: bool = False

    def backend_for(self, taxonomy: Taxonomy) -> str | None:
        """Where calls run: the command line's choice, else the spec's ``execution:``."""
        return self.backend or taxonomy.execution.backend

    def ray_address_for(self, taxonomy: Taxonomy) -> str | None:
        return self.ray_address or taxonomy.execution.ray_address
