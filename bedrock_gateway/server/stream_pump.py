"""Pumps one Bedrock stream (ConverseStream, InvokeModelWithResponseStream) into one streamed
response, framed by the writer of the client's protocol (`open_writer`: OpenAI or Anthropic SSE,
Bedrock's event stream). The pump knows no protocol: a new one brings its translator (a
`ChunkSource`) and its writer, and this module does not change.

Each upstream event is translated and written at once. While no event has arrived yet, comment
heartbeats keep load balancers from cutting the idle connection. A stream that stays silent for
`stream_idle_timeout` ends with an error event. A client that stops reading (its socket buffer
full, a write blocked for `stream_idle_timeout`) is the client's doing: the stream is cut and
recorded as `client_stalled` (HTTP 499 in the access log), not as a Bedrock stream error. Whatever
happens, the upstream stream is closed in `finally` (the stream gives its region slot back): a
client that disconnects frees its Bedrock connection immediately.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any, Protocol

from aiohttp import web

from bedrock_gateway.bedrock.upstream_stream import UpstreamStream
from bedrock_gateway.errors import (
    GatewayError,
    InternalError,
    ServiceUnavailableError,
    UpstreamTimeoutError,
)
from bedrock_gateway.server.context import RequestContext
from bedrock_gateway.server.lifecycle import Lifecycle

log = logging.getLogger(__name__)

# How long the error event that ends a stream may wait for a client that is not reading.
_LAST_WORD_SECONDS = 5.0


class ChunkSource(Protocol):
    """A protocol's translator of upstream events into what its writer encodes (dicts, or bytes
    relayed as they came)."""

    @property
    def first_content_emitted(self) -> bool: ...

    def feed(self, event: dict[str, Any]) -> list[Any]: ...

    def finish(self) -> list[Any]: ...


class StreamWriter(Protocol):
    """One protocol's stream framing (see sse.py for the contract)."""

    response: web.StreamResponse
    bytes_sent: int

    @property
    def encode(self) -> Callable[[list[Any]], bytes]: ...

    async def write(self, data: bytes) -> None: ...

    async def heartbeat(self) -> None: ...

    async def done(self) -> None: ...

    async def error(self, error: GatewayError) -> None: ...


class ChunkTimer(Protocol):
    def tick(self, now: float) -> None: ...


class StreamObserver(Protocol):
    """The request's telemetry for its stream (request_observer.RequestObserver)."""

    def stream_opened(self) -> ChunkTimer | None:
        """The stream starts; the timer to tick per written chunk, if one is kept."""

    def stream_closed(self) -> None:
        """The stream ended, however it ended (its error code is on the request context)."""


def _idle_error(seconds: float) -> UpstreamTimeoutError:
    return UpstreamTimeoutError(
        f"Amazon Bedrock sent nothing for {seconds:g} s; the stream was ended.",
        code="stream_idle_timeout",
    )


async def _first_event(upstream: UpstreamStream, writer: StreamWriter, heartbeat_s: float,
                       idle_s: float) -> dict | None:
    """Wait for the first event, sending heartbeats meanwhile (one task for the whole wait)."""
    pending = asyncio.ensure_future(upstream.next_event())
    loop = asyncio.get_running_loop()
    give_up = loop.time() + idle_s
    try:
        while True:
            wait = min(heartbeat_s, give_up - loop.time())
            if wait <= 0:
                raise _idle_error(idle_s)
            done, _ = await asyncio.wait((pending,), timeout=wait)
            if done:
                return pending.result()
            if loop.time() >= give_up:
                raise _idle_error(idle_s)
            await writer.heartbeat()
    finally:
        if not pending.done():
            pending.cancel()


async def pump_stream(
    request: web.Request,
    ctx: RequestContext,
    upstream: UpstreamStream,
    translator: ChunkSource,
    *,
    lifecycle: Lifecycle,
    heartbeat_s: float,
    idle_s: float,
    observer: StreamObserver,
    open_writer: Callable[[web.Request], Awaitable[StreamWriter]],
) -> web.StreamResponse:
    """`open_writer` starts the response in the client protocol's framing (`SseWriter.open`,
    `functools.partial(SseWriter.open, framing=...)`, or another protocol's writer)."""
    session = lifecycle.stream_opened()
    chunk_timer = observer.stream_opened()
    writer: StreamWriter | None = None
    writing = False
    try:
        writer = await open_writer(request)
        encode = writer.encode
        event = await _first_event(upstream, writer, heartbeat_s, idle_s)
        loop = asyncio.get_running_loop()
        # Re-arming the idle timer on every event would cost a timer per chunk; re-arm at most
        # every `step` seconds instead (the timeout is then exact to within `step`).
        step = min(1.0, idle_s / 4)
        async with asyncio.timeout(idle_s) as idle:
            armed_at = loop.time()
            while event is not None:
                chunks = translator.feed(event)
                if chunks:
                    writing = True
                    await writer.write(encode(chunks))
                    writing = False
                    if loop.time() - armed_at >= step:  # time spent writing is not upstream's
                        armed_at = loop.time()
                        idle.reschedule(armed_at + idle_s)
                    now = time.perf_counter()
                    if ctx.ttft_s is None and translator.first_content_emitted:
                        ctx.ttft_s = now - ctx.started
                    if chunk_timer is not None:
                        chunk_timer.tick(now)
                event = await upstream.next_event()
                now_loop = loop.time()
                if now_loop - armed_at >= step:
                    idle.reschedule(now_loop + idle_s)
                    armed_at = now_loop
            # The last frames get the same limit: a client that stops reading now is cut too.
            idle.reschedule(loop.time() + idle_s)
            writing = True
            tail = translator.finish()
            if tail:
                await writer.write(encode(tail))
            await writer.done()
            writing = False
    except TimeoutError:
        if writing:
            # The client stopped reading: nobody to tell, nothing Bedrock did.
            ctx.error_code = "client_stalled"
            ctx.disconnected = True
            if request.transport is not None:
                request.transport.abort()
        else:
            await _end_with_error(ctx, writer, _idle_error(idle_s))
    except GatewayError as error:
        await _end_with_error(ctx, writer, error)
    except asyncio.CancelledError:
        if session.shutdown_requested:
            # Shutdown grace is over: say so instead of cutting the stream silently.
            task = asyncio.current_task()
            if task is not None:
                task.uncancel()
            await _end_with_error(ctx, writer, ServiceUnavailableError(
                "The gateway is shutting down; the stream was ended.", code="server_shutdown"))
        else:
            ctx.disconnected = True
            raise
    except (ConnectionResetError, ConnectionError):
        ctx.disconnected = True
    except Exception:
        log.exception("stream failed unexpectedly")
        await _end_with_error(ctx, writer, InternalError("The gateway failed while streaming."))
    finally:
        upstream.close()
        lifecycle.stream_closed(session)
        observer.stream_closed()
        if writer is not None:
            ctx.bytes_sent = writer.bytes_sent
    ctx.status = 200
    return writer.response if writer is not None else web.Response(status=499)


async def _end_with_error(ctx: RequestContext, writer: StreamWriter | None,
                          error: GatewayError) -> None:
    ctx.error_code = error.code
    if writer is None:
        raise error
    try:
        async with asyncio.timeout(_LAST_WORD_SECONDS):
            await writer.error(error)
    except (ConnectionResetError, ConnectionError, TimeoutError):
        ctx.disconnected = True
