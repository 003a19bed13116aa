"""Virtual keys in a real Redis shared by two real gateway processes: one RPM limit across
both, TPM settled on streamed usage, one concurrent-stream limit, revocation seen by both at
once, usage from both; secrets never in any log. Redis killed mid-test: fail-open serves (the
metric says Redis is down), fail-closed answers 503, both recover when Redis returns."""

from __future__ import annotations

import asyncio

import aiohttp
import pytest
from aiohttp import web

from tests.support.constants import HAIKU, TEST_KEY
from tests.support.gateway_process import GatewayProcess, start_gateway
from tests.support.keys_admin import ADMIN_KEY, call, chat, create_key, wait_usage
from tests.support.local_http import free_port, png_bytes, wait_ready
from tests.support.polling import eventually
from tests.support.protocol_requests import BEDROCK_REQUESTS
from tests.support.redis_server import redis_server


@pytest.fixture
async def pair(emulator_url, tmp_path):
    with redis_server() as (url, _proc):
        # A generous bound: on a loaded test machine a 50 ms limit check could time out and
        # (fail-open) let a request through that the limit must refuse.
        gateways = [start_gateway(emulator_url, tmp_path, REDIS_URL=url, ADMIN_API_KEY=ADMIN_KEY,
                                  KEYS_REDIS_TIMEOUT_SECONDS="2") for _ in range(2)]
        try:
            for gateway in gateways:
                await wait_ready(f"{gateway.root}/ready")
            yield gateways
        finally:
            for gateway in gateways:
                await gateway.stop()


async def test_two_processes_share_one_rpm_limit(pair: list[GatewayProcess], emulator):
    a, b = pair
    created = await create_key(a.root, team="search", limits={"rpm": 5})
    statuses = [(await chat(gw.root, created["key"], model=HAIKU)).status
                for gw in (a, b, a, b, a)]
    assert statuses == [200] * 5
    for gw in (b, a):  # the 6th request across both processes, on either one
        refused = await chat(gw.root, created["key"], model=HAIKU)
        assert refused.status == 429
        assert refused.body["error"]["code"] == "rate_limit_exceeded"
        assert refused.headers["x-ratelimit-remaining-requests"] == "0"
        assert "retry-after" in refused.headers
    got = await wait_usage(b.root, created["id"], 5)
    assert got["totals"]["requests"] == 5 and got["data"][0]["model"] == HAIKU
    # The secret is in no log line of either process (access log, debug logs).
    for gw in pair:
        logs = gw.logs()
        assert created["id"] in logs  # the id is (access log key_id)
        assert created["key"] not in logs
        assert ADMIN_KEY not in logs


async def test_tpm_settles_streamed_usage_across_processes(pair, emulator):
    a, b = pair
    created = await create_key(a.root, limits={"tpm": 1000})
    first = await chat(a.root, created["key"], "one two [[emu chunks=4]]", model=HAIKU,
                       max_tokens=900, stream=True)
    assert first.status == 200 and "[DONE]" in first.body
    got = await wait_usage(b.root, created["id"], 1)
    assert got["totals"]["output_tokens"] == 4
    # Settled on the real usage: room for 500 more on the other process (900 + 500 > 1000).
    assert (await chat(b.root, created["key"], model=HAIKU, max_tokens=500)).status == 200
    refused = await chat(a.root, created["key"], model=HAIKU, max_tokens=1000)
    assert refused.status == 429
    assert refused.body["error"]["code"] == "tokens_rate_limit_exceeded"


async def test_concurrent_stream_limit_across_processes(pair, emulator):
    a, b = pair
    created = await create_key(a.root, limits={"max_streams": 1})
    held = asyncio.create_task(chat(a.root, created["key"],
                                    "x [[emu chunks=3 stall_after=1 stall_s=2]]",
                                    model=HAIKU, stream=True))
    await emulator.wait_open_streams(1)
    refused = await chat(b.root, created["key"], model=HAIKU, stream=True)
    assert refused.status == 429
    assert refused.body["error"]["code"] == "concurrent_streams_exceeded"
    assert (await held).status == 200

    async def slot_free() -> bool:
        return (await chat(b.root, created["key"], model=HAIKU, stream=True)).status == 200

    await eventually(slot_free, what="the stream slot released")


