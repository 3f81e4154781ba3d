"""The build graph: which model calls a taxonomy needs, and their keys.

GLAN's graph is dynamic -- a discipline's syllabi are unknown until its
subjects exist -- so this module is a set of pure functions from finished
outputs to the next nodes; the executor drives them. Everything here is
deterministic: the same spec and the same upstream outputs give the same nodes
with the same keys.
"""

from __future__ import annotations

import hashlib
import random
from dataclasses import dataclass, field
from typing import Any

from . import models, programs
from .errors import GlancError
from .fingerprint import canonical_json, digest, node_key_from_json
from .resolve import normalise_name
from .spec import STAGES, Discipline, ModelRef, Subject, Taxonomy

MAX_CONCEPTS = 5  # GLAN: 1-5 key concepts per question


@dataclass(frozen=True)
class Node:
    """One model call: a stage's program applied to resolved inputs."""

    stage: str
    key: str
    inputs: dict[str, Any] = field(hash=False, compare=False)
    sample: int
    model: models.ModelInfo
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


@dataclass(frozen=True)
class QuestionSample:
    """What one homework question is about: GLAN's per-question draw."""

    index: int
    difficulty: str
    sessions: tuple[str, ...]
    key_concepts: tuple[str, ...]


class Graph:
    """Node factory for one taxonomy; resolves models and programs once."""

    def __init__(self, taxonomy: Taxonomy, model_override: str | None = None):
        self.taxonomy = taxonomy
        self.override = ModelRef(model_override) if model_override else None
        self._models: dict[ModelRef, tuple[models.ModelInfo, dict[str, Any]]] = {}
        self._model_ids: dict[ModelRef, str] = {}
        self._programs = {
            stage: programs.fingerprint(taxonomy.template.stage(stage)) for stage in STAGES
        }
        self._program_json = {s: canonical_json(p) for s, p in self._programs.items()}
        self._program_ids = {stage: digest(p) for stage, p in self._programs.items()}
        self._decoding_ids: dict[tuple, tuple[str, str]] = {}  # -> (digest, canonical JSON)
        self._model_json: dict[ModelRef, str] = {}

    def model(self, discipline: Discipline, stage: str) -> tuple[models.ModelInfo, dict]:
        role = self.taxonomy.template.stage(stage).role
        ref = self.override or discipline.settings.model_for_stage(stage, role)
        assert ref is not None, "validation guarantees every role has a model"
        if ref not in self._models:
            try:
                info = models.describe(ref, self.taxonomy.path.parent)
            except models.ModelSpecError as exc:
                raise GlancError(f"--model: {exc}" if self.override else str(exc)) from None
            self._models[ref] = (info, models.identity(info))
            self._model_ids[ref] = digest(self._models[ref][1])
            self._model_json[ref] = canonical_json(self._models[ref][1])
        return self._models[ref]

    def models_used(self) -> list[models.ModelInfo]:
        return [info for info, _ in self._models.values()]

    def node(
        self,
        stage: str,
        d: Discipline,
        provided: dict[str, Any],
        sample: int,
        context: dict,
        place: tuple[str | None, int],
    ) -> Node:
        """``place`` (subject name or None, index) says where in the discipline
        the node sits; with the stage it makes the node's slot."""
        template = self.taxonomy.template.stage(stage)
        inputs = {f.name: provided[f.name] for f in template.inputs}
        decoding = {**dict(template.decoding), **d.settings.decoding_for(stage)}
        info, _ = self.model(d, stage)
        ref = self.override or d.settings.model_for_stage(stage, template.role)
        dkey = tuple(sorted(decoding.items()))
        if dkey not in self._decoding_ids:
            self._decoding_ids[dkey] = (digest(decoding), canonical_json(decoding))
        decoding_id, decoding_json = self._decoding_ids[dkey]
        inputs_json = canonical_json(inputs)
        key = node_key_from_json(
            stage=stage,
            program=self._program_json[stage],
            model=self._model_json[ref],
            decoding=decoding_json,
            inputs=inputs_json,
            sample=sample,
        )
        subject, index = place
        slot = slot_of(self.taxonomy.name, stage, d.name, subject, index)
        return Node(
            stage, key, inputs, sample, info, decoding, d, context,
            slot=slot,
            program_id=self._program_ids[stage],
            model_id=self._model_ids[ref],
            decoding_id=decoding_id,
            inputs_json=inputs_json,
        )  # fmt: skip

    # -- subjects -------------------------------------------------------------
    def subjects_nodes(self, d: Discipline) -> list[Node]:
        if d.pinned_subjects is not None:
            return []
        s = d.settings
        provided = {
            "discipline": d.name,
            "taxonomy_path": " / ".join(d.path),
            "language": s.language,
            "levels": list(s.levels),
            "num_subjects": s.subjects_per_sample,
        }
        return [
            self.node("subjects", d, provided, k, {}, (None, k)) for k in range(s.subject_samples)
        ]

    def merge_subjects(self, d: Discipline, outputs: list[dict[str, Any]]) -> list[Subject]:
        """Subjects of all samples, in sample order, de-duplicated by normalised name."""
        if d.pinned_subjects is not None:
            merged = list(d.pinned_subjects)
        else:
            merged, seen = [], set()
            for out in outputs:
                for item in out.get("subjects") or []:
                    name = " ".join(str(item.get("name", "")).split())
                    norm = normalise_name(name)
                    if not norm or norm in seen:
                        continue
                    seen.add(norm)
                    subtopics = tuple(str(t) for t in item.get("subtopics") or [])
                    merged.append(Subject(name, str(item.get("level", "")), subtopics))
        if d.settings.max_subjects is not None:
            merged = merged[: d.settings.max_subjects]
        return merged

    # -- syllabus -------------------------------------------------------------
    def syllabus_node(self, d: Discipline, subject: Subject) -> Node:
        s = d.settings
        provided = {
            "discipline": d.name,
            "subject": subject.name,
            "level": subject.level,
            "subtopics": list(subject.subtopics),
            "language": s.language,
            "num_sessions": s.sessions,
            "num_key_concepts": s.key_concepts,
        }
        return self.node("syllabus", d, provided, 0, {"subject": subject}, (subject.name, 0))

    # -- questions ------------------------------------------------------------
    def question_nodes(self, syllabus: Node, output: dict[str, Any]) -> list[Node]:
        d: Discipline = syllabus.discipline
        subject: Subject = syllabus.context["subject"]
        sessions = clean_sessions(output)
        text = render_syllabus(sessions)
        nodes = []
        for sample in sample_questions(self.taxonomy.seed, d, sessions):
            provided = {
                "discipline": d.name,
                "subject": subject.name,
                "level": subject.level,
                "syllabus": text,
                "sessions": list(sample.sessions),
                "key_concepts": list(sample.key_concepts),
                "difficulty": sample.difficulty,
                "language": d.settings.language,
            }
            context = {"subject": subject, "sample": sample, "syllabus_key": syllabus.key}
            place = (subject.name, sample.index)
            nodes.append(self.node("question", d, provided, sample.index, context, place))
        return nodes

    # -- answers --------------------------------------------------------------
    def answer_node(self, question: Node, output: dict[str, Any]) -> Node:
        d = question.discipline
        subject: Subject = question.context["subject"]
        provided = {
            "question": str(output.get("question", "")).strip(),
            "discipline": d.name,
            "subject": subject.name,
            "level": subject.level,
            "language": d.settings.language,
        }
        context = {**question.context, "question_key": question.key}
        place = (subject.name, question.context["sample"].index)
        return self.node("answer", d, provided, 0, context, place)


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
    n_challenging = round(n * d.settings.challenging_ratio) if len(usable) >= 2 else 0
    syllabus_digest = digest(usable)
    out = []
    for i in range(n):
        rng = random.Random(f"{seed}:{syllabus_digest}:{i}")
        if i < n - n_challenging:
            s = rng.choice(usable)
            k = rng.randint(1, min(MAX_CONCEPTS, len(s["key_concepts"])))
            concepts = rng.sample(s["key_concepts"], k)
            out.append(QuestionSample(i, "basic", (s["name"],), tuple(concepts)))
        else:
            a, b = sorted(rng.sample(range(len(usable)), 2))
            first, second = usable[a], usable[b]
            picked = [rng.choice(first["key_concepts"]), rng.choice(second["key_concepts"])]
            rest = [c for c in first["key_concepts"] + second["key_concepts"] if c not in picked]
            total = len(set(picked)) + len(rest)
            k = rng.randint(2, max(2, min(MAX_CONCEPTS, total)))
            concepts = list(dict.fromkeys(picked))
            concepts += rng.sample(rest, min(len(rest), max(0, k - len(concepts))))
            out.append(
                QuestionSample(i, "challenging", (first["name"], second["name"]), tuple(concepts))
            )
    return out


def slot_of(taxonomy: str, stage: str, discipline: str, subject: str | None, index: int) -> str:
    """Where a node sits, independent of its content: what ``plan`` compares a
    changed node with. Names count as the same under ``normalise_name``."""
    parts = [taxonomy, stage, normalise_name(discipline), "" if subject is None else "s"]
    if subject is not None:
        parts.append(normalise_name(subject))
    parts.append(str(index))
    return hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()[:32]


def row_id(d: Discipline, subject: Subject, index: int) -> str:
    """A dataset row's stable id: survives template and model changes, so diffs
    show a changed row rather than a removed and an added one."""
    return digest(["row", normalise_name(d.name), normalise_name(subject.name), index])[:16]
