"""Chat parity through the real server and the openai SDK: tool loops (streamed and not),
parallel calls, tool_choice, legacy functions, images (data URL, allowed http URL, SSRF refusal),
documents, reasoning, prompt caching, structured output, pass-through fields.

What the gateway sent to Bedrock is read back from the emulator's stats (`recent[].request`, a
summary of each Converse request: fields, block kinds per message, tool names, toolChoice and
the pass-through fields as received), so each test proves the mapping, not only the reply.
"""

from __future__ import annotations

import base64
import json

import jsonschema
import openai
import pytest

from bedrock_gateway.emulator.script import (
    count_tokens,
    example_from_schema,
    reply_text,
)
from bedrock_gateway.protocols.openai_chat.chat_tools import JSON_OBJECT_INSTRUCTION
from tests.support.constants import HAIKU
from tests.support.local_http import png_bytes

REASONING_MODEL = "us.anthropic.claude-sonnet-4-20250514-v1:0"  # thinking + cache points
NATIVE_JSON_MODEL = "openai.gpt-oss-120b-1:0"  # outputConfig json_schema
CITY = {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}
WEATHER_TOOL = {"type": "function", "function": {
    "name": "get_weather", "description": "Weather for a city", "parameters": CITY}}
TIME_TOOL = {"type": "function", "function": {
    "name": "get_time", "parameters": {"type": "object", "properties": {
        "zone": {"type": "string"}}, "required": ["zone"]}}}



def user(text: str, *parts: dict) -> dict:
    return {"role": "user", "content": [{"type": "text", "text": text}, *parts]}


async def collect(stream) -> list:
    return [chunk async for chunk in stream]


def streamed_text(chunks: list) -> str:
    return "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)


def finish_reasons(chunks: list) -> list:
    return [c.choices[0].finish_reason for c in chunks if c.choices and
            c.choices[0].finish_reason]


def tool_deltas(chunks: list) -> list:
    return [t for c in chunks if c.choices for t in (c.choices[0].delta.tool_calls or [])]


async def sent(emulator) -> list[dict]:
    """Summaries of the Converse requests the emulator received since the test began."""
    return [r["request"] for r in (await emulator.stats())["recent"]
            if r["operation"].startswith("converse")]


def shape(request: dict) -> list[tuple[str, list[str]]]:
    return [(m["role"], m["blocks"]) for m in request["messages"]]


# ---------------------------------------------------------------------------------- tool loops


@pytest.mark.parametrize("stream", [False, True])
async def test_two_turn_tool_loop(client, emulator, stream):
    messages = [user('Weather in Paris? [[emu tool=get_weather:{"city":"Paris"}]]')]
    if stream:
        chunks = await collect(await client.chat.completions.create(
            model=HAIKU, messages=messages, tools=[WEATHER_TOOL], stream=True))
        first, *later = tool_deltas(chunks)
        assert (first.index, first.type, first.function.name, first.function.arguments) == (
            0, "function", "get_weather", "")
        assert first.id
        assert len(later) >= 2  # the arguments arrive in fragments
        assert all(t.index == 0 and t.id is None and t.function.name is None and
                   t.function.arguments for t in later)
        arguments = "".join(t.function.arguments for t in later)
        call_id = first.id
        assert finish_reasons(chunks) == ["tool_calls"]
    else:
        response = await client.chat.completions.create(
            model=HAIKU, messages=messages, tools=[WEATHER_TOOL])
        assert response.choices[0].finish_reason == "tool_calls"
        (call,) = response.choices[0].message.tool_calls
        assert (call.type, call.function.name) == ("function", "get_weather")
        arguments, call_id = call.function.arguments, call.id
    assert json.loads(arguments) == {"city": "Paris"}

    messages += [
        {"role": "assistant", "content": None, "tool_calls": [
            {"id": call_id, "type": "function",
             "function": {"name": "get_weather", "arguments": arguments}}]},
        {"role": "tool", "tool_call_id": call_id, "content": '{"temp_c": 21}'},
    ]
    if stream:
        chunks = await collect(await client.chat.completions.create(
            model=HAIKU, messages=messages, tools=[WEATHER_TOOL], stream=True))
        answer, reasons = streamed_text(chunks), finish_reasons(chunks)
        assert not tool_deltas(chunks)
    else:
        response = await client.chat.completions.create(model=HAIKU, messages=messages,
                                                        tools=[WEATHER_TOOL])
        answer, reasons = response.choices[0].message.content, [response.choices[0].finish_reason]
        assert response.choices[0].message.tool_calls is None
    assert reasons == ["stop"]
    assert answer == reply_text("", 8)  # the emulator's answer to a turn holding only a result
    turn1, turn2 = await sent(emulator)
    assert (turn1["tools"], turn1["toolChoice"]) == (["get_weather"], None)
    # The emulator checks that the toolResult's id matches the toolUse before it: it did.
    assert shape(turn2) == [("user", ["text"]), ("assistant", ["toolUse"]),
                            ("user", ["toolResult"])]


