"""Per-model limits on calls: in flight, requests per minute, tokens per minute.

Hosted APIs meter each account by requests and tokens per minute; a build that
ignores that spends its time in 429 backoffs. The executor asks ``may_start``
before it hands a node to a worker, and reports each finished call's tokens,
so a model's sliding one-minute window stays under its limits. Transport
retries inside a call are not counted: they follow the server's own Retry-After.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

WINDOW_S = 60.0


@dataclass
class ModelLimits:
    inflight: int
    rpm: int | None = None
    tpm: int | None = None
    _sent: deque = field(default_factory=deque)
    _tokens: deque = field(default_factory=deque)
    _token_sum: int = 0
    _per_call: float = 0.0  # running mean of tokens per call: the next call's estimate
    _calls: int = 0

    def _expire(self, now: float) -> None:
        while self._sent and now - self._sent[0] >= WINDOW_S:
            self._sent.popleft()
        while self._tokens and now - self._tokens[0][0] >= WINDOW_S:
            self._token_sum -= self._tokens.popleft()[1]

    def may_start(self, now: float) -> bool:
        if self.rpm is None and self.tpm is None:
            return True
        self._expire(now)
        if self.rpm is not None and len(self._sent) >= self.rpm:
            return False
        return self.tpm is None or self._token_sum + self._per_call <= self.tpm

    def started(self, now: float) -> None:
        if self.rpm is not None:
            self._sent.append(now)

    def finished(self, now: float, tokens: int) -> None:
        self._calls += 1
        self._per_call += (tokens - self._per_call) / self._calls
        if self.tpm is not None:
            self._tokens.append((now, tokens))
            self._token_sum += tokens
