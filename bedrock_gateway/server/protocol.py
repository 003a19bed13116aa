"""The HTTP connection layer: aiohttp's protocol with the limits a hostile client needs.

`GatewayRunner` is the AppRunner that `python -m bedrock_gateway` and the tests use, so both run
with the same options (`runner_options`). Its connections differ from aiohttp's in three ways:

- Head timeout: aiohttp has no limit on the time a request head takes to arrive once it started
  (a client trickling one header byte a second holds a connection and its buffers for ever, within
  the keep-alive timeout). Here the first byte of a head arms REQUEST_HEAD_TIMEOUT_SECONDS; a head
  still incomplete then gets a 408 and the connection is closed. Idle connections between requests
  are aiohttp's keep-alive timeout (KEEPALIVE_TIMEOUT_SECONDS, also armed when a connection opens).
- Parser errors (a malformed request line or header, a bad chunk size, a corrupt body encoding)
  are answered in OpenAI's JSON error shape instead of text/plain, and logged as one line naming
  the error's class and the peer, never the offending bytes (they may hold a key).
- `Server:` names the product, without the Python and aiohttp versions.

The subclass reads two private fields of aiohttp's RequestHandler (`_messages`,
`_request_in_progress`): the lock pins aiohttp, and tests/e2e/test_hostile_http.py covers both.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler, RequestPayloadError

from bedrock_gateway.errors import GatewayError, InternalError, InvalidRequestError
from bedrock_gateway.settings import Settings

log = logging.getLogger("bedrock_gateway.server.protocol")

SERVER_HEADER = "bedrock-gateway"


def runner_options(settings: Settings) -> dict[str, Any]:
    return {
        "access_log": None,  # our JSON access log replaces aiohttp's
        "handler_cancellation": True,  # a client that leaves cancels its handler: frees Bedrock
        "shutdown_timeout": settings.shutdown_grace_seconds + 5,
        "keepalive_timeout": settings.keepalive_timeout_seconds,
        "head_timeout": settings.request_head_timeout_seconds,
    }


def _error_bytes(error: GatewayError) -> bytes:
    return orjson.dumps(error.body())


class GatewayProtocol(RequestHandler):
    __slots__ = ("_head_timeout", "_head_timer")

    def __init__(self, *args: Any, head_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout = head_timeout
        self._head_timer: asyncio.TimerHandle | None = None

    def _awaiting_head(self) -> bool:
        return not self._request_in_progress and not self._messages

    def data_received(self, data: bytes) -> None:
        if self._head_timer is None and data and self._awaiting_head():
            self._head_timer = self._loop.call_later(self._head_timeout, self._head_timed_out)
        super().data_received(data)
        if self._head_timer is not None and not self._awaiting_head():
            self._head_timer.cancel()
            self._head_timer = None

    def connection_lost(self, exc: BaseException | None) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None
        super().connection_lost(exc)

    def _head_timed_out(self) -> None:
        self._head_timer = None
        if self.transport is None or not self._awaiting_head():
            return
        error = InvalidRequestError(
            f"The request head did not arrive within {self._head_timeout:g} s.",
            code="request_timeout", status=408)
        body = _error_bytes(error)
        self.transport.write(
            b"HTTP/1.1 408 Request Timeout\r\nContent-Type: application/json\r\n"
            b"Server: " + SERVER_HEADER.encode() + b"\r\nConnection: close\r\n"
            b"Content-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        log.info("closed a connection from %s: request head timeout", _peer(self.transport))
        self.force_close()

    def log_exception(self, *args: Any, **kwargs: Any) -> None:
        """aiohttp logs here what it could not hand to the app (a corrupt body found while it
        drains it, a connection lost mid-response): one line; a traceback only for our bugs."""
        exc = kwargs.get("exc_info")
        if isinstance(exc, (RequestPayloadError, HttpProcessingError, ConnectionError)):
            log.info("closed a connection from %s: %s", _peer(self.transport),
                     type(exc).__name__)
        else:
            log.error("unexpected %s in the HTTP layer",
                      type(exc).__name__ if isinstance(exc, BaseException) else "error",
                      exc_info=exc if isinstance(exc, BaseException) else None)

    def handle_error(self, request: Any, status: int = 500, exc: BaseException | None = None,
                     message: str | None = None) -> web.StreamResponse:
        """aiohttp's last-resort answer (parser errors; exceptions escaping the app), in JSON."""
        peer = getattr(request, "remote", None)
        if status >= 500:
            log.error("unhandled %s answering a request from %s", type(exc).__name__, peer,
                      exc_info=exc)
            error: GatewayError = InternalError("The gateway failed to process the request.")
        else:
            log.info("rejected a malformed request from %s: %s (HTTP %d)", peer,
                     type(exc).__name__ if exc is not None else "error", status)
            error = InvalidRequestError("The request is not valid HTTP/1.1 or its body cannot be "
                                        "decoded.", code="bad_http_request", status=status)
        if request.writer.output_size > 0:
            raise ConnectionError("the response had begun; the connection is closed")
        response = web.Response(body=_error_bytes(error), status=status,
                                content_type="application/json",
                                headers={"Server": SERVER_HEADER})
        response.force_close()
        return response


def _peer(transport: Any) -> str | None:
    peer = transport.get_extra_info("peername") if transport is not None else None
    return str(peer[0]) if peer else None


class GatewayServer(web.Server):
    def __init__(self, *args: Any, head_timeout: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._head_timeout = head_timeout

    def __call__(self) -> RequestHandler:
        return GatewayProtocol(self, loop=self._loop, head_timeout=self._head_timeout,
                               **self._kwargs)


class GatewayRunner(web.AppRunner):
    """An AppRunner whose connections are GatewayProtocol (see the module's docstring)."""

    def __init__(self, app: web.Application, *, head_timeout: float, **kwargs: Any) -> None:
        super().__init__(app, **kwargs)
        self._head_timeout = head_timeout

    async def _make_server(self) -> web.Server:
        base = await super()._make_server()  # the app's start-up runs here
        # The same handler, request factory and protocol options (aiohttp's own `_kwargs`).
        return GatewayServer(base.request_handler, request_factory=base.request_factory,
                             handler_cancellation=base.handler_cancellation,
                             head_timeout=self._head_timeout, **base._kwargs)


async def set_server_header(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: no versions in `Server:`."""
    response.headers["Server"] = SERVER_HEADER
