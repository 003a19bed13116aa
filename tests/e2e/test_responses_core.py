"""The Responses API through the real server, the openai SDK and the emulator: text, streaming
events and their order, usage, incomplete responses, tools, custom tools, namespaces, hosted
tools, json_schema, images, errors."""

from __future__ import annotations

import base64
import json

import aiohttp
import openai
import pytest

from bedrock_gateway.emulator.script import reply_chunks
from tests.support.constants import HAIKU, TEST_KEY

PROMPT = "Tell me about the sea"
REASONING_MODEL = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
WEATHER = {"type": "function", "name": "get_weather", "description": "Weather for a city",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}},
                          "required": ["city"]}}


def expected_text(prompt: str, chunks: int) -> str:
    return "".join(reply_chunks(prompt, chunks))


async def raw_events(gateway, body: dict) -> tuple[aiohttp.ClientResponse, list[dict]]:
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.base_url}/responses", json=body,
            headers={"Authorization": f"Bearer {TEST_KEY}"}) as response:
        text = (await response.read()).decode()
    events = []
    for frame in filter(None, text.split("\n\n")):
        lines = dict(line.split(": ", 1) for line in frame.split("\n") if ": " in line)
        if "data" in lines:
            event = json.loads(lines["data"])
            assert lines.get("event") == event["type"]
            events.append(event)
    return response, events


async def test_create_text_and_usage(client):
    response = await client.responses.create(
        model=HAIKU, instructions="Be brief.", input=f"{PROMPT} [[emu chunks=5]]")
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.status == "completed"
    assert response.output_text == expected_text(PROMPT, 5)
    assert response.model == HAIKU
    assert response.instructions == "Be brief."
    assert response.usage.output_tokens == 5
    assert response.usage.input_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + 5
    assert response.usage.input_tokens_details.cached_tokens == 0
    assert response.usage.output_tokens_details.reasoning_tokens == 0


async def test_stream_events_in_order_with_sequence_numbers(gateway):
    response, events = await raw_events(gateway, {
        "model": HAIKU, "stream": True, "input": f"{PROMPT} [[emu chunks=4 cache_read=7]]"})
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/event-stream")
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    types = [e["type"] for e in events]
    assert types == ["response.created", "response.in_progress", "response.output_item.added",
                     "response.content_part.added", *["response.output_text.delta"] * 4,
                     "response.output_text.done", "response.content_part.done",
                     "response.output_item.done", "response.completed"]
    assert "".join(e["delta"] for e in events if e["type"].endswith("text.delta")) == \
        expected_text(PROMPT, 4)
    final = events[-1]["response"]
    assert final["status"] == "completed"
    assert final["usage"]["input_tokens_details"]["cached_tokens"] == 7
    assert final["output"][0]["content"][0]["text"] == expected_text(PROMPT, 4)
    assert events[0]["response"]["status"] == "in_progress"
    assert len({e["response"]["id"] for e in events if "response" in e}) == 1


async def test_sdk_stream_helper_final_response(client):
    async with client.responses.stream(model=HAIKU, input=f"{PROMPT} [[emu chunks=6]]") as stream:
        deltas = [e.delta async for e in stream if e.type == "response.output_text.delta"]
        final = await stream.get_final_response()
    assert "".join(deltas) == expected_text(PROMPT, 6) == final.output_text


@pytest.mark.parametrize("stop, reason", [("max_tokens", "max_output_tokens"),
                                          ("content_filtered", "content_filter"),
                                          ("guardrail_intervened", "content_filter")])
@pytest.mark.parametrize("stream", [False, True])
async def test_incomplete_responses(client, gateway, stop, reason, stream):
    body = {"model": HAIKU, "input": f"x [[emu chunks=3 stop={stop}]]"}
    if stream:
        _, events = await raw_events(gateway, {**body, "stream": True})
        assert events[-1]["type"] == "response.incomplete"
        final = events[-1]["response"]
    else:
        final = (await client.responses.create(**body)).model_dump()
    assert final["status"] == "incomplete"
    assert final["incomplete_details"] == {"reason": reason}


async def test_max_output_tokens_truncates(client):
    response = await client.responses.create(model=HAIKU, max_output_tokens=3,
                                             input=f"{PROMPT} [[emu chunks=10]]")
    assert response.status == "incomplete"
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output_text == "".join(reply_chunks(PROMPT, 10)[:3])


