"""GET /models and /models/{id} in OpenAI's list/object shape."""

from __future__ import annotations

from aiohttp import web

from bedrock_gateway.server.catalog_access import current_catalog
from bedrock_gateway.server.http import json_response


async def list_models(request: web.Request) -> web.Response:
    catalog = current_catalog(request.app)
    return json_response({"object": "list", "data": catalog.list_models()})


async def get_model(request: web.Request) -> web.Response:
    model_id = request.match_info["model_id"]
    entry = current_catalog(request.app).resolve(model_id)  # unknown -> 404 naming the model
    return json_response({"id": model_id, "object": "model", "created": entry.created,
                          "owned_by": entry.provider})
