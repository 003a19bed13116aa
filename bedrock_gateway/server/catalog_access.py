"""The catalog as the routes see it: loaded or a clear 503, and model names resolved or a 404."""

from __future__ import annotations

from aiohttp import web

from bedrock_gateway.bedrock.catalog import Catalog, CatalogEntry
from bedrock_gateway.errors import InvalidRequestError, ServiceUnavailableError
from bedrock_gateway.server.app_state import CATALOG


def current_catalog(app: web.Application) -> Catalog:
    catalog = app[CATALOG].current
    if catalog is None:
        raise ServiceUnavailableError(
            "The model catalog is not loaded yet; retry shortly.",
            code="catalog_not_ready", retry_after=2.0)
    return catalog


def resolve_model(app: web.Application, requested: str, output: str) -> CatalogEntry:
    entry = current_catalog(app).resolve(requested)
    if entry.output != output:
        kind = "an embedding" if entry.output == "embedding" else "a text generation"
        raise InvalidRequestError(
            f"The model '{requested}' is {kind} model and cannot serve this endpoint.",
            param="model", code="model_not_supported")
    return entry
