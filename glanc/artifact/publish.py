"""Publish a build directory as a whole.

``builds/<name>/`` must hold, at every instant, wholly the old artifact or
wholly the new one: never a mix (a lock from one build beside a dataset from
another) and never nothing. The new files are written in full to a staging
directory beside it; then on Linux ``renameat2(RENAME_EXCHANGE)`` swaps the two
directories in one step. Where that call is missing (another OS, a file system
that refuses it), a small journal records the two renames, and the next glanc
command rolls them forward (``recover``) before it does anything else.

Staging and retired directories carry the writing process's id, so ``recover``
removes only those whose writer is gone (a concurrent build's are left alone).
"""

from __future__ import annotations

import ctypes
import errno
import json
import os
import re
import secrets
import shutil
import sys
from collections.abc import Iterable
from pathlib import Path

from ..errors import GlancError
from ..options import OWNED

NEW = ".glanc-new-"
OLD = ".glanc-old-"
JOURNAL = ".glanc-publish-"
_AT_FDCWD = -100
_RENAME_EXCHANGE = 2
# a name glanc may put in builds/: no separator, no control character
_PLAIN = re.compile(r"[^/\\\x00-\x1f]{1,255}")


def checkpoint(step: str) -> None:
    """Called between the steps of a publish; tests inject faults here."""


def staging_dir(target: Path) -> Path:
    """A fresh directory beside ``target`` to write the new artifact into
    (created with the umask's mode, like any directory the user makes)."""
    target.parent.mkdir(parents=True, exist_ok=True)
    path = target.parent / f"{NEW}{target.name}-{os.getpid()}-{secrets.token_hex(4)}"
    os.mkdir(path)
    return path


def ensure_writable(build_dir: Path) -> None:
    """Fail before any model call when the artifact could not be written."""
    try:
        os.rmdir(staging_dir(build_dir))
    except OSError as exc:
        raise GlancError(
            f"{build_dir.parent}: cannot write the builds directory ({exc.strerror or exc}): "
            "make it writable or pass --out"
        ) from None


def write_file(path: Path, lines: Iterable[str]) -> None:
    """Write ``lines`` to a new file, mode 0666 less the umask (as ``open`` does)."""
    with open(path, "x", encoding="utf-8", newline="\n") as f:
        for line in lines:
            f.write(line)


def publish(staged: Path, target: Path) -> None:
    """Put the directory ``staged`` in place of ``target`` in one step. Files of
    ``target`` that ``staged`` lacks (a user's own notes) are carried over."""
    if target.is_dir():
        for entry in target.iterdir():
            ours = entry.name.startswith(".glanc-") or entry.name in OWNED
            if not (staged / entry.name).exists() and not ours:
                _carry(entry, staged / entry.name)
    checkpoint("staged")
    if not target.exists():
        os.rename(staged, target)
        checkpoint("renamed")
        return
    if _exchange(staged, target):
        checkpoint("exchanged")
        shutil.rmtree(staged, ignore_errors=True)  # it now holds the old artifact
        return
    _publish_with_journal(staged, target)


def _carry(src: Path, dest: Path) -> None:
    if src.is_dir() and not src.is_symlink():
        shutil.copytree(src, dest, symlinks=True)
        return
    try:
        os.link(src, dest, follow_symlinks=False)
    except OSError:
        shutil.copy2(src, dest, follow_symlinks=False)


