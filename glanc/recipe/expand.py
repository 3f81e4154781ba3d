"""Grow the build graph as outputs arrive: finished nodes in, the nodes below out.

The executor and the planner both walk the graph through an ``Expander``, so a
plan and the build it predicts see exactly the same nodes. A discipline's
syllabi appear only once *all* its subjects samples have succeeded: merging a
partial set would build syllabi for a subject list the next run replaces.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..specs.types import Discipline
from .graph import Graph
from .node import Node

Output = dict[str, Any] | None


class Expander:
    """Per-build expansion state: which subjects samples each discipline still awaits."""

    def __init__(self, graph: Graph):
        self.graph = graph
        self._samples: dict[tuple[str, ...], list[dict[str, Any] | None]] = {}
        self._pending: dict[tuple[str, ...], int] = {}
        # stage -> what a finished node of it expands into (the recipe's handlers)
        self._handlers: dict[str, Callable[[Node, Output], list[Node]]] = {
            "subjects": self._subjects_done,
            "syllabus": self._syllabus_done,
            "question": self._question_done,
            "answer": lambda node, output: [],
            "judge": lambda node, output: [],  # the gate, not the graph, reads verdicts
        }

    def roots(self, disciplines: tuple[Discipline, ...]) -> list[Node]:
        """Every discipline's first nodes: its subjects calls, or the syllabi of
        its pinned subjects."""
        out: list[Node] = []
        for d in disciplines:
            if not d.settings.questions_per_subject:
                continue  # no rows asked for: no subjects or syllabus calls either
            nodes = self.graph.subjects_nodes(d)
            if nodes:
                self._samples[d.path] = [None] * len(nodes)
                self._pending[d.path] = len(nodes)
                out.extend(nodes)
            else:
                subjects = self.graph.merge_subjects(d, [])
                out.extend(self.graph.syllabus_node(d, s) for s in subjects)
        return out

    def children(self, node: Node, output: Output) -> list[Node]:
        """The nodes below a finished node; ``output`` is None when it failed or
        will not run in this build."""
        return self._handlers[node.stage](node, output)

    def _syllabus_done(self, node: Node, output: Output) -> list[Node]:
        return [] if output is None else self.graph.syllabus_done(node, output)

    def _question_done(self, node: Node, output: Output) -> list[Node]:
        return [] if output is None else [self.graph.answer_node(node, output)]

    def _subjects_done(self, node: Node, output: Output) -> list[Node]:
        d = node.discipline
        samples = self._samples.get(d.path)
        if samples is None:  # the discipline already gave up
            return []
        if output is None:
            del self._samples[d.path], self._pending[d.path]
            return []
        samples[node.sample] = output
        self._pending[d.path] -= 1
        if self._pending[d.path]:
            return []
        subjects = self.graph.merge_subjects(d, [o for o in samples if o is not None])
        # too few subjects left by the stage checks: one more sample, then merge again
        again = self.graph.subjects_redraw(d, subjects, len(samples))
        if again is not None:
            samples.append(None)
            self._pending[d.path] = 1
            return [again]
        del self._samples[d.path], self._pending[d.path]
        self.graph.subjects_short(d, subjects, len(samples))
        return [self.graph.syllabus_node(d, s) for s in subjects]
