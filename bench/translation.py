"""In-process CPU of the per-stream protocol work, with the real objects: the translator (or
relay) fed one 30-chunk reply's parsed Bedrock events, and the protocol's stream framing. Unlike
the process-level figures, this one does not move with the machine's noise, so it compares the
Anthropic Messages paths with chat completions even on a busy machine."""

from __future__ import annotations

import time

import orjson

from bedrock_gateway.protocols.anthropic_messages import (
    ConverseStreamTranslator,
    NativeStreamRelay,
)
from bedrock_gateway.server.protocol_writers import AnthropicSseWriter
from bedrock_gateway.server.sse import encode_chunks
from bedrock_gateway.protocols.openai_chat.chat_stream import ChunkTranslator

CHUNKS = 30
MODEL = "anthropic.claude-3-haiku-20240307-v1:0"
_USAGE = {"inputTokens": 12, "outputTokens": CHUNKS, "totalTokens": 12 + CHUNKS}


def converse_events() -> list[dict]:
    """ConverseStream events as botocore hands them over."""
    return ([{"messageStart": {"role": "assistant"}}]
            + [{"contentBlockDelta": {"delta": {"text": f" word{i}"}, "contentBlockIndex": 0}}
               for i in range(CHUNKS)]
            + [{"contentBlockStop": {"contentBlockIndex": 0}},
               {"messageStop": {"stopReason": "end_turn"}},
               {"metadata": {"usage": _USAGE, "metrics": {"latencyMs": 300}}}])


def invoke_events() -> list[dict]:
    """InvokeModelWithResponseStream events (Anthropic body) as botocore hands them over."""
    docs = [{"type": "message_start", "message": {
        "id": "msg_bdrk_x", "type": "message", "role": "assistant", "model": "claude-3-haiku",
        "content": [], "stop_reason": None, "stop_sequence": None,
        "usage": {"input_tokens": 12, "output_tokens": 1}}},
        {"type": "content_block_start", "index": 0, "content_block": {"type": "text", "text": ""}},
        {"type": "ping"}]
    docs += [{"type": "content_block_delta", "index": 0,
              "delta": {"type": "text_delta", "text": f" word{i}"}} for i in range(CHUNKS)]
    docs += [{"type": "content_block_stop", "index": 0},
             {"type": "message_delta", "delta": {"stop_reason": "end_turn", "stop_sequence": None},
              "usage": {"output_tokens": CHUNKS}},
             {"type": "message_stop", "amazon-bedrock-invocationMetrics": {
                 "inputTokenCount": 12, "outputTokenCount": CHUNKS, "invocationLatency": 300,
                 "firstByteLatency": 10}}]
    return [{"chunk": {"bytes": orjson.dumps(d)}} for d in docs]


def _per_stream_us(run, n: int) -> float:
    started = time.process_time()
    for _ in range(n):
        run()
    return round((time.process_time() - started) / n * 1e6, 1)


def translation_cpu_per_stream(n: int = 5000) -> dict:
    chat_events, native_events = converse_events(), invoke_events()

    def chat() -> None:
        t = ChunkTranslator(model=MODEL, completion_id="chatcmpl-x", created=0,
                            include_usage=True)
        for event in chat_events:
            chunks = t.feed(event)
            if chunks:
                encode_chunks(chunks)
        encode_chunks(t.finish())

    def messages_native() -> None:
        relay = NativeStreamRelay()
        for event in native_events:
            AnthropicSseWriter.encode(relay.feed(event))

    def messages_converse() -> None:
        t = ConverseStreamTranslator(model=MODEL, message_id="msg_x")
        for event in chat_events:
            AnthropicSseWriter.encode(t.feed(event))
        AnthropicSseWriter.encode(t.finish())

    for run in (chat, messages_native, messages_converse):  # warm
        _per_stream_us(run, 200)
    result = {"chat_us": _per_stream_us(chat, n),
              "messages_native_us": _per_stream_us(messages_native, n),
              "messages_converse_us": _per_stream_us(messages_converse, n)}
    result["native_vs_chat_pct"] = round(
        (result["messages_native_us"] / result["chat_us"] - 1) * 100, 1)
    result["converse_vs_chat_pct"] = round(
        (result["messages_converse_us"] / result["chat_us"] - 1) * 100, 1)
    return result
