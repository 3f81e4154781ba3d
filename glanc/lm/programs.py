"""Build one DSPy program per stage from its template spec.

The template's JSON Schema field types become pydantic types, so DSPy's
JSONAdapter sends the model a strict response schema (llama.cpp turns it into a
grammar). Top-level bounded fields are wrapped in a ``RootModel``: DSPy builds
its response schema from bare annotations and would drop a ``maxItems`` (or
``minLength``) given as field metadata, and without it a small model repeats items forever.

``fingerprint`` is pure (no DSPy import) so planning and validation stay fast.
"""

from __future__ import annotations

import functools
import re
from typing import TYPE_CHECKING, Annotated, Any, Literal

from ..specs.types import StageTemplate

if TYPE_CHECKING:
    import dspy

ADAPTER = "JSONAdapter"
TEXT_ADAPTER = "glanc.TemplateAdapter"


def fingerprint(template: StageTemplate) -> dict[str, Any]:
    """Everything about a stage's program that reaches the prompt or the parser.
    A json stage's is as it was before plain-text formats existed (its keys stay)."""
    out: dict[str, Any] = {
        "instructions": template.instructions,
        "inputs": [[f.name, f.schema] for f in template.inputs],
        "outputs": [[f.name, f.schema] for f in template.outputs],
        "adapter": ADAPTER if template.structured else TEXT_ADAPTER,
    }
    if not template.structured:
        example = template.example
        out["format"] = template.format
        out["prompt"] = template.prompt
        out["example"] = None if example is None else [dict(example[0]), example[1]]
    return out


def _class_name(name: str) -> str:
    return "".join(part.capitalize() for part in re.split(r"[^A-Za-z0-9]+", name) if part) or "T"


def pydantic_type(schema: dict[str, Any], name: str) -> Any:
    """The pydantic type for one field schema (the subset template.schema.json allows)."""
    import pydantic

    kind = schema["type"]
    if "enum" in schema:
        return Literal[tuple(schema["enum"])]
    if kind == "string":
        bounds = {}
        if "minLength" in schema:
            bounds["min_length"] = schema["minLength"]
        if "maxLength" in schema:
            bounds["max_length"] = schema["maxLength"]
        return Annotated[str, pydantic.Field(**bounds)] if bounds else str
    if kind == "integer":
        return int
    if kind == "number":
        return float
    if kind == "boolean":
        return bool
    if kind == "array":
        item = pydantic_type(schema.get("items", {"type": "string"}), name + "_item")
        bounds = {}
        if "minItems" in schema:
            bounds["min_length"] = schema["minItems"]
        if "maxItems" in schema:
            bounds["max_length"] = schema["maxItems"]
        return Annotated[list[item], pydantic.Field(**bounds)] if bounds else list[item]
    properties = schema.get("properties") or {}
    required = set(schema.get("required") or properties)
    fields: dict[str, Any] = {}
    for prop, sub in properties.items():
        annotation = pydantic_type(sub, f"{name}_{prop}")
        desc = sub.get("description")
        default = ... if prop in required else None
        fields[prop] = (annotation, pydantic.Field(default, description=desc))
    return pydantic.create_model(_class_name(name), **fields)


_BOUNDS = {"minItems", "maxItems", "minLength", "maxLength"}


def _output_annotation(schema: dict[str, Any], name: str) -> Any:
    import pydantic

    annotation = pydantic_type(schema, name)
    if set(schema) & _BOUNDS:
        return type(_class_name(name), (pydantic.RootModel[annotation],), {})
    return annotation


@functools.lru_cache(maxsize=64)
def signature(template: StageTemplate) -> type[dspy.Signature]:
    """The DSPy Signature of a stage: instructions plus typed input and output fields."""
    import dspy

    fields: dict[str, Any] = {}
    for f in template.inputs:
        desc = f.schema.get("description")
        kw = {"desc": desc} if desc else {}
        fields[f.name] = (pydantic_type(f.schema, f.name), dspy.InputField(**kw))
    for f in template.outputs:
        desc = f.schema.get("description")
        kw = {"desc": desc} if desc else {}
        fields[f.name] = (_output_annotation(f.schema, f.name), dspy.OutputField(**kw))
    return dspy.make_signature(
        fields, template.instructions, signature_name=_class_name(template.stage) + "Signature"
    )


