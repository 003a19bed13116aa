"""Typed application state. Everything mutable the server holds lives behind these keys."""

from __future__ import annotations

from aiohttp import web

from bedrock_gateway.protocols.openai_chat.chat_converse import TranslateOptions

SETTINGS = web.AppKey("settings", "Settings")
KEYSTORE = web.AppKey("keystore", "ApiKeyStore")
ROUTER = web.AppKey("router", "BedrockRouter")
CATALOG = web.AppKey("catalog", "CatalogRefresher")
LIFECYCLE = web.AppKey("lifecycle", "Lifecycle")
TELEMETRY = web.AppKey("telemetry", "Telemetry")
# The operator's translation options, built once at start (they depend on the installed botocore).
TRANSLATE_OPTIONS = web.AppKey("translate_options", TranslateOptions)
IMAGE_FETCHER = web.AppKey("image_fetcher", "ImageFetcher")
BODY_BUDGET = web.AppKey("body_budget", "ByteBudget")
IMAGE_BUDGET = web.AppKey("image_budget", "ByteBudget")
AWS_SESSION = web.AppKey("aws_session", "AioSession")
RESPONSE_STORE = web.AppKey("response_store", "ResponseStore")
REASONING_SEALER = web.AppKey("reasoning_sealer", "ReasoningSealer")
REDIS = web.AppKey("redis", object)  # the one redis.asyncio client (storage/redis_client.py)
KEY_SERVICE = web.AppKey("key_service", "KeyService")
