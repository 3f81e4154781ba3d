"""Node selection for ``--select`` / ``--exclude``, in dbt's grammar.

A selector is a list of items separated by spaces (union); an item is atoms
joined by commas (intersection). Atoms:

- a taxonomy path, ``Natural Sciences/Physics``: the calls that belong to that
  node itself (a discipline's subjects calls, a subject's syllabus call);
  with a trailing ``+``, everything under it as well;
- ``stage:answer`` (``stage:question+``: that stage and the later ones);
- ``state:new`` (never built in this place), ``state:modified`` (built before,
  changed since), ``state:failed`` (failed last time).

Taxonomy names may contain spaces, so words are joined back while they spell a
path the taxonomy has; quote a subject name whose words could start a path.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass

from ..errors import GlancError
from ..keys import normalise_name
from ..recipe.glan import own_stage
from ..specs.contract import STAGES
from ..specs.types import Taxonomy

STATES = ("new", "modified", "failed")
_METHODS = ("stage:", "state:", "path:")


class SelectionError(GlancError):
    pass


@dataclass(frozen=True)
class Atom:
    method: str  # "path", "stage" or "state"
    value: tuple[str, ...]  # normalised path parts, or (stage,), or (state,)
    descendants: bool = False
    discipline_depth: int = 0  # path atoms: how many parts name the discipline

    def matches(self, stage: str, path: tuple[str, ...], state: Callable[[], str]) -> bool:
        if self.method == "stage":
            if self.descendants:
                return STAGES.index(stage) >= STAGES.index(self.value[0])
            return stage == self.value[0]
        if self.method == "state":
            return state() == self.value[0]
        if self.method == "none":
            return False
        if self.descendants:
            return path[: len(self.value)] == self.value
        scope = "discipline" if len(self.value) == self.discipline_depth else "subject"
        return stage == own_stage(scope) and path == self.value


@dataclass(frozen=True)
class Selection:
    """Union of intersections of atoms, minus the excluded ones; empty selects all."""

    include: tuple[tuple[Atom, ...], ...] = ()
    exclude: tuple[tuple[Atom, ...], ...] = ()

    @property
    def everything(self) -> bool:
        return not self.include and not self.exclude

    @property
    def runs_nothing(self) -> bool:
        """Selects no node (``NOTHING``): the build only reads what is stored."""
        return bool(self.include) and all(
            a.method == "none" for item in self.include for a in item
        )

    @property
    def uses_state(self) -> bool:
        return any(a.method == "state" for item in self.include + self.exclude for a in item)

    def matches(
        self,
        stage: str,
        path: tuple[str, ...],
        state: Callable[[], str] = lambda: "",
    ) -> bool:
        """``path``: the node's normalised taxonomy path (discipline, then subject;
        just the discipline while its subject is unknown); ``state`` is asked lazily."""
        if self.everything:
            return True

        def hit(items: tuple[tuple[Atom, ...], ...]) -> bool:
            return any(all(a.matches(stage, path, state) for a in item) for item in items)

        if self.include and not hit(self.include):
            return False
        return not (self.exclude and hit(self.exclude))


NOTHING = Selection(include=((Atom("none", ()),),))  # cached nodes only: glanc check


def normalise_path(parts: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(normalise_name(p) for p in parts)


class _Parser:
    def __init__(self, taxonomy: Taxonomy):
        self.disciplines = {normalise_path(d.path) for d in taxonomy.disciplines}
        self.prefixes: set[tuple[str, ...]] = set()
        for parts in self.disciplines:
            for i in range(1, len(parts) + 1):
                self.prefixes.add(parts[:i])
        self.first_words = {p[0].split()[0] for p in self.prefixes if p[0]}
        self.example = "/".join(taxonomy.disciplines[0].path) if taxonomy.disciplines else ""

    def items(self, text: str) -> list[tuple[Atom, ...]]:
        try:
            words = shlex.split(text)
        except ValueError as exc:
            raise SelectionError(f"selector {text!r}: {exc}") from None
        out = []
        for item in self._join(words):
            out.append(tuple(self.atom(a) for a in item.split(",") if a.strip()))
        return [i for i in out if i]

    def _join(self, words: list[str]) -> list[str]:
        """Join words back into items where a taxonomy name holds spaces."""
        items: list[str] = []
        for word in words:
            if items and self._continues(items[-1], word):
                items[-1] += " " + word
            else:
                items.append(word)
        return items

    def _continues(self, current: str, word: str) -> bool:
        last = current.split(",")[-1]
        if not last or last.endswith("+") or last.startswith(_METHODS[:2]):
            return False
        if word.startswith(_METHODS):
            return False
        text = last[5:] if last.startswith("path:") else last
        parts = normalise_path(tuple(text.split("/")))
        depth = self._discipline_depth(parts)
        if depth is not None and len(parts) > depth:
            # inside a subject name: go on unless the word starts a taxonomy path
            return normalise_name(word.split("/")[0]).split(" ")[0] not in self.first_words
        head = word.split(",")[0]
        return self._spells(normalise_path(tuple((text + " " + head).split("/"))))

    def _spells(self, parts: tuple[str, ...]) -> bool:
        """Whether ``parts`` (its last part maybe cut short) begins a taxonomy path."""
        head, last = parts[:-1], parts[-1]
        if self._discipline_depth(head) is not None:  # a subject name begins
            return True
        if head and head in self.prefixes:  # a path under a known node, maybe misspelt:
            return True  # kept whole, so the error names all of it
        return any(
            p[: len(head)] == head and len(p) > len(head) and p[len(head)].startswith(last)
            for p in self.prefixes
        )

    def _discipline_depth(self, parts: tuple[str, ...]) -> int | None:
        for i in range(1, len(parts) + 1):
            if parts[:i] in self.disciplines:
                return i
        return None

    def atom(self, text: str) -> Atom:
        text = text.strip()
        descendants = text.endswith("+")
        body = text[:-1] if descendants else text
        if body.startswith("stage:"):
            stage = body[6:]
            if stage not in STAGES:
                raise SelectionError(
                    f"selector {text!r}: unknown stage {stage!r}; use one of {', '.join(STAGES)}"
                )
            return Atom("stage", (stage,), descendants)
        if body.startswith("state:"):
            state = body[6:]
            if state not in STATES or descendants:
                raise SelectionError(
                    f"selector {text!r}: use state:new, state:modified or state:failed"
                )
            return Atom("state", (state,))
        if body.startswith("path:"):
            body = body[5:]
        raw = tuple(p.strip() for p in body.strip("/").split("/"))
        if not body or "" in raw:
            raise SelectionError(f"selector {text!r}: empty taxonomy path")
        parts = normalise_path(raw)
        depth = self._discipline_depth(parts)
        if depth is not None:
            if len(parts) > depth:  # a subject name may itself contain '/'
                parts = parts[:depth] + (normalise_name("/".join(raw[depth:])),)
            return Atom("path", parts, descendants, depth)
        if parts not in self.prefixes:
            raise SelectionError(
                f"selector {text!r}: no taxonomy node {body!r}; a path runs from a top-level "
                f"name, e.g. {self.example!r}"
            )
        if not descendants:
            raise SelectionError(
                f"selector {text!r}: {body!r} is not a discipline and has no calls of its "
                f"own; use '{body}+' to select everything under it"
            )
        return Atom("path", parts, True)


def parse(
    taxonomy: Taxonomy, select: tuple[str, ...] = (), exclude: tuple[str, ...] = ()
) -> Selection:
    """Parse ``--select`` and ``--exclude`` values; raise ``SelectionError`` on a bad one."""
    parser = _Parser(taxonomy)
    include = [item for text in select for item in parser.items(text)]
    excluded = [item for text in exclude for item in parser.items(text)]
    if select and not include:
        raise SelectionError("--select: empty selector")
    return Selection(tuple(include), tuple(excluded))
