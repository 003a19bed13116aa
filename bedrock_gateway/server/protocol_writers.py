"""Stream framings of the other client protocols, with the same contract as `sse.SseWriter`
(open, encode, write, heartbeat, done, error) so that one pump serves them all.

- Anthropic Messages: `event: <type>\\ndata: <json>\\n\\n` per event; `ping` events while
  waiting; the stream's own `message_stop` ends it (no `[DONE]`); a failure ends it with an
  `error` event in Anthropic's shape.
- Bedrock InvokeModelWithResponseStream: binary event-stream `chunk` messages; a failure ends it
  with an exception message; nothing to send while waiting (the format has no keep-alive).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from types import MappingProxyType
from typing import ClassVar

import orjson
from aiohttp import web

from bedrock_gateway.errors import (
    GatewayError,
    anthropic_error,
    bedrock_stream_exception,
)
from bedrock_gateway.protocols.bedrock_invoke import (
    encode_chunk_event,
    encode_exception,
)
from bedrock_gateway.server.sse import SSE_HEADERS

_PING = b'event: ping\ndata: {"type":"ping"}\n\n'
EVENTSTREAM_HEADERS = {"Content-Type": "application/vnd.amazon.eventstream",
                       "X-Amzn-Bedrock-Content-Type": "application/json"}


def _encode_event(event: dict | tuple[str, bytes]) -> bytes:
    if isinstance(event, tuple):
        return b"event: " + event[0].encode() + b"\ndata: " + event[1] + b"\n\n"
    return b"event: " + event["type"].encode() + b"\ndata: " + orjson.dumps(event) + b"\n\n"


class _Writer:
    __slots__ = ("bytes_sent", "finished", "response")

    headers: ClassVar[Mapping[str, str]] = MappingProxyType({})

    def __init__(self, response: web.StreamResponse) -> None:
        self.response = response
        self.bytes_sent = 0
        self.finished = False

    @classmethod
    async def open(cls, request: web.Request):
        response = web.StreamResponse(status=200, headers=cls.headers)
        await response.prepare(request)
        return cls(response)

    async def write(self, data: bytes) -> None:
        self.bytes_sent += len(data)
        await self.response.write(data)

    async def done(self) -> None:
        self.finished = True


class AnthropicSseWriter(_Writer):
    __slots__ = ()
    headers = SSE_HEADERS

    @staticmethod
    def encode(events: list) -> bytes:
        """Events as dicts (translated) or (type, JSON bytes) pairs (relayed from Bedrock)."""
        if len(events) == 1:  # the common case: one event per upstream event
            return _encode_event(events[0])
        return b"".join(map(_encode_event, events))

    async def heartbeat(self) -> None:
        await self.write(_PING)

    async def error(self, error: GatewayError) -> None:
        if not self.finished:
            self.finished = True
            _, body = anthropic_error(error)
            await self.write(b"event: error\ndata: " + orjson.dumps(body) + b"\n\n")


class EventStreamWriter(_Writer):
    __slots__ = ()

    @classmethod
    async def open(cls, request: web.Request):
        response = web.StreamResponse(status=200, headers={
            **EVENTSTREAM_HEADERS, "x-amzn-RequestId": str(uuid.uuid4())})
        await response.prepare(request)
        return cls(response)

    @staticmethod
    def encode(chunks: list[bytes]) -> bytes:
        return b"".join(encode_chunk_event(c) for c in chunks)

    async def heartbeat(self) -> None:
        return None

    async def error(self, error: GatewayError) -> None:
        if not self.finished:
            self.finished = True
            await self.write(encode_exception(bedrock_stream_exception(error), error.message))
