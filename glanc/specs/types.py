"""The data types of a resolved spec, in one place.

Everything downstream (graph, planner, executor, dataset writer) reads these
frozen values and never the raw YAML, so inheritance and defaults are decided
exactly once, in ``resolve``.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import shards


@dataclass(frozen=True)
class ModelRef:
    """A model as a spec names it: ``id`` plus options (latency, api_base, ...)."""

    id: str
    options: tuple[tuple[str, Any], ...] = ()

    def option(self, name: str, default: Any = None) -> Any:
        return dict(self.options).get(name, default)


@dataclass(frozen=True)
class Settings:
    """Values a taxonomy node sets for its subtree, after inheritance.

    Defaults suit a quick build on the embedded model; ``taxonomies/glan.yaml``
    sets the paper's values explicitly.
    """

    models: tuple[tuple[str, ModelRef], ...] = ()
    decoding: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = ()
    subject_samples: int = 1
    subjects_per_sample: int = 5
    max_subjects: int | None = None
    sessions: int = 6
    key_concepts: int = 4
    questions_per_subject: int = 4
    challenging_ratio: float = 0.5
    language: str = "English"
    levels: tuple[str, ...] = ("introductory", "intermediate", "advanced")

    def model(self, role: str) -> ModelRef | None:
        return dict(self.models).get(role)

    def model_for_stage(self, stage: str, role: str) -> ModelRef | None:
        """A model set for the stage itself wins over the one set for its role."""
        return self.model(stage) or self.model(role)

    def decoding_for(self, stage: str) -> dict[str, Any]:
        return dict(dict(self.decoding).get(stage, ()))


@dataclass(frozen=True)
class Subject:
    """A subject of a discipline, pinned in the spec or produced by the model."""

    name: str
    level: str = ""
    subtopics: tuple[str, ...] = ()

    def as_json(self) -> dict[str, Any]:
        return {"name": self.name, "level": self.level, "subtopics": list(self.subtopics)}


@dataclass(frozen=True)
class Discipline:
    """A leaf of the taxonomy: the unit GLAN expands into subjects."""

    path: tuple[str, ...]
    settings: Settings
    pinned_subjects: tuple[Subject, ...] | None = None
    line: int = 0

    @property
    def name(self) -> str:
        return self.path[-1]

    @property
    def path_str(self) -> str:
        return "/".join(self.path)

    @functools.cached_property
    def shard(self) -> str:
        """Where its files sit in a build: ``data/<shard>.jsonl`` and the like."""
        return shards.shard(self.path)


@dataclass(frozen=True)
class FieldSpec:
    """One typed input or output field of a stage; ``schema`` is JSON Schema."""

    name: str
    schema: dict[str, Any] = field(hash=False)


@dataclass(frozen=True)
class StageTemplate:
    """One stage's prompt: what the model is told, given and must return."""

    stage: str
    role: str
    instructions: str
    inputs: tuple[FieldSpec, ...]
    outputs: tuple[FieldSpec, ...]
    decoding: tuple[tuple[str, Any], ...] = ()
    format: str = "json"  # json | text | list | outline (see template.schema.json)
    prompt: str = ""  # the user message of a text, list or outline stage
    example: tuple[tuple[tuple[str, Any], ...], str] | None = None  # (inputs, reply)

    @property
    def structured(self) -> bool:
        """The reply is JSON constrained by the output schema (DSPy's JSONAdapter)."""
        return self.format == "json"


@dataclass(frozen=True)
class Template:
    name: str
    path: Path
    stages: tuple[tuple[str, StageTemplate], ...]

    def stage(self, name: str) -> StageTemplate:
        return dict(self.stages)[name]

    def has(self, name: str) -> bool:
        return name in dict(self.stages)


CHECKS = (
    "length",
    "echo",
    "refusal",
    "truncation",
    "question_form",
    "repetition",
    "off_topic",
    "language",
    "framing",
    "restatement",
)  # the row checks, in the order a row meets them
# the stage checks: on a discipline's subjects and a subject's syllabus (``recipe.vet``)
STAGE_CHECKS = ("subject_name", "subject_duplicate", "syllabus_sessions")
CONTAMINATION = "contamination"  # after the row checks: a question found in a benchmark


@dataclass(frozen=True)
class Benchmark:
    """A benchmark file to decontaminate against: ``field`` None reads the first
    of the usual fields (question, prompt, input, problem, text)."""

    path: Path
    field: str | None = None
    ngram: int = 13


@dataclass(frozen=True)
class QualitySpec:
    """The spec's ``quality:`` section, with every default filled in."""

    enabled: bool = True
    redraws: int = 3
    checks: tuple[tuple[str, tuple[tuple[str, Any], ...]], ...] = tuple(
        (c, ()) for c in (*CHECKS, *STAGE_CHECKS)
    )
    dedup: float | None = 0.8  # Jaccard threshold; None: off
    benchmarks: tuple[Benchmark, ...] = ()
    judge: int | None = None  # the judge's lowest score a row may have; None: no judge
    coverage: tuple[tuple[str, float], ...] = ()  # floors on coverage figures (quality.coverage)

    def params(self, check: str) -> dict[str, Any] | None:
        """A row or stage check's parameters, or None when it is off."""
        found = dict(self.checks).get(check)
        return None if found is None else dict(found)


@dataclass(frozen=True)
class ExecutionSpec:
    """The spec's ``execution:`` section: where this build's calls run unless the
    command line says otherwise. It never changes what is built, so it is not part
    of the spec's digest: the same spec on threads or on Ray gives the same bytes."""

    backend: str | None = None  # None: threads, and batch where a model says batch:
    ray_address: str | None = None  # None: RAY_ADDRESS, else a local Ray


@dataclass(frozen=True)
class Reviewed:
    """A taxonomy node under review (``review: pending`` or ``drop``) that a build
    leaves out with its subtree: where it is, and how many disciplines it holds."""

    path: tuple[str, ...]
    state: str
    line: int
    disciplines: int
    nested: bool = False  # under another node under review (its disciplines counted there)


@dataclass(frozen=True)
class Taxonomy:
    """A validated, resolved taxonomy spec: the input of the build graph."""

    name: str
    path: Path
    seed: int
    template: Template
    disciplines: tuple[Discipline, ...]
    digest: str
    description: str = ""
    license: str | None = None
    quality: QualitySpec = QualitySpec()
    reviewed: tuple[Reviewed, ...] = ()  # nodes left out, pending or dropped
    execution: ExecutionSpec = ExecutionSpec()

    @property
    def pending(self) -> tuple[Reviewed, ...]:
        """The top-most nodes pending review: each counts the disciplines under it."""
        return tuple(r for r in self.reviewed if r.state == "pending" and not r.nested)

    @property
    def pending_all(self) -> tuple[Reviewed, ...]:
        """Every node pending review, those under another one included: a reviewer
        sees them all at once, not one level per round."""
        return tuple(r for r in self.reviewed if r.state == "pending")
