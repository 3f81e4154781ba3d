"""Where calls run. The scheduler decides which node runs when (limits, order) and
alone writes the store; a backend only carries calls out and hands back what
came of them.

The thread pool (``threads``) is the one backend today. A backend that can
outlive the process (a provider's batch, a Ray job) would also record its job
ids in the store, so that a rerun resumes them rather than paying twice.
"""

from __future__ import annotations

from typing import Protocol

from ...lm.call import Outcome
from ...recipe.node import Node


class Backend(Protocol):
    def submit(self, node: Node) -> None:
        """Start the node's call."""

    def poll(self, timeout: float) -> list[tuple[Node, Outcome]]:
        """Calls that finished, waiting up to ``timeout`` seconds for the first."""

    @property
    def inflight(self) -> int:
        """Calls submitted and not yet returned by ``poll``."""

    def cancel(self) -> None:
        """Abandon the calls in flight (Ctrl-C): their results are never returned."""

    def close(self) -> None:
        """Release the workers once no call is left in flight."""
