"""What every engine shares: DSPy's request and response types as the OpenAI chat
wire sees them, and the rule for a reply that did not end by itself.

Engines plug into DSPy 3.4's engine hook (``dspy.LM("local/...", engine=...)``);
each turns a ``dspy.lm15`` request into its transport and back through these.
"""

from __future__ import annotations

from typing import Any, TypeVar

E = TypeVar("E", bound=BaseException)


def response(request: Any, text: str, finish: str, tokens_in: int | None, tokens_out: int | None):
    from dspy.lm15 import Message, Response, Usage

    return Response(
        id=None,
        model=request.model,
        message=Message.assistant(text),
        finish_reason=finish,
        usage=Usage(input_tokens=tokens_in, output_tokens=tokens_out),
    )


class CutShort(Exception):
    """A reply that did not end by itself (``finish_reason`` other than ``stop``: cut
    by ``max_tokens``, stopped by a content filter). Its text is no whole answer:
    DSPy's JSON parser would repair it into a shorter, valid one, and a text reply
    would read as finished. The caller keeps a list's whole items, nothing else."""

    def __init__(
        self, reason: str, text: str, max_tokens: int | None, tokens: tuple[int, int] = (0, 0)
    ):
        self.reason, self.text, self.max_tokens, self.tokens = reason, text, max_tokens, tokens
        where = f" at max_tokens={max_tokens}" if reason == "length" and max_tokens else ""
        super().__init__(f"reply cut short (finish_reason: {reason}){where}")


def finished(request: Any, text: str, finish: str | None, tokens: tuple[Any, Any] = (0, 0)) -> str:
    """``stop``, or ``CutShort`` for a reply that did not end by itself (cut by
    ``max_tokens``, stopped by a filter): never repaired into a shorter whole.
    The caller decides what a cut reply is worth (a list keeps its whole items)."""
    finish = finish or "stop"
    if finish == "stop":
        return finish
    raise CutShort(
        finish, text, request.config.max_tokens, (int(tokens[0] or 0), int(tokens[1] or 0))
    )


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


def cause(exc: BaseException | None, kind: type[E]) -> E | None:
    """The ``kind`` exception an engine raised, also when DSPy wrapped it."""
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return None