async def test_parallel_calls_with_text_before_and_their_results(client, emulator):
    directive = ('both [[emu text_before=Let me check. tool=get_weather:{"city": "Oslo"} '
                 'tool=get_time:{"zone": "CET"}]]')
    chunks = await collect(await client.chat.completions.create(
        model=HAIKU, tools=[WEATHER_TOOL, TIME_TOOL], stream=True, messages=[user(directive)]))
    assert streamed_text(chunks) == "Let me check."
    text_at = next(i for i, c in enumerate(chunks) if c.choices and c.choices[0].delta.content)
    first_call_at = next(i for i, c in enumerate(chunks)
                         if c.choices and c.choices[0].delta.tool_calls)
    assert text_at < first_call_at  # the text comes before the calls, as the model wrote it
    deltas = tool_deltas(chunks)
    starts = [t for t in deltas if t.id]
    assert [(t.index, t.function.name, t.function.arguments) for t in starts] == [
        (0, "get_weather", ""), (1, "get_time", "")]
    assert starts[0].id != starts[1].id
    by_index = {i: "".join(t.function.arguments for t in deltas if t.index == i and not t.id)
                for i in (0, 1)}
    assert {i: json.loads(a) for i, a in by_index.items()} == {0: {"city": "Oslo"},
                                                               1: {"zone": "CET"}}
    assert {t.index for t in deltas} == {0, 1}
    assert finish_reasons(chunks) == ["tool_calls"]

    messages = [user(directive)]
    response = await client.chat.completions.create(
        model=HAIKU, tools=[WEATHER_TOOL, TIME_TOOL], messages=messages)
    message = response.choices[0].message
    assert message.content == "Let me check."
    calls = message.tool_calls
    assert [(c.function.name, json.loads(c.function.arguments)) for c in calls] == [
        ("get_weather", {"city": "Oslo"}), ("get_time", {"zone": "CET"})]
    messages += [message.model_dump(exclude_none=True),
                 {"role": "tool", "tool_call_id": calls[0].id, "content": "cloudy"},
                 {"role": "tool", "tool_call_id": calls[1].id, "content": "12:00"}]
    answer = await client.chat.completions.create(
        model=HAIKU, tools=[WEATHER_TOOL, TIME_TOOL], messages=messages)
    assert answer.choices[0].finish_reason == "stop" and answer.choices[0].message.content
    assert shape((await sent(emulator))[-1]) == [
        ("user", ["text"]), ("assistant", ["text", "toolUse", "toolUse"]),
        ("user", ["toolResult", "toolResult"])]


@pytest.mark.parametrize("choice, bedrock_choice", [
    ("required", {"any": {}}),
    ({"type": "function", "function": {"name": "get_time"}}, {"tool": {"name": "get_time"}}),
])
@pytest.mark.parametrize("stream", [False, True])
async def test_forced_tool_choice(client, emulator, choice, bedrock_choice, stream):
    tools = [TIME_TOOL, WEATHER_TOOL]
    if stream:
        chunks = await collect(await client.chat.completions.create(
            model=HAIKU, tools=tools, tool_choice=choice, messages=[user("time?")],
            stream=True))
        deltas = tool_deltas(chunks)
        name = deltas[0].function.name
        arguments = json.loads("".join(t.function.arguments for t in deltas))
        assert finish_reasons(chunks) == ["tool_calls"]
    else:
        response = await client.chat.completions.create(
            model=HAIKU, tools=tools, tool_choice=choice, messages=[user("time?")])
        (call,) = response.choices[0].message.tool_calls
        name, arguments = call.function.name, json.loads(call.function.arguments)
        assert response.choices[0].finish_reason == "tool_calls"
    # The emulated model, forced without a directive, calls the forced (or first) tool with an
    # instance of its schema.
    assert name == "get_time"
    assert arguments == example_from_schema(TIME_TOOL["function"]["parameters"])
    (request,) = await sent(emulator)
    assert (request["tools"], request["toolChoice"]) == (["get_time", "get_weather"],
                                                         bedrock_choice)