def to_json(prediction: Any, template: StageTemplate) -> dict[str, Any]:
    """A prediction's outputs as plain JSON data (pydantic models dumped)."""
    import pydantic

    out: dict[str, Any] = {}
    for f in template.outputs:
        value = prediction[f.name]
        if isinstance(value, pydantic.BaseModel):
            out[f.name] = value.model_dump(mode="json")
        else:
            out[f.name] = pydantic.TypeAdapter(Any).dump_python(value, mode="json")
    return out


@functools.lru_cache(maxsize=1)
def adapter() -> dspy.JSONAdapter:
    """DSPy's JSONAdapter, with what depends only on the signature computed once.

    Its ``parse`` is strict: a reply that is not a JSON object as it stands is
    a failed try, never repaired.

    Per call, the adapter rebuilt the system message and the pydantic response
    schema from the signature: a fifth of a remote call's CPU in glanc's
    process, which runs every call under one GIL. The messages and schema are
    the same (``tests/test_snapshots.py`` checks them against the plain adapter).
    """
    import dspy

    class MemoJSONAdapter(dspy.JSONAdapter):
        def __init__(self):
            super().__init__()
            self._system: dict[Any, str] = {}
            self._formats: dict[Any, Any] = {}

        def format_system_message(self, signature):
            text = self._system.get(signature)
            if text is None:
                text = self._system[signature] = super().format_system_message(signature)
            return text

        def _prepare_response_format(self, lm, lm_kwargs, signature):
            key = (signature, lm.supports_response_schema, "response_format" in lm.supported_params)
            if key not in self._formats:
                probe: dict[str, Any] = {}
                super()._prepare_response_format(lm, probe, signature)
                self._formats[key] = probe.get("response_format")
            if self._formats[key] is not None:
                lm_kwargs["response_format"] = self._formats[key]

        def parse(self, signature, completion):
            # DSPy falls back to json_repair, which turns a reply cut in half into
            # a shorter valid object: glanc takes a reply only as it is
            import json

            from dspy.utils.exceptions import AdapterParseError

            try:
                value = json.loads(completion)
            except ValueError as exc:
                raise AdapterParseError(
                    adapter_name="JSONAdapter",
                    signature=signature,
                    lm_response=completion,
                    message=f"the reply is not valid JSON ({exc})",
                ) from None
            if not isinstance(value, dict):
                raise AdapterParseError(
                    adapter_name="JSONAdapter",
                    signature=signature,
                    lm_response=completion,
                    message="the reply is not a JSON object",
                )
            return super().parse(signature, completion)

    return MemoJSONAdapter()


def messages(template: StageTemplate, inputs: dict[str, Any]) -> list[dict[str, Any]]:
    """The chat messages a call of this stage sends for ``inputs``: the very
    adapter the call uses formats them (``glanc show`` prints them)."""
    return adapter_for(template).format(signature(template), [], inputs)


def adapter_for(template: StageTemplate):
    """The adapter of a stage: DSPy's JSONAdapter (memoised) for a json stage, the
    template's own messages and parser for a text, list or outline stage."""
    return adapter() if template.structured else _template_adapter(template)


@functools.lru_cache(maxsize=64)
def _template_adapter(template: StageTemplate):
    import dspy
    from dspy.utils.exceptions import AdapterParseError

    from . import formats

    class TemplateAdapter(dspy.Adapter):
        """Formats a stage's messages from its template (instructions, example,
        prompt) and parses the reply in the stage's format; no JSON, no field
        markers: nothing of the machinery reaches the model's text."""

        def format(self, signature, demos, inputs):
            return formats.messages(template, inputs)

        def parse(self, signature, completion):
            try:
                return formats.parse(template, completion)
            except formats.FormatError as exc:
                raise AdapterParseError(
                    adapter_name="TemplateAdapter",
                    signature=signature,
                    lm_response=completion,
                    message=str(exc),
                ) from None

    return TemplateAdapter()
