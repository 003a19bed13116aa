"""Server-sent events as OpenAI clients read them: `data: <json>\\n\\n` per chunk, flushed as
produced, `: keep-alive` comments while waiting, one error event or one `[DONE]` at the end."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from types import MappingProxyType
from typing import Protocol

import orjson
from aiohttp import web

from bedrock_gateway.errors import GatewayError

SSE_HEADERS = {
    "Content-Type": "text/event-stream; charset=utf-8",
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # nginx and some ingresses buffer otherwise
}
_DONE = b"data: [DONE]\n\n"
_HEARTBEAT = b": keep-alive\n\n"


def encode_chunks(chunks: list[dict]) -> bytes:
    """All chunks produced by one upstream event, as one write."""
    if len(chunks) == 1:
        return b"data: " + orjson.dumps(chunks[0]) + b"\n\n"
    return b"".join(b"data: " + orjson.dumps(c) + b"\n\n" for c in chunks)


class Framing(Protocol):
    """How one protocol frames its stream: chunks, the end marker, the error event."""

    def encode(self, chunks: list[dict]) -> bytes: ...

    def done(self) -> bytes: ...

    def error(self, error: GatewayError) -> bytes: ...

    @property
    def headers(self) -> Mapping[str, str]: ...


class ChatFraming:
    """Chat completions: `data:` lines, `[DONE]` at the end, an OpenAI error object on failure."""

    encode = staticmethod(encode_chunks)
    headers: Mapping[str, str] = MappingProxyType({})

    @staticmethod
    def done() -> bytes:
        return _DONE

    @staticmethod
    def error(error: GatewayError) -> bytes:
        return b"data: " + orjson.dumps(error.body()) + b"\n\n"


class NamedEventFraming:
    """`event: <type>` + `data: <json>` per event (the Responses and Messages APIs); no end
    marker; on failure, the events `error_events(error)` returns."""

    __slots__ = ("_error_events", "headers")

    def __init__(self, error_events: Callable[[GatewayError], list[dict]],
                 headers: Mapping[str, str] = MappingProxyType({})) -> None:
        self._error_events = error_events
        self.headers = headers  # extra response headers

    @staticmethod
    def encode(chunks: list[dict]) -> bytes:
        if len(chunks) == 1:
            chunk = chunks[0]
            return b"event: %b\ndata: %b\n\n" % (chunk["type"].encode(), orjson.dumps(chunk))
        return b"".join(b"event: %b\ndata: %b\n\n" % (c["type"].encode(), orjson.dumps(c))
                        for c in chunks)

    @staticmethod
    def done() -> bytes:
        return b""

    def error(self, error: GatewayError) -> bytes:
        return self.encode(self._error_events(error))


CHAT_FRAMING = ChatFraming()


class SseWriter:
    __slots__ = ("bytes_sent", "finished", "framing", "response")

    def __init__(self, response: web.StreamResponse, framing: Framing = CHAT_FRAMING) -> None:
        self.response = response
        self.framing = framing
        self.bytes_sent = 0
        self.finished = False

    @classmethod
    async def open(cls, request: web.Request, framing: Framing = CHAT_FRAMING) -> SseWriter:
        headers = {**SSE_HEADERS, **framing.headers} if framing.headers else SSE_HEADERS
        response = web.StreamResponse(status=200, headers=headers)
        await response.prepare(request)
        return cls(response, framing)

    @property
    def encode(self) -> Callable[[list[dict]], bytes]:
        """The framing's encoder (looked up once per stream by the pump)."""
        return self.framing.encode

    async def write(self, data: bytes) -> None:
        self.bytes_sent += len(data)
        await self.response.write(data)

    async def heartbeat(self) -> None:
        await self.write(_HEARTBEAT)

    async def done(self) -> None:
        if not self.finished:
            self.finished = True
            end = self.framing.done()
            if end:
                await self.write(end)

    async def error(self, error: GatewayError) -> None:
        """The stream's last event after a failure (chat: an OpenAI error object, no [DONE])."""
        if not self.finished:
            self.finished = True
            await self.write(self.framing.error(error))
