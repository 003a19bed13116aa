"""The server's side of telemetry: one middleware that times every request, writes its access
log line, counts it and wraps it in a server span, plus the observer that records each Bedrock
call (one per region attempt) as metrics and a client span."""

from __future__ import annotations

import logging
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from typing import Any

from aiohttp import web
from opentelemetry import context as otel_context
from opentelemetry import trace

from bedrock_gateway import __version__
from bedrock_gateway.errors import GatewayError
from bedrock_gateway.server.context import REQUEST_CONTEXT, RequestContext
from bedrock_gateway.settings import Settings
from bedrock_gateway.telemetry.access_log import AccessLog, client_address
from bedrock_gateway.telemetry.key_metrics import KeyMetrics
from bedrock_gateway.telemetry.metrics import GatewayMetrics
from bedrock_gateway.telemetry.metrics_http import start_metrics_listener
from bedrock_gateway.telemetry.tracing import Tracing

log = logging.getLogger(__name__)

_OPERATIONS = {"chat": "chat", "embeddings": "embeddings", "responses": "chat",
               "messages": "chat", "bedrock_invoke": "chat"}
_GENAI_OPERATION = {"converse": "chat", "converse_stream": "chat", "invoke": "embeddings",
                    "invoke_model": "chat", "invoke_stream": "chat"}
_RPC_METHOD = {"converse": "Converse", "converse_stream": "ConverseStream",
               "invoke": "InvokeModel", "invoke_model": "InvokeModel",
               "invoke_stream": "InvokeModelWithResponseStream", "count_tokens": "CountTokens"}
# Bedrock calls that return a stream: their span stays open until the stream ends.
_STREAM_OPERATIONS = frozenset({"converse_stream", "invoke_stream"})
_ADMISSION_CODES = {"process_limit": "process_limit", "region_queue_timeout":
                    "region_queue_timeout", "request_too_large": "body_too_large"}
# Stream endings that are the gateway's or the client's doing, not Bedrock's.
_GATEWAY_STREAM_ERRORS = frozenset({"server_shutdown", "internal_error", "client_stalled"})
_CLIENT_CLOSED = 499  # nginx's convention for "the client went away"


def route_name(request: web.Request) -> str:
    """A bounded route label, without the configurable prefix."""
    path = request.path
    if path.endswith("/chat/completions"):
        return "chat"
    if path.endswith("/embeddings"):
        return "embeddings"
    if "/responses" in path:
        return "responses"
    if path.endswith("/messages"):
        return "messages"
    if path.endswith("/messages/count_tokens"):
        return "count_tokens"
    if "/model/" in path and path.endswith(("/invoke", "/invoke-with-response-stream")):
        return "bedrock_invoke"
    if "/models" in path:
        return "models"
    if path in ("/health", "/ready"):
        return path[1:]
    return "other"


def route_template(request: web.Request) -> str:
    """The matched route's template (`/v1/models/{model_id}`), bounded like the routes are;
    `unmatched` for a path no route serves."""
    info = request.match_info.route.resource if request.match_info is not None else None
    return info.canonical if info is not None else "unmatched"


