"""Chat completions through the real server, the openai SDK and the emulator: text, streaming,
usage, finish reasons, models."""

from __future__ import annotations

import pytest

from bedrock_gateway.emulator.script import reply_chunks
from tests.support.constants import HAIKU

PROMPT = "Tell me about the sea"


def expected_text(prompt: str, chunks: int) -> str:
    return "".join(reply_chunks(prompt, chunks))


async def test_non_stream_text_and_usage(client):
    response = await client.chat.completions.create(
        model=HAIKU, messages=[{"role": "system", "content": "Be brief."},
                               {"role": "user", "content": f"{PROMPT} [[emu chunks=5]]"}])
    choice = response.choices[0]
    assert choice.message.role == "assistant"
    assert choice.message.content == expected_text(PROMPT, 5)
    assert choice.finish_reason == "stop"
    assert response.model == HAIKU
    assert response.id.startswith("chatcmpl-")
    assert response.object == "chat.completion"
    assert response.created > 1_700_000_000
    assert response.usage.completion_tokens == 5
    assert response.usage.prompt_tokens > 0
    assert response.usage.total_tokens == (response.usage.prompt_tokens
                                           + response.usage.completion_tokens)


async def test_stream_text_role_first_done_last(client):
    stream = await client.chat.completions.create(
        model=HAIKU, stream=True, stream_options={"include_usage": True},
        messages=[{"role": "user", "content": f"{PROMPT} [[emu chunks=12]]"}])
    chunks = [chunk async for chunk in stream]
    assert chunks[0].choices[0].delta.role == "assistant"
    assert len({c.id for c in chunks}) == 1
    assert len({c.created for c in chunks}) == 1
    assert {c.model for c in chunks} == {HAIKU}
    assert all(c.object == "chat.completion.chunk" for c in chunks)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == expected_text(PROMPT, 12)
    finals = [c for c in chunks if c.choices and c.choices[0].finish_reason]
    assert [c.choices[0].finish_reason for c in finals] == ["stop"]
    usage_chunk = chunks[-1]
    assert usage_chunk.choices == []
    assert usage_chunk.usage.completion_tokens == 12
    assert usage_chunk.usage.prompt_tokens > 0


async def test_stream_without_include_usage_has_no_usage_chunk(client):
    stream = await client.chat.completions.create(
        model=HAIKU, stream=True, messages=[{"role": "user", "content": "hi [[emu chunks=3]]"}])
    chunks = [chunk async for chunk in stream]
    assert all(c.choices for c in chunks)
    assert all(c.usage is None for c in chunks)


async def test_raw_sse_framing_and_single_done(gateway):
    import aiohttp

    async with aiohttp.ClientSession() as session, session.post(
            f"{gateway.base_url}/chat/completions",
            headers={"Authorization": "Bearer sk-test-0123456789"},
            json={"model": HAIKU, "stream": True,
                  "messages": [{"role": "user", "content": "hi [[emu chunks=4]]"}]},
    ) as response:
        assert response.status == 200
        assert response.headers["Content-Type"].startswith("text/event-stream")
        assert response.headers["Cache-Control"] == "no-cache"
        assert response.headers["X-Accel-Buffering"] == "no"
        body = (await response.read()).decode()
    events = [e for e in body.split("\n\n") if e]
    assert all(e.startswith("data: ") for e in events)
    assert events[-1] == "data: [DONE]"
    assert body.count("[DONE]") == 1


@pytest.mark.parametrize("stop, finish", [
    ("end_turn", "stop"), ("max_tokens", "length"), ("stop_sequence", "stop"),
    ("guardrail_intervened", "content_filter"), ("content_filtered", "content_filter"),
    ("model_context_window_exceeded", "length"),
])
@pytest.mark.parametrize("stream", [False, True])
async def test_every_finish_reason(client, stop, finish, stream):
    messages = [{"role": "user", "content": f"x [[emu chunks=3 stop={stop}]]"}]
    if stream:
        chunks = [c async for c in await client.chat.completions.create(
            model=HAIKU, messages=messages, stream=True)]
        reasons = [c.choices[0].finish_reason for c in chunks if c.choices]
        assert reasons[-1] == finish
        assert all(r is None for r in reasons[:-1])
    else:
        response = await client.chat.completions.create(model=HAIKU, messages=messages)
        assert response.choices[0].finish_reason == finish


async def test_max_tokens_truncates_and_reports_length(client):
    for params in ({"max_tokens": 3}, {"max_completion_tokens": 3}):
        response = await client.chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": f"{PROMPT} [[emu chunks=10]]"}],
            **params)
        assert response.choices[0].finish_reason == "length"
        assert response.usage.completion_tokens == 3
        assert response.choices[0].message.content == "".join(reply_chunks(PROMPT, 10)[:3])


async def test_stop_sequences_and_sampling_parameters_reach_bedrock(client):
    full = expected_text(PROMPT, 10)
    stop_word = reply_chunks(PROMPT, 10)[4].strip()
    response = await client.chat.completions.create(
        model=HAIKU, temperature=0.2, top_p=0.9, stop=[stop_word],
        messages=[{"role": "user", "content": f"{PROMPT} [[emu chunks=10]]"}])
    assert response.choices[0].finish_reason == "stop"
    assert stop_word not in response.choices[0].message.content
    assert full.startswith(response.choices[0].message.content)


async def test_both_route_prefixes_and_default_model(gateway):
    from openai import AsyncOpenAI

    for base in (gateway.root + "/api/v1", gateway.root + "/v1"):
        async with AsyncOpenAI(base_url=base, api_key="sk-test-0123456789",
                               max_retries=0) as client:
            response = await client.chat.completions.create(
                model="", messages=[{"role": "user", "content": "hi [[emu chunks=2]]"}])
            assert response.choices[0].message.content
            assert response.model == HAIKU  # DEFAULT_MODEL when the request names none


async def test_models_list_and_get(client):
    models = await client.models.list()
    ids = [m.id for m in models.data]
    assert HAIKU in ids
    assert any(i.startswith("us.") for i in ids)  # cross-region profiles
    assert any(i.startswith("arn:aws:bedrock:") for i in ids)  # application profiles
    assert all(m.object == "model" for m in models.data)
    assert "stability.sd3-5-large-v1:0" not in ids  # image models cannot serve chat
    one = await client.models.retrieve(HAIKU)
    assert one.id == HAIKU and one.owned_by
    arn = next(i for i in ids if i.startswith("arn:aws:bedrock:"))
    assert (await client.models.retrieve(arn)).id == arn


async def test_unknown_model_is_404_naming_it(client):
    import openai

    with pytest.raises(openai.NotFoundError) as info:
        await client.chat.completions.create(
            model="no-such-model", messages=[{"role": "user", "content": "hi"}])
    error = info.value.body
    assert error["code"] == "model_not_found" and error["param"] == "model"
    assert "no-such-model" in error["message"]
    with pytest.raises(openai.NotFoundError):
        await client.models.retrieve("no-such-model")
