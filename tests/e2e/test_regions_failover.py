"""Regions: failover before the first byte, never after it, never for client errors; the circuit
breaker; models routed only to regions that hold them; one deadline for the whole request.

Every check of where a request went reads the emulator's own request log (`recent`, `by`): the
emulator tells regions apart by the SigV4 credential scope of each call.
"""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import orjson
import pytest

from bedrock_gateway.emulator.script import reply_chunks
from tests.support.constants import HAIKU, MISTRAL, TEST_KEY, TWO_REGIONS

HALF_OPEN = 1  # bedrock_gateway_circuit_breaker_state: the next call is a probe


def regions_seen(stats: dict, operation: str) -> list[str]:
    return [r["region"] for r in stats["recent"] if r["operation"] == operation]


def counts_by_region(stats: dict, operation: str) -> dict[str, int]:
    return {key.split()[0]: n for key, n in stats["by"].items() if key.split()[1] == operation}


async def ask(client, **kwargs) -> str:
    response = await client.chat.completions.create(
        model=kwargs.pop("model", HAIKU),
        messages=[{"role": "user", "content": kwargs.pop("content", "hi [[emu chunks=3]]")}],
        **kwargs)
    return response.choices[0].message.content


async def raw_stream(gateway, content: str) -> tuple[int, list[str]]:
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.base_url}/chat/completions",
            headers={"Authorization": f"Bearer {TEST_KEY}"},
            json={"model": HAIKU, "stream": True,
                  "messages": [{"role": "user", "content": content}]},
    ) as response:
        events = [e.removeprefix("data: ")
                  for e in (await response.read()).decode().split("\n\n") if e]
        return response.status, events


# --- failover before the first byte -----------------------------------------------------------

@pytest.mark.parametrize("error", ["ThrottlingException", "InternalServerException",
                                   "ServiceUnavailableException", "ModelNotReadyException"])
async def test_retryable_error_fails_over_to_the_next_region(make_gateway, emulator, error):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    await emulator.add_fault(region="us-east-1", operation="converse", error=error)
    async with gateway.client() as client:
        assert await ask(client, content="Tell me [[emu chunks=3]]") == "".join(
            reply_chunks("Tell me", 3))
    stats = await emulator.stats()
    # Several regions: one SDK call per region, the next region is the retry.
    assert regions_seen(stats, "converse") == ["us-east-1", "us-west-2"]
    assert counts_by_region(stats, "converse") == {"us-east-1": 1, "us-west-2": 1}


@pytest.mark.parametrize("error", ["ThrottlingException", "ServiceUnavailableException"])
async def test_streamed_request_fails_over_before_the_first_byte(make_gateway, emulator, error):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    await emulator.add_fault(region="us-east-1", operation="converse-stream", error=error)
    async with gateway.client() as client:
        stream = await client.chat.completions.create(
            model=HAIKU, stream=True,
            messages=[{"role": "user", "content": "a b [[emu chunks=4]]"}])
        text = "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])
    assert text == "".join(reply_chunks("a b", 4))
    assert regions_seen(await emulator.stats(), "converse-stream") == ["us-east-1", "us-west-2"]


@pytest.mark.parametrize("error, exc", [("ValidationException", openai.BadRequestError),
                                        ("AccessDeniedException", openai.PermissionDeniedError)])
@pytest.mark.parametrize("stream", [False, True])
async def test_client_errors_never_fail_over(make_gateway, emulator, error, exc, stream):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    operation = "converse-stream" if stream else "converse"
    await emulator.add_fault(region="us-east-1", operation=operation, error=error)
    async with gateway.client() as client:
        with pytest.raises(exc):
            await ask(client, stream=stream)
    stats = await emulator.stats()
    assert regions_seen(stats, operation) == ["us-east-1"]
    assert "us-west-2" not in counts_by_region(stats, operation)


# --- never after the first byte ---------------------------------------------------------------

