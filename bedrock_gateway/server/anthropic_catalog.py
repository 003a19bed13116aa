"""The catalog as Anthropic clients see it: Anthropic's model names resolved, and the model list
in Anthropic's shape (for requests that carry `anthropic-version`)."""

from __future__ import annotations

from aiohttp import web

from bedrock_gateway.bedrock.catalog import Catalog, CatalogEntry
from bedrock_gateway.errors import ModelNotFoundError
from bedrock_gateway.protocols.anthropic_messages import anthropic_names, model_list, model_object
from bedrock_gateway.server.catalog_access import current_catalog, resolve_model


def _names(catalog: Catalog) -> dict[str, str]:
    return anthropic_names(e.base_model_id for e in catalog.entries.values()
                           if e.output == "text")


def resolve_messages_model(app: web.Application, requested: str) -> CatalogEntry:
    """A Bedrock id, profile, ARN or alias as the catalog knows it; else an Anthropic model name
    (`claude-sonnet-4-5`, `claude-sonnet-4-5-20250929`) for the Claude model it names, reached
    the way its Bedrock id is (through the preferred cross-region profile when it has one)."""
    try:
        return resolve_model(app, requested, output="text")
    except ModelNotFoundError:
        base = _names(current_catalog(app)).get(requested)
        if base is None:
            raise
    return resolve_model(app, base, output="text")


def _rows(catalog: Catalog) -> list[tuple[str, str, int]]:
    rows: list[tuple[str, str, int]] = []
    by_base: dict[str, CatalogEntry] = {}
    for entry in catalog.entries.values():
        if entry.output == "text":
            by_base.setdefault(entry.base_model_id, entry)
    for name, base in sorted(_names(catalog).items()):
        if name.endswith(("-latest", "-0")) or base not in by_base:
            continue
        entry = by_base[base]
        rows.append((name, entry.name, entry.created))
    for item in catalog.list_models(output="text", include_aliases=True):
        entry = catalog.resolve(item["id"])
        rows.append((item["id"], entry.name, entry.created))
    return rows


def anthropic_model_list(app: web.Application) -> dict:
    return model_list(_rows(current_catalog(app)))


def anthropic_model(app: web.Application, requested: str) -> dict:
    entry = resolve_messages_model(app, requested)
    return model_object(requested, entry.name, entry.created)
