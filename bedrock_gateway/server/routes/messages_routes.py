"""POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages API.

Claude models go to Bedrock natively (InvokeModel / InvokeModelWithResponseStream with the
Anthropic body); every other model goes through Converse with a translation. Both use the shared
router (failover, breakers, region slots), admission, the streaming pump and telemetry; errors
are rendered in Anthropic's shape by the error middleware and the stream writer.
"""

from __future__ import annotations

from aiohttp import web

from bedrock_gateway.bedrock.catalog import CatalogEntry
from bedrock_gateway.bedrock.upstream_stream import UpstreamStream
from bedrock_gateway.protocols.anthropic_messages import (
    MessagesRequest,
    Usage,
    estimate_input_tokens,
    is_native_model,
    parse_messages_request,
    remote_image_urls,
)
from bedrock_gateway.protocols.anthropic_messages.anthropic_plan import (
    MessagesPlan,
    count_tokens_kwargs,
    counted_tokens,
    plan_message,
)
from bedrock_gateway.server.anthropic_catalog import resolve_messages_model
from bedrock_gateway.server.app_state import ROUTER
from bedrock_gateway.server.context import RequestContext, request_context
from bedrock_gateway.server.http import json_response, read_json_object
from bedrock_gateway.server.protocol_writers import AnthropicSseWriter
from bedrock_gateway.server.request_observer import request_observer
from bedrock_gateway.server.routes.route_steps import (
    MODEL_NAME_LIMIT,
    admit_key,
    call_deadline,
    fetch_images,
    note_request,
    pump,
)

# Said on count_tokens answers that are the gateway's estimate, not Bedrock's count.
TOKEN_COUNT_HEADER = "x-bedrock-gateway-token-count"


def record_usage(ctx: RequestContext, usage: Usage, stop_reason: str | None) -> None:
    """Anthropic's input_tokens exclude cached tokens; the telemetry's input count (like chat
    completions' prompt_tokens) includes them."""
    ctx.tokens_in = (usage.input_tokens + usage.cache_read_input_tokens
                     + usage.cache_creation_input_tokens)
    ctx.tokens_out = usage.output_tokens
    ctx.cache_read = usage.cache_read_input_tokens
    ctx.cache_write = usage.cache_creation_input_tokens
    ctx.finish_reason = stop_reason


async def create_message(request: web.Request) -> web.StreamResponse:
    """parse -> resolve -> plan -> call -> pump (or answer)."""
    ctx = request_context(request)
    req = await _parse(request, ctx)
    entry = await _resolve(request, ctx, req)
    plan = await _plan(request, req, entry)
    if plan.stream:
        upstream = await _open_stream(request, ctx, plan, entry)
        return await _pump(request, ctx, plan, upstream)
    response = await _call(request, ctx, plan, entry)
    return _answer(ctx, plan, response)


def _parsed(request: web.Request, body: dict, *, count_only: bool = False) -> MessagesRequest:
    betas = ",".join(request.headers.getall("anthropic-beta", ()))
    return parse_messages_request(body, beta_header=betas, count_only=count_only)


async def _parse(request: web.Request, ctx: RequestContext) -> MessagesRequest:
    req = _parsed(request, await read_json_object(request))
    note_request(ctx, model=req.model, stream=req.stream, max_tokens=req.max_tokens)
    return req


async def _resolve(request: web.Request, ctx: RequestContext,
                   req: MessagesRequest) -> CatalogEntry:
    """The catalog entry of the requested model, once the key may use it."""
    entry = resolve_messages_model(request.app, req.model)
    await admit_key(request, ctx, req.model, entry, max_output_tokens=req.max_tokens,
                    stream=req.stream)
    return entry


async def _plan(request: web.Request, req: MessagesRequest, entry: CatalogEntry) -> MessagesPlan:
    """The request's images fetched (Bedrock takes only inline images), then its plan."""
    images = await fetch_images(request, remote_image_urls(req))
    return plan_message(req, model_id=entry.id, base_model_id=entry.base_model_id,
                        fetched_images=images)


async def _call(request: web.Request, ctx: RequestContext, plan: MessagesPlan,
                entry: CatalogEntry) -> dict:
    app = request.app
    router = app[ROUTER]
    deadline = call_deadline(app)
    observer = request_observer(request)
    if plan.native:
        routed = await router.invoke(plan.kwargs, entry.regions, deadline=deadline,
                                     observer=observer, operation="invoke_model")
        ctx.region, response = routed.region, routed.result
    else:
        routed = await router.converse(plan.kwargs, entry.regions,
                                       deadline=deadline, observer=observer)
        ctx.region, response = routed.region, routed.result
    return response


def _answer(ctx: RequestContext, plan: MessagesPlan, response: dict) -> web.Response:
    answer = plan.answer(response)
    record_usage(ctx, answer.usage, answer.stop_reason)
    if isinstance(answer.body, bytes):
        return web.Response(body=answer.body, content_type="application/json")
    return json_response(answer.body)


async def _open_stream(request: web.Request, ctx: RequestContext, plan: MessagesPlan,
                       entry: CatalogEntry) -> UpstreamStream:
    app = request.app
    router = app[ROUTER]
    open_stream = router.open_invoke_stream if plan.native else router.open_stream
    opened = await open_stream(plan.kwargs, entry.regions, deadline=call_deadline(app),
                               observer=request_observer(request))
    ctx.region = opened.region
    return opened.result


async def _pump(request: web.Request, ctx: RequestContext, plan: MessagesPlan,
                upstream: UpstreamStream) -> web.StreamResponse:
    translator = plan.stream_translator()
    return await pump(request, ctx, upstream, translator, open_writer=AnthropicSseWriter.open,
                      on_end=lambda: record_usage(ctx, translator.usage, translator.stop_reason))


async def count_tokens(request: web.Request) -> web.Response:
    """Bedrock's CountTokens for Claude models; for other models, which CountTokens does not
    serve, an estimate flagged by the `x-bedrock-gateway-token-count: estimate` header."""
    app = request.app
    ctx = request_context(request)
    req = _parsed(request, await read_json_object(request), count_only=True)
    ctx.model = req.model[:MODEL_NAME_LIMIT]
    entry = resolve_messages_model(app, req.model)
    base = entry.base_model_id or entry.id
    if not is_native_model(base):
        return json_response({"input_tokens": estimate_input_tokens(req.body)},
                             headers={TOKEN_COUNT_HEADER: "estimate"})
    await admit_key(request, ctx, req.model, entry, max_output_tokens=0, stream=False)
    images = await fetch_images(request, remote_image_urls(req))
    routed = await app[ROUTER].count_tokens(
        count_tokens_kwargs(req, base_model_id=base, fetched_images=images), entry.regions,
        deadline=call_deadline(app), observer=request_observer(request))
    ctx.region, response = routed.region, routed.result
    return json_response({"input_tokens": counted_tokens(response)},
                         headers={TOKEN_COUNT_HEADER: "bedrock"})
