"""The dataset row: what one finished answer node becomes in ``data/``."""

from __future__ import annotations

from typing import Any

from ..keys import digest, normalise_name
from ..specs.types import Discipline, Subject
from .graph import Graph
from .node import Node


def row_id(d: Discipline, subject: Subject, index: int) -> str:
    """A dataset row's stable id: survives template and model changes, so diffs
    show a changed row rather than a removed and an added one."""
    return digest(["row", normalise_name(d.name), normalise_name(subject.name), index])[:16]


# what the quality checks read of a row (``content``)
CHECKED = ("messages", "taxonomy_path", "discipline", "subject", "sessions", "key_concepts")


def content(node: Node, output: dict[str, Any]) -> dict[str, Any]:
    """What the quality checks read of a row: its messages and what it is about
    (the rest of ``row``, its id and labels, costs a digest and lookups that
    ``glanc plan`` need not pay to read a cached row's filed verdict)."""
    ctx = node.context
    d, sample = node.discipline, ctx["sample"]
    return {
        "messages": [
            {"role": "user", "content": node.inputs.get("question") or ""},
            {"role": "assistant", "content": str(output.get("answer", ""))},
        ],
        "taxonomy_path": list(d.path),
        "discipline": d.name,
        "subject": ctx["subject"].name,
        "sessions": list(sample.sessions),
        "key_concepts": list(sample.key_concepts),
    }


def row(graph: Graph, node: Node, output: dict[str, Any]) -> dict[str, Any]:
    """The row of a finished answer node: the question and answer as chat
    messages, where they sit in the taxonomy, what they are about, and the keys
    of the calls behind them."""
    ctx = node.context
    d, subject, sample = node.discipline, ctx["subject"], ctx["sample"]
    question_model = graph.model(d, "question")[0]
    answer_model = node.model
    stub = "stub" in (question_model.kind, answer_model.kind)
    return {
        "id": row_id(d, subject, sample.index),
        **content(node, output),
        "level": subject.level,
        "difficulty": sample.difficulty,
        "models": {"question": question_model.label, "answer": answer_model.label},
        "stub": stub,
        "keys": {
            "syllabus": ctx["syllabus_key"],
            "question": ctx["question_key"],
            "answer": node.key,
        },
    }
