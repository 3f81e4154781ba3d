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


def changed(rev: str, folder: Path) -> set[str]:
    """The files under ``folder`` whose content in the working tree differs from
    ``rev`` (changed, added, untracked or deleted), relative to ``folder``. Git
    answers from its index, without reading the files that did not change."""
    verify(rev)
    base = _base(folder)
    names = _git("diff", "--name-only", "-z", "--no-renames", "--full-index", rev, "--",
                 f"./{folder.as_posix()}/").stdout  # fmt: skip
    others = _git("ls-files", "--others", "--exclude-standard", "-z", "--full-name", "--",
                  f"./{folder.as_posix()}/").stdout  # fmt: skip
    out = set()
    for raw in (names + b"\0" + others).split(b"\0"):
        name = raw.decode("utf-8", "surrogateescape")
        if name.startswith(base):
            out.add(name[len(base) :])
    return out


def differ(rev: str, paths: list[Path]) -> bool | None:
    """Whether any of ``paths`` (files or folders) differs in the working tree from
    ``rev`` (changed, added, untracked or deleted); None when git cannot tell (a path
    outside the repository, say)."""
    verify(rev)
    args = ["--", *(f"./{p.as_posix()}" for p in paths)]
    diff = _git("diff", "--name-only", "--no-renames", rev, *args)
    others = _git("ls-files", "--others", "--exclude-standard", *args)
    if diff.returncode != 0 or others.returncode != 0:
        return None
    return bool(diff.stdout.strip() or others.stdout.strip())


def _base(folder: Path) -> str:
    """``folder`` as git names it from the top level, with a trailing slash."""
    prefix = _git("rev-parse", "--show-prefix").stdout.decode().strip()
    return (prefix + folder.as_posix()).strip("/") + "/"


def tree(rev: str, folder: Path, dest: Path, only: set[str] | None = None) -> int:
    """Write the files under ``folder`` (relative to the working directory) as of
    ``rev`` into ``dest``, keeping their paths below ``folder`` (those in ``only``,
    when given); return how many. Plain files only: a symlink committed there is
    left out, never followed. All of them come out of one ``git cat-file``."""
    verify(rev)
    listed = _git("ls-tree", "-r", "-z", "--full-name", rev, "--", f"./{folder.as_posix()}/")
    base = _base(folder)
    wanted: list[tuple[str, str]] = []
    for entry in listed.stdout.decode("utf-8", "surrogateescape").split("\0"):
        meta, _, name = entry.partition("\t")
        parts = meta.split()
        if len(parts) == 3 and parts[0] in ("100644", "100755") and parts[1] == "blob":
            if name.startswith(base) and (only is None or name[len(base) :] in only):
                wanted.append((parts[2], name[len(base) :]))
    if not wanted:
        return 0
    objects = "".join(f"{oid}\n" for oid, _ in wanted).encode()
    out = subprocess.run(["git", "cat-file", "--batch"], input=objects, capture_output=True)
    data, at = out.stdout, 0
    for _, relative in wanted:
        header_end = data.index(b"\n", at)
        size = int(data[at:header_end].split()[2])
        body = data[header_end + 1 : header_end + 1 + size]
        at = header_end + 1 + size + 1
        target = dest / relative
        if ".." in Path(relative).parts:
            continue
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(body)
    return len(wanted)


def builds_at(rev: str, builds: Path) -> set[Path]:
    """Build directories (holding a manifest.json, or a dataset.jsonl in the layout
    of glanc before 0.2) under ``builds`` at ``rev``."""
    verify(rev)
    out = _git("ls-tree", "-r", "--name-only", "--full-name", rev, "--", f"./{builds.as_posix()}")
    prefix = _git("rev-parse", "--show-prefix").stdout.decode().strip()
    found = set()
    for line in out.stdout.decode().splitlines():
        name = line[len(prefix) :]
        if line.startswith(prefix) and name.endswith(("/manifest.json", "/dataset.jsonl")):
            found.add(Path(name).parent)
    return found
