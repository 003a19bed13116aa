"""Anthropic's Messages body, as Bedrock takes it on InvokeModel for Claude models.

Pure. `read_anthropic_body` checks the body the way Bedrock's Anthropic endpoint does (required
keys, roles, block shapes, image sources inline only, thinking signatures genuine) and reads it
as a Converse request, so the shared `plan_reply` answers it. `anthropic_summary` is what the
control API shows of such a request (block kinds, never texts), and `count_input_tokens` is the
CountTokens answer for it.

A thinking block sent back must carry the signature the emulator gave it
(`script.signature_for(thinking)`), as Claude's own check requires; a forged or edited one is a
ValidationException naming the block.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Mapping
from typing import Any

from bedrock_gateway.emulator.emulated_errors import validation
from bedrock_gateway.emulator.reply import input_tokens
from bedrock_gateway.emulator.script import signature_for

ANTHROPIC_VERSION = "bedrock-2023-05-31"
_ALLOWED_KEYS = frozenset({
    "anthropic_version", "anthropic_beta", "max_tokens", "messages", "system", "tools",
    "tool_choice", "temperature", "top_p", "top_k", "stop_sequences", "thinking", "metadata",
    "output_config", "context_management", "container", "mcp_servers", "service_tier",
})
_IMAGE_TYPES = {"image/png": "png", "image/jpeg": "jpeg", "image/gif": "gif",
                "image/webp": "webp"}


def _malformed(detail: str) -> Exception:
    return validation(f"Malformed input request: {detail}, please reformat your input and try "
                      "again.")


def _decode(data: Any, where: str) -> str:
    try:
        raw = base64.b64decode(data if isinstance(data, str) else "", validate=True)
    except (binascii.Error, ValueError):
        raise validation(f"{where}: invalid base64 data") from None
    if not raw:
        raise validation(f"{where}: the data is empty")
    return base64.b64encode(raw).decode()


def _block(block: Any, where: str) -> list[dict[str, Any]]:
    if not isinstance(block, Mapping) or not isinstance(block.get("type"), str):
        raise _malformed(f"#/{where}: expected an object with a type")
    kind = block["type"]
    if kind == "text":
        text = block.get("text")
        if not isinstance(text, str):
            raise _malformed(f"#/{where}/text: expected type: String")
        return [{"text": text}] if text.strip() else []
    if kind in ("image", "document"):
        source = block.get("source") or {}
        if source.get("type") != "base64" and not (kind == "document"
                                                   and source.get("type") == "text"):
            raise validation(f"{where}.source.type: only base64 sources are supported "
                             f"(got {source.get('type')!r}).")
        if kind == "image":
            fmt = _IMAGE_TYPES.get(source.get("media_type", ""))
            if fmt is None:
                raise validation(f"{where}.source.media_type: unsupported image type.")
            return [{"image": {"format": fmt, "source": {
                "bytes": _decode(source.get("data"), f"{where}.source.data")}}}]
        return [{"text": "[document]"}]
    if kind == "tool_use":
        return [{"toolUse": {"toolUseId": block.get("id"), "name": block.get("name"),
                             "input": block.get("input")}}]
    if kind == "tool_result":
        content = block.get("content")
        parts = [{"text": content}] if isinstance(content, str) else [
            p for i, part in enumerate(content or ()) for p in _block(part, f"{where}.content.{i}")]
        return [{"toolResult": {"toolUseId": block.get("tool_use_id"), "content": parts}}]
    if kind == "thinking":
        thinking, signature = block.get("thinking"), block.get("signature")
        if not isinstance(thinking, str) or signature != signature_for(thinking):
            raise validation(f"{where}: Invalid `signature` in `thinking` block")
        return [{"reasoningContent": {"reasoningText": {"text": thinking,
                                                        "signature": signature}}}]
    if kind == "redacted_thinking":
        _decode(block.get("data"), f"{where}.data")
        return []
    if kind == "search_result":  # newer than Converse: only the Anthropic body carries it
        texts = [p.get("text", "") for p in block.get("content") or () if isinstance(p, Mapping)]
        return [{"text": " ".join(texts)}] if any(t.strip() for t in texts) else []
    raise validation(f"{where}.type: Input tag '{kind}' found using 'type' does not match any "
                     "of the expected tags")


def _content(content: Any, where: str) -> list[dict[str, Any]]:
    if isinstance(content, str):
        return [{"text": content}] if content.strip() else []
    if not isinstance(content, list):
        raise _malformed(f"#/{where}: expected type: JSONArray")
    return [b for i, block in enumerate(content) for b in _block(block, f"{where}.{i}")]


def read_anthropic_body(body: Mapping[str, Any]) -> dict[str, Any]:
    """The body as a Converse request (for `plan_reply`), after Bedrock's checks."""
    for key in ("anthropic_version", "max_tokens", "messages"):
        if key not in body:
            raise _malformed(f"#: required key [{key}] not found")
    if body["anthropic_version"] != ANTHROPIC_VERSION:
        raise validation(f"anthropic_version: expected {ANTHROPIC_VERSION!r}")
    extra = sorted(set(body) - _ALLOWED_KEYS)
    if extra:
        raise _malformed(f"#: extraneous key [{extra[0]}] is not permitted")
    betas = body.get("anthropic_beta", [])
    if not isinstance(betas, list) or not all(isinstance(b, str) for b in betas):
        raise _malformed("#/anthropic_beta: expected type: JSONArray of strings")
    messages = body["messages"]
    if not isinstance(messages, list) or not messages:
        raise _malformed("#/messages: expected minItems: 1")
    converse_messages = []
    for i, message in enumerate(messages):
        if not isinstance(message, Mapping) or message.get("role") not in ("user", "assistant"):
            raise _malformed(f"#/messages/{i}/role: expected 'user' or 'assistant'")
        converse_messages.append({"role": message["role"],
                                  "content": _content(message.get("content"),
                                                      f"messages.{i}.content")})
    system = body.get("system")
    system_blocks = _content(system, "system") if system is not None else []
    config: dict[str, Any] = {"maxTokens": body["max_tokens"],
                              "stopSequences": body.get("stop_sequences") or []}
    converse: dict[str, Any] = {"messages": converse_messages, "system": system_blocks,
                                "inferenceConfig": config}
    tools = [t for t in body.get("tools") or () if isinstance(t, Mapping)]
    if tools:
        converse["toolConfig"] = {"tools": [{"toolSpec": {
            "name": t.get("name"), "inputSchema": {"json": t.get("input_schema") or {}}}}
            for t in tools]}
        choice = body.get("tool_choice") or {}
        if choice.get("type") == "tool":
            converse["toolConfig"]["toolChoice"] = {"tool": {"name": choice.get("name")}}
        elif choice.get("type") == "any":
            converse["toolConfig"]["toolChoice"] = {"any": {}}
    return converse