@pytest.mark.parametrize("stream", [False, True])
async def test_tool_choice_none_with_tool_history(client, emulator, stream):
    history = [
        user("weather?"),
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city": "Rome"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"},
        user("and now just talk [[emu chunks=3]]")]
    if stream:
        chunks = await collect(await client.chat.completions.create(
            model=HAIKU, tools=[WEATHER_TOOL], tool_choice="none", messages=history,
            stream=True))
        text, reasons = streamed_text(chunks), finish_reasons(chunks)
        assert not tool_deltas(chunks)
    else:
        response = await client.chat.completions.create(
            model=HAIKU, tools=[WEATHER_TOOL], tool_choice="none", messages=history)
        text, reasons = response.choices[0].message.content, [response.choices[0].finish_reason]
        assert response.choices[0].message.tool_calls is None
    assert reasons == ["stop"]
    # The emulator echoes the last user turn, which now starts with the result as text.
    assert text == reply_text("[tool result call_1] sunny", 3)
    (request,) = await sent(emulator)
    assert "toolConfig" not in request["fields"] and request["tools"] == []
    # The history is still there, as text (Bedrock refuses toolUse blocks without toolConfig).
    assert shape(request) == [("user", ["text"]), ("assistant", ["text"]),
                              ("user", ["text", "text"])]


@pytest.mark.parametrize("stream", [False, True])
async def test_legacy_functions_loop(client, emulator, stream):
    """`functions` + `function_call` in, `message.function_call` + finish `function_call` out
    (as OpenAI answers a legacy request), then a `function` message answers it."""
    messages = [user("weather?")]
    kwargs = {"model": HAIKU, "functions": [WEATHER_TOOL["function"]],
              "function_call": {"name": "get_weather"}}
    if stream:
        chunks = await collect(await client.chat.completions.create(
            messages=messages, stream=True, **kwargs))
        calls = [c.choices[0].delta.function_call for c in chunks
                 if c.choices and c.choices[0].delta.function_call]
        assert (calls[0].name, calls[0].arguments) == ("get_weather", "")
        name, arguments = calls[0].name, "".join(c.arguments for c in calls[1:])
        assert all(c.name is None for c in calls[1:])
        assert not tool_deltas(chunks)
        assert finish_reasons(chunks) == ["function_call"]
    else:
        response = await client.chat.completions.create(messages=messages, **kwargs)
        message = response.choices[0].message
        assert message.tool_calls is None
        assert response.choices[0].finish_reason == "function_call"
        name, arguments = message.function_call.name, message.function_call.arguments
    assert name == "get_weather"
    assert json.loads(arguments) == example_from_schema(CITY)
    messages += [{"role": "assistant", "content": None,
                  "function_call": {"name": name, "arguments": arguments}},
                 {"role": "function", "name": "get_weather", "content": '{"temp_c": 9}'}]
    answer = await client.chat.completions.create(
        model=HAIKU, functions=[WEATHER_TOOL["function"]], messages=messages)
    assert answer.choices[0].finish_reason == "stop"
    assert answer.choices[0].message.content == reply_text("", 8)
    first, second = await sent(emulator)
    assert first["toolChoice"] == {"tool": {"name": "get_weather"}}
    assert second["toolChoice"] is None
    assert shape(second) == [("user", ["text"]), ("assistant", ["toolUse"]),
                             ("user", ["toolResult"])]


# ------------------------------------------------------------------------- images, documents


async def test_image_by_data_url(client, emulator):
    data = base64.b64encode(png_bytes()).decode()
    response = await client.chat.completions.create(model=HAIKU, messages=[user(
        "what is this? [[emu chunks=2]]",
        {"type": "image_url", "image_url": {"url": f"data:image/png;base64,{data}"}})])
    assert response.choices[0].message.content == reply_text("what is this?", 2)
    (request,) = await sent(emulator)
    assert shape(request) == [("user", ["text", "image"])]



