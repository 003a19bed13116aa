"""Converse and ConverseStream through the real aiobotocore client: replies and every directive."""

from __future__ import annotations

import json
import time

import pytest

from bedrock_gateway.emulator.script import (
    example_from_schema,
    reply_chunks,
    reply_text,
)
from tests.support.constants import HAIKU
from tests.support.converse_events import collect, only, stream_text, user

TOOLS = {"tools": [{"toolSpec": {
    "name": "get_weather", "description": "weather",
    "inputSchema": {"json": {"type": "object", "properties": {
        "city": {"type": "string"}, "unit": {"enum": ["celsius", "fahrenheit"]}},
        "required": ["city", "unit"]}}}}]}


async def test_converse_text(runtime):
    response = await runtime.converse(
        modelId=HAIKU, messages=user("Hello brave world"),
        system=[{"text": "You are terse"}])
    assert response["output"]["message"] == {
        "role": "assistant", "content": [{"text": reply_text("Hello brave world", 8)}]}
    assert response["stopReason"] == "end_turn"
    assert response["usage"] == {"inputTokens": 6, "outputTokens": 8, "totalTokens": 14}
    assert response["metrics"]["latencyMs"] >= 1


async def test_converse_stream_events(runtime):
    response = await runtime.converse_stream(modelId=HAIKU, messages=user("Hi there"))
    assert response["ResponseMetadata"]["HTTPHeaders"]["content-type"] == \
        "application/vnd.amazon.eventstream"
    events = await collect(response)
    assert list(events[0]) == ["messageStart"] and events[0]["messageStart"]["role"] == \
        "assistant"
    deltas = only(events, "contentBlockDelta")
    assert [d["delta"]["text"] for d in deltas] == reply_chunks("Hi there", 8)
    assert only(events, "contentBlockStart") == []  # text blocks have no start event
    assert only(events, "contentBlockStop") == [{"contentBlockIndex": 0}]
    assert only(events, "messageStop") == [{"stopReason": "end_turn"}]
    [metadata] = only(events, "metadata")
    assert metadata["usage"] == {"inputTokens": 2, "outputTokens": 8, "totalTokens": 10}
    assert "latencyMs" in metadata["metrics"]
    assert [next(iter(e)) for e in events][-3:] == ["contentBlockStop", "messageStop",
                                                    "metadata"]


async def test_multi_turn_replies_to_last_user_message(runtime):
    messages = [*user("first question"),
                {"role": "assistant", "content": [{"text": "an answer"}]},
                *user("second one [[emu chunks=3]]")]
    response = await runtime.converse(modelId=HAIKU, messages=messages)
    assert response["output"]["message"]["content"][0]["text"] == "Echo: second one"
    assert response["usage"]["inputTokens"] == 2 + 2 + 2


@pytest.mark.parametrize("stop", ["end_turn", "max_tokens", "stop_sequence", "tool_use",
                                  "guardrail_intervened", "content_filtered",
                                  "model_context_window_exceeded"])
async def test_stop_directive(runtime, stop):
    events = await collect(await runtime.converse_stream(
        modelId=HAIKU, messages=user(f"go [[emu stop={stop}]]")))
    assert only(events, "messageStop") == [{"stopReason": stop}]
    response = await runtime.converse(modelId=HAIKU, messages=user(f"go [[emu stop={stop}]]"))
    assert response["stopReason"] == stop


async def test_chunks_and_text_directives(runtime):
    events = await collect(await runtime.converse_stream(
        modelId=HAIKU, messages=user("a b c [[emu chunks=20]]")))
    assert stream_text(events) == reply_text("a b c", 20)
    assert len(only(events, "contentBlockDelta")) == 20
    events = await collect(await runtime.converse_stream(
        modelId=HAIKU, messages=user("[[emu text=Exactly this, nothing else. chunks=4]]")))
    deltas = [d["delta"]["text"] for d in only(events, "contentBlockDelta")]
    assert "".join(deltas) == "Exactly this, nothing else." and len(deltas) == 4
    assert only(events, "metadata")[0]["usage"]["outputTokens"] == 4


