"""The per-request observer owns its CLIENT spans: it ends each exactly once, a failed attempt's at
once, a served stream's when the request ends (dated when the stream closed, with the request's
usage), and one cut short by cancellation with the request, without an outcome. Driven the way the
router and the pump drive it, with the real OTel SDK exporting to a real OTLP receiver."""

from __future__ import annotations

import time

from bedrock_gateway.errors import RateLimitError
from bedrock_gateway.server.context import RequestContext
from bedrock_gateway.server.request_observer import RequestObserver
from bedrock_gateway.server.telemetry_setup import Telemetry
from bedrock_gateway.settings import Settings
from tests.support.otlp_receiver import OtlpReceiver

MODEL = "anthropic.claude-3-haiku-20240307-v1:0"


async def test_observer_ends_every_span_it_started_once() -> None:
    async with OtlpReceiver() as receiver:
        settings = Settings.from_env({"API_KEY": "k" * 20, "METRICS_PORT": "0"})
        telemetry = Telemetry(settings, {"OTEL_EXPORTER_OTLP_ENDPOINT": receiver.url,
                                         "OTEL_BSP_SCHEDULE_DELAY": "50"})
        ctx = RequestContext(request_id="r1", route="chat", model=MODEL, max_tokens=64,
                             stream=True)
        tracing = telemetry.tracing
        with tracing.server_span({}, route="/v1/chat/completions", method="POST",
                                 operation="chat", model=MODEL) as server:
            observer = RequestObserver(telemetry, ctx, server)
            throttled = observer.attempt_started("us-east-1", "converse_stream")
            throttled.finished(0.01, RateLimitError("slow down", code="throttled"))
            observer.failover("us-east-1", "us-west-2", "throttled")
            served = observer.attempt_started("us-west-2", "converse_stream")
            served.finished(0.02, None)
            observer.attempt_started("us-east-1", "count_tokens")  # cancelled: never finished
            observer.stream_opened()
            ctx.error_code = "stream_idle_timeout"
            observer.stream_closed()
            ctx.error_code = None  # what happens after the stream closed is not the stream's
            ctx.tokens_in, ctx.tokens_out, ctx.finish_reason = 12, 34, "stop"
            between = time.time_ns()  # the request outlives its stream
            observer.request_finished()
            observer.request_finished()  # a second call ends nothing twice
        await receiver.wait_for_spans(4)
        await telemetry.tracing.shutdown()

    spans = receiver.spans
    assert len(spans) == 4, spans
    [root] = [s for s in spans if s["kind"] == "SERVER"]
    clients = {(s["attributes"]["cloud.region"], s["attributes"].get("rpc.method")): s
               for s in spans if s["kind"] == "CLIENT"}
    first = clients[("us-east-1", "ConverseStream")]
    stream = clients[("us-west-2", "ConverseStream")]
    cancelled = clients[("us-east-1", "CountTokens")]
    for span in (first, stream, cancelled):
        assert span["parent_span_id"] == root["span_id"]
        assert span["end_time_unix_nano"] <= root["end_time_unix_nano"]

    assert first["status"] == {"code": "ERROR", "message": "throttled"}
    assert "gen_ai.usage.input_tokens" not in first["attributes"]
    assert first["end_time_unix_nano"] <= stream["start_time_unix_nano"]

    assert stream["attributes"]["gen_ai.usage.input_tokens"] == 12
    assert stream["attributes"]["gen_ai.usage.output_tokens"] == 34
    assert stream["attributes"]["gen_ai.response.finish_reasons"] == ["stop"]
    assert stream["attributes"]["gen_ai.request.max_tokens"] == 64
    assert stream["status"] == {"code": "ERROR", "message": "stream_idle_timeout"}
    # Dated when the stream closed, not when the request ended.
    assert stream["end_time_unix_nano"] <= between <= cancelled["end_time_unix_nano"]

    assert cancelled["status"]["code"] == "UNSET"
    assert "gen_ai.usage.input_tokens" not in cancelled["attributes"]
    assert "gen_ai.request.max_tokens" not in cancelled["attributes"]
