"""Chat parity through the real server and the openai SDK: tool loops (streamed and not),
parallel calls, images (data URL, allowed http URL, SSRF refusal), documents, reasoning, prompt
caching, structured output, pass-through fields."""

from __future__ import annotations

import base64
import json
import struct
import zlib

import openai
import pytest
from aiohttp import web

from tests.conftest import HAIKU

REASONING_MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"
NATIVE_JSON_MODEL = "openai.gpt-oss-120b-1:0"
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                   "required": ["city"]}}}
TIME_TOOL = {"type": "function", "function": {
    "name": "get_time", "parameters": {"type": "object", "properties": {
        "zone": {"type": "string"}}, "required": ["zone"]}}}


def png_bytes() -> bytes:
    """A real 1x1 PNG."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data)))
    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    pixels = zlib.compress(b"\x00\xff\x00\x00")
    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", pixels)
            + chunk(b"IEND", b""))


def user(text: str, *parts: dict) -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text}, *parts]}


async def collect(stream) -> list:
    return [chunk async for chunk in stream]


@pytest.mark.parametrize("stream", [False, True])
async def test_two_turn_tool_loop(client, stream):
    messages = [user('Weather in Paris? [[emu tool=get_weather:{"city": "Paris"}]]')]
    if stream:
        chunks = await collect(await client.chat.completions.create(
            model=HAIKU, messages=messages, tools=[WEATHER_TOOL], stream=True))
        deltas = [c.choices[0].delta for c in chunks if c.choices and c.choices[0].delta.tool_calls]
        first = deltas[0].tool_calls[0]
        assert (first.index, first.type, first.function.name, first.function.arguments) == (
            0, "function", "get_weather", "")
        assert first.id
        later = [d.tool_calls[0] for d in deltas[1:]]
        assert later and all(t.id is None and t.index == 0 for t in later)
        arguments = "".join(t.function.arguments for t in later)
        call_id = first.id
        assert [c.choices[0].finish_reason for c in chunks if c.choices][-1] == "tool_calls"
    else:
        response = await client.chat.completions.create(
            model=HAIKU, messages=messages, tools=[WEATHER_TOOL])
        assert response.choices[0].finish_reason == "tool_calls"
        call = response.choices[0].message.tool_calls[0]
        arguments, call_id = call.function.arguments, call.id
        assert call.function.name == "get_weather"
    assert json.loads(arguments) == {"city": "Paris"}
    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": "get_weather", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": '{"temp_c": 21}'},
    ]
    answer = await client.chat.completions.create(model=HAIKU, messages=messages,
                                                  tools=[WEATHER_TOOL])
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.content  # Bedrock accepted the toolUse/toolResult pair


async def test_parallel_calls_with_text_before(client):
    chunks = await collect(await client.chat.completions.create(
        model=HAIKU, tools=[WEATHER_TOOL, TIME_TOOL], stream=True, messages=[user(
            'both [[emu text_before=Let me check. tool=get_weather:{"city": "Oslo"} '
            'tool=get_time:{"zone": "CET"}]]')]))
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "Let me check."
    starts = [t for c in chunks if c.choices for t in (c.choices[0].delta.tool_calls or [])
              if t.id]
    assert [(t.index, t.function.name) for t in starts] == [(0, "get_weather"), (1, "get_time")]
    response = await client.chat.completions.create(
        model=HAIKU, tools=[WEATHER_TOOL, TIME_TOOL], messages=[user(
            'both [[emu tool=get_weather:{"city": "Oslo"} tool=get_time:{"zone": "CET"}]]')])
    calls = response.choices[0].message.tool_calls
    assert [json.loads(c.function.arguments) for c in calls] == [{"city": "Oslo"},
                                                                 {"zone": "CET"}]


@pytest.mark.parametrize("choice", ["required", {"type": "function",
                                                 "function": {"name": "get_weather"}}])
async def test_forced_tool_choice(client, choice):
    response = await client.chat.completions.create(
        model=HAIKU, tools=[WEATHER_TOOL], tool_choice=choice, messages=[user("weather?")])
    call = response.choices[0].message.tool_calls[0]
    assert call.function.name == "get_weather"
    assert "city" in json.loads(call.function.arguments)


async def test_tool_choice_none_with_tool_history(client):
    response = await client.chat.completions.create(
        model=HAIKU, tools=[WEATHER_TOOL], tool_choice="none", messages=[
            user("weather?"),
            {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {
                "name": "get_weather", "arguments": '{"city": "Rome"}'}}]},
            {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
            user("and now just talk [[emu chunks=3]]")])
    assert response.choices[0].finish_reason == "stop"
    assert response.choices[0].message.tool_calls is None


async def test_legacy_functions(client):
    response = await client.chat.completions.create(
        model=HAIKU, functions=[WEATHER_TOOL["function"]],
        function_call={"name": "get_weather"}, messages=[user("weather?")])
    message = response.choices[0].message
    assert (message.tool_calls or [])[0].function.name == "get_weather" or (
        message.function_call and message.function_call.name == "get_weather")


async def test_image_by_data_url(client):
    data = base64.b64encode(png_bytes()).decode()
    response = await client.chat.completions.create(model=HAIKU, messages=[user(
        "what is this? [[emu chunks=2]]",
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}})])
    assert response.choices[0].message.content


@pytest.fixture
async def image_server():
    async def png(request):
        return web.Response(body=png_bytes(), content_type="image/png")

    async def html(request):
        return web.Response(text="<html></html>", content_type="text/html")

    app = web.Application()
    app.router.add_get("/cat.png", png)
    app.router.add_get("/page.html", html)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    yield f"http://127.0.0.1:{site._server.sockets[0].getsockname()[1]}"  # type: ignore[union-attr]
    await runner.cleanup()


async def test_image_by_http_url_allowed_by_the_operator(make_gateway, image_server):
    gateway = await make_gateway(image_fetch_allowlist=("127.0.0.1/32",))
    async with gateway.client() as client:
        response = await client.chat.completions.create(model=HAIKU, messages=[user(
            "describe [[emu chunks=2]]",
            {"type": "image_url", "image_url": {"url": f"{image_server}/cat.png"}})])
        assert response.choices[0].message.content
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(model=HAIKU, messages=[user(
                "describe", {"type": "image_url",
                             "image_url": {"url": f"{image_server}/page.html"}})])
        assert info.value.body["code"] == "invalid_image_format"


@pytest.mark.parametrize("url", ["{server}/cat.png", "http://169.254.169.254/latest/meta-data",
                                 "http://localhost:1/x.png", "http://[::1]:1/x.png"])
async def test_ssrf_guard_refuses_private_addresses_by_default(client, image_server, url):
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model=HAIKU, messages=[user(
            "describe", {"type": "image_url",
                         "image_url": {"url": url.format(server=image_server)}})])
    assert info.value.body["code"] == "image_url_forbidden"
    assert "image_url" in info.value.body["param"]


async def test_pdf_document(client):
    pdf = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF").decode()
    response = await client.chat.completions.create(model=HAIKU, messages=[user(
        "summarise [[emu chunks=2]]",
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{pdf}",
                                  "filename": "report.pdf"}})])
    assert response.choices[0].message.content


async def test_audio_input_is_refused(client):
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model=HAIKU, messages=[user(
            "listen", {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}})])
    assert "content" in info.value.body["param"]


async def test_reasoning_streamed_and_not(client):
    content = "think [[emu reasoning=thinking about it chunks=3]]"
    chunks = await collect(await client.chat.completions.create(
        model=REASONING_MODEL, reasoning_effort="low", temperature=0.3, stream=True,
        messages=[user(content)]))
    reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                        for c in chunks if c.choices)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert reasoning.replace(" ", "") == "thinkingaboutit"
    assert text and "thinking" not in text
    response = await client.chat.completions.create(
        model=REASONING_MODEL, reasoning_effort="medium", messages=[user(content)])
    extra = response.choices[0].message.model_extra or {}
    assert extra["reasoning_content"].replace(" ", "") == "thinkingaboutit"


async def test_redacted_reasoning_is_not_leaked(client):
    response = await client.chat.completions.create(
        model=REASONING_MODEL, reasoning_effort="low",
        messages=[user("secret [[emu redacted=1 chunks=2]]")])
    message = response.choices[0].message
    assert not (message.model_extra or {}).get("reasoning_content")
    assert message.content and message.content.startswith("Echo:")


@pytest.mark.parametrize("per_request", [False, True])
async def test_cached_tokens_reported(make_gateway, per_request):
    gateway = await make_gateway(enable_prompt_caching=not per_request)
    extra = {"extra_body": {"prompt_caching": True}} if per_request else {}
    content = "long prompt [[emu cache_read=100 cache_write=50 chunks=2]]"
    async with gateway.client() as client:
        response = await client.chat.completions.create(
            model=REASONING_MODEL, messages=[{"role": "system", "content": "You are terse."},
                                             user(content)], **extra)
        details = response.usage.prompt_tokens_details
        assert details.cached_tokens == 100
        assert details.cache_write_tokens == 50
        chunks = await collect(await client.chat.completions.create(
            model=REASONING_MODEL, messages=[user(content)], stream=True,
            stream_options={"include_usage": True}, **extra))
        usage = chunks[-1].usage
        assert usage.prompt_tokens_details.cached_tokens == 100
        assert usage.prompt_tokens_details.cache_write_tokens == 50


SCHEMA = {"type": "object", "properties": {"name": {"type": "string"},
                                           "age": {"type": "integer"}},
          "required": ["name", "age"], "additionalProperties": False}


@pytest.mark.parametrize("model", [HAIKU, NATIVE_JSON_MODEL])
@pytest.mark.parametrize("stream", [False, True])
async def test_json_schema_output_parses(client, model, stream):
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA,
                                                  "strict": True}}
    messages = [user("Give me a person.")]
    if stream:
        chunks = await collect(await client.chat.completions.create(
            model=model, messages=messages, response_format=fmt, stream=True))
        text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
        finish = [c.choices[0].finish_reason for c in chunks if c.choices][-1]
    else:
        response = await client.chat.completions.create(model=model, messages=messages,
                                                        response_format=fmt)
        text, finish = response.choices[0].message.content, response.choices[0].finish_reason
        assert response.choices[0].message.tool_calls is None
    value = json.loads(text)
    assert set(value) == {"name", "age"}
    assert isinstance(value["name"], str) and isinstance(value["age"], int)
    assert finish == "stop"


async def test_guardrail_and_pass_through_fields(make_gateway):
    gateway = await make_gateway(guardrail_identifier="gr-123", guardrail_version="1")
    async with gateway.client() as client:
        response = await client.chat.completions.create(
            model=HAIKU, messages=[user("bad [[emu stop=guardrail_intervened chunks=2]]")],
            extra_body={"top_k": 20, "requestMetadata": {"team": "search"},
                        "performanceConfig": {"latency": "standard"}})
        assert response.choices[0].finish_reason == "content_filter"


async def test_harmless_defaults_accepted_and_meaningful_ones_rejected(client):
    response = await client.chat.completions.create(
        model=HAIKU, messages=[user("hi [[emu chunks=2]]")], n=1, logprobs=False,
        presence_penalty=0, frequency_penalty=0, user="u-1", seed=7, parallel_tool_calls=True,
        tools=[WEATHER_TOOL])
    assert response.choices[0].message.content
    for params, param in (({"n": 2}, "n"), ({"logprobs": True}, "logprobs")):
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(model=HAIKU, messages=[user("hi")], **params)
        assert info.value.body["param"] == param
