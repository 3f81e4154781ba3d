"""The trust boundary: what glanc reads and writes in a checkout it did not make.

A pull request to a taxonomy repository is untrusted input, and CI runs
``glanc check`` and ``glanc diff`` on it. Everything a pull request can commit
(the spec, the lock, files under ``builds/`` and ``.glanc/``) must therefore
be unable to make glanc read, print, move or delete anything outside the
build it checks. docs/phases.md ("The trust boundary") lists the rules; the
helpers here are the one place that enforces the ones about paths:

- no symlink is followed under ``builds/`` or the store's folder;
- a file a spec names (template, benchmark file, model file) is a regular
  file under the spec's repository root (the git top level, else the spec's
  folder) or under a root the user allowed (``--allow-root``,
  ``GLANC_ALLOW_ROOT``);
- no error message quotes a file's content.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable
from pathlib import Path

from .errors import GlancError

ALLOW_ROOT_ENV = "GLANC_ALLOW_ROOT"  # more roots a spec may name files under, os.pathsep-separated


def repo_root(start: Path) -> Path:
    """The git top level above ``start`` (a folder holding ``.git``), else ``start``."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def allowed_roots(spec_dir: Path) -> tuple[Path, ...]:
    """Where files a spec in ``spec_dir`` names may lie: its repository root and
    the roots the user allowed."""
    extra = [p for p in os.environ.get(ALLOW_ROOT_ENV, "").split(os.pathsep) if p]
    return (repo_root(spec_dir), *(Path(p).resolve() for p in extra))


def outside_roots(path: Path, roots: Iterable[Path]) -> bool:
    """Whether ``path``, symlinks resolved, lies outside every one of ``roots``."""
    real = path.resolve()
    return not any(real == root or root in real.parents for root in roots)


def spec_file_problem(path: Path, spec_dir: Path, what: str) -> str | None:
    """Why a file a spec names may not be read, or None: it must resolve to a
    regular file under the spec's repository root or an allowed root (never a
    device, a FIFO, /proc, or a symlink out of the repository)."""
    roots = allowed_roots(spec_dir)
    if outside_roots(path, roots):
        return (
            f"{what} {str(path)!r} lies outside the spec's repository ({roots[0]}): "
            "give a path inside it, or allow its folder with glanc --allow-root DIR"
        )
    try:
        mode = path.resolve().stat().st_mode
    except OSError:
        return None  # missing: the caller says "not found" in its own words
    if not stat.S_ISREG(mode):
        return f"{what} {str(path)!r} is not a regular file: name a file"
    return None


def refuse_links(build_dir: Path, *, depth: int = 8, what: str = "builds/") -> None:
    """Raise a one-line ``GlancError`` if ``build_dir``, its parent or anything
    under it (``depth`` levels) is a symlink: glanc never follows one out of
    ``builds/`` or the store's folder (a committed link would make it read or
    write elsewhere)."""
    for path in (build_dir.parent, build_dir):
        if path.is_symlink():
            raise _link_error(path, what)
    if not build_dir.is_dir():
        return
    stack = [(build_dir, depth)]
    while stack:
        folder, left = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                raise _link_error(Path(entry.path), what)
            if left > 1 and entry.is_dir(follow_symlinks=False):
                stack.append((Path(entry.path), left - 1))


def refuse_store_links(store: Path) -> None:
    """Raise a one-line ``GlancError`` if the store's folder, the store or its
    journal or write-ahead log is a symlink (a committed ``.glanc`` link would
    make a build write its store, or replay a journal, elsewhere)."""
    for path in (store.parent, store, Path(f"{store}.journal"), Path(f"{store}.wal")):
        if path.is_symlink():
            raise _link_error(path, "the store's folder")


def _link_error(path: Path, what: str) -> GlancError:
    return GlancError(
        f"{path}: is a symlink; glanc follows no link in {what}: replace it with the "
        "file or folder itself, or remove it (git rm it from the pull request)"
    )


def tracked_by_git(path: Path) -> bool:
    """Whether git tracks ``path`` (False outside a repository or without git)."""
    import subprocess

    try:
        done = subprocess.run(
            ["git", "ls-files", "--error-unmatch", "--", path.name],
            cwd=path.parent,
            capture_output=True,
            timeout=30,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return False
    return done.returncode == 0
