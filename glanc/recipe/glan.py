"""GLAN's recipe as data: for each stage, where its calls sit in the taxonomy and
how many calls a finished node fans out into.

The scheduler, the planner, the selector and the expander read this table
rather than comparing stage names of their own, so a new stage (a judge, say)
is a row here plus its handler in ``expand``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from ..specs.contract import STAGES
from ..specs.types import Settings


@dataclass(frozen=True)
class Stage:
    """One stage of the recipe.

    ``scope``: the taxonomy node whose own calls these are (``discipline`` or
    ``subject``); a selector naming that node selects them. ``fanout``: how many
    nodes of this stage the spec asks for per node of the stage above (for the
    first stage below ``subjects``: per discipline), which the planner uses to
    estimate what it cannot know yet."""

    name: str
    depth: int
    scope: str
    fanout: Callable[[Settings], int]


def _subjects_per_discipline(s: Settings) -> int:
    n = s.subject_samples * s.subjects_per_sample
    return min(n, s.max_subjects) if s.max_subjects is not None else n


RECIPE: tuple[Stage, ...] = (
    Stage("subjects", 0, "discipline", lambda s: s.subject_samples),
    Stage("syllabus", 1, "subject", _subjects_per_discipline),
    Stage("question", 2, "subject", lambda s: s.questions_per_subject),
    Stage("answer", 3, "subject", lambda s: 1),
)
# the quality layer's judge: one call per finished pair, asked by the quality gate
JUDGE = Stage("judge", 4, "subject", lambda s: 1)
STAGE: dict[str, Stage] = {stage.name: stage for stage in (*RECIPE, JUDGE)}
assert tuple(s.name for s in RECIPE) == STAGES, "the recipe covers the contract's stages, in order"

FIRST = RECIPE[0].name  # the discipline's own calls: no input but the spec
ROW_STAGE = RECIPE[-1].name  # a finished node of this stage is a dataset row


_OWN: dict[str, str] = {}
for _stage in RECIPE:
    _OWN.setdefault(_stage.scope, _stage.name)


def own_stage(scope: str) -> str:
    """The stage whose calls belong to a taxonomy node of ``scope`` itself."""
    return _OWN[scope]


def below(stage: str) -> tuple[Stage, ...]:
    """The stages after ``stage``, in order."""
    return RECIPE[STAGE[stage].depth + 1 :]