class Telemetry:
    def __init__(self, settings: Settings, environ: Mapping[str, str]) -> None:
        self.settings = settings
        self.metrics = GatewayMetrics(version=__version__)
        self.key_metrics = KeyMetrics(self.metrics.registry, settings.keys_metrics_top_n,
                                      redis=settings.redis_url is not None)
        self.tracing = Tracing.from_env(environ, service_version=__version__)
        self.access_log = AccessLog(enabled=settings.access_log)
        self.metrics_port: int | None = None
        # Client spans of finished non-streaming Bedrock calls, per request (id of its context),
        # kept open until the request ends so that they get the usage parsed from the response;
        # each is ended at the time its call finished. Only filled while tracing.
        self._pending_spans: dict[int, list[tuple[Any, int]]] = {}
        # With no metrics listener nobody can read the metrics: skip recording them entirely.
        self.metrics_enabled = settings.metrics_port != 0

    # -- lifecycle ---------------------------------------------------------------------------

    async def cleanup_ctx(self, app: web.Application) -> AsyncIterator[None]:
        runner = None
        if self.settings.metrics_port:
            runner, self.metrics_port = await start_metrics_listener(
                self.metrics, self.settings.host, self.settings.metrics_port)
        app.on_response_prepare.append(_add_request_id)
        yield
        if runner is not None:
            await runner.cleanup()
        await self.tracing.shutdown()

    def watch_router(self, router: Any, lifecycle: Any, catalog: Any) -> None:
        """Gauges read at scrape time: no cost on the request path."""
        def catalog_state() -> tuple[float | None, int]:
            current = catalog.current
            return catalog.age_seconds(), (current.size if current is not None else 0)

        self.metrics.set_state_sources(
            pools=router.pool_usage, breakers=router.breaker_states, catalog=catalog_state,
            stream_capacity=self.settings.max_concurrent_requests)

    def catalog_updated(self, catalog: Any) -> None:
        self.metrics.set_known_models([*catalog.entries, *catalog.aliases])

    # -- per request -------------------------------------------------------------------------

    @web.middleware
    async def middleware(self, request: web.Request, handler) -> web.StreamResponse:
        started_wall = time.time()
        route = route_name(request)
        ctx = RequestContext(request_id=_request_id(request), route=route,
                             session_id=_session_id(request))
        request[REQUEST_CONTEXT] = ctx
        if self.metrics_enabled:
            self.metrics.request_started(streaming=False)
        response: web.StreamResponse | None = None
        with self.tracing.server_span(request.headers, route=route_template(request),
                                      method=request.method,
                                      operation=_OPERATIONS.get(route, route),
                                      model=None) as span:
            ctx.span = span
            # The span is the current one while the handler runs (only when tracing), so log
            # records of this request carry its trace id (LOG_FORMAT=json).
            token = (otel_context.attach(trace.set_span_in_context(span))
                     if span is not None else None)
            try:
                response = await handler(request)
                return response
            finally:
                if token is not None:
                    otel_context.detach(token)
                self._finish(request, ctx, response, span, started_wall)

    def _finish(self, request: web.Request, ctx: RequestContext,
                response: web.StreamResponse | None, span: Any, started_wall: float) -> None:
        duration = ctx.elapsed()
        status = ctx.status or (response.status if response is not None else 500)
        if ctx.disconnected:
            status = _CLIENT_CLOSED
        if self.metrics_enabled:
            self._record_metrics(ctx, status, duration)
        tracing = self.tracing
        self._end_pending_spans(ctx)
        if span is not None:
            tracing.set_request(span, model=ctx.model, max_tokens=_max_tokens(ctx))
            if ctx.tokens_in or ctx.tokens_out:
                tracing.set_usage(span, input_tokens=ctx.tokens_in, output_tokens=ctx.tokens_out)
            if ctx.finish_reason:
                tracing.set_finish_reasons(span, [ctx.finish_reason])
            if ctx.response_model:
                tracing.set_response(span, response_model=ctx.response_model)
            if ctx.error_code:
                tracing.set_error(span, ctx.error_code)
            tracing.set_http_status(span, status)
            if ctx.key_id:
                span.set_attribute("gateway.key.id", ctx.key_id)
        if tracing.metrics_enabled and ctx.route in _OPERATIONS and ctx.model:
            timer = ctx.chunk_timer
            tracing.record_operation(
                ctx.model, duration, ctx.tokens_in, ctx.tokens_out, error_type=ctx.error_code,
                operation=_OPERATIONS[ctx.route], region=ctx.region,
                response_model=ctx.response_model,
                first_chunk_s=ctx.ttft_s if ctx.stream else None,
                chunk_gaps=(timer.gaps, timer.total_seconds) if timer is not None else None)
        if self.access_log.enabled:
            self.access_log.write({
                "time": started_wall,
                "request_id": ctx.request_id,
                "client": client_address(
                    request.remote, ",".join(request.headers.getall("X-Forwarded-For", ())),
                    self.settings.trusted_proxy_count),
                "method": request.method,
                "path": request.path,
                "status": status,
                "model": ctx.model,
                "region": ctx.region,
                "stream": ctx.stream,
                "duration_ms": round(duration * 1000, 3),
                "ttft_ms": round(ctx.ttft_s * 1000, 3) if ctx.ttft_s is not None else None,
                "tokens_in": ctx.tokens_in,
                "tokens_out": ctx.tokens_out,
                "bytes_sent": ctx.bytes_sent or _body_size(response),
                "error_code": ctx.error_code,
                "key_id": ctx.key_id,
                "trace_id": tracing.trace_id(span),
                "user_agent": request.headers.get("User-Agent"),
                "session_id": ctx.session_id,
            })

    def _end_pending_spans(self, ctx: RequestContext) -> None:
        pending = self._pending_spans.pop(id(ctx), None)
        if not pending:
            return
        for span, end_ns in pending:
            self._set_outcome(span, ctx)
            span.end(end_time=end_ns)

    def _set_outcome(self, span: Any, ctx: RequestContext) -> None:
        """Usage and finish reason of a served Bedrock call (they are the request's)."""
        if ctx.tokens_in or ctx.tokens_out:
            self.tracing.set_usage(span, input_tokens=ctx.tokens_in, output_tokens=ctx.tokens_out)
        if ctx.finish_reason:
            self.tracing.set_finish_reasons(span, [ctx.finish_reason])
        if ctx.response_model:
            self.tracing.set_response(span, response_model=ctx.response_model)

    def _record_metrics(self, ctx: RequestContext, status: int, duration: float) -> None:
        metrics = self.metrics
        metrics.request_finished(route=ctx.route, model=ctx.model, status=status,
                                 error_code=ctx.error_code, duration_s=duration, streaming=False)
        if ctx.disconnected:
            metrics.client_disconnected(ctx.route)
        if ctx.error_code in _ADMISSION_CODES:
            metrics.admission_rejected(_ADMISSION_CODES[ctx.error_code])
        if ctx.ttft_s is not None:
            metrics.observe_ttft(ctx.model, ctx.ttft_s)
        if ctx.tokens_in or ctx.tokens_out:
            metrics.record_tokens(ctx.model, input=ctx.tokens_in, output=ctx.tokens_out,
                                  cache_read=ctx.cache_read, cache_write=ctx.cache_write)

    # -- streams and Bedrock calls -------------------------------------------------------------

    def stream_started(self) -> None:
        if self.metrics_enabled:
            self.metrics.inflight_streams.inc()

    def chunk_timer(self, ctx: RequestContext):
        """The stream's chunk timer: Prometheus' inter-chunk histogram, and the OTLP
        time_per_output_chunk at the request's end (kept on the context for that)."""
        if not (self.metrics_enabled or self.tracing.metrics_enabled):
            return None
        ctx.chunk_timer = self.metrics.chunk_timer(ctx.model)
        return ctx.chunk_timer

    def stream_finished(self, ctx: RequestContext, attempt_token: Any,
                        operation: str = "converse_stream") -> None:
        if self.metrics_enabled:
            self.metrics.inflight_streams.dec()
            if ctx.error_code and ctx.error_code not in _GATEWAY_STREAM_ERRORS and ctx.region:
                self.metrics.bedrock_stream_error(region=ctx.region, error_code=ctx.error_code,
                                                  operation=operation)
        if attempt_token is None:
            return
        scope, span = attempt_token
        if span is not None:
            self._set_outcome(span, ctx)
            if ctx.error_code:
                self.tracing.set_error(span, ctx.error_code)
        scope.__exit__(None, None, None)

    def observer(self, ctx: RequestContext) -> CallObserver:
        return CallObserver(self, ctx)


