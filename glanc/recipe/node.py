"""A node: one model call of the build graph, with its key and its place.

The key is content (what the call is given); the slot is place (where in the
taxonomy the call sits, whatever its content). The store keeps both, so the
planner can say why a node in a known place runs again.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

from ..keys import digest, normalise_name
from ..specs.models import ModelInfo
from ..specs.types import Discipline, Subject


@dataclass(frozen=True)
class Node:
    """One model call: a stage's program applied to resolved inputs."""

    stage: str
    key: str
    inputs: dict[str, Any] = field(hash=False, compare=False)
    sample: int
    model: ModelInfo
    decoding: dict[str, Any] = field(hash=False, compare=False)
    discipline: Discipline = field(hash=False, compare=False)
    context: dict[str, Any] = field(hash=False, compare=False, default_factory=dict)
    slot: str = field(compare=False, default="")
    program_id: str = field(compare=False, default="")
    model_id: str = field(compare=False, default="")
    decoding_id: str = field(compare=False, default="")
    rollout: int = field(compare=False, default=0)
    inputs_json: str = field(compare=False, default="", repr=False)  # canonical, as hashed

    @property
    def seed(self) -> int:
        """The sampling seed of this node's first attempt: fixed by its key, and
        moved on by each forced or failed rerun (its rollout)."""
        if self.rollout == 0:
            return int(self.key[:8], 16)
        return int(digest([self.key, self.rollout])[:8], 16)

    @property
    def subject(self) -> Subject | None:
        return self.context.get("subject")

    @property
    def path(self) -> tuple[str, ...]:
        """Where the node sits in the taxonomy: its discipline, then its subject."""
        subject = self.subject
        return self.discipline.path + ((subject.name,) if subject else ())


def slot_of(
    taxonomy: str, stage: str, discipline: str, subject: str | None, index: int | str
) -> str:
    """Where a node sits, independent of its content: what ``plan`` compares a
    changed node with. Names count as the same under ``normalise_name``."""
    parts = [taxonomy, stage, normalise_name(discipline), "" if subject is None else "s"]
    if subject is not None:
        parts.append(normalise_name(subject))
    parts.append(str(index))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]
