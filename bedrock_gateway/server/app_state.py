"""Typed application state. Everything mutable the server holds lives behind these keys.

Each key carries the class of its value (aiohttp's `AppKey`), so `app[KEY]` is typed; the classes
are imported for real (none of their modules imports this one). A Protocol is not a concrete
class, so its key is written `AppKey[Protocol](name)`.
"""

from __future__ import annotations

from aiohttp import web
from redis.asyncio import Redis

from bedrock_gateway.auth import ApiKeyStore
from bedrock_gateway.bedrock.catalog import CatalogRefresher
from bedrock_gateway.bedrock.clients import AioSession
from bedrock_gateway.bedrock.router import BedrockRouter
from bedrock_gateway.bedrock.send_gate import SendGate
from bedrock_gateway.protocols.openai_chat.chat_converse import TranslateOptions
from bedrock_gateway.protocols.openai_responses import ReasoningSealer
from bedrock_gateway.server.byte_budget import ByteBudget
from bedrock_gateway.server.image_fetch import ImageFetcher
from bedrock_gateway.server.key_access import KeyService
from bedrock_gateway.server.lifecycle import Lifecycle
from bedrock_gateway.server.telemetry_setup import Telemetry
from bedrock_gateway.settings import Settings
from bedrock_gateway.storage.response_store import ResponseStore

SETTINGS = web.AppKey("settings", Settings)
KEYSTORE = web.AppKey("keystore", ApiKeyStore)
ROUTER = web.AppKey("router", BedrockRouter)
SEND_GATE = web.AppKey("send_gate", SendGate)
CATALOG = web.AppKey("catalog", CatalogRefresher)
LIFECYCLE = web.AppKey("lifecycle", Lifecycle)
TELEMETRY = web.AppKey("telemetry", Telemetry)
# The operator's translation options, built once at start (they depend on the installed botocore).
TRANSLATE_OPTIONS = web.AppKey("translate_options", TranslateOptions)
IMAGE_FETCHER = web.AppKey("image_fetcher", ImageFetcher)
BODY_BUDGET = web.AppKey("body_budget", ByteBudget)
IMAGE_BUDGET = web.AppKey("image_budget", ByteBudget)
AWS_SESSION = web.AppKey("aws_session", AioSession)  # the SDK session, from the Bedrock layer
RESPONSE_STORE = web.AppKey[ResponseStore]("response_store")
REASONING_SEALER = web.AppKey("reasoning_sealer", ReasoningSealer)
REDIS = web.AppKey("redis", Redis)  # the one client (storage/redis_client.py)
KEY_SERVICE = web.AppKey("key_service", KeyService)
