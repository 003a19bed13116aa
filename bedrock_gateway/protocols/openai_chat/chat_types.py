"""The shapes of a validated OpenAI chat request (frozen dataclasses)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

Role = Literal["system", "developer", "user", "assistant", "tool"]
REASONING_EFFORTS = ("none", "minimal", "low", "medium", "high")
TOOL_NAME = re.compile(r"[a-zA-Z0-9_-]{1,64}")


@dataclass(frozen=True, slots=True)
class TextPart:
    text: str


@dataclass(frozen=True, slots=True)
class ImagePart:
    url: str  # a data: URL or an http(s) URL, as sent


@dataclass(frozen=True, slots=True)
class FilePart:
    file_data: str  # a data: URL, or bare base64
    filename: str | None = None


ContentPart = TextPart | ImagePart | FilePart


@dataclass(frozen=True, slots=True)
class ToolCall:
    id: str
    name: str
    input: Any  # the parsed `arguments` (a JSON object)


@dataclass(frozen=True, slots=True)
class Message:
    role: Role
    content: tuple[ContentPart, ...]
    index: int  # position in the request's `messages`, for error params
    tool_calls: tuple[ToolCall, ...] = ()
    tool_call_id: str | None = None
    content_is_string: bool = False  # tool results: a string may be JSON
    # Assistant turns: Bedrock `reasoningContent` bodies restored from an earlier turn (the
    # Responses API carries them); sent before the turn's text and tool calls.
    reasoning: tuple[dict, ...] = ()


@dataclass(frozen=True, slots=True)
class Tool:
    name: str
    description: str | None
    parameters: dict
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ToolChoice:
    mode: Literal["auto", "none", "required", "function"]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ResponseFormat:
    type: Literal["text", "json_object", "json_schema"]
    name: str | None = None
    description: str | None = None
    schema: dict | None = None
    strict: bool = False


@dataclass(frozen=True, slots=True)
class ExtraBody:
    """Bedrock fields clients send through the openai SDK's `extra_body` (merged into the body)."""

    additional_model_request_fields: dict | None = None
    guardrail_config: dict | None = None
    performance_config: dict | None = None
    request_metadata: dict | None = None
    thinking: dict | None = None
    prompt_caching: bool | None = None
    top_k: int | None = None


@dataclass(frozen=True, slots=True)
class ChatRequest:
    model: str | None
    messages: tuple[Message, ...]
    stream: bool = False
    include_usage: bool = False
    max_tokens: int | None = None
    temperature: float | None = None
    top_p: float | None = None
    stop: tuple[str, ...] = ()
    tools: tuple[Tool, ...] = ()
    tool_choice: ToolChoice | None = None
    response_format: ResponseFormat | None = None
    reasoning_effort: str | None = None
    parallel_tool_calls: bool | None = None
    legacy_functions: bool = False  # sent `functions` (not `tools`): answer with `function_call`
    extra: ExtraBody = field(default_factory=ExtraBody)
