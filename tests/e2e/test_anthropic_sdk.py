"""The Anthropic Messages API through the real server with the official `anthropic` SDK: Claude
models natively (InvokeModel with the Anthropic body), other models through Converse; streaming,
tools, thinking signatures, cache usage, count_tokens, images, models, auth and errors."""

from __future__ import annotations

import base64
import json

import aiohttp
import anthropic
import pytest

from bedrock_gateway.emulator.script import count_tokens, reply_text
from tests.support.constants import TEST_KEY
from tests.support.local_http import png_bytes

SONNET = "claude-sonnet-4-5"  # Anthropic's name; the catalog holds Bedrock's
SONNET_PROFILE = "us.anthropic.claude-sonnet-4-5-20250929-v1:0"
NOVA = "amazon.nova-lite-v1:0"  # served through Converse
PROMPT = "Tell me about the sea"
WEATHER = {"name": "get_weather", "description": "Weather for a city", "input_schema": {
    "type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]}}


def client_for(gateway, **kwargs) -> anthropic.AsyncAnthropic:
    options = {"api_key": TEST_KEY, "max_retries": 0, "timeout": 30.0,
               "base_url": gateway.root, **kwargs}
    return anthropic.AsyncAnthropic(**options)


@pytest.fixture
async def claude(gateway):
    async with client_for(gateway) as client:
        yield client


async def invocations(emulator, operation: str | None = None) -> list[dict]:
    recent = (await emulator.stats())["recent"]
    return [r for r in recent if r["model"] is not None
            and (operation is None or r["operation"] == operation)]



async def test_create_claude_natively(claude, emulator):
    message = await claude.messages.create(
        model=SONNET, max_tokens=100, system="Be brief.",
        messages=[{"role": "user", "content": f"{PROMPT} [[emu chunks=5]]"}])
    assert message.type == "message" and message.role == "assistant"
    assert [b.type for b in message.content] == ["text"]
    assert message.content[0].text == reply_text(PROMPT, 5)
    assert message.stop_reason == "end_turn"
    assert message.usage.output_tokens == 5
    assert message.usage.input_tokens == count_tokens("Be brief.") + count_tokens(PROMPT)
    [call] = await invocations(emulator)
    assert call["operation"] == "invoke" and call["model"] == SONNET_PROFILE
    sent = call["request"]
    assert sent["anthropic_version"] == "bedrock-2023-05-31"
    assert "model" not in sent["fields"] and "stream" not in sent["fields"]


async def test_stream_claude_natively_event_by_event(claude, emulator):
    events = []
    async with await claude.messages.create(
            model=SONNET, max_tokens=100, stream=True,
            messages=[{"role": "user", "content": f"{PROMPT} [[emu chunks=6]]"}]) as stream:
        async for event in stream:
            events.append(event)
    kinds = [e.type for e in events]
    assert kinds[0] == "message_start" and kinds[-2:] == ["message_delta", "message_stop"]
    assert kinds.count("content_block_start") == kinds.count("content_block_stop") == 1
    text = "".join(e.delta.text for e in events if e.type == "content_block_delta")
    assert text == reply_text(PROMPT, 6)
    assert events[-2].delta.stop_reason == "end_turn" and events[-2].usage.output_tokens == 6
    [call] = await invocations(emulator)
    assert call["operation"] == "invoke-stream"


@pytest.mark.parametrize("model", [SONNET, NOVA])
async def test_stream_helper_final_message(claude, emulator, model):
    async with claude.messages.stream(
            model=model, max_tokens=100,
            messages=[{"role": "user", "content": f"{PROMPT} [[emu chunks=4]]"}]) as stream:
        text = "".join([piece async for piece in stream.text_stream])
        final = await stream.get_final_message()
    assert text == reply_text(PROMPT, 4) == final.content[0].text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == 4 and final.usage.input_tokens == count_tokens(PROMPT)
    [call] = await invocations(emulator)
    assert call["operation"] == ("invoke-stream" if model == SONNET else "converse-stream")


async def test_converse_path_non_stream(claude, emulator):
    message = await claude.messages.create(
        model=NOVA, max_tokens=50, stop_sequences=["zzz"],
        extra_body={"temperature": 0.5, "top_p": 0.9},
        system=[{"type": "text", "text": "Be brief."}],
        messages=[{"role": "user",
                   "content": [{"type": "text", "text": f"{PROMPT} [[emu chunks=3]]"}]}])
    assert message.model == NOVA and message.id.startswith("msg_")
    assert message.content[0].text == reply_text(PROMPT, 3)
    assert message.usage.cache_read_input_tokens == 0
    [call] = await invocations(emulator, "converse")
    assert call["request"]["inferenceConfig"] == {
        "maxTokens": 50, "temperature": 0.5, "topP": 0.9, "stopSequences": ["zzz"]}


@pytest.mark.parametrize("model", [SONNET, NOVA])
async def test_two_turn_tool_loop(claude, emulator, model):
    question = {"role": "user", "content": 'Weather? [[emu tool=get_weather:{"city": "Paris"}]]'}
    first = await claude.messages.create(model=model, max_tokens=200, tools=[WEATHER],
                                         messages=[question])
    assert first.stop_reason == "tool_use"
    [use] = [b for b in first.content if b.type == "tool_use"]
    assert (use.name, use.input) == ("get_weather", {"city": "Paris"})
    second = await claude.messages.create(
        model=model, max_tokens=200, tools=[WEATHER], messages=[
            question, {"role": "assistant", "content": first.content},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": use.id,
                                          "content": "sunny 21C"}]}])
    assert second.stop_reason == "end_turn"
    # Claude (native) reads the tool's answer; the Converse path shows the echo formula.
    expected = "Tool result: sunny 21C" if model == SONNET else reply_text("", 8)
    assert second.content[0].text == expected
    calls = await invocations(emulator)
    if model == SONNET:
        assert calls[-1]["request"]["messages"][1:] == [
            {"role": "assistant", "blocks": ["tool_use"]},
            {"role": "user", "blocks": ["tool_result"]}]
    else:
        assert calls[-1]["request"]["messages"][1:] == [
            {"role": "assistant", "blocks": ["toolUse"]},
            {"role": "user", "blocks": ["toolResult"]}]


