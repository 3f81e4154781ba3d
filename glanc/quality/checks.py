"""Row checks: each looks at one question-answer row and keeps it (None) or says
why it drops it, in a few words a reviewer can act on.

Every check is a pure function of the row, its parameters and what the
template shows the model (``Echoes``), so a row's verdict is the same in any
build, at any concurrency and in any completion order.
"""

from __future__ import annotations

import functools
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from .. import text as t
from ..lm.formats import PLACEHOLDER
from ..specs.types import Template
from . import languages

Row = dict[str, Any]

LENGTH = {
    "min_question_words": 4,
    "max_question_words": 200,
    "min_answer_words": 8,
    "max_answer_words": 1000,
}
MAX_DUPLICATE_SHARE = 0.15  # Gopher's for 5-grams: duplicated n-grams' share of characters
TOP_NGRAM_SHARE = ((2, 0.20), (3, 0.18), (4, 0.16))  # Gopher's thresholds

# the machinery of prompts: field names, JSON talk, DSPy's markers
_MACHINERY = re.compile(
    r"\b(?:num_sessions|num_key_concepts|num_subjects|key_concepts|taxonomy_path)\b"
    r"|\[\[ ## |\{\s*\"\w+\"\s*:|\"\w+\"\s*:\s*[\[{\"]",
    re.IGNORECASE,
)
_REFUSAL = re.compile(
    r"\b(?:as an ai|i(?:'m| am) (?:sorry|unable|not able)|i can(?:not|'t) (?:help|answer|provide)"
    r"|not possible to (?:provide|answer|give)|without (?:additional|more) (?:information|context)"
    r"|i do(?: not|n't) (?:know|have (?:enough )?information))\b",
    re.IGNORECASE,
)
# "the difference between a neuron and a neuron": a small model's degenerate question
_SELF_COMPARED = re.compile(
    r"\bbetween (?:an? |the )?[\"'\u201c\u2018]?(\w[\w -]{1,40}?)[\"'\u201d\u2019]? and "
    r"(?:an? |the )?[\"'\u201c\u2018]?\1\b",
    re.IGNORECASE,
)
_ENDS = tuple(".!?)]\"'`*$%0123456789") + ("\u201d", "\u2019")
IMPERATIVES = frozenset(
    """analyse analyze apply assess calculate classify compare compute consider construct contrast
    convert create define derive describe design determine discuss draw estimate evaluate explain
    express find give graph identify illustrate imagine interpret justify label list match name
    outline plot predict prove rank rewrite show simplify sketch solve state suggest summarise
    summarize use verify write""".split()
)


@dataclass(frozen=True)
class Echoes:
    """What a row must not repeat: the prompts' fixed phrases and the examples' replies."""

    phrases: tuple[str, ...]
    example_grams: frozenset[tuple[str, ...]]
    n: int = 8

    @functools.cached_property
    def example_words(self) -> frozenset[str]:
        return frozenset(w for gram in self.example_grams for w in gram)

    def copied(self, tokens: tuple[str, ...]) -> tuple[str, ...] | None:
        """The first n-gram of ``tokens`` that an example's reply holds. Only runs of
        n words or more that all occur in the examples can hold one: most texts
        have none, and are passed after one look at each word."""
        words, n, run = self.example_words, self.n, 0
        for i, w in enumerate(tokens):
            run = run + 1 if w in words else 0
            if run >= n and tokens[i - n + 1 : i + 1] in self.example_grams:
                return tokens[i - n + 1 : i + 1]
        return None

    @classmethod
    def of(cls, template: Template, n: int = 8) -> Echoes:
        phrases, grams = [], set()
        for _, stage in template.stages:
            for piece in PLACEHOLDER.split(stage.prompt)[::2]:
                piece = " ".join(t.words(piece))
                if len(piece.split()) >= 4:
                    phrases.append(piece)
            if stage.example is not None:
                grams.update(t.ngrams(t.words(stage.example[1]), n))
        return cls(tuple(phrases), frozenset(grams), n)


def _qa(row: Row) -> tuple[str, str]:
    messages = row["messages"]
    return messages[0]["content"] or "", messages[-1]["content"] or ""


