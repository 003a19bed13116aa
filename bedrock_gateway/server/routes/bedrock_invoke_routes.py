"""Bedrock's own InvokeModel API under BEDROCK_ROUTE_PREFIX (default `/bedrock`):
`POST /model/{modelId}/invoke` and `/model/{modelId}/invoke-with-response-stream`.

For clients that speak Bedrock (Claude Code with CLAUDE_CODE_USE_BEDROCK=1,
ANTHROPIC_BEDROCK_BASE_URL and CLAUDE_CODE_SKIP_BEDROCK_AUTH=1): the gateway's API key replaces
SigV4, the body goes to Bedrock unchanged (its `anthropic_version` and `anthropic_beta` included),
and the answer is Bedrock's body or binary event stream. Routing, failover, admission, idle
timeouts and telemetry are the same as for every other API.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bedrock_gateway.protocols.bedrock_invoke import InvokeStreamRelay
from bedrock_gateway.server.anthropic_catalog import resolve_messages_model
from bedrock_gateway.server.context import request_context
from bedrock_gateway.server.http import read_json_object_and_bytes
from bedrock_gateway.server.app_state import KEY_SERVICE, LIFECYCLE, ROUTER, SETTINGS
from bedrock_gateway.server.protocol_writers import EventStreamWriter
from bedrock_gateway.server.request_observer import request_observer
from bedrock_gateway.server.stream_pump import pump_stream

_MODEL_NAME_LIMIT = 256
# Bedrock's token-count headers on InvokeModel answers, passed on to the client.
_PASSED_HEADERS = ("x-amzn-bedrock-input-token-count", "x-amzn-bedrock-output-token-count",
                   "x-amzn-bedrock-invocation-latency")


async def invoke(request: web.Request) -> web.StreamResponse:
    return await _serve(request, stream=False)


async def invoke_with_response_stream(request: web.Request) -> web.StreamResponse:
    return await _serve(request, stream=True)


async def _serve(request: web.Request, *, stream: bool) -> web.StreamResponse:
    app = request.app
    settings = app[SETTINGS]
    ctx = request_context(request)
    model_id = request.match_info["model_id"]
    ctx.stream = stream
    ctx.model = model_id[:_MODEL_NAME_LIMIT]
    body, raw = await read_json_object_and_bytes(request)  # checked; sent as received
    max_tokens = body.get("max_tokens")
    ctx.max_tokens = max_tokens if isinstance(max_tokens, int) else None
    entry = resolve_messages_model(app, model_id)
    await app[KEY_SERVICE].admit(
        request, ctx, names=(model_id, entry.id, entry.base_model_id),
        input_bytes=len(raw), max_output_tokens=ctx.max_tokens, stream=stream)
    kwargs = {"modelId": entry.id, "body": raw,
              "contentType": "application/json", "accept": "application/json"}

    lifecycle = app[LIFECYCLE]
    deadline = asyncio.get_running_loop().time() + settings.request_timeout_seconds
    observer = request_observer(request)
    router = app[ROUTER]
    if not stream:
        routed = await router.invoke(kwargs, entry.regions, deadline=deadline,
                                     observer=observer, operation="invoke_model")
        ctx.region, response = routed.region, routed.result
        upstream_headers = (response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {}
        headers = {name: upstream_headers[name] for name in _PASSED_HEADERS
                   if name in upstream_headers}
        ctx.tokens_in = _int(headers.get(_PASSED_HEADERS[0]))
        ctx.tokens_out = _int(headers.get(_PASSED_HEADERS[1]))
        return web.Response(body=response["body"], headers=headers,
                            content_type="application/json")

    opened = await router.open_invoke_stream(kwargs, entry.regions, deadline=deadline,
                                             observer=observer)
    ctx.region = opened.region
    relay = InvokeStreamRelay()
    try:
        return await pump_stream(
            request, ctx, opened.result, relay, lifecycle=lifecycle,
            heartbeat_s=settings.sse_heartbeat_seconds, idle_s=settings.stream_idle_timeout,
            observer=observer, open_writer=EventStreamWriter.open)
    finally:
        ctx.tokens_in, ctx.tokens_out = relay.input_tokens, relay.output_tokens
        ctx.finish_reason = relay.stop_reason


def _int(value: str | None) -> int:
    try:
        return int(value) if value else 0
    except ValueError:
        return 0
