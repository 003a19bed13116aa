"""Start-up of the Responses API's state: the reasoning sealer's keys and the response store
(in process, or Redis when REDIS_URL is set), on the app's cleanup_ctx."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator

from aiohttp import web

from bedrock_gateway.auth import keys_from_text
from bedrock_gateway.protocols.openai_responses import ReasoningSealer
from bedrock_gateway.server import app_state
from bedrock_gateway.settings import Settings
from bedrock_gateway.storage.redis_store import RedisResponseStore
from bedrock_gateway.storage.response_store import (
    MemoryResponseStore,
    StoreUnavailableError,
)

log = logging.getLogger(__name__)


def sealing_secrets(settings: Settings) -> list[str]:
    """RESPONSES_ENCRYPTION_KEY, then the file's keys; newest first (the first one seals)."""
    secrets = list(settings.responses_encryption_keys)
    if settings.responses_encryption_key_file:
        try:
            with open(settings.responses_encryption_key_file, encoding="utf-8") as handle:
                secrets.extend(keys_from_text(handle.read()))
        except OSError as exc:
            raise RuntimeError(f"RESPONSES_ENCRYPTION_KEY_FILE cannot be read: "
                               f"{exc.strerror}") from None
    return list(dict.fromkeys(secrets))


def make_sealer(settings: Settings) -> ReasoningSealer:
    secrets = sealing_secrets(settings)
    if secrets:
        return ReasoningSealer(secrets)
    log.warning("No RESPONSES_ENCRYPTION_KEY is set: reasoning sealed into encrypted_content "
                "opens only on this process (set one shared key for several replicas).")
    return ReasoningSealer.ephemeral()


async def responses_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[app_state.SETTINGS]
    app[app_state.REASONING_SEALER] = make_sealer(settings)
    if settings.redis_url:
        store = RedisResponseStore(app[app_state.REDIS],
                                   ttl_s=settings.responses_store_ttl_seconds,
                                   timeout_s=settings.redis_timeout_seconds)
        try:
            await store.ping()
        except StoreUnavailableError:
            # Not fatal: chat keeps working, and store-dependent calls answer 503 until it is up.
            log.warning("Redis (REDIS_URL) is not reachable at start-up")
        app[app_state.RESPONSE_STORE] = store
    else:
        app[app_state.RESPONSE_STORE] = MemoryResponseStore(
            max_items=settings.responses_store_max_items,
            max_bytes=settings.responses_store_max_bytes,
            ttl_s=settings.responses_store_ttl_seconds)
    yield
    await app[app_state.RESPONSE_STORE].close()
