"""An engine whose calls are answered later: how a Batch API reuses the very
prompts and parsers of a direct call.

DSPy renders a program's messages inside its adapter and parses the reply
there too, with the engine in between (DSPy's ``format()`` and ``parse()`` apart
from the transport). This engine is that middle: asked to *render*, it raises
``Rendered`` with the body ``OpenAIChatEngine`` would have sent, byte for
byte; asked to *answer* (inside ``answering(reply)``), it hands DSPy the reply
a batch returned for that body, read by the same ``openai_chat.reply`` as a
direct call's. So a batched node is rendered, checked, retried and recorded
exactly as the thread backend would.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from typing import Any

from .openai_chat import OpenAIChatEngine, reply

_REPLY: contextvars.ContextVar[dict[str, Any] | None] = contextvars.ContextVar(
    "glanc_batch_reply", default=None
)


class Rendered(Exception):
    """Not an error: the request a call would send, caught by ``Caller.render``."""

    def __init__(self, body: dict[str, Any]):
        super().__init__("rendered")
        self.body = body


@contextlib.contextmanager
def answering(completion: dict[str, Any]) -> Iterator[None]:
    """Within this block, a deferred engine answers with ``completion`` (a chat
    completion's JSON, as a batch output line's ``response.body`` holds it)."""
    token = _REPLY.set(completion)
    try:
        yield
    finally:
        _REPLY.reset(token)


class DeferredEngine:
    """Wraps the engine a direct call would use; never touches the network."""

    supports_response_schema = True
    supported_params = ("response_format",)

    def __init__(self, chat: OpenAIChatEngine):
        self.chat = chat

    def complete(self, request: Any):
        completion = _REPLY.get()
        if completion is None:
            raise Rendered(self.chat.body(request))
        return reply(request, completion)

