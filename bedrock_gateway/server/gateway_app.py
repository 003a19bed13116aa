"""create_app(settings) -> web.Application. Resources are built in `cleanup_ctx` at start-up and
closed at shutdown; nothing is built at import time."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Mapping
from types import MappingProxyType

from aiohttp import web

from bedrock_gateway.auth import ApiKeyFile, ApiKeyStore
from bedrock_gateway.bedrock.catalog import (
    CatalogRefresher,
    build_catalog,
    load_aliases,
)
from bedrock_gateway.bedrock.clients import (
    new_session,
    open_region_clients,
    open_secret_clients,
    supports_native_structured_output,
)
from bedrock_gateway.bedrock.route_health import HealthTable
from bedrock_gateway.bedrock.listing import fetch_region_listing
from bedrock_gateway.bedrock.router import BedrockRouter
from bedrock_gateway.bedrock.send_gate import SendGate
from bedrock_gateway.bedrock.secrets import parameter_api_keys, secret_api_keys
from bedrock_gateway.protocols.openai_chat.chat_converse import TranslateOptions
from bedrock_gateway.server import app_state
from bedrock_gateway.server.byte_budget import ByteBudget
from bedrock_gateway.server.cors import Cors
from bedrock_gateway.server.image_fetch import ImageFetcher
from bedrock_gateway.server.key_access import add_rate_headers
from bedrock_gateway.server.keys_setup import key_service_ctx, redis_ctx
from bedrock_gateway.server.lifecycle import Lifecycle
from bedrock_gateway.server.limits import limits_middleware
from bedrock_gateway.server.middlewares import auth_middleware, error_middleware
from bedrock_gateway.server.protocol import set_server_header
from bedrock_gateway.server.responses_setup import responses_ctx
from bedrock_gateway.server.routes import (
    bedrock_invoke_routes,
    chat_routes,
    embeddings_routes,
    health_routes,
    messages_routes,
    models_routes,
    responses_routes,
)
from bedrock_gateway.server.routes.admin_routes import add_admin_routes
from bedrock_gateway.server.telemetry_middleware import telemetry_middleware
from bedrock_gateway.server.telemetry_setup import Telemetry
from bedrock_gateway.settings import Settings, SettingsError
from bedrock_gateway.telemetry.log_hygiene import install_aiohttp_log_filter

log = logging.getLogger(__name__)

# How often a mounted key file is checked for rotation (a stat call; cheap).
KEY_FILE_POLL_SECONDS = 1.0


def create_app(settings: Settings, environ: Mapping[str, str] | None = None) -> web.Application:
    environ = os.environ if environ is None else environ
    if not settings.has_key_source():
        raise RuntimeError(
            "No API key source is configured. Set API_KEY (or OPENAI_API_KEY), API_KEY_FILE, "
            "API_KEY_SECRET_ARN or API_KEY_PARAM_NAME (or virtual keys: ADMIN_API_KEY, KEYS_FILE "
            "or REDIS_URL); the gateway never runs without a key.")
    install_aiohttp_log_filter()  # aiohttp's parser logs quote header lines (keys)
    telemetry = Telemetry(settings, environ)
    cors = Cors(settings.allowed_origins)
    middlewares = [telemetry_middleware(telemetry), error_middleware]
    if cors.enabled:  # preflights are answered before authentication
        middlewares.append(cors.preflight)
    app = web.Application(
        client_max_size=settings.max_request_body_bytes,
        # Authentication, then admission, then the handler reads the body (http.py).
        middlewares=[*middlewares, auth_middleware, limits_middleware],
    )
    app.on_response_prepare.append(set_server_header)
    if cors.enabled:
        app.on_response_prepare.append(cors.on_response_prepare)
    app[app_state.SETTINGS] = settings
    app[app_state.BODY_BUDGET] = ByteBudget(settings.request_body_budget_bytes,
                                       "REQUEST_BODY_BUDGET_BYTES")
    app[app_state.IMAGE_BUDGET] = ByteBudget(settings.image_fetch_budget_bytes,
                                        "IMAGE_FETCH_BUDGET_BYTES")
    app[app_state.AWS_SESSION] = new_session()
    app[app_state.TELEMETRY] = telemetry
    app[app_state.LIFECYCLE] = Lifecycle(settings.max_concurrent_requests)
    app[app_state.KEYSTORE] = ApiKeyStore(settings.api_keys)
    app[app_state.CATALOG] = _catalog_refresher(settings, app)
    app.cleanup_ctx.extend([telemetry.cleanup_ctx, redis_ctx, _bedrock_ctx, _keys_ctx,
                            key_service_ctx, _catalog_ctx, _fetch_ctx, responses_ctx])
    app.on_response_prepare.append(add_rate_headers)
    app.on_shutdown.append(_drain)
    _add_routes(app, settings)
    return app


def _add_routes(app: web.Application, settings: Settings) -> None:
    app.router.add_get("/health", health_routes.health)
    app.router.add_get("/ready", health_routes.ready)
    if settings.admin_api_key:
        add_admin_routes(app)
    for prefix in settings.route_prefixes:
        app.router.add_post(f"{prefix}/chat/completions", chat_routes.chat_completions)
        app.router.add_post(f"{prefix}/embeddings", embeddings_routes.create_embeddings)
        app.router.add_get(f"{prefix}/models", models_routes.list_models)
        app.router.add_get(f"{prefix}/models/{{model_id:.+}}", models_routes.get_model)
        app.router.add_post(f"{prefix}/responses", responses_routes.create_response)
        app.router.add_get(f"{prefix}/responses/{{response_id}}", responses_routes.get_response)
        app.router.add_delete(f"{prefix}/responses/{{response_id}}",
                              responses_routes.delete_response)
        app.router.add_get(f"{prefix}/responses/{{response_id}}/input_items",
                           responses_routes.list_input_items)
        app.router.add_post(f"{prefix}/messages", messages_routes.create_message)
        app.router.add_post(f"{prefix}/messages/count_tokens", messages_routes.count_tokens)
    bedrock = settings.bedrock_route_prefix.rstrip("/")
    app.router.add_post(f"{bedrock}/model/{{model_id}}/invoke", bedrock_invoke_routes.invoke)
    app.router.add_post(f"{bedrock}/model/{{model_id}}/invoke-with-response-stream",
                        bedrock_invoke_routes.invoke_with_response_stream)


def _aliases(path: str) -> dict[str, str]:
    try:
        return load_aliases(path)
    except Exception as exc:  # noqa: BLE001 - OSError, YAML errors, a wrong shape: all refused
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise SettingsError(f"MODEL_ALIASES_FILE {path!r} cannot be used: {reason}") from None


def _catalog_refresher(settings: Settings, app: web.Application) -> CatalogRefresher:
    aliases = _aliases(settings.model_aliases_file) if settings.model_aliases_file else {}

    async def fetch(region: str):
        return await fetch_region_listing(app[app_state.ROUTER].client(region).control)

    def build(per_region):
        return build_catalog(per_region, cross_region=settings.enable_cross_region_inference,
                             application_profiles=settings.enable_application_inference_profiles,
                             aliases=aliases, primary_region=settings.regions[0])

    return CatalogRefresher(fetch, settings.regions, interval_s=settings.model_refresh_seconds,
                            build=build, on_update=app[app_state.TELEMETRY].catalog_updated)


def translate_options(settings: Settings, native_structured_output: bool) -> TranslateOptions:
    """The translation options of every request (chat completions, Responses), built once."""
    return TranslateOptions(
        prompt_caching=settings.enable_prompt_caching,
        guardrail_identifier=settings.guardrail_identifier,
        guardrail_version=settings.guardrail_version,
        reasoning_budgets=MappingProxyType({"low": settings.reasoning_budget_low,
                                            "medium": settings.reasoning_budget_medium,
                                            "high": settings.reasoning_budget_high}),
        native_structured_output_available=native_structured_output,
        default_max_tokens=settings.default_max_tokens,
    )


async def _bedrock_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[app_state.SETTINGS]
    send_gate = SendGate()
    async with open_region_clients(settings, app[app_state.AWS_SESSION],
                                   send_gate) as clients:
        app[app_state.SEND_GATE] = send_gate
        route_health = HealthTable(failure_threshold=settings.breaker_failure_threshold,
                                   cooldown_s=settings.breaker_cooldown_seconds,
                                   throttle_backoff_s=settings.throttle_backoff_seconds)
        app[app_state.ROUTER] = BedrockRouter(clients, route_health,
                                         passes=settings.bedrock_max_attempts)
        first = next(iter(clients.values()))
        app[app_state.TRANSLATE_OPTIONS] = translate_options(
            settings, supports_native_structured_output(first.runtime))
        app[app_state.TELEMETRY].watch_router(app[app_state.ROUTER], app[app_state.CATALOG])
        app[app_state.LIFECYCLE].clients_ready = True
        yield
        app[app_state.LIFECYCLE].clients_ready = False


async def _keys_ctx(app: web.Application) -> AsyncIterator[None]:
    settings = app[app_state.SETTINGS]
    store = app[app_state.KEYSTORE]
    async with contextlib.AsyncExitStack() as stack:
        if settings.api_key_file:
            store.add_source("API_KEY_FILE", ApiKeyFile(settings.api_key_file).load,
                             KEY_FILE_POLL_SECONDS)
        if settings.api_key_secret_arn or settings.api_key_param_name:
            sm, ssm = await stack.enter_async_context(
                open_secret_clients(settings.regions[0], app[app_state.AWS_SESSION]))
            if settings.api_key_secret_arn:
                arn = settings.api_key_secret_arn
                store.add_source("API_KEY_SECRET_ARN", lambda: secret_api_keys(sm, arn),
                                 settings.api_key_refresh_seconds)
            if settings.api_key_param_name:
                name = settings.api_key_param_name
                store.add_source("API_KEY_PARAM_NAME", lambda: parameter_api_keys(ssm, name),
                                 settings.api_key_refresh_seconds)
        if store.has_sources:
            await store.load_all()
        task = asyncio.create_task(store.refresh_forever(), name="api-key-refresh")
        yield
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _catalog_ctx(app: web.Application) -> AsyncIterator[None]:
    # Start-up does not wait for the catalog: /ready reports when the first one is loaded.
    task = asyncio.create_task(app[app_state.CATALOG].run(), name="catalog-refresh")
    yield
    task.cancel()
    with contextlib.suppress(asyncio.CancelledError):
        await task


async def _fetch_ctx(app: web.Application) -> AsyncIterator[None]:
    fetcher = ImageFetcher(app[app_state.SETTINGS].image_fetch_allowlist)
    app[app_state.IMAGE_FETCHER] = fetcher
    yield
    await fetcher.close()


async def _drain(app: web.Application) -> None:
    """on_shutdown: the listener is already closed; let streams finish within the grace."""
    lifecycle = app[app_state.LIFECYCLE]
    lifecycle.draining = True
    await lifecycle.drain_streams(app[app_state.SETTINGS].shutdown_grace_seconds)
