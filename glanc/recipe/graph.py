"""The build graph: which model calls a taxonomy needs, and their keys.

GLAN's graph is dynamic -- a discipline's syllabi are unknown until its
subjects exist -- so a ``Graph`` is a node factory: from finished outputs to
the next nodes (``glanc.recipe.expand`` decides when to ask it). Everything
here is deterministic: the same spec and the same upstream outputs give the
same nodes with the same keys.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from ..errors import GlancError
from ..keys import canonical_json, digest, node_key_from_json, normalise_name
from ..lm import programs
from ..specs import models
from ..specs.types import Discipline, ModelRef, StageTemplate, Subject, Taxonomy
from .node import Node, slot_of
from .sampling import (
    QuestionSample,
    clean_sessions,
    draw_question,
    render_syllabus,
    sample_questions,
)
from .vet import (
    DUPLICATE,
    NAME,
    SESSIONS,
    Vetoed,
    duplicate_of,
    enabled,
    name_words,
    names_several,
    only_words_of,
    vet_sessions,
)


@dataclass(frozen=True, slots=True)
class _Parts:
    """A stage's template, model, decoding and their canonical JSON, for one settings."""

    template: StageTemplate
    ref: ModelRef
    decoding: dict[str, Any]
    decoding_id: str
    decoding_json: str
    stage_json: str


