"""POST /embeddings: Titan (one text per call, fanned out) and Cohere (batches of 96, sent
concurrently), results in input order."""

from __future__ import annotations

import asyncio

import orjson
from aiohttp import web

from bedrock_gateway.errors import GatewayError, UpstreamError
from bedrock_gateway.server.catalog_access import resolve_model
from bedrock_gateway.server.context import request_context
from bedrock_gateway.server.http import json_response, read_json_object
from bedrock_gateway.server.app_state import KEY_SERVICE, ROUTER, SETTINGS
from bedrock_gateway.server.request_observer import request_observer
from bedrock_gateway.protocols.openai_embeddings.embeddings_bodies import (
    Invocation,
    assemble_vectors,
    build_embeddings_response,
    family_for,
    input_tokens_of,
    parse_embeddings_request,
    parse_invocation_result,
    plan_invocations,
)

_TOKEN_HEADER = "x-amzn-bedrock-input-token-count"


async def create_embeddings(request: web.Request) -> web.Response:
    app = request.app
    settings = app[SETTINGS]
    ctx = request_context(request)
    body = await read_json_object(request)
    if not body.get("model"):
        body["model"] = settings.default_embedding_model
    embeddings = parse_embeddings_request(body)
    ctx.model = embeddings.model[:256]  # set first: an unknown model is still counted
    entry = resolve_model(app, embeddings.model, output="embedding")
    ctx.response_model = entry.id
    family = family_for(entry.base_model_id or entry.id)
    invocations = plan_invocations(embeddings, family)
    await app[KEY_SERVICE].admit(
        request, ctx, names=(embeddings.model, entry.id, entry.base_model_id),
        input_bytes=request.content_length, max_output_tokens=0, stream=False)

    # Admitted by limits_middleware before the body was read.
    router = app[ROUTER]
    observer = request_observer(request)
    deadline = asyncio.get_running_loop().time() + settings.request_timeout_seconds
    limit = asyncio.Semaphore(settings.embedding_concurrency)

    async def invoke(invocation: Invocation) -> tuple[list[list[float]], int]:
        async with limit:
            routed = await router.invoke(
                {"modelId": entry.id, "body": orjson.dumps(invocation.body),
                 "contentType": "application/json", "accept": "application/json"},
                entry.regions, deadline=deadline, observer=observer)
        ctx.region, response = routed.region, routed.result
        try:
            result = orjson.loads(response["body"])
        except orjson.JSONDecodeError:
            raise UpstreamError("Amazon Bedrock returned an unreadable embedding.") from None
        headers = response.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        tokens = input_tokens_of(family, result)
        if tokens is None:
            tokens = int(headers.get(_TOKEN_HEADER) or 0)
        return parse_invocation_result(family, result), tokens

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(invoke(inv)) for inv in invocations]
    except* GatewayError as failures:
        raise failures.exceptions[0] from None
    results = [task.result() for task in tasks]
    vectors = assemble_vectors(invocations, [vectors for vectors, _ in results])
    prompt_tokens = sum(tokens for _, tokens in results)
    ctx.tokens_in = prompt_tokens
    return json_response(build_embeddings_response(
        embeddings.model, vectors, prompt_tokens, embeddings.encoding_format))
