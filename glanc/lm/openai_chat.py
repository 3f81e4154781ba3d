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

import base64
import http.client
import json
import threading
import time
from typing import Any
from urllib.parse import urlsplit

from .credentials import redact, secret_forms
from .watchdog import WATCHDOG
from .wire import chat_messages, finished, response, response_schema

#: how a server is asked for JSON matching the output schema
STRUCTURED = ("json_schema", "json_object", "none")
DEFAULT_MAX_REPLY_BYTES = 8 << 20  # a model's max_reply_mb, unless it says otherwise


class ReplyTooLarge(Exception):
    def __init__(self, cap: int):
        super().__init__(
            f"reply larger than {cap / 2**20:g} MB: not read further "
            "(raise the model's max_reply_mb if the server is right)"
        )


class OpenAIChatEngine:
    """One model on one OpenAI-compatible server; safe to call from many threads.

    Each worker thread keeps its own keep-alive connection (``http.client``):
    with every call under one GIL, httpx's pool and h11 parser took a third of
    a call's CPU in glanc's process at concurrency 32, capping throughput well
    below the server's.
    """

    supports_response_schema = True
    supported_params = ("response_format",)

    def __init__(
        self,
        base_url: str,
        model: str,
        api_key: str | None = None,
        timeout: float = 120.0,
        structured: str = "json_schema",
        basic: tuple[str, str] | None = None,
        max_reply_bytes: int = DEFAULT_MAX_REPLY_BYTES,
    ):
        if structured not in STRUCTURED:
            raise ValueError(f"structured_output must be one of {', '.join(STRUCTURED)}")
        url = urlsplit(base_url.rstrip("/"))
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("api_base must be an http(s) URL")
        self.model = model
        self.structured = structured
        self.timeout = timeout
        self.max_reply_bytes = max_reply_bytes
        self._secrets = secret_forms(api_key, basic)
        self._https = url.scheme == "https"
        self._host = url.hostname
        self._port = url.port
        self._path = (url.path or "") + "/chat/completions"
        self._headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        elif basic:  # user:password from an api_base read from the environment
            token = base64.b64encode(f"{basic[0]}:{basic[1]}".encode()).decode("ascii")
            self._headers["Authorization"] = f"Basic {token}"
        self._local = threading.local()

    def body(self, request: Any) -> dict[str, Any]:
        """The JSON body for a ``dspy.lm15`` request (public for tests)."""
        cfg = request.config
        body: dict[str, Any] = {"model": self.model, "messages": chat_messages(request)}
        for name in (
            "max_tokens", "temperature", "top_p", "seed", "frequency_penalty", "presence_penalty"
        ):
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

    def _connection(self) -> tuple[http.client.HTTPConnection, bool]:
        """This thread's connection, and whether it has served a request before."""
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            return conn, True
        kind = http.client.HTTPSConnection if self._https else http.client.HTTPConnection
        conn = kind(self._host, self._port, timeout=self.timeout)
        self._local.conn = conn
        return conn, False

    def _drop(self) -> None:
        conn = getattr(self._local, "conn", None)
        self._local.conn = None
        if conn is not None:
            conn.close()

    def _post(self, payload: bytes) -> tuple[int, dict[str, str], bytes]:
        """One request and its whole reply within ``timeout`` seconds in all (a
        socket's timeout bounds each read only: a server trickling a byte a
        second would hold the call for ever), and at most ``max_reply_bytes``."""
        deadline = time.monotonic() + self.timeout
        for _ in range(2):
            conn, reused = self._connection()
            try:
                if conn.sock is None:
                    conn.connect()  # bounded by the socket timeout
            except BaseException:
                self._drop()
                raise
            alarm = WATCHDOG.arm(deadline, conn.sock)
            try:
                conn.request("POST", self._path, payload, self._headers)
                reply = conn.getresponse()
                data = self._read(reply)
            except (http.client.RemoteDisconnected, BrokenPipeError, ConnectionResetError):
                self._drop()
                if alarm.fired:
                    raise TimeoutError from None
                if reused:  # the server closed an idle keep-alive connection: once more, afresh
                    continue
                raise
            except BaseException:
                self._drop()
                if alarm.fired:
                    raise TimeoutError from None
                raise
            finally:
                WATCHDOG.disarm(alarm)
            if alarm.fired:  # the reply was cut at the deadline: no whole reply
                self._drop()
                raise TimeoutError
            if reply.will_close:
                self._drop()
            return reply.status, {k.lower(): v for k, v in reply.getheaders()}, data
        raise AssertionError("unreachable")

    def _read(self, reply: http.client.HTTPResponse) -> bytes:
        """The reply's body, refused past ``max_reply_bytes`` (an endless chunked
        body would otherwise fill the memory)."""
        cap = self.max_reply_bytes
        length = reply.getheader("content-length")
        if length is not None and length.isdigit() and int(length) > cap:
            raise ReplyTooLarge(cap)
        parts, total = [], 0
        while chunk := reply.read1(1 << 16):
            total += len(chunk)
            if total > cap:
                raise ReplyTooLarge(cap)
            parts.append(chunk)
        reply.read()  # nothing is left; marks the reply done, so its connection serves again
        return b"".join(parts)

    def complete(self, request: Any):
        from dspy import lm15

        payload = json.dumps(self.body(request)).encode()
        try:
            status, headers, data = self._post(payload)
        except ReplyTooLarge as exc:
            raise lm15.ProviderError(str(exc), status=200) from None
        except TimeoutError:  # no whole reply by the deadline
            raise lm15.TimeoutError(f"no whole reply within {self.timeout:g}s") from None
        except (OSError, http.client.HTTPException) as exc:  # refused, reset, cut short
            message = redact(f"{type(exc).__name__}: {exc}", self._secrets)
            raise lm15.TransportError(message[:200]) from None
        if status != 200:
            raise _http_error(status, headers, data, self._secrets)
        try:
            out = json.loads(data)
        except ValueError:
            raise lm15.ProviderError(
                f"HTTP 200 with a body that is not a chat completion: {data[:80]!r}",
                status=200,
            ) from None
        return reply(request, out)


