"""What a fault of the store, the disk or the file system means to a user.

Such faults are not bugs in glanc and not failed nodes (exit 1): each becomes
one line saying what happened and what to do, and exit 2. Anything else that
escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

import errno
import os

_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)


def describe(exc: BaseException) -> str | None:
    """The one-line message for a store, disk or permission fault, else None."""
    if isinstance(exc, OSError):
        where = f"{exc.filename}: " if exc.filename else ""
        what = exc.strerror or str(exc)
        if exc.errno in _DISK_FULL:
            return (
                f"{where}{what}: free disk space (or raise the file size limit) and run the "
                "same command again; finished nodes are kept"
            )
        if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
            return f"{where}{what}: make it writable, or choose another --out/--store"
        return f"{where}{what}"
    try:
        import duckdb
    except ImportError:  # pragma: no cover - duckdb is a dependency
        return None
    if isinstance(exc, duckdb.Error):
        return store_message(None, exc)
    return None


def store_message(path: os.PathLike | str | None, exc: BaseException) -> str:
    """A DuckDB error as one line with the remedy."""
    text = str(exc).strip()
    first = text.splitlines()[0] if text else type(exc).__name__
    lowered = text.lower()
    where = f"{path}: " if path else ""
    if "no space left" in lowered or "file too large" in lowered or "disk full" in lowered:
        return (
            f"{where}the disk is full ({first}): free space and run the same command again; "
            "finished nodes are kept"
        )
    if any(
        hint in lowered
        for hint in ("corrupt", "could not read enough bytes", "checksum", "not a valid duckdb")
    ):
        return (
            f"{where}the store is damaged ({first}): move it aside and run again "
            "(committed builds come back from their lock)"
        )
    if "permission denied" in lowered or "read-only" in lowered:
        return f"{where}cannot write the store ({first}): make it writable or pass --store"
    return f"{where}store error: {first}"


def interrupted(exc: BaseException) -> bool:
    """Ctrl-C, however it arrived: DuckDB turns a SIGINT that lands during one of
    its queries into ``RuntimeError('Query interrupted')`` and leaves no
    KeyboardInterrupt pending, so a build interrupted mid-flush must see it here."""
    return isinstance(exc, KeyboardInterrupt) or (
        type(exc) is RuntimeError and str(exc) == "Query interrupted"
    )
