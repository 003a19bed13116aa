"""Hostile HTTP: malformed heads, undecodable header bytes, corrupt bodies, slow clients, and the
limits that bound what one request may hold. Raw sockets where no HTTP client would send it."""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest

from tests.support.constants import HAIKU, TEST_KEY
from tests.support.local_http import free_port
from tests.support.metrics_scrape import wait_metrics
from tests.support.polling import eventually
from tests.support.raw_http import (
    RawResponse,
    assert_openai_error,
    closed_within,
    exchange,
    read_response,
    request,
)

AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
CHAT = "/api/v1/chat/completions"


def chat_body(text: str = "hi", **extra: object) -> bytes:
    return json.dumps({"model": HAIKU, "messages": [{"role": "user", "content": text}],
                       **extra}).encode()


MALFORMED = {
    "NUL in a header value": request("GET", "/health", raw_headers=b"X-Note: a\x00b\r\n"),
    "space before the colon": request("GET", "/health",
                                      raw_headers=b"Authorization : Bearer x\r\n"),
    "obs-fold continuation": request("GET", "/health",
                                     raw_headers=b"X-Note: a\r\n  folded\r\n"),
    "unknown HTTP version": b"GET /health HTTP/7.1\r\nHost: x\r\n\r\n",
    "control character in the target": b"GET /health?a=\x01 HTTP/1.1\r\nHost: x\r\n\r\n",
    "bad chunk size": request("POST", CHAT, {**AUTH, "Transfer-Encoding": "chunked"},
                              raw_headers=b"") + b"zz\r\nabc\r\n0\r\n\r\n",
    "Content-Length and chunked": request(
        "POST", CHAT, {**AUTH, "Content-Length": "5", "Transfer-Encoding": "chunked"}),
    "non-numeric Content-Length": request("POST", CHAT, {**AUTH, "Content-Length": "ten"}),
    "header line too long": request("GET", "/health", {"X-Long": "a" * 20000}),
    "not HTTP at all": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03" + b"\x00" * 40,
}


@pytest.mark.parametrize("name", list(MALFORMED))
async def test_parser_errors_are_json_4xx_in_openai_shape(gateway, name, caplog):
    response = await exchange(gateway.port, MALFORMED[name])
    assert 400 <= response.status < 500
    assert_openai_error(response, response.status)
    assert "Traceback" not in caplog.text


async def test_undecodable_user_agent_is_served_and_logged(make_gateway, capsys):
    gateway = await make_gateway(access_log=True)
    response = await exchange(gateway.port, request(
        "GET", "/health", {"User-Agent": b"curl/\xff\xfe", "X-Request-Id": "ua-health"}))
    assert response.status == 200
    # A streamed completion too: its access-log line must be written.
    response = await exchange(gateway.port, request(
        "POST", CHAT, {**AUTH, "User-Agent": b"bot\xff", "X-Request-Id": "ua-stream",
                       "Content-Type": "application/json", "Connection": "close"},
        chat_body("hi [[emu chunks=3]]", stream=True)))
    assert response.status == 200
    assert b"data: [DONE]" in response.body
    lines = {}
    for line in capsys.readouterr().out.splitlines():
        if line.startswith("{"):
            record = json.loads(line)
            lines[record["request_id"]] = record
    assert lines["ua-health"]["status"] == 200
    assert lines["ua-health"]["user_agent"] == "curl/\\udcff\\udcfe"
    assert lines["ua-stream"]["status"] == 200 and lines["ua-stream"]["stream"] is True
    assert lines["ua-stream"]["user_agent"] == "bot\\udcff"


@pytest.mark.parametrize("value", [b"Bearer \xff\xfe-not-a-key", b"Bearer " +
                                   TEST_KEY.encode() + b"\xff", b"\xff\xff"])
async def test_undecodable_authorization_is_a_401(gateway, value):
    response = await exchange(gateway.port, request(
        "POST", CHAT, {"Authorization": value, "Content-Type": "application/json"},
        chat_body()))
    assert_openai_error(response, 401, "invalid_api_key")