async def test_image_by_http_url_allowed_by_the_operator(make_gateway, emulator, image_server):
    gateway = await make_gateway(image_fetch_allowlist=("127.0.0.1/32",))
    async with gateway.client() as client:
        response = await client.chat.completions.create(model=HAIKU, messages=[user(
            "describe [[emu chunks=2]]",
            {"type": "image_url", "image_url": {"url": f"{image_server}/cat.png"}})])
        assert response.choices[0].message.content == reply_text("describe", 2)
        (request,) = await sent(emulator)
        assert shape(request) == [("user", ["text", "image"])]

        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(model=HAIKU, messages=[user(
                "describe", {"type": "image_url",
                             "image_url": {"url": f"{image_server}/page.html"}})])
        error = info.value.body
        assert error["code"] == "invalid_image_format"
        assert error["param"] == "messages[0].content[1].image_url.url"
        assert "text/html" in error["message"]
    assert len(await sent(emulator)) == 1  # the refused request never reached Bedrock


@pytest.mark.parametrize("url", ["{server}/cat.png", "http://169.254.169.254/latest/meta-data",
                                 "http://localhost:1/x.png", "http://[::1]:1/x.png"])
async def test_ssrf_guard_refuses_private_addresses_by_default(client, emulator, image_server,
                                                               url):
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model=HAIKU, messages=[
            user("hi"), {"role": "assistant", "content": "hello"},
            user("describe", {"type": "image_url",
                              "image_url": {"url": url.format(server=image_server)}})])
    error = info.value.body
    assert error["code"] == "image_url_forbidden"
    assert error["type"] == "invalid_request_error"
    assert error["param"] == "messages[2].content[1].image_url.url"
    assert await sent(emulator) == []


async def test_every_redirect_hop_is_checked(make_gateway, emulator, image_server):
    """An allowed host that redirects to a forbidden address is refused; a redirect between
    allowed addresses is followed."""
    gateway = await make_gateway(image_fetch_allowlist=("127.0.0.1/32",))
    port = image_server.rsplit(":", 1)[1]
    async with gateway.client() as client:
        response = await client.chat.completions.create(model=HAIKU, messages=[user(
            "describe [[emu chunks=2]]", {"type": "image_url", "image_url": {
                "url": f"{image_server}/to?url={image_server}/cat.png"}})])
        assert response.choices[0].message.content == reply_text("describe", 2)
        for target in ("http://169.254.169.254/latest/meta-data", f"http://[::1]:{port}/cat.png",
                       f"http://10.0.0.1:{port}/cat.png"):
            with pytest.raises(openai.BadRequestError) as info:
                await client.chat.completions.create(model=HAIKU, messages=[user(
                    "describe", {"type": "image_url",
                                 "image_url": {"url": f"{image_server}/to?url={target}"}})])
            assert info.value.body["code"] == "image_url_forbidden", target
            assert info.value.body["param"] == "messages[0].content[1].image_url.url"
    assert len(await sent(emulator)) == 1


async def test_image_data_url_with_a_wrong_label_is_sent_as_what_it_is(client, emulator):
    data = base64.b64encode(png_bytes()).decode()
    response = await client.chat.completions.create(model=HAIKU, messages=[user(
        "what is this? [[emu chunks=2]]",
        {"type": "image_url", "image_url": {"url": f"data:image/jpeg;base64,{data}",
                                            "detail": "high"}})])
    assert response.choices[0].message.content == reply_text("what is this?", 2)
    (request,) = await sent(emulator)
    assert shape(request) == [("user", ["text", "image"])]


async def test_image_to_a_text_only_model_is_a_400(client, emulator):
    data = base64.b64encode(png_bytes()).decode()
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model="meta.llama3-1-8b-instruct-v1:0", messages=[
            user("x", {"type": "image_url",
                       "image_url": {"url": f"data:image/png;base64,{data}"}})])
    assert info.value.body["param"] == "messages[0].content[1]"
    assert await sent(emulator) == []


