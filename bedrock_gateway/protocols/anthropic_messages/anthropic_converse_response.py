"""Converse's answer -> Anthropic's message object (non-streaming), and the stop-reason table
the stream translator shares."""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import Any

from bedrock_gateway.protocols.anthropic_messages.anthropic_usage import Usage

# Converse stopReason -> Anthropic stop_reason.
STOP_REASONS = {
    "end_turn": "end_turn", "tool_use": "tool_use", "max_tokens": "max_tokens",
    "stop_sequence": "stop_sequence", "guardrail_intervened": "refusal",
    "content_filtered": "refusal",
    "model_context_window_exceeded": "model_context_window_exceeded",
}


def stop_reason(converse_reason: str | None) -> str:
    return STOP_REASONS.get(converse_reason or "end_turn", "end_turn")


def content_block(block: Mapping[str, Any]) -> dict | None:
    """One Converse content block as an Anthropic block (None: nothing to show)."""
    if "text" in block:
        return {"type": "text", "text": block["text"]}
    if "toolUse" in block:
        use = block["toolUse"]
        return {"type": "tool_use", "id": use["toolUseId"], "name": use["name"],
                "input": use.get("input") if isinstance(use.get("input"), dict) else {}}
    reasoning = block.get("reasoningContent")
    if reasoning:
        if "redactedContent" in reasoning:
            data = reasoning["redactedContent"]
            return {"type": "redacted_thinking", "data": base64.b64encode(data).decode()
                    if isinstance(data, bytes) else str(data)}
        text = reasoning.get("reasoningText") or {}
        return {"type": "thinking", "thinking": text.get("text", ""),
                "signature": text.get("signature", "")}
    return None


def from_converse_response(response: Mapping[str, Any], *, model: str,
                           message_id: str) -> dict:
    message = (response.get("output") or {}).get("message") or {}
    content = [b for b in map(content_block, message.get("content") or ()) if b is not None]
    return {
        "id": message_id, "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": stop_reason(response.get("stopReason")),
        "stop_sequence": None, "usage": Usage.from_converse(response.get("usage")).as_dict(),
    }
