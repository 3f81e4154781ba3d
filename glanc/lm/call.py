"""Run one node's DSPy program on its model, with bounded retries.

Called from worker threads: DSPy settings are set per call with
``dspy.context`` (workers do not inherit the caller's), and a fresh usage
tracker per call captures tokens without touching shared state. No DSPy
callback is installed: DSPy wraps every module, adapter and LM call when one
is, which cost a fifth of a stub call; the text of an output glanc rejects is
kept from the parse error or the parsed value instead.
"""

from __future__ import annotations

import json
import logging
import random
import re
import threading
import time
from dataclasses import dataclass
from typing import Any, Protocol

from ..errors import TRANSPORT
from ..specs.models import ModelInfo
from ..specs.types import Template
from . import programs
from .credentials import endpoint, redact
from .engines import make_lm
from .wire import CutShort, cause

MAX_ATTEMPTS = 5  # program attempts, each with a new seed, for outputs glanc rejects
RETRY_TEMPERATURE = 0.7
TRANSPORT_ATTEMPTS = 6  # the same request, for failures of the server or the network
BACKOFF_BASE_S = 0.5
BACKOFF_CAP_S = 30.0


class Request(Protocol):
    """What a call needs of a node (``glanc.recipe.node.Node`` is one): the
    stage's program, the model, the decoding, the inputs and the first seed."""

    stage: str
    model: ModelInfo
    decoding: dict[str, Any]
    inputs: dict[str, Any]

    @property
    def seed(self) -> int: ...


@dataclass(frozen=True)
class Outcome:
    """What calling a node produced: ``output`` on success, ``error`` otherwise."""

    output: dict[str, Any] | None
    raw: str | None
    error: str | None
    attempts: int
    tokens_in: int
    tokens_out: int
    latency_ms: float


_SURROGATE = re.compile("[\ud800-\udfff]")
MAX_ERROR = 300  # characters of an error kept, after redaction

_ECHO = re.compile(r"^\s*\{\w+\}\s*$|\[\[ ## \w+ ## \]\]")


def _strings(value: Any):
    if isinstance(value, str):
        yield value
    elif isinstance(value, list):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)


def invalid(output: dict[str, Any], template) -> str | None:
    """Why a parsed output is unusable, or None: an empty required field, or a
    prompt placeholder echoed back (small models copy ``{question}``)."""
    empty = [
        f.name
        for f in template.outputs
        if f.schema["type"] in ("string", "array") and not output.get(f.name)
    ]
    if empty:
        return f"empty output field(s): {', '.join(empty)}"
    for text in _strings(output):
        if _ECHO.search(text):
            return f"output echoes the prompt's format: {text.strip()[:60]!r}"
    return None


