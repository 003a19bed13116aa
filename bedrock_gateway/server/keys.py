"""Typed application state. Everything mutable the server holds lives behind these keys."""

from __future__ import annotations

from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from bedrock_gateway.auth import ApiKeyStore
    from bedrock_gateway.bedrock.catalog import CatalogRefresher
    from bedrock_gateway.bedrock.router import BedrockRouter
    from bedrock_gateway.server.lifecycle import Lifecycle
    from bedrock_gateway.server.telemetry import Telemetry
    from bedrock_gateway.settings import Settings

SETTINGS = web.AppKey("settings", "Settings")
KEYSTORE = web.AppKey("keystore", "ApiKeyStore")
ROUTER = web.AppKey("router", "BedrockRouter")
CATALOG = web.AppKey("catalog", "CatalogRefresher")
LIFECYCLE = web.AppKey("lifecycle", "Lifecycle")
TELEMETRY = web.AppKey("telemetry", "Telemetry")
NATIVE_STRUCTURED_OUTPUT = web.AppKey("native_structured_output", bool)
FETCH_SESSION = web.AppKey("fetch_session", "aiohttp.ClientSession")
