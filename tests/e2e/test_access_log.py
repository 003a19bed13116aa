"""The JSON access log of a real gateway: one line per request, the documented fields with the
right values, request ids and client addresses, error codes, and never any content or key.

The log goes to the process's stdout (AccessLog picks `sys.stdout` when the app is built), so
pytest's `capsys` captures it: every gateway here is built inside the test.
"""

from __future__ import annotations

import re
import uuid

import aiohttp
import openai
import orjson
import pytest

from bedrock_gateway.telemetry.access_log import FIELDS
from tests.support.constants import HAIKU, TEST_KEY

# Words that appear in the prompt and, echoed by the emulator, in the completion.
PROMPT = "zebra quokka narwhal"
RFC3339_MS = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z")


def log_lines(captured: str) -> list[dict]:
    lines = [orjson.loads(line) for line in captured.splitlines() if line.strip()]
    for line in lines:
        assert tuple(line) == FIELDS  # exactly the documented fields, in order
    return lines


def by_request_id(lines: list[dict]) -> dict[str, dict]:
    return {line["request_id"]: line for line in lines}


async def test_stream_and_non_stream_lines(make_gateway, capsys):
    gateway = await make_gateway(access_log=True, trusted_proxy_count=1)
    incoming_id = f"client-{uuid.uuid4().hex[:12]}"
    async with gateway.client() as client:
        # Not streamed, with the caller's request id, behind one trusted proxy.
        raw = await client.chat.completions.with_raw_response.create(
            model=HAIKU, messages=[{"role": "user", "content": f"{PROMPT} [[emu chunks=5]]"}],
            extra_headers={"X-Request-Id": incoming_id,
                           "X-Forwarded-For": "203.0.113.7, 198.51.100.2"})
        completion = raw.parse()
        plain_body = raw.http_response.content
        assert raw.headers["X-Request-Id"] == incoming_id
        assert completion.choices[0].message.content.startswith("Echo: zebra")

        # Streamed, no request id of its own, no proxy header.
        async with client.chat.completions.with_streaming_response.create(
                model=HAIKU, stream=True, stream_options={"include_usage": True},
                messages=[{"role": "user", "content": f"{PROMPT} [[emu chunks=7]]"}]) as streamed:
            stream_id = streamed.headers["X-Request-Id"]
            stream_body = b"".join([part async for part in streamed.iter_bytes()])
    assert b"data: [DONE]" in stream_body
    assert b"quokka" in stream_body  # the completion did carry the prompt's words

    lines = by_request_id(log_lines(capsys.readouterr().out))
    assert set(lines) == {incoming_id, stream_id}
    assert re.fullmatch(r"[0-9a-f]{32}", stream_id)  # generated when none came in

    plain = lines[incoming_id]
    assert plain["method"] == "POST"
    assert plain["path"] == f"{gateway.settings.api_route_prefix}/chat/completions"
    assert plain["status"] == 200
    assert plain["model"] == HAIKU
    assert plain["region"] == "us-east-1"
    assert plain["stream"] is False
    assert plain["duration_ms"] > 0
    assert plain["ttft_ms"] is None
    assert plain["tokens_in"] == completion.usage.prompt_tokens > 0
    assert plain["tokens_out"] == completion.usage.completion_tokens == 5
    assert plain["bytes_sent"] == len(plain_body) > 0
    assert plain["error_code"] is None
    assert plain["client"] == "198.51.100.2"  # the entry the trusted proxy appended
    assert plain["trace_id"] is None
    assert plain["user_agent"].startswith("AsyncOpenAI/Python")
    assert RFC3339_MS.fullmatch(plain["time"])

    stream = lines[stream_id]
    assert stream["status"] == 200
    assert stream["stream"] is True
    assert stream["model"] == HAIKU
    assert stream["region"] == "us-east-1"
    assert 0 < stream["ttft_ms"] <= stream["duration_ms"]
    assert stream["tokens_in"] > 0
    assert stream["tokens_out"] == 7
    assert stream["bytes_sent"] == len(stream_body)
    assert stream["error_code"] is None
    assert stream["client"] == "127.0.0.1"


