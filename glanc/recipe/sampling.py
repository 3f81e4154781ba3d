"""GLAN's homework draws: which sessions and key concepts each question is about.

Pure functions of the spec seed and a syllabus: the same syllabus always gives
the same questions' topics, whatever order calls finished in.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any

from ..keys import digest
from ..specs.types import Discipline

MAX_CONCEPTS = 5  # GLAN: 1-5 key concepts per question


@dataclass(frozen=True)
class QuestionSample:
    """What one homework question is about: GLAN's per-question draw."""

    index: int
    difficulty: str
    sessions: tuple[str, ...]
    key_concepts: tuple[str, ...]
    draw: int = 0  # 0, then 1, 2, ... for each redraw of a row the quality layer dropped

    @property
    def place(self) -> int | str:
        """Where the question sits in its subject: its index, and its draw after a redraw."""
        return self.index if not self.draw else f"{self.index}~{self.draw}"

    @property
    def key_sample(self) -> int:
        """The ``sample`` number in the node key: the index, its draw in the high bits."""
        return self.index | (self.draw << 20)


def clean_sessions(output: dict[str, Any]) -> list[dict[str, Any]]:
    """Sessions with a name, their concepts stripped and de-duplicated."""
    out = []
    for s in output.get("sessions") or []:
        name = " ".join(str(s.get("name", "")).split())
        if not name:
            continue
        concepts: list[str] = []
        for c in s.get("key_concepts") or []:
            c = " ".join(str(c).split())
            if c and c not in concepts:
                concepts.append(c)
        out.append(
            {
                "name": name,
                "description": str(s.get("description", "")).strip(),
                "key_concepts": concepts,
            }
        )
    return out


def render_syllabus(sessions: list[dict[str, Any]]) -> str:
    """The whole syllabus as the question prompt shows it."""
    lines = []
    for i, s in enumerate(sessions, 1):
        head = f"Session {i}: {s['name']}"
        if s["description"]:
            head += f" - {s['description']}"
        lines.append(head)
        if s["key_concepts"]:
            lines.append("  Key concepts: " + "; ".join(s["key_concepts"]))
    return "\n".join(lines)


def sample_questions(
    seed: int, d: Discipline, sessions: list[dict[str, Any]]
) -> list[QuestionSample]:
    """GLAN's homework draws, one independent draw per question.

    basic: one session and 1-5 of its key concepts; challenging: two sessions
    and 2-5 concepts including at least one of each. The draw for question i
    depends only on the spec seed, the syllabus and i, so raising
    questions_per_subject keeps earlier questions unchanged.
    """
    usable = [s for s in sessions if s["key_concepts"]]
    n = d.settings.questions_per_subject
    if not usable or n == 0:
        return []
    syllabus_digest = digest(usable)  # once per syllabus: every draw is seeded by it
    return [draw_question(seed, d, usable, syllabus_digest, i) for i in range(n)]


def draw_question(
    seed: int,
    d: Discipline,
    usable: list[dict[str, Any]],
    syllabus_digest: str,
    i: int,
    draw: int = 0,
) -> QuestionSample:
    """Question ``i``'s draw (``draw`` > 0: its redraws, each independent of the rest);
    ``syllabus_digest`` is ``digest(usable)``."""
    n = d.settings.questions_per_subject
    n_challenging = round(n * d.settings.challenging_ratio) if len(usable) >= 2 else 0
    rng = random.Random(f"{seed}:{syllabus_digest}:{i}" + (f":{draw}" if draw else ""))
    if i < n - n_challenging:
        s = rng.choice(usable)
        k = rng.randint(1, min(MAX_CONCEPTS, len(s["key_concepts"])))
        concepts = rng.sample(s["key_concepts"], k)
        return QuestionSample(i, "basic", (s["name"],), tuple(concepts), draw)
    a, b = sorted(rng.sample(range(len(usable)), 2))
    first, second = usable[a], usable[b]
    picked = [rng.choice(first["key_concepts"]), rng.choice(second["key_concepts"])]
    rest = [c for c in first["key_concepts"] + second["key_concepts"] if c not in picked]
    total = len(set(picked)) + len(rest)
    k = rng.randint(2, max(2, min(MAX_CONCEPTS, total)))
    concepts = list(dict.fromkeys(picked))
    concepts += rng.sample(rest, min(len(rest), max(0, k - len(concepts))))
    pair = (first["name"], second["name"])
    return QuestionSample(i, "challenging", pair, tuple(concepts), draw)
