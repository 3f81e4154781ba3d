"""Row checks: each looks at one question-answer row and keeps it (None) or says
why it drops it, in a few words a reviewer can act on.

Every check is a pure function of the row, its parameters and what the
template shows the model (``Echoes``), so a row's verdict is the same in any
build, at any concurrency and in any completion order.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..lm.formats import PLACEHOLDER
from ..specs.types import Template
from . import text as t

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
        return cls(tuple(phrases), frozenset(grams))


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
        grams = zip(*(tokens[i:] for i in range(8)), strict=False)
        if not echoes.example_grams.isdisjoint(grams):
            gram = next(g for g in t.ngrams(tokens, 8) if g in echoes.example_grams)
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


def question_form(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    question = _qa(row)[0]
    tokens = t.words(question)
    if "?" in question or (tokens and tokens[0] in IMPERATIVES):
        return None
    return "the user turn is neither a question nor an instruction"


def repetition(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    """Gopher's repetition shares on texts of 50 words or more (its document
    minimum); a shorter text repeats itself when a 4-word sequence comes twice, or
    one content word three times in under 30 words (four times in a longer one)."""
    limit = float(params.get("max_duplicate_share", MAX_DUPLICATE_SHARE))
    for what, text in zip(("question", "answer"), _qa(row), strict=True):
        tokens = t.words(text)
        if len(tokens) >= 50:
            for n, most in TOP_NGRAM_SHARE:
                share = t.top_ngram_share(tokens, n)
                if share is None:  # no n-gram repeats: no longer one can either
                    break
                if share > most:
                    return f"{what} repeats itself (top {n}-gram covers {share:.0%})"
            else:
                share = t.duplicate_ngram_share(tokens, 5)  # the largest share of any n >= 5
                if share > limit:
                    return f"{what} repeats itself (duplicated n-grams cover {share:.0%})"
            continue
        grams = Counter(t.ngrams(tokens, 4))
        if grams and (top := grams.most_common(1)[0])[1] > 1:
            return f"{what} repeats itself ({' '.join(top[0])!r} twice)"
        words = Counter(w for w in tokens if len(w) >= 4 and w not in t.STOPWORDS)
        most = 3 if len(tokens) < 30 else 4
        if words and (top := words.most_common(1)[0])[1] >= most:
            return f"{what} repeats itself ({top[0]!r} {top[1]} times)"
    return None


def off_topic(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    question, answer = _qa(row)
    said = t.content_words(question) | t.content_words(answer)
    for part in (row["subject"], row["discipline"], *row["sessions"], *row["key_concepts"]):
        if not said.isdisjoint(t.content_words(part)):
            return None
    return "shares no word with its subject, sessions or key concepts"


def language(row: Row, params: dict[str, Any], echoes: Echoes) -> str | None:
    """English only: other languages pass (glanc has no word lists for them yet)."""
    if str(params.get("language", "English")).casefold() != "english":
        return None
    for what, text in zip(("question", "answer"), _qa(row), strict=True):
        if not text.isascii():  # most English text is: the letter count only for the rest
            letters = [c for c in text if c.isalpha()]
            if letters and sum(not c.isascii() for c in letters) / len(letters) > 0.2:
                return f"{what} is not in English"
        tokens = t.words(text)
        if len(tokens) >= 12 and sum(w in t.STOPWORDS for w in tokens) / len(tokens) < 0.08:
            return f"{what} does not read as English prose"
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
}
