"""Text measures the checks share: words, n-grams, Gopher's repetition shares."""

from __future__ import annotations

import functools
import re
from collections import Counter

_WORDS = re.compile(r"[^\W_]+(?:['-][^\W_]+)*", re.UNICODE)

# common English function words: the language check's evidence, and what
# off-topic matching ignores
STOPWORDS = frozenset(
    """a about above after again all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further
    had has have having he her here hers him his how i if in into is it its itself just me more
    most my no nor not now of off on once only or other our out over own same she should so some
    such than that the their them then there these they this those through to too under until up
    very was we were what when where which while who whom why will with would you your""".split()
)


@functools.lru_cache(maxsize=256)
def words(text: str) -> tuple[str, ...]:
    """Lower-cased words (letters and digits, inner apostrophes and hyphens kept).
    Cached: every check of a row reads the same question and answer."""
    return tuple(_WORDS.findall(text.lower()))


@functools.lru_cache(maxsize=1 << 14)
def content_words(text: str) -> frozenset[str]:
    """Words of four letters or more that are not function words, crudely singular."""
    out = set()
    for w in words(text):
        if len(w) >= 4 and w not in STOPWORDS:
            out.add(w[:-1] if w.endswith("s") and len(w) > 4 else w)
    return frozenset(out)


def ngrams(tokens: tuple[str, ...] | list[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(tokens[i:] for i in range(n)), strict=False))


def top_ngram_share(tokens: tuple[str, ...], n: int) -> float | None:
    """Gopher: the share of characters covered by the most frequent n-gram; None
    when no n-gram occurs twice (then no longer one does either)."""
    grams = list(zip(*(tokens[i:] for i in range(n)), strict=False))
    if len(set(grams)) == len(grams):  # the common case, and cheaper than counting
        return None
    gram, count = Counter(grams).most_common(1)[0]
    if count < 2:
        return None
    total = sum(len(t) for t in tokens) or 1
    return count * sum(len(t) for t in gram) / total


def duplicate_ngram_share(tokens: tuple[str, ...], n: int) -> float:
    """Gopher: the share of characters inside n-grams that occur more than once. It
    never grows with n (a word inside a repeated 10-gram is inside a repeated 5-gram)."""
    grams = ngrams(tokens, n)
    if not grams:
        return 0.0
    counts = Counter(grams)
    covered = [False] * len(tokens)
    for i, gram in enumerate(grams):
        if counts[gram] > 1:
            for j in range(i, i + n):
                covered[j] = True
    total = sum(len(t) for t in tokens) or 1
    return sum(len(t) for t, c in zip(tokens, covered, strict=True) if c) / total
