"""No bad input yields a 500: each malformed chat request gets a 400 in OpenAI's error shape,
with `param` naming the offending field, through the real server, streamed or not, and none of
them reaches Bedrock."""

from __future__ import annotations

import base64
from typing import Any

import aiohttp
import pytest

from bedrock_gateway.conversation.images import IMAGE_MAX_BYTES
from tests.support.constants import HAIKU, TEST_KEY

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"
BMP = base64.b64encode(b"BM" + b"\0" * 64).decode()
OVERSIZED = base64.b64encode(PNG_MAGIC + b"\0" * 4_000_000).decode()
ONE_BYTE_TOO_MANY = base64.b64encode(PNG_MAGIC + b"\0" * (IMAGE_MAX_BYTES + 1 - 8)).decode()
HI = {"role": "user", "content": "hi"}
TOOL_F = {"type": "function", "function": {"name": "f"}}


def msgs(*messages: object) -> dict:
    return {"model": HAIKU, "messages": list(messages)}


def hi(**fields: object) -> dict:
    return {"model": HAIKU, "messages": [HI], **fields}


def parts(*content: object) -> dict:
    return msgs({"role": "user", "content": list(content)})


def image(url: object) -> dict:
    return parts({"type": "image_url", "image_url": {"url": url}})


def call(arguments: object = "{}", name: object = "f", call_id: object = "c1") -> dict:
    return {"role": "assistant", "tool_calls": [
        {"id": call_id, "type": "function", "function": {"name": name, "arguments": arguments}}]}


RESULT = {"role": "tool", "tool_call_id": "c1", "content": "r"}

