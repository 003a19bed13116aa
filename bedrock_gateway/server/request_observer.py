"""One request's observer of its Bedrock calls and its stream.

It implements the Bedrock layer's `CallObserver` (bedrock/call_observer.py): per region attempt a
CLIENT span and the Bedrock call metrics, and the failover counter; and the pump's
`StreamObserver` (stream_pump.py): the open-streams gauge, the stream's chunk timer and the
errors inside an open stream.

It owns every span it starts and ends each exactly once. A failed attempt's span ends at once,
marked with its error. A served call's span, and an opened stream's, end when the request ends
(`request_finished`), dated when the call returned or the stream closed: only then has the handler
parsed the usage and finish reason the span carries. An attempt cut short by cancellation (the
client went away) ends with the request too, with no outcome.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from aiohttp import web
from opentelemetry.trace import Span

from bedrock_gateway.bedrock.call_observer import STREAM_OPERATIONS, BedrockOperation
from bedrock_gateway.errors import GatewayError
from bedrock_gateway.server.app_state import TELEMETRY
from bedrock_gateway.server.context import RequestContext, request_context
from bedrock_gateway.telemetry.collectors import ChunkTimer

if TYPE_CHECKING:
    from bedrock_gateway.server.telemetry_setup import Telemetry

_GENAI_OPERATION: dict[BedrockOperation, str] = {
    "converse": "chat", "converse_stream": "chat", "invoke": "embeddings",
    "invoke_model": "chat", "invoke_stream": "chat", "count_tokens": "count_tokens"}
_RPC_METHOD: dict[BedrockOperation, str] = {
    "converse": "Converse", "converse_stream": "ConverseStream", "invoke": "InvokeModel",
    "invoke_model": "InvokeModel", "invoke_stream": "InvokeModelWithResponseStream",
    "count_tokens": "CountTokens"}
# Operations whose span carries no gen_ai.request.max_tokens (they generate nothing).
_NO_OUTPUT = frozenset({"invoke", "count_tokens"})
# Stream endings that are the gateway's or the client's doing, not Bedrock's.
_GATEWAY_STREAM_ERRORS = frozenset({"server_shutdown", "internal_error", "client_stalled"})


class CallAttempt:
    """One call to one region, as its request's observer sees it (a bedrock `AttemptObserver`)."""

    __slots__ = ("_observer", "end_ns", "ended", "operation", "region", "served", "span")

    def __init__(self, observer: RequestObserver, region: str, operation: BedrockOperation,
                 span: Span | None) -> None:
        self._observer = observer
        self.region = region
        self.operation = operation
        self.span = span
        self.served = False  # it returned a result (or opened its stream)
        self.ended = False  # its span was ended
        self.end_ns: int | None = None  # when the call returned, or its stream closed

    def finished(self, duration_s: float, error: GatewayError | None) -> None:
        self._observer.attempt_finished(self, duration_s, error)

    def withheld(self, error: GatewayError) -> None:
        self._observer.attempt_withheld(self, error)


