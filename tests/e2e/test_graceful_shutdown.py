"""SIGTERM on the real server process: readiness drops at once, new requests are still served
during the drain delay, short streams finish with [DONE], long ones end with an error event, and
the process exits 0 in time."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time

import aiohttp
import orjson

from tests.support.constants import HAIKU, TEST_KEY
from tests.support.gateway_process import spawn_gateway
from tests.support.local_http import free_port, wait_ready
from tests.support.polling import eventually


async def read_stream(session: aiohttp.ClientSession, url: str, content: str) -> list[str]:
    async with session.post(url, headers={"Authorization": f"Bearer {TEST_KEY}"},
                            json={"model": HAIKU, "stream": True,
                                  "messages": [{"role": "user", "content": content}]}) as resp:
        assert resp.status == 200
        body = (await resp.read()).decode()
    return [e.removeprefix("data: ") for e in body.split("\n\n") if e.startswith("data: ")]


async def test_sigterm_drains_streams_and_exits_zero(emulator):
    port = free_port()
    env = {**os.environ, "API_KEY": TEST_KEY, "PORT": str(port), "METRICS_PORT": "0",
           "DRAIN_DELAY_SECONDS": "1", "SHUTDOWN_GRACE_SECONDS": "2", "ACCESS_LOG": "off",
           "DEFAULT_MODEL": HAIKU}
    proc = spawn_gateway(env, "--host", "127.0.0.1", stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{port}"
    try:
        await wait_ready(f"{base}/ready")
        async with aiohttp.ClientSession() as session:
            url = f"{base}/api/v1/chat/completions"
            short = [asyncio.create_task(read_stream(
                session, url, f"s{i} [[emu chunks=10 delay_ms=100]]")) for i in range(3)]
            long = [asyncio.create_task(read_stream(
                session, url, f"l{i} [[emu chunks=200 delay_ms=100]]")) for i in range(3)]

            async def all_streaming() -> bool:  # all six reached Bedrock
                return (await emulator.stats())["by"].get("us-east-1 converse-stream", 0) >= 6

            await eventually(all_streaming)
            sent_at = time.monotonic()
            proc.send_signal(signal.SIGTERM)

            async def unready() -> bool:
                async with session.get(f"{base}/ready") as response:
                    return response.status == 503  # out of the load balancer at once

            await eventually(unready, what="/ready 503 after SIGTERM")
            # Still served during the deregistration delay.
            late = await read_stream(session, url, "late [[emu chunks=3]]")
            assert late[-1] == "[DONE]"
            for events in await asyncio.gather(*short):
                assert events[-1] == "[DONE]"
            for events in await asyncio.gather(*long):
                assert events[-1] != "[DONE]"
                assert orjson.loads(events[-1])["error"]["code"] == "server_shutdown"
        code = await asyncio.to_thread(proc.wait, 15)
        elapsed = time.monotonic() - sent_at
        assert code == 0
        assert elapsed < 1 + 2 + 5  # drain delay + grace + closing
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