async def test_a_refused_request_sends_nothing_and_fetches_nothing(pair, emulator):
    """The check in Redis runs while the request is prepared; its bytes wait for the answer at
    the wire. A refusal therefore still reaches neither Bedrock nor an image server, leaves no
    Bedrock call in the metrics, and opens no breaker however often it happens. Each case has a
    key of its own, so its first refusal is one that overlapped the preparation (the key had
    been admitted) and the next ones are decided first (the key was refused last time)."""
    a, _ = pair
    fetched: list[str] = []

    async def image(request: web.Request) -> web.Response:
        fetched.append(request.path)
        return web.Response(body=png_bytes(), content_type="image/png")

    images = web.Application()
    images.router.add_get("/cat.png", image)
    runner = web.AppRunner(images)
    await runner.setup()
    try:
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        image_url = f"http://127.0.0.1:{runner.addresses[0][1]}/cat.png"
        text = {"type": "text", "text": "what is this?"}
        with_image = [text, {"type": "image_url", "image_url": {"url": image_url}}]
        for stream, content in [(s, c) for s in (False, True) for c in ([text], with_image)]:
            created = await create_key(a.root, limits={"rpm": 1})
            assert (await chat(a.root, created["key"], model=HAIKU)).status == 200
            calls_before = (await emulator.stats())["requests_total"]
            bedrock_before = await a.metric("bedrock_gateway_bedrock_calls_total")
            body = {"model": HAIKU, "stream": stream,
                    "messages": [{"role": "user", "content": content}]}
            for _ in range(3):  # more refusals in all than any breaker threshold
                async with aiohttp.ClientSession() as session, session.post(
                        f"{a.root}/v1/chat/completions", json=body,
                        headers={"Authorization": f"Bearer {created['key']}"}) as reply:
                    answer = await reply.json()
                    assert reply.status == 429, answer
                    assert answer["error"]["code"] == "rate_limit_exceeded"
                    assert reply.headers["x-ratelimit-remaining-requests"] == "0"
                    assert int(reply.headers["Retry-After"]) >= 1
            assert fetched == []
            assert (await emulator.stats())["requests_total"] == calls_before
            assert await a.metric("bedrock_gateway_bedrock_calls_total") == bedrock_before
        assert await a.metric("bedrock_gateway_circuit_breaker_state") == 0  # all closed
        # Another key on the same routes is served at once.
        other = await create_key(a.root)
        assert (await chat(a.root, other["key"], model=HAIKU)).status == 200
    finally:
        await runner.cleanup()


async def test_a_key_refused_last_time_is_served_again_when_its_limit_allows(pair, emulator):
    """A key refused last time has its next checks decided before the request is prepared;
    once a check admits it again (here: its limit raised), it is served on every protocol and
    its streams as before, by both processes."""
    a, b = pair
    created = await create_key(a.root, limits={"rpm": 1})
    key = created["key"]
    assert (await chat(a.root, key, model=HAIKU)).status == 200
    for gateway in (a, b, a):
        assert (await chat(gateway.root, key, model=HAIKU)).status == 429
    raised = await call("PATCH", f"{a.root}/admin/v1/keys/{created['id']}", ADMIN_KEY,
                        {"limits": {"rpm": 1000}})
    assert raised.status == 200, raised.body

    async def served_by_both() -> bool:
        return all([(await chat(g.root, key, model=HAIKU)).status == 200 for g in (a, b)])

    await eventually(served_by_both, within=5)
    for gateway in (a, b):
        for path, body, headers in BEDROCK_REQUESTS:
            async with aiohttp.ClientSession() as session, session.post(
                    f"{gateway.root}{path}", json=body,
                    headers={"Authorization": f"Bearer {key}", **headers}) as reply:
                assert reply.status == 200, (path, await reply.text())
                await reply.read()
        streamed = await chat(gateway.root, key, model=HAIKU, stream=True)
        assert streamed.status == 200


