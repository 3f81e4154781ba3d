"""Coverage per node (issue 38): how much of what a discipline's syllabi teach its
rows reach, and whether its mix is the one the spec asked for.

Per discipline, and per subject where it applies:
- **key concepts**: the share of a syllabus's key concepts that at least one
  kept row was asked about (GLAN samples a few per question, so a subject with
  few questions reaches few of them: a measure of how thinly the syllabus is
  sampled, not of the model);
- **challenging**: the share of rows drawn as challenging, beside the spec's
  ``challenging_ratio``; **levels**: rows per level, beside the spec's levels;
- **subject diversity**: 1 minus the largest content-word overlap (Jaccard of
  crude stems) between two of its subjects' names: 1.0 when no two share a word.

A node under a threshold the spec sets (``quality.coverage``) is listed, like a
short quota. Everything is a pure function of the kept rows and the syllabi, so
the figures are the same bytes at any concurrency; each discipline's figures
travel in its share (``artifact.shares``), so a carried discipline keeps them.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable
from typing import Any

from .. import text as t
from ..specs.types import Discipline


def _share(part: int, whole: int) -> float:
    return round(part / whole, 3) if whole else 0.0


def diversity(subjects: Iterable[str]) -> float:
    """1 minus the largest stem Jaccard between two subject names (1.0 for one)."""
    stems = [t.stems(s) or frozenset({s.casefold()}) for s in subjects]
    most = 0.0
    for a, b in itertools.combinations(stems, 2):
        most = max(most, len(a & b) / len(a | b))
    return round(1 - most, 3)


def of_discipline(
    d: Discipline,
    reached: dict[str, tuple[int, int]],
    taught: dict[str, int],
    counts: dict[str, dict[str, int]],
) -> dict[str, Any]:
    """``reached``: per subject, its rows and the distinct key concepts they ask
    about (``RowSpool.concepts_by_subject``); ``taught``: per subject, its
    syllabus's key concepts; ``counts``: the discipline's rows by level and
    difficulty."""
    subjects = {}
    for name in sorted(set(reached) | set(taught)):
        rows, hit = reached.get(name, (0, 0))
        total = max(taught.get(name, 0), hit)  # a syllabus not at hand: what rows reached
        subjects[name] = {"rows": rows, "key_concepts": total, "reached": hit,
                          "share": _share(hit, total)}  # fmt: skip
    rows = sum(s["rows"] for s in subjects.values())
    s = d.settings
    return {
        "rows": rows,
        "key_concepts": _share(sum(v["reached"] for v in subjects.values()),
                               sum(v["key_concepts"] for v in subjects.values())),
        "challenging": _share(counts.get("difficulty", {}).get("challenging", 0), rows),
        "challenging_asked": s.challenging_ratio,
        "levels": dict(sorted(counts.get("level", {}).items())),
        "levels_asked": list(s.levels),
        "diversity": diversity(n for n, v in subjects.items() if v["rows"]),
        "subjects": subjects,
    }


def below(
    path: tuple[str, ...], figures: dict[str, Any], floors: dict[str, float]
) -> list[dict[str, Any]]:
    """The discipline's and its subjects' figures under the spec's floors."""
    out = []
    where = "/".join(path)
    least = floors.get("key_concepts")
    if least is not None:
        for name, v in figures["subjects"].items():
            if v["share"] < least:
                out.append({"taxonomy_path": where, "subject": name, "measure": "key_concepts",
                            "value": v["share"], "least": least})  # fmt: skip
    least = floors.get("diversity")
    if least is not None and figures["diversity"] < least:
        out.append({"taxonomy_path": where, "subject": None, "measure": "diversity",
                    "value": figures["diversity"], "least": least})  # fmt: skip
    return out


def summary(by_discipline: dict[str, dict[str, Any]], floors: dict[str, float]) -> dict[str, Any]:
    """The build's coverage for the manifest: totals over the disciplines, each
    discipline's key-concept share, and every node under a floor. Per-subject
    figures stay in the shares (the manifest stays small at any scale)."""
    reached = taught = 0
    listed: list[dict[str, Any]] = []
    for where in sorted(by_discipline):
        figures = by_discipline[where]
        for v in figures["subjects"].values():
            reached, taught = reached + v["reached"], taught + v["key_concepts"]
        listed += below(tuple(where.split("/")), figures, floors)
    return {
        "key_concepts": _share(reached, taught),
        "disciplines": {w: {"key_concepts": f["key_concepts"], "diversity": f["diversity"],
                            "challenging": f["challenging"]}
                        for w, f in sorted(by_discipline.items())},  # fmt: skip
        "floors": dict(sorted(floors.items())),
        "below": listed,
    }
