"""A `Reply` in Bedrock's Converse shapes: the response body, or the ConverseStream events.

Pure. `converse_frames` pre-encodes the whole stream once, so serving it is only writes.
"""

from __future__ import annotations

import base64
from typing import Any

from bedrock_gateway.emulator.eventstream_encoder import encode_events
from bedrock_gateway.emulator.reply import Block, Reply


def planned_latency_ms(reply: Reply, events: int) -> int:
    pacing = reply.pacing
    stall = pacing.stall_s * 1000 if pacing.stall_after is not None else 0.0
    return int(pacing.delay_ms * max(events - 1, 0) + stall + pacing.latency_ms) or 1


def _content(block: Block) -> dict[str, Any]:
    if block.kind == "text":
        return {"text": block.text}
    if block.kind == "reasoning":
        return {"reasoningContent": {"reasoningText": {"text": block.text,
                                                       "signature": block.signature}}}
    if block.kind == "redacted":
        return {"reasoningContent": {"redactedContent": base64.b64encode(block.redacted).decode()}}
    return {"toolUse": {"toolUseId": block.tool_use_id, "name": block.name, "input": block.input}}


def converse_body(reply: Reply) -> dict[str, Any]:
    content = [_content(b) for b in reply.blocks if b.pieces or b.kind == "redacted"]
    return {
        "output": {"message": {"role": "assistant", "content": content or [{"text": ""}]}},
        "stopReason": reply.stop_reason,
        "usage": reply.usage,
        "metrics": {"latencyMs": planned_latency_ms(reply, len(converse_events(reply)))},
    }


def _deltas(block: Block) -> list[dict[str, Any]]:
    if block.kind == "text":
        return [{"text": piece} for piece in block.pieces]
    if block.kind == "reasoning":
        return ([{"reasoningContent": {"text": piece}} for piece in block.pieces]
                + [{"reasoningContent": {"signature": block.signature}}])
    if block.kind == "redacted":
        return [{"reasoningContent": {"redactedContent":
                                      base64.b64encode(block.redacted).decode()}}]
    return [{"toolUse": {"input": piece}} for piece in block.pieces]


def converse_events(reply: Reply) -> list[tuple[str, dict[str, Any]]]:
    """ConverseStream's events, in order, as (event type, payload) pairs."""
    events: list[tuple[str, dict[str, Any]]] = [("messageStart", {"role": "assistant"})]
    index = 0
    for block in reply.blocks:
        deltas = _deltas(block)
        if not deltas:
            continue
        if block.kind == "tool":
            events.append(("contentBlockStart", {
                "start": {"toolUse": {"toolUseId": block.tool_use_id, "name": block.name}},
                "contentBlockIndex": index}))
        events.extend(("contentBlockDelta", {"delta": delta, "contentBlockIndex": index})
                      for delta in deltas)
        events.append(("contentBlockStop", {"contentBlockIndex": index}))
        index += 1
    events.append(("messageStop", {"stopReason": reply.stop_reason}))
    events.append(("metadata", {"usage": reply.usage, "metrics": {"latencyMs": 0}}))
    latency = planned_latency_ms(reply, len(events))
    events[-1][1]["metrics"]["latencyMs"] = latency
    return events


def converse_frames(reply: Reply) -> list[bytes]:
    return encode_events(converse_events(reply))
