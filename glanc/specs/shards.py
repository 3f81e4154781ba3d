"""Where a discipline's files sit in a build: one slug per taxonomy node.

A build's rows, lock entries and dropped rows are written a file per discipline,
in a folder per node above it (``data/natural-sciences/physics.jsonl``), so no
file outgrows a git host and a change touches only its disciplines' files. The
slug is a pure function of the node's name: ASCII letters and digits joined by
single hyphens, lower case. A name whose letters are not all ASCII keeps a short
digest of itself, so two such names never meet. Two siblings whose slugs meet
are a validation error (``collisions``), never a silent merge.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable

from ..keys import digest, normalise_name

MAX_SLUG = 60
_RUNS = re.compile(r"[^a-z0-9]+")


def slug(name: str) -> str:
    """A node name's path segment: ``Natural Sciences`` -> ``natural-sciences``."""
    folded = unicodedata.normalize("NFKD", name).casefold()
    ascii_only = folded.encode("ascii", "ignore").decode()
    out = _RUNS.sub("-", ascii_only).strip("-")[:MAX_SLUG].strip("-")
    lost = any(c.isalnum() for c in folded if not c.isascii() and not unicodedata.combining(c))
    if lost or not out:
        tag = digest(["slug", normalise_name(name)])[:8]
        out = f"{out[: MAX_SLUG - 9]}-{tag}".strip("-")
    return out


def shard(path: Iterable[str]) -> str:
    """A discipline's shard, a relative path without suffix: its nodes' slugs."""
    return "/".join(slug(name) for name in path)


def collisions(names: list[str]) -> list[tuple[int, int]]:
    """Pairs ``(earlier, later)`` of indexes of sibling names with one slug (names
    that are the same name once normalised are another problem, told apart)."""
    seen: dict[str, int] = {}
    out = []
    for i, name in enumerate(names):
        s = slug(name)
        if s in seen:
            if normalise_name(names[seen[s]]) != normalise_name(name):
                out.append((seen[s], i))
        else:
            seen[s] = i
    return out
