"""POST /embeddings: parse -> resolve -> plan -> call -> answer. Titan takes one text per call
(fanned out), Cohere batches of 96 (sent concurrently); the results come back in input order.

The plan (protocols/openai_embeddings/embeddings_plan.py) builds the InvokeModel bodies, reads
the answers (bodies and token-count headers) and builds the response; this module makes the
calls. Admission (limits_middleware) has let the request in before its body was read.
"""

from __future__ import annotations

import asyncio

from aiohttp import web

from bedrock_gateway.bedrock.catalog import CatalogEntry
from bedrock_gateway.errors import GatewayError
from bedrock_gateway.protocols.openai_embeddings import (
    EmbeddingsPlan,
    EmbeddingsRequest,
    Invocation,
    parse_embeddings_request,
    plan_embeddings,
)
from bedrock_gateway.protocols.openai_embeddings.embeddings_plan import Answer
from bedrock_gateway.server.app_state import ROUTER, SETTINGS
from bedrock_gateway.server.catalog_access import resolve_model
from bedrock_gateway.server.context import RequestContext, request_context
from bedrock_gateway.server.http import json_response, read_json_object
from bedrock_gateway.server.request_observer import request_observer
from bedrock_gateway.server.routes.route_steps import admit_key, call_deadline, note_request


async def create_embeddings(request: web.Request) -> web.Response:
    ctx = request_context(request)
    req = await _parse(request, ctx)
    entry = _resolve(request, ctx, req)
    plan = plan_embeddings(req, model_id=entry.id, base_model_id=entry.base_model_id)
    answers = await _call(request, ctx, req, entry, plan)
    response = plan.response(answers)
    ctx.tokens_in = response["usage"]["prompt_tokens"]
    return json_response(response)


async def _parse(request: web.Request, ctx: RequestContext) -> EmbeddingsRequest:
    body = await read_json_object(request)
    if not body.get("model"):
        body["model"] = request.app[SETTINGS].default_embedding_model
    req = parse_embeddings_request(body)
    note_request(ctx, model=req.model, stream=False, max_tokens=None)
    return req


def _resolve(request: web.Request, ctx: RequestContext, req: EmbeddingsRequest) -> CatalogEntry:
    entry = resolve_model(request.app, req.model, output="embedding")
    ctx.response_model = entry.id
    return entry


async def _call(request: web.Request, ctx: RequestContext, req: EmbeddingsRequest,
                entry: CatalogEntry, plan: EmbeddingsPlan) -> list[Answer]:
    """The key's admission (once the request is known to be valid), then every call of the
    plan, at most EMBEDDING_CONCURRENCY at a time; the first failure fails the request."""
    await admit_key(request, ctx, req.model, entry, max_output_tokens=0, stream=False)
    app = request.app
    router = app[ROUTER]
    observer = request_observer(request)
    deadline = call_deadline(app)
    limit = asyncio.Semaphore(app[SETTINGS].embedding_concurrency)

    async def invoke(invocation: Invocation) -> Answer:
        async with limit:
            routed = await router.invoke(plan.invoke_kwargs(invocation), entry.regions,
                                         deadline=deadline, observer=observer)
            response, region = routed.result, routed.region
        ctx.region = region
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return plan.read_answer(response["body"], headers)

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(invoke(inv)) for inv in plan.invocations]
    except* GatewayError as failures:
        raise failures.exceptions[0] from None
    return [task.result() for task in tasks]
