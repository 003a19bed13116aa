"""Typed application state. Everything mutable the server holds lives behind these keys."""

from __future__ import annotations

from aiohttp import web

SETTINGS = web.AppKey("settings", "Settings")
KEYSTORE = web.AppKey("keystore", "ApiKeyStore")
ROUTER = web.AppKey("router", "BedrockRouter")
CATALOG = web.AppKey("catalog", "CatalogRefresher")
LIFECYCLE = web.AppKey("lifecycle", "Lifecycle")
TELEMETRY = web.AppKey("telemetry", "Telemetry")
NATIVE_STRUCTURED_OUTPUT = web.AppKey("native_structured_output", bool)
IMAGE_FETCHER = web.AppKey("image_fetcher", "ImageFetcher")
AWS_SESSION = web.AppKey("aws_session", "AioSession")
