"""Bedrock's own InvokeModel API served by the gateway under `/bedrock`, driven by the unmodified
AWS SDK (aiobotocore/botocore) with the gateway's key instead of SigV4: bodies and the binary event
stream pass through, errors come back as Bedrock's exceptions."""

from __future__ import annotations

import json
from contextlib import asynccontextmanager

import pytest
from aiobotocore.session import get_session
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError, EventStreamError

from bedrock_gateway.emulator.script import reply_text
from tests.support.constants import TEST_KEY

SONNET = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
BODY = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 100,
        "anthropic_beta": ["interleaved-thinking-2025-05-14"],
        "messages": [{"role": "user", "content": "Tell me more [[emu chunks=4]]"}]}


@asynccontextmanager
async def bedrock_client(gateway, header: str = "Authorization", key: str = TEST_KEY):
    """bedrock-runtime pointed at the gateway, sending the gateway key instead of signing."""
    session = get_session()
    session.set_credentials("unused", "unused")
    config = Config(signature_version=UNSIGNED, retries={"total_max_attempts": 1},
                    read_timeout=30)
    async with session.create_client("bedrock-runtime", region_name="us-east-1", config=config,
                                     endpoint_url=gateway.root + "/bedrock") as client:
        value = f"Bearer {key}" if header == "Authorization" else key

        def add_key(request, **_):
            request.headers[header] = value

        client.meta.events.register("before-send.bedrock-runtime.*", add_key)
        yield client


@pytest.mark.parametrize("header", ["Authorization", "x-api-key"])
async def test_invoke_passes_the_body_both_ways(gateway, emulator, header):
    async with bedrock_client(gateway, header) as client:
        response = await client.invoke_model(modelId=SONNET, body=json.dumps(BODY))
        answer = json.loads(await response["body"].read())
    assert answer["type"] == "message"
    assert answer["content"] == [{"type": "text", "text": reply_text("Tell me more", 4)}]
    assert response["ResponseMetadata"]["HTTPHeaders"][
        "x-amzn-bedrock-output-token-count"] == "4"
    [call] = [r for r in (await emulator.stats())["recent"] if r["model"]]
    assert call["operation"] == "invoke" and call["model"] == SONNET
    assert call["request"]["anthropic_beta"] == ["interleaved-thinking-2025-05-14"]
    assert call["request"]["anthropic_version"] == "bedrock-2023-05-31"


async def test_invoke_with_response_stream_event_stream(gateway, emulator):
    body = {**BODY, "messages": [{"role": "user", "content":
                                  'go [[emu tool=lookup:{"q": "x"} text_before=Sure]]'}],
            "tools": [{"name": "lookup", "input_schema": {"type": "object"}}]}
    async with bedrock_client(gateway) as client:
        response = await client.invoke_model_with_response_stream(modelId=SONNET,
                                                                   body=json.dumps(body))
        chunks = [json.loads(e["chunk"]["bytes"]) async for e in response["body"]]
    kinds = [c["type"] for c in chunks]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    partial = "".join(c["delta"].get("partial_json", "") for c in chunks
                      if c["type"] == "content_block_delta")
    assert json.loads(partial) == {"q": "x"}
    # Bedrock's own metrics reach the client unchanged (they are part of Bedrock's format).
    assert chunks[-1]["amazon-bedrock-invocationMetrics"]["outputTokenCount"] == \
        chunks[-2]["usage"]["output_tokens"]


async def test_errors_are_bedrock_exceptions(gateway, emulator):
    async with bedrock_client(gateway, key="wrong") as client:
        with pytest.raises(ClientError) as denied:
            await client.invoke_model(modelId=SONNET, body=json.dumps(BODY))
    assert denied.value.response["Error"]["Code"] == "UnrecognizedClientException"
    async with bedrock_client(gateway) as client:
        await emulator.add_fault(operation="invoke", error="ThrottlingException")
        with pytest.raises(client.exceptions.ThrottlingException):
            await client.invoke_model(modelId=SONNET, body=json.dumps(BODY))
        with pytest.raises(client.exceptions.ResourceNotFoundException):
            await client.invoke_model(modelId="anthropic.no-such-model-v1:0",
                                      body=json.dumps(BODY))
        with pytest.raises(client.exceptions.ValidationException):
            await client.invoke_model(modelId=SONNET, body=b"not json")


async def test_error_inside_the_stream_is_an_exception_event(gateway, emulator):
    await emulator.add_fault(operation="invoke-stream", stream_error="throttlingException",
                             error_after=3)
    async with bedrock_client(gateway) as client:
        response = await client.invoke_model_with_response_stream(modelId=SONNET,
                                                                   body=json.dumps(BODY))
        seen = []
        with pytest.raises(EventStreamError) as caught:
            async for event in response["body"]:
                seen.append(event)
    assert caught.value.response["Error"]["Code"] == "throttlingException"
    assert len(seen) == 3