async def test_function_tool_loop(client, emulator):
    first = await client.responses.create(
        model=HAIKU, tools=[WEATHER], store=False,
        input='Weather? [[emu tool=get_weather:{"city": "Paris"} after_tool=quote]]')
    [call] = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather" and json.loads(call.arguments) == {"city": "Paris"}
    history = [{"role": "user",
                "content": 'Weather? [[emu tool=get_weather:{"city": "Paris"} after_tool=quote]]'},
               *[item.model_dump(exclude_none=True) for item in first.output],
               {"type": "function_call_output", "call_id": call.call_id,
                "output": "sunny, 21 C"}]
    second = await client.responses.create(model=HAIKU, tools=[WEATHER], input=history,
                                           store=False)
    assert "sunny, 21 C" in second.output_text
    sent = (await emulator.stats())["recent"][-1]["request"]
    assert [m["blocks"] for m in sent["messages"]] == [["text"], ["toolUse"], ["toolResult"]]


async def test_parallel_calls_stream(client):
    directive = ('[[emu tool=get_weather:{"city": "Paris"} tool=get_weather:{"city": "Rome"} '
                 'text_before=Checking both.]]')
    async with client.responses.stream(model=HAIKU, tools=[WEATHER],
                                       input=f"Two cities {directive}") as stream:
        arg_deltas = [e async for e in stream
                      if e.type == "response.function_call_arguments.delta"]
        final = await stream.get_final_response()
    calls = [item for item in final.output if item.type == "function_call"]
    assert [json.loads(c.arguments)["city"] for c in calls] == ["Paris", "Rome"]
    assert len({c.call_id for c in calls}) == 2
    assert final.output[0].type == "message" and final.output_text == "Checking both."
    assert {e.output_index for e in arg_deltas} == {1, 2}


async def test_custom_and_namespaced_tools_and_hosted_tools_dropped(gateway, client, emulator):
    tools = [{"type": "custom", "name": "apply_patch", "description": "Apply a patch"},
             {"type": "namespace", "name": "crm", "description": "CRM tools",
              "tools": [{"type": "function", "name": "lookup",
                         "parameters": {"type": "object", "properties": {}}}]},
             {"type": "web_search"}, {"type": "code_interpreter", "container": {"type": "auto"}}]
    raw = await client.responses.with_raw_response.create(
        model=HAIKU, tools=tools,
        input='x [[emu tool=apply_patch:{"input": "*** Begin Patch"} tool=crm__lookup:{}]]')
    assert raw.headers["X-Gateway-Dropped-Tools"] == "web_search,code_interpreter"
    response = raw.parse()
    custom, namespaced = response.output
    assert custom.type == "custom_tool_call" and custom.name == "apply_patch"
    assert custom.input == "*** Begin Patch"
    assert namespaced.type == "function_call" and namespaced.name == "lookup"
    assert namespaced.namespace == "crm"
    sent = (await emulator.stats())["recent"][-1]["request"]
    assert sent["tools"] == ["apply_patch", "crm__lookup"]
    # Each call and its output go back as a toolUse / toolResult pair.
    follow = await client.responses.create(model=HAIKU, tools=tools, input=[
        {"role": "user", "content": "x"}, custom.model_dump(exclude_none=True),
        {"type": "custom_tool_call_output", "call_id": custom.call_id, "output": "applied"},
        namespaced.model_dump(exclude_none=True),
        {"type": "function_call_output", "call_id": namespaced.call_id, "output": "found"}])
    assert follow.status == "completed"
    sent = (await emulator.stats())["recent"][-1]["request"]
    assert [m["blocks"] for m in sent["messages"]] == [
        ["text"], ["toolUse"], ["toolResult"], ["toolUse"], ["toolResult"]]


async def test_hosted_tools_rejected_when_configured(make_gateway):
    gateway = await make_gateway(responses_hosted_tools="reject")
    async with gateway.client() as client:
        with pytest.raises(openai.BadRequestError) as info:
            await client.responses.create(model=HAIKU, input="hi",
                                          tools=[WEATHER, {"type": "web_search"}])
    assert info.value.body["param"] == "tools[1].type"
    assert info.value.body["code"] == "unsupported_tool"


async def test_json_schema_native_or_fallback(client, emulator):
    schema = {"type": "object", "properties": {"answer": {"type": "string"}},
              "required": ["answer"], "additionalProperties": False}
    text = {"format": {"type": "json_schema", "name": "reply", "schema": schema, "strict": True}}
    for model, native in ((HAIKU, False), ("openai.gpt-oss-120b-1:0", True)):
        response = await client.responses.create(model=model, input="Answer.", text=text)
        assert json.loads(response.output_text) == {"answer": "string"}
        sent = (await emulator.stats())["recent"][-1]["request"]
        assert ("outputConfig" in sent) is native
        assert sent["tools"] == ([] if native else ["reply"])