class CallObserver:
    """Implements bedrock.router.CallObserver for one request."""

    __slots__ = ("_ctx", "_telemetry")

    def __init__(self, telemetry: Telemetry, ctx: RequestContext) -> None:
        self._telemetry = telemetry
        self._ctx = ctx

    def attempt_started(self, region: str, operation: str) -> tuple[Any, Any]:
        scope = self._telemetry.tracing.bedrock_span(
            self._ctx.span, operation=_GENAI_OPERATION.get(operation, operation),
            model=self._ctx.model or "", region=region, rpc_method=_RPC_METHOD.get(operation),
            max_tokens=_max_tokens(self._ctx) if operation not in ("invoke", "count_tokens")
            else None)
        return scope, scope.__enter__()

    def attempt_finished(self, token: tuple[Any, Any], region: str, operation: str,
                         duration_s: float, error: GatewayError | None) -> None:
        if self._telemetry.metrics_enabled:
            self._telemetry.metrics.bedrock_call(region=region, operation=operation,
                                                 duration_s=duration_s,
                                                 error_code=error.code if error else None)
        scope, span = token
        if error is not None:
            self._telemetry.tracing.set_error(span, error.code or "error")
        if error is not None:
            scope.__exit__(None, None, None)
        elif operation in _STREAM_OPERATIONS:
            pass  # a stream's span stays open until the stream ends (stream_finished)
        elif span is not None:
            # The usage is known once the handler parsed the response: the span gets it when
            # the request ends (Telemetry._finish), with this moment as its end time.
            self._telemetry._pending_spans.setdefault(id(self._ctx), []).append(
                (span, time.time_ns()))
        else:
            scope.__exit__(None, None, None)

    def failover(self, from_region: str, to_region: str, reason: str) -> None:
        if self._telemetry.metrics_enabled:
            self._telemetry.metrics.failover(from_region, to_region, reason)


def _max_tokens(ctx: RequestContext) -> int | None:
    return ctx.max_tokens


def _body_size(response: web.StreamResponse | None) -> int:
    # The middleware finishes before aiohttp writes a plain Response, so count its body.
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        return len(response.body)
    return response.body_length if response is not None else 0


def _request_id(request: web.Request) -> str:
    incoming = request.headers.get("X-Request-Id", "")
    # Honour the caller's id when it is sane; never echo arbitrary bytes into logs/headers.
    if 0 < len(incoming) <= 128 and incoming.isprintable() and " " not in incoming:
        return incoming
    return uuid.uuid4().hex


def _session_id(request: web.Request) -> str | None:
    """Claude Code's session id, when it looks like one (it goes into the access log)."""
    value = request.headers.get("X-Claude-Code-Session-Id")
    if value and len(value) <= 128 and value.isprintable() and " " not in value:
        return value
    return None


async def _add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    ctx = request.get(REQUEST_CONTEXT)
    if ctx is not None:
        response.headers["X-Request-Id"] = ctx.request_id
