"""What the gateway already does applies to the Responses API unchanged: failover before the
first byte, admission, the idle timeout, disconnects, drain, metrics with `api="responses"`, the
access log, and a client closing right after `response.completed`."""

from __future__ import annotations

import asyncio
import json
import signal

import aiohttp

from bedrock_gateway.emulator.script import reply_chunks
from tests.support.constants import HAIKU, TEST_KEY
from tests.support.gateway_process import gateway_child
from tests.support.local_http import free_port
from tests.support.metrics_scrape import wait_metrics
from tests.support.polling import eventually

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
TWO_REGIONS = ("us-east-1", "us-west-2")


def parse_events(body: bytes) -> list[dict]:
    return [json.loads(line[6:]) for line in body.decode().splitlines()
            if line.startswith("data: ")]


async def post(gateway, body: dict) -> tuple[int, dict, bytes]:
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.base_url}/responses", json=body, headers=AUTH) as response:
        return response.status, dict(response.headers), await response.read()


async def test_streamed_response_fails_over_before_the_first_byte(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=TWO_REGIONS)
    await emulator.add_fault(region="us-east-1", operation="converse-stream",
                             error="ThrottlingException")
    async with gateway.client() as client, client.responses.stream(
            model=HAIKU, input="a b [[emu chunks=4]]") as stream:
        final = await stream.get_final_response()
    assert final.output_text == "".join(reply_chunks("a b", 4))
    regions = [r["region"] for r in (await emulator.stats())["recent"]
               if r["operation"] == "converse-stream"]
    assert regions == ["us-east-1", "us-west-2"]


async def test_admission_limit_is_429(make_gateway, emulator):
    gateway = await make_gateway(max_concurrent_requests=1)
    slow = {"model": HAIKU, "stream": True, "input": "x [[emu chunks=20 delay_ms=50]]"}
    running = asyncio.create_task(post(gateway, slow))
    await emulator.wait_open_streams(1)
    status, headers, body = await post(gateway, slow)
    assert status == 429 and int(headers["Retry-After"]) >= 1
    assert json.loads(body)["error"]["code"] == "process_limit"
    status, _, body = await running
    assert status == 200 and parse_events(body)[-1]["type"] == "response.completed"


async def test_idle_upstream_ends_with_failed_and_error_events(make_gateway, emulator):
    gateway = await make_gateway(stream_idle_timeout=0.5, sse_heartbeat_seconds=0.2)
    status, _, body = await post(gateway, {
        "model": HAIKU, "stream": True, "input": "x [[emu chunks=5 stall_after=2 stall_s=10]]"})
    events = parse_events(body)
    assert status == 200
    assert [e["type"] for e in events[-2:]] == ["response.failed", "error"]
    assert events[-2]["response"]["error"]["code"] == "stream_idle_timeout"
    await emulator.wait_open_streams(0)


async def test_disconnect_mid_stream_frees_the_upstream(gateway, emulator):
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{gateway.base_url}/responses", headers=AUTH, json={
            "model": HAIKU, "stream": True, "input": "x [[emu chunks=200 delay_ms=20]]"})
        await response.content.readline()
        assert (await emulator.stats())["open_streams"] == 1
        response.close()
    await emulator.wait_open_streams(0)


async def test_metrics_carry_the_api_label(make_gateway, emulator):
    port = free_port()
    gateway = await make_gateway(metrics_port=port)
    async with gateway.client() as client:
        await client.responses.create(model=HAIKU, input="x [[emu chunks=2]]")
        async with client.responses.stream(model=HAIKU, input="y [[emu chunks=3]]") as stream:
            await stream.get_final_response()
        await client.chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": "z [[emu chunks=2]]"}])

    def counted(s) -> bool:
        return (s.value("bedrock_gateway_requests_total", route="responses", api="responses",
                        model=HAIKU, status_class="2xx", error_code="none") == 2
                and s.value("bedrock_gateway_requests_total", route="chat",
                            api="chat_completions", model=HAIKU) == 1)

    scrape = await wait_metrics(port, counted)
    assert scrape.value("bedrock_gateway_tokens_total", model=HAIKU, kind="output") == 2 + 3 + 2


async def test_close_right_after_completed_is_not_a_disconnect(make_gateway, emulator, capsys):
    gateway = await make_gateway(access_log=True)
    for store in (False, True):
        async with aiohttp.ClientSession() as session:
            response = await session.post(f"{gateway.base_url}/responses", headers=AUTH, json={
                "model": HAIKU, "stream": True, "store": store, "input": "x [[emu chunks=3]]"})
            seen = b""
            while b"response.completed" not in seen:
                seen += await response.content.readany()
            response.close()  # like Codex: gone as soon as the response is complete
    lines: list[dict] = []

    def both_logged() -> bool:
        lines.extend(json.loads(line) for line in capsys.readouterr().out.splitlines()
                     if line.startswith("{"))
        return len(lines) >= 2

    await eventually(both_logged, what="two access-log lines")
    assert [(line["status"], line["error_code"], line["tokens_out"]) for line in lines] == [
        (200, None, 3)] * 2
    assert all(line["path"].endswith("/responses") and line["stream"] for line in lines)


async def test_drain_ends_long_streams_with_failed_and_error_events(emulator):
    async with gateway_child(DRAIN_DELAY_SECONDS="0.2", SHUTDOWN_GRACE_SECONDS="1") as (
            proc, base):
        async with aiohttp.ClientSession() as session:
            response = await session.post(f"{base}/v1/responses", headers=AUTH, json={
                "model": HAIKU, "stream": True, "input": "x [[emu chunks=300 delay_ms=50]]"})
            await response.content.readline()
            proc.send_signal(signal.SIGTERM)
            events = parse_events(await response.read())
        assert [e["type"] for e in events[-2:]] == ["response.failed", "error"]
        assert events[-1]["code"] == "server_shutdown"
        async with asyncio.timeout(15):
            assert await proc.wait() == 0
