"""``glanc check``: is the committed build exactly what the spec and its lock make?

The check rebuilds into a scratch directory from the committed lock alone,
with a selection that runs nothing: no model call, no network, and the user's
store is never read (a node missing from the lock must not be papered over by
a local cache). Then it compares the files byte for byte.
"""

from __future__ import annotations

import filecmp
import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import trust
from ..artifact import layout, publish
from ..artifact.diff import Diff, diff_datasets
from ..artifact.manifest import read as manifest_of
from ..errors import GlancError
from ..options import CARD, DATA, DATASET, LOCKS, MANIFEST, BuildOptions, Workspace
from ..plan.select import NOTHING
from ..specs.types import Taxonomy
from ..store import Store
from ..store.journal import Journal
from ..version import __version__
from .build import build


@dataclass(frozen=True)
class Missing:
    stage: str
    path: str
    index: int


@dataclass(frozen=True)
class CheckResult:
    build_dir: Path
    missing: tuple[Missing, ...]
    stale: tuple[str, ...]  # files that differ from what spec and lock produce
    rows: Diff | None  # committed dataset -> expected dataset, when they differ
    # (stage, key) of lock entries whose output differs from the local store's
    rewritten: tuple[tuple[str, str], ...] = ()
    built_by: str | None = None  # the glanc version the committed files record
    legacy: bool = False  # committed in the single-file layout of glanc before 0.2
    unchanged_since: str | None = None  # --base: nothing differs from it, nothing rebuilt
    carried: int = 0  # --base: disciplines unchanged since it, taken as it checked them

    @property
    def other_version(self) -> bool:
        """Stale files that a glanc other than this one wrote: the new version writes
        different bytes (the version string alone never makes a file stale)."""
        return bool(self.stale) and self.built_by not in (None, __version__)

    @property
    def ok(self) -> bool:
        return not self.missing and not self.stale


def check(
    taxonomy: Taxonomy,
    out_dir: Path,
    *,
    model: str | None = None,
    store: Path | None = None,
    base: str | None = None,
    cache: Path | None = None,
) -> CheckResult:
    """Compare ``out_dir/<name>/`` with a rebuild from the spec and the lock only;
    with a ``store``, also list lock outputs that differ from it for the same key.
    With ``base`` (a git revision CI checked, the branch a pull request targets),
    a build none of whose inputs or files differ from ``base``, checked by the same
    glanc version, is up to date without a rebuild; otherwise only the disciplines
    whose inputs or files changed since are rebuilt, the others taken as ``base``
    has them, and every file is compared (a file of an unchanged discipline that
    differs from ``base`` is stale)."""
    build_dir = out_dir / taxonomy.name
    trust.refuse_links(build_dir)
    if store is not None:
        Journal(store).refuse_committed()
    cache = cache if base is not None else None  # only a check against a base carries files
    if cache is not None:
        _refuse_committed_cache(cache)
    if base is not None and unchanged_since(base, taxonomy, build_dir):
        return CheckResult(build_dir, (), (), None, built_by=built_with(build_dir),
                           unchanged_since=base)  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="glanc-check-") as tmp:
        scratch = Path(tmp)
        workspace = Workspace(store=scratch / "store.duckdb", builds=scratch / "out",
                              lock_from=build_dir, bands=cache)  # fmt: skip
        expected = workspace.build_dir(taxonomy.name)
        seeded = _seed(base, build_dir, expected) if base is not None else None
        options = BuildOptions(model=model, selection=NOTHING)
        result = build(taxonomy, workspace, options, carry_over=seeded is not None,
                       intact=seeded)  # fmt: skip
        built_by = built_with(build_dir)
        names = sorted(set(layout.owned(build_dir)) | set(layout.owned(expected)))
        stale = tuple(n for n in names if not _same(build_dir / n, expected / n, built_by))
        rows = None
        if any(n.startswith(DATA + "/") or n == DATASET for n in stale):
            rows = diff_datasets(
                layout.files(build_dir, DATA),
                layout.files(expected, DATA),
                old_label="committed",
                new_label="expected",
            )
    missing = tuple(Missing(n.stage, "/".join(n.path), n.sample) for n in result.skipped)
    lock = layout.files(build_dir, LOCKS)
    rewritten = _rewritten(lock, store) if store is not None else ()
    return CheckResult(build_dir, missing, stale, rows, rewritten, built_by,
                       layout.legacy(build_dir), carried=result.carried)  # fmt: skip


def _refuse_committed_cache(cache: Path) -> None:
    """The check's cache is its own work on this machine (or this CI's): one that
    git tracks (or its write-ahead log) came with the checkout, and a pull request
    could make it say that no question of an unchanged file is near any new one,
    so it is refused; a link in its place or its folder is refused as the store's."""
    trust.refuse_store_links(cache)
    for path in (cache, Path(f"{cache}.wal")):
        if path.exists() and trust.tracked_by_git(path):
            raise GlancError(
                f"{path}: a check cache that git tracks is never read: remove it from the "
                f"commit (git rm --cached {path}), or pass --cache with another path"
            )


