"""A call as it travels to a worker in another process, and what runs it there.

Ray workers and the thread backend's worker processes run the node's whole
DSPy program (render, transport, parse, checks, redraws) where they are, with
the very ``Caller`` the in-process thread pool uses: DSPy's formatting and
parsing are most of glanc's own CPU per call, so a coordinator that did them
itself would cap a cluster at one core's worth of calls per second. The
coordinator sends only what the call is a pure function of (the stage, the
inputs, the model, the decoding and the first seed; the template travels once
per worker) and alone writes what comes back to the store.
"""

from __future__ import annotations

import hashlib
import pickle
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from ...lm.call import Caller, Outcome
from ...lm.credentials import redact
from ...recipe.node import Node
from ...specs.models import ModelInfo
from ...specs.types import Template
from ..limits import ModelLimits


@dataclass(frozen=True)
class Work:
    """What a call is a pure function of; ``Caller`` takes it as it takes a node."""

    stage: str
    model: ModelInfo
    decoding: dict[str, Any]
    inputs: dict[str, Any]
    seed: int

    @classmethod
    def of(cls, node: Node) -> Work:
        return cls(node.stage, node.model, node.decoding, node.inputs, node.seed)


def failed(exc: BaseException) -> Outcome:
    """A bug or a lost worker, as a failed call: it must not lose the build."""
    error = redact(f"{type(exc).__name__}: {exc}".splitlines()[0][:300])
    return Outcome(None, None, error, 1, 0, 0, 0.0)


# -- in the worker process -----------------------------------------------------
_lock = threading.Lock()
_callers: dict[str, Caller] = {}
_pools: dict[int, ThreadPoolExecutor] = {}
_throttles: dict[tuple[str, ModelInfo], _Throttle] = {}


def caller_for(template: bytes) -> Caller:
    """One ``Caller`` per template per process: each model (the embedded one's
    weights included) is loaded once per worker, not once per batch of calls."""
    digest = hashlib.sha256(template).hexdigest()
    with _lock:
        caller = _callers.get(digest)
        if caller is None:
            caller = _callers[digest] = Caller(_template(template))
        return caller


def _template(blob: bytes) -> Template:
    return pickle.loads(blob)


def _pool(threads: int) -> ThreadPoolExecutor:
    with _lock:
        pool = _pools.get(threads)
        if pool is None:
            pool = _pools[threads] = ThreadPoolExecutor(threads, thread_name_prefix="glanc-w")
        return pool


class _Throttle:
    """A worker's share of a model's requests and tokens per minute."""

    def __init__(self, rpm: int | None, tpm: int | None):
        self.limits = ModelLimits(inflight=2**62, rpm=rpm, tpm=tpm)
        self.lock = threading.Lock()

    def wait(self) -> None:
        while True:
            with self.lock:
                now = time.monotonic()
                if self.limits.may_start(now):
                    self.limits.started(now)
                    return
            time.sleep(0.05)

    def done(self, tokens: int) -> None:
        with self.lock:
            self.limits.finished(time.monotonic(), tokens)


def throttle(wave: str, model: ModelInfo, rpm: int | None, tpm: int | None) -> _Throttle | None:
    if rpm is None and tpm is None:
        return None
    with _lock:
        found = _throttles.get((wave, model))
        if found is None:
            found = _throttles[(wave, model)] = _Throttle(rpm, tpm)
        return found


def run_calls(
    template: bytes,
    works: list[Work],
    threads: int,
    limit: _Throttle | None = None,
) -> list[Outcome]:
    """Run ``works`` on up to ``threads`` threads of this process, in order."""
    caller = caller_for(template)

    def one(work: Work) -> Outcome:
        if limit is not None:
            limit.wait()
        try:
            outcome = caller(work)
        except Exception as exc:  # noqa: BLE001 - reported as the node's failure
            return failed(exc)
        if limit is not None:
            limit.done(outcome.tokens_in + outcome.tokens_out)
        return outcome

    if threads <= 1 or len(works) <= 1:
        return [one(w) for w in works]
    return list(_pool(threads).map(one, works))