async def test_pdf_document(client, emulator):
    pdf = base64.b64encode(b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF").decode()
    response = await client.chat.completions.create(model=HAIKU, messages=[user(
        "summarise [[emu chunks=2]]",
        {"type": "file", "file": {"file_data": f"data:application/pdf;base64,{pdf}",
                                  "filename": "report.pdf"}})])
    assert response.choices[0].message.content == reply_text("summarise", 2)
    (request,) = await sent(emulator)
    assert shape(request) == [("user", ["text", "document"])]


async def test_audio_input_is_refused(client, emulator):
    with pytest.raises(openai.BadRequestError) as info:
        await client.chat.completions.create(model=HAIKU, messages=[user(
            "listen", {"type": "input_audio", "input_audio": {"data": "AAAA", "format": "wav"}})])
    assert info.value.body["param"] == "messages[0].content[1]"
    assert "audio" in info.value.body["message"].lower()
    assert await sent(emulator) == []


# ---------------------------------------------------------------------------------- reasoning


async def test_reasoning_streamed_and_not(client, emulator):
    content = "think [[emu reasoning=thinking about it chunks=3]]"
    # temperature and top_p with thinking: Bedrock would refuse them (the emulator does too).
    chunks = await collect(await client.chat.completions.create(
        model=REASONING_MODEL, reasoning_effort="low", temperature=0.3, top_p=0.5, stream=True,
        messages=[user(content)]))
    pieces = [(c.choices[0].delta.model_extra or {}).get("reasoning_content")
              for c in chunks if c.choices]
    assert "".join(p for p in pieces if p) == "thinking about it"
    assert len([p for p in pieces if p]) == 3  # streamed as it came, not at the end
    last_reasoning = max(i for i, p in enumerate(pieces) if p)
    first_text = next(i for i, c in enumerate(c for c in chunks if c.choices)
                      if c.choices[0].delta.content)
    assert last_reasoning < first_text
    assert streamed_text(chunks) == reply_text("think", 3)
    assert finish_reasons(chunks) == ["stop"]

    response = await client.chat.completions.create(
        model=REASONING_MODEL, reasoning_effort="medium", temperature=0.2,
        messages=[user(content)])
    message = response.choices[0].message
    assert message.model_extra["reasoning_content"] == "thinking about it"
    assert message.content == reply_text("think", 3)

    low, medium = await sent(emulator)
    assert low["additionalModelRequestFields"] == {
        "thinking": {"type": "enabled", "budget_tokens": 1024}}
    assert low["inferenceConfig"] == {"maxTokens": 1024 + 4096, "temperature": 1.0}
    assert medium["additionalModelRequestFields"]["thinking"]["budget_tokens"] == 4096


async def test_reasoning_effort_on_a_model_without_thinking_is_ignored(client, emulator):
    response = await client.chat.completions.create(
        model=HAIKU, reasoning_effort="high", temperature=0.4,
        messages=[user("think [[emu chunks=2]]")])
    assert response.choices[0].message.content == reply_text("think", 2)
    (request,) = await sent(emulator)
    assert "additionalModelRequestFields" not in request["fields"]
    assert request["inferenceConfig"] == {"temperature": 0.4}


@pytest.mark.parametrize("stream", [False, True])
async def test_redacted_reasoning_is_not_leaked(client, stream):
    kwargs = {"model": REASONING_MODEL, "reasoning_effort": "low",
              "messages": [user("secret [[emu redacted=1 chunks=2]]")]}
    if stream:
        chunks = await collect(await client.chat.completions.create(stream=True, **kwargs))
        extras = [c.choices[0].delta.model_extra or {} for c in chunks if c.choices]
        assert all(not extra for extra in extras), extras
        assert streamed_text(chunks) == reply_text("secret", 2)
        raw = "".join(c.model_dump_json() for c in chunks)
    else:
        response = await client.chat.completions.create(**kwargs)
        message = response.choices[0].message
        assert not message.model_extra, message.model_extra
        assert message.content == reply_text("secret", 2)
        raw = response.model_dump_json()
    assert "redacted" not in raw and "signature" not in raw


REASONING_37 = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"


@pytest.mark.parametrize("stream", [False, True])
async def test_reasoning_on_claude_3_7(client, emulator, stream):
    kwargs = {"model": REASONING_37, "reasoning_effort": "low", "temperature": 0.7,
              "messages": [user("why? [[emu reasoning=thinking about it chunks=2]]")]}
    if stream:
        chunks = await collect(await client.chat.completions.create(stream=True, **kwargs))
        reasoning = "".join((c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
                            for c in chunks if c.choices)
        text = streamed_text(chunks)
    else:
        message = (await client.chat.completions.create(**kwargs)).choices[0].message
        reasoning, text = message.model_extra["reasoning_content"], message.content
    assert (reasoning, text) == ("thinking about it", reply_text("why?", 2))
    (request,) = await sent(emulator)
    assert request["additionalModelRequestFields"]["thinking"] == {"type": "enabled",
                                                                   "budget_tokens": 1024}
    assert request["inferenceConfig"]["temperature"] == 1.0


@pytest.mark.parametrize("stream", [False, True])
async def test_reasoning_with_forced_tool_choice_asks_instead_of_forcing(client, emulator,
                                                                         stream):
    """Thinking forbids toolChoice any/tool: the gateway keeps thinking, sends auto and asks for a
    call in the system prompt; the call still comes back as tool_calls."""
    kwargs = {"model": REASONING_MODEL, "reasoning_effort": "low", "tools": [WEATHER_TOOL],
              "tool_choice": "required",
              "messages": [user('Paris? [[emu reasoning=hm tool=get_weather:{"city":"Paris"}]]')]}
    if stream:
        chunks = await collect(await client.chat.completions.create(stream=True, **kwargs))
        deltas = tool_deltas(chunks)
        name, arguments = deltas[0].function.name, "".join(t.function.arguments for t in deltas)
        reasons = finish_reasons(chunks)
    else:
        choice = (await client.chat.completions.create(**kwargs)).choices[0]
        (call,) = choice.message.tool_calls
        name, arguments, reasons = call.function.name, call.function.arguments, [
            choice.finish_reason]
    assert (name, json.loads(arguments), reasons) == ("get_weather", {"city": "Paris"},
                                                      ["tool_calls"])
    (request,) = await sent(emulator)
    assert request["toolChoice"] is None
    assert request["system"] == ["You must call at least one of the provided tools."]
    assert request["additionalModelRequestFields"]["thinking"]["type"] == "enabled"


async def test_reasoning_is_not_enabled_mid_tool_loop(client, emulator):
    messages = [
        user("weather?"),
        {"role": "assistant", "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "get_weather", "arguments": '{"city": "Rome"}'}}]},
        {"role": "tool", "tool_call_id": "call_1", "content": "sunny"}]
    for stream in (False, True):
        response = await client.chat.completions.create(
            model=REASONING_MODEL, reasoning_effort="high", temperature=0.5, tools=[WEATHER_TOOL],
            messages=messages, stream=stream)
        if stream:
            chunks = await collect(response)
            assert streamed_text(chunks) == reply_text("", 8)
            assert finish_reasons(chunks) == ["stop"]
        else:
            assert response.choices[0].message.content == reply_text("", 8)
    for request in await sent(emulator):
        assert "additionalModelRequestFields" not in request["fields"]
        assert request["inferenceConfig"] == {"temperature": 0.5}
        assert shape(request) == [("user", ["text"]), ("assistant", ["toolUse"]),
                                  ("user", ["toolResult"])]


# ------------------------------------------------------------------------------ prompt caching


@pytest.mark.parametrize("per_request", [False, True])
async def test_cached_tokens_reported(make_gateway, emulator, per_request):
    gateway = await make_gateway(enable_prompt_caching=not per_request)
    extra = {"extra_body": {"prompt_caching": True}} if per_request else {}
    content = "long prompt [[emu cache_read=100 cache_write=50 chunks=2]]"
    messages = [{"role": "system", "content": "You are terse."}, user(content)]
    async with gateway.client() as client:
        response = await client.chat.completions.create(
            model=REASONING_MODEL, messages=messages, **extra)
        usage = response.usage
        assert usage.prompt_tokens_details.cached_tokens == 100
        assert usage.prompt_tokens_details.cache_write_tokens == 50
        # Bedrock's inputTokens exclude cached tokens; OpenAI's prompt_tokens include them.
        assert usage.prompt_tokens == count_tokens("You are terse. long prompt") + 150
        chunks = await collect(await client.chat.completions.create(
            model=REASONING_MODEL, messages=messages, stream=True,
            stream_options={"include_usage": True}, **extra))
        assert chunks[-1].choices == []
        assert chunks[-1].usage.prompt_tokens_details.cached_tokens == 100
        assert chunks[-1].usage.prompt_tokens_details.cache_write_tokens == 50
        assert chunks[-1].usage.prompt_tokens == usage.prompt_tokens
    for request in await sent(emulator):
        assert request["system"] == ["You are terse.", "cachePoint"]
        assert shape(request) == [("user", ["text", "cachePoint"])]


async def test_prompt_caching_off_or_unsupported_sends_no_cache_points(make_gateway, emulator):
    gateway = await make_gateway(enable_prompt_caching=True)
    async with gateway.client() as client:
        for model, extra in ((REASONING_MODEL, {"prompt_caching": False}), (HAIKU, {})):
            response = await client.chat.completions.create(
                model=model, messages=[user("hi [[emu chunks=2]]")], extra_body=extra)
            assert response.choices[0].message.content == reply_text("hi", 2)
    for request in await sent(emulator):
        assert shape(request) == [("user", ["text"])]


# --------------------------------------------------------------------------- structured output


SCHEMA = {"type": "object", "properties": {"name": {"type": "string", "minLength": 2},
                                           "age": {"type": "integer", "minimum": 18},
                                           "tags": {"type": "array", "items": {"type": "string"},
                                                    "minItems": 1}},
          "required": ["name", "age", "tags"], "additionalProperties": False}


@pytest.mark.parametrize("model, native", [(HAIKU, False), (NATIVE_JSON_MODEL, True)])
@pytest.mark.parametrize("stream", [False, True])
async def test_json_schema_output_is_valid_json(client, emulator, model, native, stream):
    fmt = {"type": "json_schema", "json_schema": {"name": "person", "schema": SCHEMA,
                                                  "strict": True}}
    messages = [user("Give me a person.")]
    if stream:
        chunks = await collect(await client.chat.completions.create(
            model=model, messages=messages, response_format=fmt, stream=True))
        text, reasons = streamed_text(chunks), finish_reasons(chunks)
        assert not tool_deltas(chunks)
    else:
        response = await client.chat.completions.create(model=model, messages=messages,
                                                        response_format=fmt)
        text, reasons = response.choices[0].message.content, [response.choices[0].finish_reason]
        assert response.choices[0].message.tool_calls is None
    jsonschema.validate(json.loads(text), SCHEMA)
    assert reasons == ["stop"]
    (request,) = await sent(emulator)
    if native:
        assert "toolConfig" not in request["fields"]
        structure = request["outputConfig"]["textFormat"]["structure"]["jsonSchema"]
        assert json.loads(structure["schema"]) == SCHEMA and structure["name"] == "person"
    else:  # forced-tool fallback: a tool named after the schema, its input is the answer
        assert "outputConfig" not in request["fields"]
        assert (request["tools"], request["toolChoice"]) == (["person"],
                                                             {"tool": {"name": "person"}})


@pytest.mark.parametrize("stream", [False, True])
async def test_json_schema_with_client_tools_on_the_fallback_model(client, emulator, stream):
    """The schema's tool joins the client's (under toolChoice any): a call to a client tool stays
    a tool call; the answer tool's input is the content. A schema named like a client tool gets
    another tool name."""
    fmt = {"type": "json_schema", "json_schema": {"name": "get_weather", "schema": SCHEMA}}
    kwargs = {"model": HAIKU, "tools": [WEATHER_TOOL], "response_format": fmt, "stream": stream}
    response = await client.chat.completions.create(
        messages=[user('Paris? [[emu tool=get_weather:{"city": "Paris"}]]')], **kwargs)
    if stream:
        chunks = await collect(response)
        deltas = tool_deltas(chunks)
        text, reasons = streamed_text(chunks), finish_reasons(chunks)
        calls = [(deltas[0].function.name, "".join(t.function.arguments for t in deltas))]
    else:
        choice = response.choices[0]
        text, reasons = choice.message.content, [choice.finish_reason]
        calls = [(c.function.name, c.function.arguments) for c in choice.message.tool_calls]
    assert not text and reasons == ["tool_calls"]
    assert [(n, json.loads(a)) for n, a in calls] == [("get_weather", {"city": "Paris"})]
    (request,) = await sent(emulator)
    (answer_tool,) = set(request["tools"]) - {"get_weather"}
    assert request["toolChoice"] == {"any": {}}
    # The model answers through the schema's tool:
    response = await client.chat.completions.create(messages=[user(
        f"answer [[emu tool={answer_tool}:{json.dumps(example_from_schema(SCHEMA))}]]")],
        **kwargs)
    if stream:
        chunks = await collect(response)
        content, reasons = streamed_text(chunks), finish_reasons(chunks)
        assert not tool_deltas(chunks)
    else:
        content, reasons = (response.choices[0].message.content,
                            [response.choices[0].finish_reason])
        assert response.choices[0].message.tool_calls is None
    jsonschema.validate(json.loads(content), SCHEMA)
    assert reasons == ["stop"]


@pytest.mark.parametrize("stream", [False, True])
async def test_json_object_adds_the_instruction(client, emulator, stream):
    # The emulator echoes the prompt unless told what to say: `text=` scripts a JSON reply, so
    # this proves the instruction reaches Bedrock and the text comes back untouched.
    messages = [user('A JSON object please [[emu text={"a": 1, "b": [true, null]}]]')]
    fmt = {"type": "json_object"}
    if stream:
        text = streamed_text(await collect(await client.chat.completions.create(
            model=HAIKU, messages=messages, response_format=fmt, stream=True)))
    else:
        text = (await client.chat.completions.create(
            model=HAIKU, messages=messages, response_format=fmt)).choices[0].message.content
    assert json.loads(text) == {"a": 1, "b": [True, None]}
    (request,) = await sent(emulator)
    assert request["system"] == [JSON_OBJECT_INSTRUCTION]


# ------------------------------------------------------------------ pass-through and parameters


@pytest.mark.parametrize("stream", [False, True])
async def test_guardrail_and_pass_through_fields(make_gateway, emulator, stream):
    gateway = await make_gateway(guardrail_identifier="gr-operator", guardrail_version="3")
    extra = {"top_k": 20, "requestMetadata": {"team": "search"},
             "performanceConfig": {"latency": "optimized"},
             "guardrailConfig": {"guardrailIdentifier": "gr-client", "guardrailVersion": "1",
                                 "trace": "enabled"}}
    messages = [user("bad [[emu stop=guardrail_intervened chunks=2]]")]
    async with gateway.client() as client:
        if stream:
            chunks = await collect(await client.chat.completions.create(
                model=HAIKU, messages=messages, extra_body=extra, stream=True))
            reasons = finish_reasons(chunks)
        else:
            response = await client.chat.completions.create(
                model=HAIKU, messages=messages, extra_body=extra)
            reasons = [response.choices[0].finish_reason]
    assert reasons == ["content_filter"]
    (request,) = await sent(emulator)
    # The operator's guardrail replaces the client's; the client's trace setting is kept.
    assert request["guardrailConfig"] == {"guardrailIdentifier": "gr-operator",
                                          "guardrailVersion": "3", "trace": "enabled"}
    assert request["additionalModelRequestFields"] == {"top_k": 20}
    assert request["requestMetadata"] == {"team": "search"}
    assert request["performanceConfig"] == {"latency": "optimized"}


async def test_client_guardrail_without_operator_guardrail(client, emulator):
    guardrail = {"guardrailIdentifier": "gr-client", "guardrailVersion": "DRAFT"}
    response = await client.chat.completions.create(
        model=HAIKU, messages=[user("x [[emu chunks=2]]")],
        extra_body={"guardrailConfig": guardrail,
                    "additionalModelRequestFields": {"top_k": 5, "custom": {"a": 1}}})
    assert response.choices[0].finish_reason == "stop"
    (request,) = await sent(emulator)
    assert request["guardrailConfig"] == guardrail
    assert request["additionalModelRequestFields"] == {"top_k": 5, "custom": {"a": 1}}


async def test_harmless_defaults_accepted_and_meaningful_ones_rejected(client, emulator):
    response = await client.chat.completions.create(
        model=HAIKU, messages=[user("hi [[emu chunks=2]]")], n=1, logprobs=False,
        top_logprobs=0, presence_penalty=0, frequency_penalty=0.5, user="u-1", seed=7,
        parallel_tool_calls=True, tools=[WEATHER_TOOL], store=False, metadata={"k": "v"},
        service_tier="auto", logit_bias={})
    assert response.choices[0].message.content == reply_text("hi", 2)
    (request,) = await sent(emulator)
    assert request["fields"] == ["messages", "toolConfig"]  # none of them leaked
    for params, param in (({"n": 2}, "n"), ({"logprobs": True}, "logprobs"),
                          ({"top_logprobs": 2}, "top_logprobs"),
                          ({"logit_bias": {"50256": -100}}, "logit_bias")):
        with pytest.raises(openai.BadRequestError) as info:
            await client.chat.completions.create(model=HAIKU, messages=[user("hi")], **params)
        assert info.value.body["param"] == param
        assert info.value.body["type"] == "invalid_request_error"
    assert len(await sent(emulator)) == 1