async def test_delay_directive_paces_events(runtime):
    start = time.monotonic()
    arrivals = []
    response = await runtime.converse_stream(
        modelId=HAIKU, messages=user("x [[emu chunks=4 delay_ms=60]]"))
    async for _ in response["stream"]:
        arrivals.append(time.monotonic() - start)
    # 8 events, 7 gaps of 60 ms, each flushed when written
    assert arrivals[-1] - arrivals[0] >= 0.35
    assert arrivals[1] - arrivals[0] >= 0.04
    start = time.monotonic()
    await runtime.converse(modelId=HAIKU, messages=user("x [[emu chunks=2 delay_ms=50]]"))
    assert time.monotonic() - start >= 0.25  # a non-streamed call takes as long


async def test_stall_directive(runtime):
    start = time.monotonic()
    response = await runtime.converse_stream(
        modelId=HAIKU, messages=user("x [[emu chunks=2 stall_after=2 stall_s=0.4]]"))
    arrivals = []
    async for _ in response["stream"]:
        arrivals.append(time.monotonic() - start)
    assert arrivals[1] < 0.3 and arrivals[2] >= 0.4
    assert len(arrivals) == 6


async def test_max_tokens_and_stop_sequences(runtime):
    response = await runtime.converse(
        modelId=HAIKU, messages=user("one two three four five"),
        inferenceConfig={"maxTokens": 3})
    assert response["stopReason"] == "max_tokens"
    assert response["output"]["message"]["content"][0]["text"] == "Echo: one two"
    assert response["usage"]["outputTokens"] == 3
    events = await collect(await runtime.converse_stream(
        modelId=HAIKU, messages=user("one two three four five"),
        inferenceConfig={"stopSequences": ["thr", "zzz"]}))
    assert stream_text(events) == "Echo: one two "
    assert only(events, "messageStop")[0]["stopReason"] == "stop_sequence"


async def test_cache_usage_directive(runtime):
    events = await collect(await runtime.converse_stream(
        modelId=HAIKU, messages=user("hi [[emu cache_read=100 cache_write=20 chunks=2]]")))
    assert only(events, "metadata")[0]["usage"] == {
        "inputTokens": 1, "outputTokens": 2, "totalTokens": 123,
        "cacheReadInputTokens": 100, "cacheWriteInputTokens": 20}


async def test_tool_directive_streams_tool_use(runtime):
    text = ('[[emu tool=get_weather:{"city": "Paris", "unit": "celsius"} '
            'tool=get_weather:{"city": "Oslo", "unit": "celsius"} text_before=Let me check]]')
    events = await collect(await runtime.converse_stream(
        modelId=HAIKU, messages=user(text), toolConfig=TOOLS))
    assert stream_text(events, 0) == "Let me check"
    starts = only(events, "contentBlockStart")
    assert [s["contentBlockIndex"] for s in starts] == [1, 2]
    uses = [s["start"]["toolUse"] for s in starts]
    assert [u["name"] for u in uses] == ["get_weather", "get_weather"]
    assert all(u["toolUseId"].startswith("tooluse_") for u in uses)
    assert uses[0]["toolUseId"] != uses[1]["toolUseId"]
    fragments = [d["delta"]["toolUse"]["input"] for d in only(events, "contentBlockDelta")
                 if d["contentBlockIndex"] == 1]
    assert len(fragments) > 1
    assert json.loads("".join(fragments)) == {"city": "Paris", "unit": "celsius"}
    assert only(events, "messageStop")[0]["stopReason"] == "tool_use"
    response = await runtime.converse(modelId=HAIKU, messages=user(text), toolConfig=TOOLS)
    content = response["output"]["message"]["content"]
    assert content[0] == {"text": "Let me check"}
    assert content[2]["toolUse"]["input"] == {"city": "Oslo", "unit": "celsius"}
    assert content[1]["toolUse"]["toolUseId"] == uses[0]["toolUseId"]  # deterministic
    assert response["stopReason"] == "tool_use"


async def test_forced_tool_replies_with_schema_example(runtime):
    config = {**TOOLS, "toolChoice": {"tool": {"name": "get_weather"}}}
    events = await collect(await runtime.converse_stream(
        modelId=HAIKU, messages=user("weather?"), toolConfig=config))
    [start] = only(events, "contentBlockStart")
    assert start["start"]["toolUse"]["name"] == "get_weather"
    fragments = [d["delta"]["toolUse"]["input"] for d in only(events, "contentBlockDelta")]
    expected = example_from_schema(TOOLS["tools"][0]["toolSpec"]["inputSchema"]["json"])
    assert json.loads("".join(fragments)) == expected
    assert any(f.count('"') % 2 for f in fragments)  # cut mid-string
    assert only(events, "messageStop")[0]["stopReason"] == "tool_use"


