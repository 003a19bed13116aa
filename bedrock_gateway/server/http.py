"""Small HTTP helpers shared by the routes: JSON in, JSON out."""

from __future__ import annotations

import orjson
from aiohttp import web

from bedrock_gateway.errors import (
    GatewayError,
    InvalidRequestError,
    RequestTooLargeError,
    anthropic_error,
    bedrock_error,
)
from bedrock_gateway.server.keys import SETTINGS


def json_response(data: object, status: int = 200, headers: dict | None = None) -> web.Response:
    return web.Response(body=orjson.dumps(data), status=status, headers=headers,
                        content_type="application/json")


# The client protocols whose error shapes differ (errors.py renders each).
OPENAI, ANTHROPIC, BEDROCK = "openai", "anthropic", "bedrock"


def error_protocol(request: web.Request) -> str:
    """Which protocol's error shape a request gets: Bedrock's under the Bedrock prefix,
    Anthropic's on the Messages paths or when the client sent `anthropic-version`."""
    path = request.path
    if path.startswith(request.app[SETTINGS].bedrock_route_prefix.rstrip("/") + "/"):
        return BEDROCK
    if path.endswith(("/messages", "/messages/count_tokens")) \
            or "anthropic-version" in request.headers:
        return ANTHROPIC
    return OPENAI


def error_response(error: GatewayError, protocol: str = OPENAI) -> web.Response:
    headers = {}
    if error.retry_after is not None:
        headers["Retry-After"] = str(max(1, round(error.retry_after)))
    if protocol == ANTHROPIC:
        status, body = anthropic_error(error)
        return json_response(body, status=status, headers=headers)
    if protocol == BEDROCK:
        status, name, body = bedrock_error(error)
        headers["x-amzn-ErrorType"] = name
        return json_response(body, status=status, headers=headers)
    return json_response(error.body(), status=error.status, headers=headers)


async def read_json_object(request: web.Request) -> dict:
    """The request body as a JSON object, or a 400/413 in OpenAI's shape."""
    limit = request.app[SETTINGS].max_request_body_bytes
    if request.content_length and request.content_length > limit:
        raise RequestTooLargeError(f"The request body exceeds the {limit} byte limit.")
    try:
        raw = await request.read()
    except web.HTTPRequestEntityTooLarge:
        raise RequestTooLargeError("The request body is too large.") from None
    if not raw:
        raise InvalidRequestError("The request body is empty; send a JSON object.")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"The request body is not valid JSON: {exc.msg} "
                                  f"(position {exc.pos}).") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    return body
