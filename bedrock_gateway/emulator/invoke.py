"""Text and image models through InvokeModel / InvokeModelWithResponseStream.

Pure. A native body (Anthropic Messages, read by `anthropic.read_anthropic_body`, Amazon Nova
`messages-v1`, or the `prompt` bodies of Meta, Mistral and DeepSeek) is read as a Converse
request (`to_converse`), answered by the same `plan_reply`, and the `Reply` is written back in
the provider's native response shape (`invoke_body`) or as the JSON documents of the stream's
`chunk` events (`invoke_chunks`).
"""

from __future__ import annotations

import base64
import struct
import zlib
from collections.abc import Mapping
from typing import Any

import orjson

from bedrock_gateway.emulator.anthropic import read_anthropic_body
from bedrock_gateway.emulator.emulated_errors import validation
from bedrock_gateway.emulator.eventstream_encoder import encode_events
from bedrock_gateway.emulator.reply import Reply
from bedrock_gateway.emulator.script import stable_id


def provider(model_id: str) -> str:
    return model_id.split(".", 1)[0]


def _malformed(detail: str) -> Exception:
    return validation(f"Malformed input request: {detail}, please reformat your input and try "
                      "again.")


def _texts(content: Any) -> list[dict[str, str]]:
    if isinstance(content, str):
        return [{"text": content}]
    blocks = []
    for part in content or ():
        if isinstance(part, Mapping) and isinstance(part.get("text"), str):
            blocks.append({"text": part["text"]})
    return blocks


def to_converse(model_id: str, body: Any) -> dict[str, Any]:
    if not isinstance(body, Mapping):
        raise _malformed("#: expected type: JSONObject")
    kind = provider(model_id)
    if kind == "anthropic":
        return read_anthropic_body(body)
    if "messages" in body:  # Amazon Nova messages-v1
        config = body.get("inferenceConfig") or {}
        limit = config.get("maxTokens", config.get("max_new_tokens"))
        return {"messages": [{"role": m.get("role"), "content": _texts(m.get("content"))}
                             for m in body["messages"]],
                "system": _texts(body.get("system")),
                "inferenceConfig": {"maxTokens": limit,
                                    "stopSequences": config.get("stopSequences") or []}}
    if not isinstance(body.get("prompt"), str):
        raise _malformed("#: required key [prompt] not found")
    limit = body.get("max_gen_len", body.get("max_tokens"))
    stops = body.get("stop") or []
    return {"messages": [{"role": "user", "content": [{"text": body["prompt"]}]}],
            "inferenceConfig": {"maxTokens": limit, "stopSequences": stops}}


def _anthropic_content(reply: Reply) -> list[dict[str, Any]]:
    content: list[dict[str, Any]] = []
    for block in reply.blocks:
        if block.kind == "text" and block.pieces:
            content.append({"type": "text", "text": block.text})
        elif block.kind == "reasoning":
            content.append({"type": "thinking", "thinking": block.text,
                            "signature": block.signature})
        elif block.kind == "redacted":
            content.append({"type": "redacted_thinking",
                            "data": base64.b64encode(block.redacted).decode()})
        elif block.kind == "tool":
            content.append({"type": "tool_use", "id": block.tool_use_id, "name": block.name,
                            "input": block.input})
    return content


def _text(reply: Reply) -> str:
    return "".join(b.text for b in reply.blocks if b.kind == "text")


def _finish(reply: Reply) -> str:
    return {"max_tokens": "length", "model_context_window_exceeded": "length"}.get(
        reply.stop_reason, "stop")


def _anthropic_usage(reply: Reply, output_tokens: int) -> dict[str, int]:
    return {"input_tokens": reply.input_tokens, "cache_creation_input_tokens": reply.cache_write,
            "cache_read_input_tokens": reply.cache_read, "output_tokens": output_tokens}


def invoke_body(model_id: str, reply: Reply) -> dict[str, Any]:
    kind = provider(model_id)
    if kind == "anthropic":
        return {"id": stable_id("msg_bdrk_", model_id, _text(reply)), "type": "message",
                "role": "assistant", "model": model_id.split(".", 1)[1].rsplit("-v", 1)[0],
                "content": _anthropic_content(reply), "stop_reason": reply.stop_reason,
                "stop_sequence": None, "usage": _anthropic_usage(reply, reply.output_tokens)}
    if kind == "amazon":
        return {"output": {"message": {"role": "assistant", "content": [{"text": _text(reply)}]}},
                "stopReason": reply.stop_reason, "usage": {
                    "inputTokens": reply.input_tokens, "outputTokens": reply.output_tokens,
                    "totalTokens": reply.input_tokens + reply.output_tokens}}
    if kind == "mistral":
        return {"outputs": [{"text": _text(reply), "stop_reason": _finish(reply)}]}
    if kind == "deepseek":
        return {"choices": [{"text": _text(reply), "stop_reason": _finish(reply)}]}
    return {"generation": _text(reply), "prompt_token_count": reply.input_tokens,
            "generation_token_count": reply.output_tokens, "stop_reason": _finish(reply)}