async def test_failing_requests_carry_their_error_code(make_gateway, capsys):
    gateway = await make_gateway(access_log=True)
    async with gateway.client() as client:
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(
                model="no-such-model", extra_headers={"X-Request-Id": "r-404"},
                messages=[{"role": "user", "content": PROMPT}])
        stream = await client.chat.completions.create(
            model=HAIKU, stream=True, extra_headers={"X-Request-Id": "r-mid"},
            messages=[{"role": "user", "content":
                       f"{PROMPT} [[emu chunks=10 stream_error=throttlingException "
                       "error_after=3]]"}])
        with pytest.raises(openai.APIError):
            async for _ in stream:
                pass
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.base_url}/chat/completions",
            headers={"Authorization": "Bearer sk-wrong-key", "X-Request-Id": "r-401"},
            json={"model": HAIKU, "messages": []}) as response:
        assert response.status == 401
    lines = by_request_id(log_lines(capsys.readouterr().out))
    assert set(lines) == {"r-404", "r-mid", "r-401"}
    assert (lines["r-404"]["status"], lines["r-404"]["error_code"]) == (404, "model_not_found")
    assert lines["r-404"]["bytes_sent"] > 0
    # A stream that failed after its headers: 200 was sent, the error is in the stream.
    mid = lines["r-mid"]
    assert (mid["status"], mid["error_code"], mid["stream"]) == (200, "throttled", True)
    assert mid["ttft_ms"] is not None and mid["bytes_sent"] > 0
    assert (lines["r-401"]["status"], lines["r-401"]["error_code"]) == (401, "invalid_api_key")


async def test_no_content_and_no_key_in_the_log(make_gateway, capsys):
    gateway = await make_gateway(access_log=True, trusted_proxy_count=1)
    async with gateway.client() as client:
        completion = await client.chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": f"{PROMPT} [[emu chunks=6]]"}])
        stream = await client.chat.completions.create(
            model=HAIKU, stream=True,
            messages=[{"role": "user", "content": f"{PROMPT} [[emu chunks=6]]"}])
        streamed = "".join([c.choices[0].delta.content or "" async for c in stream
                            if c.choices])
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(
                model=HAIKU + "-nope", messages=[{"role": "user", "content": PROMPT}])
    # A request id that is not sane (spaces, too long) is replaced, never echoed.
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.base_url}/chat/completions?key={TEST_KEY}",
            headers={"Authorization": f"Bearer {TEST_KEY}",
                     "X-Request-Id": "has spaces " + "x" * 200},
            json={"model": HAIKU, "messages": [
                {"role": "user", "content": f"{PROMPT} [[emu chunks=2]]"}]}) as response:
        assert response.status == 200
        assert " " not in response.headers["X-Request-Id"]
    captured = capsys.readouterr()
    everything = captured.out + captured.err
    lines = log_lines(captured.out)
    assert len(lines) == 4
    completion_text = completion.choices[0].message.content
    assert completion_text.startswith("Echo: zebra") and streamed.startswith("Echo: zebra")
    for secret in (PROMPT, *PROMPT.split(), completion_text, streamed, "Echo:", "[[emu",
                   TEST_KEY, TEST_KEY[3:], "Bearer", "has spaces"):
        assert secret not in everything, secret
    assert all(line["path"] == f"{gateway.settings.api_route_prefix}/chat/completions"
               for line in lines)  # the query string is dropped


async def test_access_log_off_writes_nothing(make_gateway, capsys):
    gateway = await make_gateway(access_log=False)
    async with gateway.client() as client:
        await client.chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": f"{PROMPT} [[emu chunks=3]]"}])
        stream = await client.chat.completions.create(
            model=HAIKU, stream=True,
            messages=[{"role": "user", "content": f"{PROMPT} [[emu chunks=3]]"}])
        assert [c async for c in stream]
        with pytest.raises(openai.NotFoundError):
            await client.chat.completions.create(
                model="no-such-model", messages=[{"role": "user", "content": "x"}])
    assert capsys.readouterr().out == ""
