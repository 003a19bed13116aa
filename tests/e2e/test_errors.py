"""Every row of the error table, before and inside the stream, plus auth, size and admission."""

from __future__ import annotations

import asyncio

import aiohttp
import openai
import orjson
import pytest

from bedrock_gateway.errors import from_bedrock_code
from tests.support.constants import HAIKU, TEST_KEY

# Bedrock's pre-stream errors (x-amzn-ErrorType) -> what the client must see.
PRE_STREAM = [
    ("ValidationException", 400, "invalid_request_error", "invalid_request"),
    ("AccessDeniedException", 403, "permission_error", "access_denied"),
    ("ResourceNotFoundException", 404, "invalid_request_error", "model_not_found"),
    ("ModelTimeoutException", 408, "timeout_error", "model_timeout"),
    ("ThrottlingException", 429, "rate_limit_error", "throttled"),
    ("ModelNotReadyException", 429, "rate_limit_error", "model_not_ready"),
    ("ServiceQuotaExceededException", 429, "rate_limit_error", "quota_exceeded"),
    ("ModelErrorException", 424, "api_error", "model_error"),
    ("InternalServerException", 502, "api_error", "bedrock_internal_error"),
    ("ServiceUnavailableException", 503, "api_error", "bedrock_unavailable"),
]
# In-stream exceptions (lowerCamel members of the event stream).
MID_STREAM = [
    ("throttlingException", "throttled"),
    ("modelStreamErrorException", "model_stream_error"),
    ("validationException", "invalid_request"),
    ("internalServerException", "bedrock_internal_error"),
    ("serviceUnavailableException", "bedrock_unavailable"),
]


def test_table_covers_every_row_once():
    for code, status, type_, error_code in PRE_STREAM:
        error = from_bedrock_code(code, "m")
        assert (error.status, error.type, error.code) == (status, type_, error_code)
    for code, error_code in MID_STREAM:
        assert from_bedrock_code(code, "m").code == error_code


async def post(gateway, body, key=TEST_KEY, raw: bytes | None = None, headers=None):
    hdrs = {"Authorization": f"Bearer {key}"} if key else {}
    hdrs.update(headers or {})
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.base_url}/chat/completions", headers=hdrs,
            json=None if raw is not None else body, data=raw) as response:
        return response.status, dict(response.headers), await response.read()


