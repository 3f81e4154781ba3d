"""Two backends behind one: each node goes where its model is routed.

A spec may put one model on a Batch API and keep another on threads (a strong
generator batched at half price, an in-process answerer). The direct backend's
(threads or Ray) calls come back as they finish; a batch wave is sent when the build has nothing
else in flight, so that it holds every call the build can make by then.
"""

from __future__ import annotations

from ...lm.call import Outcome
from ...recipe.node import Node
from . import Backend
from .batch import BatchBackend


class RoutedBackend:
    def __init__(self, direct: Backend, batch: BatchBackend):
        self.direct, self.batch = direct, batch

    def _of(self, node: Node) -> Backend:
        # a run that sends nothing (glanc ingest) calls no model at all
        return self.batch if node.model.batch or not self.batch.send else self.direct

    def accepts(self, node: Node) -> bool:
        return self._of(node).accepts(node)

    def limits_calls(self, node: Node) -> bool:
        return self._of(node).limits_calls(node)

    def submit(self, node: Node) -> None:
        self._of(node).submit(node)

    @property
    def inflight(self) -> int:
        return self.direct.inflight + self.batch.inflight

    @property
    def stalled(self) -> bool:
        return not self.direct.inflight and self.batch.stalled

    def poll(self, timeout: float) -> list[tuple[Node, Outcome]]:
        if self.direct.inflight:
            done = self.direct.poll(timeout if not self.batch.inflight else min(timeout, 0.05))
            return done + (self.batch.poll(0) if self.batch.inflight else [])
        self.batch.flush()
        return self.batch.poll(timeout)

    def cancel(self) -> None:
        self.direct.cancel()
        self.batch.cancel()

    def close(self) -> None:
        self.direct.close()
        self.batch.close()
