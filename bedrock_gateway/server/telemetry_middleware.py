"""The outermost middleware: every request gets its context, its SERVER span and its observer;
when it ends, however it ends, it is counted, its span gets the request's outcome, the GenAI
operation metrics are recorded, and its access log line is written."""

from __future__ import annotations

import time

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Span

from bedrock_gateway.server.context import REQUEST_CONTEXT, RequestContext
from bedrock_gateway.server.request_ids import request_id_of, session_id_of
from bedrock_gateway.server.request_observer import REQUEST_OBSERVER, RequestObserver
from bedrock_gateway.server.route_labels import GENAI_OPERATION_OF_ROUTE, route_name, route_template
from bedrock_gateway.server.telemetry_setup import Telemetry
from bedrock_gateway.telemetry.access_log import client_address

# Error codes of requests refused at admission -> the admission_rejections reason.
_ADMISSION_CODES = {"process_limit": "process_limit", "region_queue_timeout":
                    "region_queue_timeout", "request_too_large": "body_too_large"}
_CLIENT_CLOSED = 499  # nginx's convention for "the client went away"


def telemetry_middleware(telemetry: Telemetry) -> Middleware:
    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        started_wall = time.time()
        route = route_name(request)
        ctx = RequestContext(request_id=request_id_of(request), route=route,
                             session_id=session_id_of(request))
        request[REQUEST_CONTEXT] = ctx
        if telemetry.metrics_enabled:
            telemetry.metrics.request_started(streaming=False)
        response: web.StreamResponse | None = None
        with telemetry.tracing.server_span(request.headers, route=route_template(request),
                                           method=request.method,
                                           operation=GENAI_OPERATION_OF_ROUTE.get(route, route),
                                           model=None) as span:
            observer = request[REQUEST_OBSERVER] = RequestObserver(telemetry, ctx, span)
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
                _finish(telemetry, request, ctx, observer, response, span, started_wall)

    return middleware


def _finish(telemetry: Telemetry, request: web.Request, ctx: RequestContext,
            observer: RequestObserver, response: web.StreamResponse | None, span: Span | None,
            started_wall: float) -> None:
    duration = ctx.elapsed()
    status = ctx.status or (response.status if response is not None else 500)
    if ctx.disconnected:
        status = _CLIENT_CLOSED
    if telemetry.metrics_enabled:
        _record_metrics(telemetry, ctx, status, duration)
    observer.request_finished()
    tracing = telemetry.tracing
    if span is not None:
        tracing.set_request(span, model=ctx.model, max_tokens=ctx.max_tokens)
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
    if tracing.metrics_enabled and ctx.route in GENAI_OPERATION_OF_ROUTE and ctx.model:
        tracing.record_operation(
            ctx.model, duration, ctx.tokens_in, ctx.tokens_out, error_type=ctx.error_code,
            operation=GENAI_OPERATION_OF_ROUTE[ctx.route], region=ctx.region,
            response_model=ctx.response_model,
            first_chunk_s=ctx.ttft_s if ctx.stream else None,
            chunk_gaps=observer.chunk_gaps)
    if telemetry.access_log.enabled:
        telemetry.access_log.write({
            "time": started_wall,
            "request_id": ctx.request_id,
            "client": client_address(
                request.remote, ",".join(request.headers.getall("X-Forwarded-For", ())),
                telemetry.settings.trusted_proxy_count),
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


def _record_metrics(telemetry: Telemetry, ctx: RequestContext, status: int,
                    duration: float) -> None:
    metrics = telemetry.metrics
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


def _body_size(response: web.StreamResponse | None) -> int:
    # The middleware finishes before aiohttp writes a plain Response, so count its body.
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        return len(response.body)
    return response.body_length if response is not None else 0