def count_input_tokens(body: Mapping[str, Any]) -> int:
    return input_tokens(read_anthropic_body(body))


def _block_kinds(content: Any) -> list[str]:
    return [_kind(b) for b in content] if isinstance(content, list) else ["text"]


def _kind(block: Any) -> str:
    if not isinstance(block, Mapping):
        return type(block).__name__
    kind = str(block.get("type"))
    if kind == "image":
        return f"image:{(block.get('source') or {}).get('type')}"
    if kind == "thinking":
        return "thinking:signed" if block.get("signature") == signature_for(
            str(block.get("thinking"))) else "thinking:unsigned"
    if block.get("cache_control"):
        return f"{kind}:cached"
    return kind


def anthropic_summary(body: Any) -> dict[str, Any] | None:
    """What a test may check of an Anthropic body: its keys, betas, each message's role and
    block kinds (`thinking:signed`, `image:base64`, `text:cached`, ...), tool names and
    tool_choice, the media type of each top-level image — never the texts."""
    if not isinstance(body, Mapping):
        return None
    messages = body.get("messages")
    if not isinstance(messages, list):
        messages = []
    return {
        "fields": sorted(map(str, body)),
        "anthropic_beta": body.get("anthropic_beta"),
        "anthropic_version": body.get("anthropic_version"),
        "messages": [{"role": m.get("role"), "blocks": _block_kinds(m.get("content"))}
                     for m in messages if isinstance(m, Mapping)],
        "tools": [t.get("name") for t in body.get("tools") or () if isinstance(t, Mapping)],
        "tool_choice": body.get("tool_choice"),
        "thinking": body.get("thinking"),
        "image_media_types": _image_media_types(messages),
    }


def _image_media_types(messages: list[Any]) -> list[Any]:
    blocks = [b for m in messages if isinstance(m, Mapping) and isinstance(m.get("content"), list)
              for b in m["content"] if isinstance(b, Mapping) and b.get("type") == "image"]
    return [b["source"].get("media_type") for b in blocks if isinstance(b.get("source"), Mapping)]