def _seed(rev: str, build_dir: Path, dest: Path) -> dict[str, list[int]] | None:
    """Put the build directory as of ``rev`` in ``dest``, for the check's build to
    carry over the disciplines that did not change since (their shares say what
    their inputs were then): the files git finds unchanged are linked from the
    working tree, the others written from ``rev``. Returns the [size, mtime_ns]
    of the linked ones: they are ``rev``'s files, which its manifest lists (``rev``
    was checked), so the build need not hash them to know. None, writing nothing,
    where git cannot tell (a build directory outside the working directory)."""
    from ..artifact import git

    try:
        relative = build_dir.resolve().relative_to(Path.cwd().resolve())
    except ValueError:
        return None
    changed = git.changed(rev, relative)
    intact = {}
    for name in layout.owned(build_dir):
        if name not in changed:
            publish.link_or_copy(build_dir / name, dest / name)
            st = (dest / name).stat()
            intact[name] = [st.st_size, st.st_mtime_ns]
    git.tree(rev, relative, dest, only=changed)
    return intact


def unchanged_since(rev: str, taxonomy: Taxonomy, build_dir: Path) -> bool:
    """Whether nothing a check reads differs from git revision ``rev``: the build
    directory, the spec, its template and benchmark files, and the glanc version
    its manifest records (a new glanc may write other bytes). Any doubt is False."""
    from ..artifact import git

    if built_with(build_dir) != __version__ or not build_dir.is_dir():
        return False
    inputs = [build_dir, taxonomy.path, *(b.path for b in taxonomy.quality.benchmarks)]
    shipped = Path(__file__).resolve().parents[1] / "templates"  # glanc's own: its version
    if taxonomy.template.path.resolve().parent != shipped:
        inputs.append(taxonomy.template.path)
    here = Path.cwd().resolve()
    relative = []
    for path in inputs:
        try:
            relative.append(Path(path).resolve().relative_to(here))
        except ValueError:
            return False  # outside the working directory: check it whole
    return git.differ(rev, relative) is False


def _rewritten(lock: list[Path], store_path: Path) -> tuple[tuple[str, str], ...]:
    """(stage, key) of lock entries whose output the store holds otherwise."""
    if not lock or not store_path.is_file():
        return ()
    entries: dict[str, tuple[str, Any]] = {}
    for path in lock:
        with path.open(encoding="utf-8") as f:
            for line in f:
                try:
                    entry = json.loads(line)
                    entries[entry["key"]] = (entry["stage"], entry["output"])
                except (ValueError, KeyError, TypeError):
                    continue  # a malformed lock fails the rebuild with its own message
    out = []
    with Store(store_path, read_only=True) as store:
        keys = list(entries)
        for i in range(0, len(keys), 5000):
            found = store.get_many(keys[i : i + 5000])
            for key, record in found.items():
                stage, output = entries[key]
                if record.status == "ok" and record.output != output:
                    out.append((stage, key))
    return tuple(sorted(out))


def built_with(build_dir: Path) -> str | None:
    """The glanc version a build directory's manifest records, if it has one."""
    version = (manifest_of(build_dir) or {}).get("glanc_version")
    return version if isinstance(version, str) else None


def _same(a: Path, b: Path, built_by: str | None) -> bool:
    """Both files hold the same bytes, or neither exists (the names come from both
    sides: a file one side lacks is stale). The manifest and the card record the
    glanc version that wrote them; that alone is no change (the version is not the
    data): they are compared with the committed version in place of this one."""
    if not a.exists() and not b.exists():
        return True
    if not (a.is_file() and b.is_file()):
        return False
    if os.path.samefile(a, b):  # one file (linked: a discipline taken as the base has it)
        return True
    if b.name in (MANIFEST, CARD) and built_by is not None and built_by != __version__:
        return a.read_bytes() == versioned(b.read_bytes(), b.name, __version__, built_by)
    return filecmp.cmp(a, b, shallow=False)


def versioned(data: bytes, name: str, version: str, other: str) -> bytes:
    """A manifest's or card's bytes as version ``other`` of glanc would have written
    them, where this one (``version``) did: the version string replaced where
    glanc writes it, and nowhere else."""
    if name == MANIFEST:
        old = f'"glanc_version": {json.dumps(version)}'.encode()
        return data.replace(old, f'"glanc_version": {json.dumps(other)}'.encode(), 1)
    old = f"glanc {version} by the GLAN method".encode()
    return data.replace(old, f"glanc {other} by the GLAN method".encode(), 1)
