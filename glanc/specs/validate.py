"""``glanc validate``: every problem in any number of taxonomy and template specs.

Every problem is collected and reported together, each located as
``file:line:col: json.path: message`` -- a user fixing a spec should not have
to rerun once per mistake.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import Problem, SpecError
from .load import Document, load_yaml
from .resolve import load_taxonomy
from .schema import template_problems


def kind_of(doc: Document) -> str:
    """``template`` or ``taxonomy``, guessed from the top-level keys."""
    if isinstance(doc.data, dict) and "stages" in doc.data:
        return "template"
    return "taxonomy"


def validate_paths(paths: list[Path], strict: bool = False) -> list[Problem]:
    """Every problem in every given spec (taxonomy or template), for ``glanc validate``;
    ``strict``: a taxonomy node pending review is one too."""
    problems: list[Problem] = []
    for path in paths:
        try:
            doc = load_yaml(path)
            if kind_of(doc) == "template":
                problems += template_problems(doc)
            else:
                taxonomy = load_taxonomy(path, doc=doc)
                if strict:
                    problems += [
                        Problem(str(doc.path), r.line, 1, "/".join(r.path),
                                "pending review: set review: keep or drop (or delete the key)")
                        for r in taxonomy.pending_all
                    ]  # fmt: skip
        except SpecError as exc:
            problems += exc.problems
    return problems
