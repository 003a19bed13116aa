"""Regions from SigV4, fault rules through the control API, stats and open streams."""

from __future__ import annotations

import time

import aiohttp
import pytest
from botocore.exceptions import EventStreamError

from tests.support.constants import HAIKU
from tests.support.converse_events import collect, only, user



async def test_region_comes_from_sigv4(emu, make_client):
    east = await make_client(region="us-east-1")
    west = await make_client(region="us-west-2")
    await east.converse(modelId=HAIKU, messages=user("a"))
    await west.converse(modelId=HAIKU, messages=user("b"))
    await collect(await west.converse_stream(modelId=HAIKU, messages=user("c")))
    control = await make_client("bedrock", region="eu-west-1")
    await control.list_foundation_models()
    stats = await emu.stats()
    assert stats["by"] == {"us-east-1 converse": 1, "us-west-2 converse": 1,
                           "us-west-2 converse-stream": 1, "eu-west-1 list-foundation-models": 1}
    assert stats["requests_total"] == 4
    assert [(r["region"], r["operation"], r["model"]) for r in stats["recent"]] == [
        ("us-east-1", "converse", HAIKU), ("us-west-2", "converse", HAIKU),
        ("us-west-2", "converse-stream", HAIKU), ("eu-west-1", "list-foundation-models", None)]
    assert all(isinstance(r["ts"], float) for r in stats["recent"])


async def test_request_without_sigv4_uses_default_region(emu):
    async with aiohttp.ClientSession() as session, session.post(
            f"{emu.base_url}/model/{HAIKU.replace(':', '%3A')}/converse",
            json={"messages": user("hi")}, headers={"Authorization": "Bearer abc"}) as response:
        assert response.status == 200
        assert (await response.json())["stopReason"] == "end_turn"
    assert (await emu.stats())["by"] == {"us-east-1 converse": 1}


async def test_per_region_fault(emu, make_client):
    east = await make_client(region="us-east-1")
    west = await make_client(region="us-west-2")
    await emu.add_fault(region="us-east-1", operation="converse-stream",
                        error="ThrottlingException")
    with pytest.raises(east.exceptions.ThrottlingException):
        await east.converse_stream(modelId=HAIKU, messages=user("x"))
    await east.converse(modelId=HAIKU, messages=user("x"))  # another operation
    await collect(await west.converse_stream(modelId=HAIKU, messages=user("x")))
    status, _ = await emu.control("DELETE", "faults")
    assert status == 200
    await collect(await east.converse_stream(modelId=HAIKU, messages=user("x")))


async def test_fault_times_and_model_match(emu, runtime):
    await emu.add_fault(operation="*", model=HAIKU, error="ServiceUnavailableException",
                        times=2)
    for _ in range(2):
        with pytest.raises(runtime.exceptions.ServiceUnavailableException):
            await runtime.converse(modelId="us." + HAIKU, messages=user("x"))
    await runtime.converse(modelId=HAIKU, messages=user("x"))
    await emu.add_fault(model="amazon.nova-lite-v1:0", error="ModelErrorException")
    await runtime.converse(modelId=HAIKU, messages=user("x"))
    with pytest.raises(runtime.exceptions.ModelErrorException):
        await runtime.converse(modelId="amazon.nova-lite-v1:0", messages=user("x"))
    _, body = await emu.control("GET", "faults")
    assert [f["model"] for f in body["faults"]] == ["amazon.nova-lite-v1:0"]


async def test_stream_error_fault(emu, runtime):
    await emu.add_fault(operation="converse-stream", stream_error="throttlingException",
                        error_after=2, times=1)
    response = await runtime.converse_stream(modelId=HAIKU, messages=user("x"))
    received = []
    with pytest.raises(EventStreamError) as caught:
        async for event in response["stream"]:
            received.append(event)
    assert caught.value.response["Error"]["Code"] == "throttlingException"
    assert len(received) == 2
    assert only(await collect(await runtime.converse_stream(modelId=HAIKU, messages=user("x"))),
                "messageStop")


async def test_latency_and_slow_stream_faults(emu, runtime):
    await emu.add_fault(operation="converse", latency_ms=300, times=1)
    start = time.monotonic()
    await runtime.converse(modelId=HAIKU, messages=user("x"))
    assert time.monotonic() - start >= 0.3
    await emu.add_fault(operation="converse-stream", delay_ms=40, times=1)
    start = time.monotonic()
    await collect(await runtime.converse_stream(modelId=HAIKU,
                                                messages=user("x [[emu chunks=3]]")))
    assert time.monotonic() - start >= 6 * 0.04


async def test_control_plane_faults(emu, make_client):
    control = await make_client("bedrock", region="us-west-2")
    await emu.add_fault(region="us-west-2", operation="list-inference-profiles",
                        error="AccessDeniedException", times=1)
    with pytest.raises(control.exceptions.AccessDeniedException):
        await control.list_inference_profiles()
    assert (await control.list_inference_profiles())["inferenceProfileSummaries"]


@pytest.mark.parametrize("rule", [{"error": "ThrottlingException", "bogus": 1},
                                  {"operation": "nope", "error": "ThrottlingException"},
                                  {"region": "us-east-1"}, {"stall_s": -1}])
async def test_bad_fault_rules_are_rejected(emu, rule):
    status, body = await emu.control("POST", "faults", rule)
    assert status == 400 and body["error"]


async def test_open_streams_drop_when_a_stalled_client_goes_away(emu, runtime):
    await emu.add_fault(operation="converse-stream", stall_s=30, stall_after=2, times=1)
    response = await runtime.converse_stream(modelId=HAIKU, messages=user("x"))
    stream = response["stream"]
    received = []
    async for event in stream:
        received.append(event)
        if len(received) == 2:
            break
    stats = await emu.stats()
    assert stats["open_streams"] == 1 and stats["max_open_streams"] == 1
    stream.close()
    await emu.wait_open_streams(0)
    # the stall directive works the same way
    response = await runtime.converse_stream(
        modelId=HAIKU, messages=user("x [[emu stall_after=1 stall_s=30]]"))
    async for _ in response["stream"]:
        break
    assert (await emu.stats())["open_streams"] == 1
    response["stream"].close()
    await emu.wait_open_streams(0)


async def test_reset(emu, runtime):
    await runtime.converse(modelId=HAIKU, messages=user("x"))
    await emu.add_fault(error="ThrottlingException", operation="invoke")
    status, _ = await emu.control("POST", "reset")
    assert status == 200
    stats = await emu.stats()
    assert (stats["requests_total"], stats["by"], stats["recent"]) == (0, {}, [])
    assert (await emu.control("GET", "faults"))[1] == {"faults": []}
