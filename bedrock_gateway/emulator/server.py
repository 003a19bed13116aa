"""Running the emulator: `start_emulator` for in-process use (tests, benchmarks)."""

from __future__ import annotations

from aiohttp import web

from bedrock_gateway.emulator.emulator_app import create_emulator_app
from bedrock_gateway.emulator.config import EmulatorConfig


async def start_emulator(config: EmulatorConfig | None = None, host: str = "127.0.0.1",
                         port: int = 0) -> tuple[web.AppRunner, str]:
    """Serve the emulator; returns the runner (call `await runner.cleanup()` to stop) and its
    base URL with the real port (port 0 picks a free one).

    `handler_cancellation=True`: when a client goes away, the handler of its stream is cancelled
    (a stalled stream would otherwise stay open and counted until its stall ends)."""
    runner = web.AppRunner(create_emulator_app(config), handler_cancellation=True,
                           access_log=None, shutdown_timeout=1.0)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=4096)
    await site.start()
    actual_port = runner.addresses[0][1]
    shown = "127.0.0.1" if host in ("", "0.0.0.0") else host
    return runner, f"http://{shown}:{actual_port}"
