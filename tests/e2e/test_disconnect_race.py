"""The disconnect race (issue: "upstream already closed right after the role chunk, only under
load"). The gateway closes a Bedrock stream only when the stream ends, fails, idles out, the
gateway shuts down, or the client goes away. A check "is the upstream still open after the role
chunk?" is only meaningful when the upstream *cannot* end by itself: the emulator writes a paced
stream on its own clock whether or not anyone reads it (the frames wait in socket buffers), so a
short paced stream may simply have finished before a loaded client got to look. Here the upstream
stalls after its first event for ten minutes: if it is ever closed before the client hangs up,
the gateway closed it.

The scenario runs in a loop while other streams (another model, counted apart by the emulator)
keep the machine busy.
"""

from __future__ import annotations

import asyncio

import aiohttp

from tests.support.constants import HAIKU, TEST_KEY
from tests.support.polling import eventually

SONNET = "anthropic.claude-3-5-sonnet-20240620-v1:0"
AUTH = {"Authorization": f"Bearer {TEST_KEY}"}
ROUNDS = 12
BACKGROUND = 20


def chat(model: str, content: str) -> dict:
    return {"model": model, "stream": True, "messages": [{"role": "user", "content": content}]}


async def test_upstream_stays_open_until_the_client_hangs_up_under_load(make_gateway, emulator):
    gateway = await make_gateway(max_concurrent_requests=200, max_streams_per_region=200)
    url = f"{gateway.base_url}/chat/completions"
    stop = asyncio.Event()
    background_done = 0

    async def background(session: aiohttp.ClientSession) -> None:
        nonlocal background_done
        while not stop.is_set():
            async with session.post(url, headers=AUTH, json=chat(
                    SONNET, "load [[emu chunks=20 delay_ms=10]]")) as response:
                body = await response.read()
            assert body.rstrip().endswith(b"data: [DONE]")
            background_done += 1

    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as session:
        load = [asyncio.create_task(background(session)) for _ in range(BACKGROUND)]
        try:
            for round_number in range(ROUNDS):
                response = await session.post(url, headers=AUTH, json=chat(
                    HAIKU, "hold [[emu chunks=5 stall_after=1 stall_s=600]]"))
                assert response.status == 200
                first = await response.content.readline()
                assert first.startswith(b"data: ") and b'"role":"assistant"' in first
                stats = await emulator.stats()
                assert stats["open_streams_by_model"].get(HAIKU, 0) == 1, (
                    f"round {round_number}: upstream closed before the client hung up")
                response.close()  # the client hangs up

                async def upstream_closed() -> bool:
                    return not (await emulator.stats())["open_streams_by_model"].get(HAIKU, 0)

                await eventually(upstream_closed, what=f"round {round_number}: upstream closed")
        finally:
            stop.set()
            await asyncio.gather(*load)
    assert background_done >= BACKGROUND  # the load really ran alongside
    await emulator.wait_open_streams(0)
