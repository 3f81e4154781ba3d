"""A row's verdict under a key of its content and the rules that judged it.

The gate files each verdict it reaches in the store (``store.verdicts``);
``Foresight`` gives the planner the verdict a build would reach for a cached
row: the filed one, else the row checks' own (a pure function of the row). A
near-duplicate or a judge's verdict depends on more than the row, so only a
filed one foresees it.
"""

from __future__ import annotations

import hashlib
from typing import Any

import orjson

from ..keys import digest
from ..recipe.row import CHECKED
from ..specs.resolve import template_digest_source
from ..specs.types import Taxonomy
from ..store import Store
from .verdicts import Item, RowChecks, Rules

FILED = 5000  # verdicts the gate holds before it files them


def item_of(node: Any, row: dict[str, Any]) -> Item:
    """What deciding a row needs: the fields the checks read, and its syllabus.
    ``node``: the row's answer node, or the gate's ``Redraw`` of it."""
    ctx = node.context
    fields = {k: row[k] for k in CHECKED}
    language = node.discipline.settings.language
    return row.get("id", ""), fields, language, ctx["syllabus_key"], ctx["syllabus_sessions"]


def rules_digest(rules: Rules) -> str:
    """Everything besides the row that a verdict depends on: the quality settings,
    the template (its examples are what ``echo`` looks for), and the bytes of every
    benchmark file."""
    q = rules.quality
    benchmarks = [
        [b.path.name, b.field, b.ngram, hashlib.sha256(b.path.read_bytes()).hexdigest()]
        for b in q.benchmarks
    ]
    checks = [[name, [list(p) for p in params]] for name, params in q.checks]
    return digest([checks, q.dedup, q.judge, benchmarks, template_digest_source(rules.template)])


def verdict_key(rules: str, item: Item) -> str:
    """A row's verdict key: its content (what the checks read, its language and its
    syllabus) under ``rules`` (``rules_digest``). orjson, not ``keys.digest``: the
    gate keys every row, and this is a tenth of the time."""
    _, fields, language, syllabus, _ = item
    text = orjson.dumps([rules, language, syllabus, fields], option=orjson.OPT_SORT_KEYS)
    return hashlib.sha256(text).hexdigest()[:32]


class Foresight:
    """The verdicts a build's gate would reach on cached rows, for ``glanc plan``."""

    def __init__(self, taxonomy: Taxonomy, store: Store):
        self.rules = Rules(taxonomy.quality, taxonomy.template)
        self.key = rules_digest(self.rules)
        self.store = store
        self._checks: RowChecks | None = None

    def of(self, rows: list[tuple[Any, dict[str, Any]]]) -> list[str | None]:
        """The check that would drop each ``(answer node, row)``; None: kept. The
        row may be its content alone (``recipe.row.content``): that is all its
        verdict reads."""
        items = [item_of(node, row) for node, row in rows]
        keys = [verdict_key(self.key, item) for item in items]
        filed = self.store.verdicts.of(keys)
        out = []
        for item, key in zip(items, keys, strict=True):
            if key in filed:
                out.append(filed[key])
                continue
            if self._checks is None:
                self._checks = RowChecks(self.rules)
            verdict = self._checks.decide(item)[1]
            out.append(None if verdict is None else verdict[0])
        return out
