"""Errors as botocore surfaces them: pre-stream codes, mid-stream exceptions, validation."""

from __future__ import annotations

import base64

import pytest
from botocore.exceptions import ClientError, EventStreamError

from tests.support.constants import HAIKU
from tests.support.converse_events import collect, only, user

PRE_STREAM = [
    ("ValidationException", 400), ("AccessDeniedException", 403),
    ("ResourceNotFoundException", 404), ("ModelTimeoutException", 408),
    ("ThrottlingException", 429), ("ModelNotReadyException", 429),
    ("ServiceQuotaExceededException", 400), ("ModelErrorException", 424),
    ("InternalServerException", 500), ("ServiceUnavailableException", 503),
]


@pytest.mark.parametrize(("code", "status"), PRE_STREAM)
async def test_pre_stream_error_directive(runtime, code, status):
    exception = getattr(runtime.exceptions, code)
    calls = (
        runtime.converse(modelId=HAIKU, messages=user(f"x [[emu error={code}]]")),
        runtime.converse_stream(modelId=HAIKU, messages=user(f"x [[emu error={code}]]")),
        runtime.invoke_model(modelId=HAIKU, body=(
            '{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": '
            f'[{{"role": "user", "content": "x [[emu error={code}]]"}}]}}').encode()),
    )
    for call in calls:
        with pytest.raises(exception) as caught:
            await call
        error = caught.value.response
        assert error["Error"]["Code"] == code
        assert error["ResponseMetadata"]["HTTPStatusCode"] == status
        assert error["Error"]["Message"]


@pytest.mark.parametrize("code", ["throttlingException", "modelStreamErrorException",
                                  "validationException", "internalServerException",
                                  "serviceUnavailableException"])
async def test_mid_stream_exception(runtime, code):
    response = await runtime.converse_stream(
        modelId=HAIKU, messages=user(f"x [[emu stream_error={code} error_after=3]]"))
    received = []
    with pytest.raises(EventStreamError) as caught:
        async for event in response["stream"]:
            received.append(event)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["Error"]["Message"]
    assert len(received) == 3 and "messageStart" in received[0]


async def test_mid_stream_error_on_non_streamed_call_is_an_error_response(runtime):
    with pytest.raises(runtime.exceptions.ThrottlingException):
        await runtime.converse(modelId=HAIKU,
                               messages=user("x [[emu stream_error=throttlingException]]"))


async def test_invoke_stream_mid_stream_exception(runtime):
    body = (b'{"anthropic_version": "bedrock-2023-05-31", "max_tokens": 50, "messages": '
            b'[{"role": "user", "content": "x [[emu stream_error=modelTimeoutException '
            b'error_after=2]]"}]}')
    response = await runtime.invoke_model_with_response_stream(modelId=HAIKU, body=body)
    with pytest.raises(EventStreamError) as caught:
        async for _ in response["body"]:
            pass
    assert caught.value.response["Error"]["Code"] == "modelTimeoutException"


def text(value):
    return {"text": value}


TOOLS = {"tools": [{"toolSpec": {"name": "f", "inputSchema": {"json": {"type": "object"}}}}]}
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGNoaGgAAAMEAYFL09IQAAAAAElFTkSuQmCC")
INVALID = [
    ("empty conversation", {"messages": []}, "start with a user message"),
    ("leading assistant", {"messages": [{"role": "assistant", "content": [text("hi")]}]},
     "start with a user message"),
    ("not alternating", {"messages": [{"role": "user", "content": [text("a")]},
                                      {"role": "user", "content": [text("b")]}]},
     "alternate between user and assistant"),
    ("empty content", {"messages": [{"role": "user", "content": []}]}, "is empty"),
    ("blank text", {"messages": [{"role": "user", "content": [text("  ")]}]}, "is blank"),
    ("toolUse without toolConfig", {"messages": [
        {"role": "user", "content": [text("a")]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f",
                                                       "input": {}}}]}]}, "toolConfig"),
    ("toolResult without toolUse", {"toolConfig": TOOLS, "messages": [
        {"role": "user", "content": [text("a")]},
        {"role": "assistant", "content": [text("no tools here")]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t9",
                                                     "content": [text("r")]}}]}]},
     "toolUseId t9"),
    ("toolResult with another id", {"toolConfig": TOOLS, "messages": [
        {"role": "user", "content": [text("a")]},
        {"role": "assistant", "content": [{"toolUse": {"toolUseId": "t1", "name": "f",
                                                       "input": {}}}]},
        {"role": "user", "content": [{"toolResult": {"toolUseId": "t2",
                                                     "content": [text("r")]}}]}]},
     "toolUseId t2"),
    ("temperature above 1", {"messages": [{"role": "user", "content": [text("a")]}],
                             "inferenceConfig": {"temperature": 1.5}}, "temperature"),
    ("topP above 1", {"messages": [{"role": "user", "content": [text("a")]}],
                      "inferenceConfig": {"topP": 1.2}}, "topP"),
    ("thinking with temperature", {
        "messages": [{"role": "user", "content": [text("a")]}],
        "inferenceConfig": {"temperature": 0.5},
        "additionalModelRequestFields": {"thinking": {"type": "enabled",
                                                      "budget_tokens": 1024}}},
     "`temperature` may only be set to 1"),
    ("thinking with topP", {
        "messages": [{"role": "user", "content": [text("a")]}],
        "inferenceConfig": {"topP": 0.9},
        "additionalModelRequestFields": {"thinking": {"type": "enabled",
                                                      "budget_tokens": 1024}}}, "top_p"),
    ("image with a bad format", {"messages": [{"role": "user", "content": [
        text("see"), {"image": {"format": "bmp", "source": {"bytes": PNG}}}]}]}, "format"),
    ("image without bytes", {"messages": [{"role": "user", "content": [
        text("see"), {"image": {"format": "png", "source": {"bytes": b""}}}]}]}, "empty"),
    ("document with a bad format", {"messages": [{"role": "user", "content": [
        text("read"), {"document": {"format": "exe", "name": "d",
                                    "source": {"bytes": b"x"}}}]}]}, "format"),
    ("unknown directive", {"messages": [{"role": "user", "content": [
        text("[[emu nonsense=1]]")]}]}, "directive"),
]


