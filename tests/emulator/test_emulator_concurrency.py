"""Many concurrent streams through one real client."""

from __future__ import annotations

import asyncio
import time


from bedrock_gateway.emulator.script import reply_text
from tests.support.constants import HAIKU
from tests.support.converse_events import collect, only, stream_text, user

STREAMS = 300


async def test_300_concurrent_streams(emu, make_client):
    runtime = await make_client(max_pool_connections=STREAMS)

    async def one(i: int) -> tuple[str, str]:
        # Each stream lasts ~6 s, well beyond the time it takes to open all of them on a loaded
        # machine, so they overlap however slowly they start.
        prompt = f"request number {i} [[emu chunks=12 delay_ms=500]]"
        events = await collect(await runtime.converse_stream(modelId=HAIKU,
                                                             messages=user(prompt)))
        assert only(events, "messageStop") == [{"stopReason": "end_turn"}]
        return stream_text(events), reply_text(f"request number {i}", 12)

    start = time.monotonic()
    results = await asyncio.gather(*(one(i) for i in range(STREAMS)))
    elapsed = time.monotonic() - start
    assert all(got == expected for got, expected in results)
    stats = await emu.stats()
    assert stats["by"] == {"us-east-1 converse-stream": STREAMS}
    assert stats["open_streams"] == 0
    assert stats["max_open_streams"] > STREAMS // 2  # they really overlapped
    assert elapsed < 20
