"""Checks on what the generator stages return, before anything is built on it: a
discipline's subjects and a subject's syllabus (issue 38).

The row checks (``glanc.quality.checks``) judge a finished pair; a bad subject
or syllabus spoils every row below it, so these judge the node itself. Each is
a pure function of the node's output and the spec, so the planner, which walks
the same ``Expander``, decides exactly as the build does. A check either
*merges* (a repeated subject, session or key concept is left out, and the rest
is used) or *drops* the node, which the expander draws again (a new sample, a
new key) while ``quality.redraws`` last. Every subject or syllabus left out is
recorded with its check and reason (``Vetoed``), in the quality report.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .. import text as t
from ..keys import normalise_name
from ..specs.types import STAGE_CHECKS, Discipline, QualitySpec

# a subject named as a taxonomy node: the discipline itself, or another; a subject
# that repeats an earlier one of its discipline; a syllabus without enough
# distinct sessions and key concepts
NAME, DUPLICATE, SESSIONS = STAGE_CHECKS
# "Economics, including Business Economics, Microeconomics, and Macroeconomics": a
# catalogue names one subject; a name that lists several is a discipline's summary
_SEVERAL = re.compile(r"\b(?:including|such as|e\.g\.)\s|[,;].*[,;]", re.IGNORECASE)
SIMILAR = 0.6  # content-word Jaccard from which two subject names are one subject
SIMILAR_SESSIONS = 0.8  # ... and two session names one session


@dataclass(frozen=True)
class Vetoed:
    """A subject or syllabus the stage checks left out, and why."""

    stage: str  # subjects | syllabus
    subject: str
    check: str
    reason: str
    draw: int = 0

    def as_json(self, d: Discipline) -> dict[str, Any]:
        return {"taxonomy_path": "/".join(d.path), "stage": self.stage, "subject": self.subject,
                "check": self.check, "reason": self.reason, "draw": self.draw}  # fmt: skip


def enabled(quality: QualitySpec, check: str) -> bool:
    """Whether a stage check runs: the quality layer is on and the check not off."""
    return quality.enabled and quality.params(check) is not None


def names_several(name: str) -> bool:
    """A subject name that lists several subjects ("X, including A, B and C")."""
    return bool(_SEVERAL.search(name))


# words that make no new subject of an old one: "Introduction to Algebra" is Algebra
_GENERIC = frozenset(t.stems(
    "introduction introductory principles fundamentals basics foundations elementary advanced "
    "topics studies general survey overview concepts"))


def only_words_of(name: str, words: frozenset[str]) -> bool:
    """A subject named with nothing but its discipline's words ("Chemistry of
    Chemistry", "Biology Science" under Natural Sciences / Biology)."""
    return name_words(name) <= words


def name_words(name: str) -> frozenset[str]:
    """A name's content words, three letters or more ("Art", "Law" count), cut to
    the crude stem of ``text.stems``."""
    words = (w[: t.STEM] for w in t.words(name) if len(w) >= 3 and w not in t.STOPWORDS)
    return frozenset(words) or frozenset({normalise_name(name)})


def _conjuncts(name: str) -> list[str]:
    """The parts of "A and B" (or "A & B"), when the name is one."""
    parts = re.split(r"\s+(?:and|&)\s+", name, flags=re.IGNORECASE)
    return parts if len(parts) > 1 else []


def same_subject(a: str, b: str) -> bool:
    """Two subject names that name one subject: they share most of their content
    words ("Music History" and "History of Western Music"), or one adds only
    generic words to the other ("Introduction to Algebra"). "Algebra" and
    "Linear Algebra", "Textile Art" and "Textile Technology" stay two."""
    x, y = name_words(a), name_words(b)
    if (x <= y or y <= x) and (x ^ y) <= _GENERIC:
        return True
    if any(name_words(part) in (x, y) for part in _conjuncts(a) + _conjuncts(b)):
        return True  # "Calculus and Analysis" holds "Calculus" whole
    return len(x & y) / len(x | y) >= SIMILAR


def duplicate_of(name: str, kept: Iterable[str]) -> str | None:
    """The earlier subject ``name`` repeats, if any."""
    return next((k for k in kept if same_subject(name, k)), None)


def vet_sessions(
    sessions: list[dict[str, Any]], wanted: int
) -> tuple[list[dict[str, Any]], str | None]:
    """A syllabus's sessions with repeats merged: a session named like an earlier
    one is left out, a key concept taught in an earlier session is left out of a
    later one, and a session left without key concepts goes. Returns the sessions
    kept and, when fewer than half the ``wanted`` sessions are left (or none),
    why the syllabus is dropped."""
    kept: list[dict[str, Any]] = []
    seen_concepts: set[str] = set()
    repeats = 0
    for s in sessions:
        stems = name_words(s["name"])
        if any(_similar(stems, name_words(k["name"])) for k in kept):
            repeats += 1
            continue
        concepts = []
        for c in s["key_concepts"]:
            norm = normalise_name(c)
            if norm and norm not in seen_concepts:
                seen_concepts.add(norm)
                concepts.append(c)
        repeats += len(s["key_concepts"]) - len(concepts)
        if concepts:
            kept.append({**s, "key_concepts": concepts})
    least = max(1, math.ceil(wanted / 2))
    if len(kept) < least:
        why = (f"{len(kept)} distinct session(s) with key concepts, at least {least} "
               f"of the {wanted} asked")  # fmt: skip
        if repeats:
            why += f" ({repeats} repeated session(s) or key concept(s) left out)"
        return kept, why
    return kept, None


def _similar(x: frozenset[str], y: frozenset[str]) -> bool:
    return x == y or len(x & y) / len(x | y) >= SIMILAR_SESSIONS
