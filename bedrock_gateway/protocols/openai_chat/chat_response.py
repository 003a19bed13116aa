"""A Converse response -> an OpenAI `chat.completion`, and the stop-reason mapping that the
stream translator shares. The shapes themselves (completion, usage) are built in chat_shapes.py.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from bedrock_gateway.protocols.openai_chat.chat_shapes import chat_completion, chat_usage

STOP_REASONS: Mapping[str, str] = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "tool_use": "tool_calls",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "guardrail_intervened": "content_filter",
    "content_filtered": "content_filter",
}


def finish_reason_for(stop_reason: object, *, tool_calls: bool,
                      legacy_functions: bool = False) -> str:
    """OpenAI's finish_reason. `tool_use` without a client-visible tool call (the structured
    output tool answered) is a normal stop; a legacy `functions` request gets `function_call`."""
    reason = STOP_REASONS.get(stop_reason, "stop") if isinstance(stop_reason, str) else "stop"
    if reason == "tool_calls" and not tool_calls:
        return "stop"
    if reason == "tool_calls" and legacy_functions:
        return "function_call"
    return reason


def _arguments(value: object) -> str:
    return orjson.dumps(value if value is not None else {}).decode()


def from_converse_response(resp: Mapping[str, Any], *, model: str, completion_id: str,
                           created: int, structured_tool: str | None,
                           legacy_functions: bool = False) -> dict[str, Any]:
    """The OpenAI `chat.completion` for a Converse response.

    The structured-output tool's input becomes the content (alone: text the model wrote around
    the call is dropped, as a client parsing JSON needs). Redacted reasoning and reasoning
    signatures are never shown. A request with legacy `functions` gets the first call as
    `message.function_call` (the legacy shape holds one call) and finish_reason `function_call`.
    """
    output = resp.get("output") or {}
    blocks = (output.get("message") or {}).get("content") or ()
    texts: list[str] = []
    reasoning: list[str] = []
    tool_calls: list[dict[str, Any]] = []
    structured: str | None = None
    for block in blocks:
        if not isinstance(block, dict):
            continue
        if "text" in block:
            texts.append(block["text"])
        elif "toolUse" in block:
            use = block["toolUse"]
            name = use.get("name")
            if structured_tool is not None and name == structured_tool:
                structured = _arguments(use.get("input"))
            else:
                tool_calls.append({"id": use.get("toolUseId"), "type": "function",
                                   "function": {"name": name,
                                                "arguments": _arguments(use.get("input"))}})
        elif "reasoningContent" in block:
            text = (block["reasoningContent"].get("reasoningText") or {}).get("text")
            if text:
                reasoning.append(text)
    content = structured if structured is not None else "".join(texts)
    message: dict[str, Any] = {"role": "assistant", "content": content or None}
    if tool_calls and legacy_functions:
        message["function_call"] = tool_calls[0]["function"]
    elif tool_calls:
        message["tool_calls"] = tool_calls
    if reasoning:
        message["reasoning_content"] = "".join(reasoning)
    return chat_completion(
        completion_id=completion_id, created=created, model=model, message=message,
        finish_reason=finish_reason_for(resp.get("stopReason"), tool_calls=bool(tool_calls),
                                        legacy_functions=legacy_functions),
        usage=chat_usage(resp.get("usage") or {}))
