"""Plain-text prompting: a stage's chat messages from its template, and its reply
parsed back into the stage's output.

Small models write good prose and poor JSON: asked through a JSON grammar,
SmolLM2-135M repeated list items and echoed field names; asked in plain words
with one example turn, it wrote usable subjects, syllabi, questions and
answers (QUALITY.md has the measurements). GLAN itself generates free text and
extracts structure afterwards. So a ``text`` stage's reply is its one string
output, a ``list`` stage's a numbered list, an ``outline`` stage's numbered
sessions each followed by a ``Key concepts:`` line.
"""

from __future__ import annotations

import re
from typing import Any

from ..keys import normalise_name
from ..specs.types import StageTemplate

PLACEHOLDER = re.compile(r"\{([A-Za-z_][A-Za-z0-9_]*)\}")
_NUMBERED = re.compile(r"^\s*(?:\*\*)?(?:\d{1,3}\s*[.):]|[-*\u2022])\s+(.*\S)\s*$")
_SESSION = re.compile(
    r"^\s*(?:\*\*)?(?:(?:session|class|lesson|week|unit)\s+)?\d{1,3}\s*[.):\-]\s*(.*\S)\s*$",
    re.IGNORECASE,
)
_CONCEPTS = re.compile(r"^\s*[-*]?\s*(?:\*\*)?key\s+concepts?(?:\*\*)?\s*:\s*(.*)$", re.IGNORECASE)
_LABEL = re.compile(r"^\s*(?:\*\*)?([A-Za-z ]{2,20})(?:\*\*)?\s*:\s*")


class FormatError(ValueError):
    """A reply that does not have the stage's shape (no numbered list, say)."""


def fill(prompt: str, inputs: dict[str, Any]) -> str:
    """The prompt with each ``{input}`` replaced by its value (arrays joined by commas)."""
    return PLACEHOLDER.sub(lambda m: _text(inputs[m.group(1)]), prompt)


def _text(value: Any) -> str:
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def messages(template: StageTemplate, inputs: dict[str, Any]) -> list[dict[str, str]]:
    """System message (the instructions), the example as a user and an assistant
    turn, then this call's prompt."""
    out = [{"role": "system", "content": template.instructions}]
    if template.example is not None:
        example_inputs, reply = template.example
        out.append({"role": "user", "content": fill(template.prompt, dict(example_inputs))})
        out.append({"role": "assistant", "content": reply})
    out.append({"role": "user", "content": fill(template.prompt, inputs)})
    return out


def parse(template: StageTemplate, reply: str, *, cut: bool = False) -> dict[str, Any]:
    """The stage's output from a reply; ``cut``: the reply stopped at ``max_tokens``,
    so its last item may be unfinished and is left out (a cut text reply is never
    taken). Raises ``FormatError``."""
    field = template.outputs[0]
    if template.format == "text":
        if cut:
            raise FormatError("a text reply cut short is no whole answer")
        return {field.name: _clean_text(reply, field.name)}
    if template.format == "list":
        items = _items(reply, _NUMBERED, cut)
        return {field.name: _list_value(items, field.schema)}
    return {field.name: _outline(reply, field.schema, cut)}


def _clean_text(reply: str, name: str) -> str:
    """The reply without surrounding quotes and a leading ``Question:``-style label."""
    text = reply.strip()
    label = _LABEL.match(text)
    if label and normalise_name(label.group(1)) in (normalise_name(name), "answer", "question"):
        text = text[label.end() :].strip()
    if len(text) >= 2 and text[0] == text[-1] and text[0] in "\"'":
        text = text[1:-1].strip()
    if not text:
        raise FormatError("the reply is empty")
    return text


def _strip_item(text: str) -> str:
    return " ".join(text.replace("**", "").strip().rstrip(":;,.").split())


def _items(reply: str, pattern: re.Pattern, cut: bool) -> list[str]:
    items = [_strip_item(m.group(1)) for line in reply.splitlines() if (m := pattern.match(line))]
    if cut and items:
        items = items[:-1]
    out = _unique(items)
    if not out:
        raise FormatError("the reply has no numbered list")
    return out


def _unique(items: list[str]) -> list[str]:
    """The items in order, each name once (as ``normalise_name`` compares them)."""
    seen: set[str] = set()
    out = []
    for item in items:
        key = normalise_name(item)
        if key and key not in seen:
            seen.add(key)
            out.append(item)
    return out


def _list_value(items: list[str], schema: dict[str, Any]) -> list[Any]:
    items = items[: schema.get("maxItems", len(items))]
    item_schema = schema.get("items") or {}
    if item_schema.get("type") == "object":
        return [{"name": item} for item in items]
    return items


def _outline(reply: str, schema: dict[str, Any], cut: bool) -> list[dict[str, Any]]:
    """Numbered sessions, each with the concepts of its ``Key concepts:`` line (or
    of bullet lines under it)."""
    concept_cap = ((schema.get("items") or {}).get("properties") or {}).get("key_concepts", {})
    cap = concept_cap.get("maxItems", 8)
    sessions: list[dict[str, Any]] = []
    for line in reply.splitlines():
        if m := _CONCEPTS.match(line):
            if sessions:
                sessions[-1]["key_concepts"] += [c for c in re.split(r"[,;]", m.group(1))]
        elif m := _SESSION.match(line):
            sessions.append(
                {"name": _strip_item(m.group(1)), "description": "", "key_concepts": []}
            )
        elif (m := _NUMBERED.match(line)) and sessions:
            sessions[-1]["key_concepts"].append(m.group(1))
    if cut and sessions:
        sessions = sessions[:-1]
    out, seen = [], set()
    for session in sessions:
        key = normalise_name(session["name"])
        concepts = _unique([_strip_item(c) for c in session["key_concepts"] if c.strip()])
        if key and key not in seen and concepts:
            seen.add(key)
            out.append({**session, "key_concepts": concepts[:cap]})
    if not out:
        raise FormatError("the reply has no numbered sessions with key concepts")
    return out[: schema.get("maxItems", len(out))]
