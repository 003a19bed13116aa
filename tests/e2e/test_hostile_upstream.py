"""Hostile input meets the rest of the gateway: Bedrock's AccessDenied text stays in the debug
log, a client that stops reading is its own fault (not Bedrock's), span names are route
templates, an unauthenticated traceparent does not decide sampling, and LOG_CONTENT does what
it says."""

from __future__ import annotations

import asyncio
import logging
import secrets
import socket

import aiohttp
import openai
import orjson
import pytest

from tests.support.constants import HAIKU, TEST_KEY
from tests.support.local_http import free_port
from tests.support.otel_checks import access_lines, otel_env
from tests.support.polling import eventually
from tests.support.raw_http import request

CHAT = "/api/v1/chat/completions"


async def test_access_denied_text_is_not_passed_to_clients(client, emulator, caplog):
    caplog.set_level(logging.DEBUG, logger="bedrock_gateway.bedrock.upstream_errors")
    await emulator.add_fault(operation="converse", error="AccessDeniedException")
    with pytest.raises(openai.PermissionDeniedError) as info:
        await client.chat.completions.create(model=HAIKU, messages=[
            {"role": "user", "content": "hi"}])
    body = info.value.body
    assert body["code"] == "access_denied" and body["type"] == "permission_error"
    assert "You don't have access" not in body["message"]
    assert body["message"].startswith("Amazon Bedrock denied the gateway access")
    # The operator still finds Bedrock's own words, at debug level.
    assert "AccessDeniedException: You don't have access" in caplog.text


async def _metric(port: int, name: str) -> str:
    async with aiohttp.ClientSession() as session, \
            session.get(f"http://127.0.0.1:{port}/metrics") as response:
        text = await response.text()
    return "\n".join(line for line in text.splitlines() if line.startswith(name))


async def test_a_client_that_stops_reading_is_a_client_condition(make_gateway, emulator,
                                                                 capsys):
    metrics_port = free_port()
    gateway = await make_gateway(stream_idle_timeout=1.0, access_log=True,
                                 metrics_port=metrics_port)
    word = "w" * 4000  # each chunk ~4 kB: a few thousand fill every buffer on the way
    body = orjson.dumps({"model": HAIKU, "stream": True, "messages": [
        {"role": "user", "content": f"{word} [[emu chunks=6000]]"}]})
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.setblocking(False)
    loop = asyncio.get_running_loop()
    await loop.sock_connect(sock, ("127.0.0.1", gateway.port))
    await loop.sock_sendall(sock, request("POST", CHAT, {
        "Authorization": f"Bearer {TEST_KEY}", "Content-Type": "application/json",
        "X-Request-Id": "stalled-reader"}, body))
    try:  # never read: the gateway's writes block, then it gives up on this client
        def logged() -> list[dict]:
            return [r for r in access_lines(capsys.readouterr().out)
                    if r["request_id"] == "stalled-reader"]

        lines = await eventually(logged, within=30, interval=0.1, what="the stalled request")
    finally:
        sock.close()
    (line,) = lines
    assert line["status"] == 499 and line["error_code"] == "client_stalled"
    await emulator.wait_open_streams(0)  # Bedrock's side was closed
    errors = await _metric(metrics_port, "bedrock_gateway_bedrock_errors_total")
    assert "client_stalled" not in errors and "stream_idle_timeout" not in errors


async def test_span_names_are_route_templates(receiver, make_gateway, emulator):
    gateway = await make_gateway(environ=otel_env(receiver))
    headers = {"Authorization": f"Bearer {TEST_KEY}"}
    async with aiohttp.ClientSession() as session:
        for path in ("/v1/models/" + secrets.token_hex(8), "/v1/models/" + "x" * 300,
                     "/no/such/" + secrets.token_hex(8)):
            async with session.get(gateway.root + path, headers=headers) as response:
                await response.read()
    spans = await receiver.wait_for_spans(3)
    names = sorted(s["name"] for s in spans if s["kind"] == "SERVER")
    assert names == ["GET /v1/models/{model_id}", "GET /v1/models/{model_id}", "GET unmatched"]


async def _one_span(gateway, receiver, traceparent: str) -> list[dict]:
    async with aiohttp.ClientSession() as session, session.get(
            gateway.root + "/health", headers={"traceparent": traceparent}) as response:
        assert response.status == 200
    await gateway.flush_telemetry()  # the span ended before the response was sent
    return [s for s in receiver.spans if s["name"] == "GET /health"]


async def test_an_unsampled_traceparent_does_not_hide_a_request(receiver, make_gateway):
    gateway = await make_gateway(environ=otel_env(receiver))
    trace_id = secrets.token_hex(16)
    (span,) = await _one_span(gateway, receiver, f"00-{trace_id}-{secrets.token_hex(8)}-00")
    assert span["trace_id"] == trace_id  # the caller's trace is continued, and recorded


async def test_parent_based_sampling_only_when_configured(receiver, make_gateway):
    gateway = await make_gateway(environ=otel_env(
        receiver, OTEL_TRACES_SAMPLER="parentbased_always_on"))
    assert await _one_span(gateway, receiver,
                           f"00-{secrets.token_hex(16)}-{secrets.token_hex(8)}-00") == []


async def test_a_ratio_sampler_is_not_steered_by_the_callers_trace_id(receiver, make_gateway):
    gateway = await make_gateway(environ=otel_env(
        receiver, OTEL_TRACES_SAMPLER="traceidratio", OTEL_TRACES_SAMPLER_ARG="1.0"))
    caller_trace, caller_span = "0" * 31 + "1", secrets.token_hex(8)  # always "sampled"
    (span,) = await _one_span(gateway, receiver, f"00-{caller_trace}-{caller_span}-01")
    assert span["trace_id"] != caller_trace and span["parent_span_id"] == ""
    assert span["links"] == [{"trace_id": caller_trace, "span_id": caller_span}]


@pytest.mark.parametrize("stream", [False, True])
async def test_log_content_logs_prompts_and_completions_at_debug(make_gateway, emulator, caplog,
                                                                 stream):
    caplog.set_level(logging.DEBUG, logger="bedrock_gateway.content")
    quiet = await make_gateway()
    loud = await make_gateway(log_content=True)
    for gateway in (quiet, loud):
        async with gateway.client() as client:
            answer = await client.chat.completions.create(
                model=HAIKU, stream=stream,
                messages=[{"role": "user", "content": "secret-prompt [[emu chunks=3]]"}])
            if stream:
                _ = [chunk async for chunk in answer]
        if gateway is quiet:
            assert "secret-prompt" not in caplog.text
    records = [r.getMessage() for r in caplog.records if r.name == "bedrock_gateway.content"]
    assert len(records) == 2
    assert "prompt" in records[0] and "secret-prompt" in records[0]
    assert "completion" in records[1] and "Echo: secret-prompt secret-prompt" in records[1]