class Graph:
    """Node factory for one taxonomy; resolves models and programs once."""

    def __init__(
        self, taxonomy: Taxonomy, model_override: str | None = None, backend: str | None = None
    ):
        self.taxonomy = taxonomy
        self.override = ModelRef(model_override) if model_override else None
        self.backend = backend  # threads | batch | ray | None (each model as the spec says)
        self._models: dict[ModelRef, tuple[models.ModelInfo, dict[str, Any]]] = {}
        self._model_ids: dict[ModelRef, str] = {}
        self._programs = {
            stage: programs.fingerprint(template) for stage, template in taxonomy.template.stages
        }
        self._program_json = {s: canonical_json(p) for s, p in self._programs.items()}
        self._program_ids = {stage: digest(p) for stage, p in self._programs.items()}
        self._decoding_ids: dict[tuple, tuple[str, str]] = {}  # -> (digest, canonical JSON)
        self._model_json: dict[ModelRef, str] = {}
        self._shared: dict[tuple[int, str], _Parts] = {}
        self._shared_by_value: dict[tuple[Any, str], _Parts] = {}
        # discipline path -> the normalised subject names its replies proposed: what
        # of the taxonomy's other node names its subjects depend on (``merge_subjects``)
        self.proposed: dict[tuple[str, ...], frozenset[str]] = {}
        # what the stage checks left out (``recipe.vet``): a discipline's subjects
        # (its last merge's), and its syllabi by (subject, draw)
        self._subjects_vetoed: dict[tuple[str, ...], list[Vetoed]] = {}
        self._syllabi_vetoed: dict[tuple[str, ...], dict[tuple[str, int], Vetoed]] = {}
        # rows a discipline lacks because the stage checks left it without a subject
        # or a syllabus: path -> {(subject or None, index): (check, why, rows)}
        self._gave_up: dict[tuple[str, ...], dict[tuple[str, int], tuple[str, str, int]]] = {}
        # discipline path -> subject -> the key concepts its syllabus teaches (coverage)
        self.taught: dict[tuple[str, ...], dict[str, int]] = {}

    def model(self, discipline: Discipline, stage: str) -> tuple[models.ModelInfo, dict]:
        return self._models[self._parts(discipline, stage).ref]

    def _parts(self, d: Discipline, stage: str) -> _Parts:
        """What every node of a stage shares within a discipline's settings: resolved
        once per settings object (a plan of 10,000 disciplines made 70,000 subjects
        nodes, each resolving these again)."""
        parts = self._shared.get((id(d.settings), stage))
        if parts is None:
            parts = self._shared_by_value.get((d.settings, stage))  # equal settings share
        if parts is None:
            template = self.taxonomy.template.stage(stage)
            ref = self.override or d.settings.model_for_stage(stage, template.role)
            assert ref is not None, "validation guarantees every role has a model"
            self._resolve(ref)
            decoding = {**dict(template.decoding), **d.settings.decoding_for(stage)}
            dkey = tuple(sorted(decoding.items()))
            if dkey not in self._decoding_ids:
                self._decoding_ids[dkey] = (digest(decoding), canonical_json(decoding))
            decoding_id, decoding_json = self._decoding_ids[dkey]
            parts = _Parts(template, ref, decoding, decoding_id, decoding_json,
                           canonical_json(stage))  # fmt: skip
            self._shared_by_value[(d.settings, stage)] = parts
        # keyed by id too (hashing settings by value costs more than the lookup):
        # the taxonomy, which the graph holds, keeps each settings object alive
        self._shared[(id(d.settings), stage)] = parts
        return parts

    def _resolve(self, ref: ModelRef) -> None:
        if ref not in self._models:
            try:
                info = models.routed(models.describe(ref, self.taxonomy.path.parent), self.backend)
            except models.ModelSpecError as exc:
                raise GlancError(f"--model: {exc}" if self.override else str(exc)) from None
            self._models[ref] = (info, models.identity(info))
            self._model_ids[ref] = digest(self._models[ref][1])
            self._model_json[ref] = canonical_json(self._models[ref][1])

    @property
    def program_ids(self) -> dict[str, str]:
        """Each stage's program digest (its template's prompt, fields and format)."""
        return dict(self._program_ids)

    def models_used(self) -> list[models.ModelInfo]:
        return [info for info, _ in self._models.values()]

    def node(
        self,
        stage: str,
        d: Discipline,
        provided: dict[str, Any],
        sample: int,
        context: dict,
        place: tuple[str | None, int | str],
    ) -> Node:
        """``place`` (subject name or None, index) says where in the discipline
        the node sits; with the stage it makes the node's slot."""
        parts = self._parts(d, stage)
        inputs = {f.name: provided[f.name] for f in parts.template.inputs}
        return self._node(stage, d, parts, (inputs, canonical_json(inputs)), sample, context, place)

    def _node(
        self,
        stage: str,
        d: Discipline,
        parts: _Parts,
        given: tuple[dict[str, Any], str],
        sample: int,
        context: dict,
        place: tuple[str | None, int | str],
    ) -> Node:
        """``node`` with its inputs and their canonical JSON given: nodes that differ
        only in their sample share both (nodes only read their inputs)."""
        inputs, inputs_json = given
        key = node_key_from_json(
            stage=stage,
            program=self._program_json[stage],
            model=self._model_json[parts.ref],
            decoding=parts.decoding_json,
            inputs=inputs_json,
            sample=sample,
            stage_json=parts.stage_json,
        )
        subject, index = place
        slot = slot_of(self.taxonomy.name, stage, d.name, subject, index)
        return Node(
            stage, key, inputs, sample, self._models[parts.ref][0], parts.decoding, d, context,
            slot=slot,
            program_id=self._program_ids[stage],
            model_id=self._model_ids[parts.ref],
            decoding_id=parts.decoding_id,
            inputs_json=inputs_json,
        )  # fmt: skip

    # -- subjects -------------------------------------------------------------
    def subjects_nodes(self, d: Discipline) -> list[Node]:
        """One call per subjects sample; sample k asks for subjects of the spec's
        level ``levels[k % len(levels)]``, so levels come from the spec, never
        from the model."""
        if d.pinned_subjects is not None:
            return []
        # samples differ only in their level, and the spec's levels repeat: one
        # inputs dict and one encoding per level (encoding each sample's inputs was
        # a sixth of a 10,000-discipline plan)
        by_level: dict[str, tuple[dict[str, Any], str]] = {}
        return [self.subjects_node(d, k, by_level) for k in range(d.settings.subject_samples)]

    def subjects_node(
        self, d: Discipline, k: int, by_level: dict[str, tuple[dict[str, Any], str]] | None = None
    ) -> Node:
        """Subjects sample ``k``: one of the spec's ``subject_samples``, or past them,
        a redraw the stage checks asked for (``subjects_redraw``)."""
        s = d.settings
        parts = self._parts(d, "subjects")
        level = sample_level(s.levels, k)
        given = None if by_level is None else by_level.get(level)
        if given is None:
            provided = {
                "discipline": d.name,
                "taxonomy_path": " / ".join(d.path),
                "language": s.language,
                "levels": list(s.levels),
                "num_subjects": s.subjects_per_sample,
                "level": level,
            }
            inputs = {f.name: provided[f.name] for f in parts.template.inputs}
            given = (inputs, canonical_json(inputs))
            if by_level is not None:
                by_level[level] = given
        return self._node("subjects", d, parts, given, k, {}, (None, k))

    def subjects_redraw(self, d: Discipline, merged: list[Subject], samples: int) -> Node | None:
        """One more subjects sample when the stage checks left a discipline fewer
        subjects than its ``max_subjects``, while the quality layer's redraws last."""
        s, quality = d.settings, self.taxonomy.quality
        if s.max_subjects is None or len(merged) >= s.max_subjects or not quality.enabled:
            return None
        if d.pinned_subjects is not None or samples >= s.subject_samples + quality.redraws:
            return None
        if not (enabled(quality, NAME) or enabled(quality, DUPLICATE)):
            return None
        return self.subjects_node(d, samples)

    def subjects_short(self, d: Discipline, merged: list[Subject], samples: int) -> None:
        """Note a discipline the stage checks left with fewer than ``max_subjects``
        subjects after its last sample: the rows of each subject missing are short."""
        most = d.settings.max_subjects
        vetoed = self._subjects_vetoed.get(d.path)
        if most is None or len(merged) >= most or not vetoed:
            return
        why = (f"{len(merged)} of {most} subjects after {samples} subjects sample(s): the "
               "others were left out by the stage checks")  # fmt: skip
        check = vetoed[-1].check
        for i in range(len(merged), most):
            self._gave_up.setdefault(d.path, {})[("", i)] = (
                check, why, d.settings.questions_per_subject)

    def gave_up(self, d: Discipline) -> list[tuple[str, int, str, str, int]]:
        """(subject, index, check, why, rows) for each subject the stage checks left
        ``d`` without (subject ""), or whose syllabus they dropped at every draw."""
        given = self._gave_up.get(d.path, {})
        return [(subject, i, *given[(subject, i)]) for subject, i in sorted(given)]

    def vetoed(self, d: Discipline) -> list[Vetoed]:
        """The subjects and syllabi of ``d`` the stage checks left out, in a fixed
        order (syllabi finish in any order)."""
        syllabi = self._syllabi_vetoed.get(d.path, {})
        return [*self._subjects_vetoed.get(d.path, ()), *(syllabi[k] for k in sorted(syllabi))]

    @functools.cached_property
    def _node_names(self) -> frozenset[str]:
        return frozenset(normalise_name(n) for d in self.taxonomy.disciplines for n in d.path)

    @functools.cached_property
    def _example_subjects(self) -> frozenset[str]:
        """The subject names the subjects stage's example reply lists (normalised):
        a reply that copies one under an unrelated discipline copied the prompt."""
        template = self.taxonomy.template
        if not template.has("subjects") or template.stage("subjects").example is None:
            return frozenset()
        reply = template.stage("subjects").example[1]
        names = (re.sub(r"^\s*(?:\d+[.)]|[-*])\s*", "", line) for line in reply.splitlines())
        return frozenset(normalise_name(n) for n in names if n.strip())

    def named_after_others(self, d: Discipline, proposed: frozenset[str]) -> list[str]:
        """Of the subject names ``proposed`` for ``d``, those another node of the
        taxonomy is named: the only part of the rest of the taxonomy its rows
        depend on (``merge_subjects`` leaves them out)."""
        return sorted(proposed & (self._node_names - {normalise_name(n) for n in d.path}))

    def merge_subjects(self, d: Discipline, outputs: list[dict[str, Any]]) -> list[Subject]:
        """Subjects of all samples, taken in turn (each sample's first, then each
        one's second, ...) so that ``max_subjects`` keeps every level, de-duplicated
        by normalised name. A subject's level is the one its reply gave when that is
        one of the spec's levels, else its sample's. A subject named after another
        node of the taxonomy ("Physics" under Chemistry) is left out: its syllabus
        would be that node's, and its rows filed under the wrong discipline.

        With the stage checks on (``recipe.vet``), a subject named as the discipline
        itself ("Economics" under Economics) is left out too, and so is one that
        repeats an earlier subject in other words ("Music History" after "History
        of Western Music"); each is recorded."""
        vetoed: list[tuple[int, Vetoed]] = []  # (subjects kept before it, what was left out)
        if d.pinned_subjects is not None:
            merged = list(d.pinned_subjects)
            self.proposed[d.path] = frozenset()
        else:
            quality = self.taxonomy.quality
            own = {normalise_name(n) for n in d.path}
            others = self._node_names - own
            names, duplicates = enabled(quality, NAME), enabled(quality, DUPLICATE)
            own_stems = frozenset().union(*(name_words(n) for n in d.path))
            merged, seen = [], set(others)
            levels = d.settings.levels
            proposed = set()
            for k, item in interleaved([out.get("subjects") or [] for out in outputs]):
                name = " ".join(str(item.get("name", "")).split())
                norm = normalise_name(name)
                proposed.add(norm)
                if not norm or norm in seen:
                    if norm in others and names:
                        why = "named after another node of the taxonomy"
                        vetoed.append((len(merged), Vetoed("subjects", name, NAME, why, k)))
                    continue
                seen.add(norm)
                left_out = self._left_out(d, name, own_stems, merged, duplicates=duplicates,
                                          names=names)  # fmt: skip
                if left_out is not None:
                    vetoed.append((len(merged), Vetoed("subjects", name, *left_out, k)))
                    continue
                subtopics = tuple(str(topic) for topic in item.get("subtopics") or [])
                level = str(item.get("level", ""))
                if level not in levels:
                    level = sample_level(levels, k)
                merged.append(Subject(name, level, subtopics))
            self.proposed[d.path] = frozenset(proposed)
        most = d.settings.max_subjects
        if most is not None:
            merged = merged[:most]
            # what was left out before the list was full: past it nothing was needed
            vetoed = [(n, v) for n, v in vetoed if n < most]
        self._subjects_vetoed[d.path] = [v for _, v in vetoed]
        return merged

    def _left_out(
        self,
        d: Discipline,
        name: str,
        own_stems: frozenset[str],
        merged: list[Subject],
        *,
        names: bool,
        duplicates: bool,
    ) -> tuple[str, str] | None:
        """(check, reason) when the stage checks leave a new subject name of ``d``
        out: named as its discipline, copied from the template's example, a list
        of several, or the same subject as one already ``merged``."""
        norm = normalise_name(name)
        if names and (norm == normalise_name(d.name) or only_words_of(name, own_stems)):
            return NAME, "named as its discipline"
        if names and norm in self._example_subjects and not own_stems & name_words(name):
            return NAME, "copies the template's example"
        if names and names_several(name):
            return NAME, "names several subjects"
        if duplicates and (earlier := duplicate_of(name, (m.name for m in merged))):
            return DUPLICATE, f"the same subject as {earlier!r}"
        return None

    # -- syllabus -------------------------------------------------------------
    def syllabus_node(self, d: Discipline, subject: Subject, draw: int = 0) -> Node:
        """A subject's syllabus call; ``draw`` > 0 draws one the stage checks dropped
        again (its sample, so a new key and seed)."""
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
        place = (subject.name, f"0~{draw}" if draw else 0)
        return self.node("syllabus", d, provided, draw, {"subject": subject}, place)

    # -- questions ------------------------------------------------------------
    def syllabus_done(self, syllabus: Node, output: dict[str, Any]) -> list[Node]:
        """A finished syllabus: its questions, or with the stage checks on and too
        few distinct sessions left, the syllabus drawn again (while the quality
        layer's redraws last; after them the subject has no rows, and the report
        says why)."""
        d: Discipline = syllabus.discipline
        sessions = clean_sessions(output)
        quality = self.taxonomy.quality
        subject: Subject = syllabus.context["subject"]
        if enabled(quality, SESSIONS):
            sessions, why = vet_sessions(sessions, d.settings.sessions)
            if why is not None:
                draw = syllabus.sample
                veto = Vetoed("syllabus", subject.name, SESSIONS, why, draw)
                self._syllabi_vetoed.setdefault(d.path, {})[(subject.name, draw)] = veto
                if draw < quality.redraws:
                    return [self.syllabus_node(d, subject, draw + 1)]
                self._gave_up.setdefault(d.path, {})[(subject.name, 0)] = (
                    SESSIONS, f"syllabus dropped at all {draw + 1} draws: {why}",
                    d.settings.questions_per_subject)
                return []
        taught = sum(len(s["key_concepts"]) for s in sessions)
        self.taught.setdefault(d.path, {})[subject.name] = taught
        return self.question_nodes(syllabus, sessions)

    def question_nodes(self, syllabus: Node, sessions: list[dict[str, Any]]) -> list[Node]:
        d: Discipline = syllabus.discipline
        text = render_syllabus(sessions)  # once per syllabus, not once per question
        return [
            self._question(syllabus.context["subject"], d, sessions, text, sample, syllabus.key)
            for sample in sample_questions(self.taxonomy.seed, d, sessions)
        ]

    def redraw_question(self, question: Node) -> Node:
        """The next draw of a question whose row the quality layer dropped: a new
        sample of sessions and key concepts, a new key, a new seed."""
        sample: QuestionSample = question.context["sample"]
        sessions = question.context["syllabus_sessions"]
        usable = [s for s in sessions if s["key_concepts"]]
        d = question.discipline
        again = draw_question(
            self.taxonomy.seed, d, usable, digest(usable), sample.index, sample.draw + 1
        )
        text = render_syllabus(sessions)
        syllabus_key = question.context["syllabus_key"]
        return self._question(question.context["subject"], d, sessions, text, again, syllabus_key)

    def _question(
        self,
        subject: Subject,
        d: Discipline,
        sessions: list[dict[str, Any]],
        syllabus_text: str,
        sample: QuestionSample,
        syllabus_key: str,
    ) -> Node:
        provided = {
            "discipline": d.name,
            "subject": subject.name,
            "level": subject.level,
            "syllabus": syllabus_text,
            "sessions": list(sample.sessions),
            "key_concepts": list(sample.key_concepts),
            "difficulty": sample.difficulty,
            "language": d.settings.language,
        }
        context = {
            "subject": subject,
            "sample": sample,
            "syllabus_key": syllabus_key,
            "syllabus_sessions": sessions,
        }
        place = (subject.name, sample.place)
        return self.node("question", d, provided, sample.key_sample, context, place)

    # -- judge (the quality gate asks) ------------------------------------------
    def judge_node(self, answer: Node, row: dict[str, Any]) -> Node:
        """The judge's call on a finished pair: its question, answer and topic."""
        d = answer.discipline
        subject: Subject = answer.context["subject"]
        sample: QuestionSample = answer.context["sample"]
        provided = {
            "question": row["messages"][0]["content"],
            "answer": row["messages"][-1]["content"],
            "discipline": d.name,
            "subject": subject.name,
            "level": subject.level,
            "key_concepts": list(sample.key_concepts),
            "language": d.settings.language,
        }
        context = {**answer.context, "row_id": row["id"], "answer_key": answer.key}
        return self.node("judge", d, provided, 0, context, (subject.name, sample.place))

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
        place = (subject.name, question.context["sample"].place)
        return self.node("answer", d, provided, 0, context, place)


def sample_level(levels: tuple[str, ...], sample: int) -> str:
    """The level subjects sample ``sample`` asks for: the spec's levels in turn."""
    return levels[sample % len(levels)] if levels else ""


def interleaved(lists: list[list[Any]]) -> Iterator[tuple[int, Any]]:
    """(sample, item) for each sample's first item, then each one's second, ...: so
    a cap on the merged list keeps something of every sample."""
    for i in range(max((len(items) for items in lists), default=0)):
        for k, items in enumerate(lists):
            if i < len(items):
                yield k, items[i]