@pytest.mark.parametrize(("name", "request_", "message"), INVALID, ids=[c[0] for c in INVALID])
async def test_validation_errors(runtime, name, request_, message):
    with pytest.raises(runtime.exceptions.ValidationException) as caught:
        await runtime.converse(modelId=HAIKU, **request_)
    assert message in caught.value.response["Error"]["Message"]


async def test_valid_media_blocks_and_thinking_with_temperature_1(runtime):
    response = await runtime.converse(modelId=HAIKU, messages=[{"role": "user", "content": [
        text("describe"), {"image": {"format": "png", "source": {"bytes": PNG}}},
        {"document": {"format": "txt", "name": "notes", "source": {"bytes": b"hello"}}}]}],
        inferenceConfig={"temperature": 1},
        additionalModelRequestFields={"thinking": {"type": "enabled", "budget_tokens": 1024}})
    assert response["stopReason"] == "end_turn"


async def test_model_identifiers(runtime, make_client):
    profile_only = "anthropic.claude-3-7-sonnet-20250219-v1:0"
    with pytest.raises(runtime.exceptions.ValidationException) as caught:
        await runtime.converse(modelId=profile_only, messages=user("x"))
    assert caught.value.response["Error"]["Message"] == (
        f"Invocation of model ID {profile_only} with on-demand throughput isn't supported. "
        "Retry your request with the ID or ARN of an inference profile that contains this "
        "model.")
    with pytest.raises(runtime.exceptions.ValidationException):
        await runtime.converse_stream(modelId=profile_only, messages=user("x"))
    events = await collect(await runtime.converse_stream(modelId="us." + profile_only,
                                                         messages=user("x")))
    assert only(events, "messageStop")
    for unknown in ("anthropic.claude-nope-v9:0", "eu." + profile_only,
                    "mistral.mistral-large-2407-v1:0"):  # mistral: us-west-2 only
        with pytest.raises(runtime.exceptions.ValidationException) as caught:
            await runtime.converse(modelId=unknown, messages=user("x"))
        assert caught.value.response["Error"]["Message"] == \
            "The provided model identifier is invalid."
    with pytest.raises(runtime.exceptions.ResourceNotFoundException):
        await runtime.converse(
            modelId="arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/nope",
            messages=user("x"))
    with pytest.raises(runtime.exceptions.ValidationException):  # an embedding model
        await runtime.converse(modelId="amazon.titan-embed-text-v2:0", messages=user("x"))
    west = await make_client(region="us-west-2")
    response = await west.converse(modelId="mistral.mistral-large-2407-v1:0",
                                   messages=user("x"))
    assert response["stopReason"] == "end_turn"
    eu = await make_client(region="eu-west-1")
    with pytest.raises(ClientError) as caught:  # the application profile lives in us-east-1
        await eu.converse(
            modelId="arn:aws:bedrock:us-east-1:123456789012:application-inference-profile/"
                    "abc123xyz", messages=user("x"))
    assert caught.value.response["Error"]["Code"] == "ValidationException"