class Caller:
    """Calls nodes' programs; one ``dspy.LM`` per model, created on first use."""

    def __init__(self, template: Template):
        self.template = template
        self._lms: dict[ModelInfo, Any] = {}
        self._secrets: dict[ModelInfo, tuple[str, ...]] = {}
        self._lock = threading.Lock()
        self.stopping = threading.Event()  # set on Ctrl-C: workers give up between tries

    def stop(self) -> None:
        """Make every worker give up at its next try or backoff, so an interrupted
        build leaves no thread retrying in the background."""
        self.stopping.set()

    def lm(self, info: ModelInfo):
        with self._lock:
            if info not in self._lms:
                if info.kind == "remote":
                    self._secrets[info] = endpoint(info).secrets
                self._lms[info] = make_lm(info)
                # DSPy warns on every truncated response, and importing DSPy resets its
                # log level; glanc records, retries and reports those outputs itself
                logging.getLogger("dspy.clients.lm").setLevel(logging.ERROR)
            return self._lms[info]

    def __call__(self, node: Request) -> Outcome:
        template = self.template.stage(node.stage)
        signature = programs.signature(template)
        try:
            lm = self.lm(node.model)
        except Exception as exc:  # preflight checks models first; this is a last guard
            error = redact(_one_line(exc), self._secrets.get(node.model, ()))[:MAX_ERROR]
            return Outcome(None, None, error, 1, 0, 0, 0.0)
        tokens_in = tokens_out = 0
        start = time.perf_counter()
        attempt, tried = 0, _Try(None, None, None)
        for attempt in range(1, MAX_ATTEMPTS + 1):
            if self.stopping.is_set():
                raise Cancelled()
            tried = self._try(signature, template, node, lm, attempt)
            tokens_in, tokens_out = tokens_in + tried.tokens[0], tokens_out + tried.tokens[1]
            if tried.error is None or not tried.retry:
                break
        latency = (time.perf_counter() - start) * 1000
        output, raw, error = self._guarded(node, tried)
        return Outcome(output, raw, error, attempt, tokens_in, tokens_out, latency)

    def _guarded(self, node: Request, tried: _Try) -> tuple[Any, str | None, str | None]:
        """(output, raw text, error) as they may be stored and exported: an error
        redacted whole, then cut; a reply that holds a known secret (the key, a
        password, their encoded forms) or invalid Unicode (a lone surrogate)
        fails its node with the reason, and its text is not kept."""
        secrets = self._secrets.get(node.model, ())
        output, raw, error = tried.output, tried.raw, tried.error
        texts = [*_strings(output), *((raw,) if raw else ())]
        if any(s in t for s in secrets if len(s) >= 8 for t in texts):
            return None, None, "the reply holds a credential of this model (key, password)"
        for text in texts:
            if _SURROGATE.search(text):
                bad = ord(_SURROGATE.search(text).group())
                return None, None, f"the reply holds invalid Unicode (lone surrogate U+{bad:04X})"
        if error is not None:  # stored, printed and in --json: never a secret
            error = redact(error, secrets)[:MAX_ERROR]
        return (output if error is None else None), raw, error

    # -- a Batch API's two halves (``glanc.lm.deferred``): the same program, apart
    def render(self, node: Request, attempt: int) -> dict[str, Any]:
        """The request body draw ``attempt`` of ``node`` sends, exactly as a direct
        call would send it; for a model routed to a Batch API."""
        from dspy.utils.usage_tracker import UsageTracker

        from .deferred import Rendered

        template = self.template.stage(node.stage)
        lm = self.lm(node.model)
        config = _config(node, attempt)
        try:
            self._predict(programs.signature(template), template, node, lm, UsageTracker(), config)
        except Exception as exc:
            rendered = cause(exc, Rendered)
            if rendered is None:
                raise
            return rendered.body
        raise AssertionError("a deferred engine answered without a reply")

    def answer(self, node: Request, attempt: int, completion: dict[str, Any]) -> Attempt:
        """Draw ``attempt`` of ``node`` judged from the chat completion a batch
        returned for it: the parse, checks and cut-short rule of a direct call.
        A reply that is no chat completion is a ``transport:`` error here."""
        from .deferred import answering

        template = self.template.stage(node.stage)
        lm = self.lm(node.model)
        with answering(completion):
            tried = self._try(programs.signature(template), template, node, lm, attempt, tries=1)
        output, raw, error = self._guarded(node, tried)
        return Attempt(output, raw, error, tried.retry, *tried.tokens)

    def _try(
        self, signature, template, node: Request, lm, attempt: int, tries: int | None = None
    ) -> _Try:
        """One draw of the program (its own seed), judged: an output glanc takes, or
        why not and whether another draw may mend it."""
        from dspy.utils.exceptions import AdapterParseError
        from dspy.utils.usage_tracker import UsageTracker

        config = _config(node, attempt)
        tracker = UsageTracker()
        cut_tokens = (0, 0)
        try:
            prediction = self._predict(signature, template, node, lm, tracker, config, tries)
            output = programs.to_json(prediction, template)
            error = invalid(output, template)
            # the text is kept for outputs glanc rejects; an accepted one is its output
            raw = None if error is None else json.dumps(output, ensure_ascii=False)
            tried = _Try(output, raw, error)
        except TransportFailure as exc:
            tried = _Try(None, None, f"{TRANSPORT}{exc}", retry=False)
        except Cancelled:
            raise
        except AdapterParseError as exc:
            error = "unparseable output: " + str(exc).strip().splitlines()[0]
            tried = _Try(None, exc.lm_response, error)
        except Exception as exc:
            cut = _cut_short(exc)
            if cut is None:  # a failure that retrying will not mend
                tried = _Try(None, None, _one_line(exc), retry=False)
            else:
                cut_tokens = cut.tokens
                tried = _cut_try(template, node.stage, cut)
        tokens = _add_usage(tracker, *cut_tokens)
        return _Try(tried.output, tried.raw, tried.error, tried.retry, tokens)

    def _predict(
        self,
        signature,
        template,
        node: Request,
        lm,
        tracker,
        config: dict[str, Any],
        tries: int | None = None,
    ):
        """One program call; the same request again, after a backoff, while the
        failure is the transport's (429 honouring Retry-After, 5xx, timeouts,
        dropped connections, a body that is not JSON, an empty reply)."""
        import dspy

        if tries is None:
            tries = int(node.model.ref.option("max_retries", TRANSPORT_ATTEMPTS - 1)) + 1
        for attempt in range(tries):
            try:
                # trace=None: DSPy otherwise keeps the last 10,000 predictions with
                # their inputs, and pops the oldest off the front of a list per call
                with dspy.context(
                    lm=lm,
                    adapter=programs.adapter_for(template),
                    usage_tracker=tracker,
                    disable_history=True,
                    trace=None,
                ):
                    return dspy.Predict(signature)(**node.inputs, config=config)
            except Exception as exc:
                wait = transient(exc)
                if wait is None:
                    raise
                if attempt == tries - 1:
                    raise TransportFailure(f"{_one_line(exc)} (after {attempt + 1} tries)") from exc
                backoff = min(BACKOFF_CAP_S, BACKOFF_BASE_S * 2**attempt) * random.uniform(0.5, 1)
                if self.stopping.wait(max(wait, backoff)):
                    raise Cancelled() from exc
        raise AssertionError("unreachable")


