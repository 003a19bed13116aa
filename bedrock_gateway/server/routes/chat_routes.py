"""POST /chat/completions in five steps: parse -> resolve -> plan -> call -> pump (or answer).

Admission (limits_middleware) has let the request in before its body is read. The translation
is the plan's (protocols/openai_chat/chat_plan.py); this module does the I/O around it.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from bedrock_gateway.bedrock.catalog import CatalogEntry
from bedrock_gateway.bedrock.upstream_stream import UpstreamStream
from bedrock_gateway.conversation.capabilities import capabilities_for
from bedrock_gateway.protocols.openai_chat import ChatRequest, parse_chat_request
from bedrock_gateway.protocols.openai_chat.chat_plan import ChatPlan, plan_chat
from bedrock_gateway.protocols.openai_chat.chat_stream import ChunkTranslator
from bedrock_gateway.server import content_log
from bedrock_gateway.server.app_state import ROUTER, SETTINGS, TRANSLATE_OPTIONS
from bedrock_gateway.server.catalog_access import resolve_model
from bedrock_gateway.server.context import RequestContext, request_context
from bedrock_gateway.server.http import json_response, read_json_object
from bedrock_gateway.server.request_observer import request_observer
from bedrock_gateway.server.routes.route_steps import (
    admit_key,
    call_deadline,
    fetch_images,
    note_request,
    pump,
)
from bedrock_gateway.server.sse import SseWriter


async def chat_completions(request: web.Request) -> web.StreamResponse:
    ctx = request_context(request)
    chat, body = await _parse(request, ctx)
    requested, entry = await _resolve(request, ctx, chat, body)
    plan = await _plan(request, chat, requested, entry)
    if plan.stream:
        upstream = await _open_stream(request, ctx, plan, entry)
        return await _pump(request, ctx, plan, upstream)
    response = await _converse(request, ctx, plan, entry)
    return _answer(request, ctx, plan, response)


async def _parse(request: web.Request, ctx: RequestContext) -> tuple[ChatRequest, dict]:
    body = await read_json_object(request)
    chat = parse_chat_request(body)
    note_request(ctx, model=chat.model or request.app[SETTINGS].default_model,
                 stream=chat.stream, max_tokens=chat.max_tokens)
    return chat, body


async def _resolve(request: web.Request, ctx: RequestContext, chat: ChatRequest,
                   body: dict) -> tuple[str, CatalogEntry]:
    """The requested model name and its catalog entry, once the key may use it (its model
    access and limits: settled when the request ends). The prompt is logged (LOG_CONTENT)
    only for an admitted request."""
    settings = request.app[SETTINGS]
    requested = chat.model or settings.default_model
    entry = resolve_model(request.app, requested, output="text")
    ctx.response_model = entry.id
    await admit_key(request, ctx, requested, entry, max_output_tokens=chat.max_tokens,
                    stream=chat.stream)
    if settings.log_content:
        content_log.request(ctx.request_id, body)
    return requested, entry


async def _plan(request: web.Request, chat: ChatRequest, requested: str,
                entry: CatalogEntry) -> ChatPlan:
    """The request's plan; its remote images are fetched once the whole request is known to be
    valid, so a request that would fail anyway fetches nothing."""
    plan = plan_chat(chat, model_id=entry.id,
                     caps=capabilities_for(entry.base_model_id or entry.id),
                     options=request.app[TRANSLATE_OPTIONS], model_name=requested)
    pending = plan.remote_images()
    if pending:
        plan.attach_images(await fetch_images(request, pending))
    return plan


async def _converse(request: web.Request, ctx: RequestContext, plan: ChatPlan,
                    entry: CatalogEntry) -> dict[str, Any]:
    app = request.app
    routed = await app[ROUTER].converse(
        plan.converse_kwargs, entry.regions, deadline=call_deadline(app),
        observer=request_observer(request))
    ctx.region, response = routed.region, routed.result
    return response


def _answer(request: web.Request, ctx: RequestContext, plan: ChatPlan,
            response: dict[str, Any]) -> web.Response:
    answer = plan.response(response)
    ctx.record_usage(answer.get("usage"))
    ctx.finish_reason = answer["choices"][0].get("finish_reason")
    if request.app[SETTINGS].log_content:
        content_log.completion(ctx.request_id, answer["choices"])
    return json_response(answer)


async def _open_stream(request: web.Request, ctx: RequestContext, plan: ChatPlan,
                       entry: CatalogEntry) -> UpstreamStream:
    app = request.app
    opened = await app[ROUTER].open_stream(plan.converse_kwargs, entry.regions,
                                           deadline=call_deadline(app),
                                           observer=request_observer(request))
    ctx.region = opened.region
    return opened.result


async def _pump(request: web.Request, ctx: RequestContext, plan: ChatPlan,
                upstream: UpstreamStream) -> web.StreamResponse:
    translator = plan.stream_translator()
    recorder = content_log.Recorder(translator) if request.app[SETTINGS].log_content else None
    source: ChunkTranslator | content_log.Recorder = translator if recorder is None else recorder

    def on_end() -> None:
        ctx.record_usage(translator.usage)
        ctx.finish_reason = translator.finish_reason
        if recorder is not None:
            recorder.log(ctx.request_id)

    return await pump(request, ctx, upstream, source, open_writer=SseWriter.open, on_end=on_end)
