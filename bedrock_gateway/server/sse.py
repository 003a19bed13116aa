"""Server-sent events as OpenAI clients read them: `data: <json>\\n\\n` per chunk, flushed as
produced, `: keep-alive` comments while waiting, one error event or one `[DONE]` at the end."""

from __future__ import annotations

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


class SseWriter:
    __slots__ = ("bytes_sent", "finished", "response")

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response
        self.bytes_sent = 0
        self.finished = False

    @classmethod
    async def open(cls, request: web.Request) -> SseWriter:
        response = web.StreamResponse(status=200, headers=SSE_HEADERS)
        await response.prepare(request)
        return cls(response)

    encode = staticmethod(encode_chunks)

    async def write(self, data: bytes) -> None:
        self.bytes_sent += len(data)
        await self.response.write(data)

    async def heartbeat(self) -> None:
        await self.write(_HEARTBEAT)

    async def done(self) -> None:
        if not self.finished:
            self.finished = True
            await self.write(_DONE)

    async def error(self, error: GatewayError) -> None:
        """The stream's last event after a failure: an OpenAI error object, then no [DONE]."""
        if not self.finished:
            self.finished = True
            await self.write(b"data: " + orjson.dumps(error.body()) + b"\n\n")