# (case id, body, the exact `param` of the error)
CASES = [
    # messages and roles
    ("messages missing", {"model": HAIKU}, "messages"),
    ("messages not a list", {"model": HAIKU, "messages": "hi"}, "messages"),
    ("messages an object", {"model": HAIKU, "messages": {"role": "user"}}, "messages"),
    ("messages empty", {"model": HAIKU, "messages": []}, "messages"),
    ("message not an object", msgs("hi"), "messages[0]"),
    ("message null", msgs(None), "messages[0]"),
    ("unknown role", msgs({"role": "wizard", "content": "hi"}), "messages[0].role"),
    ("role missing", msgs({"content": "hi"}), "messages[0].role"),
    ("role a number", msgs({"role": 1, "content": "hi"}), "messages[0].role"),
    ("user content missing", msgs({"role": "user"}), "messages[0].content"),
    ("content a number", msgs({"role": "user", "content": 42}), "messages[0].content"),
    ("assistant without content or calls", msgs(HI, {"role": "assistant"}),
     "messages[1].content"),
    # content parts
    ("part without type", parts({"text": "hi"}), "messages[0].content[0].type"),
    ("part null", parts(None), "messages[0].content[0]"),
    ("part a list", parts([]), "messages[0].content[0]"),
    ("unknown part type", parts({"type": "video", "video": {}}), "messages[0].content[0].type"),
    ("text part not a string", parts({"type": "text", "text": 1}),
     "messages[0].content[0].text"),
    ("image in a system message", msgs({"role": "system", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}, HI),
     "messages[0].content[0].type"),
    ("audio input", parts({"type": "input_audio", "input_audio": {"data": "AAAA",
                                                                  "format": "wav"}}),
     "messages[0].content[0]"),
    # images and files
    ("image_url missing", parts({"type": "image_url"}), "messages[0].content[0].image_url.url"),
    ("image url a number", image(5), "messages[0].content[0].image_url.url"),
    ("image URL not http", image("ftp://example.com/x.png"),
     "messages[0].content[0].image_url.url"),
    ("broken base64", image("data:image/png;base64,@@@not-base64@@@"),
     "messages[0].content[0].image_url.url"),
    ("data URL without base64", image("data:image/png,abc"),
     "messages[0].content[0].image_url.url"),
    ("data URL without comma", image("data:image/png;base64"),
     "messages[0].content[0].image_url.url"),
    ("data URL empty", image("data:image/png;base64,"), "messages[0].content[0].image_url.url"),
    ("unsupported image type", image(f"data:image/bmp;base64,{BMP}"),
     "messages[0].content[0].image_url.url"),
    ("oversized image", image(f"data:image/png;base64,{OVERSIZED}"),
     "messages[0].content[0].image_url.url"),
    ("image one byte over 3.75 MB", image(f"data:image/png;base64,{ONE_BYTE_TOO_MANY}"),
     "messages[0].content[0].image_url.url"),
    ("file not an object", parts({"type": "file", "file": "x"}), "messages[0].content[0].file"),
    ("file_id", parts({"type": "file", "file": {"file_id": "file-1"}}),
     "messages[0].content[0].file.file_id"),
    ("file of unknown type", parts({"type": "file", "file": {
        "file_data": "data:application/zip;base64,UEsDBA==", "filename": "a.zip"}}),
     "messages[0].content[0].file.file_data"),
    # tool calls and results
    ("tool message without matching call", msgs(HI, {"role": "tool", "tool_call_id": "x",
                                                     "content": "r"}),
     "messages[1].tool_call_id"),
    ("tool call args not JSON", msgs(HI, call("{not json"), RESULT),
     "messages[1].tool_calls[0].function.arguments"),
    ("tool call args a JSON array", msgs(HI, call("[1, 2]"), RESULT),
     "messages[1].tool_calls[0].function.arguments"),
    ("tool call args a number", msgs(HI, call(5), RESULT),
     "messages[1].tool_calls[0].function.arguments"),
    ("tool call name invalid", msgs(HI, call(name="get weather"), RESULT),
     "messages[1].tool_calls[0].function.name"),
    ("tool call id a number", msgs(HI, call(call_id=7), RESULT),
     "messages[1].tool_calls[0].id"),
    ("tool_calls not a list", msgs(HI, {"role": "assistant", "tool_calls": {"id": "c1"}}),
     "messages[1].tool_calls"),
    ("tool call left unanswered", msgs(HI, call(), HI), "messages[1].tool_calls[0]"),
    ("tool result content a number", msgs(HI, call(), {**RESULT, "content": 5}),
     "messages[2].content"),
    ("function message answering nothing", msgs(HI, {"role": "function", "name": "f",
                                                     "content": "x"}), "messages[1].name"),
    ("tool call without function", msgs(HI, {"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "function"}]}, RESULT), "messages[1].tool_calls[0].function"),
    ("tool call of type custom", msgs(HI, {"role": "assistant", "tool_calls": [
        {"id": "c1", "type": "custom", "custom": {"name": "f", "input": "x"}}]}, RESULT),
     "messages[1].tool_calls[0].type"),
    ("tool message without tool_call_id", msgs(HI, {"role": "tool", "content": "r"}),
     "messages[1].tool_call_id"),
    ("image in an assistant message", msgs(HI, {"role": "assistant", "content": [
        {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAAA"}}]}, HI),
     "messages[1].content[0].type"),
    ("user content null", msgs({"role": "user", "content": None}), "messages[0].content"),
    ("file without file_data", parts({"type": "file", "file": {}}),
     "messages[0].content[0].file.file_data"),
    ("file with broken base64", parts({"type": "file", "file": {
        "file_data": "data:application/pdf;base64,@@@", "filename": "a.pdf"}}),
     "messages[0].content[0].file.file_data"),
    # other fields
    ("model not a string", {"model": 5, "messages": [HI]}, "model"),
    ("temperature not a number", hi(temperature="hot"), "temperature"),
    ("temperature above 2", hi(temperature=3), "temperature"),
    ("top_p above 1", hi(top_p=1.5), "top_p"),
    ("max_tokens negative", hi(max_tokens=-1), "max_tokens"),
    ("max_tokens a float", hi(max_tokens=1.5), "max_tokens"),
    ("max_completion_tokens a string", hi(max_completion_tokens="9"), "max_completion_tokens"),
    ("stop not string or list", hi(stop=3), "stop"),
    ("stop five sequences", hi(stop=["a", "b", "c", "d", "e"]), "stop"),
    ("stream not a bool", hi(stream="yes"), "stream"),
    ("stream_options not an object", hi(stream=True, stream_options="x"), "stream_options"),
    ("tools not a list", hi(tools={}), "tools"),
    ("tool without function", hi(tools=[{"type": "function"}]), "tools[0].function"),
    ("tool of another type", hi(tools=[{"type": "retrieval"}]), "tools[0].type"),
    ("tool name invalid", hi(tools=[{"type": "function", "function": {"name": "a b"}}]),
     "tools[0].function.name"),
    ("tool names repeated", hi(tools=[TOOL_F, TOOL_F]), "tools[1].function.name"),
    ("tool parameters a string", hi(tools=[{"type": "function", "function": {
        "name": "f", "parameters": "x"}}]), "tools[0].function.parameters"),
    ("tool_choice unknown tool", hi(tools=[TOOL_F], tool_choice={
        "type": "function", "function": {"name": "g"}}), "tool_choice.function.name"),
    ("tool_choice unknown mode", hi(tools=[TOOL_F], tool_choice="always"), "tool_choice"),
    ("tool_choice required without tools", hi(tool_choice="required"), "tool_choice"),
    ("function_call unknown function", hi(functions=[{"name": "f"}],
                                          function_call={"name": "g"}), "function_call.name"),
    ("response_format unknown", hi(response_format={"type": "xml"}), "response_format.type"),
    ("response_format a string", hi(response_format="json"), "response_format"),
    ("json_schema missing", hi(response_format={"type": "json_schema"}),
     "response_format.json_schema"),
    ("json_schema schema a string", hi(response_format={
        "type": "json_schema", "json_schema": {"name": "x", "schema": "s"}}),
     "response_format.json_schema.schema"),
    ("json_schema name with spaces", hi(response_format={"type": "json_schema", "json_schema": {
        "name": "my schema", "schema": {"type": "object"}}}), "response_format.json_schema.name"),
    ("tool_choice function without function", hi(tools=[TOOL_F], tool_choice={
        "type": "function"}), "tool_choice.function"),
    ("max_tokens zero", hi(max_tokens=0), "max_tokens"),
    ("max_tokens beyond any integer", hi(max_tokens=10**30), "max_tokens"),
    ("stop with non-strings", hi(stop=[1, 2]), "stop"),
    ("include_usage not a bool", hi(stream=True, stream_options={"include_usage": "yes"}),
     "stream_options.include_usage"),
    ("parallel_tool_calls not a bool", hi(parallel_tool_calls="x"), "parallel_tool_calls"),
    ("reasoning_effort unknown", hi(reasoning_effort="max"), "reasoning_effort"),
    ("n greater than one", hi(n=3), "n"),
    ("n zero", hi(n=0), "n"),
    ("logprobs true", hi(logprobs=True), "logprobs"),
    ("top_logprobs positive", hi(top_logprobs=3), "top_logprobs"),
    ("logit_bias set", hi(logit_bias={"1": 5}), "logit_bias"),
    ("audio output", hi(audio={"voice": "alloy", "format": "wav"}), "audio"),
    ("audio modality", hi(modalities=["text", "audio"]), "modalities"),
    ("web_search_options", hi(web_search_options={}), "web_search_options"),
    ("presence_penalty out of range", hi(presence_penalty=5), "presence_penalty"),
    # Bedrock fields (extra_body)
    ("prompt_caching not a bool", hi(prompt_caching="yes"), "prompt_caching"),
    ("top_k zero", hi(top_k=0), "top_k"),
    ("guardrailConfig without identifier", hi(guardrailConfig={"trace": "enabled"}),
     "guardrailConfig.guardrailIdentifier"),
    ("performanceConfig latency unknown", hi(performanceConfig={"latency": "fast"}),
     "performanceConfig.latency"),
    ("requestMetadata value a number", hi(requestMetadata={"a": 1}), "requestMetadata.a"),
    ("thinking not an object", hi(thinking="on"), "thinking"),
    ("additionalModelRequestFields a list", hi(additionalModelRequestFields=[1]),
     "additionalModelRequestFields"),
]


async def post(gateway, headers: dict | None = None,
               **request: Any) -> tuple[int, str, dict]:
    headers = {"Authorization": f"Bearer {TEST_KEY}", **(headers or {})}
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.base_url}/chat/completions", headers=headers, **request) as response:
        return response.status, response.content_type, await response.json(content_type=None)


def assert_openai_error(status: int, content_type: str, payload: dict) -> dict:
    assert status == 400, payload
    assert content_type == "application/json"  # not an SSE stream, even when stream=true
    error = payload["error"]
    assert set(payload) == {"error"}
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert isinstance(error["message"], str) and error["message"]
    assert isinstance(error["code"], str) and error["code"]
    return error


def test_the_table_is_large_and_its_ids_unique():
    assert len(CASES) >= 20
    assert len({c[0] for c in CASES}) == len(CASES)


@pytest.mark.parametrize("body, param", [c[1:] for c in CASES], ids=[c[0] for c in CASES])
async def test_malformed_request_is_a_400_naming_the_field(gateway, emulator, body, param):
    variants = [body]
    if "stream" not in body:
        variants.append({**body, "stream": True})
    for variant in variants:
        error = assert_openai_error(*await post(gateway, json=variant))
        assert error["param"] == param, error
    stats = await emulator.stats()
    assert not any(r["operation"].startswith("converse") for r in stats["recent"])


@pytest.mark.parametrize("data, content_type", [
    (b"{not json", "application/json"),
    (b"", "application/json"),
    (b"hello", "text/plain"),
    (b"[1, 2]", "application/json"),
    (b"null", "application/json"),
    (b"\xff\xfe\x00garbage", "application/json"),
], ids=["invalid JSON", "empty", "plain text", "an array", "null", "not UTF-8"])
async def test_a_body_that_is_not_a_json_object_is_a_400(gateway, data, content_type):
    error = assert_openai_error(*await post(gateway, data=data,
                                            headers={"Content-Type": content_type}))
    assert error["param"] is None  # the body as a whole: OpenAI names no field either