@pytest.mark.parametrize("model", [SONNET, NOVA])
async def test_parallel_tool_use_streamed(claude, model):
    prompt = ('both [[emu tool=get_weather:{"city": "Paris"} tool=get_weather:{"city": "Oslo"} '
              'text_before=Checking both.]]')
    async with claude.messages.stream(model=model, max_tokens=200, tools=[WEATHER],
                                      tool_choice={"type": "auto"},
                                      messages=[{"role": "user", "content": prompt}]) as stream:
        final = await stream.get_final_message()
    assert [b.type for b in final.content] == ["text", "tool_use", "tool_use"]
    assert final.content[0].text == "Checking both."
    assert [b.input for b in final.content[1:]] == [{"city": "Paris"}, {"city": "Oslo"}]
    assert len({b.id for b in final.content[1:]}) == 2
    assert final.stop_reason == "tool_use"


async def test_thinking_signature_goes_back_next_turn(claude, emulator):
    question = {"role": "user", "content": "Think [[emu reasoning=Let me weigh it up chunks=3]]"}
    first = await claude.messages.create(
        model=SONNET, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[question])
    assert [b.type for b in first.content] == ["thinking", "text"]
    assert first.content[0].thinking == "Let me weigh it up" and first.content[0].signature
    # Streamed, the signature arrives as a signature_delta and the SDK assembles the same block.
    async with claude.messages.stream(
            model=SONNET, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[question]) as stream:
        streamed = await stream.get_final_message()
    assert streamed.content[0].signature == first.content[0].signature
    second = await claude.messages.create(
        model=SONNET, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
        messages=[question, {"role": "assistant", "content": first.content},
                  {"role": "user", "content": "And then?"}])
    assert second.content[-1].type == "text"
    last = (await invocations(emulator))[-1]["request"]
    assert last["messages"][1] == {"role": "assistant", "blocks": ["thinking:signed", "text"]}
    assert last["thinking"] == {"type": "enabled", "budget_tokens": 1024}
    forged = [{"type": "thinking", "thinking": "Let me weigh it up", "signature": "Zm9yZ2Vk"},
              {"type": "text", "text": first.content[1].text}]
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude.messages.create(
            model=SONNET, max_tokens=2048, thinking={"type": "enabled", "budget_tokens": 1024},
            messages=[question, {"role": "assistant", "content": forged},
                      {"role": "user", "content": "And then?"}])
    assert "signature" in caught.value.message