async def test_tool_result_round_trip(runtime):
    first = await runtime.converse(
        modelId=HAIKU, messages=user('[[emu tool=get_weather:{"city": "Rome"}]]'),
        toolConfig=TOOLS)
    assistant = first["output"]["message"]
    use_id = assistant["content"][0]["toolUse"]["toolUseId"]
    messages = [*user('[[emu tool=get_weather:{"city": "Rome"}]]'), assistant,
                {"role": "user", "content": [{"toolResult": {
                    "toolUseId": use_id, "content": [{"json": {"temp": 21}}]}}]}]
    response = await runtime.converse(modelId=HAIKU, messages=messages, toolConfig=TOOLS)
    assert response["stopReason"] == "end_turn"


async def test_structured_output_json_schema(runtime):
    schema = {"type": "object", "properties": {"name": {"type": "string"},
                                               "age": {"type": "integer", "minimum": 18}},
              "required": ["name", "age"], "additionalProperties": False}
    output_config = {"textFormat": {"type": "json_schema", "structure": {
        "jsonSchema": {"schema": json.dumps(schema), "name": "person"}}}}
    events = await collect(await runtime.converse_stream(
        modelId=HAIKU, messages=user("who?"), outputConfig=output_config))
    assert json.loads(stream_text(events)) == {"name": "string", "age": 18}
    response = await runtime.converse(modelId=HAIKU, messages=user("who?"),
                                      outputConfig=output_config)
    assert json.loads(response["output"]["message"]["content"][0]["text"]) == \
        example_from_schema(schema)


async def test_reasoning_directive(runtime):
    text = "Why? [[emu reasoning=Let me think about it carefully chunks=3]]"
    events = await collect(await runtime.converse_stream(modelId=HAIKU, messages=user(text)))
    block0 = [d["delta"]["reasoningContent"] for d in only(events, "contentBlockDelta")
              if d["contentBlockIndex"] == 0]
    assert "".join(r.get("text", "") for r in block0) == "Let me think about it carefully"
    assert "signature" in block0[-1] and all("text" in r for r in block0[:-1])
    assert stream_text(events, 1) == reply_text("Why?", 3)
    assert only(events, "contentBlockStop") == [{"contentBlockIndex": 0},
                                                {"contentBlockIndex": 1}]
    response = await runtime.converse(modelId=HAIKU, messages=user(text))
    reasoning, answer = response["output"]["message"]["content"]
    assert reasoning["reasoningContent"]["reasoningText"]["text"] == \
        "Let me think about it carefully"
    assert reasoning["reasoningContent"]["reasoningText"]["signature"] == block0[-1]["signature"]
    assert answer == {"text": reply_text("Why?", 3)}


async def test_redacted_reasoning_directive(runtime):
    events = await collect(await runtime.converse_stream(
        modelId=HAIKU, messages=user("x [[emu redacted=1]]")))
    first = only(events, "contentBlockDelta")[0]
    assert first["contentBlockIndex"] == 0
    assert isinstance(first["delta"]["reasoningContent"]["redactedContent"], bytes)
    response = await runtime.converse(modelId=HAIKU, messages=user("x [[emu redacted=1]]"))
    redacted = response["output"]["message"]["content"][0]["reasoningContent"]
    assert redacted["redactedContent"] == first["delta"]["reasoningContent"]["redactedContent"]


async def test_profile_and_application_profile(runtime):
    arn = "arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/abc123xyz"
    for model in ("us.anthropic.claude-3-7-sonnet-20250219-v1:0",
                  "global.anthropic.claude-sonnet-4-20250514-v1:0", arn,
                  "arn:aws:bedrock:us-east-1::foundation-model/" + HAIKU,
                  ("arn:aws:bedrock:us-east-1:123456789012:inference-profile/"
                   "us.deepseek.r1-v1:0")):
        response = await runtime.converse(modelId=model, messages=user("hey [[emu chunks=2]]"))
        assert response["output"]["message"]["content"][0]["text"] == "Echo: hey"