def _config(node: Request, attempt: int) -> dict[str, Any]:
    """Decoding of draw ``attempt``: its own seed, and some temperature after the first."""
    config = dict(node.decoding)
    config["seed"] = (node.seed + attempt - 1) % (2**31)
    if attempt > 1 and not config.get("temperature"):
        config["temperature"] = RETRY_TEMPERATURE
    return config


@dataclass(frozen=True)
class Attempt:
    """One draw judged from a reply that came back later (a batch): ``output`` when
    glanc takes it, else ``error``; ``retry``: whether a new draw may mend it."""

    output: dict[str, Any] | None
    raw: str | None
    error: str | None
    retry: bool
    tokens_in: int
    tokens_out: int


def _cut_try(template, stage: str, cut: CutShort) -> _Try:
    """A reply cut short: a list keeps its whole items (the unfinished last one
    left out) when it then validates; anything else is a failed try, never
    repaired into a shorter whole."""
    if template.format in ("list", "outline"):
        from .formats import FormatError, parse

        try:
            output = parse(template, cut.text, cut=True)
        except FormatError:
            output = None
        if output is not None and invalid(output, template) is None:
            return _Try(output, None, None)
    error = str(cut)
    if cut.reason == "length":
        error += f": raise decoding.{stage}.max_tokens in the spec"
    return _Try(None, cut.text, error)


@dataclass(frozen=True)
class _Try:
    """One draw's result: ``output`` when glanc takes it, else ``error``;
    ``retry``: whether a new draw may mend it; ``tokens``: (in, out) it spent."""

    output: dict[str, Any] | None
    raw: str | None
    error: str | None
    retry: bool = True
    tokens: tuple[int, int] = (0, 0)


class Cancelled(Exception):
    """The build was interrupted; the node's result is not recorded."""


class TransportFailure(Exception):
    """The server kept failing the same request: not the model's answer."""


def transient(exc: Exception) -> float | None:
    """Seconds the server asked to wait (0 when it did not say) if the failure is
    worth the same request again, else None."""
    from dspy.utils.exceptions import AdapterParseError, LMProviderError, is_retryable_lm_error

    if is_retryable_lm_error(exc):
        return float(getattr(exc, "retry_after", None) or 0)
    if isinstance(exc, LMProviderError) and getattr(exc, "status", None) in (None, 200):
        return 0.0  # an HTTP 200 whose body is cut short or not JSON
    if isinstance(exc, AdapterParseError) and not (exc.lm_response or "").strip():
        return 0.0  # an empty reply (no choices)
    return None


def _cut_short(exc: BaseException) -> CutShort | None:
    return cause(exc, CutShort)


def _add_usage(tracker, tokens_in: int, tokens_out: int) -> tuple[int, int]:
    for usage in tracker.get_total_tokens().values():
        tokens_in += int(usage.get("prompt_tokens") or 0)
        tokens_out += int(usage.get("completion_tokens") or 0)
    return tokens_in, tokens_out


def _one_line(exc: Exception) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0] if text else ""  # cut after redaction, not here
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
