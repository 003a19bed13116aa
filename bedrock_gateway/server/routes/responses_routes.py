"""The Responses API: POST /responses (streamed or not), and the stored responses: GET and
DELETE /responses/{id}, GET /responses/{id}/input_items.

Same core as chat completions: model resolution, admission, the router (failover, breakers),
the streaming pump (heartbeats, idle timeout, disconnects, drain), telemetry. What is particular
here: the stored history a `previous_response_id` continues, the sealed reasoning restored from
`encrypted_content`, hosted tools dropped (named in `X-Gateway-Dropped-Tools`), and the store.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import hmac
import logging
import time
import uuid

from aiohttp import web

from bedrock_gateway.auth import bearer_token
from bedrock_gateway.errors import InvalidRequestError, NotFoundError
from bedrock_gateway.protocols.openai_responses import (
    ResponseEventTranslator,
    ResponsesRequest,
    converse_response_events,
    parse_responses_request,
    responses_param,
    to_converse,
    usage_for_context,
)
from bedrock_gateway.server.catalog_access import resolve_model
from bedrock_gateway.server.context import RequestContext, request_context
from bedrock_gateway.server.http import json_response, read_json_object
from bedrock_gateway.server.app_state import (
    KEY_SERVICE,
    LIFECYCLE,
    NATIVE_STRUCTURED_OUTPUT,
    REASONING_SEALER,
    RESPONSE_STORE,
    ROUTER,
    SETTINGS,
)
from bedrock_gateway.server.routes.chat_routes import fetch_remote_images, translate_options
from bedrock_gateway.server.request_observer import request_observer
from bedrock_gateway.server.sse import NamedEventFraming, SseWriter
from bedrock_gateway.server.stream_pump import pump_stream
from bedrock_gateway.storage.response_store import ResponseStore, StoreUnavailableError
from bedrock_gateway.conversation.capabilities import capabilities_for

log = logging.getLogger(__name__)

_MODEL_NAME_LIMIT = 256
DROPPED_TOOLS_HEADER = "X-Gateway-Dropped-Tools"


def _owner(request: web.Request) -> str:
    """SHA-256 of the caller's API key: stored with a response, never the key itself."""
    token = bearer_token(request.headers.get("Authorization")) or ""
    return hashlib.sha256(token.encode()).hexdigest()


async def _owned(store: ResponseStore, response_id: str, owner: str, param: str | None) -> dict:
    record = await store.get(response_id)
    if record is None or not hmac.compare_digest(str(record.get("owner", "")), owner):
        raise NotFoundError(f"No response with id '{response_id}' was found.", param=param,
                            code="response_not_found")
    return record


async def _save(store: ResponseStore, record: dict) -> None:
    """Store a finished response. The generation is paid for: a store failure is logged and
    the response still goes out (a later lookup of its id says not found)."""
    try:
        await asyncio.shield(store.put(record))
    except StoreUnavailableError:
        log.warning("response %s could not be stored", record["id"])
    except asyncio.CancelledError:
        # The client closed right after the last event (Codex does): not an error, and the
        # shielded write still finishes.
        task = asyncio.current_task()
        if task is not None:
            task.uncancel()


def _record(response_id: str, owner: str, req: ResponsesRequest, history: list,
            translator: ResponseEventTranslator) -> dict:
    return {"id": response_id, "owner": owner, "response": translator.response(),
            "input_items": list(req.input_items),
            "history": [*history, *req.input_items, *translator.output]}


def _finish_context(ctx: RequestContext, translator: ResponseEventTranslator) -> None:
    ctx.record_usage(usage_for_context(translator.usage))
    ctx.finish_reason = translator.finish_reason


def _history_bytes(history: list) -> int:
    """Rough size of a continued conversation (its items go to Bedrock too): for the token
    estimate only, so a cheap bound is enough."""
    return sum(len(str(item)) for item in history) if history else 0