async def test_cache_control_and_cache_usage(claude, emulator):
    system = [{"type": "text", "text": "A long stable preamble.",
               "cache_control": {"type": "ephemeral"}}]
    messages = [{"role": "user", "content": [
        {"type": "text", "text": "Question [[emu cache_read=100 cache_write=20 chunks=2]]",
         "cache_control": {"type": "ephemeral"}}]}]
    message = await claude.messages.create(model=SONNET, max_tokens=100, system=system,
                                           messages=messages)
    assert message.usage.cache_read_input_tokens == 100
    assert message.usage.cache_creation_input_tokens == 20
    async with claude.messages.stream(model=SONNET, max_tokens=100, system=system,
                                      messages=messages) as stream:
        final = await stream.get_final_message()
    assert (final.usage.cache_read_input_tokens, final.usage.cache_creation_input_tokens) == \
        (100, 20)
    last = (await invocations(emulator))[-1]["request"]
    assert last["messages"] == [{"role": "user", "blocks": ["text:cached"]}]


async def test_count_tokens_through_bedrock_and_estimated(claude, emulator):
    counted = await claude.messages.with_raw_response.count_tokens(
        model=SONNET, system="Be brief.", messages=[{"role": "user", "content": "one two three"}])
    assert counted.headers["x-bedrock-gateway-token-count"] == "bedrock"
    assert (await counted.parse()).input_tokens == count_tokens("Be brief. one two three")
    [call] = await invocations(emulator, "count-tokens")
    assert call["model"] == "anthropic.claude-sonnet-4-5-20250929-v1:0"
    estimated = await claude.messages.with_raw_response.count_tokens(
        model=NOVA, messages=[{"role": "user", "content": "x" * 400}])
    assert estimated.headers["x-bedrock-gateway-token-count"] == "estimate"
    assert (await estimated.parse()).input_tokens == 100



@pytest.mark.parametrize("model", [SONNET, NOVA])
async def test_images_base64_and_url(make_gateway, emulator, image_server, model):
    gateway = await make_gateway(image_fetch_allowlist=("127.0.0.1/32",))
    inline = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                          "data": base64.b64encode(png_bytes()).decode()}}
    by_url = {"type": "image", "source": {"type": "url", "url": f"{image_server}/cat.png"}}
    async with client_for(gateway) as claude:
        message = await claude.messages.create(model=model, max_tokens=50, messages=[{
            "role": "user", "content": [inline, by_url,
                                        {"type": "text", "text": "describe [[emu chunks=2]]"}]}])
    assert message.content[0].text == reply_text("describe", 2)
    [call] = await invocations(emulator)
    blocks = call["request"]["messages"][0]["blocks"]
    # Bedrock takes inline images only: the gateway fetched the URL and sent its bytes.
    assert blocks == (["image:base64", "image:base64", "text"] if model == SONNET
                      else ["image", "image", "text"])


async def test_image_url_blocked_by_ssrf_guard(claude):
    with pytest.raises(anthropic.BadRequestError) as caught:
        await claude.messages.create(model=SONNET, max_tokens=50, messages=[{
            "role": "user", "content": [
                {"type": "image", "source": {"type": "url", "url": "http://127.0.0.1:1/x.png"}},
                {"type": "text", "text": "describe"}]}])
    assert caught.value.body["error"]["message"].startswith("messages.0.content.0.source.url")


async def test_models_list_in_anthropic_shape(claude, gateway):
    page = await claude.models.list()
    ids = [m.id for m in page.data]
    assert "claude-sonnet-4-5-20250929" in ids and "claude-haiku-4-5-20251001" in ids
    assert SONNET_PROFILE in ids
    model = await claude.models.retrieve("claude-sonnet-4-5")
    assert model.display_name and model.type == "model"
    async with aiohttp.ClientSession() as session, session.get(
            f"{gateway.root}/v1/models",
            headers={"Authorization": f"Bearer {TEST_KEY}"}) as response:
        assert (await response.json())["object"] == "list"  # OpenAI's shape without the header


async def test_bearer_and_x_api_key_and_prefix_with_beta_query(gateway, emulator):
    async with client_for(gateway, api_key=None, auth_token=TEST_KEY,
                          base_url=gateway.root + "/api") as by_bearer:
        message = await by_bearer.beta.messages.create(
            model="claude-haiku-4-5", max_tokens=20, betas=["claude-code-20250219"],
            messages=[{"role": "user", "content": "hi [[emu chunks=2]]"}])
    assert message.content[0].text == reply_text("hi", 2)
    [call] = await invocations(emulator)
    assert call["model"] == "us.anthropic.claude-haiku-4-5-20251001-v1:0"
    assert call["request"]["anthropic_beta"] == ["claude-code-20250219"]
    async with client_for(gateway, api_key="wrong") as bad:
        with pytest.raises(anthropic.AuthenticationError) as caught:
            await bad.messages.create(model=SONNET, max_tokens=5,
                                      messages=[{"role": "user", "content": "x"}])
    assert caught.value.body["error"]["type"] == "authentication_error"


