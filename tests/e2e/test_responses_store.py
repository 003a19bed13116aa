"""Stored responses: retrieve, input items, delete, previous_response_id, visibility per API
key, in process and in a real Redis shared by two gateway processes; a Redis outage answers a
clear 503 for what needs the store, and nothing else breaks."""

from __future__ import annotations

import asyncio
import os
import subprocess

import openai
import pytest
from openai import AsyncOpenAI

from bedrock_gateway.emulator.script import signature_for
from tests.support.constants import HAIKU, TEST_KEY
from tests.support.local_http import wait_ready
from tests.support.local_http import free_port
from tests.support.redis_server import redis_server
from tests.support.interpreter import gateway_command

OTHER_KEY = "sk-other-9876543210"
MODEL = "us.anthropic.claude-3-7-sonnet-20250219-v1:0"
THOUGHT = "Plan the call"
WEATHER = {"type": "function", "name": "get_weather",
           "parameters": {"type": "object", "properties": {"city": {"type": "string"}}}}


async def conversation_checks(client: AsyncOpenAI, other: AsyncOpenAI, emulator) -> None:
    first = await client.responses.create(model=HAIKU, input="alpha bravo [[emu chunks=3]]",
                                          metadata={"ticket": "42"})
    got = await client.responses.retrieve(first.id)
    assert got.id == first.id and got.output_text == first.output_text
    # `store` is not a field of the SDK's Response model: read as the extra field it is.
    assert got.metadata == {"ticket": "42"} and getattr(got, "store", None) is True
    items = await client.responses.input_items.list(first.id)
    assert [i.type for i in items.data] == ["message"]
    assert items.data[0].model_dump()["content"][0]["text"] == "alpha bravo [[emu chunks=3]]"

    second = await client.responses.create(model=HAIKU, previous_response_id=first.id,
                                           input="charlie [[emu chunks=2]]")
    assert second.previous_response_id == first.id
    sent = (await emulator.stats())["recent"][-1]["request"]
    assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]

    # Another key sees none of it.
    for call in (other.responses.retrieve(first.id), other.responses.delete(first.id),
                 other.responses.input_items.list(first.id),
                 other.responses.create(model=HAIKU, input="x", previous_response_id=first.id)):
        with pytest.raises(openai.NotFoundError):
            await call

    await client.responses.delete(first.id)
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(first.id)
    assert (await client.responses.retrieve(second.id)).id == second.id


async def test_memory_store_round_trip(make_gateway, emulator):
    gateway = await make_gateway(api_keys=(TEST_KEY, OTHER_KEY))
    async with gateway.client() as client, AsyncOpenAI(
            base_url=gateway.base_url, api_key=OTHER_KEY, max_retries=0) as other:
        await conversation_checks(client, other, emulator)


async def test_store_false_and_streamed_responses(client):
    kept = await client.responses.create(model=HAIKU, input="x [[emu chunks=2]]", store=False)
    with pytest.raises(openai.NotFoundError):
        await client.responses.retrieve(kept.id)
    async with client.responses.stream(model=HAIKU, input="y [[emu chunks=3]]") as stream:
        final = await stream.get_final_response()
    assert (await client.responses.retrieve(final.id)).output_text == final.output_text


async def test_previous_response_id_restores_stored_reasoning(client, emulator):
    first = await client.responses.create(
        model=MODEL, tools=[WEATHER], reasoning={"effort": "low"},
        input=f'Go [[emu reasoning={THOUGHT} tool=get_weather:{{"city": "Rome"}} '
              'after_tool=quote]]')
    call = first.output[-1]
    assert first.output[0].encrypted_content is None  # not asked for: kept server-side only
    second = await client.responses.create(
        model=MODEL, tools=[WEATHER], reasoning={"effort": "low"},
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "warm"}])
    assert second.output_text == "Tool result: warm"
    sent = (await emulator.stats())["recent"][-1]["request"]
    assert sent["reasoning_signatures"] == [signature_for(THOUGHT)]


