"""Where calls run. The scheduler decides which node runs when (limits, order) and
alone writes the store; a backend only carries calls out and hands back what
came of them.

The thread pool (``threads``) runs calls one request at a time; ``batch``
sends waves of them to a provider's Batch API and records its job ids in the
store, so that a rerun resumes them rather than paying twice; ``ray`` runs
waves of them as Ray Data datasets on a cluster's workers; ``routed`` hands
each node to the one its model is routed to.
"""

from __future__ import annotations

from typing import Protocol

from ...lm.call import Outcome
from ...recipe.node import Node


class Backend(Protocol):
    def accepts(self, node: Node) -> bool:
        """Whether the node's call may start now (a pool has a free worker)."""

    def limits_calls(self, node: Node) -> bool:
        """Whether the backend keeps the node's model within its limits itself (a
        wave is handed over whole), so the scheduler hands over every ready call."""

    def submit(self, node: Node) -> None:
        """Start the node's call."""

    def poll(self, timeout: float) -> list[tuple[Node, Outcome]]:
        """Calls that finished, waiting up to ``timeout`` seconds for the first."""

    @property
    def inflight(self) -> int:
        """Calls submitted and not yet returned by ``poll``."""

    @property
    def stalled(self) -> bool:
        """Every call in flight waits on something outside this process (a batch
        file someone runs elsewhere): the build stops here, to be run again."""

    def cancel(self) -> None:
        """Abandon the calls in flight (Ctrl-C): their results are never returned."""

    def close(self) -> None:
        """Release the workers once no call is left in flight."""