async def test_errors_in_anthropic_shape(claude, emulator):
    await emulator.add_fault(operation="invoke", error="ThrottlingException")
    with pytest.raises(anthropic.RateLimitError) as throttled:
        await claude.messages.create(model=SONNET, max_tokens=5,
                                     messages=[{"role": "user", "content": "x"}])
    assert throttled.value.response.headers["retry-after"] == "1"
    assert throttled.value.body == {"type": "error", "error": {
        "type": "rate_limit_error", "message": throttled.value.body["error"]["message"]}}
    await emulator.clear_faults()
    await emulator.add_fault(operation="converse", error="ServiceUnavailableException")
    with pytest.raises(anthropic.OverloadedError) as overloaded:
        await claude.messages.create(model=NOVA, max_tokens=5,
                                     messages=[{"role": "user", "content": "x"}])
    assert overloaded.value.status_code == 529
    assert overloaded.value.body["error"]["type"] == "overloaded_error"
    with pytest.raises(anthropic.BadRequestError) as bad:
        await claude.messages.create(model=SONNET, max_tokens=5, messages=[{
            "role": "user", "content": [{"type": "image", "source": {
                "type": "base64", "media_type": "image/bmp", "data": "AAAA"}}]}])
    assert bad.value.body["error"]["type"] == "invalid_request_error"
    assert bad.value.body["error"]["message"].startswith("messages.0.content.0.source.media_type")
    with pytest.raises(anthropic.NotFoundError) as missing:
        await claude.messages.create(model="claude-nonexistent-9", max_tokens=5,
                                     messages=[{"role": "user", "content": "x"}])
    assert missing.value.body["error"]["type"] == "not_found_error"


async def raw_stream(gateway, body: dict) -> str:
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.root}/v1/messages", json=body,
            headers={"x-api-key": TEST_KEY, "anthropic-version": "2023-06-01"}) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        return await response.text()


@pytest.mark.parametrize("model", [SONNET, NOVA])
async def test_error_event_mid_stream(make_gateway, emulator, model):
    gateway = await make_gateway()
    operation = "invoke-stream" if model == SONNET else "converse-stream"
    await emulator.add_fault(operation=operation, stream_error="throttlingException",
                             error_after=3)
    text = await raw_stream(gateway, {"model": model, "max_tokens": 50, "stream": True,
                                      "messages": [{"role": "user", "content": "hi"}]})
    events = [block for block in text.split("\n\n") if block]
    assert events[0].startswith("event: message_start")
    assert events[-1].startswith("event: error\ndata: ")
    error = json.loads(events[-1].split("data: ", 1)[1])
    assert error["type"] == "error" and error["error"]["type"] == "rate_limit_error"
    assert "message_stop" not in text


async def test_ping_while_waiting_for_the_first_event(make_gateway, emulator):
    gateway = await make_gateway(sse_heartbeat_seconds=0.05)
    await emulator.add_fault(operation="invoke-stream", stall_s=0.5, stall_after=0)
    text = await raw_stream(gateway, {"model": SONNET, "max_tokens": 50, "stream": True,
                                      "messages": [{"role": "user", "content": "hi"}]})
    assert text.startswith('event: ping\ndata: {"type":"ping"}\n\n')
    assert "event: message_stop" in text


async def test_new_forms_pass_through_to_claude_untouched(claude, emulator):
    """Adaptive thinking, the effort setting and a block type Converse does not have reach
    Bedrock as sent on the native path (the Converse path refuses the block: see the fixtures)."""
    search = {"type": "search_result", "source": "https://example.com/doc", "title": "Doc",
              "content": [{"type": "text", "text": "facts"}], "citations": {"enabled": True}}
    message = await claude.messages.create(
        model=SONNET, max_tokens=100, thinking={"type": "adaptive"},
        extra_body={"output_config": {"effort": "low"}},
        messages=[{"role": "user", "content": [search, {"type": "text",
                                                        "text": "use it [[emu chunks=2]]"}]}])
    assert message.content[-1].type == "text"
    [call] = await invocations(emulator)
    sent = call["request"]
    assert sent["thinking"] == {"type": "adaptive"} and "output_config" in sent["fields"]
    assert sent["messages"] == [{"role": "user", "blocks": ["search_result", "text"]}]