def invoke_chunks(model_id: str, reply: Reply, latency_ms: int) -> list[dict[str, Any]]:
    """The JSON documents carried, base64-encoded, by the stream's `chunk` events."""
    kind = provider(model_id)
    metrics = {"inputTokenCount": reply.input_tokens, "outputTokenCount": reply.output_tokens,
               "invocationLatency": latency_ms, "firstByteLatency": 1}
    if kind == "anthropic":
        message = invoke_body(model_id, reply) | {"content": [], "stop_reason": None,
                                                  "usage": _anthropic_usage(reply, 1)}
        chunks: list[dict[str, Any]] = [{"type": "message_start", "message": message}]
        for index, block in enumerate(_anthropic_content(reply)):
            start = dict(block)
            deltas: list[dict[str, Any]] = []
            if block["type"] == "text":
                start["text"] = ""
                deltas = [{"type": "text_delta", "text": p}
                          for p in _pieces(reply, "text", index)]
            elif block["type"] == "tool_use":
                start["input"] = {}
                deltas = [{"type": "input_json_delta", "partial_json": p}
                          for p in _pieces(reply, "tool", index)]
            elif block["type"] == "thinking":
                start.update(thinking="", signature="")
                deltas = [{"type": "thinking_delta", "thinking": p}
                          for p in _pieces(reply, "reasoning", index)]
                deltas.append({"type": "signature_delta", "signature": block["signature"]})
            chunks.append({"type": "content_block_start", "index": index,
                           "content_block": start})
            chunks.extend({"type": "content_block_delta", "index": index, "delta": d}
                          for d in deltas)
            chunks.append({"type": "content_block_stop", "index": index})
        chunks.append({"type": "message_delta", "delta": {"stop_reason": reply.stop_reason,
                                                           "stop_sequence": None},
                       "usage": {"output_tokens": reply.output_tokens}})
        if len(chunks) > 2:  # Claude pings once the message has started
            chunks.insert(1, {"type": "ping"})
        chunks.append({"type": "message_stop", "amazon-bedrock-invocationMetrics": metrics})
        return chunks
    pieces = [p for b in reply.blocks if b.kind == "text" for p in b.pieces] or [""]
    if kind == "amazon":
        chunks = [{"messageStart": {"role": "assistant"}}]
        chunks += [{"contentBlockDelta": {"delta": {"text": p}, "contentBlockIndex": 0}}
                   for p in pieces]
        chunks += [{"contentBlockStop": {"contentBlockIndex": 0}},
                   {"messageStop": {"stopReason": reply.stop_reason}},
                   {"metadata": {"usage": invoke_body(model_id, reply)["usage"]},
                    "amazon-bedrock-invocationMetrics": metrics}]
        return chunks
    chunks = []
    for i, piece in enumerate(pieces):
        last = i == len(pieces) - 1
        finish = _finish(reply) if last else None
        if kind == "mistral":
            chunk: dict[str, Any] = {"outputs": [{"text": piece, "stop_reason": finish}]}
        elif kind == "deepseek":
            chunk = {"choices": [{"text": piece, "stop_reason": finish}]}
        else:
            chunk = {"generation": piece, "prompt_token_count": reply.input_tokens if not i
                     else None, "generation_token_count": i + 1, "stop_reason": finish}
        if last:
            chunk["amazon-bedrock-invocationMetrics"] = metrics
        chunks.append(chunk)
    return chunks


def _pieces(reply: Reply, kind: str, index: int) -> tuple[str, ...]:
    blocks = [b for b in reply.blocks if b.pieces or b.kind == "redacted"]
    block = blocks[index]
    return block.pieces if block.kind == kind else ()


def chunk_frames(documents: list[dict[str, Any]]) -> list[bytes]:
    """`chunk` events, each carrying one JSON document base64-encoded in `bytes`."""
    return encode_events(("chunk", {"bytes": base64.b64encode(orjson.dumps(d)).decode()})
                         for d in documents)


def image_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, Mapping) or not isinstance(body.get("prompt"), str):
        raise _malformed("#: required key [prompt] not found")
    seed = int(body.get("seed", 0))
    return {"seeds": [seed], "finish_reasons": [None],
            "images": [base64.b64encode(_png(1, 1)).decode()]}


def _png(width: int, height: int) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))

    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    rows = b"".join(b"\x00" + b"\x80\x80\x80" * width for _ in range(height))
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(rows))
            + chunk(b"IEND", b""))
