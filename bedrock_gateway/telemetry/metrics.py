"""The gateway's Prometheus metrics: exactly the contract in docs/metrics.md.

One `GatewayMetrics` per app, with its own `CollectorRegistry` (never the global default one), so
several apps can share a process. Every label value goes through a bounding function first: a
series is created per distinct label set and lives until the process exits, so a label fed from
request data (a model name a client typed, an error code nobody planned) must not be able to
create series without limit.
"""

from __future__ import annotations

import platform
import re
from collections.abc import Iterable
from types import MappingProxyType

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    disable_created_metrics,
)

from bedrock_gateway.telemetry.collectors import (
    BreakersSource,
    CatalogSource,
    ChunkTimer,
    InterChunkHistogram,
    PoolsSource,
    StateCollector,
)

DURATION_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 20, 30, 60, 120)
INTER_CHUNK_BUCKETS = (0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5)

ROUTES = frozenset({"chat", "embeddings", "models", "messages", "count_tokens",
                    "bedrock_invoke", "responses", "health", "ready", "other"})
# The client API a route belongs to (the `api` label); probes and unknown paths have none.
API_BY_ROUTE = MappingProxyType({
    "chat": "chat_completions", "embeddings": "embeddings", "models": "models",
    "messages": "messages", "count_tokens": "count_tokens", "bedrock_invoke": "bedrock_invoke",
    "responses": "responses",
})
ADMISSION_REASONS = ("process_limit", "region_queue_timeout", "body_too_large", "draining")
OTHER = "other"
NONE = "none"

# Values for labels we fill from our own code (regions, operations, error codes) should already
# be bounded; this is the safety net if a caller passes something unexpected.
_LABEL_VALUE = re.compile(r"[A-Za-z0-9_.:\-]{1,64}")


class BoundedLabel:
    """Admits the first `limit` distinct well-formed values of one label; the rest are `other`."""

    __slots__ = ("_limit", "_seen")

    def __init__(self, limit: int, preset: Iterable[str] = ()) -> None:
        self._seen: set[str] = set(preset)
        self._limit = limit

    def __call__(self, value: str | None) -> str:
        if value is None or value == "":
            return NONE
        if value in self._seen:
            return value
        if len(self._seen) < self._limit and _LABEL_VALUE.fullmatch(value):
            self._seen.add(value)
            return value
        return OTHER


_STATUS_CLASS = MappingProxyType({1: "1xx", 2: "2xx", 3: "3xx", 4: "4xx", 5: "5xx"})


