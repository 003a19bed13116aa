"""Failures never spread: health per (region, model), throttling is not ill-health, and the
gateway never fails closed. Real gateway, real SDK stack, the emulator's faults; where a request
went is read from the emulator's own request log.
"""

from __future__ import annotations

import asyncio

import openai
import pytest

from bedrock_gateway.emulator.script import reply_chunks
from tests.support.constants import HAIKU, SONNET_35, TWO_REGIONS
from tests.support.polling import eventually



def regions_seen(stats: dict, operation: str) -> list[str]:
    return [r["region"] for r in stats["recent"] if r["operation"] == operation]


async def ask(client, *, model: str = HAIKU, content: str = "hi there [[emu chunks=3]]",
              stream: bool = False) -> str:
    if not stream:
        response = await client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": content}])
        return response.choices[0].message.content
    chunks = await client.chat.completions.create(
        model=model, stream=True, messages=[{"role": "user", "content": content}])
    return "".join([c.choices[0].delta.content or "" async for c in chunks if c.choices])


HALF_OPEN = 1  # bedrock_gateway_circuit_breaker_state: the next call is a probe


# --- (a) 5xx never closes the gateway ---------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
@pytest.mark.parametrize("regions", [("us-east-1",), TWO_REGIONS], ids=["one-region",
                                                                       "two-regions"])
async def test_after_eight_5xx_a_normal_request_to_the_same_model_succeeds(
        make_gateway, emulator, regions, stream):
    gateway = await make_gateway(bedrock_regions=regions)
    errors = ["InternalServerException", "ServiceUnavailableException"] * 4
    async with gateway.client() as client:
        for error in errors:
            with pytest.raises(openai.APIStatusError) as info:
                await ask(client, content=f"fail [[emu error={error}]]", stream=stream)
            assert info.value.status_code in (502, 503)
            assert info.value.body["code"] in ("bedrock_internal_error", "bedrock_unavailable")
        # Every route of this model is open now: the old breaker answered 503 by itself here.
        assert set(gateway.breaker_states(HAIKU).values()) == {2}
        await emulator.reset()
        assert await ask(client, content="back again [[emu chunks=4]]", stream=stream) == \
            "".join(reply_chunks("back again", 4))
        assert len(regions_seen(await emulator.stats(), "converse-stream" if stream
                                else "converse")) == 1
        # The panic call succeeded: that route is closed again and stays in use.
        assert 0 in gateway.breaker_states(HAIKU).values()
        assert await ask(client, stream=stream)


async def test_one_request_failing_everywhere_counts_once_per_region(make_gateway, emulator):
    # Two regions, two rounds: the request is tried four times, yet it is one request's fault.
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, breaker_failure_threshold=2)
    async with gateway.client() as client:
        with pytest.raises(openai.APIStatusError):
            await ask(client, content="x [[emu error=InternalServerException]]")
        assert len(regions_seen(await emulator.stats(), "converse")) == 4
        assert set(gateway.breaker_states(HAIKU).values()) == {0}
        with pytest.raises(openai.APIStatusError):
            await ask(client, content="y [[emu error=InternalServerException]]")
        assert set(gateway.breaker_states(HAIKU).values()) == {2}


async def test_open_region_still_serves_when_the_healthy_one_throttles(make_gateway, emulator):
    # us-west-2 is open after faults; us-east-1 then throttles a request. us-west-2 is called as
    # the last resort (and answers) instead of the client getting the 429.
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, breaker_failure_threshold=1,
                                 bedrock_max_attempts=1)
    await emulator.add_fault(region="us-west-2", operation="converse",
                             error="ServiceUnavailableException", times=1)
    await emulator.add_fault(region="us-east-1", operation="converse",
                             error="ThrottlingException", times=1)
    async with gateway.client() as client:
        with pytest.raises(openai.APIStatusError):
            await ask(client)  # throttled in us-east-1, 503 in us-west-2
        assert gateway.breaker_states(HAIKU)["us-west-2"] == 2
        await emulator.reset()
        await emulator.add_fault(region="us-east-1", operation="converse",
                                 error="ThrottlingException", times=1)
        assert await ask(client) == "".join(reply_chunks("hi there", 3))
    assert regions_seen(await emulator.stats(), "converse")[-1] == "us-west-2"
    assert gateway.breaker_states(HAIKU)["us-west-2"] == 0


# --- (b) a throttled model does not touch another model ---------------------------------------

