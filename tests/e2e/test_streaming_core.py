"""The streaming core under pressure: client disconnects free Bedrock connections, and many
concurrent streams all complete with their full text."""

from __future__ import annotations

import asyncio

import aiohttp

from bedrock_gateway.emulator.script import reply_chunks
from tests.support.constants import HAIKU, TEST_KEY


async def test_client_disconnect_frees_upstream_stream_within_a_second(gateway, emulator):
    body = {"model": HAIKU, "stream": True,
            "messages": [{"role": "user", "content": "x [[emu chunks=200 delay_ms=20]]"}]}
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{gateway.base_url}/chat/completions", json=body,
                                      headers={"Authorization": f"Bearer {TEST_KEY}"})
        await response.content.readline()  # the stream is flowing
        assert (await emulator.stats())["open_streams"] == 1
        response.close()  # the client goes away mid-stream
    await emulator.wait_open_streams(0)


async def test_disconnect_while_upstream_is_stalled_frees_it(make_gateway, emulator):
    gateway = await make_gateway(sse_heartbeat_seconds=30, stream_idle_timeout=30)
    body = {"model": HAIKU, "stream": True,
            "messages": [{"role": "user",
                          "content": "x [[emu chunks=5 stall_after=2 stall_s=20]]"}]}
    async with aiohttp.ClientSession() as session:
        response = await session.post(f"{gateway.base_url}/chat/completions", json=body,
                                      headers={"Authorization": f"Bearer {TEST_KEY}"})
        data_lines = 0
        while data_lines < 2:  # two events (stall_after=2): the upstream is stalled now
            data_lines += (await response.content.readline()).startswith(b"data: ")
        assert (await emulator.stats())["open_streams"] == 1
        response.close()
    await emulator.wait_open_streams(0)


async def test_500_concurrent_streams_all_complete(make_gateway, emulator):
    gateway = await make_gateway(max_concurrent_requests=600, max_streams_per_region=600)
    prompts = [f"stream number {i}" for i in range(500)]
    async with gateway.client(timeout=120.0) as client:
        async def one(prompt: str) -> str:
            stream = await client.chat.completions.create(
                model=HAIKU, stream=True,
                # ~8 s per stream: longer than opening 100 of them takes on a loaded machine.
                messages=[{"role": "user", "content": f"{prompt} [[emu chunks=10 delay_ms=800]]"}])
            return "".join([c.choices[0].delta.content or "" async for c in stream if c.choices])

        texts = await asyncio.gather(*(one(p) for p in prompts))
    assert texts == ["".join(reply_chunks(p, 10)) for p in prompts]
    stats = await emulator.stats()
    assert stats["max_open_streams"] > 100  # they really ran concurrently
    assert stats["open_streams"] == 0
