"""From a Converse request to a `Reply`: what the emulated model says, and how it is paced.

Pure. The reply is decided in this order: a `tool=` directive, then a forced tool
(`toolChoice.tool`, or `toolChoice.any`: the first tool), then a `text=` directive, then a JSON
schema asked for by `outputConfig`, then the echo formula of `script.reply_chunks`.
`inferenceConfig.stopSequences` cut the text reply at the first match (stop `stop_sequence`);
`maxTokens` smaller than its chunk count truncates it (stop `max_tokens`).

Usage: `inputTokens` counts the words of every input text (system, text blocks, tool inputs and
results; `[[emu ...]]` directives excluded); `outputTokens` counts the content deltas the reply
streams (text chunks, reasoning-text chunks, tool-input fragments); `totalTokens` is input +
output + cache read + cache write.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson

from bedrock_gateway.emulator.emulated_errors import lower_camel, pascal_case
from bedrock_gateway.emulator.script import (
    Directives,
    count_tokens,
    example_from_schema,
    parse_directives,
    reply_chunks,
    signature_for,
    split_text,
    stable_id,
    strip_directives,
)
from bedrock_gateway.emulator.validate import tool_schema

TOOL_FRAGMENTS = 3  # pieces a tool's input JSON streams in


@dataclass(frozen=True, slots=True)
class Block:
    kind: str  # "text" | "reasoning" | "redacted" | "tool"
    pieces: tuple[str, ...] = ()  # text / reasoning chunks, or tool-input JSON fragments
    signature: str = ""
    redacted: bytes = b""
    tool_use_id: str = ""
    name: str = ""
    input: Any = None

    @property
    def text(self) -> str:
        return "".join(self.pieces)


@dataclass(frozen=True, slots=True)
class Pacing:
    delay_ms: float = 0.0  # pause between two events
    stall_after: int | None = None  # events sent before a stall
    stall_s: float = 0.0
    stream_error: str | None = None  # lowerCamel exception member sent mid-stream
    error_after: int = 0  # events sent before it
    latency_ms: float = 0.0  # wait before the response headers


@dataclass(frozen=True, slots=True)
class Reply:
    blocks: tuple[Block, ...]
    stop_reason: str
    input_tokens: int
    cache_read: int = 0
    cache_write: int = 0
    error: str | None = None  # PascalCase error code answered instead of the reply
    pacing: Pacing = field(default_factory=Pacing)

    @property
    def output_tokens(self) -> int:
        return sum(len(b.pieces) for b in self.blocks if b.kind in ("text", "reasoning", "tool"))

    @property
    def usage(self) -> dict[str, int]:
        total = self.input_tokens + self.output_tokens + self.cache_read + self.cache_write
        usage = {"inputTokens": self.input_tokens, "outputTokens": self.output_tokens,
                 "totalTokens": total}
        if self.cache_read:
            usage["cacheReadInputTokens"] = self.cache_read
        if self.cache_write:
            usage["cacheWriteInputTokens"] = self.cache_write
        return usage


def last_user_text(messages: list[Mapping[str, Any]]) -> str:
    for message in reversed(messages):
        if message.get("role") == "user":
            return "".join(b["text"] for b in message.get("content") or () if "text" in b)
    return ""


def input_tokens(body: Mapping[str, Any]) -> int:
    total = sum(count_tokens(strip_directives(b.get("text", "")))
                for b in body.get("system") or ())
    for message in body.get("messages") or ():
        for block in message.get("content") or ():
            total += count_tokens(strip_directives(block.get("text", "")))
            if "toolUse" in block:
                total += count_tokens(orjson.dumps(block["toolUse"].get("input")).decode())
            for item in (block.get("toolResult") or {}).get("content") or ():
                total += count_tokens(item.get("text", "") or orjson.dumps(
                    item.get("json")).decode())
    return total


def _tool_results(messages: list[Mapping[str, Any]]) -> list[str] | None:
    """The texts of the last user turn's tool results, when it holds only tool results."""
    if not messages or messages[-1].get("role") != "user":
        return None
    blocks = messages[-1].get("content") or ()
    if not blocks or any("toolResult" not in b for b in blocks if "cachePoint" not in b):
        return None
    texts = []
    for block in blocks:
        for item in (block.get("toolResult") or {}).get("content") or ():
            texts.append(item["text"] if "text" in item
                         else orjson.dumps(item.get("json")).decode())
    return texts


def _quoting_reply(messages: list[Mapping[str, Any]]) -> tuple[str, Directives] | None:
    """(prompt, directives) of the latest user text, when it asks to quote tool results."""
    results = _tool_results(messages)
    if results is None:
        return None
    for message in reversed(messages[:-1]):
        if message.get("role") == "user":
            text = "".join(b["text"] for b in message.get("content") or () if "text" in b)
            if text.strip():
                prompt, emu = parse_directives(text)
                if emu.after_tool != "quote":
                    return None
                return prompt, Directives(text="Tool result: " + "\n".join(results),
                                          chunks=emu.chunks, reasoning=emu.reasoning)
    return None


