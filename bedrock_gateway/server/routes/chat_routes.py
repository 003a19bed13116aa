"""POST /chat/completions: parse, resolve the model, translate, call Bedrock, answer."""

from __future__ import annotations

import asyncio
import time
import uuid

from aiohttp import web

from bedrock_gateway.protocols.openai_chat import parse_chat_request
from bedrock_gateway.server import content_log
from bedrock_gateway.server.catalog_access import resolve_model
from bedrock_gateway.server.context import request_context
from bedrock_gateway.server.http import json_response, read_json_object
from bedrock_gateway.server.image_fetch import ImageBatch
from bedrock_gateway.server.app_state import (
    IMAGE_BUDGET,
    IMAGE_FETCHER,
    KEY_SERVICE,
    LIFECYCLE,
    NATIVE_STRUCTURED_OUTPUT,
    ROUTER,
    SETTINGS,
    TELEMETRY,
)
from bedrock_gateway.server.limits import request_holdings
from bedrock_gateway.server.stream_pump import pump_stream
from bedrock_gateway.settings import Settings
from bedrock_gateway.conversation.capabilities import capabilities_for
from bedrock_gateway.protocols.openai_chat.chat_converse import (
    TranslateOptions,
    from_converse_response,
    structured_output_tool_name,
    to_converse_kwargs,
)
from bedrock_gateway.conversation.images import attach_remote_images, pending_remote_images
from bedrock_gateway.protocols.openai_chat.chat_stream import ChunkTranslator

# Model names longer than this are not Bedrock ids; they are cut before they reach logs.
_MODEL_NAME_LIMIT = 256


def translate_options(settings: Settings, native_structured_output: bool) -> TranslateOptions:
    return TranslateOptions(
        prompt_caching=settings.enable_prompt_caching,
        guardrail_identifier=settings.guardrail_identifier,
        guardrail_version=settings.guardrail_version,
        reasoning_budgets={"low": settings.reasoning_budget_low,
                           "medium": settings.reasoning_budget_medium,
                           "high": settings.reasoning_budget_high},
        native_structured_output_available=native_structured_output,
        default_max_tokens=settings.default_max_tokens,
    )


async def fetch_images(request: web.Request, urls: dict[str, str]) -> dict:
    """{url: (bytes, format)} for `urls` ({url: the param a fetch error names}), within the
    request's and the process's limits (count, bytes, concurrency), cancelled with the request."""
    if not urls:
        return {}
    app = request.app
    settings = app[SETTINGS]
    batch = ImageBatch(app[IMAGE_FETCHER], app[IMAGE_BUDGET], request_holdings(request),
                       max_bytes=settings.image_fetch_max_bytes,
                       max_total_bytes=settings.image_fetch_max_total_bytes,
                       concurrency=settings.image_fetch_concurrency,
                       timeout_s=settings.image_fetch_timeout_seconds)
    return await batch.fetch_all(urls)


async def fetch_remote_images(request: web.Request, messages: list[dict]) -> None:
    """Fetch the remote images the translated `messages` name and put them in place. Runs after
    the whole request was validated, so a request that would fail anyway fetches nothing."""
    pending = pending_remote_images(messages)
    if pending:
        attach_remote_images(messages, await fetch_images(request, pending))


async def chat_completions(request: web.Request) -> web.StreamResponse:
    """Admission (limits_middleware) has already let this request in; the body is read here."""
    app = request.app
    settings = app[SETTINGS]
    ctx = request_context(request)
    body = await read_json_object(request)
    chat = parse_chat_request(body)
    requested = chat.model or settings.default_model
    ctx.stream = chat.stream
    ctx.max_tokens = chat.max_tokens
    ctx.model = requested[:_MODEL_NAME_LIMIT]  # set first: an unknown model is still counted
    entry = resolve_model(app, requested, output="text")
    ctx.response_model = entry.id
    # The key's model access and limits, before any Bedrock call (settled when the request ends).
    await app[KEY_SERVICE].admit(
        request, ctx, names=(requested, entry.id, entry.base_model_id),
        input_bytes=request.content_length, max_output_tokens=chat.max_tokens,
        stream=chat.stream)
    if settings.log_content:
        content_log.request(ctx.request_id, body)

    options = translate_options(settings, app[NATIVE_STRUCTURED_OUTPUT])
    caps = capabilities_for(entry.base_model_id or entry.id)
    kwargs = to_converse_kwargs(chat, model_id=entry.id, caps=caps, options=options)
    await fetch_remote_images(request, kwargs["messages"])
    structured_tool = structured_output_tool_name(chat, caps, options)
    completion_id = f"chatcmpl-{uuid.uuid4().hex}"
    created = int(time.time())
    deadline = asyncio.get_running_loop().time() + settings.request_timeout_seconds
    telemetry = app[TELEMETRY]
    observer = telemetry.observer(ctx)
    router = app[ROUTER]

    if not chat.stream:
        response, region = await router.converse(kwargs, entry.regions, deadline=deadline,
                                                 observer=observer)
        ctx.region = region
        answer = from_converse_response(response, model=requested,
                                        completion_id=completion_id, created=created,
                                        structured_tool=structured_tool,
                                        legacy_functions=chat.legacy_functions)
        ctx.record_usage(answer.get("usage"))
        ctx.finish_reason = answer["choices"][0].get("finish_reason")
        if settings.log_content:
            content_log.completion(ctx.request_id, answer["choices"])
        return json_response(answer)

    upstream = await router.open_stream(kwargs, entry.regions, deadline=deadline,
                                        observer=observer)
    ctx.region = upstream.region
    telemetry.stream_started()
    translator = ChunkTranslator(model=requested, completion_id=completion_id,
                                 created=created, include_usage=chat.include_usage,
                                 structured_tool=structured_tool,
                                 legacy_functions=chat.legacy_functions)
    source = content_log.Recorder(translator) if settings.log_content else translator
    try:
        return await pump_stream(
            request, ctx, upstream, source,
            lifecycle=app[LIFECYCLE],
            heartbeat_s=settings.sse_heartbeat_seconds,
            idle_s=settings.stream_idle_timeout,
            chunk_timer=telemetry.chunk_timer(ctx),
        )
    finally:
        ctx.record_usage(translator.usage)
        ctx.finish_reason = translator.finish_reason
        telemetry.stream_finished(ctx, upstream.attempt_token)
        if source is not translator:
            source.log(ctx.request_id)