async def test_mid_stream_error_directive_does_not_fail_over(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    status, events = await raw_stream(
        gateway, "x [[emu chunks=10 stream_error=throttlingException error_after=3]]")
    assert status == 200
    assert all("error" not in orjson.loads(e) for e in events[:-1])
    assert any(orjson.loads(e)["choices"] and orjson.loads(e)["choices"][0]["delta"].get("content")
               for e in events[:-1])  # text reached the client before the failure
    assert orjson.loads(events[-1])["error"]["code"] == "throttled"
    assert "[DONE]" not in events
    assert regions_seen(await emulator.stats(), "converse-stream") == ["us-east-1"]


async def test_mid_stream_fault_does_not_fail_over(make_gateway, emulator):
    # The same failure from a fault rule on the primary region only: us-west-2 would have
    # answered, yet once bytes went out the request must end with the error instead.
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    await emulator.add_fault(region="us-east-1", operation="converse-stream",
                             stream_error="serviceUnavailableException", error_after=4)
    received: list[str] = []
    async with gateway.client() as client:
        stream = await client.chat.completions.create(
            model=HAIKU, stream=True,
            messages=[{"role": "user", "content": "one two three [[emu chunks=10]]"}])
        with pytest.raises(openai.APIError) as info:
            async for chunk in stream:
                if chunk.choices and chunk.choices[0].delta.content:
                    received.append(chunk.choices[0].delta.content)
    assert received  # mid-stream: the client already had text
    assert "".join(reply_chunks("one two three", 10)).startswith("".join(received))
    assert info.value.body["code"] == "bedrock_unavailable"
    assert regions_seen(await emulator.stats(), "converse-stream") == ["us-east-1"]


# --- the circuit breaker (per region and model; see also test_resilience.py) ----------------

async def test_breaker_opens_on_5xx_skips_the_region_then_probes_and_closes(make_gateway,
                                                                            emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, breaker_failure_threshold=2,
                                 breaker_cooldown_seconds=0.5, bedrock_max_attempts=1)
    await emulator.add_fault(region="us-east-1", operation="converse",
                             error="ServiceUnavailableException")
    async with gateway.client() as client:
        for _ in range(2):
            assert await ask(client)
        assert regions_seen(await emulator.stats(), "converse") == [
            "us-east-1", "us-west-2", "us-east-1", "us-west-2"]
        await emulator.reset()  # clears the fault and the request log
        # Open: the primary is skipped without a call while us-west-2 is healthy.
        for _ in range(2):
            assert await ask(client)
        assert regions_seen(await emulator.stats(), "converse") == ["us-west-2", "us-west-2"]
        await gateway.wait_breaker("us-east-1", HAIKU, HALF_OPEN)  # the cooldown is over
        await emulator.reset()
        # Cooldown over: one probe goes to the primary, succeeds, and the circuit closes.
        assert await ask(client)
        assert await ask(client)
        assert regions_seen(await emulator.stats(), "converse") == ["us-east-1", "us-east-1"]


async def test_breaker_half_open_admits_one_probe_and_a_failed_probe_reopens(
        make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, breaker_failure_threshold=2,
                                 breaker_cooldown_seconds=0.5, bedrock_max_attempts=1)
    fault = {"region": "us-east-1", "operation": "converse",
             "error": "InternalServerException"}
    await emulator.add_fault(**fault)
    async with gateway.client() as client:
        for _ in range(2):
            assert await ask(client)  # two faults in us-east-1: open
        await gateway.wait_breaker("us-east-1", HAIKU, HALF_OPEN)  # the cooldown is over
        await emulator.reset()
        await emulator.add_fault(**fault)  # still failing when the probe comes
        assert await ask(client)  # the probe fails, us-west-2 answers
        assert await ask(client)  # open again: us-east-1 is not tried
        assert regions_seen(await emulator.stats(), "converse") == [
            "us-east-1", "us-west-2", "us-west-2"]

        await gateway.wait_breaker("us-east-1", HAIKU, HALF_OPEN)  # the cooldown is over
        await emulator.reset()
        # Healthy but slow: while the one probe is in flight, the others go elsewhere.
        await emulator.add_fault(region="us-east-1", operation="converse", latency_ms=400)
        answers = await asyncio.gather(*(ask(client) for _ in range(4)))
        assert all(answers)
        stats = await emulator.stats()
        assert counts_by_region(stats, "converse") == {"us-east-1": 1, "us-west-2": 3}
        await emulator.reset()
        assert await ask(client)  # the probe succeeded: closed, the primary takes traffic again
        assert regions_seen(await emulator.stats(), "converse") == ["us-east-1"]


async def test_every_region_open_still_calls_bedrock_never_503_by_itself(make_gateway,
                                                                         emulator):
    # The old breaker answered `503 regions_unavailable` here without calling Bedrock. Now the
    # region whose cooldown ends first is called anyway (panic), and its answer is the answer.
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, breaker_failure_threshold=2,
                                 breaker_cooldown_seconds=30, bedrock_max_attempts=1)
    await emulator.add_fault(region="*", operation="converse", error="InternalServerException")
    async with gateway.client() as client:
        for _ in range(2):
            with pytest.raises(openai.APIStatusError) as info:
                await ask(client)
            assert info.value.status_code == 502
        await emulator.reset()
        assert await ask(client) == "".join(reply_chunks("hi", 3))
    assert regions_seen(await emulator.stats(), "converse") == ["us-east-1"]


async def test_throttling_never_opens_a_breaker(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, breaker_failure_threshold=2,
                                 bedrock_max_attempts=1, throttle_backoff_seconds=0)
    await emulator.add_fault(region="us-east-1", operation="converse",
                             error="ThrottlingException")
    async with gateway.client() as client:
        for _ in range(6):
            assert await ask(client)
        # Backoff off: every request tries the primary first, is throttled, fails over.
        assert regions_seen(await emulator.stats(), "converse") == [
            "us-east-1", "us-west-2"] * 6


# --- models only where they are ---------------------------------------------------------------

