"""Regions: failover before the first byte, never after it, never for client errors; the circuit
breaker; models routed only to regions that hold them; one deadline for the whole request."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import orjson
import pytest

from tests.conftest import HAIKU, TEST_KEY

TWO_REGIONS = ("us-east-1", "us-west-2")


def regions_seen(stats: dict, operation: str) -> list[str]:
    return [r["region"] for r in stats["recent"] if r["operation"] == operation]


async def ask(client, **kwargs) -> str:
    response = await client.chat.completions.create(
        model=kwargs.pop("model", HAIKU),
        messages=[{"role": "user", "content": kwargs.pop("content", "hi [[emu chunks=3]]")}],
        **kwargs)
    return response.choices[0].message.content


@pytest.mark.parametrize("error", ["ThrottlingException", "InternalServerException",
                                   "ServiceUnavailableException", "ModelNotReadyException"])
async def test_retryable_error_fails_over_to_the_next_region(make_gateway, emulator, error):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    await emulator.add_fault(region="us-east-1", operation="converse", error=error)
    async with gateway.client() as client:
        assert await ask(client)
    assert regions_seen(await emulator.stats(), "converse") == ["us-east-1", "us-west-2"]


async def test_streamed_request_fails_over_before_the_first_byte(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    await emulator.add_fault(region="us-east-1", operation="converse-stream",
                             error="ThrottlingException")
    async with gateway.client() as client:
        stream = await client.chat.completions.create(
            model=HAIKU, stream=True, messages=[{"role": "user", "content": "a b [[emu chunks=4]]"}])
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text.startswith("Echo:")
    assert regions_seen(await emulator.stats(), "converse-stream") == ["us-east-1", "us-west-2"]


@pytest.mark.parametrize("error, exc", [("ValidationException", openai.BadRequestError),
                                        ("AccessDeniedException", openai.PermissionDeniedError)])
async def test_client_errors_never_fail_over(make_gateway, emulator, error, exc):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    await emulator.add_fault(region="us-east-1", operation="converse", error=error)
    async with gateway.client() as client:
        with pytest.raises(exc):
            await ask(client)
    assert regions_seen(await emulator.stats(), "converse") == ["us-east-1"]


async def test_mid_stream_error_does_not_fail_over(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    async with aiohttp.ClientSession() as session:
        async with session.post(
                f"{gateway.base_url}/chat/completions",
                headers={"Authorization": f"Bearer {TEST_KEY}"},
                json={"model": HAIKU, "stream": True, "messages": [{"role": "user", "content":
                      "x [[emu chunks=10 stream_error=throttlingException error_after=3]]"}]},
        ) as response:
            assert response.status == 200
            events = [e for e in (await response.read()).decode().split("\n\n") if e]
    assert orjson.loads(events[-1].removeprefix("data: "))["error"]["code"] == "throttled"
    assert regions_seen(await emulator.stats(), "converse-stream") == ["us-east-1"]


async def test_breaker_opens_skips_the_region_then_probes_and_closes(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, breaker_failure_threshold=2,
                                 breaker_cooldown_seconds=1.0, bedrock_max_attempts=1)
    await emulator.add_fault(region="us-east-1", operation="converse",
                             error="ThrottlingException")
    async with gateway.client() as client:
        for _ in range(2):
            assert await ask(client)
        assert regions_seen(await emulator.stats(), "converse") == [
            "us-east-1", "us-west-2", "us-east-1", "us-west-2"]
        await emulator.reset()  # clears the fault and the request log
        # Open: the primary is skipped without a call.
        assert await ask(client)
        assert regions_seen(await emulator.stats(), "converse") == ["us-west-2"]
        await asyncio.sleep(1.1)
        await emulator.reset()
        # Cooldown over: one probe goes to the primary, succeeds, and the circuit closes.
        assert await ask(client)
        assert await ask(client)
        assert regions_seen(await emulator.stats(), "converse") == ["us-east-1", "us-east-1"]


async def test_model_is_only_routed_to_regions_that_hold_it(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    async with gateway.client() as client:
        for _ in range(3):
            assert await ask(client, model="mistral.mistral-large-2407-v1:0")
    assert set(regions_seen(await emulator.stats(), "converse")) == {"us-west-2"}


async def test_all_regions_throttled_is_429_with_retry_after(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    await emulator.add_fault(region="*", operation="converse", error="ThrottlingException")
    async with gateway.client() as client:
        with pytest.raises(openai.RateLimitError) as info:
            await ask(client)
    assert int(info.value.response.headers["Retry-After"]) >= 1
    assert info.value.body["code"] == "throttled"
    # Two rounds over the two regions (BEDROCK_MAX_ATTEMPTS=2), one SDK call each.
    assert regions_seen(await emulator.stats(), "converse") == [
        "us-east-1", "us-west-2", "us-east-1", "us-west-2"]


async def test_retries_and_failover_share_one_deadline(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, request_timeout_seconds=1.0)
    await emulator.add_fault(region="*", operation="converse", latency_ms=3000)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with gateway.client() as client:
        with pytest.raises(openai.APIStatusError) as info:
            await ask(client)
    elapsed = loop.time() - started
    assert info.value.status_code == 504
    assert info.value.body["code"] == "request_timeout"
    assert elapsed < 2.0  # one deadline, not one per region or per retry
