"""The app's telemetry sinks, built once from the settings: the Prometheus metrics (served on
their own port), the per-key metrics, traces and GenAI metrics over OTLP, and the access log.
Started and stopped with the app (`cleanup_ctx`); per request they are fed by the telemetry
middleware (`telemetry_middleware.py`) and the request's observer (`request_observer.py`)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping
from typing import TYPE_CHECKING

from aiohttp import web

from bedrock_gateway import __version__
from bedrock_gateway.server.request_ids import add_request_id
from bedrock_gateway.settings import Settings
from bedrock_gateway.telemetry.access_log import AccessLog
from bedrock_gateway.telemetry.key_metrics import KeyMetrics
from bedrock_gateway.telemetry.metrics import GatewayMetrics
from bedrock_gateway.telemetry.metrics_http import start_metrics_listener
from bedrock_gateway.telemetry.tracing import Tracing

if TYPE_CHECKING:
    from bedrock_gateway.bedrock.catalog import Catalog, CatalogRefresher
    from bedrock_gateway.bedrock.router import BedrockRouter


class Telemetry:
    def __init__(self, settings: Settings, environ: Mapping[str, str]) -> None:
        self.settings = settings
        self.metrics = GatewayMetrics(version=__version__)
        self.key_metrics = KeyMetrics(self.metrics.registry, settings.keys_metrics_top_n,
                                      redis=settings.redis_url is not None)
        self.tracing = Tracing.from_env(environ, service_version=__version__)
        self.access_log = AccessLog(enabled=settings.access_log)
        self.metrics_port: int | None = None
        # With no metrics listener nobody can read the metrics: skip recording them entirely.
        self.metrics_enabled = settings.metrics_port != 0

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        runner = None
        if self.settings.metrics_port:
            runner, self.metrics_port = await start_metrics_listener(
                self.metrics, self.settings.host, self.settings.metrics_port)
        app.on_response_prepare.append(add_request_id)
        yield
        if runner is not None:
            await runner.cleanup()
        await self.tracing.shutdown()

    def watch_router(self, router: BedrockRouter, catalog: CatalogRefresher) -> None:
        """Gauges read at scrape time: no cost on the request path."""
        def catalog_state() -> tuple[float | None, int]:
            current = catalog.current
            return catalog.age_seconds(), (current.size if current is not None else 0)

        self.metrics.set_state_sources(
            pools=router.pool_usage, breakers=router.breaker_states, catalog=catalog_state,
            stream_capacity=self.settings.max_concurrent_requests)

    def catalog_updated(self, catalog: Catalog) -> None:
        self.metrics.set_known_models([*catalog.entries, *catalog.aliases])