def assert_openai_error(payload: dict, code: str | None = None) -> dict:
    assert set(payload) == {"error"}
    error = payload["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    if code is not None:
        assert error["code"] == code
    return error


@pytest.mark.parametrize("bedrock_code, status, type_, code", PRE_STREAM)
@pytest.mark.parametrize("stream", [False, True])
async def test_pre_stream_errors(client, bedrock_code, status, type_, code, stream):
    with pytest.raises(openai.APIStatusError) as info:
        result = await client.chat.completions.create(
            model=HAIKU, stream=stream,
            messages=[{"role": "user", "content": f"x [[emu error={bedrock_code}]]"}])
        if stream:
            [c async for c in result]
    assert info.value.status_code == status
    error = assert_openai_error(info.value.response.json(), code)
    assert error["type"] == type_
    if status == 429:
        assert int(info.value.response.headers["Retry-After"]) >= 1


@pytest.mark.parametrize("exception, code", MID_STREAM)
async def test_mid_stream_errors_end_with_one_error_event(gateway, exception, code):
    status, headers, body = await post(gateway, {
        "model": HAIKU, "stream": True,
        "messages": [{"role": "user", "content":
                      f"x [[emu chunks=10 stream_error={exception} error_after=4]]"}]})
    assert status == 200
    events = [e.removeprefix("data: ") for e in body.decode().split("\n\n") if e]
    assert "[DONE]" not in events
    last = orjson.loads(events[-1])
    assert assert_openai_error(last, code)
    assert all("error" not in orjson.loads(e) for e in events[:-1])
    assert len(events) >= 3  # content was streamed before the failure


async def test_mid_stream_error_raises_in_the_sdk(client):
    stream = await client.chat.completions.create(
        model=HAIKU, stream=True,
        messages=[{"role": "user", "content":
                   "x [[emu chunks=10 stream_error=throttlingException error_after=3]]"}])
    received = []
    with pytest.raises(openai.APIError):
        async for chunk in stream:
            received.append(chunk)
    assert received  # the chunks before the failure arrived


async def test_upstream_stall_ends_with_idle_timeout_event_and_frees_connection(
        make_gateway, emulator):
    gateway = await make_gateway(stream_idle_timeout=0.5, sse_heartbeat_seconds=0.1)
    status, _, body = await post(gateway, {
        "model": HAIKU, "stream": True,
        "messages": [{"role": "user", "content": "x [[emu chunks=6 stall_after=3 stall_s=5]]"}]})
    assert status == 200
    events = [e for e in body.decode().split("\n\n") if e]
    error = orjson.loads(events[-1].removeprefix("data: "))
    assert assert_openai_error(error, "stream_idle_timeout")
    await emulator.wait_open_streams(0)


async def test_idle_timeout_before_first_event_sends_heartbeats(make_gateway, emulator):
    gateway = await make_gateway(stream_idle_timeout=0.6, sse_heartbeat_seconds=0.1)
    status, _, body = await post(gateway, {
        "model": HAIKU, "stream": True,
        "messages": [{"role": "user", "content": "x [[emu chunks=6 stall_after=0 stall_s=5]]"}]})
    text = body.decode()
    assert status == 200
    assert text.count(": keep-alive") >= 3
    assert '"stream_idle_timeout"' in text and "[DONE]" not in text


async def test_missing_and_wrong_key_get_401(gateway):
    for key in (None, "sk-wrong"):
        status, _, body = await post(gateway, {"model": HAIKU, "messages": []}, key=key)
        assert status == 401
        assert_openai_error(orjson.loads(body), "invalid_api_key")


async def test_health_needs_no_key_but_models_does(gateway):
    async with aiohttp.ClientSession() as session:
        async with session.get(f"{gateway.root}/health") as response:
            assert response.status == 200
        async with session.get(f"{gateway.root}/ready") as response:
            assert response.status == 200
        async with session.get(f"{gateway.base_url}/models") as response:
            assert response.status == 401


async def test_body_over_limit_gets_413(make_gateway):
    gateway = await make_gateway(max_request_body_bytes=4096)
    big = "x" * 10_000
    status, _, body = await post(gateway, {"model": HAIKU,
                                           "messages": [{"role": "user", "content": big}]})
    assert status == 413
    assert_openai_error(orjson.loads(body), "request_too_large")


@pytest.mark.parametrize("raw", [b"{not json", b"[]", b"", b'"text"'])
async def test_malformed_bodies_get_400(gateway, raw):
    status, _, body = await post(gateway, None, raw=raw,
                                 headers={"Content-Type": "application/json"})
    assert status == 400
    assert_openai_error(orjson.loads(body))


async def test_unknown_route_and_method_use_openai_shape(gateway):
    async with aiohttp.ClientSession(headers={"Authorization": f"Bearer {TEST_KEY}"}) as s:
        async with s.get(f"{gateway.base_url}/nope") as response:
            assert response.status == 404
            assert_openai_error(orjson.loads(await response.read()))
        async with s.get(f"{gateway.base_url}/chat/completions") as response:
            assert response.status == 405
            assert_openai_error(orjson.loads(await response.read()))


async def test_process_admission_overflow_is_429_with_retry_after(make_gateway, emulator):
    gateway = await make_gateway(max_concurrent_requests=2)
    slow = {"model": HAIKU, "stream": True,
            "messages": [{"role": "user", "content": "x [[emu chunks=20 delay_ms=50]]"}]}
    running = [asyncio.create_task(post(gateway, slow)) for _ in range(2)]
    await emulator.wait_open_streams(2)  # both slots are taken
    status, headers, body = await post(gateway, slow)
    assert status == 429
    assert int(headers["Retry-After"]) >= 1
    assert_openai_error(orjson.loads(body), "process_limit")
    results = await asyncio.gather(*running)
    assert [r[0] for r in results] == [200, 200]
    assert all(b"[DONE]" in r[2] for r in results)


async def test_region_pool_overflow_is_429_not_a_queue(make_gateway, emulator):
    gateway = await make_gateway(max_streams_per_region=2, region_queue_timeout_seconds=0.2)
    slow = {"model": HAIKU, "stream": True,
            "messages": [{"role": "user", "content": "x [[emu chunks=20 delay_ms=50]]"}]}
    running = [asyncio.create_task(post(gateway, slow)) for _ in range(2)]
    await emulator.wait_open_streams(2)  # both slots are taken
    loop = asyncio.get_running_loop()
    started = loop.time()
    status, headers, body = await post(gateway, slow)
    assert loop.time() - started < 2.0  # bounded wait, then shed
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert_openai_error(orjson.loads(body), "region_queue_timeout")
    assert [r[0] for r in await asyncio.gather(*running)] == [200, 200]


async def test_read_timeout_mid_stream_is_an_upstream_timeout_event(make_gateway, emulator):
    # A stall longer than the SDK's read timeout raises aiohttp's timeout raw inside the stream.
    gateway = await make_gateway(bedrock_read_timeout_seconds=0.5, stream_idle_timeout=10)
    status, _, body = await post(gateway, {
        "model": HAIKU, "stream": True,
        "messages": [{"role": "user", "content": "x [[emu chunks=6 stall_after=3 stall_s=3]]"}]})
    assert status == 200
    events = [e for e in body.decode().split("\n\n") if e]
    assert_openai_error(orjson.loads(events[-1].removeprefix("data: ")), "upstream_timeout")
    await emulator.wait_open_streams(0)


async def test_read_timeout_before_the_answer_is_504(make_gateway, emulator):
    gateway = await make_gateway(bedrock_read_timeout_seconds=0.5, bedrock_max_attempts=1)
    await emulator.add_fault(region="*", operation="converse", latency_ms=1500)
    status, _, body = await post(gateway, {
        "model": HAIKU, "messages": [{"role": "user", "content": "x"}]})
    assert status == 504
    assert_openai_error(orjson.loads(body), "upstream_timeout")
