"""The gateway under test in the test's own process: the real aiohttp app (`create_app`) with the
same runner options as `python -m bedrock_gateway`, on an ephemeral loopback port, reaching the
emulator through the standard AWS_ENDPOINT_URL_* variables (set by the `emulator_url` fixture)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from aiohttp import web, web_app
from openai import AsyncOpenAI

from bedrock_gateway.server.app_state import CATALOG, ROUTER, TELEMETRY
from bedrock_gateway.server.gateway_app import create_app
from bedrock_gateway.server.protocol import GatewayRunner, runner_options
from bedrock_gateway.settings import Settings
from tests.support.constants import HAIKU, TEST_KEY
from tests.support.polling import eventually


# A bound, not a speed check: the first catalog load is two control-plane calls to the emulator,
# which take seconds only on a machine loaded by other suites.
CATALOG_READY_WITHIN_S = 30.0


@dataclass
class Gateway:
    app: web.Application
    runner: web.AppRunner
    port: int
    settings: Settings

    @property
    def root(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        return self.root + self.settings.api_route_prefix

    def client(self, **kwargs: Any) -> AsyncOpenAI:
        options: dict[str, Any] = {"max_retries": 0, "timeout": 30.0, **kwargs}
        return AsyncOpenAI(base_url=self.base_url, api_key=TEST_KEY, **options)

    def breaker_states(self, model: str) -> dict[str, int]:
        """region -> circuit-breaker state of `model` there (0 closed, 1 half-open, 2 open), as
        the bedrock_gateway_circuit_breaker_state gauge reports it."""
        return {region: state
                for (region, m), state in self.app[ROUTER].breaker_states().items() if m == model}

    async def wait_breaker(self, region: str, model: str, state: int) -> None:
        """Poll until the breaker of (region, model) is in `state` (1: its cooldown is over)."""
        await eventually(lambda: self.breaker_states(model).get(region) == state,
                         what=f"breaker {region} {model} in state {state}")

    async def flush_telemetry(self) -> None:
        """Export every span and metric point that has ended, now (the OpenTelemetry SDK's
        force_flush): tests wait for exports with this, never by sleeping."""
        await self.app[TELEMETRY].tracing.force_flush()


def gateway_settings(**overrides: Any) -> Settings:
    """Settings for an in-process gateway: the test key, one region, no access log, no drain
    delay, Haiku by default; `overrides` are Settings fields."""
    base: dict[str, Any] = {
        "api_keys": (TEST_KEY,),
        "aws_region": "us-east-1",
        "metrics_port": 0,
        "access_log": False,
        "drain_delay_seconds": 0.0,
        "default_model": HAIKU,
    }
    base.update(overrides)
    return Settings.from_env({}, **base)


async def start_gateway_app(settings: Settings, environ: dict[str, str] | None = None) -> Gateway:
    """Start one gateway and wait for its model catalog; the caller cleans up `runner`."""
    app = create_app(settings, environ=environ or {})
    # The same runner options as `python -m bedrock_gateway` (a deep accept backlog and handler
    # cancellation on disconnect), on an ephemeral port.
    runner = GatewayRunner(app, **runner_options(settings))
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
        await site.start()
        port = runner.addresses[0][1]
        async with asyncio.timeout(CATALOG_READY_WITHIN_S):
            await app[CATALOG].ready.wait()
    except BaseException:
        await runner.cleanup()
        raise
    return Gateway(app, runner, port, settings)


def forget_stopped_apps() -> None:
    """Let stopped gateways be collected. aiohttp memoizes each route's middleware chain in a
    module-level LRU cache (1,024 entries) whose keys hold the application, so in one process
    every stopped gateway that had served a request stayed alive with its Bedrock clients and
    their service models (about 12 MB each): the test process grew to 5-6 GB over the suite. A
    server runs one application for its life, so only a process that makes many needs this."""
    cache = getattr(web_app, "_cached_build_middleware", None)
    if cache is not None:
        cache.cache_clear()