def _exchange(a: Path, b: Path) -> bool:
    """Swap two directories atomically; False where the system cannot."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        fn = ctypes.CDLL(None, use_errno=True).renameat2
    except (AttributeError, OSError):
        return False
    fn.argtypes = [ctypes.c_int, ctypes.c_char_p, ctypes.c_int, ctypes.c_char_p, ctypes.c_uint]
    if fn(_AT_FDCWD, os.fsencode(a), _AT_FDCWD, os.fsencode(b), _RENAME_EXCHANGE) == 0:
        return True
    err = ctypes.get_errno()
    if err in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False
    raise OSError(err, os.strerror(err), str(b))


def _publish_with_journal(staged: Path, target: Path) -> None:
    """Two renames, with a journal that lets ``recover`` finish them: between
    them ``target`` is missing, and whoever looks next puts the new one there."""
    old = target.parent / f"{OLD}{target.name}-{os.getpid()}-{secrets.token_hex(4)}"
    journal = target.parent / f"{JOURNAL}{target.name}.json"
    tmp = journal.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps({"target": target.name, "new": staged.name, "old": old.name}))
    os.replace(tmp, journal)
    checkpoint("journal")
    try:
        os.rename(target, old)
        checkpoint("retired")
        os.rename(staged, target)
        checkpoint("renamed")
    except BaseException:  # Ctrl-C or an error between the renames: finish them now
        if not target.exists():
            os.rename(staged if staged.exists() else old, target)
        journal.unlink(missing_ok=True)
        raise
    journal.unlink(missing_ok=True)
    shutil.rmtree(old, ignore_errors=True)


def recover(builds: Path) -> None:
    """Finish or undo any publish a killed glanc left in ``builds``, and remove
    staging and retired directories (and stray temporary files) whose writer is gone.

    ``builds`` may be a checkout glanc did not make (a pull request in CI), so
    nothing here follows a symlink or trusts a journal's names: a journal names
    three plain entries of ``builds`` (the target, and ``.glanc-new-``/``.glanc-old-``
    directories), or it is refused and nothing is touched."""
    if not builds.is_dir() or builds.is_symlink():
        return
    try:
        entries = list(builds.iterdir())
    except OSError:
        return
    for journal in entries:
        if journal.name.startswith(JOURNAL) and journal.suffix == ".json":
            _roll_forward(builds, journal)
    for entry in entries:
        name = entry.name
        if entry.is_symlink():
            continue  # never followed, never removed: check and build refuse it by name
        if name.startswith((NEW, OLD)) and not _alive(name):
            shutil.rmtree(entry, ignore_errors=True)
        elif entry.is_dir() and not name.startswith("."):
            for tmp in entry.glob(".*.tmp"):  # written by glanc before 0.2
                if tmp.is_file() and not tmp.is_symlink():
                    tmp.unlink(missing_ok=True)


def journal_names(builds: Path, journal: Path) -> tuple[str, str, str]:
    """(target, new, old) of a publish journal, each a plain entry of ``builds``
    with the prefix glanc gives it; a ``GlancError`` for anything else (a path,
    ``..``, an absolute name, a symlink), which glanc never writes."""
    refuse = GlancError(
        f"{journal}: not a publish journal glanc wrote (it must name plain "
        f"{NEW}*/{OLD}* entries of {builds}); nothing was moved or removed: delete the file"
    )
    if journal.is_symlink() or not journal.is_file():
        raise refuse
    try:
        entry = json.loads(journal.read_bytes()[:4096].decode("utf-8"))
        names = tuple(entry[k] for k in ("target", "new", "old"))
    except (OSError, ValueError, KeyError, TypeError):
        raise refuse from None
    target, new, old = names
    plain = all(
        isinstance(n, str) and _PLAIN.fullmatch(n) and n not in (".", "..") for n in names
    )
    if not (
        plain
        and not target.startswith(".")
        and new.startswith(f"{NEW}{target}-")
        and old.startswith(f"{OLD}{target}-")
        and journal.name == f"{JOURNAL}{target}.json"
    ):
        raise refuse
    for name in names:
        if (builds / name).is_symlink():
            raise refuse
    return target, new, old


def _roll_forward(builds: Path, journal: Path) -> None:
    names = journal_names(builds, journal)
    target, new, old = (builds / n for n in names)
    if _alive(new.name):
        return  # its writer is still at work
    if not target.exists() and new.exists():
        os.rename(new, target)  # killed between the renames: the new build goes in
    elif not target.exists() and old.exists():
        os.rename(old, target)
    elif new.exists():
        shutil.rmtree(new, ignore_errors=True)  # killed before the first rename
    journal.unlink(missing_ok=True)
    shutil.rmtree(old, ignore_errors=True)


def _alive(name: str) -> bool:
    """Whether the process named in a staging directory's name still runs."""
    try:
        pid = int(name.rsplit("-", 2)[-2])
    except (ValueError, IndexError):
        return False
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def link_or_copy(source: Path, target: Path) -> None:
    """A file that stays as it is into another build directory: a hard link (the
    source's directory may go, the link stays), or a copy where the file system
    has none."""
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)
