"""One open Bedrock stream (ConverseStream, InvokeModelWithResponseStream): reads parsed events,
maps failures, and owns its region slot from the moment the router hands it over."""

from __future__ import annotations

from typing import Any

from bedrock_gateway.bedrock.region_slots import SlotLease
from bedrock_gateway.bedrock.upstream_errors import map_bedrock_exception


class UpstreamStream:
    __slots__ = ("_closed", "_events", "_iterator", "_lease")

    def __init__(self, events: Any, lease: SlotLease) -> None:
        self._events = events
        self._iterator = events.__aiter__()
        self._lease = lease
        self._closed = False

    async def next_event(self) -> dict[str, Any] | None:
        """The next parsed event, or None at the end. Raises a GatewayError on failure."""
        try:
            event: dict[str, Any] = await self._iterator.__anext__()
        except StopAsyncIteration:
            return None
        except Exception as exc:  # noqa: BLE001 - EventStreamError, raw aiohttp timeouts, ...
            raise map_bedrock_exception(exc) from None
        return event

    def close(self) -> None:
        """Idempotent. Closing the raw response returns or drops the pooled connection at once,
        so a client that went away does not keep a Bedrock connection checked out; the region
        slot is given back with it."""
        if self._closed:
            return
        self._closed = True
        try:
            self._events.close()
        finally:
            self._lease.release()