async def test_input_items_paging(client):
    response = await client.responses.create(model=HAIKU, input=[
        {"role": "user", "content": f"m{i}"} for i in range(5)])
    page = await client.responses.input_items.list(response.id, limit=2, order="asc")
    assert [i.content[0].text for i in page.data] == ["m0", "m1"] and page.has_more
    rest = await client.responses.input_items.list(response.id, order="asc",
                                                   after=page.data[-1].id)
    assert [i.content[0].text for i in rest.data] == ["m2", "m3", "m4"] and not rest.has_more
    newest = await client.responses.input_items.list(response.id, limit=1)
    assert newest.data[0].content[0].text == "m4"


@pytest.fixture(scope="module")
def redis_url():
    with redis_server() as (url, _proc):
        yield url


def start_gateway(redis: str, emulator_url: str) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {**os.environ, "API_KEY": f"{TEST_KEY},{OTHER_KEY}", "PORT": str(port),
           "METRICS_PORT": "0", "ACCESS_LOG": "off", "DEFAULT_MODEL": HAIKU,
           "REDIS_URL": redis, "DRAIN_DELAY_SECONDS": "0",
           "AWS_ENDPOINT_URL_BEDROCK_RUNTIME": emulator_url,
           "AWS_ENDPOINT_URL_BEDROCK": emulator_url}
    proc = subprocess.Popen([*gateway_command(), "--host", "127.0.0.1"],
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return proc, f"http://127.0.0.1:{port}"


async def test_redis_store_shared_by_two_gateway_processes(redis_url, emulator, emulator_url):
    procs = [start_gateway(redis_url, emulator_url) for _ in range(2)]
    try:
        for _, base in procs:
            await wait_ready(f"{base}/ready")
        (_, base_a), (_, base_b) = procs
        options = {"max_retries": 0, "timeout": 30.0}
        async with AsyncOpenAI(base_url=f"{base_a}/v1", api_key=TEST_KEY, **options) as a, \
                AsyncOpenAI(base_url=f"{base_b}/v1", api_key=TEST_KEY, **options) as b, \
                AsyncOpenAI(base_url=f"{base_b}/v1", api_key=OTHER_KEY, **options) as other:
            first = await a.responses.create(model=HAIKU, input="delta echo [[emu chunks=3]]")
            # The other process continues the conversation and reads the stored response.
            second = await b.responses.create(model=HAIKU, previous_response_id=first.id,
                                              input="foxtrot [[emu chunks=2]]")
            sent = (await emulator.stats())["recent"][-1]["request"]
            assert [m["role"] for m in sent["messages"]] == ["user", "assistant", "user"]
            assert (await b.responses.retrieve(first.id)).output_text == first.output_text
            await conversation_checks(b, other, emulator)
            await b.responses.delete(second.id)
            with pytest.raises(openai.NotFoundError):
                await a.responses.retrieve(second.id)
    finally:
        for proc, _ in procs:
            proc.terminate()
        for proc, _ in procs:
            await asyncio.to_thread(proc.wait, 15)


async def test_redis_outage_is_a_clear_503_for_store_operations(make_gateway):
    with redis_server() as (url, proc):
        gateway = await make_gateway(redis_url=url, redis_timeout_seconds=1.0)
        async with gateway.client() as client:
            kept = await client.responses.create(model=HAIKU, input="x [[emu chunks=2]]")
            proc.terminate()
            proc.wait(timeout=10)
            for call in (client.responses.retrieve(kept.id), client.responses.delete(kept.id),
                         client.responses.create(model=HAIKU, input="y",
                                                 previous_response_id=kept.id)):
                with pytest.raises(openai.InternalServerError) as info:
                    await call
                assert info.value.status_code == 503
                assert info.value.body["code"] == "response_store_unavailable"
            # Generation does not depend on the store: answered, only not stored.
            answered = await client.responses.create(model=HAIKU, input="z [[emu chunks=2]]")
            assert answered.status == "completed"
            chat = await client.chat.completions.create(
                model=HAIKU, messages=[{"role": "user", "content": "hi [[emu chunks=2]]"}])
            assert chat.choices[0].message.content
