"""Start-up of Redis and of the key service, on the app's cleanup_ctx.

`redis_ctx` builds the gateway's one Redis client (when REDIS_URL is set), used by the response
store and the keys alike, and watches it: a ping every second keeps `bedrock_gateway_redis_up`
true to the moment, and the client reconnects by itself when Redis returns. `key_service_ctx`
picks the keys' home: Redis, else the process (with KEYS_FILE re-read on change).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bedrock_gateway.errors import RateLimiterUnavailableError
from bedrock_gateway.keys.limiter import Limiter, MemoryLimiter
from bedrock_gateway.keys.prices import PriceTable
from bedrock_gateway.keys.redis_backend import RedisKeys
from bedrock_gateway.keys.registry import KeyRegistry, MemoryKeyRegistry
from bedrock_gateway.server import app_state
from bedrock_gateway.server.key_access import KeyService
from bedrock_gateway.storage.redis_client import open_redis

log = logging.getLogger(__name__)
REDIS_PING_SECONDS = 1.0
KEYS_FILE_POLL_SECONDS = 1.0


async def redis_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[app_state.SETTINGS]
    if not settings.redis_url:
        yield
        return
    client = open_redis(settings.redis_url, settings.redis_timeout_seconds)
    app[app_state.REDIS] = client
    yield
    await client.aclose()


async def _watch_redis(redis_keys: RedisKeys) -> None:
    while True:
        with contextlib.suppress(RateLimiterUnavailableError):
            await redis_keys.ping()
        await asyncio.sleep(REDIS_PING_SECONDS)


async def key_service_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[app_state.SETTINGS]
    telemetry = app[app_state.TELEMETRY]
    metrics = telemetry.key_metrics if telemetry.metrics_enabled else None
    prices = (PriceTable.load(settings.keys_price_table_file)
              if settings.keys_price_table_file else None)
    background: asyncio.Task | None = None
    registry: KeyRegistry
    limiter: Limiter
    if settings.redis_url:
        redis_keys = RedisKeys(
            app[app_state.REDIS], timeout_s=settings.keys_redis_timeout_seconds,
            admin_timeout_s=settings.redis_timeout_seconds, cache_s=settings.keys_cache_seconds,
            lease_s=settings.request_timeout_seconds,
            health=metrics.redis_result if metrics is not None else None)
        registry, limiter = redis_keys, redis_keys
        background = asyncio.create_task(_watch_redis(redis_keys), name="redis-watch")
    else:
        file_registry = MemoryKeyRegistry(settings.keys_file, poll_s=KEYS_FILE_POLL_SECONDS)
        try:
            file_registry.load()
        except (OSError, ValueError) as exc:
            raise RuntimeError(f"KEYS_FILE cannot be read: {exc}") from None
        registry, limiter = file_registry, MemoryLimiter(settings.request_timeout_seconds)
        if settings.keys_file:
            background = asyncio.create_task(file_registry.watch_forever(), name="keys-file")
    service = KeyService(static=app[app_state.KEYSTORE], registry=registry, limiter=limiter,
                         metrics=metrics, pepper=settings.keys_pepper,
                         fail_open=settings.redis_failure_policy == "open",
                         default_output_tokens=settings.keys_default_output_tokens,
                         prices=prices)
    app[app_state.KEY_SERVICE] = service
    yield
    if background is not None:
        background.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await background
    await service.drain()
