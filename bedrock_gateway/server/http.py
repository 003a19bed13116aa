"""Small HTTP helpers shared by the routes: JSON in (with bounded cost), JSON out.

Reading a body is the first expensive step of a request, so it is bounded before it starts and
while it runs: the declared size against MAX_REQUEST_BODY_BYTES, the bytes being received against
the process's REQUEST_BODY_BUDGET_BYTES, the time against REQUEST_BODY_TIMEOUT_SECONDS. Before
parsing, the JSON's size in values is estimated with byte counts (C speed): parsing holds the GIL
(orjson does not release it, so a worker thread would not keep the event loop running either), and
20 MB of `{}` or `1,` would stall every live stream for seconds and expand to ~0.7 GB of objects.
A body of more than JSON_MAX_VALUES values is refused with a 413; what the parsed body will hold
is charged to the budget until the request ends.
"""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestPayloadError

from bedrock_gateway.errors import (
    GatewayError,
    InvalidRequestError,
    RequestTooLargeError,
    anthropic_error,
    bedrock_error,
)
from bedrock_gateway.server.app_state import BODY_BUDGET, SETTINGS
from bedrock_gateway.server.limits import request_holdings

# Values (containers, strings, numbers) one JSON body may hold. A chat with a thousand messages
# and a large tool schema stays under 20,000; parsing 200,000 small values takes ~30 ms.
JSON_MAX_VALUES = 200_000
# Bytes a parsed value costs beyond its text (a dict, a str or a list header, its slot).
_VALUE_OVERHEAD = 96
# A body without Content-Length (chunked) takes its budget in steps of this size.
_BUDGET_STEP = 1 << 20


class RequestTimeoutError(GatewayError):
    status = 408
    type = "invalid_request_error"
    code = "request_timeout"


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
    """The request body as a JSON object, or a 400/408/413/429 in OpenAI's shape."""
    body, _ = await read_json_object_and_bytes(request)
    return body


async def read_json_object_and_bytes(request: web.Request) -> tuple[dict, bytearray]:
    """`read_json_object`, plus the body's bytes as received (for a pass-through)."""
    settings = request.app[SETTINGS]
    raw = await _receive(request, settings.max_request_body_bytes,
                         settings.request_body_timeout_seconds)
    if not raw:
        raise InvalidRequestError("The request body is empty; send a JSON object.")
    values = json_value_count(raw)
    if values > JSON_MAX_VALUES:
        raise RequestTooLargeError(
            f"The request body holds more than {JSON_MAX_VALUES} JSON values.",
            code="too_many_values")
    holdings = request_holdings(request)
    budget = request.app[BODY_BUDGET]
    # The parsed body copies the text of its strings and adds an object per value.
    parsed_cost = len(raw) + values * _VALUE_OVERHEAD
    holdings.take(budget, len(raw) + parsed_cost - holdings.held(budget), "request bodies")
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError as exc:
        raise InvalidRequestError(f"The request body is not valid JSON: {exc.msg} "
                                  f"(position {exc.pos}).") from None
    if not isinstance(body, dict):
        raise InvalidRequestError("The request body must be a JSON object.")
    return body, raw


async def _receive(request: web.Request, limit: int, timeout_s: float) -> bytearray:
    declared = request.content_length
    if declared is not None and declared > limit:
        raise RequestTooLargeError(f"The request body exceeds the {limit} byte limit.")
    holdings = request_holdings(request)
    budget = request.app[BODY_BUDGET]
    # With Content-Length the whole size is taken before a byte is read (a request that cannot
    # fit is refused without reading it); a decompressed or chunked body takes it as it grows.
    holdings.take(budget, min(declared or 0, limit), "request bodies")
    data = bytearray()
    try:
        async with asyncio.timeout(timeout_s):
            while chunk := await request.content.readany():
                if len(data) + len(chunk) > limit:
                    raise RequestTooLargeError(
                        f"The request body exceeds the {limit} byte limit.")
                data += chunk
                missing = len(data) - holdings.held(budget)
                if missing > 0:
                    holdings.take(budget, max(missing, min(_BUDGET_STEP, limit - len(data))),
                                  "request bodies")
    except TimeoutError:
        raise RequestTimeoutError(
            f"The request body did not arrive within {timeout_s:g} s.") from None
    except (HttpProcessingError, RequestPayloadError) as exc:  # a corrupt Content-Encoding, ...
        raise InvalidRequestError(f"The request body cannot be read ({type(exc).__name__}).",
                                  code="invalid_body") from None
    return data


def json_value_count(raw: bytes | bytearray) -> int:
    """An upper bound on the values in the JSON text `raw` (exact for well-formed JSON up to
    escaped backslashes), at C speed: strings are counted by their quotes, other values by the
    commas and brackets outside strings."""
    quotes = raw.count(b'"') - raw.count(b'\\"')
    strings = max(0, quotes) // 2
    structural = raw.count(b",") + raw.count(b"{") + raw.count(b"[")
    if strings + structural <= JSON_MAX_VALUES or strings > JSON_MAX_VALUES:
        return strings + structural
    # Many commas, few strings: prose with commas in a few long strings. Count what lies outside
    # strings: without escaped backslashes and quotes, every other piece between quotes is.
    clean = raw.replace(b"\\\\", b"").replace(b'\\"', b"")
    outside = b"".join(clean.split(b'"')[0::2])
    return strings + outside.count(b",") + outside.count(b"{") + outside.count(b"[")
