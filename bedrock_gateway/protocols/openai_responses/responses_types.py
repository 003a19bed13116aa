"""The shapes of a validated Responses API request (frozen dataclasses).

Input items stay in OpenAI's own JSON form after validation (normalised: every item has a `type`
and an `id`, message content is a list of parts) because they are also what the store keeps and
what `GET /responses/{id}/input_items` returns. Tools are already in Bedrock's naming: a function
inside a `namespace` and a `custom` tool each get a Bedrock tool name, and `tool_refs` maps every
Bedrock name back to what the client called it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

from bedrock_gateway.protocols.openai_chat import ResponseFormat, Tool, ToolChoice

# The single string input of a custom (freeform) tool, as a Bedrock tool parameter.
CUSTOM_INPUT_FIELD = "input"


@dataclass(frozen=True, slots=True)
class ToolRef:
    """What the client calls a Bedrock tool: a function or a custom tool, maybe in a namespace."""

    kind: Literal["function", "custom"]
    name: str
    namespace: str | None = None


@dataclass(frozen=True, slots=True)
class ResponsesRequest:
    model: str | None
    input_items: tuple[dict, ...]
    instructions: str | None = None
    stream: bool = False
    store: bool = True
    include: tuple[str, ...] = ()
    previous_response_id: str | None = None
    tools: tuple[Tool, ...] = ()
    tool_refs: Mapping[str, ToolRef] = field(default_factory=dict)
    dropped_tools: tuple[str, ...] = ()  # hosted tool types accepted but not forwarded
    tool_choice: ToolChoice | None = None
    parallel_tool_calls: bool = True
    max_output_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    reasoning_effort: str | None = None
    reasoning_summary: str | None = None
    text_format: ResponseFormat | None = None
    # Request fields the response object repeats (instructions, metadata, tools, text, ...).
    echo: Mapping[str, object] = field(default_factory=dict)

    @property
    def include_encrypted_reasoning(self) -> bool:
        return "reasoning.encrypted_content" in self.include
