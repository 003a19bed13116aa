"""A request's identifiers: its id (the caller's `X-Request-Id` when sane, else a new one, sent
back on every response) and Claude Code's session id."""

from __future__ import annotations

import uuid

from aiohttp import web

from bedrock_gateway.server.context import REQUEST_CONTEXT


def request_id_of(request: web.Request) -> str:
    incoming = request.headers.get("X-Request-Id", "")
    # Honour the caller's id when it is sane; never echo arbitrary bytes into logs/headers.
    if 0 < len(incoming) <= 128 and incoming.isprintable() and " " not in incoming:
        return incoming
    return uuid.uuid4().hex


def session_id_of(request: web.Request) -> str | None:
    """Claude Code's session id, when it looks like one (it goes into the access log)."""
    value = request.headers.get("X-Claude-Code-Session-Id")
    if value and len(value) <= 128 and value.isprintable() and " " not in value:
        return value
    return None


async def add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """on_response_prepare: every response names its request."""
    ctx = request.get(REQUEST_CONTEXT)
    if ctx is not None:
        response.headers["X-Request-Id"] = ctx.request_id
