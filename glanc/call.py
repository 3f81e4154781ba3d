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
import re
import threading
import time
from dataclasses import dataclass
from typing import Any

from . import programs
from .engines import make_lm
from .graph import Node
from .models import ModelInfo
from .spec import Template

MAX_ATTEMPTS = 3
RETRY_TEMPERATURE = 0.7


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
        self._lock = threading.Lock()
        self._adapter: Any = None

    @property
    def adapter(self):
        """One JSONAdapter for every call: it holds no per-call state."""
        if self._adapter is None:
            import dspy

            self._adapter = dspy.JSONAdapter()
        return self._adapter

    def lm(self, info: ModelInfo):
        with self._lock:
            if info not in self._lms:
                self._lms[info] = make_lm(info)
                # DSPy warns on every truncated response, and importing DSPy resets its
                # log level; glanc records, retries and reports those outputs itself
                logging.getLogger("dspy.clients.lm").setLevel(logging.ERROR)
            return self._lms[info]

    def __call__(self, node: Node) -> Outcome:
        import dspy
        from dspy.utils.exceptions import AdapterParseError
        from dspy.utils.usage_tracker import UsageTracker

        template = self.template.stage(node.stage)
        signature = programs.signature(template)
        lm = self.lm(node.model)
        tokens_in = tokens_out = 0
        output: dict[str, Any] | None = None
        raw: str | None = None
        error: str | None = None
        start = time.perf_counter()
        attempt = 0
        for attempt in range(1, MAX_ATTEMPTS + 1):
            config = dict(node.decoding)
            config["seed"] = (node.seed + attempt - 1) % (2**31)
            if attempt > 1 and not config.get("temperature"):
                config["temperature"] = RETRY_TEMPERATURE
            tracker = UsageTracker()
            retry = True
            try:
                # trace=None: DSPy otherwise keeps the last 10,000 predictions with
                # their inputs, and pops the oldest off the front of a list per call
                with dspy.context(
                    lm=lm,
                    adapter=self.adapter,
                    usage_tracker=tracker,
                    disable_history=True,
                    trace=None,
                ):
                    prediction = dspy.Predict(signature)(**node.inputs, config=config)
                output = programs.to_json(prediction, template)
                error = invalid(output, template)
                # the text is kept for outputs glanc rejects; an accepted one is its output
                raw = None if error is None else json.dumps(output, ensure_ascii=False)
            except AdapterParseError as exc:
                raw = exc.lm_response
                error = "unparseable output: " + str(exc).strip().splitlines()[0][:300]
            except Exception as exc:  # model/transport failure after DSPy's own retries
                raw = None
                error = _one_line(exc)
                retry = False
            tokens_in, tokens_out = _add_usage(tracker, tokens_in, tokens_out)
            if error is None or not retry:
                break
        latency = (time.perf_counter() - start) * 1000
        kept = output if error is None else None
        return Outcome(kept, raw, error, attempt, tokens_in, tokens_out, latency)


def _add_usage(tracker, tokens_in: int, tokens_out: int) -> tuple[int, int]:
    for usage in tracker.get_total_tokens().values():
        tokens_in += int(usage.get("prompt_tokens") or 0)
        tokens_out += int(usage.get("completion_tokens") or 0)
    return tokens_in, tokens_out


def _one_line(exc: Exception) -> str:
    text = str(exc).strip()
    first = text.splitlines()[0][:300] if text else ""
    return f"{type(exc).__name__}: {first}" if first else type(exc).__name__
