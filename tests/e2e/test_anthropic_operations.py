"""What the gateway already did applies to the Messages API and the Bedrock format unchanged:
failover across regions, idle timeouts, client disconnects, admission, the `api` metric label,
the access log (with Claude Code's session id) and the SIGTERM drain."""

from __future__ import annotations

import asyncio
import signal

import aiohttp
import anthropic
import orjson
import pytest

from tests.support.constants import TEST_KEY
from tests.support.gateway_process import gateway_child
from tests.support.local_http import free_port
from tests.support.metrics_scrape import idle, wait_metrics
from tests.support.polling import eventually

SONNET = "claude-sonnet-4-5"
HEADERS = {"x-api-key": TEST_KEY, "anthropic-version": "2023-06-01"}


def body(content: str, stream: bool = True, model: str = SONNET) -> dict:
    return {"model": model, "max_tokens": 100, "stream": stream,
            "messages": [{"role": "user", "content": content}]}


def client_for(gateway) -> anthropic.AsyncAnthropic:
    return anthropic.AsyncAnthropic(base_url=gateway.root, api_key=TEST_KEY, max_retries=0,
                                    timeout=30.0)


async def test_failover_to_another_region_for_invoke_calls(make_gateway, emulator):
    gateway = await make_gateway(bedrock_regions=("us-east-1", "us-west-2"))
    await emulator.add_fault(region="us-east-1", operation="invoke-stream",
                             error="ThrottlingException")
    await emulator.add_fault(region="us-east-1", operation="invoke", error="ThrottlingException")
    async with client_for(gateway) as claude:
        async with claude.messages.stream(**{k: v for k, v in body("hi [[emu chunks=3]]").items()
                                             if k != "stream"}) as stream:
            final = await stream.get_final_message()
        message = await claude.messages.create(**body("hi [[emu chunks=2]]", stream=False))
    assert final.stop_reason == message.stop_reason == "end_turn"
    calls = [(r["region"], r["operation"]) for r in (await emulator.stats())["recent"]
             if r["model"]]
    # The throttle moved the stream to us-west-2 and put (us-east-1, this model) last for
    # THROTTLE_BACKOFF_SECONDS, so the next call goes to us-west-2 first (docs/health.md).
    assert calls == [("us-east-1", "invoke-stream"), ("us-west-2", "invoke-stream"),
                     ("us-west-2", "invoke")]


async def test_idle_stream_ends_with_an_error_event(make_gateway, emulator):
    gateway = await make_gateway(stream_idle_timeout=0.3)
    await emulator.add_fault(operation="invoke-stream", stall_s=3, stall_after=3)
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.root}/v1/messages", json=body("hi"), headers=HEADERS) as response:
        text = await response.text()
    last = text.strip().split("\n\n")[-1]
    assert last.startswith("event: error\n")
    error = orjson.loads(last.split("data: ", 1)[1])
    assert error["error"]["type"] == "timeout_error"


@pytest.mark.parametrize("path", ["/v1/messages",
                                  "/bedrock/model/{model}/invoke-with-response-stream"])
async def test_client_disconnect_frees_the_bedrock_stream(make_gateway, emulator, path):
    gateway = await make_gateway()
    model = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
    payload = body("hi [[emu chunks=200 delay_ms=50]]", model=model)
    if path.startswith("/bedrock"):
        payload = {k: v for k, v in payload.items() if k not in ("model", "stream")}
        payload["anthropic_version"] = "bedrock-2023-05-31"
    async with aiohttp.ClientSession() as session:
        response = await session.post(gateway.root + path.format(model=model), json=payload,
                                      headers=HEADERS)
        assert response.status == 200
        await response.content.readany()
        await emulator.wait_open_streams(1)
        response.close()
    await emulator.wait_open_streams(0)


