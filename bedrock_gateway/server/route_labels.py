"""Bounded names for a request's route, as metrics, spans and the access log use them."""

from __future__ import annotations

from aiohttp import web

# Route -> the GenAI operation it performs (gen_ai.operation.name), for the routes that call a
# model; the others have none.
GENAI_OPERATION_OF_ROUTE = {"chat": "chat", "embeddings": "embeddings", "responses": "chat",
                            "messages": "chat", "bedrock_invoke": "chat"}


def route_name(request: web.Request) -> str:
    """A bounded route label, without the configurable prefix."""
    path = request.path
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/embeddings"):
        return "embeddings"
    if "/responses" in path:
        return "responses"
    if path.endswith("/messages"):
        return "messages"
    if path.endswith("/messages/count_tokens"):
        return "count_tokens"
    if "/model/" in path and path.endswith(("/invoke", "/invoke-with-response-stream")):
        return "bedrock_invoke"
    if "/models" in path:
        return "models"
    if path in ("/health", "/ready"):
        return path[1:]
    return "other"


def route_template(request: web.Request) -> str:
    """The matched route's template (`/v1/models/{model_id}`), bounded like the routes are;
    `unmatched` for a path no route serves."""
    info = request.match_info.route.resource if request.match_info is not None else None
    return info.canonical if info is not None else "unmatched"
