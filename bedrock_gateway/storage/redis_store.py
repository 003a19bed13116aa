"""Stored responses in Redis (redis-py's asyncio client), so any replica can continue.

Each record is one key, `<prefix><response id>`, holding the serialized record with the TTL as
its expiry. Every call is bounded by `timeout_s` (connect, socket and an overall deadline); a
Redis failure becomes `StoreUnavailableError` (503, `response_store_unavailable`), never a hang
or a traceback to the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable
from typing import Any, TypeVar

import orjson
from redis.exceptions import RedisError

from bedrock_gateway.storage.response_store import StoreUnavailableError

log = logging.getLogger(__name__)
T = TypeVar("T")
KEY_PREFIX = "bedrock-gateway:response:"


class RedisResponseStore:
    def __init__(self, client: Any, *, ttl_s: float, timeout_s: float,
                 key_prefix: str = KEY_PREFIX) -> None:
        self._client = client  # shared (storage/redis_client.py); its owner closes it
        self._ttl_ms = max(1, int(ttl_s * 1000))
        self._timeout_s = timeout_s
        self._prefix = key_prefix

    async def _call(self, what: str, call: Awaitable[T]) -> T:
        try:
            async with asyncio.timeout(self._timeout_s):
                return await call
        except (RedisError, OSError, TimeoutError) as exc:
            log.warning("response store (Redis) %s failed: %s", what, type(exc).__name__)
            raise StoreUnavailableError(
                "The response store (Redis) is unavailable; stored responses cannot be read or "
                "written right now.") from None

    async def put(self, record: dict) -> None:
        await self._call("write", self._client.set(self._prefix + record["id"],
                                                   orjson.dumps(record), px=self._ttl_ms))

    async def get(self, response_id: str) -> dict | None:
        data = await self._call("read", self._client.get(self._prefix + response_id))
        return None if data is None else orjson.loads(data)

    async def delete(self, response_id: str) -> bool:
        return bool(await self._call("delete", self._client.delete(self._prefix + response_id)))

    async def ping(self) -> None:
        await self._call("ping", self._client.ping())

    async def close(self) -> None:
        pass
