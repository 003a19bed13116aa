"""GET /models and /models/{id} in OpenAI's list/object shape, or in Anthropic's when the request
carries `anthropic-version`."""

from __future__ import annotations

from aiohttp import web

from bedrock_gateway.server.anthropic_catalog import (
    anthropic_model,
    anthropic_model_list,
)
from bedrock_gateway.server.catalog_access import current_catalog
from bedrock_gateway.server.http import json_response


async def list_models(request: web.Request) -> web.Response:
    if "anthropic-version" in request.headers:  # Anthropic's SDKs and Claude Code
        return json_response(anthropic_model_list(request.app))
    catalog = current_catalog(request.app)
    # Aliases are names clients are meant to pick (GET /models/{alias} answers them), so the
    # list offers them too, after the models they stand for; an alias whose target is gone is not.
    return json_response({"object": "list", "data": catalog.list_models(include_aliases=True)})


async def get_model(request: web.Request) -> web.Response:
    model_id = request.match_info["model_id"]
    if "anthropic-version" in request.headers:
        return json_response(anthropic_model(request.app, model_id))
    entry = current_catalog(request.app).resolve(model_id)  # unknown -> 404 naming the model
    return json_response({"id": model_id, "object": "model", "created": entry.created,
                          "owned_by": entry.provider})
