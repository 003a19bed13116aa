"""Reasoning through the Responses API: summaries and reasoning text, streamed and not, and the
round trip without storage: Bedrock's signed reasoning sealed into `encrypted_content`, restored
on the next turn (the emulator, like Anthropic, checks the signature and that a tool loop's
assistant turn starts with its reasoning), keys rotated, altered values never forwarded."""

from __future__ import annotations

import json

from bedrock_gateway.emulator.script import signature_for
from tests.support.constants import TEST_KEY

MODEL = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
THOUGHT = "The user wants Paris weather so I call the tool"
WEATHER = {"type": "function", "name": "get_weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}
PROMPT = (f'Weather in Paris? [[emu reasoning={THOUGHT} tool=get_weather:{{"city": "Paris"}} '
          'after_tool=quote]]')


async def first_turn(client, **extra):
    return await client.responses.create(
        model=MODEL, input=PROMPT, tools=[WEATHER], store=False,
        reasoning={"effort": "medium", "summary": "auto"}, **extra)


def second_input(first, output_items=None) -> list:
    items = output_items if output_items is not None else [
        item.model_dump(exclude_none=True) for item in first.output]
    call = next(item for item in first.output if item.type == "function_call")
    return [{"role": "user", "content": PROMPT}, *items,
            {"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}]


async def last_request(emulator) -> dict:
    return (await emulator.stats())["recent"][-1]["request"]


async def test_round_trip_without_storage_restores_the_signature(client, emulator):
    first = await first_turn(client, include=["reasoning.encrypted_content"])
    reasoning, call = first.output
    assert reasoning.type == "reasoning" and call.type == "function_call"
    assert reasoning.summary[0].text == THOUGHT
    assert reasoning.encrypted_content.startswith("bgr1.")
    assert THOUGHT not in reasoning.encrypted_content
    assert signature_for(THOUGHT) not in reasoning.encrypted_content
    assert (await last_request(emulator))["additionalModelRequestFields"]["thinking"]

    second = await client.responses.create(
        model=MODEL, input=second_input(first), tools=[WEATHER], store=False,
        reasoning={"effort": "medium", "summary": "auto"},
        include=["reasoning.encrypted_content"])
    assert second.output_text == "Tool result: sunny"
    sent = await last_request(emulator)
    assert sent["reasoning_signatures"] == [signature_for(THOUGHT)]
    assert sent["messages"][1]["blocks"] == ["reasoningContent", "toolUse"]
    assert sent["additionalModelRequestFields"]["thinking"]["type"] == "enabled"


async def test_without_encrypted_content_thinking_is_off_in_the_tool_loop(client, emulator):
    first = await first_turn(client)
    assert first.output[0].type == "reasoning"
    assert first.output[0].encrypted_content is None
    second = await client.responses.create(
        model=MODEL, input=second_input(first), tools=[WEATHER], store=False,
        reasoning={"effort": "medium"})
    assert second.output_text == "Tool result: sunny"
    sent = await last_request(emulator)
    assert "reasoning_signatures" not in sent
    assert "thinking" not in sent.get("additionalModelRequestFields", {})


async def test_altered_encrypted_content_is_never_forwarded(client, emulator):
    first = await first_turn(client, include=["reasoning.encrypted_content"])
    items = [item.model_dump(exclude_none=True) for item in first.output]
    sealed = items[0]["encrypted_content"]
    items[0]["encrypted_content"] = sealed[:-4] + ("AAAA" if sealed[-4:] != "AAAA" else "BBBB")
    second = await client.responses.create(
        model=MODEL, input=second_input(first, items), tools=[WEATHER], store=False,
        reasoning={"effort": "medium"})
    assert second.status == "completed"
    sent = await last_request(emulator)
    assert "reasoning_signatures" not in sent
    assert sent["messages"][1]["blocks"] == ["toolUse"]


async def test_key_rotation_newest_seals_all_open(make_gateway, emulator):
    old = await make_gateway(responses_encryption_keys=("key-old",))
    rotated = await make_gateway(responses_encryption_keys=("key-new", "key-old"))
    other = await make_gateway(responses_encryption_keys=("key-other",))
    async with old.client() as c_old, rotated.client() as c_rot, other.client() as c_other:
        first = await first_turn(c_old, include=["reasoning.encrypted_content"])
        for client, opens in ((c_rot, True), (c_other, False)):
            await client.responses.create(
                model=MODEL, input=second_input(first), tools=[WEATHER], store=False,
                reasoning={"effort": "medium"})
            sent = await last_request(emulator)
            assert ("reasoning_signatures" in sent) is opens
        # What the rotated gateway seals (with its newest key), the old one cannot open.
        newer = await first_turn(c_rot, include=["reasoning.encrypted_content"])
        await c_old.responses.create(model=MODEL, input=second_input(newer), tools=[WEATHER],
                                     store=False, reasoning={"effort": "medium"})
        assert "reasoning_signatures" not in await last_request(emulator)


async def test_redacted_reasoning_round_trips(client, emulator):
    prompt = 'Secret? [[emu redacted=1 tool=get_weather:{"city": "Oslo"} after_tool=quote]]'
    first = await client.responses.create(
        model=MODEL, input=prompt, tools=[WEATHER], store=False, reasoning={"effort": "low"},
        include=["reasoning.encrypted_content"])
    reasoning, call = first.output
    assert reasoning.type == "reasoning" and reasoning.encrypted_content
    assert not reasoning.summary
    second = await client.responses.create(
        model=MODEL, tools=[WEATHER], store=False, reasoning={"effort": "low"},
        input=[{"role": "user", "content": prompt},
               *[item.model_dump(exclude_none=True) for item in first.output],
               {"type": "function_call_output", "call_id": call.call_id, "output": "snow"}])
    assert second.output_text == "Tool result: snow"
    assert (await last_request(emulator))["messages"][1]["blocks"] == ["reasoningContent",
                                                                     "toolUse"]


async def test_streamed_summary_and_reasoning_text_events(client, gateway):
    import aiohttp

    async with client.responses.stream(
            model=MODEL, input=f"Think. [[emu reasoning={THOUGHT} chunks=4]]",
            reasoning={"effort": "low", "summary": "auto"}) as stream:
        kinds = [e.type async for e in stream]
        final = await stream.get_final_response()
    for kind in ("response.reasoning_summary_part.added", "response.reasoning_summary_text.delta",
                 "response.reasoning_summary_text.done", "response.reasoning_summary_part.done"):
        assert kind in kinds
    assert final.output[0].summary[0].text == THOUGHT
    # Without a summary requested, the reasoning streams as reasoning text.
    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.base_url}/responses", headers={"Authorization": f"Bearer {TEST_KEY}"},
            json={"model": MODEL, "stream": True, "reasoning": {"effort": "low"},
                  "input": f"Think. [[emu reasoning={THOUGHT} chunks=4]]"}) as response:
        body = (await response.read()).decode()
    events = [json.loads(line[6:]) for line in body.splitlines() if line.startswith("data: ")]
    text = "".join(e["delta"] for e in events if e["type"] == "response.reasoning_text.delta")
    assert text == THOUGHT
    done = next(e for e in events if e["type"] == "response.output_item.done")
    assert done["item"]["content"] == [{"type": "reasoning_text", "text": THOUGHT}]


async def test_summary_accepted_for_models_without_reasoning(client):
    response = await client.responses.create(
        model="anthropic.claude-3-haiku-20240307-v1:0", input="hi [[emu chunks=2]]",
        reasoning={"summary": "auto"}, include=["reasoning.encrypted_content"], store=False)
    assert response.status == "completed" and response.output_text
