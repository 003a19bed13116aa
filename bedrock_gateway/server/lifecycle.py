"""Readiness, draining, the per-process admission cap and the registry of live streams."""

from __future__ import annotations

import asyncio
import logging
import weakref

from bedrock_gateway.errors import OverloadedError

log = logging.getLogger(__name__)


class StreamSession:
    """One SSE stream being written; shutdown can end it with an error event."""

    __slots__ = ("__weakref__", "shutdown_requested", "task")

    def __init__(self, task: asyncio.Task | None) -> None:
        self.task = task
        self.shutdown_requested = False


class Lifecycle:
    def __init__(self, max_concurrent_requests: int) -> None:
        self.max_concurrent_requests = max_concurrent_requests
        self.active_requests = 0
        self.clients_ready = False
        self.draining = False
        self._streams: weakref.WeakSet[StreamSession] = weakref.WeakSet()
        self._streams_idle = asyncio.Event()
        self._streams_idle.set()

    # Admission: an immediate 429 past the cap, never a queue (queued streams starve anyway).
    def admit(self) -> None:
        if self.active_requests >= self.max_concurrent_requests:
            raise OverloadedError(
                "The gateway is at its concurrent request limit; retry shortly.",
                code="process_limit",
                retry_after=1.0,
            )
        self.active_requests += 1

    def release(self) -> None:
        self.active_requests -= 1

    def stream_opened(self) -> StreamSession:
        session = StreamSession(asyncio.current_task())
        self._streams.add(session)
        self._streams_idle.clear()
        return session

    def stream_closed(self, session: StreamSession) -> None:
        self._streams.discard(session)
        if not self._streams:
            self._streams_idle.set()

    async def drain_streams(self, grace_seconds: float) -> int:
        """Let live streams finish for up to `grace_seconds`, then end the rest with an error
        event (the stream's own task writes it, so frames never interleave). Returns how many
        were ended early."""
        if self._streams:
            try:
                async with asyncio.timeout(grace_seconds):
                    await self._streams_idle.wait()
            except TimeoutError:
                pass
        remaining = list(self._streams)
        for session in remaining:
            session.shutdown_requested = True
            if session.task is not None and not session.task.done():
                session.task.cancel()
        if remaining:
            log.warning("ended %d streams still open after the %.0f s shutdown grace",
                        len(remaining), grace_seconds)
            try:
                async with asyncio.timeout(5):
                    await self._streams_idle.wait()
            except TimeoutError:
                pass
        return len(remaining)