class RequestObserver:
    __slots__ = ("_attempts", "_chunk_timer", "_ctx", "_parent", "_stream", "_stream_error",
                 "_telemetry")

    def __init__(self, telemetry: Telemetry, ctx: RequestContext, parent: Span | None) -> None:
        self._telemetry = telemetry
        self._ctx = ctx
        self._parent = parent  # the request's SERVER span
        self._attempts: list[CallAttempt] = []  # those with a span, to end
        self._stream: CallAttempt | None = None  # the attempt whose stream is being pumped
        self._stream_error: str | None = None  # the error code the stream ended with
        self._chunk_timer: ChunkTimer | None = None

    # -- Bedrock calls (bedrock.call_observer.CallObserver) ----------------------------------

    def attempt_started(self, region: str, operation: BedrockOperation) -> CallAttempt:
        ctx = self._ctx
        span = self._telemetry.tracing.start_bedrock_span(
            self._parent, operation=_GENAI_OPERATION[operation], model=ctx.model or "",
            region=region, rpc_method=_RPC_METHOD[operation],
            max_tokens=None if operation in _NO_OUTPUT else ctx.max_tokens)
        attempt = CallAttempt(self, region, operation, span)
        if span is not None:
            self._attempts.append(attempt)
        return attempt

    def attempt_finished(self, attempt: CallAttempt, duration_s: float,
                         error: GatewayError | None) -> None:
        telemetry = self._telemetry
        if telemetry.metrics_enabled:
            telemetry.metrics.bedrock_call(region=attempt.region, operation=attempt.operation,
                                           duration_s=duration_s,
                                           error_code=error.code if error else None)
        if error is not None:
            telemetry.tracing.set_error(attempt.span, error.code or "error")
            self._end(attempt, None)
            return
        attempt.served = True
        if attempt.operation in STREAM_OPERATIONS:
            self._stream = attempt  # its span stays open until the stream closes
        else:
            attempt.end_ns = time.time_ns()

    def attempt_withheld(self, attempt: CallAttempt, error: GatewayError) -> None:
        """Never sent (the key's check refused it): its span says why; no call is counted."""
        self._telemetry.tracing.set_error(attempt.span, error.code or "refused")
        self._end(attempt, None)

    def failover(self, from_region: str, to_region: str, reason: str) -> None:
        if self._telemetry.metrics_enabled:
            self._telemetry.metrics.failover(from_region, to_region, reason)

    # -- the stream (stream_pump.StreamObserver) ---------------------------------------------

    def stream_opened(self) -> ChunkTimer | None:
        """Counts the open stream; returns its chunk timer (Prometheus' inter-chunk histogram,
        and OTLP's time_per_output_chunk when the request ends), None when nothing records."""
        telemetry = self._telemetry
        if telemetry.metrics_enabled:
            telemetry.metrics.inflight_streams.inc()
        if telemetry.metrics_enabled or telemetry.tracing.metrics_enabled:
            self._chunk_timer = telemetry.metrics.chunk_timer(self._ctx.model)
        return self._chunk_timer

    def stream_closed(self) -> None:
        """The stream ended, however it ended (the context holds its error code, if any)."""
        if self._chunk_timer is not None:
            self._chunk_timer.close()
        stream, ctx = self._stream, self._ctx
        self._stream_error = ctx.error_code
        if stream is not None:
            stream.end_ns = time.time_ns()
        telemetry = self._telemetry
        if telemetry.metrics_enabled:
            telemetry.metrics.inflight_streams.dec()
            if stream is not None and ctx.error_code \
                    and ctx.error_code not in _GATEWAY_STREAM_ERRORS:
                telemetry.metrics.bedrock_stream_error(
                    region=stream.region, error_code=ctx.error_code, operation=stream.operation)

    @property
    def chunk_gaps(self) -> tuple[int, float] | None:
        """The stream's (gaps between chunks, their total seconds), when timed."""
        timer = self._chunk_timer
        return (timer.gaps, timer.total_seconds) if timer is not None else None

    # -- the request's end -------------------------------------------------------------------

    def request_finished(self) -> None:
        """End every span still open: a served call's or stream's with the request's outcome."""
        ctx, tracing = self._ctx, self._telemetry.tracing
        for attempt in self._attempts:
            if attempt.ended:
                continue
            if attempt.served:
                if ctx.tokens_in or ctx.tokens_out:
                    tracing.set_usage(attempt.span, input_tokens=ctx.tokens_in,
                                      output_tokens=ctx.tokens_out)
                if ctx.finish_reason:
                    tracing.set_finish_reasons(attempt.span, [ctx.finish_reason])
                if ctx.response_model:
                    tracing.set_response(attempt.span, response_model=ctx.response_model)
                if attempt is self._stream and self._stream_error:
                    tracing.set_error(attempt.span, self._stream_error)
            self._end(attempt, attempt.end_ns)

    def _end(self, attempt: CallAttempt, end_ns: int | None) -> None:
        attempt.ended = True
        self._telemetry.tracing.end_span(attempt.span, end_ns)


REQUEST_OBSERVER = web.RequestKey("request_observer", RequestObserver)


def request_observer(request: web.Request) -> RequestObserver:
    """The request's observer (made by the telemetry middleware)."""
    observer = request.get(REQUEST_OBSERVER)
    if observer is None:  # served without the telemetry middleware (never in production)
        observer = request[REQUEST_OBSERVER] = RequestObserver(
            request.app[TELEMETRY], request_context(request), None)
    return observer
