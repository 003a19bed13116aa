"""Claude's Anthropic body on InvokeModel, as the emulator serves it: Bedrock's checks (required
and extraneous keys, inline images only, genuine thinking signatures), thinking and cache usage
scripted by directives, tool results quoted, and CountTokens."""

from __future__ import annotations

import base64
import json

import pytest

from bedrock_gateway.emulator.script import count_tokens, signature_for
from tests.support.constants import HAIKU

SONNET_45 = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
BASE = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 200}


async def invoke(runtime, body, model=SONNET_45):
    response = await runtime.invoke_model(modelId=model, body=json.dumps(body).encode())
    return json.loads(await response["body"].read())


async def test_thinking_with_signature_and_cache_usage(runtime):
    body = await invoke(runtime, {**BASE, "messages": [{"role": "user", "content":
        "q [[emu reasoning=Weigh it up cache_read=7 cache_write=3 chunks=2]]"}]})
    thinking, text = body["content"]
    assert thinking == {"type": "thinking", "thinking": "Weigh it up",
                        "signature": signature_for("Weigh it up")}
    assert text["type"] == "text"
    assert body["usage"]["cache_read_input_tokens"] == 7
    assert body["usage"]["cache_creation_input_tokens"] == 3


async def test_a_forged_thinking_signature_is_refused(runtime, emu):
    history = [{"role": "user", "content": "q"},
               {"role": "assistant", "content": [
                   {"type": "thinking", "thinking": "Weigh it up", "signature": "Zm9yZ2Vk"},
                   {"type": "text", "text": "a"}]},
               {"role": "user", "content": "next"}]
    with pytest.raises(runtime.exceptions.ValidationException) as caught:
        await invoke(runtime, {**BASE, "messages": history})
    assert "messages.1.content.0: Invalid `signature`" in caught.value.response["Error"]["Message"]
    history[1]["content"][0]["signature"] = signature_for("Weigh it up")
    await invoke(runtime, {**BASE, "messages": history})
    summary = (await emu.stats())["recent"][-1]["request"]
    assert summary["messages"][1] == {"role": "assistant", "blocks": ["thinking:signed", "text"]}


async def test_tool_results_are_quoted(runtime):
    body = await invoke(runtime, {**BASE, "tools": [{"name": "f", "input_schema": {}}],
                                  "messages": [
        {"role": "user", "content": "go"},
        {"role": "assistant", "content": [{"type": "tool_use", "id": "t1", "name": "f",
                                           "input": {}}]},
        {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1",
                                      "content": [{"type": "text", "text": "42 apples"}]}]}]})
    assert "".join(b["text"] for b in body["content"]) == "Tool result: 42 apples"


@pytest.mark.parametrize(("change", "message"), [
    ({"model": "claude"}, "extraneous key [model]"),
    ({"stream": True}, "extraneous key [stream]"),
    ({"anthropic_version": "2023-06-01"}, "anthropic_version"),
    ({"messages": [{"role": "user", "content": [{"type": "image", "source": {
        "type": "url", "url": "https://example.com/a.png"}}]}]}, "only base64 sources"),
    ({"messages": [{"role": "user", "content": [{"type": "mystery"}]}]}, "Input tag 'mystery'"),
])
async def test_bedrock_checks(runtime, change, message):
    body = {**BASE, "messages": [{"role": "user", "content": "x"}], **change}
    with pytest.raises(runtime.exceptions.ValidationException) as caught:
        await invoke(runtime, body)
    assert message in caught.value.response["Error"]["Message"]


async def test_count_tokens(runtime, emu):
    body = {**BASE, "system": "Be brief.", "messages": [{"role": "user", "content": "one two"}]}
    counted = await runtime.count_tokens(
        modelId="anthropic.claude-sonnet-4-5-20250929-v1:0",
        input={"invokeModel": {"body": json.dumps(body).encode()}})
    assert counted["inputTokens"] == count_tokens("Be brief. one two")
    [call] = [r for r in (await emu.stats())["recent"] if r["operation"] == "count-tokens"]
    assert call["request"]["messages"] == [{"role": "user", "blocks": ["text"]}]
    with pytest.raises(runtime.exceptions.ValidationException):
        await runtime.count_tokens(modelId="amazon.nova-lite-v1:0", input={"invokeModel": {
            "body": json.dumps(body).encode()}})
    await emu.add_fault(operation="count-tokens", error="ThrottlingException", times=1)
    with pytest.raises(runtime.exceptions.ThrottlingException):
        await runtime.count_tokens(modelId=HAIKU, input={"invokeModel": {
            "body": base64.b64encode(b"{}")}})
