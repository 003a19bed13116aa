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
from dataclasses import dataclass

from aiohttp import web

from bedrock_gateway.auth import bearer_token
from bedrock_gateway.bedrock.catalog import CatalogEntry
from bedrock_gateway.bedrock.upstream_stream import UpstreamStream
from bedrock_gateway.conversation.capabilities import capabilities_for
from bedrock_gateway.conversation.images import attach_remote_images, pending_remote_images
from bedrock_gateway.errors import InvalidRequestError, NotFoundError
from bedrock_gateway.protocols.openai_responses import (
    ConversePlan,
    ResponseEventTranslator,
    ResponsesRequest,
    converse_response_events,
    deleted_response,
    input_items_page,
    parse_responses_request,
    responses_param,
    to_converse,
    usage_for_context,
)
from bedrock_gateway.server.catalog_access import resolve_model
from bedrock_gateway.server.context import RequestContext, request_context
from bedrock_gateway.server.http import json_response, read_json_object
from bedrock_gateway.server.app_state import (
    REASONING_SEALER,
    RESPONSE_STORE,
    ROUTER,
    SETTINGS,
    TRANSLATE_OPTIONS,
)
from bedrock_gateway.server.request_observer import request_observer
from bedrock_gateway.server.routes.route_steps import (
    admit_key,
    call_deadline,
    fetch_images,
    note_request,
    pump,
)
from bedrock_gateway.server.sse import NamedEventFraming, SseWriter
from bedrock_gateway.storage.response_store import ResponseStore, StoreUnavailableError

log = logging.getLogger(__name__)

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


def _record(turn: _Turn, req: ResponsesRequest, translator: ResponseEventTranslator) -> dict:
    return {"id": translator.response_id, "owner": turn.owner, "response": translator.response(),
            "input_items": list(req.input_items),
            "history": [*turn.history, *req.input_items, *translator.output]}


def _finish_context(ctx: RequestContext, translator: ResponseEventTranslator) -> None:
    ctx.record_usage(usage_for_context(translator.usage))
    ctx.finish_reason = translator.finish_reason


def _history_bytes(history: list) -> int:
    """Rough size of a continued conversation (its items go to Bedrock too): for the token
    estimate only, so a cheap bound is enough."""
    return sum(len(str(item)) for item in history) if history else 0


async def create_response(request: web.Request) -> web.StreamResponse:
    """parse -> resolve (the model, the stored history, the key) -> plan -> call -> pump (or
    answer), then the store. Admission (limits_middleware) has let the request in."""
    ctx = request_context(request)
    req = await _parse(request, ctx)
    turn = await _resolve(request, ctx, req)
    plan, translator = await _plan(request, req, turn)
    if req.stream:
        upstream = await _open_stream(request, ctx, turn, plan)
        result = await _pump(request, ctx, turn, translator, upstream)
        if req.store and translator.status in ("completed", "incomplete"):
            await _save(request.app[RESPONSE_STORE], _record(turn, req, translator))
        return result
    response = await _converse(request, ctx, turn, plan)
    return await _answer(request, ctx, req, turn, translator, response)


@dataclass(frozen=True, slots=True)
class _Turn:
    """What the resolve step found: the model, the caller, the history this turn continues."""

    requested: str  # the model name the client asked for (echoed)
    entry: CatalogEntry
    owner: str  # SHA-256 of the caller's key
    history: list
    headers: dict[str, str]  # extra response headers


async def _parse(request: web.Request, ctx: RequestContext) -> ResponsesRequest:
    settings = request.app[SETTINGS]
    req = parse_responses_request(await read_json_object(request),
                                  reject_hosted_tools=settings.responses_hosted_tools == "reject")
    note_request(ctx, model=req.model or settings.default_model, stream=req.stream,
                 max_tokens=req.max_output_tokens)
    return req


async def _resolve(request: web.Request, ctx: RequestContext, req: ResponsesRequest) -> _Turn:
    """The model's catalog entry and the stored history a `previous_response_id` continues,
    then the key's admission (the history's size counts towards its token estimate)."""
    app = request.app
    requested = req.model or app[SETTINGS].default_model
    entry = resolve_model(app, requested, output="text")
    owner = _owner(request)
    history: list = []
    if req.previous_response_id:
        record = await _owned(app[RESPONSE_STORE], req.previous_response_id, owner,
                              "previous_response_id")
        history = record["history"]
    headers = {DROPPED_TOOLS_HEADER: ",".join(req.dropped_tools)} if req.dropped_tools else {}
    await admit_key(request, ctx, requested, entry, max_output_tokens=req.max_output_tokens,
                    stream=req.stream,
                    input_bytes=(request.content_length or 0) + _history_bytes(history))
    return _Turn(requested, entry, owner, history, headers)