async def test_images_by_data_url_and_developer_messages_merged(client, emulator):
    png = base64.b64encode(b"\x89PNG\r\n\x1a\n" + b"\0" * 32).decode()
    response = await client.responses.create(model=HAIKU, input=[
        {"role": "developer", "content": "Rules."},
        {"role": "user", "content": "context"},
        {"role": "user", "content": [
            {"type": "input_text", "text": "What is this?"},
            {"type": "input_image", "image_url": f"data:image/png;base64,{png}"}]}])
    assert response.status == "completed"
    sent = (await emulator.stats())["recent"][-1]["request"]
    assert sent["system"] == ["Rules."]
    assert [m["blocks"] for m in sent["messages"]] == [["text", "text", "image"]]


@pytest.mark.parametrize("body, param", [
    ({"input": 5}, "input"),
    ({"input": [{"type": "message", "role": "robot", "content": "x"}]}, "input[0].role"),
    ({"input": [{"type": "function_call_output", "call_id": "nope", "output": "x"}]},
     "input[0].call_id"),
    ({"input": "x", "temperature": 3}, "temperature"),
    ({"input": "x", "text": {"format": {"type": "yaml"}}}, "text.format.type"),
    ({"input": "x", "reasoning": {"effort": "huge"}}, "reasoning.effort"),
    ({"input": "x", "include": ["nothing.real"]}, "include"),
    ({"input": "x", "background": True}, "background"),
    ({"input": [{"role": "user", "content": [{"type": "input_image", "file_id": "f"}]}]},
     "input[0].content[0].file_id"),
    ({"input": "x", "tool_choice": {"type": "function", "name": "missing"}}, "tool_choice.name"),
])
async def test_bad_input_is_400_naming_the_field(client, body, param):
    with pytest.raises(openai.BadRequestError) as info:
        await client.responses.create(model=HAIKU, **body)
    assert info.value.status_code == 400
    assert info.value.body["param"] == param


async def test_unknown_model_and_unknown_response(client):
    with pytest.raises(openai.NotFoundError) as info:
        await client.responses.create(model="no-such-model", input="hi")
    assert info.value.body["code"] == "model_not_found"
    with pytest.raises(openai.NotFoundError) as info:
        await client.responses.retrieve("resp_missing")
    assert info.value.body["code"] == "response_not_found"
    with pytest.raises(openai.NotFoundError):
        await client.responses.create(model=HAIKU, input="hi", previous_response_id="resp_x")


async def test_mid_stream_error_ends_with_failed_and_error_events(gateway):
    _, events = await raw_events(gateway, {
        "model": HAIKU, "stream": True,
        "input": "x [[emu chunks=6 stream_error=throttlingException error_after=3]]"})
    assert [e["type"] for e in events[-2:]] == ["response.failed", "error"]
    assert events[-2]["response"]["status"] == "failed"
    assert events[-2]["response"]["error"]["code"] == "throttled"
    assert events[-1]["code"] == "throttled"
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert not any(e["type"] == "response.completed" for e in events)


async def test_images_by_url_use_the_ssrf_guarded_fetcher(make_gateway, client, emulator,
                                                          image_server):
    content = [{"type": "input_text", "text": "describe [[emu chunks=2]]"},
               {"type": "input_image", "image_url": f"{image_server}/cat.png"}]
    # By default loopback addresses are refused, naming the field, before Bedrock is called.
    with pytest.raises(openai.BadRequestError) as info:
        await client.responses.create(model=HAIKU, input=[{"role": "user", "content": content}])
    assert info.value.body["code"] == "image_url_forbidden"
    assert info.value.body["param"] == "input[0].content[1].image_url"
    assert not [r for r in (await emulator.stats())["recent"] if r.get("request")]
    gateway = await make_gateway(image_fetch_allowlist=("127.0.0.1/32",))
    async with gateway.client() as allowed:
        response = await allowed.responses.create(model=HAIKU,
                                                  input=[{"role": "user", "content": content}])
    assert response.output_text == expected_text("describe", 2)
    sent = (await emulator.stats())["recent"][-1]["request"]
    assert [m["blocks"] for m in sent["messages"]] == [["text", "image"]]


async def test_streamed_response_names_dropped_hosted_tools(gateway):
    response, events = await raw_events(gateway, {
        "model": HAIKU, "stream": True, "input": "x [[emu chunks=2]]",
        "tools": [{"type": "web_search", "external_web_access": True}, WEATHER]})
    assert response.headers["X-Gateway-Dropped-Tools"] == "web_search"
    assert events[-1]["type"] == "response.completed"
    assert events[-1]["response"]["tools"][0]["type"] == "web_search"  # echoed as sent
