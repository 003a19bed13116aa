"""POST /v1/messages and /v1/messages/count_tokens: the Anthropic Messages API.

Claude models go to Bedrock natively (InvokeModel / InvokeModelWithResponseStream with the
Anthropic body); every other model goes through Converse with a translation. Both use the shared
router (failover, breakers, region slots), admission, the streaming pump and telemetry; errors
are rendered in Anthropic's shape by the error middleware and the stream writer.
"""

from __future__ import annotations

import asyncio
import uuid

import orjson
from aiohttp import web

from bedrock_gateway.protocols.anthropic_messages import (
    ConverseStreamTranslator,
    MessagesRequest,
    NativeStreamRelay,
    Usage,
    count_tokens_body,
    estimate_input_tokens,
    from_converse_response,
    invoke_body,
    is_native_model,
    parse_messages_request,
    remote_image_urls,
    to_converse_kwargs,
)
from bedrock_gateway.server.anthropic_catalog import resolve_messages_model
from bedrock_gateway.server.context import RequestContext, request_context
from bedrock_gateway.server.http import json_response, read_json_object
from bedrock_gateway.server.app_state import KEY_SERVICE, LIFECYCLE, ROUTER, SETTINGS
from bedrock_gateway.server.protocol_writers import AnthropicSseWriter
from bedrock_gateway.server.request_observer import request_observer
from bedrock_gateway.server.routes.chat_routes import fetch_images
from bedrock_gateway.server.stream_pump import pump_stream
from bedrock_gateway.conversation.capabilities import capabilities_for

_MODEL_NAME_LIMIT = 256
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


def _parse(request: web.Request, body: dict, *, count_only: bool = False) -> MessagesRequest:
    betas = ",".join(request.headers.getall("anthropic-beta", ()))
    return parse_messages_request(body, beta_header=betas, count_only=count_only)


async def create_message(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings = app[SETTINGS]
    ctx = request_context(request)
    req = _parse(request, await read_json_object(request))
    ctx.stream = req.stream
    ctx.max_tokens = req.max_tokens
    ctx.model = req.model[:_MODEL_NAME_LIMIT]
    entry = resolve_messages_model(app, req.model)
    # The key's model access and limits, before any Bedrock call (settled when the request ends).
    await app[KEY_SERVICE].admit(
        request, ctx, names=(req.model, entry.id, entry.base_model_id),
        input_bytes=request.content_length, max_output_tokens=req.max_tokens, stream=req.stream)

    lifecycle = app[LIFECYCLE]
    images = await fetch_images(request, remote_image_urls(req))
    deadline = asyncio.get_running_loop().time() + settings.request_timeout_seconds
    observer = request_observer(request)
    router = app[ROUTER]
    native = is_native_model(entry.base_model_id or entry.id)
    message_id = f"msg_{uuid.uuid4().hex[:24]}"
    if native:
        kwargs = {"modelId": entry.id, "body": orjson.dumps(invoke_body(req, images)),
                  "contentType": "application/json", "accept": "application/json"}
    else:
        kwargs = to_converse_kwargs(req, model_id=entry.id,
                                    caps=capabilities_for(entry.base_model_id or entry.id),
                                    fetched_images=images)

    if not req.stream:
        if native:
            routed = await router.invoke(
                kwargs, entry.regions, deadline=deadline, observer=observer,
                operation="invoke_model")
            ctx.region, raw = routed.region, routed.result["body"]
            message = orjson.loads(raw)
            record_usage(ctx, _usage(message.get("usage")), message.get("stop_reason"))
            # Bedrock's body is Anthropic's message: passed on byte for byte.
            return web.Response(body=raw, content_type="application/json")
        routed = await router.converse(kwargs, entry.regions,
                                       deadline=deadline, observer=observer)
        ctx.region, response = routed.region, routed.result
        message = from_converse_response(response, model=req.model, message_id=message_id)
        record_usage(ctx, Usage.from_converse(response.get("usage")),
                     message["stop_reason"])
        return json_response(message)

    if native:
        opened = await router.open_invoke_stream(kwargs, entry.regions, deadline=deadline,
                                                 observer=observer)
        translator: NativeStreamRelay | ConverseStreamTranslator = NativeStreamRelay()
    else:
        opened = await router.open_stream(kwargs, entry.regions, deadline=deadline,
                                          observer=observer)
        translator = ConverseStreamTranslator(model=req.model, message_id=message_id)
    ctx.region = opened.region
    try:
        return await pump_stream(
            request, ctx, opened.result, translator, lifecycle=lifecycle,
            heartbeat_s=settings.sse_heartbeat_seconds, idle_s=settings.stream_idle_timeout,
            observer=observer, open_writer=AnthropicSseWriter.open)
    finally:
        record_usage(ctx, translator.usage, translator.stop_reason)


def _usage(usage: object) -> Usage:
    result = Usage()
    result.update(usage if isinstance(usage, dict) else None)
    return result


async def count_tokens(request: web.Request) -> web.Response:
    """Bedrock's CountTokens for Claude models; for other models, which CountTokens does not
    serve, an estimate flagged by the `x-bedrock-gateway-token-count: estimate` header."""
    app = request.app
    ctx = request_context(request)
    req = _parse(request, await read_json_object(request), count_only=True)
    ctx.model = req.model[:_MODEL_NAME_LIMIT]
    entry = resolve_messages_model(app, req.model)
    base = entry.base_model_id or entry.id
    if not is_native_model(base):
        return json_response({"input_tokens": estimate_input_tokens(req.body)},
                             headers={TOKEN_COUNT_HEADER: "estimate"})
    await app[KEY_SERVICE].admit(
        request, ctx, names=(req.model, entry.id, entry.base_model_id),
        input_bytes=request.content_length, max_output_tokens=0, stream=False)
    images = await fetch_images(request, remote_image_urls(req))
    body = orjson.dumps(count_tokens_body(req, images))
    deadline = asyncio.get_running_loop().time() + app[SETTINGS].request_timeout_seconds
    routed = await app[ROUTER].count_tokens(
        {"modelId": base, "input": {"invokeModel": {"body": body}}}, entry.regions,
        deadline=deadline, observer=request_observer(request))
    ctx.region = routed.region
    return json_response({"input_tokens": int(routed.result.get("inputTokens") or 0)},
                         headers={TOKEN_COUNT_HEADER: "bedrock"})