async def test_corrupt_content_encoding_is_a_400(gateway):
    good = gzip.compress(chat_body())
    for body in (b"\x1f\x8b\x08\x00garbage-not-deflate" * 4, good[:-12] + b"\x00" * 12):
        response = await exchange(gateway.port, request(
            "POST", CHAT, {**AUTH, "Content-Type": "application/json",
                           "Content-Encoding": "gzip"}, body))
        assert 400 <= response.status < 500, response.body
        assert_openai_error(response, response.status)
    response = await exchange(gateway.port, request(
        "POST", CHAT, {**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"},
        good))
    assert response.status == 200


async def test_a_gzip_bomb_is_cut_at_the_body_limit(make_gateway):
    gateway = await make_gateway(max_request_body_bytes=1 << 20)
    bomb = gzip.compress(b"[" + b" " * (50 << 20) + b"]")
    response = await exchange(gateway.port, request(
        "POST", CHAT, {**AUTH, "Content-Type": "application/json", "Content-Encoding": "gzip"},
        bomb))
    assert_openai_error(response, 413, "request_too_large")


async def test_x_forwarded_for_uses_every_line_and_only_addresses(make_gateway, capsys):
    gateway = await make_gateway(access_log=True, trusted_proxy_count=1)
    cases = {
        # The client's own line first, the proxy's appended line last: the proxy's counts.
        "xff-two-lines": (b"X-Forwarded-For: 6.6.6.6\r\nX-Forwarded-For: 203.0.113.7\r\n",
                          "203.0.113.7"),
        "xff-not-an-address": (b"X-Forwarded-For: 1.2.3.4, <script>\r\n", "127.0.0.1"),
        "xff-ipv6": (b"X-Forwarded-For: 2001:db8::1\r\n", "2001:db8::1"),
    }
    for request_id, (header_lines, _) in cases.items():
        response = await exchange(gateway.port, request(
            "GET", "/health", {"X-Request-Id": request_id}, raw_headers=header_lines))
        assert response.status == 200
    records = {r["request_id"]: r for r in map(json.loads, (
        line for line in capsys.readouterr().out.splitlines() if line.startswith("{")))}
    for request_id, (_, client) in cases.items():
        assert records[request_id]["client"] == client, request_id


async def test_idle_connection_is_closed_after_the_keepalive_timeout(make_gateway):
    gateway = await make_gateway(keepalive_timeout_seconds=1.0)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        assert await closed_within(reader, 10) == b""
    finally:
        writer.close()


async def test_trickled_head_gets_a_408_and_is_closed(make_gateway):
    gateway = await make_gateway(request_head_timeout_seconds=1.0)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        writer.write(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: a")
        for _ in range(3):  # keep trickling: it must not re-arm the limit
            await asyncio.sleep(0.3)
            writer.write(b"a")
        sent = await closed_within(reader, 10)
        assert sent is not None and sent.startswith(b"HTTP/1.1 408")
        assert b'"code":"request_timeout"' in sent
    finally:
        writer.close()


async def test_keepalive_connection_survives_idle_time_shorter_than_its_timeout(make_gateway):
    """The head limit starts at a head's first byte, not when the previous response ended."""
    gateway = await make_gateway(request_head_timeout_seconds=0.5, keepalive_timeout_seconds=30)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        for _ in range(2):
            writer.write(request("GET", "/health"))
            assert (await read_response(reader)).status == 200
            await asyncio.sleep(1.0)
    finally:
        writer.close()


async def test_trickled_body_gets_a_408(make_gateway):
    gateway = await make_gateway(request_body_timeout_seconds=1.0)
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:
        writer.write(request("POST", CHAT, {**AUTH, "Content-Type": "application/json",
                                            "Content-Length": "5000"}) + b'{"model"')
        response = await read_response(reader)
        assert_openai_error(response, 408, "request_timeout")
    finally:
        writer.close()


async def test_admission_comes_before_the_body_is_read(make_gateway):
    """At the request cap, a 20 MB upload is refused from its head: its body is never read."""
    metrics_port = free_port()
    gateway = await make_gateway(max_concurrent_requests=1, request_body_timeout_seconds=30,
                                 metrics_port=metrics_port)
    holder_reader, holder = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:  # admitted, then waits for a body that is not coming
        holder.write(request("POST", CHAT, {**AUTH, "Content-Length": "100"}))
        await holder.drain()
        await wait_metrics(metrics_port,
                           lambda m: m.value("bedrock_gateway_inflight_requests") == 1)
        reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
        writer.write(request("POST", CHAT, {**AUTH, "Content-Type": "application/json",
                                            "Content-Length": str(20 << 20)}))
        response = await read_response(reader)
        error = assert_openai_error(response, 429, "process_limit")
        assert "limit" in error["message"] and response.headers["retry-after"] == "1"
        assert response.headers.get("connection") == "close"
        writer.close()
    finally:
        holder.close()


async def test_body_budget_refuses_what_the_process_cannot_hold(make_gateway):
    limit = 1 << 20
    gateway = await make_gateway(max_request_body_bytes=limit, request_body_budget_bytes=limit,
                                 request_body_timeout_seconds=30)
    _, holder = await asyncio.open_connection("127.0.0.1", gateway.port)
    try:  # declares a full-size body and sends part of it: the budget is taken
        holder.write(request("POST", CHAT, {**AUTH, "Content-Length": str(limit)}) + b"[" * 10)
        await holder.drain()

        async def refused() -> RawResponse | None:
            # Served (200) only while the holder's head is still on its way in.
            response = await exchange(gateway.port, request(
                "POST", CHAT, {**AUTH, "Content-Type": "application/json"},
                chat_body("x" * 1000)))
            return response if response.status != 200 else None

        response = await eventually(refused, what="a request refused for the body budget")
        error = assert_openai_error(response, 429, "memory_budget")
        assert "REQUEST_BODY_BUDGET_BYTES" in error["message"]
    finally:
        holder.close()

    async def served() -> bool:
        response = await exchange(gateway.port, request(
            "POST", CHAT, {**AUTH, "Content-Type": "application/json"}, chat_body()))
        return response.status == 200

    # The holder's budget comes back when its connection is gone.
    await eventually(served, what="the budget given back")


@pytest.mark.parametrize("body", [
    b"[" + b"1," * 300_000 + b"1]",
    json.dumps({"model": HAIKU, "messages": [{}] * 250_000}).encode(),
])
async def test_bodies_of_too_many_values_are_refused_before_parsing(gateway, body):
    response = await exchange(gateway.port, request(
        "POST", CHAT, {**AUTH, "Content-Type": "application/json"}, body))
    assert_openai_error(response, 413, "too_many_values")


async def test_long_prose_with_many_commas_is_not_too_many_values(gateway):
    text = "one, two, three, four, " * 60_000  # 240,000 commas inside one string
    response = await exchange(gateway.port, request(
        "POST", CHAT, {**AUTH, "Content-Type": "application/json"}, chat_body(text)))
    assert response.status == 200, response.body[:300]


async def test_declared_and_chunked_oversize_bodies_are_413(make_gateway):
    gateway = await make_gateway(max_request_body_bytes=1 << 16)
    response = await exchange(gateway.port, request(
        "POST", CHAT, {**AUTH, "Content-Length": str(1 << 20)}))
    assert_openai_error(response, 413, "request_too_large")
    chunk = b"x" * 8192
    chunked = b"".join(b"2000\r\n" + chunk + b"\r\n" for _ in range(20)) + b"0\r\n\r\n"
    response = await exchange(gateway.port, request(
        "POST", CHAT, {**AUTH, "Transfer-Encoding": "chunked"}) + chunked)
    assert_openai_error(response, 413, "request_too_large")


async def test_server_header_names_no_versions(gateway):
    for data in (request("GET", "/health"), request("GET", "/nowhere"), MALFORMED["obs-fold"
                 " continuation"]):
        response = await exchange(gateway.port, data)
        assert response.headers["server"] == "bedrock-gateway"