def tool_results_text(messages: list[Mapping[str, Any]]) -> str | None:
    """The texts of the tool results in the last message, if it is a user turn holding any."""
    if not messages or messages[-1].get("role") != "user":
        return None
    results = [b["toolResult"] for b in messages[-1].get("content") or () if "toolResult" in b]
    if not results:
        return None
    return " ".join(item.get("text", "") or orjson.dumps(item.get("json")).decode()
                    for result in results for item in result.get("content") or ()
                    if "text" in item or "json" in item)


def plan_reply(body: Mapping[str, Any], *, chunks: int, delay_ms: float,
               quote_tool_results: bool = False) -> Reply:
    """The reply to a (validated) Converse request. ValueError: a malformed directive.

    A turn answering tool calls is quoted when the earlier user text says `after_tool=quote`;
    with `quote_tool_results` (Anthropic bodies) it is quoted unless a directive says otherwise:
    the text `"Tool result: " + the results' texts`, the way a model reads what its tools
    returned."""
    messages = body.get("messages") or []
    quoting = _quoting_reply(messages)
    prompt, emu = quoting or parse_directives(last_user_text(messages))
    quoted = tool_results_text(messages) if quote_tool_results and quoting is None else None
    if quoted is not None and emu.text is None and not emu.tools:
        emu = dataclasses.replace(emu, text="Tool result: " + strip_directives(quoted))
    n = emu.chunks or chunks
    blocks: list[Block] = []
    if emu.redacted:
        blocks.append(Block("redacted", redacted=b"emulator-redacted:" + hashlib.sha256(
            prompt.encode()).digest()))
    elif emu.reasoning:
        blocks.append(Block("reasoning", tuple(_word_pieces(emu.reasoning, n)),
                            signature=signature_for(emu.reasoning)))
    tools = _tool_calls(body, emu)
    if tools:
        if emu.text_before:
            blocks.append(Block("text", tuple(split_text(emu.text_before, n))))
        blocks.extend(_tool_block(prompt, i, name, args) for i, (name, args) in enumerate(tools))
        stop = "tool_use"
    else:
        if emu.text is not None:
            pieces = split_text(emu.text, n)
        elif (schema := _output_schema(body)) is not None:
            pieces = split_text(orjson.dumps(example_from_schema(schema)).decode(), n)
        else:
            pieces = reply_chunks(prompt, n)
        pieces, stop = _limit(pieces, body.get("inferenceConfig") or {})
        blocks.append(Block("text", tuple(pieces)))
    pacing = Pacing(
        delay_ms=delay_ms if emu.delay_ms is None else emu.delay_ms,
        stall_after=emu.stall_after, stall_s=emu.stall_s or 0.0,
        stream_error=lower_camel(emu.stream_error) if emu.stream_error else None,
        error_after=emu.error_after or 0)
    return Reply(tuple(blocks), emu.stop or stop, input_tokens(body), emu.cache_read or 0,
                 emu.cache_write or 0, pascal_case(emu.error) if emu.error else None, pacing)


def _word_pieces(text: str, n: int) -> list[str]:
    words = text.split(" ")
    size = max(1, -(-len(words) // n))
    return [" ".join(words[i:i + size]) + (" " if i + size < len(words) else "")
            for i in range(0, len(words), size)]


def _tool_calls(body: Mapping[str, Any], emu: Directives) -> list[tuple[str, Any]]:
    if emu.tools:
        return list(emu.tools)
    config = body.get("toolConfig") or {}
    choice = config.get("toolChoice") or {}
    if "tool" in choice:
        name = choice["tool"]["name"]
    elif "any" in choice:
        specs = [t["toolSpec"] for t in config.get("tools") or () if "toolSpec" in t]
        if not specs:
            return []
        name = specs[0]["name"]
    else:
        return []
    return [(name, example_from_schema(tool_schema(config, name)))]


def _tool_block(prompt: str, index: int, name: str, args: Any) -> Block:
    text = orjson.dumps(args).decode()
    return Block("tool", tuple(split_text(text, TOOL_FRAGMENTS)),
                 tool_use_id=stable_id("tooluse_", prompt, index, name, text), name=name,
                 input=args)


def _output_schema(body: Mapping[str, Any]) -> Any:
    text_format = (body.get("outputConfig") or {}).get("textFormat") or {}
    if text_format.get("type") != "json_schema":
        return None
    schema = ((text_format.get("structure") or {}).get("jsonSchema") or {}).get("schema")
    if isinstance(schema, str):
        try:
            return orjson.loads(schema)
        except orjson.JSONDecodeError:
            raise ValueError("outputConfig.textFormat.structure.jsonSchema.schema is not "
                             "valid JSON") from None
    return schema if isinstance(schema, dict) else None


def _limit(pieces: list[str], config: Mapping[str, Any]) -> tuple[list[str], str]:
    stop = "end_turn"
    text = "".join(pieces)
    cuts = [text.find(s) for s in config.get("stopSequences") or () if s and s in text]
    if cuts:
        cut = min(cuts)
        kept, used = [], 0
        for piece in pieces:
            if used >= cut:
                break
            kept.append(piece[: cut - used])
            used += len(piece)
        pieces, stop = [p for p in kept if p], "stop_sequence"
    max_tokens = config.get("maxTokens")
    if max_tokens is not None and len(pieces) > max_tokens:
        pieces, stop = pieces[:max_tokens], "max_tokens"
    return pieces, stop

