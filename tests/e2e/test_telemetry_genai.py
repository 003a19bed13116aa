"""GenAI semantic conventions over OTLP: the streaming metrics (time_to_first_chunk and
time_per_output_chunk) and the attributes server.port and gen_ai.response.model, exported by a
real gateway to a real OTLP/HTTP receiver; OTEL_PROPAGATORS (X-Ray, baggage, tracecontext)."""

from __future__ import annotations

import secrets

from tests.support.constants import HAIKU
from tests.support.otel_checks import CHUNKS, otel_env, streamed_chat


async def test_streaming_metrics_and_genai_attributes_over_otlp(receiver, make_gateway):
    gateway = await make_gateway(environ=otel_env(receiver, OTEL_METRIC_EXPORT_INTERVAL="100000"))
    chunks, _ = await streamed_chat(gateway, {})
    assert chunks[-1].usage.completion_tokens == CHUNKS
    async with gateway.client() as client:
        await client.chat.completions.create(
            model=HAIKU, messages=[{"role": "user", "content": "not streamed [[emu chunks=3]]"}])
    await gateway.flush_telemetry()

    [first] = await receiver.wait_for_metric("gen_ai.client.operation.time_to_first_chunk")
    [per_chunk] = await receiver.wait_for_metric("gen_ai.client.operation.time_per_output_chunk")
    durations = await receiver.wait_for_metric("gen_ai.client.operation.duration")
    for point in (first, per_chunk):
        assert point["unit"] == "s" and point["type"] == "histogram"
        assert point["count"] == 1, "one point per stream; the non-streamed call adds none"
        assert point["sum"] > 0
    for point in (first, per_chunk, *durations):
        attrs = point["attributes"]
        assert attrs["gen_ai.operation.name"] == "chat"
        assert attrs["gen_ai.provider.name"] == "aws.bedrock"
        assert attrs["gen_ai.request.model"] == HAIKU
        assert attrs["gen_ai.response.model"] == HAIKU
        assert attrs["server.address"] == "bedrock-runtime.us-east-1.amazonaws.com"
        assert attrs["server.port"] == 443
    assert sum(p["count"] for p in durations) == 2

    spans = await receiver.wait_for_spans(4)
    for span in spans:
        assert span["attributes"]["gen_ai.response.model"] == HAIKU, span
    for span in (s for s in spans if s["kind"] == "CLIENT"):
        assert span["attributes"]["server.port"] == 443


async def test_xray_propagator_continues_the_albs_trace(receiver, make_gateway):
    """OTEL_PROPAGATORS=xray,...: the X-Amzn-Trace-Id an ALB (or API Gateway) adds is the parent."""
    trace_id, parent = secrets.token_hex(16), secrets.token_hex(8)
    header = f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent={parent};Sampled=1"
    gateway = await make_gateway(environ=otel_env(
        receiver, OTEL_PROPAGATORS="tracecontext,baggage,xray"))
    await streamed_chat(gateway, {"X-Amzn-Trace-Id": header, "baggage": "tenant=t1"})
    spans = await receiver.wait_for_spans(2)
    [server] = [s for s in spans if s["kind"] == "SERVER"]
    assert (server["trace_id"], server["parent_span_id"]) == (trace_id, parent)


async def test_default_propagators_ignore_xray_headers(receiver, make_gateway):
    """Without xray in OTEL_PROPAGATORS (default tracecontext,baggage) the header is not read."""
    trace_id = secrets.token_hex(16)
    header = f"Root=1-{trace_id[:8]}-{trace_id[8:]};Parent={secrets.token_hex(8)};Sampled=1"
    gateway = await make_gateway(environ=otel_env(receiver))
    await streamed_chat(gateway, {"X-Amzn-Trace-Id": header})
    spans = await receiver.wait_for_spans(2)
    [server] = [s for s in spans if s["kind"] == "SERVER"]
    assert server["trace_id"] != trace_id and server["parent_span_id"] == ""


async def test_propagators_none_starts_new_traces(receiver, make_gateway):
    trace_id = secrets.token_hex(16)
    gateway = await make_gateway(environ=otel_env(receiver, OTEL_PROPAGATORS="none"))
    await streamed_chat(gateway, {"traceparent": f"00-{trace_id}-{secrets.token_hex(8)}-01"})
    spans = await receiver.wait_for_spans(2)
    [server] = [s for s in spans if s["kind"] == "SERVER"]
    assert server["trace_id"] != trace_id and server["parent_span_id"] == ""
