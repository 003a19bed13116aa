"""The one Redis client of the gateway, built once at start-up from `REDIS_URL`.

`redis://`, `rediss://` (TLS, e.g. ElastiCache with in-transit encryption) and `unix://` URLs
work, with a password or `user:password` (Redis AUTH / ACL) in the URL. Socket and connect
timeouts are `REDIS_TIMEOUT_SECONDS`; callers on the request path bound their calls tighter.
The client reconnects by itself when Redis comes back.
"""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis


def open_redis(url: str, timeout_s: float) -> Any:
    return aioredis.Redis.from_url(
        url, socket_timeout=timeout_s, socket_connect_timeout=timeout_s,
        retry_on_timeout=False, health_check_interval=30)