def length(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    p = {**LENGTH, **params}
    question, answer = _qa(row)
    for what, text, lo, hi in (
        ("question", question, p["min_question_words"], p["max_question_words"]),
        ("answer", answer, p["min_answer_words"], p["max_answer_words"]),
    ):
        n = len(t.words(text))
        if n == 0:
            return f"empty {what}"
        if n < lo:
            return f"{what} too short ({n} words, at least {lo})"
        if n > hi:
            return f"{what} too long ({n} words, at most {hi})"
    return None


def echo(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    for what, text in zip(("question", "answer"), _qa(row), strict=True):
        # the machinery's marks (field names, JSON, DSPy's markers) all hold one of these
        marked = "_" in text or "{" in text or "[[" in text or '"' in text
        if marked and (m := _MACHINERY.search(text)):
            return f"{what} echoes the prompt's machinery: {m.group(0)!r}"
        tokens = t.words(text)
        flat = " ".join(tokens)
        for phrase in echoes.phrases:
            if phrase in flat:
                return f"{what} echoes the prompt: {phrase!r}"
        if gram := echoes.copied(tokens):
            return f"{what} copies the template's example: {' '.join(gram)!r}"
    return None


_REFUSAL_WORDS = ("sorry", "unable", "cannot", "can't", "possible", "without", "know", "as an ai")


def refusal(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    answer = _qa(row)[1]
    lowered = answer.lower()
    if not any(w in lowered for w in _REFUSAL_WORDS):  # every refusal pattern holds one
        return None
    if m := _REFUSAL.search(answer):
        return f"answer refuses or gives no answer: {m.group(0)!r}"
    return None


def truncation(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    """A reply cut at ``max_tokens`` is a failed try before it becomes a row; this
    catches an answer that stopped mid-sentence all the same: no closing mark, and
    a last word that cannot end a sentence (``the``, ``of``) or a dangling comma."""
    answer = _qa(row)[1].rstrip()
    if not answer or answer.endswith(_ENDS):
        return None
    tokens = t.words(answer)
    if answer[-1] in ",;:-(/" or (tokens and tokens[-1] in t.STOPWORDS):
        return f"answer stops mid-sentence: ...{answer[-30:]!r}"
    return None


# a question may lose its mark and stay a question: "How do cells divide."
_ASKS = frozenset("how what why which who whom whose when where".split())


def question_form(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    """A question (a question mark, or an interrogative word among the first three:
    "In what way...") or an instruction (an imperative verb first)."""
    question = _qa(row)[0]
    tokens = t.words(question)
    if "?" in question or (tokens and tokens[0] in IMPERATIVES):
        return None
    if not _ASKS.isdisjoint(tokens[:3]):
        return None
    return "the user turn is neither a question nor an instruction"


def repetition(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    """Gopher's repetition shares. Its top 2-, 3- and 4-gram shares hold on texts of
    50 words or more (its document minimum): in a shorter one a single repeated
    phrase ("how does a ... how does a") already passes them. Its duplicated 5-gram
    share holds at any length, and a short text also repeats itself when one
    content word comes three times in under 30 words (four in a longer one),
    unless it is a word of the row's own topic (its path, subject, sessions and
    key concepts): a question on sleep science may say "sleep" three times."""
    limit = float(params.get("max_duplicate_share", MAX_DUPLICATE_SHARE))
    about: frozenset[str] | None = None  # the row's topic: only a short text's last rule reads it
    for what, text in zip(("question", "answer"), _qa(row), strict=True):
        tokens = t.words(text)
        grams = t.Grams(tokens)
        if len(tokens) >= 50:
            for n, most in TOP_NGRAM_SHARE:
                share = grams.top_share(n)
                if share is None:  # no n-gram repeats: no longer one can either
                    break
                if share > most:
                    return f"{what} repeats itself (top {n}-gram covers {share:.0%})"
            else:
                share = grams.duplicate_share(5)  # the largest share of any n >= 5
                if share > limit:
                    return f"{what} repeats itself (duplicated n-grams cover {share:.0%})"
            continue
        share = grams.duplicate_share(5)
        if share > limit:
            return f"{what} repeats itself (duplicated n-grams cover {share:.0%})"
        if " between " in text and (m := _SELF_COMPARED.search(text)):
            return f"{what} compares a thing with itself ({m.group(1)!r})"
        # the row's own topic words ("sleep" in a question on sleep science) may recur
        about = topic(row) if about is None else about
        words = Counter(w for w in tokens if len(w) >= 4 and w not in t.STOPWORDS
                        and w[: t.STEM] not in about)  # fmt: skip
        most = 3 if len(tokens) < 30 else 4
        if words and (top := words.most_common(1)[0])[1] >= most:
            return f"{what} repeats itself ({top[0]!r} {top[1]} times)"
    return None


# the question wrapped in talk about it: "The question is: ...", "Here is a homework
# question:", "This question requires you to ...", a question inside quotes
_FRAMED = re.compile(
    r"^\W*(?:(?:the|this|my|your|a|one|here is (?:a|one|the|my|your))\s+)?"
    r"(?:(?:homework|basic|challenging|following|new)\s+)*question\s*"
    r"(?:\d+\s*)?(?:is|asks|reads|would be|could be)?\s*[:,\-\u2013]"
    r"|^\W*here(?:'s| is) (?:a|one|the|my|your) (?:\w+ ){0,2}question\b"
    r"|\bth(?:is|e) question (?:requires|asks|tests|wants|expects) (?:you|the student|students)\b"
    r"|^\W*th(?:is|e) question (?:tests|asks|requires|checks|is about|will|aims|would)\b"
    r"|^\W*th(?:is|e) question is\s*[\"\u201c]"
    r"|\b(?:provide|give|present)s? (?:you |students )?(?:with )?(?:a|one|the) question\b"
    r"|\b(?:student|teacher|professor|speaker|instructor)s? (?:asks?|asked|says?|said)"
    r"\s*[:,]?\s*[\"\u201c]"
    r"|\bquestion\b[^\"\u201c\n]{0,20}[:,]\s*[\"\u201c][^\"\u201d]{8,}\?\s*[\"\u201d]"
    r"|^\s*[\"\u201c][^\"\u201d]{8,}\?\s*[\"\u201d]\s*$"
    r"|^\W*(?:answer|solution)\s*:|\n\W*(?:answer|solution)\s*:",
    re.IGNORECASE,
)


# chat, not homework: the student's tastes, the model's wishes
_CHATTY = re.compile(
    r"\byour (?:favou?rite|personal (?:opinion|experience))\b|\bI(?:'d| would) love\b",
    re.IGNORECASE,
)


def framing(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    """A question that talks about itself instead of asking: the model framed the
    machinery ("The question is: ...", "This question requires you to ...", a
    quoted question, a question followed by its answer). A student is asked the
    question, never told about it."""
    question = _qa(row)[0]
    if m := _FRAMED.search(question):
        return f"question frames itself: {m.group(0).strip()[:40]!r}"
    if m := _CHATTY.search(question):
        return f"question is chat, not homework: {m.group(0)!r}"
    return None


MIN_NEW_STEMS = 3  # an answer adds at least this many content words the question lacks


def restatement(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    """An answer that says the question back: it adds fewer than ``min_new_words``
    content words (crude stems, ``text.stems``) the question does not hold, or it
    repeats the question's words and asks again."""
    question, answer = _qa(row)
    least = int(params.get("min_new_words", MIN_NEW_STEMS))
    asked, said = t.stems(question), t.stems(answer)
    new = said - asked
    if len(new) < least:
        return f"answer restates the question ({len(new)} new content words, at least {least})"
    if answer.rstrip().endswith("?") and len(new) <= len(said) // 3:
        return "answer asks the question back"
    return None


def topic(row: Row, syllabus: list[dict[str, Any]] = ()) -> frozenset[str]:
    """What a row is about, as stems: its place in the taxonomy, its subject, and
    its syllabus's sessions and key concepts (the sampled ones when the syllabus
    is not at hand)."""
    path = row.get("taxonomy_path") or [row["discipline"]]
    parts = [*path, row["subject"], *row["sessions"], *row["key_concepts"]]
    for session in syllabus:
        parts += [session.get("name", ""), *session.get("key_concepts", ())]
    return frozenset().union(*(t.stems(p) for p in parts))


def off_topic(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    """A row that shares no word (by crude stem) with what it is about. The gate
    passes the whole syllabus as ``params["topic"]``; a row alone uses its own
    fields."""
    question, answer = _qa(row)
    about = params.get("topic")
    if about is None:
        about = topic(row)
    if about.isdisjoint(t.stems(question)) and about.isdisjoint(t.stems(answer)):
        return "shares no word with its subject, syllabus or key concepts"
    return None


ENGLISH_SHARE = 0.2  # English prose: about 40% function words; under a fifth, ask
MIN_IDENTIFY_WORDS = 5  # shorter texts are too short to tell
CONFIDENT = 0.9


def language(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    """Text in a language other than the spec's, told by py3langid
    (``glanc.quality.languages``). English shows itself more cheaply: ASCII text
    with a fifth of its words English function words is not asked about. English
    text of 12 words or more with under 8% function words does not read as prose
    (a list of terms, word salad). A language glanc cannot name passes every row."""
    expected = str(params.get("language", "English"))
    want = languages.code(expected)
    if want is None:
        return None
    for what, text in zip(("question", "answer"), _qa(row), strict=True):
        tokens = t.words(text)
        if want == "en" and tokens and text.isascii():
            share = sum(w in t.STOPWORDS for w in tokens) / len(tokens)
            if share >= ENGLISH_SHARE:
                continue
            if len(tokens) >= 12 and share < 0.08:
                return f"{what} does not read as English prose"
        if len(tokens) < MIN_IDENTIFY_WORDS:
            continue
        lang, probability = languages.identify(text)
        if lang != want and probability >= CONFIDENT:
            return f"{what} is in {languages.name(lang)}, not {expected}"
    return None


CHECKS: dict[str, Callable[[Row, dict[str, Any], Echoes], str | None]] = {
    "length": length,
    "echo": echo,
    "refusal": refusal,
    "truncation": truncation,
    "question_form": question_form,
    "repetition": repetition,
    "off_topic": off_topic,
    "language": language,
    "framing": framing,
    "restatement": restatement,
}
