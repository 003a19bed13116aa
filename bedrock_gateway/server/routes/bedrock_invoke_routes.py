"""Bedrock's own InvokeModel API under BEDROCK_ROUTE_PREFIX (default `/bedrock`):
`POST /model/{modelId}/invoke` and `/model/{modelId}/invoke-with-response-stream`.

For clients that speak Bedrock (Claude Code with CLAUDE_CODE_USE_BEDROCK=1,
ANTHROPIC_BEDROCK_BASE_URL and CLAUDE_CODE_SKIP_BEDROCK_AUTH=1): the gateway's API key replaces
SigV4, the body goes to Bedrock unchanged (its `anthropic_version` and `anthropic_beta` included),
and the answer is Bedrock's body or binary event stream. Routing, failover, admission, idle
timeouts and telemetry are the same as for every other API.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bedrock_gateway.bedrock.catalog import CatalogEntry
from bedrock_gateway.bedrock.upstream_stream import UpstreamStream
from bedrock_gateway.protocols.bedrock_invoke import (
    InvokeStreamRelay,
    invoke_kwargs,
    passed_headers,
)
from bedrock_gateway.server.anthropic_catalog import resolve_messages_model
from bedrock_gateway.server.app_state import ROUTER
from bedrock_gateway.server.context import RequestContext, request_context
from bedrock_gateway.server.http import read_json_object_and_bytes
from bedrock_gateway.server.protocol_writers import EventStreamWriter
from bedrock_gateway.server.request_observer import request_observer
from bedrock_gateway.server.routes.route_steps import (
    MODEL_NAME_LIMIT,
    admit_key,
    call_deadline,
    pump,
)


async def invoke(request: web.Request) -> web.StreamResponse:
    return await _serve(request, stream=False)


async def invoke_with_response_stream(request: web.Request) -> web.StreamResponse:
    return await _serve(request, stream=True)


async def _serve(request: web.Request, *, stream: bool) -> web.StreamResponse:
    """parse -> resolve -> plan (the kwargs: the body as received) -> call -> pump (or answer)."""
    ctx = request_context(request)
    model_id, raw = await _parse(request, ctx, stream=stream)
    entry = await _resolve(request, ctx, model_id, raw, stream=stream)
    kwargs = invoke_kwargs(entry.id, raw)
    if stream:
        upstream = await _open_stream(request, ctx, kwargs, entry)
        return await _pump(request, ctx, upstream)
    response = await _call(request, ctx, kwargs, entry)
    return _answer(ctx, response)


async def _parse(request: web.Request, ctx: RequestContext, *,
                 stream: bool) -> tuple[str, bytearray]:
    """The model id of the path and the body, checked to be a JSON object and sent as
    received."""
    model_id = request.match_info["model_id"]
    ctx.stream = stream
    ctx.model = model_id[:MODEL_NAME_LIMIT]  # before the body: a refused body is counted too
    body, raw = await read_json_object_and_bytes(request)
    max_tokens = body.get("max_tokens")
    ctx.max_tokens = max_tokens if isinstance(max_tokens, int) else None
    return model_id, raw


async def _resolve(request: web.Request, ctx: RequestContext, model_id: str, raw: bytearray, *,
                   stream: bool) -> CatalogEntry:
    entry = resolve_messages_model(request.app, model_id)
    await admit_key(request, ctx, model_id, entry, max_output_tokens=ctx.max_tokens,
                    stream=stream, input_bytes=len(raw))
    return entry


async def _call(request: web.Request, ctx: RequestContext, kwargs: dict[str, Any],
                entry: CatalogEntry) -> dict[str, Any]:
    app = request.app
    routed = await app[ROUTER].invoke(
        kwargs, entry.regions, deadline=call_deadline(app),
        observer=request_observer(request), operation="invoke_model")
    ctx.region, response = routed.region, routed.result
    return response


def _answer(ctx: RequestContext, response: dict[str, Any]) -> web.Response:
    passed = passed_headers((response.get("ResponseMetadata") or {}).get("HTTPHeaders") or {})
    ctx.tokens_in, ctx.tokens_out = passed.input_tokens, passed.output_tokens
    return web.Response(body=response["body"], headers=passed.headers,
                        content_type="application/json")


async def _open_stream(request: web.Request, ctx: RequestContext, kwargs: dict[str, Any],
                       entry: CatalogEntry) -> UpstreamStream:
    app = request.app
    opened = await app[ROUTER].open_invoke_stream(kwargs, entry.regions,
                                                  deadline=call_deadline(app),
                                                  observer=request_observer(request))
    ctx.region = opened.region
    return opened.result


async def _pump(request: web.Request, ctx: RequestContext,
                upstream: UpstreamStream) -> web.StreamResponse:
    relay = InvokeStreamRelay()

    def on_end() -> None:
        ctx.tokens_in, ctx.tokens_out = relay.input_tokens, relay.output_tokens
        ctx.finish_reason = relay.stop_reason

    return await pump(request, ctx, upstream, relay, open_writer=EventStreamWriter.open,
                      on_end=on_end)