def status_class(status: int) -> str:
    # Anything outside 100-599 is a bug on our side; count it as a server error, not a new class.
    return _STATUS_CLASS.get(status // 100, "5xx")


class GatewayMetrics:
    """All Prometheus metrics of one gateway app; `registry` is what /metrics exposes."""

    def __init__(self, version: str, registry: CollectorRegistry | None = None) -> None:
        # No `<name>_created` series: nothing reads them and they double the series count.
        # (prometheus_client's switch is process-wide; every gateway app wants it off.)
        disable_created_metrics()
        self.registry = registry if registry is not None else CollectorRegistry()
        r = self.registry
        self._known_models: frozenset[str] = frozenset()
        self._region = BoundedLabel(32)
        self._operation = BoundedLabel(16)
        self._error_code = BoundedLabel(64)
        self._failover_reason = BoundedLabel(16)

        self.build_info = Gauge(
            "bedrock_gateway_build_info", "Build information.",
            ["version", "python_version"], registry=r,
        )
        self.build_info.labels(version, platform.python_version()).set(1)
        self.requests = Counter(
            "bedrock_gateway_requests_total", "Finished HTTP requests.",
            ["api", "route", "model", "status_class", "error_code"], registry=r,
        )
        self.request_duration = Histogram(
            "bedrock_gateway_request_duration_seconds", "Whole request, to the last byte.",
            ["api", "route", "model"], buckets=DURATION_BUCKETS, registry=r,
        )
        self.ttft = Histogram(
            "bedrock_gateway_time_to_first_token_seconds",
            "Request start to the first content chunk written.",
            ["model"], buckets=DURATION_BUCKETS, registry=r,
        )
        self.inter_chunk = InterChunkHistogram(
            "bedrock_gateway_inter_chunk_seconds", "Gap between two chunks of one stream.",
            INTER_CHUNK_BUCKETS,
        )
        r.register(self.inter_chunk)
        self.tokens = Counter(
            "bedrock_gateway_tokens_total", "Tokens reported by Bedrock.",
            ["model", "kind"], registry=r,
        )
        self.inflight_requests = Gauge(
            "bedrock_gateway_inflight_requests", "Requests being served now.", registry=r
        )
        self.inflight_streams = Gauge(
            "bedrock_gateway_inflight_streams", "SSE streams open now (the HPA's signal).",
            registry=r,
        )
        self.admission_rejections = Counter(
            "bedrock_gateway_admission_rejections_total",
            "Requests refused by admission control.", ["reason"], registry=r,
        )
        # Known reasons start at 0 so that rate() and alerts work from the first rejection on.
        for reason in ADMISSION_REASONS:
            self.admission_rejections.labels(reason)
        self.bedrock_calls = Counter(
            "bedrock_gateway_bedrock_calls_total", "Calls to Bedrock, one per region attempt.",
            ["region", "operation", "outcome"], registry=r,
        )
        self.bedrock_duration = Histogram(
            "bedrock_gateway_bedrock_call_duration_seconds",
            "Bedrock call latency (to the response headers for streams).",
            ["region", "operation"], buckets=DURATION_BUCKETS, registry=r,
        )
        self.bedrock_errors = Counter(
            "bedrock_gateway_bedrock_errors_total", "Bedrock errors by region and code.",
            ["region", "operation", "error_code"], registry=r,
        )
        self.failovers = Counter(
            "bedrock_gateway_failovers_total",
            "Requests moved to another region before the first byte.",
            ["from_region", "to_region", "reason"], registry=r,
        )
        self.client_disconnects = Counter(
            "bedrock_gateway_client_disconnects_total",
            "Clients that went away before the response ended.", ["route"], registry=r,
        )
        self.state = StateCollector()
        r.register(self.state)

    # -- labels ------------------------------------------------------------------------------

    def set_known_models(self, models: Iterable[str]) -> None:
        """Model ids and aliases allowed as `model` label values (called on catalog refresh)."""
        # One attribute swap, so a concurrent model_label() sees the old or the new set.
        self._known_models = frozenset(models)

    def model_label(self, model: str | None) -> str:
        if model is None:
            return NONE
        return model if model in self._known_models else OTHER

    @staticmethod
    def route_label(route: str) -> str:
        return route if route in ROUTES else OTHER

    # -- requests ----------------------------------------------------------------------------

    def request_started(self, streaming: bool) -> None:
        """Pair with `request_finished(..., streaming=<same value>)`."""
        self.inflight_requests.inc()
        if streaming:
            self.inflight_streams.inc()

    def request_finished(
        self,
        *,
        route: str,
        model: str | None,
        status: int,
        error_code: str | None,
        duration_s: float,
        streaming: bool,
    ) -> None:
        self.inflight_requests.dec()
        if streaming:
            self.inflight_streams.dec()
        route_l, model_l = self.route_label(route), self.model_label(model)
        api_l = API_BY_ROUTE.get(route_l, NONE)
        self.requests.labels(
            api_l, route_l, model_l, status_class(status), self._error_code(error_code)
        ).inc()
        self.request_duration.labels(api_l, route_l, model_l).observe(duration_s)

    def observe_ttft(self, model: str | None, seconds: float) -> None:
        self.ttft.labels(self.model_label(model)).observe(seconds)

    def record_tokens(
        self,
        model: str | None,
        *,
        input: int,
        output: int,
        cache_read: int = 0,
        cache_write: int = 0,
    ) -> None:
        label = self.model_label(model)
        self.tokens.labels(label, "input").inc(input)
        self.tokens.labels(label, "output").inc(output)
        # Cache series only for models that use caching, instead of two zero series per model.
        if cache_read:
            self.tokens.labels(label, "cache_read").inc(cache_read)
        if cache_write:
            self.tokens.labels(label, "cache_write").inc(cache_write)

    def chunk_timer(self, model: str | None) -> ChunkTimer:
        """A per-stream timer; see `ChunkTimer` (tick per chunk, close once at the end)."""
        return self.inter_chunk.timer(self.model_label(model))

    def admission_rejected(self, reason: str) -> None:
        self.admission_rejections.labels(reason if reason in ADMISSION_REASONS else OTHER).inc()

    def client_disconnected(self, route: str) -> None:
        self.client_disconnects.labels(self.route_label(route)).inc()

    # -- Bedrock -----------------------------------------------------------------------------

    def bedrock_call(
        self, *, region: str, operation: str, duration_s: float, error_code: str | None
    ) -> None:
        """One call to one region; `error_code` None means success (`throttled` = throttling)."""
        region_l, op_l = self._region(region), self._operation(operation)
        outcome = "ok" if error_code is None else "error"
        self.bedrock_calls.labels(region_l, op_l, outcome).inc()
        self.bedrock_duration.labels(region_l, op_l).observe(duration_s)
        if error_code is not None:
            self.bedrock_errors.labels(region_l, op_l, self._error_code(error_code)).inc()

    def bedrock_stream_error(self, *, region: str, error_code: str,
                             operation: str = "converse_stream") -> None:
        """An error inside an already-open stream (its call was counted as ok)."""
        self.bedrock_errors.labels(
            self._region(region), self._operation(operation), self._error_code(error_code)
        ).inc()

    def failover(self, from_region: str, to_region: str, reason: str) -> None:
        self.failovers.labels(
            self._region(from_region), self._region(to_region), self._failover_reason(reason)
        ).inc()

    # -- scrape-time state -------------------------------------------------------------------

    def set_state_sources(
        self,
        *,
        pools: PoolsSource,
        breakers: BreakersSource,
        catalog: CatalogSource,
        stream_capacity: int,
    ) -> None:
        """Callables read at scrape time, on the scraping thread (the event loop for our listener).

        pools: region -> (in_use, capacity); breakers: (region, model id) -> 0 closed / 1
        half-open / 2 open;
        catalog: (seconds since the last successful refresh or None, model count).
        """
        def breaker_series() -> dict[tuple[str, str], int]:
            # Model ids outside the catalog fold into `other`; the worst state wins.
            series: dict[tuple[str, str], int] = {}
            for (region, model), state in breakers().items():
                key = (self._region(region), self.model_label(model))
                series[key] = max(state, series.get(key, 0))
            return series

        self.state.set_sources(
            pools=pools, breakers=breaker_series, catalog=catalog,
            stream_capacity=stream_capacity,
        )
