"""Engines behind ``dspy.LM``: llama.cpp in-process, and the deterministic stub.

Both plug into DSPy 3.4's engine hook (``dspy.LM("local/...", engine=...)``)
so every stage runs the same DSPy program whatever the model. ``openai/NAME`` with
an ``api_base`` (any OpenAI-compatible server) goes through ``glanc.openai_chat``;
other remote models use DSPy's own route. DSPy's response cache is always off:
glanc's DuckDB store is the one cache.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from pathlib import Path
from typing import Any

from .models import ModelInfo


def _response(request: Any, text: str, finish: str, tokens_in: int | None, tokens_out: int | None):
    from dspy.lm15 import Message, Response, Usage

    return Response(
        id=None,
        model=request.model,
        message=Message.assistant(text),
        finish_reason=finish,
        usage=Usage(input_tokens=tokens_in, output_tokens=tokens_out),
    )


class CutShort(Exception):
    """A structured reply that did not end by itself (``finish_reason`` other than
    ``stop``: cut by ``max_tokens``, stopped by a content filter). Its text is no
    whole answer: DSPy's JSON parser would repair it into a shorter, valid one."""

    def __init__(
        self, reason: str, text: str, max_tokens: int | None, tokens: tuple[int, int] = (0, 0)
    ):
        self.reason, self.text, self.max_tokens, self.tokens = reason, text, max_tokens, tokens
        where = f" at max_tokens={max_tokens}" if reason == "length" and max_tokens else ""
        super().__init__(f"reply cut short (finish_reason: {reason}){where}")


def finished(request: Any, text: str, finish: str | None, tokens: tuple[Any, Any] = (0, 0)) -> str:
    """The reply's finish reason, raising ``CutShort`` for a structured reply
    (one asked for JSON) that did not stop by itself. A free-text reply cut short
    is returned as such (``length``) for the quality checks to judge."""
    finish = finish or "stop"
    if finish == "stop":
        return finish
    if request.config.response_format:
        raise CutShort(
            finish, text, request.config.max_tokens, (int(tokens[0] or 0), int(tokens[1] or 0))
        )
    return "length"


def chat_messages(request: Any) -> list[dict[str, str]]:
    """A ``dspy.lm15`` request's system prompt and turns as OpenAI chat messages."""
    messages = []
    if request.system:
        messages.append({"role": "system", "content": request.system})
    messages += [{"role": m.role, "content": m.text or ""} for m in request.messages]
    return messages


def response_schema(response_format: dict[str, Any] | None) -> dict[str, Any] | None:
    """The JSON Schema inside an OpenAI-style ``response_format``, if any."""
    if not response_format:
        return None
    return response_format.get("schema") or (response_format.get("json_schema") or {}).get("schema")


class LlamaEngine:
    """One GGUF model in-process. llama.cpp contexts are not thread-safe, so
    calls are serialised; each call gets all cores."""

    supports_response_schema = True
    supported_params = ("response_format",)

    def __init__(self, path: Path, n_ctx: int = 4096, n_threads: int | None = None):
        from llama_cpp import Llama

        self.path = path
        self._lock = threading.Lock()
        self._llm = Llama(
            model_path=str(path),
            n_ctx=n_ctx,
            n_threads=n_threads or os.cpu_count() or 1,
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
                **kwargs,
            )
        choice = out["choices"][0]
        usage = out.get("usage") or {}
        text = choice["message"].get("content") or ""
        tokens = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
        return _response(
            request, text, finished(request, text, choice.get("finish_reason"), tokens), *tokens
        )


class StubEngine:
    """A deterministic fake model for tests and dry runs.

    It answers every request with JSON that satisfies the response schema,
    derived from a hash of the request (so from the node key's contents), after
    an optional simulated latency. Never a default; its rows are marked stub.
    """

    supports_response_schema = True
    supported_params = ("response_format",)

    def __init__(self, latency_ms: float = 0.0, name: str = "stub"):
        self.latency = latency_ms / 1000.0
        self.salt = [] if name == "stub" else [name]  # 'stub:NAME' writes other outputs

    def complete(self, request: Any):
        if self.latency:
            time.sleep(self.latency)
        seed_text = json.dumps(
            [request.system, [m.text for m in request.messages], request.config.seed, *self.salt],
            sort_keys=True,
        )
        schema = response_schema(request.config.response_format) or {"type": "object"}
        value = _fake(schema, schema, hashlib.sha256(seed_text.encode()).hexdigest(), "value")
        text = json.dumps(value)
        tokens_in = sum(len((m.text or "").split()) for m in request.messages)
        tokens_in += len((request.system or "").split())
        return _response(request, text, "stop", tokens_in, len(text.split()))


def _fake(schema: dict[str, Any], root: dict[str, Any], seed: str, name: str) -> Any:
    """A value of ``schema``, chosen by ``seed``; ``$ref`` resolved against ``root``."""
    if "$ref" in schema:
        target: Any = root
        for part in schema["$ref"].lstrip("#/").split("/"):
            target = target[part]
        return _fake(target, root, seed, name)
    if "anyOf" in schema:
        return _fake(schema["anyOf"][0], root, seed, name)
    if "enum" in schema:
        return schema["enum"][int(seed[:6], 16) % len(schema["enum"])]
    kind = schema.get("type", "string")
    tag = seed[:8]
    if kind == "object":
        props = schema.get("properties", {})
        return {
            prop: _fake(sub, root, hashlib.sha256(f"{seed}/{prop}".encode()).hexdigest(), prop)
            for prop, sub in props.items()
        }
    if kind == "array":
        lo = schema.get("minItems", 1)
        hi = schema.get("maxItems", lo + 3)
        n = max(lo, min(hi, 3))
        item = schema.get("items", {"type": "string"})
        return [
            _fake(item, root, hashlib.sha256(f"{seed}/{i}".encode()).hexdigest(), name)
            for i in range(n)
        ]
    if kind == "integer":
        return int(seed[:4], 16) % 100
    if kind == "number":
        return round(int(seed[:4], 16) / 655.36, 2)
    if kind == "boolean":
        return int(seed[:2], 16) % 2 == 0
    return f"stub {name} {tag}"


def make_lm(info: ModelInfo):
    """A ``dspy.LM`` for a resolved model, with DSPy's cache off."""
    import dspy

    if info.kind == "stub":
        engine = StubEngine(float(info.ref.option("latency_ms", 0) or 0), info.ref.id)
        return dspy.LM("local/stub", engine=engine, cache=False, num_retries=0)
    if info.kind == "gguf":
        assert info.path is not None
        engine = LlamaEngine(info.path, n_ctx=int(info.ref.option("n_ctx", 4096)))
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
        )
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