async def create_response(request: web.Request) -> web.StreamResponse:
    app = request.app
    settings = app[SETTINGS]
    ctx = request_context(request)
    req = parse_responses_request(await read_json_object(request),
                                  reject_hosted_tools=settings.responses_hosted_tools == "reject")
    requested = req.model or settings.default_model
    ctx.stream = req.stream
    ctx.max_tokens = req.max_output_tokens
    ctx.model = requested[:_MODEL_NAME_LIMIT]
    entry = resolve_model(app, requested, output="text")
    owner = _owner(request)
    store = app[RESPONSE_STORE]
    history: list = []
    if req.previous_response_id:
        record = await _owned(store, req.previous_response_id, owner, "previous_response_id")
        history = record["history"]
    headers = {DROPPED_TOOLS_HEADER: ",".join(req.dropped_tools)} if req.dropped_tools else {}
    await app[KEY_SERVICE].admit(
        request, ctx, names=(requested, entry.id, entry.base_model_id),
        input_bytes=(request.content_length or 0) + _history_bytes(history),
        max_output_tokens=req.max_output_tokens, stream=req.stream)

    # Admission (limits_middleware) has already let this request in.
    options = translate_options(settings, app[NATIVE_STRUCTURED_OUTPUT])
    caps = capabilities_for(entry.base_model_id or entry.id)
    sealer = app[REASONING_SEALER]
    plan = to_converse(req, history=history, model_id=entry.id, caps=caps, options=options,
                       opener=sealer.open)
    try:
        await fetch_remote_images(request, plan.kwargs["messages"])
    except InvalidRequestError as error:
        error.param = responses_param(error.param)
        raise
    if plan.dropped_reasoning:
        log.warning("%d reasoning item(s) had encrypted_content this gateway cannot open "
                    "(another key, or altered); they were not forwarded",
                    plan.dropped_reasoning)
    response_id = f"resp_{uuid.uuid4().hex}"
    translator = ResponseEventTranslator(
        response_id=response_id, created_at=int(time.time()), model=requested,
        echo=req.echo, tool_refs=req.tool_refs, structured_tool=plan.structured_tool,
        summary=req.reasoning_summary is not None,
        include_sealed=req.include_encrypted_reasoning, seal=sealer.seal)
    deadline = asyncio.get_running_loop().time() + settings.request_timeout_seconds
    observer = request_observer(request)
    router = app[ROUTER]

    if not req.stream:
        routed = await router.converse(plan.kwargs, entry.regions,
                                       deadline=deadline, observer=observer)
        ctx.region, response = routed.region, routed.result
        for event in converse_response_events(response):
            translator.feed(event)
        translator.finish()
        _finish_context(ctx, translator)
        if req.store:
            await _save(store, _record(response_id, owner, req, history, translator))
        return json_response(translator.response(), headers=headers)

    opened = await router.open_stream(plan.kwargs, entry.regions, deadline=deadline,
                                      observer=observer)
    ctx.region = opened.region
    try:
        result = await pump_stream(
            request, ctx, opened.result, translator,
            lifecycle=app[LIFECYCLE],
            heartbeat_s=settings.sse_heartbeat_seconds,
            idle_s=settings.stream_idle_timeout,
            observer=observer,
            open_writer=functools.partial(
                SseWriter.open, framing=NamedEventFraming(translator.error_events, headers)),
        )
    finally:
        _finish_context(ctx, translator)
    if req.store and translator.status in ("completed", "incomplete"):
        await _save(store, _record(response_id, owner, req, history, translator))
    return result


async def get_response(request: web.Request) -> web.Response:
    record = await _owned(request.app[RESPONSE_STORE], request.match_info["response_id"],
                          _owner(request), None)
    return json_response(record["response"])


async def delete_response(request: web.Request) -> web.Response:
    store = request.app[RESPONSE_STORE]
    response_id = request.match_info["response_id"]
    await _owned(store, response_id, _owner(request), None)
    await store.delete(response_id)
    return json_response({"id": response_id, "object": "response.deleted", "deleted": True})


def _limit(raw: str | None) -> int:
    if raw is None:
        return 20
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if not 1 <= value <= 100:
        raise InvalidRequestError("'limit' must be an integer from 1 to 100.", param="limit")
    return value


async def list_input_items(request: web.Request) -> web.Response:
    record = await _owned(request.app[RESPONSE_STORE], request.match_info["response_id"],
                          _owner(request), None)
    query = request.query
    order = query.get("order", "desc")
    if order not in ("asc", "desc"):
        raise InvalidRequestError("'order' must be asc or desc.", param="order")
    limit = _limit(query.get("limit"))
    items = list(record["input_items"])
    if order == "desc":
        items.reverse()
    after = query.get("after")
    if after:
        ids = [item.get("id") for item in items]
        if after not in ids:
            raise InvalidRequestError(f"No input item with id '{after}'.", param="after")
        items = items[ids.index(after) + 1:]
    page = items[:limit]
    return json_response({"object": "list", "data": page,
                          "first_id": page[0]["id"] if page else None,
                          "last_id": page[-1]["id"] if page else None,
                          "has_more": len(items) > limit})