async def test_admission_limit_is_an_overloaded_error(make_gateway, emulator):
    gateway = await make_gateway(max_concurrent_requests=1)
    async with aiohttp.ClientSession() as session:
        first = await session.post(f"{gateway.root}/v1/messages", headers=HEADERS,
                                   json=body("hi [[emu chunks=100 delay_ms=50]]"))
        assert first.status == 200
        await first.content.readany()
        async with session.post(f"{gateway.root}/v1/messages", headers=HEADERS,
                                json=body("again")) as second:
            refused = await second.json()
            assert second.status == 529 and second.headers["Retry-After"] == "1"
        first.close()
    assert refused["error"]["type"] == "overloaded_error"


async def test_api_label_on_request_metrics(make_gateway, emulator):
    port = free_port()
    gateway = await make_gateway(metrics_port=port)
    async with client_for(gateway) as claude:
        await claude.messages.create(**body("hi [[emu chunks=2]]", stream=False))
        await claude.messages.count_tokens(model=SONNET,
                                           messages=[{"role": "user", "content": "hi"}])
        await claude.models.list()
    async with aiohttp.ClientSession() as session:
        payload = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 5,
                   "messages": [{"role": "user", "content": "x"}]}
        async with session.post(
                f"{gateway.root}/bedrock/model/us.anthropic.claude-haiku-4-5-20251001-v1:0/invoke",
                json=payload, headers={"Authorization": f"Bearer {TEST_KEY}"}) as response:
            assert response.status == 200
    scrape = await wait_metrics(port, idle)
    apis = {(s.labels["api"], s.labels["route"])
            for s in scrape.samples("bedrock_gateway_requests_total")}
    assert {("messages", "messages"), ("count_tokens", "count_tokens"), ("models", "models"),
            ("bedrock_invoke", "bedrock_invoke")} <= apis
    operations = {s.labels["operation"]
                  for s in scrape.samples("bedrock_gateway_bedrock_calls_total")}
    assert {"invoke_model", "count_tokens"} <= operations


async def test_access_log_records_the_claude_code_session(make_gateway, emulator, capsys):
    gateway = await make_gateway(access_log=True)
    async with client_for(gateway) as claude:
        await claude.messages.create(**body("hi [[emu chunks=2]]", stream=False),
                                     extra_headers={"X-Claude-Code-Session-Id": "sess-1234"})
    await asyncio.sleep(0)
    lines = [orjson.loads(line) for line in capsys.readouterr().out.splitlines()
             if line.startswith("{")]
    [line] = [x for x in lines if x["path"] == "/v1/messages"]
    assert line["session_id"] == "sess-1234" and line["status"] == 200
    assert line["tokens_out"] == 2 and line["model"] == SONNET


async def read_messages_stream(session: aiohttp.ClientSession, url: str, content: str) -> list:
    async with session.post(url, headers=HEADERS, json=body(content)) as response:
        assert response.status == 200
        text = (await response.read()).decode()
    return [e.split("\n", 1)[0].removeprefix("event: ") for e in text.split("\n\n") if e]


async def test_sigterm_drains_messages_streams(emulator):
    async with gateway_child(DRAIN_DELAY_SECONDS="0.5", SHUTDOWN_GRACE_SECONDS="2") as (
            proc, base):
        async with aiohttp.ClientSession() as session:
            url = f"{base}/v1/messages"
            short = asyncio.create_task(read_messages_stream(
                session, url, "s [[emu chunks=10 delay_ms=100]]"))
            long = asyncio.create_task(read_messages_stream(
                session, url, "l [[emu chunks=200 delay_ms=100]]"))

            async def both_streaming() -> bool:  # both reached Bedrock
                by = (await emulator.stats())["by"]
                return sum(n for key, n in by.items() if key.endswith("-stream")) >= 2

            await eventually(both_streaming)
            proc.send_signal(signal.SIGTERM)
            assert (await short)[-1] == "message_stop"  # finished within the grace
            assert (await long)[-1] == "error"  # ended, said so, never a hang
        assert await asyncio.wait_for(proc.wait(), 15) == 0
