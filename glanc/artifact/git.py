"""Read build files from git revisions, for ``glanc diff REV:DIR`` and ``--base``."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..errors import GlancError


def _git(*args: str) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(["git", *args], capture_output=True)
    except FileNotFoundError:
        raise GlancError("git is not installed: compare build directories instead") from None


def verify(rev: str) -> None:
    if _git("rev-parse", "--verify", "--quiet", f"{rev}^{{commit}}").returncode != 0:
        raise GlancError(f"{rev!r} is not a git revision here (try 'git fetch' or check the name)")


def show(rev: str, path: Path, dest: Path) -> bool:
    """Write ``path`` (relative to the working directory) as of ``rev`` to ``dest``;
    False when the file does not exist at that revision."""
    verify(rev)
    out = _git("show", f"{rev}:./{path.as_posix()}")
    if out.returncode != 0:
        return False
    dest.write_bytes(out.stdout)
    return True


def builds_at(rev: str, builds: Path) -> set[Path]:
    """Build directories (holding a dataset.jsonl) under ``builds`` at ``rev``."""
    verify(rev)
    out = _git("ls-tree", "-r", "--name-only", "--full-name", rev, "--", f"./{builds.as_posix()}")
    prefix = _git("rev-parse", "--show-prefix").stdout.decode().strip()
    found = set()
    for line in out.stdout.decode().splitlines():
        if line.endswith("/dataset.jsonl") and line.startswith(prefix):
            found.add(Path(line[len(prefix) :]).parent)
    return found
