"""One open ConverseStream: reads parsed events, maps failures, and frees its connection once."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bedrock_gateway.bedrock.upstream_errors import map_bedrock_exception


class UpstreamStream:
    __slots__ = ("region", "attempt_token", "_events", "_iterator", "_release", "_closed")

    def __init__(self, events: Any, region: str, release: Callable[[], None],
                 attempt_token: Any = None) -> None:
        self.region = region
        self.attempt_token = attempt_token
        self._events = events
        self._iterator = events.__aiter__()
        self._release = release
        self._closed = False

    async def next_event(self) -> dict | None:
        """The next parsed event, or None at the end. Raises a GatewayError on failure."""
        try:
            return await self._iterator.__anext__()
        except StopAsyncIteration:
            return None
        except Exception as exc:  # noqa: BLE001 - EventStreamError, raw aiohttp timeouts, ...
            raise map_bedrock_exception(exc) from None

    def close(self) -> None:
        """Idempotent. Closing the raw response returns or drops the pooled connection at once,
        so a client that went away does not keep a Bedrock connection checked out."""
        if self._closed:
            return
        self._closed = True
        try:
            self._events.close()
        finally:
            self._release()
