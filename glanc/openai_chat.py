"""An engine that speaks the OpenAI Chat Completions wire to any compatible server.

vLLM, SGLang, Ollama, LM Studio, llama.cpp's servers and OpenAI itself all take
``/chat/completions``. DSPy 3.4's own route to an unknown ``openai/NAME``
behind an ``api_base`` sends neither a response schema (so a small model writes
free-form text that fails to parse) nor ``max_tokens`` (it sends
``max_completion_tokens``, which llama-cpp-python's server ignores: one call ran
2,100 tokens past a 400-token limit). This engine plugs into DSPy's engine hook,
like the in-process one, so the program, adapter and parsing stay DSPy's; it
only owns the request. Failures are raised as ``dspy.lm15`` errors so that
DSPy and ``call.transient`` classify them the same way as DSPy's own route.
"""

from __future__ import annotations

import json
from typing import Any

from .engines import _response, response_schema

#: how a server is asked for JSON matching the output schema
STRUCTURED = ("json_schema", "json_object", "none")


class OpenAIChatEngine:
    """One model on one OpenAI-compatible server; safe to call from many threads
    (one pooled HTTP client, no per-call state)."""

    supports_response_schema = True
    supported_params = ("response_format",)

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        structured: str = "json_schema",
        connections: int = 256,
    ):
        import httpx

        if structured not in STRUCTURED:
            raise ValueError(f"structured_output must be one of {', '.join(STRUCTURED)}")
        self.model = model
        self.structured = structured
        headers = {"Authorization": f"Bearer {api_key}"} if api_key else {}
        self._client = httpx.Client(
            base_url=base_url.rstrip("/") + "/",
            headers=headers,
            timeout=httpx.Timeout(timeout, connect=min(timeout, 10.0)),
            limits=httpx.Limits(max_connections=connections, max_keepalive_connections=connections),
        )

    def body(self, request: Any) -> dict[str, Any]:
        """The JSON body for a ``dspy.lm15`` request (public for tests)."""
        cfg = request.config
        messages = []
        if request.system:
            messages.append({"role": "system", "content": request.system})
        messages += [{"role": m.role, "content": m.text or ""} for m in request.messages]
        body: dict[str, Any] = {"model": self.model, "messages": messages}
        for name in ("max_tokens", "temperature", "top_p", "seed"):
            value = getattr(cfg, name, None)
            if value is not None:
                body[name] = value
        if cfg.stop:
            body["stop"] = list(cfg.stop)
        schema = response_schema(cfg.response_format)
        if schema is not None and self.structured == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {"name": "output", "schema": schema, "strict": True},
            }
        elif schema is not None and self.structured == "json_object":
            # llama-cpp-python's server and Anyscale: a JSON object with the schema beside it
            body["response_format"] = {"type": "json_object", "schema": schema}
        return body

    def complete(self, request: Any):
        import httpx
        from dspy import lm15

        try:
            reply = self._client.post("chat/completions", json=self.body(request))
        except httpx.TimeoutException as exc:
            raise lm15.TimeoutError(f"no reply within the timeout ({type(exc).__name__})") from None
        except httpx.HTTPError as exc:  # refused, reset, closed mid-body
            raise lm15.TransportError(f"{type(exc).__name__}: {str(exc)[:200]}") from None
        status = reply.status_code
        if status != 200:
            raise _http_error(status, reply)
        try:
            out = reply.json()
            choice = (out.get("choices") or [{}])[0]
            text = (choice.get("message") or {}).get("content") or ""
        except (ValueError, AttributeError, IndexError):
            raise lm15.ProviderError(
                f"HTTP 200 with a body that is not a chat completion: {reply.text[:80]!r}",
                status=200,
            ) from None
        usage = out.get("usage") or {}
        finish = choice.get("finish_reason") or "stop"
        return _response(
            request,
            text,
            finish if finish in ("stop", "length") else "stop",
            usage.get("prompt_tokens"),
            usage.get("completion_tokens"),
        )

    def close(self) -> None:
        self._client.close()


def _http_error(status: int, reply) -> Exception:
    """The ``dspy.lm15`` error for a non-200 reply; the body's message, never the
    request (which holds no key, but may be long)."""
    from dspy import lm15

    try:
        detail = json.dumps(reply.json().get("error", reply.json()))[:200]
    except ValueError:
        detail = reply.text[:200]
    message = f"HTTP {status}: {detail}"
    if status == 429:
        return lm15.RateLimitError(message, status=status, retry_after=_retry_after(reply))
    if status in (408, 504):
        return lm15.TimeoutError(message, status=status)
    if status >= 500:
        return lm15.ServerError(message, status=status, retry_after=_retry_after(reply))
    if status in (401, 403):
        return lm15.AuthError(message, status=status)
    return lm15.InvalidRequestError(message, status=status)


def _retry_after(reply) -> float | None:
    try:
        return float(reply.headers.get("retry-after", ""))
    except ValueError:
        return None