async def test_model_is_only_routed_to_regions_that_hold_it(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)  # us-east-1 is the primary
    async with gateway.client() as client:
        for _ in range(3):
            assert await ask(client, model=MISTRAL)
        assert await ask(client, model=MISTRAL, stream=False)
    stats = await emulator.stats()
    assert regions_seen(stats, "converse") == ["us-west-2"] * 4
    assert counts_by_region(stats, "converse") == {"us-west-2": 4}


async def test_a_region_without_the_model_is_not_a_failover_target(make_gateway, emulator):
    # us-west-2, the only region that holds Mistral, throttles; us-east-1 is healthy but lacks
    # the model, so it is never tried. BEDROCK_MAX_ATTEMPTS=2 still gives two calls in us-west-2.
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    await emulator.add_fault(region="us-west-2", operation="converse",
                             error="ThrottlingException")
    async with gateway.client() as client:
        with pytest.raises(openai.RateLimitError):
            await ask(client, model=MISTRAL)
    assert regions_seen(await emulator.stats(), "converse") == ["us-west-2", "us-west-2"]


async def test_single_region_model_gets_its_retry_after_a_throttle(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    await emulator.add_fault(region="us-west-2", operation="converse",
                             error="ThrottlingException", times=1)
    async with gateway.client() as client:
        assert await ask(client, model=MISTRAL)
    assert regions_seen(await emulator.stats(), "converse") == ["us-west-2", "us-west-2"]


async def test_one_region_retries_in_the_sdk_up_to_bedrock_max_attempts(make_gateway, emulator):
    gateway = await make_gateway()  # one region: botocore retries (standard mode)
    await emulator.add_fault(region="us-east-1", operation="converse",
                             error="ThrottlingException", times=1)
    async with gateway.client() as client:
        assert await ask(client)
        assert regions_seen(await emulator.stats(), "converse") == ["us-east-1", "us-east-1"]
        await emulator.reset()
        await emulator.add_fault(region="us-east-1", operation="converse",
                                 error="ThrottlingException")
        with pytest.raises(openai.RateLimitError):
            await ask(client)
    assert regions_seen(await emulator.stats(), "converse") == ["us-east-1", "us-east-1"]


# --- giving up --------------------------------------------------------------------------------

@pytest.mark.parametrize("stream", [False, True])
async def test_all_regions_throttled_is_429_with_retry_after(make_gateway, emulator, stream):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    operation = "converse-stream" if stream else "converse"
    await emulator.add_fault(region="*", operation=operation, error="ThrottlingException")
    async with gateway.client() as client:
        with pytest.raises(openai.RateLimitError) as info:
            await ask(client, stream=stream)
    assert int(info.value.response.headers["Retry-After"]) >= 1
    assert info.value.body["code"] == "throttled"
    # Two rounds over the two regions (BEDROCK_MAX_ATTEMPTS=2), one SDK call each.
    assert regions_seen(await emulator.stats(), operation) == [
        "us-east-1", "us-west-2", "us-east-1", "us-west-2"]


async def test_a_slow_region_times_out_within_the_deadline(make_gateway, emulator):
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
    assert 0.9 <= elapsed < 1.6  # the deadline, not one per region (2 x 3 s) or per round
    assert regions_seen(await emulator.stats(), "converse") == ["us-east-1"]


@pytest.mark.parametrize("stream", [False, True])
async def test_failover_spends_the_same_deadline(make_gateway, emulator, stream):
    # us-east-1 takes 0.6 s to throttle; us-west-2 would take 3 s. With a 1 s deadline the
    # failover gets only the 0.4 s that is left, not a fresh second.
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS, request_timeout_seconds=1.0)
    operation = "converse-stream" if stream else "converse"
    await emulator.add_fault(region="us-east-1", operation=operation,
                             error="ThrottlingException", latency_ms=600)
    await emulator.add_fault(region="us-west-2", operation=operation, latency_ms=3000)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with gateway.client() as client:
        with pytest.raises(openai.APIStatusError) as info:
            await ask(client, stream=stream)
    elapsed = loop.time() - started
    assert info.value.status_code == 504
    assert info.value.body["code"] == "request_timeout"
    assert 0.9 <= elapsed < 1.6
    assert regions_seen(await emulator.stats(), operation) == ["us-east-1", "us-west-2"]


async def test_sdk_retries_in_one_region_spend_the_same_deadline(make_gateway, emulator):
    # One region, BEDROCK_MAX_ATTEMPTS=3: botocore's retries all fit in the one deadline.
    gateway = await make_gateway(request_timeout_seconds=1.0, bedrock_max_attempts=3)
    await emulator.add_fault(region="us-east-1", operation="converse",
                             error="ThrottlingException", latency_ms=700)
    loop = asyncio.get_running_loop()
    started = loop.time()
    async with gateway.client() as client:
        with pytest.raises(openai.APIStatusError) as info:
            await ask(client)
    elapsed = loop.time() - started
    assert info.value.status_code == 504
    assert 0.9 <= elapsed < 1.6  # not 3 x 0.7 s plus backoff
    assert 1 <= len(regions_seen(await emulator.stats(), "converse")) <= 2
