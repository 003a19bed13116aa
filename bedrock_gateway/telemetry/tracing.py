"""OpenTelemetry traces and GenAI metrics, following the GenAI semantic conventions.

`Tracing.from_env(environ, service_version=...)` builds its own TracerProvider (BatchSpanProcessor
+ OTLP/HTTP exporter) and, when metrics are exported too, its own MeterProvider; nothing global is
read or set, so several apps can trace to different places from one process.

With tracing off (no OTLP endpoint, OTEL_SDK_DISABLED=true or OTEL_TRACES_EXPORTER=none) every
method returns at its first line: `server_span` hands out the instance's one no-op context
manager, which yields `None`, `start_bedrock_span` returns `None`, and every helper accepts `None`
as the span. Callers never test whether tracing is on.

Span handles are the SDK's spans (`opentelemetry.trace.Span`) or `None`. Parents are passed
explicitly instead of through the context variable, because a streaming response outlives the
handler's synchronous scope. (The server makes the request's span current once per request, when
tracing, only so that log records carry its trace id: LOG_FORMAT=json.)
Incoming trace context is read with the OTEL_PROPAGATORS chain (`build_propagator`).
Only types and codes go into spans, never request or response text: the status description of an
error is its `error.type`, not the exception's message, which may quote the request.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from opentelemetry import trace
from opentelemetry.context import Context
from opentelemetry.metrics import Histogram, Meter
from opentelemetry.propagators.composite import CompositePropagator
from opentelemetry.propagators.textmap import TextMapPropagator
from opentelemetry.sdk.trace import sampling
from opentelemetry.trace import Link, Span, SpanKind, Status, StatusCode

from bedrock_gateway.telemetry.otel_env import (
    DEFAULT_PROPAGATORS,
    OtelConfig,
    read_config,
)
from bedrock_gateway.telemetry.otel_sdk import build_providers

PROVIDER_NAME = "aws.bedrock"
GENAI_OPERATIONS = frozenset({"chat", "embeddings", "text_completion", "generate_content"})
# Bucket advice from the GenAI metrics semantic conventions.
TOKEN_BUCKETS = tuple(4**i for i in range(14))  # 1, 4, 16, ... 67108864
DURATION_BUCKETS = (
    0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92,
)


# Gaps between two chunks: a millisecond to a few seconds.
CHUNK_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)


class _NoSpan:
    """The context manager handed out when tracing is off: yields None, does nothing."""

    __slots__ = ()

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


class _SpanScope:
    """Ends the span on exit; an exception escaping the block marks the span as failed."""

    __slots__ = ("_span",)

    def __init__(self, span: Span) -> None:
        self._span = span

    def __enter__(self) -> Span:
        return self._span

    def __exit__(self, exc_type: object, exc: BaseException | None, tb: object) -> None:
        if exc is not None:
            _mark_error(self._span, _error_type_of(exc))
        self._span.end()


@dataclass(frozen=True, slots=True)
class _GenAiInstruments:
    """The GenAI client metrics (histograms with the conventions' bucket advice)."""

    token_usage: Histogram
    op_duration: Histogram
    first_chunk: Histogram
    per_chunk: Histogram

    @classmethod
    def create(cls, meter: Meter) -> _GenAiInstruments:
        return cls(
            token_usage=meter.create_histogram(
                "gen_ai.client.token.usage", unit="{token}",
                description="Number of input and output tokens used.",
                explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
            ),
            op_duration=meter.create_histogram(
                "gen_ai.client.operation.duration", unit="s",
                description="GenAI operation duration.",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            ),
            first_chunk=meter.create_histogram(
                "gen_ai.client.operation.time_to_first_chunk", unit="s",
                description="Time to receive the first chunk of a streamed response.",
                explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
            ),
            per_chunk=meter.create_histogram(
                "gen_ai.client.operation.time_per_output_chunk", unit="s",
                description="Time between the output chunks of a streamed response.",
                explicit_bucket_boundaries_advisory=CHUNK_BUCKETS,
            ),
        )


def build_propagator(names: tuple[str, ...]) -> TextMapPropagator:
    """The OTEL_PROPAGATORS chain that reads a caller's trace context from request headers:
    W3C `traceparent` (tracecontext), W3C `baggage`, and AWS X-Ray's `X-Amzn-Trace-Id` (xray,
    what an ALB or API Gateway with X-Ray adds)."""
    from opentelemetry.baggage.propagation import W3CBaggagePropagator
    from opentelemetry.trace.propagation.tracecontext import (
        TraceContextTextMapPropagator,
    )

    chain: list[TextMapPropagator] = []
    for name in names:
        if name == "tracecontext":
            chain.append(TraceContextTextMapPropagator())
        elif name == "baggage":
            chain.append(W3CBaggagePropagator())
        elif name == "xray":
            from opentelemetry.propagators.aws import AwsXRayPropagator

            chain.append(AwsXRayPropagator())
    return CompositePropagator(chain)


def _error_type_of(exc: BaseException) -> str:
    """Our error code when the exception carries one (GatewayError.code), else its class name."""
    code = getattr(exc, "code", None)
    return code if isinstance(code, str) and code else type(exc).__qualname__


def _mark_error(span: Span, error_type: str) -> None:
    span.set_attribute("error.type", error_type)
    span.set_status(Status(StatusCode.ERROR, error_type))


class Tracing:
    """Traces and GenAI metrics of one app. Build with `from_env`, or `Tracing()` for off."""

    def __init__(self, tracer_provider: Any = None, meter_provider: Any = None,
                 *, service_version: str = "",
                 propagators: tuple[str, ...] = DEFAULT_PROPAGATORS) -> None:
        self._tracer_provider = tracer_provider
        self._meter_provider = meter_provider
        self._tracer = (
            tracer_provider.get_tracer("bedrock_gateway", service_version)
            if tracer_provider is not None else None
        )
        self._propagator = build_propagator(propagators)
        # A caller's trace is continued (its trace id becomes ours) when the sampler cannot be
        # steered by a trace id (always_on/off) or is parent-based on purpose; with a ratio
        # sampler, which reads the trace id, a caller could pick ids that are always sampled:
        # then the span starts its own trace and links to the caller's.
        sampler = getattr(tracer_provider, "sampler", None)
        self._continue_callers = sampler is None or isinstance(sampler, sampling.ParentBased) \
            or sampler in (sampling.ALWAYS_ON, sampling.ALWAYS_OFF)
        self._no_span = _NoSpan()
        self._instruments = (
            _GenAiInstruments.create(meter_provider.get_meter("bedrock_gateway", service_version))
            if meter_provider is not None else None
        )
        self._closed = False

    @classmethod
    def from_env(cls, environ: Mapping[str, str], *, service_version: str) -> Tracing:
        return cls.from_config(read_config(environ, service_version=service_version),
                               service_version=service_version)

    @classmethod
    def from_config(cls, config: OtelConfig, *, service_version: str) -> Tracing:
        return cls(*build_providers(config), service_version=service_version,
                   propagators=config.propagators)

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    @property
    def metrics_enabled(self) -> bool:
        return self._instruments is not None

    # -- spans -------------------------------------------------------------------------------

    def server_span(self, headers: Mapping[str, str], *, route: str, method: str,
                    operation: str, model: str | None,
                    max_tokens: int | None = None) -> _NoSpan | _SpanScope:
        """The request's SERVER span, continuing the caller's W3C trace if it sent one (see
        __init__ for when it is a link instead). `route` is the route's template, never the raw
        path (span names must be bounded).

        `headers` should be case-insensitive (aiohttp's are). For GenAI operations the name is
        `{operation} {model}`; for other routes `{method} {route}`.
        """
        if self._tracer is None:
            return self._no_span
        parent: Context | None = self._propagator.extract(headers)
        links = None
        if not self._continue_callers:
            caller = trace.get_current_span(parent).get_span_context()
            parent, links = None, ([Link(caller)] if caller.is_valid else None)
        attributes: dict[str, Any] = {"http.request.method": method, "http.route": route}
        if operation in GENAI_OPERATIONS:
            name = f"{operation} {model}" if model else operation
            attributes["gen_ai.operation.name"] = operation
            attributes["gen_ai.provider.name"] = PROVIDER_NAME
            if model:
                attributes["gen_ai.request.model"] = model
            if max_tokens is not None:
                attributes["gen_ai.request.max_tokens"] = max_tokens
        else:
            name = f"{method} {route}"
        return _SpanScope(self._tracer.start_span(
            name, context=parent, kind=SpanKind.SERVER, attributes=attributes, links=links
        ))

    def start_bedrock_span(self, parent: Span | None, *, operation: str, model: str,
                           region: str, max_tokens: int | None = None,
                           rpc_method: str | None = None) -> Span | None:
        """A CLIENT span for one call to Bedrock in one region (one per failover attempt),
        started now; its owner ends it with `end_span` (a streamed call's span outlives the
        call). None when tracing is off."""
        if self._tracer is None:
            return None
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": PROVIDER_NAME,
            "gen_ai.request.model": model,
            "server.address": f"bedrock-runtime.{region}.amazonaws.com",
            "server.port": 443,
            "cloud.region": region,
        }
        if max_tokens is not None:
            attributes["gen_ai.request.max_tokens"] = max_tokens
        if rpc_method:  # the AWS SDK conventions: rpc.system aws-api, service, method
            attributes.update({"rpc.system": "aws-api", "rpc.service": "BedrockRuntime",
                               "rpc.method": rpc_method})
        context = trace.set_span_in_context(parent) if parent is not None else None
        return self._tracer.start_span(
            f"{operation} {model}", context=context, kind=SpanKind.CLIENT, attributes=attributes
        )

    @staticmethod
    def end_span(span: Span | None, end_time_ns: int | None = None) -> None:
        """End a span from `start_bedrock_span`, now or at `end_time_ns` (time.time_ns())."""
        if span is not None:
            span.end(end_time=end_time_ns)

    # -- span helpers (all accept None) ------------------------------------------------------

    @staticmethod
    def set_request(span: Span | None, *, model: str | None = None,
                    max_tokens: int | None = None, temperature: float | None = None,
                    top_p: float | None = None) -> None:
        """Request attributes known only after the body was parsed; renames a GenAI span."""
        if span is None or not span.is_recording():
            return
        if model:
            span.set_attribute("gen_ai.request.model", model)
            operation = (getattr(span, "attributes", None) or {}).get("gen_ai.operation.name")
            if operation:
                span.update_name(f"{operation} {model}")
        for key, value in (("max_tokens", max_tokens), ("temperature", temperature),
                           ("top_p", top_p)):
            if value is not None:
                span.set_attribute(f"gen_ai.request.{key}", value)

    @staticmethod
    def set_usage(span: Span | None, *, input_tokens: int | None,
                  output_tokens: int | None) -> None:
        if span is None:
            return
        if input_tokens is not None:
            span.set_attribute("gen_ai.usage.input_tokens", input_tokens)
        if output_tokens is not None:
            span.set_attribute("gen_ai.usage.output_tokens", output_tokens)

    @staticmethod
    def set_response(span: Span | None, *, finish_reasons: Iterable[str] | None = None,
                     response_id: str | None = None, response_model: str | None = None) -> None:
        if span is None:
            return
        if finish_reasons is not None:
            span.set_attribute("gen_ai.response.finish_reasons", tuple(finish_reasons))
        if response_id:
            span.set_attribute("gen_ai.response.id", response_id)
        if response_model:
            span.set_attribute("gen_ai.response.model", response_model)

    @staticmethod
    def set_finish_reasons(span: Span | None, reasons: Iterable[str]) -> None:
        Tracing.set_response(span, finish_reasons=reasons)

    @staticmethod
    def set_error(span: Span | None, error_type: str) -> None:
        """Mark a failure handled inside the span's block (an escaping exception is automatic)."""
        if span is not None:
            _mark_error(span, error_type)

    @staticmethod
    def set_http_status(span: Span | None, status: int) -> None:
        """The response status; for a SERVER span only 5xx is an error (HTTP conventions)."""
        if span is None:
            return
        span.set_attribute("http.response.status_code", status)
        if status >= 500:
            attributes = getattr(span, "attributes", None) or {}
            _mark_error(span, attributes.get("error.type") or str(status))

    @staticmethod
    def trace_id(span: Span | None) -> str | None:
        """The 32-hex-digit trace id for the access log, or None when not tracing."""
        if span is None:
            return None
        context = span.get_span_context()
        return format(context.trace_id, "032x") if context.is_valid else None

    # -- GenAI metrics -----------------------------------------------------------------------

    def record_operation(self, model: str, duration_s: float, input_tokens: int | None,
                         output_tokens: int | None, error_type: str | None = None, *,
                         operation: str = "chat", region: str | None = None,
                         response_model: str | None = None,
                         first_chunk_s: float | None = None,
                         chunk_gaps: tuple[int, float] | None = None) -> None:
        """gen_ai.client.operation.duration and gen_ai.client.token.usage for one operation, and
        for a stream time_to_first_chunk and time_per_output_chunk.

        `chunk_gaps` is (gaps, total seconds) of the stream, recorded as one point per stream: its
        mean gap (every single gap is in the Prometheus inter-chunk histogram; recording each one
        here too would put the OTel SDK on the streaming hot path)."""
        instruments = self._instruments
        if instruments is None:
            return
        attributes: dict[str, Any] = {
            "gen_ai.operation.name": operation,
            "gen_ai.provider.name": PROVIDER_NAME,
            "gen_ai.request.model": model,
        }
        if region:
            attributes["server.address"] = f"bedrock-runtime.{region}.amazonaws.com"
            attributes["server.port"] = 443
        if response_model:
            attributes["gen_ai.response.model"] = response_model
        if error_type:
            attributes["error.type"] = error_type
        instruments.op_duration.record(duration_s, attributes)
        for kind, count in (("input", input_tokens), ("output", output_tokens)):
            if count is not None:
                instruments.token_usage.record(count, {**attributes, "gen_ai.token.type": kind})
        if first_chunk_s is not None:
            instruments.first_chunk.record(first_chunk_s, attributes)
        if chunk_gaps is not None and chunk_gaps[0] > 0:
            gaps, total = chunk_gaps
            instruments.per_chunk.record(total / gaps, attributes)

    # -- lifecycle ---------------------------------------------------------------------------

    async def force_flush(self, timeout_s: float = 10.0) -> None:
        """Export what is buffered now (blocking HTTP, so in a thread, not on the loop)."""
        millis = int(timeout_s * 1000)
        for provider in (self._tracer_provider, self._meter_provider):
            if provider is not None and not self._closed:
                await asyncio.to_thread(provider.force_flush, millis)

    async def shutdown(self) -> None:
        """Flush and stop the exporters; idempotent. Spans started afterwards are dropped."""
        if self._closed:
            return
        self._closed = True
        for provider in (self._tracer_provider, self._meter_provider):
            if provider is not None:
                await asyncio.to_thread(provider.shutdown)
