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


STEM = 5


@functools.lru_cache(maxsize=1 << 14)
def stems(text: str) -> frozenset[str]:
    """The content words of ``text`` (four letters or more, not function words), cut
    to their first five letters: a crude stem that needs no word list, so it serves
    any language, and it joins a topic's word families ('neuron' and
    'neurotransmitter', 'physics' and 'physical', 'chemical' and 'chemistry')."""
    return frozenset(w[:STEM] for w in set(words(text)).difference(STOPWORDS) if len(w) >= 4)


def ngrams(tokens: tuple[str, ...] | list[str], n: int) -> list[tuple[str, ...]]:
    return list(zip(*(tokens[i:] for i in range(n)), strict=False))


class Grams:
    """A text's word n-grams as integers (each word numbered in order of first
    appearance, an n-gram a number in base vocabulary size): hashing and counting
    ints is several times cheaper than tuples of strings, and the repetition check
    counts four sizes of n-gram on every row."""

    __slots__ = ("tokens", "lengths", "total", "_ids", "_base", "_keys")

    def __init__(self, tokens: tuple[str, ...]):
        number: dict[str, int] = {}
        self.tokens = tokens
        self._ids = [number.setdefault(w, len(number)) for w in tokens]
        self._base = len(number) or 1
        self.lengths = [len(w) for w in tokens]
        self.total = sum(self.lengths) or 1
        self._keys: dict[int, list[int]] = {1: self._ids}

    def keys(self, n: int) -> list[int]:
        """Each n-gram's number, in text order (built from the (n-1)-grams')."""
        if n not in self._keys:
            shorter, base = self.keys(n - 1), self._base
            tail = self._ids[n - 1 :]
            self._keys[n] = [k * base + w for k, w in zip(shorter, tail, strict=False)]
        return self._keys[n]

    def top_share(self, n: int) -> float | None:
        """Gopher: the share of characters covered by the most frequent n-gram; None
        when no n-gram occurs twice (then no longer one does either)."""
        keys = self.keys(n)
        if len(set(keys)) == len(keys):  # the common case, and cheaper than counting
            return None
        key, count = Counter(keys).most_common(1)[0]
        first = keys.index(key)
        return count * sum(self.lengths[first : first + n]) / self.total

    def duplicate_share(self, n: int) -> float:
        """Gopher: the share of characters inside n-grams that occur more than once. It
        never grows with n (a word inside a repeated 10-gram is inside a repeated 5-gram)."""
        keys = self.keys(n)
        if len(set(keys)) == len(keys):
            return 0.0
        counts = Counter(keys)
        covered = [False] * len(self.tokens)
        for i, key in enumerate(keys):
            if counts[key] > 1:
                covered[i : i + n] = [True] * n
        pairs = zip(self.lengths, covered, strict=True)
        return sum(length for length, c in pairs if c) / self.total