async def test_every_protocol_waits_for_the_check_before_bedrock(pair, emulator):
    """With the check in flight while the request is prepared, every front-end is served when
    the key is within its limits, and sends nothing to Bedrock when it is not. A key of its own
    per protocol, admitted once: its refusal is one that overlapped the preparation."""
    a, _ = pair
    async with aiohttp.ClientSession() as session:
        for path, body, headers in BEDROCK_REQUESTS:
            created = await create_key(a.root, limits={"rpm": 1})

            async def send(path=path, body=body, headers=headers,
                           key=created["key"]) -> tuple[int, dict, str]:
                async with session.post(f"{a.root}{path}", json=body, headers={
                        "Authorization": f"Bearer {key}", **headers}) as reply:
                    return reply.status, dict(reply.headers), await reply.text()

            status, _, text = await send()
            assert status == 200, (path, text)
            calls_before = (await emulator.stats())["requests_total"]
            status, reply_headers, text = await send()
            assert status == 429, (path, text)
            assert "requests-per-minute" in text and reply_headers["Retry-After"], (path, text)
            assert (await emulator.stats())["requests_total"] == calls_before, path


async def test_revocation_seen_by_both_processes(pair, emulator):
    a, b = pair
    created = await create_key(a.root)
    for gw in pair:  # both have the record cached now
        assert (await chat(gw.root, created["key"], model=HAIKU)).status == 200
    assert (await call("DELETE", f"{a.root}/admin/v1/keys/{created['id']}",
                       ADMIN_KEY)).status == 204
    # The revoked flag is read inside every request's limiter script: the very next request
    # on either process is refused (well within the 1 s bound).
    for gw in (b, a):
        reply = await chat(gw.root, created["key"], model=HAIKU)
        assert reply.status == 401 and reply.body["error"]["code"] == "invalid_api_key"
    listed = (await call("GET", f"{b.root}/admin/v1/keys", ADMIN_KEY)).body["data"]
    assert [k["revoked"] for k in listed if k["id"] == created["id"]] == [True]


async def test_redis_outage_fail_open_and_closed_and_recovery(emulator_url, emulator, tmp_path):
    port = free_port()
    data = tmp_path / "redis"
    data.mkdir()
    url = f"redis://127.0.0.1:{port}/0"
    common = {"REDIS_URL": url, "ADMIN_API_KEY": ADMIN_KEY, "REDIS_TIMEOUT_SECONDS": "0.5"}
    with redis_server(port, str(data)) as (_url, proc):
        opened = start_gateway(emulator_url, tmp_path, REDIS_FAILURE_POLICY="open", **common)
        closed = start_gateway(emulator_url, tmp_path, REDIS_FAILURE_POLICY="closed", **common)
        try:
            for gw in (opened, closed):
                await wait_ready(f"{gw.root}/ready")
            created = await create_key(opened.root, limits={"rpm": 1000})
            key = created["key"]
            for gw in (opened, closed):
                assert (await chat(gw.root, key, model=HAIKU)).status == 200
                assert await gw.metric("bedrock_gateway_redis_up") == 1
            proc.terminate()
            proc.wait(timeout=10)

            served = await chat(opened.root, key, model=HAIKU)
            assert served.status == 200
            refused = await chat(closed.root, key, model=HAIKU)
            assert refused.status == 503
            assert refused.body["error"]["code"] == "rate_limiter_unavailable"
            assert await opened.metric("bedrock_gateway_redis_up") == 0
            assert await opened.metric("bedrock_gateway_limiter_fail_open_total") >= 1
            assert await closed.metric("bedrock_gateway_redis_errors_total") >= 1
            # Static keys never depend on Redis.
            assert (await chat(closed.root, TEST_KEY, model=HAIKU)).status == 200
        except BaseException:
            await opened.stop()
            await closed.stop()
            raise
    # Redis returns (same port, same data): both recover by themselves.
    with redis_server(port, str(data)):
        try:
            async def recovered(gw: GatewayProcess) -> bool:
                return (await chat(gw.root, key, model=HAIKU)).status == 200 and \
                    await gw.metric("bedrock_gateway_redis_up") == 1

            await eventually(lambda: recovered(closed), within=15, what="fail-closed recovered")
            await eventually(lambda: recovered(opened), within=15, what="fail-open recovered")
        finally:
            await opened.stop()
            await closed.stop()
