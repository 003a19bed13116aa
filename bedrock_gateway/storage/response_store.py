"""Stored Responses API responses: one abstraction, two implementations.

A record is a JSON object `{"id", "owner", "response", "input_items", "history"}`: `owner` is the
SHA-256 of the API key that created it (compared in constant time by the caller; a record is
visible only to its creator), `history` the items a later `previous_response_id` continues from.
Records are kept as serialized bytes, so their size is exact and nothing aliases the caller's
objects. `MemoryResponseStore` holds them in this process, bounded by count, bytes and TTL (the
oldest go first); `RedisResponseStore` (redis_store.py) lets any replica continue a conversation.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import Protocol

import orjson

from bedrock_gateway.errors import ServiceUnavailableError


class StoreUnavailableError(ServiceUnavailableError):
    code = "response_store_unavailable"


class ResponseStore(Protocol):
    async def put(self, record: dict) -> None: ...

    async def get(self, response_id: str) -> dict | None: ...

    async def delete(self, response_id: str) -> bool: ...

    async def close(self) -> None: ...


class MemoryResponseStore:
    def __init__(self, *, max_items: int, max_bytes: int, ttl_s: float) -> None:
        self._items: OrderedDict[str, tuple[float, bytes]] = OrderedDict()
        self._max_items = max_items
        self._max_bytes = max_bytes
        self._ttl_s = ttl_s
        self.bytes = 0

    def __len__(self) -> int:
        return len(self._items)

    def _drop(self, response_id: str) -> bool:
        entry = self._items.pop(response_id, None)
        if entry is None:
            return False
        self.bytes -= len(entry[1])
        return True

    async def put(self, record: dict) -> None:
        data = orjson.dumps(record)
        if len(data) > self._max_bytes:
            return  # larger than the whole store: not kept (a later lookup says not found)
        self._drop(record["id"])
        self._items[record["id"]] = (time.monotonic() + self._ttl_s, data)
        self.bytes += len(data)
        while len(self._items) > self._max_items or self.bytes > self._max_bytes:
            self._drop(next(iter(self._items)))

    async def get(self, response_id: str) -> dict | None:
        entry = self._items.get(response_id)
        if entry is None:
            return None
        if entry[0] < time.monotonic():
            self._drop(response_id)
            return None
        return orjson.loads(entry[1])

    async def delete(self, response_id: str) -> bool:
        return self._drop(response_id)

    async def close(self) -> None:
        self._items.clear()
        self.bytes = 0