@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
async def test_model_throttled_everywhere_is_429_while_another_model_is_served(
        make_gateway, emulator, stream):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, breaker_failure_threshold=2)
    await emulator.add_fault(region="*", model=HAIKU, error="ThrottlingException")

    async def throttled() -> None:
        async with gateway.client() as client:
            with pytest.raises(openai.RateLimitError) as info:
                await ask(client, model=HAIKU, stream=stream)
        body = info.value.body
        assert isinstance(body, dict) and body["code"] == "throttled"
        assert int(info.value.response.headers["Retry-After"]) >= 1

    async def served(i: int) -> None:
        async with gateway.client() as client:
            text = await ask(client, model=SONNET_35, content=f"other {i} [[emu chunks=3]]",
                             stream=stream)
        assert text == "".join(reply_chunks(f"other {i}", 3))

    await asyncio.gather(*(throttled() for _ in range(10)), *(served(i) for i in range(10)))
    stats = await emulator.stats()
    sonnet_calls = [r for r in stats["recent"] if r["model"] == SONNET_35]
    assert [r["region"] for r in sonnet_calls] == ["us-east-1"] * 10  # primary, every time
    # Throttling is capacity, not ill-health: no breaker opened, for either model.
    assert set(gateway.breaker_states(HAIKU).values()) == {0}
    assert set(gateway.breaker_states(SONNET_35).values()) == {0}


async def test_throttled_region_is_tried_after_the_others_for_a_short_while(
        make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, throttle_backoff_seconds=2.0)
    await emulator.add_fault(region="us-east-1", model=HAIKU, error="ThrottlingException")
    async with gateway.client() as client:
        assert await ask(client)  # throttled in us-east-1, served by us-west-2
        assert await ask(client)  # us-east-1 demoted: straight to us-west-2
        assert await ask(client, model=SONNET_35)  # another model still prefers us-east-1
        stats = await emulator.stats()
        assert [(r["region"], r["model"]) for r in stats["recent"]
                if r["operation"] == "converse"] == [
            ("us-east-1", HAIKU), ("us-west-2", HAIKU), ("us-west-2", HAIKU),
            ("us-east-1", SONNET_35)]
        await emulator.reset()
        await emulator.clear_faults()
        # The preference decays: once the backoff is over us-east-1 is first again.
        async def primary_first_again() -> bool:
            assert await ask(client)
            return "us-east-1" in regions_seen(await emulator.stats(), "converse")

        await eventually(primary_first_again, within=15, interval=0.2)
        assert regions_seen(await emulator.stats(), "converse")[-1] == "us-east-1"


# --- (c) a region whose connections fail ------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True], ids=["non-stream", "stream"])
async def test_region_with_failing_connections_is_skipped_then_probed_after_cooldown(
        make_gateway, emulator, stream):
    operation = "converse-stream" if stream else "converse"
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, breaker_failure_threshold=2,
                                 breaker_cooldown_seconds=0.5)
    # us-east-1 closes every connection without answering, like a region that is down.
    await emulator.add_fault(region="us-east-1", operation=operation, drop=True)
    async with gateway.client() as client:
        for _ in range(2):  # skipped within one request: each one is still answered
            assert await ask(client, stream=stream) == "".join(reply_chunks("hi there", 3))
        assert regions_seen(await emulator.stats(), operation) == [
            "us-east-1", "us-west-2", "us-east-1", "us-west-2"]
        assert gateway.breaker_states(HAIKU)["us-east-1"] == 2
        await emulator.reset()
        assert await ask(client, stream=stream)  # open: not even tried
        assert regions_seen(await emulator.stats(), operation) == ["us-west-2"]
        # After the cooldown a request probes us-east-1 again; healthy now, it takes traffic.
        async def probed_again() -> bool:
            assert await ask(client, stream=stream)
            return "us-east-1" in regions_seen(await emulator.stats(), operation)

        await eventually(probed_again, interval=0.1)
        assert gateway.breaker_states(HAIKU)["us-east-1"] == 0
        await emulator.reset()
        assert await ask(client, stream=stream)
        assert regions_seen(await emulator.stats(), operation) == ["us-east-1"]


async def test_failed_probe_keeps_the_region_skipped(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, breaker_failure_threshold=1,
                                 breaker_cooldown_seconds=0.5)
    await emulator.add_fault(region="us-east-1", operation="converse", drop=True)
    async with gateway.client() as client:
        assert await ask(client)  # one connection fault: open
        for _ in range(2):  # two probes, each after a cooldown, each failing over at once
            await gateway.wait_breaker("us-east-1", HAIKU, HALF_OPEN)
            await emulator.reset()
            await emulator.add_fault(region="us-east-1", operation="converse", drop=True)
            assert await ask(client)  # the probe fails, us-west-2 answers
            assert regions_seen(await emulator.stats(), "converse") == ["us-east-1", "us-west-2"]
    assert gateway.breaker_states(HAIKU)["us-east-1"] == 2


async def test_only_open_region_with_connection_faults_is_still_called(make_gateway, emulator):
    # One region that is down: the breaker opens, yet every request still reaches Bedrock (and
    # gets Bedrock's failure), so the moment the region is back the next request succeeds.
    gateway = await make_gateway(breaker_failure_threshold=1, bedrock_max_attempts=1)
    await emulator.add_fault(region="us-east-1", operation="converse", drop=True)
    async with gateway.client() as client:
        for _ in range(3):
            with pytest.raises(openai.APIStatusError) as info:
                await ask(client)
            assert info.value.status_code == 502
            assert info.value.body["code"] == "upstream_connection_error"
        assert len(regions_seen(await emulator.stats(), "converse")) == 3
        await emulator.clear_faults()
        assert await ask(client)