def reply(request: Any, out: Any):
    """A chat completion's JSON as DSPy's response: its text, why it ended and its
    usage. Shared by this engine and the Batch API's output lines (``deferred``),
    so a batched call is judged exactly as a direct one."""
    from dspy import lm15

    try:
        choice = (out.get("choices") or [{}])[0]
        text = (choice.get("message") or {}).get("content") or ""
        usage = out.get("usage") or {}
    except (AttributeError, IndexError, TypeError):
        raise lm15.ProviderError(
            f"HTTP 200 with a body that is not a chat completion: {json.dumps(out)[:80]!r}",
            status=200,
        ) from None
    tokens = (usage.get("prompt_tokens"), usage.get("completion_tokens"))
    return response(
        request, text, finished(request, text, choice.get("finish_reason"), tokens), *tokens
    )


def _http_error(
    status: int, headers: dict[str, str], data: bytes, secrets: tuple[str, ...] = ()
) -> Exception:
    """The ``dspy.lm15`` error for a non-200 reply: the server's message, never
    the request, redacted whole before it is cut."""
    from dspy import lm15

    try:
        body = json.loads(data)
        detail = json.dumps(body.get("error", body) if isinstance(body, dict) else body)
    except ValueError:
        detail = data[:4096].decode("utf-8", "replace")
    detail = redact(detail, secrets)[:200]
    message = f"HTTP {status}: {detail}"
    retry_after = _retry_after(headers)
    if status == 429:
        return lm15.RateLimitError(message, status=status, retry_after=retry_after)
    if status in (408, 504):
        return lm15.TimeoutError(message, status=status)
    if status >= 500:
        return lm15.ServerError(message, status=status, retry_after=retry_after)
    if status in (401, 403):
        return lm15.AuthError(message, status=status)
    return lm15.InvalidRequestError(message, status=status)


def _retry_after(headers: dict[str, str]) -> float | None:
    try:
        return float(headers.get("retry-after", ""))
    except ValueError:
        return None