async def _plan(request: web.Request, req: ResponsesRequest,
                turn: _Turn) -> tuple[ConversePlan, ResponseEventTranslator]:
    """The Converse plan (its remote images fetched once the request is known to be valid) and
    the event translator that makes the answer."""
    app = request.app
    entry = turn.entry
    sealer = app[REASONING_SEALER]
    plan = to_converse(req, history=turn.history, model_id=entry.id,
                       caps=capabilities_for(entry.base_model_id or entry.id),
                       options=app[TRANSLATE_OPTIONS], opener=sealer.open)
    pending = pending_remote_images(plan.kwargs["messages"])
    if pending:
        try:
            attach_remote_images(plan.kwargs["messages"], await fetch_images(request, pending))
        except InvalidRequestError as error:
            error.param = responses_param(error.param)
            raise
    if plan.dropped_reasoning:
        log.warning("%d reasoning item(s) had encrypted_content this gateway cannot open "
                    "(another key, or altered); they were not forwarded",
                    plan.dropped_reasoning)
    translator = ResponseEventTranslator(
        response_id=f"resp_{uuid.uuid4().hex}", created_at=int(time.time()),
        model=turn.requested, echo=req.echo, tool_refs=req.tool_refs,
        structured_tool=plan.structured_tool, summary=req.reasoning_summary is not None,
        include_sealed=req.include_encrypted_reasoning, seal=sealer.seal)
    return plan, translator


async def _converse(request: web.Request, ctx: RequestContext, turn: _Turn,
                    plan: ConversePlan) -> dict:
    app = request.app
    routed = await app[ROUTER].converse(
        plan.kwargs, turn.entry.regions, deadline=call_deadline(app),
        observer=request_observer(request))
    ctx.region, response = routed.region, routed.result
    return response


async def _answer(request: web.Request, ctx: RequestContext, req: ResponsesRequest, turn: _Turn,
                  translator: ResponseEventTranslator, response: dict) -> web.Response:
    for event in converse_response_events(response):
        translator.feed(event)
    translator.finish()
    _finish_context(ctx, translator)
    if req.store:
        await _save(request.app[RESPONSE_STORE], _record(turn, req, translator))
    return json_response(translator.response(), headers=turn.headers)


async def _open_stream(request: web.Request, ctx: RequestContext, turn: _Turn,
                       plan: ConversePlan) -> UpstreamStream:
    app = request.app
    opened = await app[ROUTER].open_stream(plan.kwargs, turn.entry.regions,
                                           deadline=call_deadline(app),
                                           observer=request_observer(request))
    ctx.region = opened.region
    return opened.result


async def _pump(request: web.Request, ctx: RequestContext, turn: _Turn,
                translator: ResponseEventTranslator,
                upstream: UpstreamStream) -> web.StreamResponse:
    framing = NamedEventFraming(translator.error_events, turn.headers)
    return await pump(request, ctx, upstream, translator,
                      open_writer=functools.partial(SseWriter.open, framing=framing),
                      on_end=lambda: _finish_context(ctx, translator))


async def get_response(request: web.Request) -> web.Response:
    record = await _owned(request.app[RESPONSE_STORE], request.match_info["response_id"],
                          _owner(request), None)
    return json_response(record["response"])


async def delete_response(request: web.Request) -> web.Response:
    store = request.app[RESPONSE_STORE]
    response_id = request.match_info["response_id"]
    await _owned(store, response_id, _owner(request), None)
    await store.delete(response_id)
    return json_response(deleted_response(response_id))


async def list_input_items(request: web.Request) -> web.Response:
    record = await _owned(request.app[RESPONSE_STORE], request.match_info["response_id"],
                          _owner(request), None)
    query = request.query
    return json_response(input_items_page(record["input_items"], order=query.get("order"),
                                          limit=query.get("limit"), after=query.get("after")))

